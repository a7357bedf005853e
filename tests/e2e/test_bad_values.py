"""Bad values from the command line and the environment, through the installed command: one
line on stderr, exit 2 (command line) or 3 (config/environment), never a traceback; empty
results say what exists, with the exit code of an unmatched ``-a`` (3).
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from balancecli.core.models import Balance
from balancecli.demo.tradestation import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, FakeTradeStation
from balancecli.history import Store
from tests.support.cli import run_cli
from tests.support.config import write_config

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def one_error_line(result, code: int) -> str:
    assert result.returncode == code, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines, "no message"
    return result.stderr


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "h.db"
    with Store.open(path) as store:
        for hours, currency in ((0, "USD"), (24, "HKD")):
            when = T0.replace(hour=12) if hours == 0 else datetime(2026, 11, 2, 12, tzinfo=UTC)
            store.record_run(started_at=when, finished_at=when, profiles=["p"], assets=[],
                             errors=[], balances=[Balance("p", "etna", "A1", currency=currency,
                                                          equity=Decimal("1.5"))])
    return path


@pytest.mark.parametrize("args", [
    ["--since", "800000d"], ["--at", "800000d"], ["--until", "800000y"],
    ["--since", "99999999999999999999999w"], ["--at", "0001-01-01T00:00:00+01:00"],
    ["--since", "3m"], ["--prune", "--keep", "800000d", "--yes"],
    ["--prune", "--keep", "800000d", "--dry-run"],
])
def test_times_beyond_the_calendar_are_usage_errors(db, args):
    result = run_cli("history", *args, env={"BALANCECLI_DB": str(db)})
    text = one_error_line(result, 2)
    assert "reaches back before the year 1" in text or "outside the calendar" in text \
        or "ambiguous" in text


def test_history_at_before_the_first_run_names_the_stored_runs(db):
    # Times read and written in the local zone, as the history tables show them.
    env = {"BALANCECLI_DB": str(db), "TZ": "America/New_York"}
    result = run_cli("history", "--at", "2020-01-01", env=env)
    one_error_line(result, 3)
    assert result.stdout == ""
    assert result.stderr == (
        "error: balancecli: no snapshot at or before 2020-01-01 23:59: the 2 stored run(s) "
        'go from 2026-11-01 07:00 to 2026-11-02 07:00 — try: --at "2026-11-01 07:00" '
        "or later\n")
    # The suggested --at is read in the same zone, and finds the first run.
    suggested = run_cli("history", "--at", "2026-11-01 07:00", "-f", "json", env=env)
    assert suggested.returncode == 0, suggested.stderr
    assert {r["snapshot_at"] for r in json.loads(suggested.stdout)["balances"]} == {
        "2026-11-01T12:00:00.000000Z"}
    utc = run_cli("history", "--at", "2020-01-01", "--utc", env=env)
    assert "go from 2026-11-01 12:00Z to 2026-11-02 12:00Z" in utc.stderr, utc.stderr


def test_history_currency_that_matches_nothing_names_the_stored_ones(db):
    result = run_cli("history", "--currency", "xyz", env={"BALANCECLI_DB": str(db)})
    one_error_line(result, 3)
    assert "no stored balance is in XYZ (--currency); stored: HKD, USD" in result.stderr
    ok = run_cli("history", "--currency", "hkd", "-f", "jsonl", env={"BALANCECLI_DB": str(db)})
    assert ok.returncode == 0 and len(ok.stdout.splitlines()) == 1


@pytest.mark.parametrize("command", ["balance", "assets"])
def test_data_currency_that_matches_nothing_names_the_fetched_ones(command):
    result = run_cli("--demo", command, "--currency", "XYZ", "-f", "json")
    one_error_line(result, 3)
    assert result.stdout == ""
    what = "asset" if command == "assets" else "balance"
    assert f"no {what} in XYZ (--currency); fetched: " in result.stderr
    assert "USD" in result.stderr.split("fetched: ")[1]
    unmatched_account = run_cli("--demo", command, "-a", "nope")
    assert unmatched_account.returncode == 3  # the same code as an unmatched -a


@pytest.fixture
def ts(tmp_path, monkeypatch):
    fake = FakeTradeStation().start()
    config = write_config(tmp_path / "config.toml", {"ts": {
        "broker": "tradestation", "base_url": fake.url, "token_url": fake.url + "/oauth/token",
        "max_retries": 0}})
    monkeypatch.setenv("BALANCECLI_CONFIG", str(config))
    yield fake
    fake.stop()


@pytest.mark.parametrize("value", ["abc", "-1", "0", "nan", "inf", "1e9"])
@pytest.mark.parametrize("variable", ["BALANCECLI_KEYRING_TIMEOUT", "BALANCECLI_LOCK_TIMEOUT"])
def test_bad_tuning_variables_are_config_errors(ts, variable, value):
    for args in (["balance"], ["--demo", "snapshot", "--db", "/nonexistent/x.db"],
                 ["auth", "status"]):
        result = run_cli(*args, env={variable: value})
        text = one_error_line(result, 3)
        assert f"{variable} must be a number of seconds above 0 (at most 86400), not " \
               f"'{value}'" in text, args
        assert text.count("\n") == 1
    assert ts.calls() == []


@pytest.mark.parametrize("value", ["line1\nline2", "token\r", "\ttab-in-front"])
def test_a_token_variable_with_a_control_character_is_a_config_error(ts, value):
    _, refresh = ts.issue()
    env = {"BALANCECLI_TS_ACCESS_TOKEN": value, "BALANCECLI_TS_REFRESH_TOKEN": refresh,
           "BALANCECLI_TS_CLIENT_ID": DEMO_CLIENT_ID,
           "BALANCECLI_TS_CLIENT_SECRET": DEMO_CLIENT_SECRET}
    result = run_cli("balance", env=env)
    text = one_error_line(result, 3)
    assert text.startswith("error: ts: the environment variable BALANCECLI_TS_ACCESS_TOKEN "
                           "contains ")
    assert text.count("\n") == 1
    for part in value.split():
        assert part not in text.replace("BALANCECLI_TS_ACCESS_TOKEN", "")
    assert ts.calls() == []  # not a network error: nothing was sent


@pytest.mark.parametrize("expiry", [
    lambda now: int(now * 1000) + 3_600_000,   # epoch milliseconds (TradeStation-like)
    lambda now: str(int(now * 1000) + 3_600_000),
    lambda now: int(now) + 3600,               # epoch seconds
    lambda now: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now + 3600)),
])
def test_auth_status_reads_expiries_in_seconds_and_milliseconds(ts, expiry):
    access, refresh = ts.issue()
    now = time.time()
    env = {"BALANCECLI_TS_ACCESS_TOKEN": access, "BALANCECLI_TS_REFRESH_TOKEN": refresh,
           "BALANCECLI_TS_CLIENT_ID": DEMO_CLIENT_ID,
           "BALANCECLI_TS_CLIENT_SECRET": DEMO_CLIENT_SECRET,
           "BALANCECLI_TS_ACCESS_TOKEN_EXPIRES_AT": str(expiry(now))}
    result = run_cli("auth", "status", "ts", "-f", "json", env=env)
    assert result.returncode == 0, result.stderr
    [row] = json.loads(result.stdout)["profiles"]
    expected = time.strftime("%Y-%m-%dT%H:%M", time.gmtime(now + 3600))
    assert row["access_token_expires_at"][:16] == expected
    assert row["access_token_expired"] is False


@pytest.mark.parametrize("value", ["1e400", "inf", "-5", "99999999999999999999999", "soon"])
def test_auth_status_ignores_an_unusable_expiry(ts, value):
    access, refresh = ts.issue()
    env = {"BALANCECLI_TS_ACCESS_TOKEN": access, "BALANCECLI_TS_REFRESH_TOKEN": refresh,
           "BALANCECLI_TS_CLIENT_ID": DEMO_CLIENT_ID,
           "BALANCECLI_TS_CLIENT_SECRET": DEMO_CLIENT_SECRET,
           "BALANCECLI_TS_ACCESS_TOKEN_EXPIRES_AT": value}
    result = run_cli("auth", "status", "ts", "-f", "json", env=env)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["profiles"][0]["access_token_expires_at"] is None
