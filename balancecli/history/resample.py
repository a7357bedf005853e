"""Resampling a stored series for people: the last point of each local hour, day, week, month
or year (a "close"), the N newest points, time bounds, the period that makes a series fit a
number of terminal rows, and per-run totals of one field per currency. Pure functions over
points in time order; no SQLite here.

Points are whatever the store yields (``query.Point``, ``query.RunPoint``, ``valued.RunRows``,
a ``(taken_at, run_id)`` stamp, ...): ``time`` says where an item's time is, either the stored
text (``2026-11-21T19:00:00.123456Z``; fixed width, so text order is time order) or an aware
datetime. Items must come in time order (per group, see below). Everything streams: memory is
one item per open group for ``closes``, N per group for ``last``.

Periods are calendar periods in LOCAL time (``tz``, else the process's zone, ``TZ`` included):
``1h`` a local clock hour (the two 01:00 hours of a night when clocks fall back are two
periods), ``1d`` a local date (23 or 25 hours long when clocks change), ``1w`` an ISO week
(Monday to Sunday), ``1mo`` a calendar month, ``1y`` a calendar year. A close is a real stored
point (its own time and value), never an average or an invented point; the close of the current,
unfinished period is simply its newest point.

Groups: one call can resample many series at once. ``group(item)`` names an item's series
(e.g. profile, broker, account and currency); each series keeps its own periods. ``outer(item)``
(optional) is the key the input is ordered by (the store's ``iter_series`` orders by account
id): when it changes, every open series is finished, so the output stays ordered by it too.

API
---
- ``PERIODS``; ``check_period(text) -> str`` (ValueError listing the choices).
- ``period_bounds(when, period, tz=None) -> (start, end)``: the local period holding ``when``,
  as aware UTC datetimes, ``start <= when < end``.
- ``closes(items, period, *, tz=None, time=..., group=None, outer=None) -> Iterator``.
- ``last(items, n, *, group=None, outer=None) -> Iterator``: the ``n`` newest items per group.
- ``within(items, since=None, until=None, *, time=...) -> Iterator``: ``since <= t <= until``.
- ``count_closes(items, *, tz=None, time=..., group=None) -> dict[str | None, int]``: how
  many rows each period gives (``None``: no resampling), in one pass.
- ``pick_period(items, rows_available, ...) -> str | None``: the finest period whose rows fit
  (``None`` when the series fits as it is; ``"1y"`` when even years do not fit);
  ``choose_period(rows, count, rows_available)`` is the same rule over counts the store
  gives (``Store.count_points``, ``Store.periods_with_rows``).
- ``period_edges(first, last, period, tz=None) -> [(start, stop), ...]``: the local periods
  of a range as stored text, for the store's closes in SQL (``Store.iter_series_closes``,
  ``iter_run_closes``): the same closes as ``closes`` over the store's streams, found by one
  index seek per period instead of reading every row (a year of 15-minute runs is 35,040).
- ``run_totals(points) -> Iterator[RunTotal]``: per run and currency, the exact sum of one
  field over the run's own rows (points ordered by run, as ``Reader.iter_points_by_run``).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Hashable, Iterable, Iterator
from datetime import UTC, date, datetime, timedelta, tzinfo
from decimal import Decimal
from operator import attrgetter
from typing import Any, NamedTuple, TypeVar

from balancecli.history.formats import exact_sum, format_time, midnight

T = TypeVar("T")
TimeOf = Callable[[Any], "str | datetime"]

PERIODS = ("1h", "1d", "1w", "1mo", "1y")
_taken_at: TimeOf = attrgetter("taken_at")


def check_period(text: str) -> str:
    """``text`` as a period name, or ValueError naming the choices."""
    period = text.strip().lower()
    if period not in PERIODS:
        raise ValueError(f"{text!r} is not a period (one of: {', '.join(PERIODS)})")
    return period


# ---------------------------------------------------------------------------------------------
# Local calendar periods


def _as_utc(moment: str | datetime) -> datetime:
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError(f"{moment!r} has no time zone")
    return moment.astimezone(UTC)


def _local(moment: datetime, tz: tzinfo | None) -> datetime:
    return moment.astimezone(tz) if tz is not None else moment.astimezone()


def _start_day(local: date, period: str) -> date:
    if period == "1w":
        return local - timedelta(days=local.weekday())  # ISO weeks start on Monday
    if period == "1mo":
        return local.replace(day=1)
    if period == "1y":
        return local.replace(month=1, day=1)
    return local


def _next_day(start: date, period: str) -> date:
    if period == "1d":
        return start + timedelta(days=1)
    if period == "1w":
        return start + timedelta(days=7)
    if period == "1mo":
        return (start.replace(year=start.year + 1, month=1) if start.month == 12
                else start.replace(month=start.month + 1))
    return start.replace(year=start.year + 1)


def period_bounds(when: str | datetime, period: str,
                  tz: tzinfo | None = None) -> tuple[datetime, datetime]:
    """(start, end) in UTC of the local ``period`` holding ``when``: ``start <= when < end``."""
    moment = _as_utc(when)
    local = _local(moment, tz)
    if period == "1h":
        # From the instant's own offset, so each of the two 01:00 hours of a fall-back night
        # is its own hour (a wall-clock lookup could not tell them apart).
        start = moment - timedelta(minutes=local.minute, seconds=local.second,
                                   microseconds=local.microsecond)
        return start, start + timedelta(hours=1)
    if period not in PERIODS:
        check_period(period)
    first = _start_day(local.date(), period)
    return midnight(first, tz), midnight(_next_day(first, period), tz)


class _Edge:
    """Where the current period of one series ends, comparable with the items' own times
    (stored text compares as text, which is time order; datetimes as datetimes)."""

    __slots__ = ("period", "tz", "end")

    def __init__(self, period: str, tz: tzinfo | None) -> None:
        self.period, self.tz = period, tz
        self.end: str | datetime | None = None

    def crosses(self, moment: str | datetime) -> bool:
        """True when ``moment`` starts a period (the first item does too), and the edge moves
        to that period's end; the per-item cost is one comparison until then."""
        end = self.end
        if end is not None and moment < end:  # type: ignore[operator]
            return False
        _, stop = period_bounds(moment, self.period, self.tz)
        self.end = format_time(stop) if isinstance(moment, str) else stop
        return True


# ---------------------------------------------------------------------------------------------
# Streams

_NOTHING: Hashable = object()


def closes(items: Iterable[T], period: str, *, tz: tzinfo | None = None,
           time: TimeOf = _taken_at, group: Callable[[T], Hashable] | None = None,
           outer: Callable[[T], Hashable] | None = None) -> Iterator[T]:
    """The last item of each local ``period`` (per group), in time order per group."""
    check_period(period)
    edges: dict[Hashable, _Edge] = {}
    kept: dict[Hashable, T] = {}
    current_outer: Hashable = _NOTHING
    for item in items:
        if outer is not None:
            key_outer = outer(item)
            if key_outer != current_outer:
                yield from kept.values()
                edges, kept, current_outer = {}, {}, key_outer
        key = group(item) if group is not None else None
        edge = edges.get(key)
        if edge is None:
            edge = edges[key] = _Edge(period, tz)
        if edge.crosses(time(item)) and key in kept:
            yield kept[key]
        kept[key] = item
    yield from kept.values()


def last(items: Iterable[T], n: int, *, group: Callable[[T], Hashable] | None = None,
         outer: Callable[[T], Hashable] | None = None) -> Iterator[T]:
    """The ``n`` newest items of each group (all of them when there are fewer), oldest first."""
    if n < 1:
        raise ValueError(f"--last needs a positive count, not {n}")
    kept: dict[Hashable, deque[T]] = {}
    current_outer: Hashable = _NOTHING
    for item in items:
        if outer is not None:
            key_outer = outer(item)
            if key_outer != current_outer:
                for done in kept.values():
                    yield from done
                kept, current_outer = {}, key_outer
        key = group(item) if group is not None else None
        queue = kept.get(key)
        if queue is None:
            queue = kept[key] = deque(maxlen=n)
        queue.append(item)
    for done in kept.values():
        yield from done


def within(items: Iterable[T], since: datetime | None = None, until: datetime | None = None,
           *, time: TimeOf = _taken_at) -> Iterator[T]:
    """The items with ``since <= time <= until`` (either bound may be None). The store's
    queries take the same bounds; this is for series that do not come from the store."""
    low: str | datetime | None = None
    high: str | datetime | None = None
    for item in items:
        moment = time(item)
        if low is None and since is not None:
            low = format_time(since) if isinstance(moment, str) else since
        if high is None and until is not None:
            high = format_time(until) if isinstance(moment, str) else until
        if (low is None or moment >= low) and (high is None or moment <= high):  # type: ignore[operator]
            yield item


def period_edges(first: str | datetime, last: str | datetime, period: str,
                 tz: tzinfo | None = None) -> list[tuple[str, str]]:
    """The local periods from ``first`` to ``last`` (both included) as stored text
    ``(start, stop)``, the first starting at ``first`` and the last stopping just after
    ``last``: pass ``--since``/``--until`` (or the stored span) and no close falls outside
    them. What the store's ``iter_series_closes``, ``iter_run_closes`` and
    ``periods_with_rows`` seek in."""
    check_period(period)
    low, high = _as_utc(first), _as_utc(last)
    start, stop = period_bounds(low, period, tz)
    edges = []
    while start <= high:
        edges.append((_stored(max(start, low)),
                      _stored(min(stop, high + timedelta(microseconds=1)))))
        if period == "1h":
            start, stop = stop, stop + timedelta(hours=1)  # local hours are 60 minutes
        else:
            start, stop = period_bounds(stop, period, tz)
    return edges


def _stored(moment: datetime) -> str:
    """``format_time`` of an aware UTC datetime, without strftime (edges of a year of hours
    are 17,520 strings)."""
    m = moment
    return (f"{m.year:04d}-{m.month:02d}-{m.day:02d}T{m.hour:02d}:{m.minute:02d}:"
            f"{m.second:02d}.{m.microsecond:06d}Z")


def choose_period(rows: int, count: Callable[[str], int], rows_available: int) -> str | None:
    """``pick_period``'s rule over counts: ``rows`` of the series as it is, ``count(period)``
    its rows resampled to ``period``. Periods are tried coarsest first, and the finest that
    fits before one does not is the answer, so a year of 15-minute runs on a 40-row terminal
    counts years, months and weeks, never hours (8,760 of them)."""
    if rows <= rows_available:
        return None
    best = PERIODS[-1]
    for period in reversed(PERIODS):
        if count(period) > rows_available:
            break
        best = period
    return best


def count_closes(items: Iterable[Any], *, tz: tzinfo | None = None, time: TimeOf = _taken_at,
                 group: Callable[[Any], Hashable] | None = None) -> dict[str | None, int]:
    """Rows of the series without resampling (``None``) and with each period, in one pass."""
    counts: dict[str | None, int] = {None: 0, **dict.fromkeys(PERIODS, 0)}
    edges: dict[Hashable, list[_Edge]] = {}
    for item in items:
        key = group(item) if group is not None else None
        series = edges.get(key)
        if series is None:
            series = edges[key] = [_Edge(p, tz) for p in PERIODS]
        moment = time(item)
        counts[None] += 1
        for period, edge in zip(PERIODS, series, strict=True):
            if edge.crosses(moment):
                counts[period] += 1
    return counts


def pick_period(items: Iterable[Any], rows_available: int, *, tz: tzinfo | None = None,
                time: TimeOf = _taken_at,
                group: Callable[[Any], Hashable] | None = None) -> str | None:
    """The finest period whose closes fit in ``rows_available`` rows; ``None`` when the series
    fits as it is, ``"1y"`` when not even one row per year fits (the caller says so)."""
    counts = count_closes(items, tz=tz, time=time, group=group)
    return choose_period(counts[None], counts.__getitem__, rows_available)


# ---------------------------------------------------------------------------------------------
# Totals per run


class RunTotal(NamedTuple):
    """One run's total of a field in one currency, over the rows that run stored."""

    taken_at: str
    run_id: int
    ok: bool  # the run had no error (a failed profile makes its totals incomplete)
    currency: str | None
    total: Decimal | None  # None when no row of that currency had a value
    accounts: int  # rows of that currency in the run
    missing: int  # of which had no value for the field


def run_totals(points: Iterable[Any]) -> Iterator[RunTotal]:
    """Per run (in the input's order) and currency (sorted, no currency last): the exact sum
    of the values. Each run counts its own rows only: an account a run did not store is not
    topped up from an older run; ``ok`` and ``missing`` say when a total is incomplete."""
    run: tuple[str, int, bool] | None = None
    values: dict[str | None, list[Decimal | None]] = {}

    def finish() -> Iterator[RunTotal]:
        assert run is not None
        for currency in sorted(values, key=lambda c: (c is None, c or "")):
            found = values[currency]
            known = [v for v in found if v is not None]
            yield RunTotal(run[0], run[1], run[2], currency,
                           exact_sum(known) if known else None, len(found),
                           len(found) - len(known))

    for p in points:
        if run is None or (p.taken_at, p.run_id) != run[:2]:
            if run is not None:
                yield from finish()
            run, values = (p.taken_at, p.run_id, bool(p.ok)), {}
        values.setdefault(p.currency, []).append(p.value)
    if run is not None:
        yield from finish()
