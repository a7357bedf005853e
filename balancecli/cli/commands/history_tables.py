"""The tables of ``history``: one row per account series, totals per currency, and (with
``--account``) each stored point. Drawn by ``balancecli.table`` like every other table.

- Times are local and compact (``2026-11-23 10:15``); ``--utc`` shows UTC (``10:15Z``).
- Amounts use the series currency's display precision (``--exact``: every digit), and the
  change is also shown in percent of the first value.
- The trend sparkline is drawn on one time axis shared by every row: each character is an
  equal slice of time (not of points), so an account first stored last week starts late, and
  a burst of snapshots in one afternoon does not fill the line.
- A total counts only the accounts that had a value in the range.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from decimal import Context, Decimal
from typing import Any

from balancecli.output.table import GREEN, KEEP, Column, Table

BARS = "▁▂▃▄▅▆▇█"
TREND_WIDTH = 24
SAMPLES = 480  # points kept per series for its trend (by time, whatever the series' length)


def _stamp(taken_at: str) -> float:
    return datetime.fromisoformat(taken_at.replace("Z", "+00:00")).timestamp()


def when(taken_at: str | None, *, utc: bool) -> str | None:
    """``2026-11-23T09:15:00.123456Z`` -> ``2026-11-23 10:15`` (local) or ``… 09:15Z``."""
    if not taken_at:
        return None
    moment = datetime.fromisoformat(taken_at.replace("Z", "+00:00"))
    if utc:
        return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%MZ")
    return moment.astimezone().strftime("%Y-%m-%d %H:%M")


def timeline(points: Sequence[Any]) -> list[tuple[float, Decimal | None]]:
    """(time, value) of at most SAMPLES points spread evenly over the series, last included."""
    if len(points) > SAMPLES:
        step = len(points) / SAMPLES
        points = [points[min(len(points) - 1, int((i + 1) * step) - 1)] for i in range(SAMPLES)]
    return [(_stamp(p.taken_at), p.value) for p in points]


def with_timelines(series: Iterable[Any], *, keep_points: bool) -> Iterator[Any]:
    """Series (from ``history_view.iter_groups(..., keep_points=True)``) with a ``timeline``
    for the trend; their points are dropped unless ``keep_points`` (one account's points in
    memory at a time, as before)."""
    for s in series:
        s.timeline = timeline(s.points)
        if not keep_points:
            s.points = []
        yield s


def trend(samples: Sequence[tuple[float, Decimal | None]], start: float, end: float,
          width: int = TREND_WIDTH) -> str:
    """A sparkline of ``width`` equal time slices from ``start`` to ``end``: each slice shows
    the last value stored at or before its end (blank before the first point, after the slice
    of the last one, or when that value is missing), scaled between the series' own lowest
    and highest value. A single point is a single character, not a bar to the end."""
    if not samples:
        return ""
    span = end - start
    slots: list[Decimal | None] = []
    index, current, seen = 0, None, False
    for i in range(width):
        if index == len(samples):
            slots.append(None)  # past the series' last point: nothing is known there
            continue
        edge = end if span <= 0 or i == width - 1 else start + span * (i + 1) / width
        while index < len(samples) and samples[index][0] <= edge:
            current, seen = samples[index][1], True
            index += 1
        slots.append(current if seen else None)
    known = [v for v in slots if v is not None]
    if not known:
        return ""
    low, high = min(known), max(known)
    out = []
    for value in slots:
        if value is None:
            out.append(" ")
        elif high == low:
            out.append(BARS[len(BARS) // 2 - 1])
        else:
            level = int((value - low) / (high - low) * (len(BARS) - 1))
            out.append(BARS[max(0, min(len(BARS) - 1, level))])
    return "".join(out).rstrip()


_PERCENT = Context(prec=30, Emax=999_999_999_999_999_999, Emin=-999_999_999_999_999_999)


def percent(change: Decimal | None, first: Decimal | None) -> Decimal | None:
    """The change in percent of the first value (None when there is no first value or it is
    zero); rounded for display only."""
    if change is None or first is None or not first:
        return None
    return _PERCENT.multiply(_PERCENT.divide(change, abs(first)), Decimal(100))


def _signed(text: str | None, value: Decimal | None) -> Any:
    """A change: ``+`` on a gain (green on a terminal; losses are red by the renderer)."""
    if text is None or value is None:
        return None
    if value > 0 and not text.startswith("-") and text.strip("0.,%") != "":
        return ("+" + text, GREEN)
    return text


SERIES_COLUMNS = [  # (key, title, numeric, priority)
    ("profile", "Profile", False, 6), ("account_id", "Account", False, KEEP),
    ("currency", "Ccy", False, KEEP), ("points", "Points", True, 1),
    ("from", "From", False, 3), ("to", "To", False, 5), ("first", "First", True, 4),
    ("last", "Last", True, KEEP), ("change", "Change", True, 8),
    ("change_pct", "Change %", True, 7), ("trend", "Trend", False, 2),
]


def series_table(series: Sequence[Any], field: str, *, exact: bool, utc: bool) -> Table:
    from balancecli.core.precision import formatter

    fmt = formatter(exact=exact)
    pct = formatter(places=2)
    columns = [Column(key, f"{title} {field}" if key in ("first", "last") else title,
                      numeric=numeric, priority=prio)
               for key, title, numeric, prio in SERIES_COLUMNS]
    stamps = [t for s in series for t, _ in getattr(s, "timeline", [])[:1] + getattr(
        s, "timeline", [])[-1:]]
    start, end = (min(stamps), max(stamps)) if stamps else (0.0, 0.0)

    def money(value: Decimal | None, ccy: str | None) -> str | None:
        return None if value is None else fmt(value, ccy)

    rows = []
    for s in series:
        first, last = s.first, s.last
        change_pct = percent(s.change, first.value if first else None)
        rows.append([
            s.profile, s.account_id, s.currency, str(s.count),
            when(first.taken_at, utc=utc) if first else None,
            when(last.taken_at, utc=utc) if last else None,
            money(first.value if first else None, s.currency),
            money(last.value if last else None, s.currency),
            _signed(money(s.change, s.currency), s.change),
            _signed(None if change_pct is None else pct(change_pct) + "%", change_pct),
            trend(getattr(s, "timeline", []), start, end),
        ])
    return Table(columns, rows)


def totals_table(series: Sequence[Any], *, exact: bool) -> Table | None:
    """Per currency that two or more accounts had a value in: sums of their first and last
    values. Accounts without a value in the range are not counted (``*`` says so)."""
    from balancecli.core.precision import formatter
    from balancecli.history import exact_diff, exact_sum

    fmt = formatter(exact=exact)
    pct = formatter(places=2)
    groups: dict[str | None, dict[str, Any]] = {}
    for s in series:
        g = groups.setdefault(s.currency, {"first": [], "last": [], "missing": 0})
        if s.first is None:
            g["missing"] += 1
        else:
            g["first"].append(s.first.value)
            g["last"].append(s.last.value)
    rows = []
    missing = False
    for ccy, g in groups.items():
        if len(g["first"]) < 2:
            continue
        first, last = exact_sum(g["first"]), exact_sum(g["last"])
        change = exact_diff(last, first)
        change_pct = percent(change, first)
        mark = "*" if g["missing"] else ""
        missing = missing or bool(mark)
        rows.append([f"{len(g['first'])} accounts{mark}", ccy, fmt(first, ccy), fmt(last, ccy),
                     _signed(fmt(change, ccy), change),
                     _signed(None if change_pct is None else pct(change_pct) + "%",
                             change_pct)])
    if not rows:
        return None
    columns = [Column("total", "Total"), Column("currency", "Ccy"),
               Column("first", "First", numeric=True), Column("last", "Last", numeric=True),
               Column("change", "Change", numeric=True, priority=2),
               Column("change_pct", "Change %", numeric=True, priority=1)]
    caption = "* not counted: accounts with no value in the range" if missing else None
    return Table(columns, rows, caption=caption)


def points_table(s: Any, field: str, *, exact: bool, utc: bool) -> Table:
    from balancecli.core.precision import formatter
    from balancecli.history import exact_diff

    fmt = formatter(exact=exact)
    columns = [Column("time", "Time"), Column("run_id", "Run", numeric=True, priority=1),
               Column("value", field, numeric=True), Column("change", "Change", numeric=True)]
    rows = []
    previous = None
    for p in s.points:
        change = (exact_diff(p.value, previous) if p.value is not None and previous is not None
                  else None)
        rows.append([when(p.taken_at, utc=utc), str(p.run_id),
                     None if p.value is None else fmt(p.value, s.currency),
                     _signed(None if change is None else fmt(change, s.currency), change)])
        if p.value is not None:
            previous = p.value
    title = f"{s.profile} {s.account_id} {s.currency or ''}".rstrip()
    return Table(columns, rows, title=title)
