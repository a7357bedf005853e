"""``balancecli help [COMMAND...]`` and the help pages as a person reads them: 80 columns."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
import typer

from tests.support.cli import on_terminal, run_cli, table_lines


def _command_paths() -> list[list[str]]:
    from balancecli.cli.app import app

    def walk(command, path):
        yield path
        for name, sub in sorted(getattr(command, "commands", {}).items()):
            yield from walk(sub, [*path, name])

    return list(walk(typer.main.get_command(app), []))


@pytest.mark.parametrize("words", [[], ["balance"], ["auth"], ["auth", "login"],
                                   ["profile", "set"]])
def test_help_shows_the_same_page_as_dash_dash_help(words):
    by_command = run_cli("help", *words)
    by_option = run_cli(*words, "--help")
    assert (by_command.returncode, by_command.stderr) == (0, "")
    assert by_command.stdout == by_option.stdout


def test_help_of_an_unknown_command_names_the_close_one():
    proc = run_cli("help", "auth", "lgin")
    assert (proc.returncode, proc.stdout) == (2, "")
    assert proc.stderr == ("error: balancecli auth has no command 'lgin'; did you mean "
                           "'login'? (run: balancecli help --help)\n")
    top = run_cli("help", "blance")
    assert "balancecli has no command 'blance'; did you mean 'balance'?" in top.stderr


def test_help_is_listed_and_loads_nothing_heavy():
    assert re.search(r"│ help\s+Show the help of balancecli or of a command",
                     run_cli("--help").stdout)
    code = ("import sys\nsys.argv = ['balancecli', 'help', 'auth', 'login']\n"
            "from balancecli.cli.app import main\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "heavy = ('requests', 'keyring', 'sqlite3', 'balancecli.net.http')\n"
            "sys.stderr.write('loaded:' + ','.join(m for m in heavy if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)
    assert "Usage: balancecli auth login" in proc.stdout
    assert proc.stderr.endswith("loaded:"), proc.stderr


def test_every_help_page_reads_well_at_80_columns():
    for path in _command_paths():
        screen, err, code = on_terminal([*path, "--help"], cols=80)
        assert code == 0, (path, err)
        lines = table_lines(screen)
        assert all(len(line) <= 80 for line in lines), path
        text = "\n".join(lines)
        usage = next(line for line in lines if "Usage:" in line)
        assert "{" not in usage and "[[" not in usage, usage
        assert text.count("Examples:") == 1, path  # once, in one style
        examples = text.split("Examples:", 1)[1].splitlines()
        shown = [line.strip() for line in examples if line.strip()]
        assert all(line.startswith("$ ") for line in shown), (path, shown)  # none wrapped
        # where the descriptions start: 36 columns or more are left to describe
        row = next(line for line in lines if "Show this message and exit." in line)
        assert row.index("Show this message") <= 42, (path, row)


def test_usage_lines_name_arguments_plainly():
    assert "Usage: balancecli auth login [OPTIONS] PROFILE" in run_cli(
        "auth", "login", "--help").stdout
    assert "Usage: balancecli schema [OPTIONS] [NAME]" in run_cli("schema", "--help").stdout
    assert "Usage: balancecli profile set [OPTIONS] NAME KEY=VALUE..." in run_cli(
        "profile", "set", "--help").stdout
    assert "Usage: balancecli auth status [OPTIONS] [PROFILE]..." in run_cli(
        "auth", "status", "--help").stdout
