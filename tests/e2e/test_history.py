"""The snapshot history store (balancecli/history/) and the snapshot/history commands.

Store tests use real SQLite files in tmp dirs and real child processes for concurrency and
SIGKILL; CLI tests run the installed command against the bundled demo brokers (real sockets).
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import stat
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from balancecli import history
from balancecli.core.errors import AuthError, ConfigError, UnavailableError
from balancecli.core.models import Asset, Balance
from balancecli.history import (
    APPLICATION_ID,
    MIGRATIONS,
    SCHEMA_VERSION,
    Store,
    dumps_extra,
    loads_extra,
    parse_duration,
    parse_when,
    sparkline,
)
from tests.support.cli import balancecli_exe, run_cli
from tests.support.config import FAST, write_config

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
BIG = Decimal("19638.14545186560000000000")
NEG = Decimal("-1806.2892359516153728372377831")
RATE = Decimal("0.0095697442964323993262900015")


def exact(value):
    """Decimals as (type, text) so that 1.50 != 1.5 and 5 != Decimal(5) in comparisons."""
    if isinstance(value, Decimal):
        return ("D", str(value))
    if isinstance(value, dict):
        return {k: exact(v) for k, v in value.items()}
    if isinstance(value, list):
        return [exact(v) for v in value]
    return value


def jload(text: str):
    return json.loads(text, parse_float=Decimal)


def bal(profile: str, account: str, **kw) -> Balance:
    return Balance(profile=profile, broker=kw.pop("broker", "etna"), account_id=account, **kw)


def record(store: Store, when: datetime, balances=(), assets=(), errors=(), profiles=None) -> int:
    profiles = profiles or sorted({b.profile for b in balances} | {a.profile for a in assets})
    return store.record_run(started_at=when, finished_at=when + timedelta(seconds=2),
                            profiles=profiles, balances=list(balances), assets=list(assets),
                            errors=list(errors))


@pytest.fixture
def db(tmp_path) -> Path:
    return tmp_path / "data" / "history.sqlite3"


def whole_runs(path: Path) -> list[tuple[int, int, int]]:
    """(run id, stored balance rows, stored asset rows) after checking every run is whole."""
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        runs = conn.execute("SELECT id, balance_count, asset_count FROM runs").fetchall()
        b = dict(conn.execute("SELECT run_id, count(*) FROM balances GROUP BY run_id").fetchall())
        a = dict(conn.execute("SELECT run_id, count(*) FROM assets GROUP BY run_id").fetchall())
    finally:
        conn.close()
    ids = {r[0] for r in runs}
    assert set(b) <= ids and set(a) <= ids, "rows without their run"
    for run_id, n_bal, n_asset in runs:
        assert (b.get(run_id, 0), a.get(run_id, 0)) == (n_bal, n_asset), f"run {run_id} torn"
    return runs


# ---------------------------------------------------------------------------------------------
# Exact storage


def test_decimals_nulls_and_extra_round_trip_exactly(db):
    balance = bal("ts", "11827392", broker="tradestation", account_name="Margin",
                  account_type="margin", currency="USD", as_of="2026-11-21T19:00:00Z",
                  cash=NEG, equity=BIG, buying_power=Decimal("0"), market_value=Decimal("1E+3"),
                  realized_pnl=Decimal("-0.00"), unrealized_pnl=Decimal("0.0000001"),
                  extra={"TodaysProfitLoss": "-312.4", "Rate": RATE, "Count": 5,
                         "Whole": Decimal("5"), "Nested": {"L": [Decimal("1.10"), None, True]}})
    asset = Asset(profile="ts", broker="tradestation", account_id="11827392", asset="JPY",
                  total=Decimal("-188750"), conversion_rate=RATE,
                  extra={"Commission": Decimal("0")})
    with Store.open(db) as store:
        run_id = record(store, T0, [balance], [asset])
        [got_b] = store.balances_at(T0)
        [got_a] = store.assets_at(T0)
        points = store.series("equity")
    assert got_b.run_id == run_id and got_b.taken_at == "2026-11-01T12:00:00.000000Z"
    assert got_b.row == balance and got_a.row == asset
    for name in history.BALANCE_FIELDS:
        assert exact(getattr(got_b.row, name)) == exact(getattr(balance, name)), name
    assert got_b.row.available is None and got_b.row.withdrawable is None
    assert exact(got_b.row.extra) == exact(balance.extra)
    assert type(got_b.row.extra["Count"]) is int
    assert exact(got_a.row.extra) == {"Commission": ("D", "0")}
    assert [(p.value, str(p.value)) for p in points] == [(BIG, "19638.14545186560000000000")]
    # The stored text is the Decimal's own text; NULL is NULL, never 0 or "".
    conn = sqlite3.connect(db)
    row = conn.execute("SELECT cash, equity, available, typeof(available) FROM balances").fetchone()
    assert row == ("-1806.2892359516153728372377831", "19638.14545186560000000000", None, "null")


def test_extra_json_keeps_every_decimal_exact():
    value = {"a": Decimal("5"), "b": Decimal("1E+3"), "c": Decimal("-0"), "d": Decimal("0.10"),
             "e": [Decimal("1.0E-9"), 7, "7", None, False], "f": {"g": Decimal("123456789.000")}}
    text = dumps_extra(value)
    assert exact(loads_extra(text)) == exact(value)
    assert json.loads(text)["d"] == 0.1  # plain JSON for any other reader
    assert loads_extra(None) == {}


def test_failed_runs_are_recorded_with_redacted_errors(db):
    from balancecli.core.redact import REDACTOR

    secret = "tok-9f8e7d6c5b4a39281706"
    REDACTOR.register(secret)
    error = AuthError(f"token {secret} was rejected", profile="ts", broker="tradestation",
                      http_status=401, next_step="run: balancecli auth login ts")
    with Store.open(db) as store:
        run_id = record(store, T0, errors=[error], profiles=["ts"])
        [run] = store.runs()
    assert (run.id, run.ok, run.error_count, run.balance_count) == (run_id, False, 1, 0)
    assert run.profiles == ["ts"]
    assert run.errors == [{"profile": "ts", "broker": "tradestation", "account_id": None,
                           "kind": "auth", "message": "token *** was rejected",
                           "http_status": 401, "next_step": "run: balancecli auth login ts"}]
    for path in db.parent.iterdir():
        assert secret.encode() not in path.read_bytes()


# ---------------------------------------------------------------------------------------------
# Files, modes, schema versions and errors


def test_creates_directory_0700_and_files_0600_whatever_the_umask(tmp_path):
    path = tmp_path / "new" / "dir" / "history.sqlite3"
    old = os.umask(0)
    try:
        store = Store.open(path)
        record(store, T0, [bal("p", "A", equity=Decimal("1"))])
        files = {p.name: stat.S_IMODE(p.stat().st_mode) for p in path.parent.iterdir()}
        store.close()
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert files == {"history.sqlite3": 0o600, "history.sqlite3-wal": 0o600,
                     "history.sqlite3-shm": 0o600}


def test_wal_busy_timeout_and_full_sync(db):
    with Store.open(db) as store:
        conn = store._conn
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert conn.execute("PRAGMA busy_timeout").fetchone() == (30000,)
        assert conn.execute("PRAGMA synchronous").fetchone() == (2,)  # FULL
        assert store.user_version() == SCHEMA_VERSION


def test_db_path_from_option_env_and_default(monkeypatch, isolated):
    monkeypatch.setenv("BALANCECLI_DB", "~/h.db")
    assert history.db_path() == isolated / "h.db"
    assert history.db_path("/x/y.db") == Path("/x/y.db")
    monkeypatch.delenv("BALANCECLI_DB")
    assert history.db_path() == isolated / "data" / "balancecli" / "history.sqlite3"


def _v1_database(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path)
    for statement in MIGRATIONS[0]:
        conn.execute(statement)
    conn.execute("INSERT INTO runs VALUES (1, '2026-10-01T00:00:00.000000Z', "
                 "'2026-10-01T00:00:03.000000Z', '[\"old\"]', 1, 0, '[]', 2, 1)")
    conn.execute("INSERT INTO balances (run_id, profile, broker, account_id, currency, equity, "
                 "cash, extra_json) VALUES (1, 'old', 'etna', 'A1', 'USD', ?, NULL, ?)",
                 (str(BIG), '{"x": 1.50}'))
    conn.execute("INSERT INTO balances (run_id, profile, broker, account_id, currency, equity) "
                 "VALUES (1, 'old', 'etna', 'A2', 'USD', ?)", (str(NEG),))
    conn.execute("INSERT INTO assets (run_id, profile, broker, account_id, asset, total) "
                 "VALUES (1, 'old', 'etna', 'A1', 'USD', '100000.00')")
    conn.execute("PRAGMA user_version = 1")
    conn.commit()
    conn.close()


def _schema(path: Path) -> set[tuple[str, str]]:
    conn = sqlite3.connect(path)
    try:
        return set(conn.execute("SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL"))
    finally:
        conn.close()


def test_migrates_a_version_1_database_in_place(tmp_path):
    old = tmp_path / "old.sqlite3"
    _v1_database(old)
    with Store.open(old) as store:
        assert store.user_version() == SCHEMA_VERSION == 3
        points = store.series("equity")
        [asset] = store.assets_at(T0)
        at = store.balances_at(T0)
        record(store, T0, [bal("new", "A1", equity=Decimal("2.50"))])
        assert store.integrity_check() == "ok"
        plan = store.explain(*store.series_query("equity", ["A1"], since=T0))
    assert [(p.taken_at, p.account_id, str(p.value)) for p in points] == [
        ("2026-10-01T00:00:00.000000Z", "A1", str(BIG)),
        ("2026-10-01T00:00:00.000000Z", "A2", str(NEG)),
    ]
    assert exact(at[0].row.extra) == {"x": ("D", "1.50")} and at[0].row.cash is None
    assert (asset.run_id, str(asset.row.total)) == (1, "100000.00")
    assert any("balances_account_time" in step for step in plan)
    fresh = tmp_path / "fresh.sqlite3"
    Store.open(fresh).close()
    assert _schema(old) == _schema(fresh)


def test_concurrent_openers_migrate_once(tmp_path):
    old = tmp_path / "old.sqlite3"
    _v1_database(old)
    def open_one(_):
        with Store.open(old) as store:
            return store.user_version()

    with ThreadPoolExecutor(8) as pool:
        assert list(pool.map(open_one, range(8))) == [SCHEMA_VERSION] * 8
    with Store.open(old) as store:
        assert len(store.series("equity")) == 2


def test_refuses_a_newer_schema_and_leaves_it_alone(db):
    db.parent.mkdir(parents=True)
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE future (x)")
    conn.execute("PRAGMA user_version = 4")
    # A future balancecli marks its files; an unmarked file with other tables is foreign
    # (tests/test_history_store.py).
    conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    conn.commit()
    conn.close()
    with pytest.raises(ConfigError, match="schema version 4; this balancecli knows up to 3"):
        Store.open(db)
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA user_version").fetchone() == (4,)
    assert conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall() == [
        ("future",)]


def test_not_a_database_is_a_config_error(db):
    db.parent.mkdir(parents=True)
    db.write_bytes(b"these are not the pages you are looking for\n" * 200)
    with pytest.raises(ConfigError, match="not a usable balancecli history database") as info:
        Store.open(db)
    assert info.value.exit_code == 3 and "--db" in info.value.next_step


def test_missing_database_is_not_created_for_reading(db):
    with pytest.raises(ConfigError, match="no history database") as info:
        Store.open(db, create=False)
    assert info.value.next_step.startswith("run: balancecli snapshot")
    assert not db.exists()


def test_a_database_locked_beyond_the_timeout_is_temporary(db, monkeypatch):
    monkeypatch.setattr(history.schema, "BUSY_TIMEOUT", 0.2)
    with Store.open(db) as store:
        other = sqlite3.connect(db, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        started = time.monotonic()
        with pytest.raises(UnavailableError, match="stayed locked") as info:
            record(store, T0, [bal("p", "A")])
        assert 0.15 < time.monotonic() - started < 5
        assert info.value.exit_code == 5
        other.execute("ROLLBACK")
        # Readers are never blocked by a writer (WAL): read while another connection writes.
        other.execute("BEGIN IMMEDIATE")
        other.execute("INSERT INTO runs VALUES (99, 'x', 'x', '[]', 1, 0, '[]', 0, 0)")
        assert store.runs() == []
        other.execute("COMMIT")
        other.close()


# ---------------------------------------------------------------------------------------------
# Reading: series, balances_at, prune


@pytest.fixture
def filled(db):
    """Three runs an hour apart: etna A1/A2, a LongPort account with two currency rows,
    and in the third run etna failed (only ts stored)."""
    with Store.open(db) as store:
        record(store, T0, [
            bal("etna", "A1", currency="USD", equity=Decimal("100.00"), cash=Decimal("1")),
            bal("etna", "A2", currency="USD", equity=None),
            bal("lp", "L1", broker="longport", currency="HKD", equity=Decimal("8000")),
            bal("lp", "L1", broker="longport", currency="USD", equity=Decimal("1000.5")),
        ], [Asset("lp", "longport", "L1", "HKD", available=Decimal("7.5"))])
        record(store, T0 + timedelta(hours=1), [
            bal("etna", "A1", currency="USD", equity=Decimal("112.50")),
            bal("etna", "A2", currency="USD", equity=Decimal("5")),
            bal("ts", "A1", broker="tradestation", currency="USD", equity=Decimal("7")),
        ])
        record(store, T0 + timedelta(hours=2), [
            bal("ts", "A1", broker="tradestation", currency="USD", equity=Decimal("9")),
        ], errors=[AuthError("rejected", profile="etna")], profiles=["etna", "ts"])
        yield store


def test_series_by_account_time_and_profile(filled):
    points = filled.series("equity")
    assert [(p.profile, p.account_id, p.currency, p.value) for p in points] == [
        ("etna", "A1", "USD", Decimal("100.00")),
        ("etna", "A1", "USD", Decimal("112.50")),
        ("ts", "A1", "USD", Decimal("7")),
        ("ts", "A1", "USD", Decimal("9")),
        ("etna", "A2", "USD", None),
        ("etna", "A2", "USD", Decimal("5")),
        ("lp", "L1", "HKD", Decimal("8000")),
        ("lp", "L1", "USD", Decimal("1000.5")),
    ]
    one_hour = T0 + timedelta(hours=1)
    assert [(p.profile, p.run_id, p.value) for p in
            filled.series("equity", account_ids=["A1"], profiles=["etna"])] == [
        ("etna", 1, Decimal("100.00")), ("etna", 2, Decimal("112.50"))]
    # since and until are inclusive
    assert [(p.account_id, p.run_id) for p in
            filled.series("equity", since=one_hour, until=one_hour)] == [
        ("A1", 2), ("A1", 2), ("A2", 2)]
    assert [p.value for p in filled.series("cash", account_ids=["A1"], profiles=["etna"])] == [
        Decimal("1"), None]
    assert filled.series("equity", account_ids=["nope"]) == []
    with pytest.raises(ValueError, match="unknown field 'equity; DROP TABLE runs'"):
        filled.series("equity; DROP TABLE runs")


def test_balances_at_takes_each_accounts_last_stored_run(filled):
    def at(when):
        return [(s.row.profile, s.row.account_id, s.row.currency, s.run_id, s.row.equity)
                for s in filled.balances_at(when)]

    # etna failed in run 3: its accounts come from run 2; LongPort only ever stored in run 1.
    assert at(T0 + timedelta(hours=5)) == [
        ("etna", "A1", "USD", 2, Decimal("112.50")),
        ("etna", "A2", "USD", 2, Decimal("5")),
        ("lp", "L1", "HKD", 1, Decimal("8000")),
        ("lp", "L1", "USD", 1, Decimal("1000.5")),
        ("ts", "A1", "USD", 3, Decimal("9")),
    ]
    assert at(T0 + timedelta(minutes=59)) == [
        ("etna", "A1", "USD", 1, Decimal("100.00")),
        ("etna", "A2", "USD", 1, None),
        ("lp", "L1", "HKD", 1, Decimal("8000")),
        ("lp", "L1", "USD", 1, Decimal("1000.5")),
    ]
    assert [r[3] for r in at(T0 + timedelta(hours=1))][:2] == [2, 2]  # "at or before"
    assert at(T0 - timedelta(microseconds=1)) == []
    [asset] = filled.assets_at(T0 + timedelta(days=1))
    assert (asset.run_id, asset.row.asset, asset.row.available, asset.row.total) == (
        1, "HKD", Decimal("7.5"), None)


def test_runs_newest_first(filled):
    runs = filled.runs()
    assert [(r.id, r.ok, r.error_count, r.balance_count, r.asset_count) for r in runs] == [
        (3, False, 1, 1, 0), (2, True, 0, 3, 0), (1, True, 0, 4, 1)]
    assert runs[0].profiles == ["etna", "ts"]
    assert runs[0].finished_at == "2026-11-01T14:00:02.000000Z"
    assert [r.id for r in filled.runs(limit=1)] == [3]


def test_prune_deletes_only_runs_older_than_keep(filled):
    now = T0 + timedelta(hours=1, days=30)
    assert filled.prune(timedelta(days=30), now=now - timedelta(minutes=30)) == 1
    assert [r.id for r in filled.runs()] == [3, 2]
    assert {p.run_id for p in filled.series("equity")} == {2, 3}
    assert filled.assets_at(now) == []
    assert filled.prune(timedelta(days=30), now=now) == 0  # run 2 is exactly 30 days old
    assert filled.prune(timedelta(0), now=now) == 2
    assert filled.runs() == [] and filled.series("equity") == []
    assert filled.accounts() == []
    assert filled.integrity_check() == "ok"


def test_series_queries_use_an_index(filled):
    one = filled.explain(*filled.series_query("equity", ["A1"], since=T0, until=T0))
    assert one == ["SEARCH balances USING INDEX balances_account_time "
                   "(account_id=? AND taken_at>? AND taken_at<?)"]
    many = filled.explain(*filled.series_query("equity", ["A1", "A2"], profiles=["etna"]))
    assert any("USING INDEX balances_account_time (account_id=?)" in s for s in many)
    assert filled.explain(*filled.series_query("equity", since=T0, profiles=["ts"]))[0] == (
        "SEARCH balances USING INDEX balances_time (taken_at>?)")
    # Everything: reading the whole table in order and sorting beats walking an index.
    assert filled.explain(*filled.series_query("equity"))[0] == "SCAN balances"


def test_balances_at_seeks_each_account_by_index(filled):
    assert filled.accounts() == [("etna", "etna", "A1"), ("etna", "etna", "A2"),
                                 ("lp", "longport", "L1"), ("ts", "tradestation", "A1")]
    for table in ("balances", "assets"):
        plan = filled.explain(history.LATEST_SQL.format(table=table), ("A1", "x", "etna", "etna"))
        assert plan == [f"SEARCH {table} USING INDEX {table}_account_time "
                        "(account_id=? AND taken_at<?)"]


# ---------------------------------------------------------------------------------------------
# Helpers


NOW = datetime(2026, 11, 21, 19, 0, tzinfo=UTC)


@pytest.mark.parametrize(("text", "kw", "expected"), [
    ("30d", {}, NOW - timedelta(days=30)),
    ("12h", {}, NOW - timedelta(hours=12)),
    ("2w", {}, NOW - timedelta(weeks=2)),
    ("now", {}, NOW),
    ("2026-11-01", {}, datetime(2026, 11, 1, tzinfo=UTC)),
    ("2026-11-01", {"end_of_day": True}, datetime(2026, 11, 1, 23, 59, 59, 999999, tzinfo=UTC)),
    ("2026-11-01T12:30:00Z", {"end_of_day": True}, datetime(2026, 11, 1, 12, 30, tzinfo=UTC)),
    ("2026-11-01T12:30:00", {}, datetime(2026, 11, 1, 12, 30, tzinfo=UTC)),
    ("2026-11-01T14:30:00+02:00", {}, datetime(2026, 11, 1, 12, 30, tzinfo=UTC)),
])
def test_parse_when(text, kw, expected):
    assert parse_when(text, now=NOW, **kw) == expected


@pytest.mark.parametrize("text", ["30", "d30", "yesterday", "2026-13-01", "2026-02-30", ""])
def test_parse_when_rejects(text):
    with pytest.raises(ValueError, match="not a"):
        parse_when(text, now=NOW)


def test_parse_duration():
    assert parse_duration("365d").before(NOW) == NOW - timedelta(days=365)
    assert parse_duration("90s").before(NOW) == NOW - timedelta(seconds=90)
    assert parse_duration("1y").before(NOW) == NOW.replace(year=2025)  # y and mo too
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration("1x")
    with pytest.raises(ValueError, match="ambiguous"):
        parse_duration("15m")


def test_sparkline():
    assert sparkline([Decimal(i) for i in range(8)]) == "▁▂▃▄▅▆▇█"
    assert sparkline([Decimal("1"), None, Decimal("3")]) == "▁ █"
    assert sparkline([Decimal("2.5")] * 3) == "▄▄▄"
    assert sparkline([None, None]) == "  "
    assert sparkline([]) == ""
    long = sparkline([Decimal(i % 10) for i in range(1000)] + [Decimal(-5)], width=24)
    assert len(long) == 24 and long[-1] == "▁"  # the last point always shows


def test_exact_sums_are_not_rounded_to_28_digits():
    assert history.exact_sum([BIG, NEG, Decimal("0.0000000000000000000000000001")]) == Decimal(
        "17831.8562159139846271627622169001")
    assert history.exact_diff(BIG, NEG) == Decimal("21444.4346878172153728372377831")


# ---------------------------------------------------------------------------------------------
# Concurrency and crashes (real processes)


WRITER = r"""
import sys, time
from datetime import UTC, datetime
from decimal import Decimal
from balancecli.history import Store
from balancecli.core.models import Asset, Balance
path, tag, start = sys.argv[1], sys.argv[2], float(sys.argv[3])
while time.time() < start:
    time.sleep(0.002)
store = Store.open(path)
now = datetime.now(UTC)
run_id = store.record_run(
    started_at=now, finished_at=now, profiles=[tag],
    balances=[Balance(tag, "etna", f"A{i}", equity=Decimal(f"{i}.{tag[1:]}0"), cash=None)
              for i in range(50)],
    assets=[Asset(tag, "etna", f"A{i}", "USD", total=Decimal(i)) for i in range(20)],
    errors=[])
print(run_id)
"""


def test_twenty_concurrent_writer_processes_each_stored_once(db):
    start = time.time() + 1.0
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(db), f"w{i}", str(start)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for i in range(20)]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0] * 20, [err for _, err in outputs]
    run_of = {f"w{i}": int(out) for i, (out, _) in enumerate(outputs)}
    assert sorted(run_of.values()) == list(range(1, 21))
    runs = whole_runs(db)
    assert sorted((r[1], r[2]) for r in runs) == [(50, 20)] * 20
    with Store.open(db) as store:
        assert {r.id: r.profiles for r in store.runs()} == {
            run_id: [tag] for tag, run_id in run_of.items()}
        for i in range(20):
            points = store.series("equity", account_ids=["A7"], profiles=[f"w{i}"])
            assert [(p.run_id, str(p.value)) for p in points] == [(run_of[f"w{i}"], f"7.{i}0")]


SLOW_WRITER = r"""
import sys, time
from datetime import UTC, datetime
from decimal import Decimal
from balancecli.history import Store
from balancecli.core.models import Balance
path, n = sys.argv[1], int(sys.argv[2])

class Slow(list):
    def __iter__(self):
        for i, row in enumerate(list.__iter__(self)):
            if i == n // 2:
                print("writing", flush=True)
                time.sleep(120)
            yield row

store = Store.open(path)
store._conn.execute("PRAGMA cache_size = 8")  # spill the open transaction's pages to the WAL
now = datetime.now(UTC)
rows = Slow(Balance("killed", "etna", f"K{i}", equity=Decimal("1.5"), extra={"pad": "x" * 300})
            for i in range(n))
store.record_run(started_at=now, finished_at=now, profiles=["killed"], balances=rows,
                 assets=[], errors=[])
print("committed", flush=True)
"""


def test_sigkill_in_the_middle_of_a_write_leaves_whole_runs_only(db):
    with Store.open(db) as store:
        record(store, T0, [bal("etna", f"A{i}", equity=Decimal(i)) for i in range(10)])
        record(store, T0 + timedelta(hours=1), [bal("etna", "A1", equity=BIG)])
    wal = db.with_name(db.name + "-wal")
    child = subprocess.Popen([sys.executable, "-c", SLOW_WRITER, str(db), "20000"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "writing", child.stderr.read()
        # The uncommitted half of the run is already in the WAL file...
        assert wal.stat().st_size > 1_000_000
        # ...and readers do not see it (nor wait for it).
        with Store.open(db) as reader:
            assert [r.id for r in reader.runs()] == [2, 1]
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=10)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == -signal.SIGKILL
    runs = whole_runs(db)
    assert sorted(r[0] for r in runs) == [1, 2]
    with Store.open(db) as store:
        assert store.integrity_check() == "ok"
        assert store.series("equity", profiles=["killed"]) == []
        assert [p.value for p in store.series("equity", account_ids=["A1"])] == [Decimal(1), BIG]
        assert record(store, T0 + timedelta(hours=2), [bal("etna", "A1")]) == 3


FAST_WRITER = r"""
import sys
from datetime import UTC, datetime
from decimal import Decimal
from balancecli.history import Store
from balancecli.core.models import Asset, Balance
path, tag = sys.argv[1], sys.argv[2]
print("start", flush=True)
with Store.open(path) as store:
    for k in range(1000):
        now = datetime.now(UTC)
        store.record_run(started_at=now, finished_at=now, profiles=[tag],
            balances=[Balance(tag, "etna", f"A{i}", equity=Decimal(i)) for i in range(300)],
            assets=[Asset(tag, "etna", f"A{i}", "USD") for i in range(100)], errors=[])
"""


def test_sigkill_at_random_moments_never_tears_a_run(db):
    rng = random.Random(7)
    Store.open(db).close()
    for attempt in range(6):
        child = subprocess.Popen([sys.executable, "-c", FAST_WRITER, str(db), f"k{attempt}"],
                                 stdout=subprocess.PIPE, text=True)
        assert child.stdout.readline().strip() == "start"
        time.sleep(rng.uniform(0.05, 0.4))
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=10)
        assert child.returncode == -signal.SIGKILL
        whole_runs(db)
    runs = whole_runs(db)
    assert runs and all((n_bal, n_asset) == (300, 100) for _, n_bal, n_asset in runs)


# ---------------------------------------------------------------------------------------------
# The commands (installed console script, bundled demo brokers)


def _cli_env(db: Path) -> dict[str, str]:
    return {"BALANCECLI_DB": str(db)}


def test_snapshot_of_the_demo_reads_back_exactly(db):
    env = _cli_env(db)
    snap = run_cli("--demo", "snapshot", "-f", "json", env=env)
    assert snap.returncode == 0, snap.stderr
    doc = jload(snap.stdout)
    assert doc["schema"] == "balancecli.snapshot/1" and doc["errors"] == []
    assert doc["db"] == str(db) and doc["run"]["id"] == 1 and doc["run"]["ok"] is True
    live = jload(run_cli("--demo", "balance", "-f", "json").stdout)["balances"]
    live_assets = jload(run_cli("--demo", "assets", "-f", "json").stdout)["assets"]
    assert doc["run"]["balances"] == len(live) and doc["run"]["assets"] == len(live_assets)
    assert {"demo-ts", "demo-etna"} <= set(doc["run"]["profiles"])

    at = run_cli("history", "--at", "now", "-f", "json", env=env)
    assert at.returncode == 0, at.stderr
    stored = jload(at.stdout)
    assert stored["schema"] == "balancecli.history.at/1"
    rows = stored["balances"]
    assert [(r["profile"], r["account_id"]) for r in rows] == sorted(
        (r["profile"], r["account_id"]) for r in live)
    key = {(r["profile"], r["account_id"], r["currency"]): r for r in live}
    for row in rows:
        assert row.pop("run_id") == 1 and row.pop("snapshot_at") == doc["run"]["started_at"]
        expected = key[(row["profile"], row["account_id"], row["currency"])]
        assert row["as_of"] is not None
        # as_of is the fetch time for brokers without their own: compare everything else.
        assert exact({**row, "as_of": None}) == exact({**expected, "as_of": None})
    # the digits as the broker sent them, in every format
    assert "-1783312.49999800000000000000" in at.stdout
    assert "70295825.000000000000000" in at.stdout
    series = run_cli("history", "--field", "unrealized_pnl", "-f", "json", env=env)
    assert series.returncode == 0, series.stderr
    [fut] = [s for s in jload(series.stdout)["series"] if s["account_id"] == "210FUT01"]
    assert exact(fut["values"]) == [{"time": doc["run"]["started_at"], "run_id": 1,
                                     "value": ("D", "-1783312.49999800000000000000")}]
    assert fut["change"] == 0 and str(fut["change"]) == "0E-20"
    jsonl = run_cli("history", "--field", "unrealized_pnl", "-f", "jsonl", "-a", "210FUT01",
                    env=env)
    assert exact(jload(jsonl.stdout)) == {
        "time": doc["run"]["started_at"], "run_id": 1, "profile": "demo-ts",
        "broker": "tradestation", "account_id": "210FUT01", "currency": "USD",
        "unrealized_pnl": ("D", "-1783312.49999800000000000000")}
    csv_out = run_cli("history", "--field", "available", "-f", "csv", "-a", "11827391",
                      env=env)
    assert csv_out.stdout.splitlines() == [
        "time,run_id,profile,broker,account_id,currency,available",
        f"{doc['run']['started_at']},1,demo-ts,tradestation,11827391,USD,"]  # null: empty


def test_history_table_change_sparkline_and_totals(db):
    with Store.open(db) as store:
        for hours, a1, a2 in ((0, "100.00", "50"), (1, "112.50", None), (2, "90.25", "60.5")):
            record(store, T0 + timedelta(hours=hours), [
                bal("etna", "A1", currency="USD", equity=Decimal(a1)),
                bal("etna", "A2", currency="USD", equity=a2 and Decimal(a2))])
    out = run_cli("history", "--no-color", "--utc", env=_cli_env(db))
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    a1 = next(line for line in lines if line.startswith("etna") and " A1 " in line).split()
    # Times compact (--utc: with a Z), the change also in percent, and the trend on a time
    # axis: 24 equal slices of the two hours, each showing the last value stored by its end.
    assert a1 == ["etna", "A1", "USD", "3", "2026-11-01", "12:00Z", "2026-11-01", "14:00Z",
                  "100.00", "90.25", "-9.75", "-9.75%", "▄" * 11 + "█" * 12 + "▁"]
    a2 = next(line for line in lines if line.startswith("etna") and " A2 " in line)
    # the null is a gap for as long as it was the last value stored
    assert a2.split()[8:] == ["50.00", "60.50", "+10.50", "+21.00%", "▁" * 11, "█"]
    total = next(line for line in lines if line.startswith("2 accounts"))
    assert total.split() == ["2", "accounts", "USD", "150.00", "150.75", "+0.75", "+0.50%"]
    assert "\x1b[" not in out.stdout
    points = run_cli("history", "-a", "A1", "--since", "2026-11-01T13:00:00Z", "--utc",
                     env=_cli_env(db))
    assert points.returncode == 0, points.stderr
    assert points.stdout.splitlines()[-2:] == [
        "2026-11-01 13:00Z     2   112.50     —",
        "2026-11-01 14:00Z     3    90.25   -22.25"]


def test_history_at_shows_the_snapshot_stored_before_that_time(db):
    with Store.open(db) as store:
        record(store, T0, [bal("etna", "A1", currency="USD", equity=BIG)])
        record(store, T0 + timedelta(days=1), [bal("etna", "A1", currency="USD", equity=NEG)])
    # Dates and times are read and written in the local zone (New York left summer time
    # at 06:00 UTC on 2026-11-01: T0, 12:00 UTC, is 07:00 there).
    env = {**_cli_env(db), "TZ": "America/New_York"}

    def at(when):
        result = run_cli("history", "--at", when, "-f", "json", env=env)
        assert result.returncode == 0, result.stderr
        return [(r["run_id"], str(r["equity"])) for r in jload(result.stdout)["balances"]]

    assert at("2026-11-01T12:00:00Z") == [(1, str(BIG))]
    assert at("2026-11-01") == [(1, str(BIG))]  # a date: the end of that (local) day
    assert at("2026-11-02T06:59") == [(1, str(BIG))]  # local: 11:59 UTC
    assert at("2026-11-02T11:59:59Z") == [(1, str(BIG))]
    assert at("2026-11-02T12:00:00Z") == [(2, str(NEG))]
    assert at("2026-11-02 07:00") == [(2, str(NEG))]
    # Before the first run: an error naming what is stored, exit 3 as for -a, and a next
    # step that works as written.
    early = run_cli("history", "--at", "2026-10-31", "-f", "json", env=env)
    assert (early.returncode, early.stdout) == (3, "")
    assert early.stderr == (
        "error: balancecli: no snapshot at or before 2026-10-31 23:59: the 2 stored run(s) go "
        'from 2026-11-01 07:00 to 2026-11-02 07:00 — try: --at "2026-11-01 07:00" or later\n')
    assert at("2026-11-01 07:00") == [(1, str(BIG))]
    utc = run_cli("history", "--at", "2026-10-31", "--utc", env=env)
    assert "the 2 stored run(s) go from 2026-11-01 12:00Z to 2026-11-02 12:00Z" in utc.stderr
    table = run_cli("history", "--at", "2026-11-01", env=env)
    assert "19,638.15" in table.stdout  # the table shows USD's display precision...
    assert "as stored by snapshot 1 (2026-11-01 07:00)" in table.stderr
    table = run_cli("history", "--at", "2026-11-01", "--exact", env=env)
    assert "19,638.1454518656" in table.stdout  # ...and with --exact every digit


def test_history_prune_on_request(db):
    with Store.open(db) as store:
        now = datetime.now(UTC)
        for days in (400, 366, 10):
            record(store, now - timedelta(days=days), [bal("etna", "A1", equity=Decimal(days))])
    env = _cli_env(db)
    assert len(jload(run_cli("history", "-f", "json", env=env).stdout)["series"][0]["values"]) == 3
    out = run_cli("history", "--prune", "--keep", "365d", "--yes", "-f", "json", env=env)
    assert out.returncode == 0, out.stderr
    assert jload(out.stdout)["deleted_runs"] == 2
    with Store.open(db) as store:
        assert [p.value for p in store.series("equity")] == [Decimal(10)]


@pytest.mark.parametrize("args", [
    ["--since", "yesterday"], ["--until", "2026-02-30"], ["--field", "nonsense"],
    ["--prune"], ["--keep", "30d"], ["--prune", "--keep", "1x", "--yes"],
    ["--at", "now", "--since", "30d"], ["-f", "xml"],
])
def test_history_usage_errors_exit_2(db, args):
    with Store.open(db) as store:
        record(store, T0, [bal("etna", "A1")])
    result = run_cli("history", *args, env=_cli_env(db))
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr


def test_history_currency_and_profile_filters(db):
    with Store.open(db) as store:
        record(store, T0, [
            bal("lp", "L1", broker="longport", currency="HKD", equity=Decimal("8000.10")),
            bal("lp", "L1", broker="longport", currency="USD", equity=Decimal("1000.5")),
            bal("etna", "L1", currency="USD", equity=Decimal("3"))])
    env = _cli_env(db)
    hkd = run_cli("history", "--currency", "hkd", "-f", "jsonl", env=env)
    assert [(r["profile"], r["currency"], r["field"], str(r["value"])) for r in
            map(jload, hkd.stdout.splitlines())] == [("lp", "HKD", "equity", "8000.10")]
    doc = jload(run_cli("history", "-p", "lp", "-f", "json", env=env).stdout)
    assert [(s["currency"], s["points"], str(s["last"]["value"])) for s in doc["series"]] == [
        ("HKD", 1, "8000.10"), ("USD", 1, "1000.5")]
    assert exact(doc["totals"]) == [
        {"currency": "HKD", "accounts": 1, "first": ("D", "8000.10"), "last": ("D", "8000.10"),
         "change": ("D", "0.00"), "incomplete": False},
        {"currency": "USD", "accounts": 1, "first": ("D", "1000.5"), "last": ("D", "1000.5"),
         "change": ("D", "0.0"), "incomplete": False}]


def test_snapshot_account_filter(db):
    env = _cli_env(db)
    one = run_cli("--demo", "snapshot", "-p", "demo-etna", "-a", "83268", "-f", "json", env=env)
    assert one.returncode == 0, one.stderr
    assert (jload(one.stdout)["run"]["balances"], jload(one.stdout)["run"]["accounts"]) == (1, 1)
    none = run_cli("--demo", "snapshot", "-p", "demo-etna", "-a", "NOPE", env=env)
    assert none.returncode == 3 and "no account matches --account NOPE" in none.stderr
    with Store.open(db) as store:
        assert [(r.id, r.balance_count, r.error_count) for r in store.runs()] == [(1, 1, 0)]


def test_history_without_a_database_is_a_config_error(db):
    result = run_cli("history", env=_cli_env(db))
    assert result.returncode == 3
    assert "no history database at" in result.stderr and "run: balancecli snapshot" in result.stderr
    assert not db.exists()
    with Store.open(db) as store:
        record(store, T0, [bal("etna", "A1")])
    nomatch = run_cli("history", "-a", "ZZZ", env=_cli_env(db))
    assert (nomatch.returncode, nomatch.stdout) == (3, "")
    assert nomatch.stderr == ("error: balancecli: no stored balance of account ZZZ (--account); "
                              "stored: A1 — run: balancecli history (without --account)\n")
    empty = run_cli("history", "-a", "ZZZ", "-f", "json", env=_cli_env(db))
    assert (empty.returncode, empty.stdout) == (3, "")  # nothing printed, as for balance -a


def test_twenty_concurrent_snapshot_commands(db):
    env = _cli_env(db)

    def one(_):
        return run_cli("--demo", "snapshot", "-p", "demo-etna", "-p", "demo-ts", "-f", "json",
                       env=env, timeout=120)

    with ThreadPoolExecutor(20) as pool:
        results = list(pool.map(one, range(20)))
    assert [r.returncode for r in results] == [0] * 20, [r.stderr for r in results]
    ids = sorted(jload(r.stdout)["run"]["id"] for r in results)
    assert ids == list(range(1, 21))
    runs = whole_runs(db)
    per_run = {(n_bal, n_asset) for _, n_bal, n_asset in runs}
    assert len(runs) == 20 and len(per_run) == 1 and per_run.pop()[0] > 0
    with Store.open(db) as store:
        points = store.series("equity", account_ids=["83268"])
        assert sorted(p.run_id for p in points) == ids  # every run once, in time order
        assert [p.taken_at for p in points] == sorted(p.taken_at for p in points)
        assert {str(p.value) for p in points} == {"1176224.18600000000000000000"}


def test_snapshot_in_a_minimal_cron_environment(tmp_path):
    home = tmp_path / "cronhome"
    home.mkdir()
    exe = balancecli_exe()
    cmd = ["env", "-i", f"HOME={home}", "PATH=/usr/bin:/bin", exe]
    snap = subprocess.run([*cmd, "--demo", "snapshot"], capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=60)
    assert snap.returncode == 0, snap.stderr
    # --demo keeps its own database: demo data never lands in the user's history.
    db = home / ".local" / "share" / "balancecli" / "history-demo.sqlite3"
    # The demo's own store starts with its generated past: 90 days, a run every 4 hours.
    assert snap.stdout.startswith("snapshot 541 at ") and snap.stdout.endswith(f" -> {db}\n")
    assert snap.stdout.count("\n") == 1 and "\x1b" not in snap.stdout + snap.stderr
    assert stat.S_IMODE(db.stat().st_mode) == 0o600
    assert stat.S_IMODE(db.parent.stat().st_mode) == 0o700
    read = subprocess.run([*cmd, "--demo", "history", "-f", "json"], capture_output=True,
                          text=True, stdin=subprocess.DEVNULL, timeout=60)
    assert read.returncode == 0, read.stderr
    assert {s["account_id"] for s in jload(read.stdout)["series"]} >= {"83267", "11827391"}
    assert not (db.parent / "history.sqlite3").exists()


def test_partial_snapshot_is_stored_and_exits_7(db, tmp_path):
    from balancecli.demo.etna import DEMO_APP_KEY, DEMO_PASSWORD, DEMO_USERNAME, FakeEtna

    fake = FakeEtna(fail_info={"83268": 404}).start()
    try:
        config = tmp_path / "config.toml"
        write_config(config, {
            "etna": {"broker": "etna", "base_url": fake.url + "/api", **FAST},
            "down": {"broker": "etna", "base_url": "http://127.0.0.1:9/api", **FAST,
                     "timeout": 2},
        })
        env = {**_cli_env(db), "BALANCECLI_CONFIG": str(config)}
        for profile in ("ETNA", "DOWN"):
            env.update({f"BALANCECLI_{profile}_APP_KEY": DEMO_APP_KEY,
                        f"BALANCECLI_{profile}_USERNAME": DEMO_USERNAME,
                        f"BALANCECLI_{profile}_PASSWORD": DEMO_PASSWORD})
        partial = run_cli("snapshot", "-f", "json", env=env)
        assert partial.returncode == 7, partial.stderr
        doc = jload(partial.stdout)
        assert (doc["run"]["ok"], doc["run"]["balances"], doc["run"]["errors"]) == (False, 2, 2)
        assert sorted((e["profile"], e["account_id"], e["kind"]) for e in doc["errors"]) == [
            ("down", None, "unavailable"), ("etna", "83268", "broker_error")]
        assert "error: down:" in partial.stderr and "error: etna account 83268:" in partial.stderr
        assert DEMO_PASSWORD not in partial.stdout + partial.stderr

        failed = run_cli("snapshot", "-p", "down", env=env)
        assert failed.returncode == 5, failed.stderr
        assert failed.stdout.startswith("snapshot 2 at ") and "0 balances" in failed.stdout
    finally:
        fake.stop()
    with Store.open(db) as store:
        runs = store.runs()
        assert [(r.id, r.ok, r.balance_count, r.error_count) for r in runs] == [
            (2, False, 0, 1), (1, False, 2, 2)]
        assert runs[0].errors[0]["kind"] == "unavailable"
        assert [(s.row.account_id, s.row.equity) for s in store.balances_at(datetime.now(UTC))] == [
            ("83267", Decimal("100000.00")), ("83269", Decimal("2500.50"))]
    for path in db.parent.iterdir():
        assert DEMO_PASSWORD.encode() not in path.read_bytes()


def test_help_and_version_do_not_import_sqlite(tmp_path):
    for args in (["--help"], ["snapshot", "--help"], ["history", "--help"], ["--version"]):
        result = run_cli(*args, env={"PYTHONPROFILEIMPORTTIME": "1"})
        assert result.returncode == 0, result.stderr
        imported = {line.split("|")[-1].strip() for line in result.stderr.splitlines()}
        assert "sqlite3" not in imported and "balancecli.history" not in imported, args
