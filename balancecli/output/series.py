"""What ``history`` shows of one balance field over time: per-account series, their totals per
currency, and (with ``--account``) each stored point.

- Tables: one row per series (first, last, change also in percent, a trend sparkline), a total
  per currency that several accounts share, and with ``--account`` every point. Times are local
  and compact (``2026-11-23 10:15``; ``--utc``: ``09:15Z``); amounts use the series currency's
  display precision (``--exact``: every digit). The trend is drawn on one time axis shared by
  every row: each character is an equal slice of time (not of points), so an account first
  stored last week starts late, and a burst of snapshots in one afternoon does not fill it.
  A total counts only the accounts that had a value in the range.
- ``--hide-amounts``: the same tables without an amount: each series' share of its currency's
  total (its last value's), and changes in percent only.
- JSON (``balancecli.history/1``) streams one series at a time; JSONL and CSV stream the points
  (constant memory over a million points).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from decimal import Context, Decimal
from typing import TYPE_CHECKING, Any

from balancecli.output.table import GREEN, KEEP, Cell, Column, Table

if TYPE_CHECKING:
    from balancecli.output.console import Console

SCHEMA = "balancecli.history/1"
POINT_FIELDS = ("time", "run_id", "profile", "broker", "account_id", "currency")
BARS = "▁▂▃▄▅▆▇█"
TREND_WIDTH = 24
SAMPLES = 480  # points kept per series for its trend (by time, whatever the series' length)
CHUNK = 2000  # lines per write when streaming
HIDDEN = "amounts hidden: each series' share of its currency's last total, changes in percent"


@dataclasses.dataclass
class Series:
    """One account's (and currency's) values in time order, summarized once complete."""

    profile: str
    broker: str
    account_id: str
    currency: str | None
    points: list[Any]
    count: int = 0
    first: Any = None  # the first and last points with a value
    last: Any = None
    change: Decimal | None = None
    trend: str = ""
    timeline: list[tuple[float, Decimal | None]] = dataclasses.field(default_factory=list)

    def finish(self, *, keep_points: bool) -> Series:
        from balancecli.history import exact_diff, sparkline

        self.count = len(self.points)
        known = [p for p in self.points if p.value is not None]
        if known:
            self.first, self.last = known[0], known[-1]
            self.change = exact_diff(self.last.value, self.first.value)
        self.trend = sparkline([p.value for p in self.points])
        if not keep_points:
            self.points = []
        return self


def iter_groups(points: Iterable[Any], *, keep_points: bool = True) -> Iterator[Series]:
    """Finished Series from points ordered by account id (the store's order): one account's
    points at a time are in memory, its series by profile, broker and currency."""
    current: object = object()
    buffer: dict[tuple[Any, ...], Series] = {}

    def flush() -> Iterator[Series]:
        for key in sorted(buffer, key=lambda k: (k[0], k[1], k[2] or "")):
            yield buffer[key].finish(keep_points=keep_points)

    for p in points:
        if p.account_id != current:
            yield from flush()
            buffer, current = {}, p.account_id
        key = (p.profile, p.broker, p.currency)
        if key not in buffer:
            buffer[key] = Series(p.profile, p.broker, p.account_id, p.currency, [])
        buffer[key].points.append(p)
    yield from flush()


def series_totals(series: Sequence[Series]) -> list[dict[str, Any]]:
    """Per currency: sums of each account's first and last known value, and their change."""
    from balancecli.history import exact_diff, exact_sum

    out: dict[str | None, dict[str, Any]] = {}
    for s in series:
        group = out.setdefault(s.currency, {"currency": s.currency, "accounts": 0, "first": [],
                                            "last": [], "incomplete": False})
        group["accounts"] += 1
        if s.first is None:
            group["incomplete"] = True
        else:
            group["first"].append(s.first.value)
            group["last"].append(s.last.value)
    result = []
    for group in out.values():
        first = exact_sum(group["first"]) if group["first"] else None
        last = exact_sum(group["last"]) if group["last"] else None
        change = None if first is None or last is None else exact_diff(last, first)
        result.append({"currency": group["currency"], "accounts": group["accounts"],
                       "first": first, "last": last, "change": change,
                       "incomplete": group["incomplete"]})
    return result


# -- times and trends --------------------------------------------------------------------------


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


def with_timelines(series: Iterable[Series], *, keep_points: bool) -> Iterator[Series]:
    """Series (from ``iter_groups(..., keep_points=True)``) with a ``timeline`` for the trend;
    their points are dropped unless ``keep_points`` (one account's points in memory at a
    time)."""
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


def signed(text: str | None, value: Decimal | None) -> Cell:
    """A change: ``+`` on a gain (green on a terminal; losses are red by the renderer)."""
    if text is None or value is None:
        return None
    if value > 0 and not text.startswith("-") and text.strip("0.,%") != "":
        return ("+" + text, GREEN)
    return text


def percent_cell(change: Decimal | None, first: Decimal | None) -> Cell:
    from balancecli.core.precision import display

    pct = percent(change, first)
    return signed(None if pct is None else display(pct, places=2) + "%", pct)


# -- tables ------------------------------------------------------------------------------------

SERIES_COLUMNS = [  # (key, title, numeric, priority)
    ("profile", "Profile", False, 6), ("account_id", "Account", False, KEEP),
    ("currency", "Ccy", False, KEEP), ("points", "Points", True, 1),
    ("from", "From", False, 3), ("to", "To", False, 5), ("first", "First", True, 4),
    ("last", "Last", True, KEEP), ("change", "Change", True, 8),
    ("change_pct", "Change %", True, 7), ("trend", "Trend", False, 2),
]
MASKED_OUT = frozenset({"first", "last", "change"})  # the amounts --hide-amounts leaves out


def _span(series: Sequence[Series]) -> tuple[float, float]:
    stamps = [t for s in series for t, _ in s.timeline[:1] + s.timeline[-1:]]
    return (min(stamps), max(stamps)) if stamps else (0.0, 0.0)


def _shares(series: Sequence[Series]) -> list[Decimal | None]:
    """Each series' last value as a share of its currency's sum of last values."""
    from balancecli.output.privacy import EXACT, fraction

    sums: dict[str | None, Decimal] = {}
    for s in series:
        if s.last is not None:
            sums[s.currency] = EXACT.add(sums.get(s.currency, Decimal(0)), s.last.value)
    return [fraction(s.last.value if s.last else None, sums.get(s.currency)) for s in series]


def series_table(series: Sequence[Series], field: str, *, exact: bool, utc: bool,
                 masked: bool = False) -> Table:
    from balancecli.core.precision import formatter
    from balancecli.output.privacy import percent as share_text

    fmt = formatter(exact=exact)
    specs = [c for c in SERIES_COLUMNS if not (masked and c[0] in MASKED_OUT)]
    if masked:
        specs.insert(6, ("share", "Share", True, KEEP))
    columns = [Column(key, f"{title} {field}" if key in ("first", "last") else title,
                      numeric=numeric, priority=prio) for key, title, numeric, prio in specs]
    start, end = _span(series)
    shares = _shares(series) if masked else [None] * len(series)

    def money(value: Decimal | None, ccy: str | None) -> str | None:
        return None if value is None else fmt(value, ccy)

    rows = []
    for s, share in zip(series, shares, strict=True):
        first, last = s.first, s.last
        cells: dict[str, Cell] = {
            "profile": s.profile, "account_id": s.account_id, "currency": s.currency,
            "points": str(s.count), "from": when(first.taken_at, utc=utc) if first else None,
            "to": when(last.taken_at, utc=utc) if last else None,
            "first": money(first.value if first else None, s.currency),
            "last": money(last.value if last else None, s.currency),
            "change": signed(money(s.change, s.currency), s.change),
            "change_pct": percent_cell(s.change, first.value if first else None),
            "trend": trend(s.timeline, start, end),
            "share": None if share is None else share_text(share)}
        rows.append([cells[c.key] for c in columns])
    return Table(columns, rows, caption=HIDDEN if masked else None)


def totals_table(series: Sequence[Series], *, exact: bool, masked: bool = False) -> Table | None:
    """Per currency that two or more accounts had a value in: sums of their first and last
    values (masked: the change in percent only). Accounts without a value in the range are not
    counted (``*`` says so)."""
    from balancecli.core.precision import formatter
    from balancecli.history import exact_diff, exact_sum

    fmt = formatter(exact=exact)
    groups: dict[str | None, dict[str, Any]] = {}
    for s in series:
        g = groups.setdefault(s.currency, {"first": [], "last": [], "missing": 0})
        if s.first is None:
            g["missing"] += 1
        else:
            g["first"].append(s.first.value)
            g["last"].append(s.last.value)
    rows: list[list[Cell]] = []
    missing = False
    for ccy, g in groups.items():
        if len(g["first"]) < 2:
            continue
        first, last = exact_sum(g["first"]), exact_sum(g["last"])
        change = exact_diff(last, first)
        mark = "*" if g["missing"] else ""
        missing = missing or bool(mark)
        amounts: list[Cell] = [] if masked else [fmt(first, ccy), fmt(last, ccy),
                                                 signed(fmt(change, ccy), change)]
        rows.append([f"{len(g['first'])} accounts{mark}", ccy, *amounts,
                     percent_cell(change, first)])
    if not rows:
        return None
    columns = [Column("total", "Total"), Column("currency", "Ccy")]
    if not masked:
        columns += [Column("first", "First", numeric=True), Column("last", "Last", numeric=True),
                    Column("change", "Change", numeric=True, priority=2)]
    columns.append(Column("change_pct", "Change %", numeric=True,
                          priority=KEEP if masked else 1))
    caption = "* not counted: accounts with no value in the range" if missing else None
    return Table(columns, rows, caption=caption)


def points_table(s: Series, field: str, *, exact: bool, utc: bool,
                 masked: bool = False) -> Table:
    """Every point of one series and its change from the previous one (masked: in percent)."""
    from balancecli.core.precision import formatter
    from balancecli.history import exact_diff

    fmt = formatter(exact=exact)
    columns = [Column("time", "Time"), Column("run_id", "Run", numeric=True, priority=1)]
    columns += [Column("change_pct", "Change %", numeric=True)] if masked else [
        Column("value", field, numeric=True), Column("change", "Change", numeric=True)]
    rows: list[list[Cell]] = []
    previous = None
    for p in s.points:
        change = (exact_diff(p.value, previous) if p.value is not None and previous is not None
                  else None)
        cells: list[Cell] = [when(p.taken_at, utc=utc), str(p.run_id)]
        if masked:
            cells.append(percent_cell(change, previous))
        else:
            cells += [None if p.value is None else fmt(p.value, s.currency),
                      signed(None if change is None else fmt(change, s.currency), change)]
        rows.append(cells)
        if p.value is not None:
            previous = p.value
    title = f"{s.profile} {s.account_id} {s.currency or ''}".rstrip()
    return Table(columns, rows, title=title)


def pick(table: Table, names: list[str], *, label: str | None = None) -> Table | None:
    """``table`` with only the columns named (in that order), none dropped to fit: what
    ``--columns`` asks for. ``label``: a key kept first (a totals table's "Total")."""
    keys = [c.key for c in table.columns]
    wanted = ([label] if label in keys else []) + [n for n in names if n in keys and n != label]
    if not [n for n in wanted if n != label]:
        return None
    at = [keys.index(n) for n in wanted]
    return Table([dataclasses.replace(table.columns[i], priority=KEEP) for i in at],
                 [[row[i] for i in at] for row in table.rows],
                 [[row[i] for i in at] for row in table.totals],
                 table.title, table.caption, list(table.footer))


def tables(series: list[Series], field: str, *, exact: bool, utc: bool, masked: bool,
           columns: list[str] | None, points: bool) -> list[Table]:
    """The tables ``history`` shows: series, totals, and each series' points if ``points``."""
    drawn: list[Table | None] = []
    if series:
        drawn.append(series_table(series, field, exact=exact, utc=utc, masked=masked))
        drawn.append(totals_table(series, exact=exact, masked=masked))
        if columns and not masked:  # --columns: these, in this order (totals: those it has)
            drawn[0] = pick(drawn[0], columns)  # type: ignore[arg-type]
            drawn[1] = drawn[1] and pick(drawn[1], columns, label="total")
    if points:
        drawn += [points_table(s, field, exact=exact, utc=utc, masked=masked) for s in series]
    return [t for t in drawn if t is not None]


# -- streams -----------------------------------------------------------------------------------


def _num(value: Decimal | None) -> str:
    from balancecli.core.exactjson import number_text

    return "null" if value is None else number_text(value)


def _point(p: Any) -> dict[str, Any] | None:
    return None if p is None else {"time": p.taken_at, "run_id": p.run_id, "value": p.value}


def series_json(s: Series) -> str:
    """One series as a compact JSON object, its points included."""
    from balancecli.core.exactjson import dumps_exact

    head = dumps_exact({
        "profile": s.profile, "broker": s.broker, "account_id": s.account_id,
        "currency": s.currency, "points": s.count, "first": _point(s.first),
        "last": _point(s.last), "change": s.change})
    # Hand-formatted: the generic encoder is the bottleneck at a million points. taken_at is
    # the store's own fixed-format text, safe to write unescaped.
    values = ", ".join(
        f'{{"time": "{p.taken_at}", "run_id": {p.run_id}, "value": {_num(p.value)}}}'
        for p in s.points)
    return head[:-1] + f', "values": [{values}]}}'


def stream_json(console: Console, points: Iterable[Any], field: str,
                head: Sequence[tuple[str, Any]]) -> int:
    """``balancecli.history/1``, one series at a time; returns how many series."""
    import sys

    from balancecli.core.clock import utc_now
    from balancecli.core.redact import REDACTOR
    from balancecli.output.jsonout import Stream

    stream = Stream(sys.stdout, "json", schema=SCHEMA, key="series", generated_at=utc_now,
                    head=[("field", field), *head], redact=REDACTOR.redact,
                    indent=console.json_indent)
    summaries: list[Series] = []
    for s in iter_groups(points):
        stream.texts([REDACTOR.redact_rendered(series_json(s))])
        s.points = []
        summaries.append(s)
    stream.close([], [("totals", series_totals(summaries))])
    return len(summaries)


def stream_points(console: Console, points: Iterable[Any], field: str, fmt: str,
                  columns: list[str] | None = None) -> int:
    """Every point as a JSONL line or a CSV row (``columns``: these, in this order)."""
    import csv
    import io
    import json

    quoted: dict[Any, str] = {}

    def q(text: Any) -> str:
        if text not in quoted:
            quoted[text] = json.dumps(text, ensure_ascii=False)
        return quoted[text]

    from balancecli.output.exports import spreadsheet_safe

    safe: dict[str, str] = {}

    def cell(text: str) -> str:  # text a spreadsheet would run, once per distinct value
        if text not in safe:
            safe[text] = spreadsheet_safe(text)
        return safe[text]

    count = 0
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    header = (*POINT_FIELDS, field)
    at = [header.index(n) for n in columns] if columns else None  # --columns
    if fmt == "csv":
        writer.writerow(header if at is None else [header[i] for i in at])
    for p in points:
        count += 1
        if fmt == "csv":
            row = (p.taken_at, p.run_id, cell(p.profile), p.broker, cell(p.account_id),
                   cell(p.currency or ""), "" if p.value is None else _num(p.value))
            writer.writerow(row if at is None else [row[i] for i in at])
        else:
            out.write(f'{{"time": "{p.taken_at}", "run_id": {p.run_id}, '
                      f'"profile": {q(p.profile)}, "broker": {q(p.broker)}, '
                      f'"account_id": {q(p.account_id)}, "currency": {q(p.currency)}, '
                      f'{q(field)}: {_num(p.value)}}}\n')
        if count % CHUNK == 0:
            console.out(out.getvalue())
            out.seek(0)
            out.truncate()
    console.out(out.getvalue())
    return count
