"""A cron job's view: ``env -i`` with only HOME, PATH and the ``BALANCECLI_*`` variables, no
D-Bus, no terminal. A successful ``snapshot -q`` says nothing at all; a rotated refresh token
that cannot be kept is the one warning (even under ``-q``); an unusable keyring is one line for
all the profiles it stops.
"""

from __future__ import annotations

import contextlib
import json
import re
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest

from balancecli.credentials import env_name
from balancecli.demo import start_demo
from balancecli.demo.past import DAYS, EVERY
from balancecli.demo.tradestation import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, FakeTradeStation
from balancecli.history import Store
from tests.support.cli import balancecli_exe
from tests.support.config import write_config


def cron(home: Path, *args: str, env: dict[str, str] | None = None,
         timeout: float = 60) -> subprocess.CompletedProcess:
    """The installed command as cron runs it: an empty environment but for these."""
    variables = {"HOME": str(home), "PATH": "/usr/bin:/bin", **(env or {})}
    assert all(k in ("HOME", "PATH", "PYTHONPROFILEIMPORTTIME") or k.startswith("BALANCECLI_")
               for k in variables)
    return subprocess.run(["env", "-i", *(f"{k}={v}" for k, v in variables.items()),
                           balancecli_exe(), *args],
                          capture_output=True, text=True, stdin=subprocess.DEVNULL,
                          timeout=timeout)


@pytest.fixture
def home(tmp_path) -> Path:
    path = tmp_path / "cronhome"
    path.mkdir()
    return path


@pytest.fixture
def four_brokers(tmp_path):
    """The four fake brokers, a config file pointing at them, and their secrets as
    BALANCECLI_* variables (the README's cron recipe)."""
    with contextlib.ExitStack() as stack:
        demos = start_demo(stack)
        profiles = {name.removeprefix("demo-"): demo for name, demo in demos.items()}
        assert sorted(profiles) == ["etna", "lp", "qt", "ts"]
        config = write_config(tmp_path / "config.toml", {
            name: {**demo.settings, "max_retries": 0} for name, demo in profiles.items()})
        env = {"BALANCECLI_CONFIG": str(config), "BALANCECLI_DB": str(tmp_path / "h.db")}
        for name, demo in profiles.items():
            env.update({env_name(name, field): str(value)
                        for field, value in demo.secrets.items()})
        yield env, tmp_path / "h.db"


def imported(stderr: str) -> set[str]:
    """Module names from PYTHONPROFILEIMPORTTIME's report."""
    return {line.split("|")[-1].strip() for line in stderr.splitlines()
            if line.startswith("import time:")}


def test_demo_snapshot_quiet_says_nothing(home):
    for args in (["--demo", "snapshot", "-q"], ["-q", "--demo", "snapshot"]):
        result = cron(home, *args)
        assert (result.returncode, result.stdout, result.stderr) == (0, "", ""), args
    # -q drops the summary line, not a document asked for.
    result = cron(home, "--demo", "snapshot", "--quiet", "-f", "json")
    assert (result.returncode, result.stderr) == (0, "")
    # The demo's store starts with its generated past (DAYS of a run every EVERY): then ours.
    past = DAYS * timedelta(days=1) // EVERY
    assert json.loads(result.stdout)["run"]["id"] == past + 3
    db = home / ".local" / "share" / "balancecli" / "history-demo.sqlite3"
    with Store.open(db, readonly=True) as store:
        runs = store.runs()
    assert len(runs) == past + 3
    assert all(r.ok for r in runs)


def test_four_brokers_from_the_environment_quiet_and_without_a_keyring(home, four_brokers):
    env, db = four_brokers
    quiet = cron(home, "snapshot", "-q", env=env)
    assert (quiet.returncode, quiet.stdout, quiet.stderr) == (0, "", "")
    # Without -q: the summary line, and not a word on stderr (no keyring warnings).
    loud = cron(home, "snapshot", env=env)
    assert loud.returncode == 0 and loud.stderr == ""
    assert re.fullmatch(r"snapshot 2 at \S+: 10 balances, 15 assets of 10 accounts from 4 "
                        r"profile\(s\), 0 error\(s\) -> .*h\.db\n", loud.stdout), loud.stdout
    with Store.open(db, readonly=True) as store:
        assert [(r.ok, r.balance_count, r.asset_count) for r in store.runs()] == [
            (True, 10, 15)] * 2
    # The environment supplies every field: the keyring package is not even imported.
    traced = cron(home, "snapshot", "-q", env={**env, "PYTHONPROFILEIMPORTTIME": "1"})
    assert traced.returncode == 0 and traced.stdout == ""
    modules = imported(traced.stderr)
    assert "balancecli.credentials" in modules and "requests" in modules
    assert not {m for m in modules if m == "keyring" or m.startswith(("keyring.", "filelock"))}
    assert all(line.startswith("import time:") for line in traced.stderr.splitlines())


def test_a_rotated_refresh_token_without_a_keyring_warns_exactly_once(home, four_brokers):
    env, db = four_brokers
    fake = FakeTradeStation(rotate=True).start()
    try:
        _, refresh = fake.issue()
        config = Path(env["BALANCECLI_CONFIG"])
        config.write_text(config.read_text().replace(
            '[profiles.ts]', f'[profiles.ts2]\nbroker = "tradestation"\nbase_url = "{fake.url}"'
            f'\ntoken_url = "{fake.url}/oauth/token"\nmax_retries = 0\n\n[profiles.ts]'))
        env = {**env, "BALANCECLI_TS2_REFRESH_TOKEN": refresh,
               "BALANCECLI_TS2_CLIENT_ID": DEMO_CLIENT_ID,
               "BALANCECLI_TS2_CLIENT_SECRET": DEMO_CLIENT_SECRET}
        result = cron(home, "snapshot", "-q", env=env)
        assert result.returncode == 0, result.stderr
        assert result.stdout == ""
        [line] = result.stderr.splitlines()
        # Offered to the keyring as the only way to keep it: there is none under cron.
        assert line.startswith("warning: ts2: the broker replaced the refresh token and the new "
                               "one could not be stored (the OS keyring is not usable (no "
                               "usable keyring backend; DBUS_SESSION_BUS_ADDRESS is not set)); ")
        assert line.endswith("BALANCECLI_TS2_REFRESH_TOKEN now holds a spent one; the next run "
                             "will fail: make the keyring usable, then run: balancecli auth "
                             "login ts2")
        assert refresh not in result.stderr
        # balances and assets of ts2 are stored: the second pass used the rotated token
        with Store.open(db, readonly=True) as store:
            [run] = store.runs()
            assert (run.ok, run.balance_count, run.asset_count) == (True, 13, 20)
        assert len(fake.calls("/oauth/token")) == 1
        # The next run presents the spent token: an error that says what to do.
        after = cron(home, "snapshot", "-q", env=env)
        assert after.returncode == 7 and after.stdout == ""
        [error] = after.stderr.splitlines()
        assert error.startswith("error: ts2: the refresh token was rejected")
        assert "balancecli auth login ts2" in error
    finally:
        fake.stop()


def test_an_unusable_keyring_is_one_line_for_every_profile(home, four_brokers):
    env, _ = four_brokers
    secrets_of = {"ts": "BALANCECLI_TS_", "lp": "BALANCECLI_LP_", "etna": "BALANCECLI_ETNA_"}
    bare = {k: v for k, v in env.items() if not k.startswith(tuple(secrets_of.values()))}
    result = cron(home, "balance", "-f", "json", env=bare)
    assert result.returncode == 7  # qt needs no secret: it still prints
    lines = result.stderr.splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(
        "error: ts, lp, etna: BALANCECLI_TS_REFRESH_TOKEN, BALANCECLI_TS_CLIENT_ID, "
        "BALANCECLI_LP_APP_KEY and 5 more are not set, and the OS keyring is not usable (no "
        "usable keyring backend; DBUS_SESSION_BUS_ADDRESS is not set). Options:")
    assert "BALANCECLI_TS_*, BALANCECLI_LP_*, BALANCECLI_ETNA_*" in lines[0]
    assert lines[0].endswith("— details per profile: balancecli auth status")
    doc = json.loads(result.stdout)
    assert sorted(e["profile"] for e in doc["errors"]) == ["etna", "lp", "ts"]
    assert {b["profile"] for b in doc["balances"]} == {"qt"}
