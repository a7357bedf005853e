"""The README's recipes run as a user runs them: the crontab line, literally, on a machine where
the README's install put the command (``~/.local/bin/balancecli``, pipx's place) with the env
file the README writes, under ``env -i`` as cron runs it; and every error line of its
Troubleshooting is what the installed command prints for the command shown above it.

The brokers are the fakes of ``balancecli.demo`` (real HTTP servers on 127.0.0.1), as profiles
``ts``, ``lp``, ``etna`` and ``qt`` of the default config file of the user's HOME.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from balancecli.credentials import env_name
from balancecli.demo import DemoProfile, start_demo
from balancecli.history import Store
from tests.support.config import write_config
from tests.support.quantower_exports import stamp, write_export
from tests.support.readme import (
    SYSTEM_PATH,
    as_printed,
    console_blocks,
    crontab_lines,
    pipx_home,
    section,
    user_shell,
)

RECORDING = "Recording: `snapshot` and `history`"
TROUBLESHOOTING = "Troubleshooting"


@dataclass
class Machine:
    """A user's HOME with the command installed, the config and the brokers' secrets."""

    home: Path
    demos: dict[str, DemoProfile]
    stack: contextlib.ExitStack

    @property
    def config_dir(self) -> Path:
        return self.home / ".config" / "balancecli"

    def write_config(self, profiles: dict[str, dict] | None = None) -> Path:
        self.config_dir.mkdir(parents=True, exist_ok=True)
        profiles = profiles if profiles is not None else {
            name: {**demo.settings, "max_retries": 0} for name, demo in self.demos.items()}
        return write_config(self.config_dir / "config.toml", profiles)

    def secrets(self, *names: str) -> dict[str, str]:
        return {env_name(name, field): str(value) for name, demo in self.demos.items()
                if name in (names or self.demos) for field, value in demo.secrets.items()}

    def write_env_file(self, lines: list[str]) -> Path:
        path = self.config_dir / "env"
        path.write_text("".join(line + "\n" for line in lines))
        path.chmod(0o600)
        return path


@pytest.fixture
def machine(tmp_path) -> Iterator[Machine]:
    with contextlib.ExitStack() as stack:
        demos = {name.removeprefix("demo-"): demo for name, demo in start_demo(stack).items()}
        assert sorted(demos) == ["etna", "lp", "qt", "ts"]
        home = tmp_path / "me"
        home.mkdir()
        yield Machine(pipx_home(home), demos, stack)


def the_crontab_line() -> str:
    """The README's crontab line that sources the env file (its command, without the times)."""
    [line] = [c for c in crontab_lines(RECORDING) if "/.config/balancecli/env" in c
              and "snapshot -q --max-time" in c]
    assert line.startswith("set -a && . ") and "$HOME/.local/bin/balancecli snapshot" in line
    return line


def cron(machine: Machine, command: str):
    """``command`` as cron runs it: /bin/sh, HOME, cron's PATH (no ~/.local/bin), nothing else."""
    return user_shell(command, machine.home, {"PATH": SYSTEM_PATH})


def stored_runs(machine: Machine) -> list:
    db = machine.home / ".local" / "share" / "balancecli" / "history.sqlite3"
    with Store.open(db, readonly=True) as store:
        return list(store.runs())


def test_the_crontab_line_with_the_file_auth_login_writes(machine):
    machine.write_config()
    env_file = "~/.config/balancecli/env"
    assert f"balancecli auth login ts --output {env_file}" in section("Recipes")
    lines = _login_all(machine, env_file)
    assert lines and all(line.startswith("export BALANCECLI_") for line in lines), lines
    proc = cron(machine, the_crontab_line())
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "", "")
    [run] = stored_runs(machine)
    assert run.ok


def _login_all(machine: Machine, env_file: str) -> list[str]:
    """``auth login NAME --with-token --output FILE`` for each profile (the fields on stdin)."""
    import json

    for name, demo in machine.demos.items():
        fields = {k.lower(): v for k, v in demo.secrets.items()}
        given = fields["token"] if list(fields) == ["token"] else json.dumps(fields)
        proc = user_shell(f"balancecli auth login {name} --with-token --output {env_file}",
                          machine.home, input=given)
        assert proc.returncode == 0, proc.stderr
    path = machine.config_dir / "env"
    assert path.stat().st_mode & 0o777 == 0o600
    return path.read_text().splitlines()


def test_the_crontab_line_with_a_file_of_plain_lines(machine):
    """``set -a`` exports the lines of a file written by hand (NAME=value, no export)."""
    machine.write_config()
    machine.write_env_file([f"{k}={v}" for k, v in machine.secrets().items()])
    proc = cron(machine, the_crontab_line())
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "", "")
    [run] = stored_runs(machine)
    assert run.ok


def test_without_set_a_the_variables_are_lost_and_the_line_says_so(machine):
    machine.write_config()
    machine.write_env_file([f"{k}={v}" for k, v in machine.secrets().items()])
    line = the_crontab_line().replace("set -a && ", "").replace(" && set +a", "")
    proc = cron(machine, line)
    assert (proc.returncode, proc.stdout) == (4, "")
    assert "are not set, and the OS keyring is not usable" in proc.stderr
    assert "set -a" in section(RECORDING) and "set -a" in section("Recipes")


def test_the_crontab_line_names_the_installed_path_and_the_way_to_find_it():
    text = section("Install")
    assert "`pipx install .`" in text and "`~/.local/bin/balancecli`" in text
    assert "`command -v balancecli`" in text
    assert ".venv/bin/balancecli" not in "\n".join(crontab_lines(RECORDING))


# -- Troubleshooting: each error line, from the command shown with it ------------------------


def _four_profiles(machine: Machine) -> dict[str, str]:
    machine.write_config()
    return {}


def _plain_env_file(machine: Machine) -> dict[str, str]:
    machine.write_config()
    machine.write_env_file([f"{k}={v}" for k, v in machine.secrets().items()])
    return {}


def _rejected_refresh_token(machine: Machine) -> dict[str, str]:
    machine.write_config()
    return {**machine.secrets("ts"), env_name("ts", "REFRESH_TOKEN"): "a-revoked-refresh-token"}


def _invalid_toml(machine: Machine) -> dict[str, str]:
    machine.config_dir.mkdir(parents=True)
    (machine.config_dir / "config.toml").write_text('[profiles.ts\nbroker = "tradestation"\n')
    return {}


def _nothing(machine: Machine) -> dict[str, str]:
    return {}


def _export(machine: Machine, minutes_old: int, mode: int = 0o600) -> dict[str, str]:
    folder = machine.home / "quantower"
    folder.mkdir(mode=0o700)
    when = stamp(datetime.now(UTC) - timedelta(minutes=minutes_old, seconds=20))
    path, _ = write_export(folder, "crypto_many_assets.json", when)
    path.rename(folder / "balancecli-export.json")
    (folder / "balancecli-export.json").chmod(mode)
    machine.write_config({"qt": {"broker": "quantower",
                                 "source": "~/quantower/balancecli-export.json"}})
    return {}


def _silent_broker(machine: Machine) -> dict[str, str]:
    """ts at a host that takes the connection and never answers; the others as they are."""
    import socket

    listener = socket.create_server(("127.0.0.1", 0), backlog=64)
    machine.stack.callback(listener.close)
    url = f"http://127.0.0.1:{listener.getsockname()[1]}"
    profiles = {name: {**demo.settings, "max_retries": 0} for name, demo in machine.demos.items()}
    profiles["ts"].update(base_url=url, token_url=url + "/oauth/token")
    machine.write_config(profiles)
    return machine.secrets()


# A distinctive part of each README error line -> how to make the machine print it.
SCENARIOS: dict[str, Callable[[Machine], dict[str, str]]] = {
    "and 6 more are not set": _plain_env_file,
    "BALANCECLI_ETNA_APP_KEY, BALANCECLI_ETNA_USERNAME": _four_profiles,
    "the refresh token was rejected": _rejected_refresh_token,
    "unknown profile": _four_profiles,
    "is not valid TOML": _invalid_toml,
    "no config file at": _nothing,
    "min old (GeneratedAt": lambda m: _export(m, int(re.search(
        r"is (\d+) min old", _entry_with("min old (GeneratedAt")).group(1))),
    "can be written by every user": lambda m: _export(m, 0, 0o666),
    "nothing was asked or stored": _four_profiles,
    "did not finish within --max-time": _silent_broker,
}


def _entry_with(marker: str) -> str:
    [found] = ["\n".join(out) for _, out in console_blocks(TROUBLESHOOTING)
               if marker in "\n".join(out)]
    return found


def _blocks() -> list[tuple[str, list[str]]]:
    return console_blocks(TROUBLESHOOTING)


def test_every_troubleshooting_entry_has_a_scenario():
    blocks = _blocks()
    assert len(blocks) >= len(SCENARIOS)
    for command, out in blocks:
        markers = [m for m in SCENARIOS if m in "\n".join(out)]
        assert len(markers) == 1, (command, markers)
    for marker in SCENARIOS:
        assert _entry_with(marker)


@pytest.mark.parametrize("command,expected", _blocks(), ids=[c for c, _ in _blocks()])
def test_the_troubleshooting_line_is_what_the_command_prints(machine, command, expected):
    [marker] = [m for m in SCENARIOS if m in "\n".join(expected)]
    env = SCENARIOS[marker](machine)
    proc = user_shell(command, machine.home, env)
    printed = as_printed(proc.stderr, machine.home)
    if "GeneratedAt" in marker:  # the export's own time is the test's now, less its age
        [readme_time] = re.findall(r"GeneratedAt (\S+Z)", "\n".join(expected))
        printed = [re.sub(r"GeneratedAt \S+Z", f"GeneratedAt {readme_time}", p)
                   for p in printed]
    assert printed == expected, proc.stderr
    assert proc.returncode in (3, 4, 5, 7), proc.returncode


# -- the commands of "Try it" and "Connect your brokers", as written -------------------------


def _commands(title: str, heading: str | None = None) -> list[str]:
    """The command lines of the ``sh`` blocks of a section (or of one ### part of it),
    comments cut."""
    text = section(title)
    if heading is not None:
        text = text[text.index(f"### {heading}"):]
        text = text[:text.index("\n### ", 4)] if "\n### " in text[4:] else text
    lines = []
    for block in re.findall(r"```sh\n(.*?)```", text, re.S):
        lines += [re.sub(r"\s+#.*$", "", line) for line in block.splitlines()
                  if line and not line.startswith("#")]
    return lines


def test_try_it_runs_on_a_fresh_machine(machine):
    commands = _commands("Try it: the demo brokers")
    assert commands[0] == "balancecli --demo balance"
    assert {"balancecli --demo balance --in USD", "balancecli --demo history"} <= set(commands)
    for command in commands:
        proc = user_shell(command, machine.home)
        assert proc.returncode == 0, (command, proc.stderr)
        assert proc.stdout, command


@pytest.mark.parametrize("broker", ["TradeStation", "LongPort (Longbridge)",
                                    "ETNA Trader brokers", "Quantower"])
def test_each_brokers_profile_add_lines_are_accepted(machine, broker):
    adds = [c for c in _commands("Connect your brokers", broker) if " profile add " in c]
    assert adds, broker
    for command in adds:
        # the port the user gave the bridge, where the README says PORT
        proc = user_shell(command.replace(":PORT/", ":8765/") + " --replace", machine.home)
        assert proc.returncode == 0, (command, proc.stderr)
        assert "next: balancecli " in proc.stderr
    for command in _commands("Connect your brokers", broker):
        assert command.split()[:2] in (["balancecli", "profile"], ["balancecli", "auth"],
                                       ["balancecli", "doctor"]), command


def test_print_env_prints_export_lines_for_a_file(machine):
    import json

    assert "balancecli auth login lp --print-env" in section("Recipes")
    machine.write_config()
    given = json.dumps({k.lower(): v for k, v in machine.demos["lp"].secrets.items()})
    proc = user_shell("balancecli auth login lp --with-token --print-env", machine.home,
                      input=given)
    assert proc.returncode == 0, proc.stderr
    assert [line.split("=")[0] for line in proc.stdout.splitlines()] == [
        "export BALANCECLI_LP_APP_KEY", "export BALANCECLI_LP_APP_SECRET",
        "export BALANCECLI_LP_ACCESS_TOKEN"]


def test_the_units_execstart_with_the_env_file(machine):
    """The commented ExecStart of the unit, %h being the HOME (systemd's specifier)."""
    import shlex

    [line] = [line.lstrip("# ") for line in section(RECORDING).splitlines()
              if line.startswith("# ExecStart=/bin/sh -c ")]
    argv = shlex.split(line.removeprefix("ExecStart=").replace("%h", str(machine.home)))
    assert argv[:2] == ["/bin/sh", "-c"] and "--max-time" in argv[2]
    machine.write_config()
    machine.write_env_file([f"{k}={v}" for k, v in machine.secrets().items()])
    proc = cron(machine, argv[2])
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "", "")
    [run] = stored_runs(machine)
    assert run.ok
