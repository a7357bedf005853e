"""Resampling in local time: closes per hour, day, ISO week, month and year across local
midnight, both DST changes of America/New_York (as a zone passed in and as the process's TZ),
month ends and leap days; ``last``, ``within``, ``pick_period`` and per-run totals."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import NamedTuple
from zoneinfo import ZoneInfo

import pytest

from balancecli.history.formats import format_time
from balancecli.history.resample import (
    PERIODS,
    RunTotal,
    check_period,
    closes,
    count_closes,
    last,
    period_bounds,
    pick_period,
    run_totals,
    within,
)

NY = ZoneInfo("America/New_York")


class P(NamedTuple):
    taken_at: str
    value: Decimal
    account: str = "A"


def at(text: str, tz: ZoneInfo = NY) -> str:
    """Stored text of a local wall time (``2026-11-01 01:30``), first occurrence."""
    return format_time(datetime.fromisoformat(text).replace(tzinfo=tz))


def utc(text: str) -> str:
    return format_time(datetime.fromisoformat(text).replace(tzinfo=UTC))


def hourly(start: datetime, hours: int) -> list[P]:
    return [P(format_time(start + timedelta(hours=h)), Decimal(h)) for h in range(hours)]


@pytest.fixture
def process_tz():
    """Run a test with the process's zone set through TZ, as a user's shell would."""
    old = os.environ.get("TZ")
    os.environ["TZ"] = "America/New_York"
    time.tzset()
    try:
        yield
    finally:
        if old is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = old
        time.tzset()


def test_periods_are_checked():
    assert check_period(" 1D ") == "1d" and PERIODS == ("1h", "1d", "1w", "1mo", "1y")
    with pytest.raises(ValueError, match=r"'2d' is not a period \(one of: 1h, 1d, 1w, 1mo, 1y\)"):
        check_period("2d")
    with pytest.raises(ValueError, match="not a period"):
        list(closes([], "1m"))


def test_a_day_is_the_local_date_not_the_utc_one():
    points = [P(at("2026-11-10 23:59"), Decimal("1.00")),  # 04:59Z on the 11th
              P(at("2026-11-11 00:01"), Decimal("2.00")),
              P(at("2026-11-11 18:00"), Decimal("3.00")),
              P(at("2026-11-11 23:59:59.999999"), Decimal("4.00")),
              P(at("2026-11-12 00:00"), Decimal("5.00"))]
    assert [p.value for p in closes(points, "1d", tz=NY)] == [Decimal(v) for v in "145"]
    # In UTC the first three points share a day.
    assert [p.value for p in closes(points, "1d", tz=UTC)] == [Decimal(v) for v in "35"]


@pytest.mark.parametrize("zone", ["passed", "process"])
def test_dst_days_are_23_and_25_hours_long(zone, request):
    tz = NY if zone == "passed" else None
    if zone == "process":
        request.getfixturevalue("process_tz")
    # Hourly points from local midnight of Sat 7 March 2026 to Tue 10 March (spring forward on
    # the 8th), then around the fall-back night of 1 November 2026.
    spring = hourly(datetime(2026, 3, 7, 5, tzinfo=UTC), 24 * 4)
    fall = hourly(datetime(2026, 10, 31, 4, tzinfo=UTC), 24 * 4)
    for points, lengths in ((spring, [24, 23, 24]), (fall, [24, 25, 24])):
        days = list(closes(points, "1d", tz=tz))
        kept = [int(p.value) for p in days]
        assert [b - a for a, b in zip([-1, *kept], kept, strict=False)][:3] == lengths
        for p in days[:3]:  # each close is the 23:00 point of its local date
            assert datetime.fromisoformat(p.taken_at).astimezone(NY).hour == 23
    start, end = period_bounds(at("2026-03-08 12:00"), "1d", tz)
    assert (start, end - start) == (datetime(2026, 3, 8, 5, tzinfo=UTC), timedelta(hours=23))
    start, end = period_bounds(at("2026-11-01 12:00"), "1d", tz)
    assert (start, end - start) == (datetime(2026, 11, 1, 4, tzinfo=UTC), timedelta(hours=25))


@pytest.mark.parametrize("zone", ["passed", "process"])
def test_the_two_one_oclock_hours_of_a_fall_back_night_are_two_hours(zone, request):
    tz = NY if zone == "passed" else None
    if zone == "process":
        request.getfixturevalue("process_tz")
    points = [P(utc("2026-11-01T05:10"), Decimal(1)),  # 01:10 EDT
              P(utc("2026-11-01T05:50"), Decimal(2)),  # 01:50 EDT
              P(utc("2026-11-01T06:10"), Decimal(3)),  # 01:10 EST
              P(utc("2026-11-01T06:50"), Decimal(4)),  # 01:50 EST
              P(utc("2026-11-01T07:05"), Decimal(5))]  # 02:05 EST
    assert [p.value for p in closes(points, "1h", tz=tz)] == [2, 4, 5]
    # Spring forward: 01:59 EST is followed by 03:00 EDT, one real minute later.
    spring = [P(utc("2026-03-08T06:59"), Decimal(1)), P(utc("2026-03-08T07:00"), Decimal(2)),
              P(utc("2026-03-08T07:59"), Decimal(3))]
    assert [p.value for p in closes(spring, "1h", tz=tz)] == [1, 3]


def test_months_years_and_leap_days():
    points = [P(at("2028-01-31 23:59"), Decimal(1)), P(at("2028-02-01 00:00"), Decimal(2)),
              P(at("2028-02-28 12:00"), Decimal(3)), P(at("2028-02-29 23:00"), Decimal(4)),
              P(at("2028-03-01 00:30"), Decimal(5)), P(at("2028-12-31 23:59"), Decimal(6)),
              P(at("2029-01-01 00:00"), Decimal(7))]
    assert [p.value for p in closes(points, "1mo", tz=NY)] == [1, 4, 5, 6, 7]
    assert [p.value for p in closes(points, "1y", tz=NY)] == [6, 7]
    assert [p.value for p in closes(points, "1d", tz=NY)] == [1, 2, 3, 4, 5, 6, 7]
    start, end = period_bounds(at("2028-02-10 10:00"), "1mo", NY)
    assert end - start == timedelta(days=29)
    start, end = period_bounds(at("2026-12-31 10:00"), "1mo", NY)
    assert (start, end) == (datetime(2026, 12, 1, 5, tzinfo=UTC), datetime(2027, 1, 1, 5,
                                                                           tzinfo=UTC))


def test_iso_weeks_run_monday_to_sunday_across_new_year():
    points = [P(at("2026-12-27 23:00"), Decimal(1)),  # Sunday, week 52
              P(at("2026-12-28 00:30"), Decimal(2)),  # Monday, week 53 of 2026
              P(at("2027-01-03 23:59"), Decimal(3)),  # Sunday: still that week
              P(at("2027-01-04 00:00"), Decimal(4))]  # Monday, week 1 of 2027
    assert [p.value for p in closes(points, "1w", tz=NY)] == [1, 3, 4]
    start, end = period_bounds(at("2026-12-31 12:00"), "1w", NY)
    assert start.astimezone(NY).isoformat() == "2026-12-28T00:00:00-05:00"
    assert end - start == timedelta(days=7)


def test_datetimes_work_as_well_as_stored_text():
    moments = [datetime(2026, 11, 10, 23, 59, tzinfo=NY), datetime(2026, 11, 11, 0, 1, tzinfo=NY)]
    assert list(closes(moments, "1d", tz=NY, time=lambda m: m)) == moments
    assert list(within(moments, since=moments[1], time=lambda m: m)) == moments[1:]


def test_groups_keep_their_own_periods_and_outer_keeps_the_order():
    # The store's iter_series order: by account, then time; one account with two currency
    # views interleaved (LongPort).
    rows = [("A", "HKD", "2026-11-01T10:00"), ("A", "USD", "2026-11-01T10:00"),
            ("A", "HKD", "2026-11-01T20:00"), ("A", "USD", "2026-11-02T10:00"),
            ("B", "USD", "2026-11-01T09:00"), ("B", "USD", "2026-11-01T11:00")]
    points = [P(utc(t), Decimal(i), f"{a}/{c}") for i, (a, c, t) in enumerate(rows)]
    kept = list(closes(points, "1d", tz=UTC, group=lambda p: p.account,
                       outer=lambda p: p.account[0]))
    # A/USD's first day closes when its second day starts; the rest when account B starts.
    assert [(p.account, p.value) for p in kept] == [("A/USD", 1), ("A/HKD", 2), ("A/USD", 3),
                                                    ("B/USD", 5)]
    assert [p.value for p in last(points, 1, group=lambda p: p.account,
                                  outer=lambda p: p.account[0])] == [2, 3, 5]


def test_last_keeps_the_n_newest_and_combines_with_closes():
    points = hourly(datetime(2026, 11, 1, tzinfo=UTC), 24 * 10)
    assert [p.value for p in last(points, 3)] == [237, 238, 239]
    assert len(list(last(points, 1000))) == 240
    daily = list(last(closes(points, "1d", tz=UTC), 2))
    assert [p.value for p in daily] == [215, 239]
    with pytest.raises(ValueError, match="positive"):
        list(last(points, 0))


def test_within_is_inclusive_on_both_ends():
    points = hourly(datetime(2026, 11, 1, tzinfo=UTC), 5)
    since, until = datetime(2026, 11, 1, 1, tzinfo=UTC), datetime(2026, 11, 1, 3, tzinfo=UTC)
    assert [p.value for p in within(points, since, until)] == [1, 2, 3]
    assert [p.value for p in within(points, until=until)] == [0, 1, 2, 3]
    daily = closes(within(points, since=since), "1d", tz=UTC)
    assert [p.value for p in daily] == [4]


def test_pick_period_is_the_finest_that_fits():
    # A year of 15-minute snapshots (35,040 points).
    start = datetime(2026, 1, 1, 5, tzinfo=UTC)
    points = [P(format_time(start + timedelta(minutes=15 * i)), Decimal(i))
              for i in range(4 * 24 * 365)]
    counts = count_closes(points, tz=NY)
    assert counts == {None: 35040, "1h": 8760, "1d": 365, "1w": 53, "1mo": 12, "1y": 1}
    assert pick_period(points, 40_000, tz=NY) is None
    assert pick_period(points, 9_000, tz=NY) == "1h"
    assert pick_period(points, 400, tz=NY) == "1d"
    assert pick_period(points, 53, tz=NY) == "1w"
    assert pick_period(points, 52, tz=NY) == "1mo"
    assert pick_period(points, 5, tz=NY) == "1y"
    assert pick_period(points, 0, tz=NY) == "1y"  # nothing fits: the coarsest
    assert pick_period([], 10) is None
    # Two series in one table need the rows of both.
    two = points[:96 * 3] + [p._replace(account="B") for p in points[:96 * 3]]
    assert count_closes(two, tz=NY, group=lambda p: p.account)["1d"] == 6


def test_run_totals_are_exact_per_run_and_currency():
    class RP(NamedTuple):
        taken_at: str
        run_id: int
        ok: bool
        currency: str | None
        value: Decimal | None

    t1, t2 = utc("2026-11-01T10:00"), utc("2026-11-01T10:15")
    big = Decimal("19638.14545186560000000000")
    tiny = Decimal("0.0000000000000000000000000001")
    points = [RP(t1, 1, True, "USD", big), RP(t1, 1, True, None, Decimal(5)),
              RP(t1, 1, True, "USD", tiny), RP(t1, 1, True, "HKD", None),
              RP(t2, 2, False, "USD", Decimal("1.5"))]
    assert list(run_totals(points)) == [
        RunTotal(t1, 1, True, "HKD", None, 1, 1),
        RunTotal(t1, 1, True, "USD", Decimal("19638.1454518656000000000000000001"), 2, 0),
        RunTotal(t1, 1, True, None, Decimal(5), 1, 0),
        RunTotal(t2, 2, False, "USD", Decimal("1.5"), 1, 0)]
    assert list(run_totals([])) == []
