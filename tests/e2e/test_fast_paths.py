"""What the installed command answers before Typer is imported: ``--version``/``-V`` and Tab.

The entry point (``cli/entry.py``) answers these from the version string and the generated
completion table; these tests run it as the console script does and look at the modules the
process loaded, and at the answers, through the shipped completion scripts' protocol.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.support import REPO
from tests.support.cli import balancecli_exe, run_cli
from tests.support.config import write_config

HEAVY = ("typer", "click", "rich", "pydantic", "requests", "keyring", "sqlite3", "inspect")
# The console script, reporting (on stderr, as JSON) its exit code and which HEAVY modules it
# had imported when it exited.
PROBE = f"""
import json, sys
sys.argv = ["balancecli", *sys.argv[1:]]
from balancecli.cli.entry import main
try:
    main()
    code = 0
except SystemExit as exc:
    code = exc.code
sys.stdout.flush()
sys.stderr.write(json.dumps([code, [m for m in {HEAVY!r} if m in sys.modules]]))
"""


def probe(*args: str, env: dict[str, str] | None = None) -> tuple[str, int, list[str]]:
    proc = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=60)
    code, loaded = json.loads(proc.stderr)
    return proc.stdout, code, loaded


@pytest.mark.parametrize("flag", ["--version", "-V"])
def test_version_is_printed_before_typer_is_imported(flag):
    assert probe(flag) == ("balancecli 0.1.0\n", 0, [])


def test_the_installed_version_is_the_one_typer_prints():
    fast = run_cli("--version")
    typer = run_cli("--no-color", "--version")  # not exactly --version: through Typer
    assert (fast.returncode, fast.stdout, fast.stderr) == (0, "balancecli 0.1.0\n", "")
    assert (typer.returncode, typer.stdout, typer.stderr) == (0, fast.stdout, "")
    short = run_cli("-V")
    assert (short.returncode, short.stdout) == (0, fast.stdout)


def test_help_shows_the_short_version_flag():
    proc = run_cli("--help")
    line = next(line for line in proc.stdout.splitlines() if "--version" in line)
    assert "-V" in line and "Show the version and exit." in line


def test_anything_else_with_version_goes_through_typer():
    stdout, code, loaded = probe("--version", "balance")
    assert (stdout, code) == ("balancecli 0.1.0\n", 0) and "typer" in loaded


def bash(words: str) -> dict[str, str]:
    return {"_BALANCECLI_COMPLETE": "complete_bash", "_BALANCECLI_COMP_LINE": words,
            "_BALANCECLI_COMP_WORDBREAKS": "\"'><=;|&(:"}


@pytest.fixture
def config(tmp_path):
    return write_config(tmp_path / "config.toml", {
        "ts-live": {"broker": "tradestation"}, "lp": {"broker": "longport"}})


@pytest.mark.parametrize("line,answer", [
    ("balancecli ", "accounts\nbalance\nassets\nsnapshot\nhistory\ndoctor\nschema\nhelp\nauth\n"
                    "profile\nquantower\nrates\n"),
    ("balancecli bal", "balance\n"),
    ("balancecli balance --fo", "--format\n--force\n"),
    ("balancecli balance -f j", "json\njsonl\n"),
    ("balancecli profile add x --broker l", "longport\n"),
    ("balancecli history --field equ", "equity\n"),
    ("balancecli balance -p ", "ts-live\nlp\n"),
    ("balancecli auth login l", "lp\n"),
])
def test_tab_is_answered_without_typer_or_the_network_or_sqlite(config, line, answer):
    stdout, code, loaded = probe(env={**bash(line), "BALANCECLI_CONFIG": str(config)})
    assert (stdout, code, loaded) == (answer, 0, [])


def test_tab_for_an_account_opens_only_sqlite(tmp_path):
    assert run_cli("--demo", "snapshot").returncode == 0
    stdout, code, loaded = probe(env=bash("balancecli --demo balance -a cqg-demo:R"))
    assert (stdout, code, loaded) == ("RITHMIC-PAPER-7\n", 0, ["sqlite3"])


@pytest.mark.parametrize("action,code", [("is-args", 0), ("get-args", 0)])
def test_fish_is_answered_too(action, code):
    env = {"_BALANCECLI_COMPLETE": "complete_fish", "_TYPER_COMPLETE_FISH_ACTION": action,
           "_TYPER_COMPLETE_ARGS": "balancecli balance --ti"}
    stdout, exit_code, loaded = probe(env=env)
    expected = ("" if action == "is-args"
                else "--timeout\tSeconds per request attempt: connect, headers and body.\n")
    assert (stdout, exit_code, loaded) == (expected, code, [])


def test_fish_is_args_without_candidates_exits_1():
    env = {"_BALANCECLI_COMPLETE": "complete_fish", "_TYPER_COMPLETE_FISH_ACTION": "is-args",
           "_TYPER_COMPLETE_ARGS": "balancecli balance --config "}
    assert probe(env=env) == ("", 1, [])


def test_what_the_table_does_not_model_is_left_to_typer():
    """``source_bash`` (print the script) is Typer's: the fast path hands it over."""
    proc = subprocess.run([balancecli_exe()], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "_BALANCECLI_COMPLETE": "source_bash"})
    assert proc.returncode == 0 and proc.stderr == ""
    shipped = (REPO / "completions" / "balancecli.bash").read_text()
    assert proc.stdout.strip() == shipped.strip()


# The same lines through the installed command (the fast path) and through the Typer app's own
# entry (app.main: the path every Tab took before the table), as subprocesses.
LINES = ["balancecli ", "balancecli au", "balancecli auth ", "balancecli auth login ",
         "balancecli --demo balance -p ", "balancecli balance --config other.toml -p ",
         "balancecli balance -f ", "balancecli balance --format=j", "balancecli balance -",
         "balancecli --version ", "balancecli history --field m", "balancecli balance -a ",
         "balancecli balance -- -", "balancecli bogus -", "balancecli balance --watch -p ",
         "balancecli profile add x -b ", "balancecli auth status lp ", "balancecli rates s"]


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish", "powershell"])
def test_the_installed_command_answers_as_the_typer_app(tmp_path, config, shell):
    write_config(tmp_path / "other.toml", {"etna-x": {"broker": "etna"}})
    typer_entry = [sys.executable, "-c", "from balancecli.cli.app import main; main()"]
    for line in LINES:
        word = "" if line.endswith(" ") else line.rsplit(" ", 1)[1]
        env = {**os.environ, "BALANCECLI_CONFIG": str(config), "COLUMNS": "72",
               "_BALANCECLI_COMPLETE": f"complete_{shell}", "_TYPER_COMPLETE_ARGS": line,
               "_TYPER_COMPLETE_WORD_TO_COMPLETE": word, "_TYPER_COMPLETE_FISH_ACTION": "get-args",
               **(bash(line) if shell == "bash" else {})}
        ours, theirs = (subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=60,
                                       cwd=tmp_path) for cmd in ([balancecli_exe()], typer_entry))
        assert (ours.returncode, ours.stdout, ours.stderr) == \
            (theirs.returncode, declared_help_order(theirs.stdout), theirs.stderr), (shell, line)


def declared_help_order(reply: str) -> str:
    """Typer's reply with "-h" before "--help", as the table (and the app) declare them: Click
    makes the help option's names from a set, so Typer's order changes between processes."""
    lines = reply.split("\n")
    for i in range(len(lines) - 1):
        quote = '"' if lines[i].startswith('"') else ""
        first, second = f"{quote}--help", f"{quote}-h"
        if lines[i].startswith(first) and lines[i + 1].startswith(second) and \
                not lines[i + 1][len(second):][:1].isalnum():
            lines[i] = second + lines[i][len(first):]
            lines[i + 1] = first + lines[i + 1][len(second):]
    return "\n".join(lines)
