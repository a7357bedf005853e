"""``history --every PERIOD`` and ``--last N`` through the installed command: closes of local
hours, days, weeks and months (at local midnight, across the night clocks fall back in
New York, at month ends), the N newest points, both with ``--since/--until`` in local time,
in tables and in every machine format, net worth per kept run with that run's own rates, the
period a table picks to fit a terminal, the field each account follows, and filters that
match nothing (exit 3 naming what is stored)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest

from balancecli.history import Store
from balancecli.money.rates import Rate
from tests.support.cli import on_terminal, run_cli, table_lines
from tests.support.history import balance, record
from tests.support.schemas import valid

NY = {"TZ": "America/New_York"}


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# (UTC time, equity of A1) around local midnights, the night of 2026-11-01 when New York
# falls back from 02:00 EDT to 01:00 EST (06:00 UTC), and the end of October.
RUNS = [
    ("2026-10-31T03:30", "1"),  # Oct 30 23:30 EDT
    ("2026-10-31T04:30", "2"),  # Oct 31 00:30 EDT: a new local day
    ("2026-10-31T23:00", "3"),  # Oct 31 19:00 EDT: the last of Oct 31 in UTC
    ("2026-11-01T03:59", "4"),  # Oct 31 23:59 EDT: the last of Oct 31 (and October) locally
    ("2026-11-01T04:00", "5"),  # Nov 1 00:00 EDT
    ("2026-11-01T05:10", "6"),  # 01:10 EDT
    ("2026-11-01T05:50", "7"),  # 01:50 EDT
    ("2026-11-01T06:10", "8"),  # 01:10 EST: the same wall clock hour, another hour
    ("2026-11-01T06:50", "9"),  # 01:50 EST
    ("2026-11-02T04:30", "10"),  # Nov 1 23:30 EST: Nov 1 is 25 hours long
    ("2026-11-02T05:30", "11"),  # Nov 2 00:30 EST
]


@pytest.fixture(scope="module")
def db(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("periods") / "h.sqlite3"
    with Store.open(path) as store:
        for i, (when, equity) in enumerate(RUNS):
            # Each run stores its own HKD/USD rate, as snapshot stores the config's [rates].
            rate = Rate("HKD", "USD", D("0.12") + D(i) / 1000, D(1), "config")
            record(store, utc(when), [
                balance("etna", "A1", currency="USD", equity=D(equity)),
                balance("lp", "H1", broker="longport", currency="HKD", equity=D(1000)),
                balance("qt", "Q1", broker="quantower", currency="USD",
                        available=D(equity) * 10)],
                rates=[(None, None, rate)])
    return str(path)


def values(db: str, *args: str, env: dict | None = None) -> list[str]:
    """The (equity) values of A1 that ``history -a A1 -f jsonl ARGS`` keeps."""
    proc = run_cli("history", "--db", db, "-a", "A1", "-f", "jsonl", *args,
                   env={**NY, **(env or {})})
    assert proc.returncode == 0, proc.stderr
    return [json.loads(line)["value"] and str(json.loads(line, parse_float=D)["value"])
            for line in proc.stdout.splitlines()]


@pytest.mark.parametrize(("args", "kept"), [
    (["--every", "1d"], ["1", "4", "10", "11"]),  # local midnights, a 25-hour day
    (["--every", "1d", "--utc"], ["3", "9", "11"]),  # UTC days with --utc
    (["--every", "1h", "--since", "2026-11-01T00:00", "--until", "2026-11-01T02:00"],
     ["5", "7", "9"]),  # 00:xx EDT, 01:xx EDT, 01:xx EST: two 01:00 hours
    (["--every", "1mo"], ["4", "11"]),  # October ends at 23:59 EDT, on 1 November UTC
    (["--every", "1w"], ["10", "11"]),  # ISO weeks: Monday 2 November (local) starts one
    (["--last", "3"], ["9", "10", "11"]),
    (["--every", "1d", "--last", "2"], ["10", "11"]),
    (["--every", "1d", "--since", "2026-10-31", "--until", "2026-11-01"], ["4", "10"]),
    (["--since", "2026-11-02"], ["11"]),  # local midnight: 05:00 UTC
    (["--since", "2026-11-02", "--utc"], ["10", "11"]),
])
def test_closes_last_and_ranges_in_local_time(db, args, kept):
    assert values(db, *args) == kept


def test_the_period_and_count_are_checked():
    bad = run_cli("history", "--every", "2d")
    assert (bad.returncode, bad.stdout) == (2, "")
    assert bad.stderr == ("error: --every: '2d' is not a period (one of: 1h, 1d, 1w, 1mo, 1y) "
                          "(run: balancecli history --help)\n")
    assert run_cli("history", "--last", "0").returncode == 2
    at = run_cli("history", "--at", "now", "--every", "1d")
    assert at.returncode == 2 and "--at shows one moment" in at.stderr


def test_every_machine_format_keeps_the_same_closes_in_utc(db):
    common = ["history", "--db", db, "-a", "A1", "--every", "1d", "--last", "2"]
    doc = valid(json.loads(run_cli(*common, "-f", "json", env=NY).stdout, parse_float=D))
    assert (doc["every"], doc["newest"], doc["field"]) == ("1d", 2, None)
    [series] = doc["series"]
    assert series["field"] == "equity" and series["points"] == 2
    assert [(v["time"], str(v["value"])) for v in series["values"]] == [
        ("2026-11-02T04:30:00.000000Z", "10"), ("2026-11-02T05:30:00.000000Z", "11")]
    csv_lines = run_cli(*common, "-f", "csv", env=NY).stdout.splitlines()
    assert csv_lines == ["time,run_id,profile,broker,account_id,currency,field,value",
                         "2026-11-02T04:30:00.000000Z,10,etna,etna,A1,USD,equity,10",
                         "2026-11-02T05:30:00.000000Z,11,etna,etna,A1,USD,equity,11"]
    jsonl = [json.loads(line) for line in run_cli(*common, "-f", "jsonl", env=NY)
             .stdout.splitlines()]
    assert [(r["time"], r["field"], r["value"]) for r in jsonl] == [
        ("2026-11-02T04:30:00.000000Z", "equity", 10),
        ("2026-11-02T05:30:00.000000Z", "equity", 11)]


def test_the_table_shows_the_closes_in_local_time(db):
    proc = run_cli("history", "--db", db, "-a", "A1", "--every", "1d", env=NY)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[-7:] == [
        "etna A1 USD",
        "Time               Run   equity   Change",
        "────────────────────────────────────────",
        "2026-10-30 23:30     1     1.00     —",
        "2026-10-31 23:59     4     4.00    +3.00",
        "2026-11-01 23:30    10    10.00    +6.00",
        "2026-11-02 00:30    11    11.00    +1.00"]
    utc_table = run_cli("history", "--db", db, "-a", "A1", "--every", "1d", "--utc", env=NY)
    assert utc_table.stdout.splitlines()[-3:] == [
        "2026-10-31 23:00Z     3     3.00     —",
        "2026-11-01 06:50Z     9     9.00    +6.00",
        "2026-11-02 05:30Z    11    11.00    +2.00"]


def test_net_worth_per_kept_run_with_that_runs_rates(db):
    proc = run_cli("history", "--db", db, "--in", "USD", "--every", "1d", "-p", "etna", "-p",
                   "lp", "-f", "json", env=NY)
    assert proc.returncode == 0, proc.stderr
    doc = valid(json.loads(proc.stdout, parse_float=D))
    assert (doc["every"], doc["newest"]) == ("1d", None)
    # runs 1, 4, 10, 11: A1's equity + 1000 HKD at that run's own rate (0.120, 0.123, ...)
    assert [(r["run_id"], r["total"]) for r in doc["runs"]] == [
        (1, 1 + 120), (4, 4 + 123), (10, 10 + 129), (11, 11 + 130)]
    assert [r["change"] for r in doc["runs"][1:]] == [6, 12, 2]
    last = run_cli("history", "--db", db, "--in", "USD", "--last", "1", "-p", "etna", "-p",
                   "lp", "-f", "jsonl", env=NY)
    assert [json.loads(line)["run_id"] for line in last.stdout.splitlines()] == [11]


def test_a_long_table_on_a_terminal_picks_a_period_that_fits(tmp_path):
    db = tmp_path / "h.sqlite3"
    start = datetime(2026, 11, 2, 5, 0, tzinfo=UTC)  # midnight in New York (EST)
    with Store.open(db) as store:
        for hour in range(200):  # 8 days and 8 hours, hourly
            record(store, start + timedelta(hours=hour),
                   [balance("etna", "A2", currency="USD", equity=D(hour))])
    out, err, code = on_terminal(["history", "--db", str(db), "-a", "A2", "--no-color"], 100,
                                 NY)
    assert code == 0, err
    assert err.splitlines()[0] == (
        "note: too many points for 42 lines: showing daily closes (the last snapshot of each; "
        "--every or --last N to choose, -f csv for all)")
    rows = [line.split() for line in table_lines(out) if line.startswith("2026-11-")]
    # One close per local day: 23:00 of each, and the newest point of the unfinished day.
    assert [(r[0], r[1], r[3]) for r in rows] == [
        *((f"2026-11-{day:02d}", "23:00", f"{23 + 24 * (day - 2)}.00") for day in range(2, 10)),
        ("2026-11-10", "07:00", "199.00")]
    # In a pipe, and with --last or --every, nothing is chosen for the user.
    piped = run_cli("history", "--db", str(db), "-a", "A2", env=NY)
    assert piped.stderr == "" and piped.stdout.count("\n2026-11-") == 200
    out, err, code = on_terminal(["history", "--db", str(db), "-a", "A2", "--last", "5"], 160,
                                 NY)
    assert err == "" and len([ln for ln in table_lines(out) if ln.startswith("2026-")]) == 5


def test_each_account_follows_equity_else_cash_else_available(db):
    doc = json.loads(run_cli("history", "--db", db, "-f", "json", env=NY).stdout,
                     parse_float=D)
    assert {s["account_id"]: (s["field"], str(s["last"]["value"])) for s in doc["series"]} == {
        "A1": ("equity", "11"), "H1": ("equity", "1000"), "Q1": ("available", "110")}
    table = run_cli("history", "--db", db, "-p", "qt", env=NY).stdout.splitlines()
    assert table[0].split() == ["Profile", "Account", "Ccy", "Points", "From", "To",
                                "First", "available", "Last", "available", "Change",
                                "Change", "%", "Trend"]
    asked = json.loads(run_cli("history", "--db", db, "-p", "qt", "--field", "equity", "-f",
                               "json", env=NY).stdout)
    assert asked["field"] == "equity" and asked["series"][0]["last"] is None


@pytest.mark.parametrize(("args", "message"), [
    (["-p", "nope"], "no stored balance of profile nope (--profile); stored: etna, lp, qt — "
                     "run: balancecli history (without --profile)"),
    (["-a", "A9"], "no stored balance of account A9 (--account); stored: A1, H1, Q1 — run: "
                   "balancecli history (without --account)"),
    (["-p", "lp", "-a", "A1"], "no stored balance of account A1 of lp (--account); stored: "
                               "H1 — run: balancecli history (without --account)"),
    (["--currency", "EUR"], "no stored balance is in EUR (--currency); stored: HKD, USD — "
                            "run: balancecli history (without --currency) to see every "
                            "series"),
    (["--since", "2026-12-01"], "no stored balance matches --since: the 11 stored run(s) go "
                                "from 2026-10-30 23:30 to 2026-11-02 00:30 — widen "
                                "--since/--until, or drop a filter"),
    (["--in", "USD", "--until", "2026-10-01"], "no stored balance matches --until: the 11 "
                                               "stored run(s) go from 2026-10-30 23:30 to "
                                               "2026-11-02 00:30 — widen --since/--until, "
                                               "or drop a filter"),
])
@pytest.mark.parametrize("fmt", ["table", "json"])
def test_a_filter_that_matches_nothing_is_exit_3_naming_what_is_stored(db, args, message, fmt):
    proc = run_cli("history", "--db", db, "-f", fmt, *args, env=NY)
    assert (proc.returncode, proc.stdout) == (3, "")
    assert proc.stderr == f"error: balancecli: {message}\n"


def test_at_in_csv_carries_the_snapshot_time_as_json_does(db):
    args = ["history", "--db", db, "--at", "2026-11-01", "-a", "A1"]
    doc = json.loads(run_cli(*args, "-f", "json", env=NY).stdout)
    [row] = doc["balances"]
    assert (row["snapshot_at"], row["run_id"]) == ("2026-11-02T04:30:00.000000Z", 10)
    header, line = run_cli(*args, "-f", "csv", env=NY).stdout.splitlines()
    assert header.endswith(",realized_pnl,snapshot_at,run_id")
    assert line.endswith(",2026-11-02T04:30:00.000000Z,10")  # UTC, to the microsecond
