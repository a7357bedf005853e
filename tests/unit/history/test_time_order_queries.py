"""The store's queries in time order that resampling streams from: run stamps (filtered by
profile and account), the rows of chosen runs only, one field by run; and closes computed
straight from ``iter_series`` without loading a series."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from balancecli.core.errors import UnavailableError
from balancecli.core.models import Asset, Balance
from balancecli.history import Store, format_time, query
from balancecli.history.query import RunStamp
from balancecli.history.resample import (
    PERIODS,
    choose_period,
    closes,
    count_closes,
    period_edges,
    run_totals,
)

T0 = datetime(2026, 11, 1, 0, 0, tzinfo=UTC)


class Rate:
    """What record_run stores of a rate (as ``money.rates.Rate`` has it)."""

    def __init__(self, base: str, quote: str, num: str) -> None:
        self.base, self.quote, self.num, self.den = base, quote, Decimal(num), Decimal(1)
        self.source, self.day = "broker", None


def _rows(i: int, *, etna: bool = True) -> tuple[list[Balance], list[Asset]]:
    balances = [Balance("lp", "longport", "LP1", currency="HKD", equity=Decimal(1000 + i)),
                Balance("lp", "longport", "LP1", currency="USD", equity=Decimal(128 + i))]
    assets = [Asset("lp", "longport", "LP1", "HKD", available=Decimal(i))]
    if etna:
        balances.append(Balance("et", "etna", "E1", currency="USD",
                                equity=Decimal(f"{5000 + i}.25"), cash=Decimal(i)))
        assets.append(Asset("et", "etna", "E1", "USD", total=Decimal(i)))
    return balances, assets


@pytest.fixture
def store(tmp_path: Path) -> Store:
    """Two days of runs every 6 hours; run 4 failed for profile et; run 6 stored nothing."""
    s = Store.open(tmp_path / "h.sqlite3")
    for i in range(8):
        when = T0 + timedelta(hours=6 * i)
        if i == 6:
            s.record_run(started_at=when, finished_at=when, profiles=["et", "lp"], balances=[],
                         assets=[], errors=[UnavailableError("down", profile="lp"),
                                            UnavailableError("down", profile="et")])
            continue
        balances, assets = _rows(i, etna=i != 4)
        errors = [UnavailableError("down", profile="et")] if i == 4 else []
        s.record_run(started_at=when, finished_at=when + timedelta(seconds=1),
                     profiles=["et", "lp"], balances=balances, assets=assets, errors=errors,
                     rates=[("et", "E1", Rate("EUR", "USD", f"1.0{i}"))])
    yield s
    s.close()


def test_run_stamps_skip_runs_without_rows_and_follow_the_filters(store):
    stamps = list(store.iter_run_stamps())
    assert [s.run_id for s in stamps] == [1, 2, 3, 4, 5, 6, 8]
    assert [s.ok for s in stamps] == [True] * 4 + [False] + [True] * 2
    assert [s.run_id for s in store.iter_run_stamps(profiles=["et"])] == [1, 2, 3, 4, 6, 8]
    assert [s.run_id for s in store.iter_run_stamps(account_ids=["LP1"],
                                                    since=T0 + timedelta(hours=12),
                                                    until=T0 + timedelta(hours=30))] == [3, 4, 5, 6]


def test_rows_of_chosen_runs_equal_the_full_scan(store, monkeypatch):
    full = {r.run_id: r for r in store.iter_run_rows()}
    monkeypatch.setattr(query, "_BATCH", 2)  # several batches
    chosen = list(store.iter_rows_of_runs(store.iter_run_stamps()))
    assert [r.run_id for r in chosen] == [1, 2, 3, 4, 5, 6, 8]
    for run in chosen:
        assert run == full[run.run_id]
    assert chosen[0].rates[0].num == Decimal("1.00") and chosen[4].ok is False
    # One close per day: the last run of 1 and of 2 November (UTC) that stored a row.
    days = closes(store.iter_run_stamps(), "1d", tz=UTC)
    kept = list(store.iter_rows_of_runs(days, profiles=["et"]))
    assert [(r.run_id, len(r.balances), len(r.assets)) for r in kept] == [(4, 1, 1), (8, 1, 1)]
    assert [b.equity for b in kept[1].balances] == [Decimal("5007.25")]


def test_points_by_run_and_their_totals(store):
    points = list(store.iter_points_by_run("equity", since=T0 + timedelta(hours=18),
                                           until=T0 + timedelta(hours=24)))
    assert [(p.run_id, p.ok, p.account_id, p.currency, p.value) for p in points] == [
        (4, True, "LP1", "HKD", Decimal(1003)), (4, True, "LP1", "USD", Decimal(131)),
        (4, True, "E1", "USD", Decimal("5003.25")),
        (5, False, "LP1", "HKD", Decimal(1004)), (5, False, "LP1", "USD", Decimal(132))]
    totals = [(t.run_id, t.ok, t.currency, t.total, t.accounts) for t in run_totals(points)]
    assert totals == [(4, True, "HKD", Decimal(1003), 1), (4, True, "USD", Decimal("5134.25"), 2),
                      (5, False, "HKD", Decimal(1004), 1), (5, False, "USD", Decimal(132), 1)]
    assert [p.value for p in store.iter_points_by_run("cash", profiles=["et"])][:2] == [
        Decimal(0), Decimal(1)]
    with pytest.raises(ValueError, match="unknown field"):
        next(store.iter_points_by_run("equity; DROP TABLE runs"))


def test_points_by_run_walk_the_time_index(store):
    sql = ("SELECT b.taken_at FROM balances AS b INDEXED BY balances_time JOIN runs AS r"
           " ON r.id = b.run_id WHERE b.taken_at >= ? ORDER BY b.taken_at, b.run_id")
    plan = " ".join(store.explain(sql, ["2026"]))
    assert "balances_time" in plan and "SCAN b" not in plan


def test_daily_closes_of_every_series_stream_from_iter_series(store):
    series = store.iter_series("equity")  # ordered by account id, then time
    kept = list(closes(series, "1d", tz=UTC, group=lambda p: (p.profile, p.account_id,
                                                                p.currency),
                       outer=lambda p: p.account_id))
    assert [(p.account_id, p.currency, p.run_id, p.value) for p in kept] == [
        ("E1", "USD", 4, Decimal("5003.25")), ("E1", "USD", 8, Decimal("5007.25")),
        ("LP1", "HKD", 4, Decimal(1003)), ("LP1", "USD", 4, Decimal(131)),
        ("LP1", "HKD", 8, Decimal(1007)), ("LP1", "USD", 8, Decimal(135))]


# -- closes in SQL equal the closes of the streams --------------------------------------------

NY = ZoneInfo("America/New_York")


@pytest.fixture(scope="module")
def wide_store(tmp_path_factory) -> Store:
    """Six weeks of runs at irregular times across the March DST change and two month ends:
    three accounts (one with two currency views), some runs missing an account or failed."""
    rng = random.Random(7)
    s = Store.open(tmp_path_factory.mktemp("wide") / "h.sqlite3")
    when = datetime(2026, 2, 25, 3, 0, tzinfo=UTC)
    for _ in range(700):
        when += timedelta(minutes=rng.choice([5, 15, 15, 60, 240, 540]))
        balances = [Balance("lp", "longport", "LP1", currency=c, equity=Decimal(rng.randrange(
            10**6)) / 100) for c in ("HKD", "USD")]
        if rng.random() > 0.2:
            balances.append(Balance("et", "etna", "E1", currency="USD",
                                    equity=Decimal(rng.randrange(10**7)) / 100))
        if rng.random() > 0.5:
            balances.append(Balance("et", "etna", "E2", currency="USD", equity=None if
                                    rng.random() < 0.1 else Decimal(rng.randrange(10**5))))
        s.record_run(started_at=when, finished_at=when, profiles=["et", "lp"],
                     balances=balances, assets=[], errors=[] if rng.random() > 0.1 else
                     [UnavailableError("down", profile="et")])
    yield s
    s.close()


@pytest.mark.parametrize("period", PERIODS)
@pytest.mark.parametrize("accounts", [None, ["E2"], ["LP1", "E1"]])
def test_sql_closes_equal_stream_closes(wide_store, period, accounts):
    _, first, last = wide_store.run_span()
    edges = period_edges(first, last, period, NY)
    sql = list(wide_store.iter_series_closes("equity", edges, account_ids=accounts))
    stream = list(closes(wide_store.iter_series("equity", account_ids=accounts), period, tz=NY,
                         group=lambda p: (p.profile, p.broker, p.account_id, p.currency),
                         outer=lambda p: p.account_id))
    assert sorted(sql) == sorted(stream) and sql
    assert [p.account_id for p in sql] == sorted(p.account_id for p in sql)  # iter_series order
    runs_sql = list(wide_store.iter_run_closes(edges, account_ids=accounts))
    if accounts is None:
        runs_stream = list(closes(wide_store.iter_run_stamps(), period, tz=NY))
    else:  # (with a filter, runs that stored a balance row of those accounts)
        runs_stream = list(closes(
            (RunStamp(t, r, ok) for t, r, ok in sorted(
                {(p.taken_at, p.run_id, p.ok) for p in wide_store.iter_points_by_run(
                    "equity", account_ids=accounts)})), period, tz=NY))
    assert runs_sql == runs_stream
    counted = count_closes(wide_store.iter_points_by_run("equity", account_ids=accounts), tz=NY)
    assert wide_store.periods_with_rows(edges, account_ids=accounts) == counted[period]
    assert wide_store.count_points(account_ids=accounts) == counted[None]
    kept = {(r.taken_at, r.run_id) for r in runs_sql}
    chosen = list(wide_store.iter_points_by_run("equity", stamps=runs_sql, account_ids=accounts))
    assert chosen == [p for p in wide_store.iter_points_by_run("equity", account_ids=accounts)
                      if (p.taken_at, p.run_id) in kept]


def test_edges_cover_the_range_in_local_periods():
    edges = period_edges("2026-03-07T12:00:00.000000Z", "2026-03-09T12:00:00.000000Z", "1d",
                         NY)
    assert edges == [("2026-03-07T12:00:00.000000Z", "2026-03-08T05:00:00.000000Z"),
                     ("2026-03-08T05:00:00.000000Z", "2026-03-09T04:00:00.000000Z"),
                     ("2026-03-09T04:00:00.000000Z", "2026-03-09T12:00:00.000001Z")]
    hours = period_edges("2026-11-01T04:30:00.000000Z", "2026-11-01T07:10:00.000000Z", "1h", NY)
    assert [a[11:16] for a, _ in hours] == ["04:30", "05:00", "06:00", "07:00"]  # 01:00 twice
    assert all(a == format_time(datetime.fromisoformat(a)) for a, _ in hours + edges)
    asked: list[str] = []

    def count(period: str) -> int:
        asked.append(period)
        return {"1h": 800, "1d": 40, "1w": 9, "1mo": 3, "1y": 1}[period]

    assert choose_period(10, count, 10) is None and asked == []
    assert choose_period(11, count, 10) == "1w" and asked == ["1y", "1mo", "1w", "1d"]
    assert choose_period(11, lambda p: 99, 10) == "1y"  # nothing fits: the coarsest


def test_since_and_until_in_the_middle_of_a_period_bound_the_sql_closes(wide_store):
    since = datetime(2026, 3, 3, 15, 0, tzinfo=UTC)
    until = datetime(2026, 3, 20, 9, 30, tzinfo=UTC)
    edges = period_edges(since, until, "1w", NY)
    sql = list(wide_store.iter_series_closes("equity", edges))
    stream = list(closes(wide_store.iter_series("equity", since=since, until=until), "1w",
                         tz=NY, group=lambda p: (p.profile, p.broker, p.account_id,
                                                 p.currency),
                         outer=lambda p: p.account_id))
    assert sorted(sql) == sorted(stream)
    assert all(format_time(since) <= p.taken_at <= format_time(until) for p in sql)
    runs = list(wide_store.iter_run_closes(edges))
    assert runs == list(closes(wide_store.iter_run_stamps(since=since, until=until), "1w",
                               tz=NY))
