"""In process: the field a series follows without ``--field`` (equity, else cash, else
available: the first it has a value of in the rows read), the same through every query;
dates and times read in a zone (local midnight, the end of a 25-hour day); many runs written
in one transaction, all or none."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from balancecli.core.models import Balance
from balancecli.history import Store, parse_when
from balancecli.history.formats import midnight
from balancecli.history.query import FOLLOWED
from balancecli.history.resample import period_edges

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
NY = ZoneInfo("America/New_York")


def row(account: str, **values: str | None) -> Balance:
    return Balance("p", "etna", account, currency="USD",
                   **{k: None if v is None else Decimal(v) for k, v in values.items()})


@pytest.fixture
def store(tmp_path) -> Store:
    with Store.open(tmp_path / "h.sqlite3") as s:
        s.record_runs({"started_at": T0 + timedelta(hours=i), "finished_at": T0 + timedelta(
            hours=i, seconds=1), "profiles": ["p"], "balances": rows, "assets": []}
            for i, rows in enumerate([
                [row("E", equity="1", cash="9"), row("C", cash="5"), row("A", available="7"),
                 row("N")],
                [row("E", equity=None, cash="8"), row("C", cash="6", available="1"),
                 row("A", available="8"), row("N")],
            ]))
        yield s


def test_each_series_follows_its_first_field_with_a_value(store):
    points = store.series(FOLLOWED)
    assert [(p.account_id, p.field, p.value) for p in points] == [
        ("A", "available", Decimal("7")), ("A", "available", Decimal("8")),
        ("C", "cash", Decimal("5")), ("C", "cash", Decimal("6")),
        # equity had a value once: the series is equity's, and the other point is a gap
        ("E", "equity", Decimal("1")), ("E", "equity", None),
        ("N", "equity", None), ("N", "equity", None)]  # nothing at all: equity, empty
    assert [p.field for p in store.series("cash")] == ["cash"] * 8


def test_the_closes_and_the_points_by_run_follow_the_same_fields(store):
    edges = period_edges(T0, T0 + timedelta(hours=1), "1h")
    closes = list(store.iter_series_closes(FOLLOWED, edges))
    assert [(p.account_id, p.field, p.value) for p in closes] == [
        (p.account_id, p.field, p.value) for p in store.series(FOLLOWED)]
    by_run = list(store.iter_points_by_run(FOLLOWED))
    assert sorted((p.account_id, p.run_id, p.field, p.value) for p in by_run) == sorted(
        (p.account_id, p.run_id, p.field, p.value) for p in store.series(FOLLOWED))
    with pytest.raises(ValueError, match="unknown field 'nope'"):
        store.series(("equity", "nope"))


def test_many_runs_in_one_transaction_all_or_none(tmp_path):
    with Store.open(tmp_path / "h.sqlite3") as s:
        good = {"started_at": T0, "finished_at": T0, "profiles": ["p"],
                "balances": [row("E", equity="1")], "assets": []}
        bad = {**good, "balances": [Balance("p", "etna", None, currency="USD")]}  # NOT NULL
        with pytest.raises(Exception):  # noqa: B017 - whichever error SQLite maps it to
            s.record_runs([good, good, bad])
        assert s.run_span()[0] == 0 and s.series("equity") == []
        assert s.record_runs([good, good]) == [1, 2]


@pytest.mark.parametrize(("text", "kw", "expected"), [
    ("2026-11-01", {}, datetime(2026, 11, 1, 4, tzinfo=UTC)),  # EDT midnight
    ("2026-11-01", {"end_of_day": True},  # a 25-hour day: to EST midnight, 05:00 UTC
     datetime(2026, 11, 2, 4, 59, 59, 999999, tzinfo=UTC)),
    ("2026-03-08", {"end_of_day": True},  # a 23-hour day
     datetime(2026, 3, 9, 3, 59, 59, 999999, tzinfo=UTC)),
    ("2026-11-01T01:30", {}, datetime(2026, 11, 1, 5, 30, tzinfo=UTC)),  # the first 01:30
    ("2026-11-01 12:00", {}, datetime(2026, 11, 1, 17, tzinfo=UTC)),
    ("2026-11-01T12:00Z", {}, datetime(2026, 11, 1, 12, tzinfo=UTC)),  # an offset wins
])
def test_dates_and_times_are_read_in_the_zone_given(text, kw, expected):
    assert parse_when(text, tz=NY, **kw) == expected


def test_the_local_zone_is_the_process_one(monkeypatch):
    import time

    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    try:
        assert parse_when("2026-11-01", tz=None) == datetime(2026, 11, 1, 4, tzinfo=UTC)
        assert parse_when("2026-11-01T12:00", tz=None) == datetime(2026, 11, 1, 17, tzinfo=UTC)
        assert midnight(date(2026, 11, 2)) == datetime(2026, 11, 2, 5, tzinfo=UTC)
    finally:
        monkeypatch.undo()
        time.tzset()
