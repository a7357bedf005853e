"""Hostile input from files and settings, through the installed command: a config or history
database that is a FIFO or a device, a config another user can write, timeouts beyond a day,
and an ``accounts`` filter that can never match. Each case: exit 3 (2 for an option) at once,
one stderr line naming the file or setting and the fix, the other profiles printed and stored,
and no secret anywhere."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.support.cli import run_cli, run_measured
from tests.support.hostile import (
    HEALTHY,
    Profiles,
    assert_no_secret,
    db_text,
    errors_of,
    stored,
)

PEAK_RSS_MB = 150
posix = pytest.mark.skipif(os.name != "posix" or not hasattr(os, "mkfifo"),
                           reason="FIFOs and file modes are POSIX")


@pytest.fixture
def profiles(tmp_path):
    found = Profiles(tmp_path)
    yield found
    found.close()


def balances_of(proc) -> list[tuple[str, str]]:
    return [(b["profile"], b["account_id"]) for b in json.loads(proc.stdout)["balances"]]


# -- 14. only regular files, and not too large ----------------------------------------------


def special(tmp_path: Path, kind: str) -> tuple[str, str]:
    """(a path that is not a regular file, what the message calls it)."""
    if kind == "fifo":
        path = tmp_path / "pipe"
        os.mkfifo(path)
        return str(path), "a FIFO (named pipe)"
    if kind == "dev-zero":
        return "/dev/zero", "a character device"
    return str(tmp_path), "a directory"


@posix
@pytest.mark.parametrize("kind", ["fifo", "dev-zero", "directory"])
@pytest.mark.parametrize("how", ["--config", "BALANCECLI_CONFIG"])
def test_a_config_that_is_not_a_regular_file_is_refused_at_once(tmp_path, kind, how):
    path, called = special(tmp_path, kind)
    args, env = (["--config", path], {}) if how == "--config" else ([], {how: path})
    for command in (["balance"], ["snapshot"], ["profile", "list"], ["rates", "update"]):
        proc, seconds, peak = run_measured(*command, *args, env=env, timeout=20)
        assert proc.returncode == 3, (command, proc.stderr)
        assert seconds < 10 and peak < PEAK_RSS_MB, (command, seconds, peak)
        expected = (f"error: balancecli: the config file {path} is {called}, not a regular "
                    "file — point --config or BALANCECLI_CONFIG at the config file")
        if kind == "directory":  # the commonest slip: the file's folder, so name the file
            expected = (f"error: balancecli: the config file {path} is a directory — name the "
                        f"file itself, e.g. {Path(path) / 'config.toml'}")
        assert errors_of(proc) == [expected], command


def test_a_config_over_one_mib_is_refused(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text("# padding\n" * 120_000)
    proc = run_cli("balance", "--config", str(config))
    assert (proc.returncode, proc.stdout) == (3, "")
    assert errors_of(proc) == [f"error: balancecli: the config file {config} is larger than "
                               f"1 MiB — check that {config} is the right file"]


@posix
@pytest.mark.parametrize("command", [["history"], ["snapshot", "--demo"], ["history", "--at",
                                                                            "2026-01-01"]])
def test_a_history_database_that_is_a_fifo_is_refused_at_once(tmp_path, command):
    path, _ = special(tmp_path, "fifo")
    proc, seconds, _ = run_measured(*command, "--db", path, env={}, timeout=20)
    assert proc.returncode == 3 and seconds < 10, (proc.stderr, seconds)
    assert errors_of(proc) == [f"error: balancecli: the history database {path} is a FIFO "
                               "(named pipe), not a regular file — pass --db (or BALANCECLI_DB) "
                               "the path of a database file, or of one to create"]


# -- 21. a config another user can write decides where tokens go ----------------------------


@posix
@pytest.mark.parametrize(("mode", "who"), [(0o666, "every user"), (0o646, "every user")])
def test_a_config_file_other_users_can_write_is_refused(profiles, mode, who):
    profiles.tradestation("ts")
    env = profiles.write()
    profiles.config.chmod(mode)
    proc = run_cli("balance", env=env)
    assert (proc.returncode, proc.stdout) == (3, "")
    assert errors_of(proc) == [f"error: balancecli: the config file {profiles.config} can be "
                               f"written by {who}, so it cannot be trusted — run: chmod go-w "
                               f"{profiles.config}"]
    assert profiles.fakes["ts"].requests == []
    assert_no_secret(profiles.secrets(), proc.stderr)
    profiles.config.chmod(0o600)
    assert run_cli("balance", env=env).returncode == 0


@posix
def test_a_config_in_a_directory_other_users_can_write_is_refused(tmp_path):
    folder = tmp_path / "shared"
    folder.mkdir()
    config = folder / "config.toml"
    config.write_text('[profiles.a]\nbroker = "etna"\nbase_url = "https://etna.example/api"\n')
    folder.chmod(0o777)
    try:
        proc = run_cli("accounts", "--config", str(config))
    finally:
        folder.chmod(0o700)
    assert proc.returncode == 3
    assert errors_of(proc) == [f"error: balancecli: the directory {folder} of the config file "
                               "can be written by every user, who could replace the file — "
                               f"run: chmod go-w {folder}"]
    folder.chmod(0o1777)  # sticky, as /tmp: nobody can replace another user's file there
    try:
        sticky = run_cli("profile", "list", "--config", str(config))
    finally:
        folder.chmod(0o700)
    assert sticky.returncode == 0, sticky.stderr


@posix
def test_a_config_of_another_owner_or_a_shared_group_is_refused(profiles):
    profiles.tradestation("ts")
    env = profiles.write()
    config = profiles.config
    other_id = 4242 if os.getuid() != 4242 else 4243
    try:
        os.chown(config, -1, other_id)  # a group other than the user's own
    except PermissionError:
        pytest.skip("cannot give the file to another group here (not root)")
    config.chmod(0o620)
    proc = run_cli("balance", env=env)
    assert proc.returncode == 3
    assert errors_of(proc) == [f"error: balancecli: the config file {config} can be written by "
                               f"its group, so it cannot be trusted — run: chmod go-w {config}"]
    config.chmod(0o600)
    os.chown(config, other_id, -1)
    proc = run_cli("balance", env=env)
    assert proc.returncode == 3
    assert errors_of(proc) == [
        f"error: balancecli: the config file {config} can be written by its owner (user id "
        f"{other_id}), so it cannot be trusted — make it yours (run: sudo chown $USER "
        f"{config}), then: chmod go-w {config}"]
    assert profiles.fakes["ts"].requests == []


@posix
def test_a_group_writable_config_is_fine_when_the_group_is_the_users_own(profiles):
    if os.getgid() != os.getuid():
        pytest.skip("the user's group is not a group of their own here")
    profiles.tradestation("ts")
    env = profiles.write()
    profiles.config.chmod(0o664)
    assert run_cli("balance", env=env).returncode == 0


# -- 12. a timeout beyond a day --------------------------------------------------------------


@pytest.mark.parametrize(("key", "value"), [("timeout", 1e300), ("timeout", 86401),
                                            ("retry_budget", 1e300), ("retry_backoff", 1e300),
                                            ("max_retries", 10**9)])
def test_a_timeout_beyond_a_day_is_a_config_error_of_that_profile(profiles, key, value):
    profiles.tradestation("ts")
    profiles.tradestation("ok")
    profiles.settings["ts"][key] = value
    env = profiles.write()
    proc = run_cli("balance", "-f", "json", env=env)
    assert proc.returncode == 7, proc.stderr
    assert balances_of(proc) == [("ok", a) for a in HEALTHY]
    [line] = errors_of(proc)
    limit = "100" if key == "max_retries" else "86400"
    assert line.startswith(f"error: ts: setting '{key}' must be at most {limit}, got {value!r}")
    assert "Traceback" not in proc.stderr


# -- 15. an accounts filter that can never match ---------------------------------------------


def test_account_ids_written_as_numbers_are_a_config_error_naming_the_fix(profiles):
    profiles.tradestation("ts", accounts=[11827391, "210FUT01"])
    profiles.tradestation("ok")
    env = profiles.write()
    alone = run_cli("balance", "-p", "ts", env=env)
    assert (alone.returncode, alone.stdout) == (3, "")
    assert errors_of(alone) == [
        "error: ts: setting 'accounts' lists the number 11827391; account ids are text — quote "
        "the ids: accounts = [\"11827391\", '210FUT01']"]
    both = run_cli("snapshot", "-q", env=env)
    assert both.returncode == 7 and len(errors_of(both)) == 1
    rows, errors = stored(Path(env["BALANCECLI_DB"]))
    assert rows == [("ok", a) for a in HEALTHY] and [e[:2] for e in errors] == [("ts", "config")]


@pytest.mark.parametrize("command", ["accounts", "balance", "assets", "snapshot"])
def test_a_filter_matching_no_account_is_exit_3_naming_the_ids_there_are(profiles, command):
    profiles.tradestation("ts", accounts=["111"])
    profiles.tradestation("ok")
    env = profiles.write()
    line = ("error: ts: no account matches setting 'accounts' (111); the broker lists: "
            "11827391, 11827392, 210FUT01 — fix accounts in [profiles.ts] of the config file")
    alone = run_cli(command, "-p", "ts", "-q", env=env)
    assert alone.returncode == 3 and errors_of(alone) == [line], alone.stderr
    assert alone.stdout == ""
    both = run_cli(command, "-q", "-f", "json", env=env)
    assert both.returncode == 7 and errors_of(both) == [line]
    if command == "snapshot":
        db = Path(env["BALANCECLI_DB"])
        rows, errors = stored(db)
        assert rows == [("ok", a) for a in HEALTHY]  # "alone" stored its error, no row
        assert [(p, k) for p, k, _ in errors] == [("ts", "config"), ("ts", "config")]
        assert_no_secret(profiles.secrets(), db_text(db))
    else:
        rows = json.loads(both.stdout)
        key = {"accounts": "accounts", "balance": "balances", "assets": "assets"}[command]
        assert {r["profile"] for r in rows[key]} == {"ok"}
    assert_no_secret(profiles.secrets(), alone.stderr, both.stdout, both.stderr)


def test_a_filter_matching_some_accounts_shows_those(profiles):
    profiles.tradestation("ts", accounts=["11827392", "nope"])
    env = profiles.write()
    proc = run_cli("balance", "-f", "json", env=env)
    assert proc.returncode == 0, proc.stderr
    assert balances_of(proc) == [("ts", "11827392")]
