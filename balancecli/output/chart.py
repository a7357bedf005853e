"""Line charts of stored series on a terminal-sized grid, as plain text (``history --chart``).

``draw(series, width=, height=)`` returns text of at most ``width`` cells by ``height`` lines:
one panel per series, each with its own y-axis (two currencies never share a scale), one time
axis under them all, then each series' first, last, lowest and highest value with their times
and its change, absolute and in percent of the first value.

- y-axis: labels at round values (1, 2 or 5 times a power of ten, never finer than the
  currency's display precision), written as tables write amounts (``core.precision``) and
  never cut: the label column is as wide as its widest label. Each label sits exactly on its
  row, the rows between stand for equal steps, and a value is drawn on the row nearest to it
  (half way: the higher row). All arithmetic is Decimal.
- x-axis: time. Each column is an equal slice of time from the first to the last point of all
  series; a column draws every point that falls in it (the line spans from its lowest to its
  highest value, so no peak is lost when many points share a column) and the line holds the
  last value until the next point, as snapshots do. A missing value (None) breaks the line;
  after a series' last point nothing is drawn. Ticks sit on round local times (``tz``, else
  the process's zone): hours, days, Mondays, months or years, the finest step whose labels
  do not collide, each label whole and in time order.
- A single point is drawn as a single point (``•``).
- ``hide_amounts``: the axis and the summary show percent of the first value (100 % at the
  first point, measured from its absolute value so that a rise goes up; a first value of 0
  uses the first non-zero one) and no amount anywhere.
- ``color``: ANSI colour for the lines and the change, for a terminal; without it the text is
  plain, to be pasted or mailed.

Why the drawing is written here rather than taken from a plotting library: ``plotext`` (114 ms
to import on this machine) and ``uniplot`` (96 ms, for numpy) would spend most of the start-up
budget; all of them, ``asciichartpy`` and ``plotille`` included, scale in floats and label
axes with their own float formatting at non-round values (``4841429.42``), and none has a
Decimal axis at a currency's precision. Once the labels, ticks and scale are ours, what is
left is a few box-drawing rules: no import cost, and the same text for the same input.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_DOWN, ROUND_HALF_UP, Context, Decimal

from balancecli.core.precision import CRYPTO_PLACES, display, minor_units
from balancecli.output.table import GREEN, RED, printable, width_of

MIN_PLOT_WIDTH = 10
MIN_PANEL_ROWS = 3
POINT = "•"
COLORS = ("36", "35", "33", "34", "32")  # cyan, magenta, yellow, blue, green
TICK_GAP = 3  # blanks at least between two tick labels
_CTX = Context(prec=120, rounding=ROUND_HALF_UP, Emax=999_999, Emin=-999_999)
_HUNDRED = Decimal(100)
_CENT = Decimal("0.01")

Points = Sequence[tuple[float, Decimal | None]]


@dataclass(frozen=True)
class Series:
    """One line: its title, its currency (for the display precision) and its points in time
    order, each ``(time, value)``: stored time text or an aware datetime; None is a gap."""

    label: str
    currency: str | None
    points: Sequence[tuple[str | datetime, Decimal | None]]


class ChartError(ValueError):
    """Nothing to draw, or no room to draw it (the message says which and what it needs;
    ``lines``: the height it needs, when that is what is short)."""

    def __init__(self, message: str, *, lines: int | None = None) -> None:
        super().__init__(message)
        self.lines = lines


def draw(series: Sequence[Series], *, width: int, height: int, hide_amounts: bool = False,
         color: bool = False, tz: tzinfo | None = None) -> str:
    """The chart as text (see the module's docstring); ChartError when ``width`` or
    ``height`` is too small for it, or when no series has a value."""
    parsed = [(s, [(_stamp(t), v) for t, v in s.points]) for s in series]
    parsed = [(s, pts) for s, pts in parsed if any(v is not None for _, v in pts)]
    if not parsed:
        raise ChartError("nothing to draw: no value in the range")
    stamps = [t for _, pts in parsed for t, _ in pts]
    start, end = min(stamps), max(stamps)
    many = len(parsed) > 1
    values = [_values(pts, hide_amounts) for _, pts in parsed]
    summaries = [_summary(s.label if many else "", s.currency, pts, hide_amounts, tz, width,
                          color) for s, pts in parsed]
    fixed = sum(1 for s, _ in parsed if s.label) + 2 + sum(map(len, summaries))
    rows = (height - fixed) // len(parsed)
    if rows < MIN_PANEL_ROWS:
        needed = fixed + MIN_PANEL_ROWS * len(parsed)
        raise ChartError(f"a chart of {len(parsed)} series needs at least {needed} lines; "
                         f"{height} given", lines=needed)
    scales = [_Scale.fit(v, rows, _quantum(s.currency, hide_amounts))
              for (s, _), v in zip(parsed, values, strict=True)]
    labels = [[_label(x, s.currency, sc.step, hide_amounts) for x in sc.tick_values()]
              for (s, _), sc in zip(parsed, scales, strict=True)]
    label_width = max(width_of(text) for texts in labels for text in texts)
    plot = width - label_width - 2
    if plot < MIN_PLOT_WIDTH:
        raise ChartError(f"the chart needs at least {label_width + 2 + MIN_PLOT_WIDTH} columns "
                         f"for its axis labels; {width} given")
    out: list[str] = []
    for i, ((s, pts), scale, texts) in enumerate(zip(parsed, scales, labels, strict=True)):
        if s.label:
            out.append(printable(s.label))
        cells = _columns(pts, values[i], scale, start, end, plot)
        paint = _painter(COLORS[i % len(COLORS)]) if color else None
        out.extend(_panel(cells, scale, texts, label_width, paint))
    out.extend(_x_axis(time_ticks(start, end, plot, tz), label_width, plot))
    for lines in summaries:
        out.extend(lines)
    return "\n".join(out) + "\n"


def _stamp(moment: str | datetime) -> float:
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    if moment.tzinfo is None:
        raise ChartError(f"{moment} has no time zone")
    return moment.timestamp()


def _painter(code: str) -> Callable[[str], str]:
    return lambda text: f"\x1b[{code}m{text}\x1b[0m"


# ---------------------------------------------------------------------------------------------
# Values and the y scale


def _base(points: Points) -> Decimal | None:
    """What percentages are of: the first value, or the first non-zero one."""
    return next((v for _, v in points if v), None)


def _percent(value: Decimal, base: Decimal | None) -> Decimal:
    """``value`` in percent of ``base`` (100 at the base), measured from ``|base|``."""
    if base is None:
        return _HUNDRED
    change = _CTX.multiply(_CTX.subtract(value, base), _HUNDRED)
    return _CTX.add(_HUNDRED, _CTX.divide(change, abs(base)))


def _values(points: Points, hide: bool) -> list[Decimal | None]:
    if not hide:
        return [v for _, v in points]
    base = _base(points)
    return [None if v is None else _percent(v, base) for _, v in points]


def _quantum(currency: str | None, hide: bool) -> Decimal:
    """The finest step of an axis: the currency's display precision (0.01 for percent)."""
    if hide:
        return _CENT
    places = minor_units(currency)
    return Decimal(1).scaleb(-(CRYPTO_PLACES if places is None else places))


def _label(value: Decimal, currency: str | None, step: Decimal, hide: bool) -> str:
    if hide:
        exponent = int(step.normalize().as_tuple().exponent)
        return display(value, places=max(0, -exponent)) + "%"
    return display(value, currency)


@dataclass(frozen=True)
class _Scale:
    """``rows`` rows, row 0 at ``top``, each ``step / per_tick`` lower than the one above; a
    labelled tick every ``per_tick`` rows."""

    top: Decimal
    step: Decimal
    per_tick: int
    rows: int

    @classmethod
    def fit(cls, values: Sequence[Decimal | None], rows: int, quantum: Decimal) -> _Scale:
        """The scale of finest rows for ``values``: among round steps from the smallest that
        fits upwards, the one whose rows stand for the least (labels every other row or
        sparser win a tie)."""
        known = [v for v in values if v is not None]
        low, high = min(known), max(known)
        if low == high:  # a flat line or a single point: in the middle of a small range
            pad = max(abs(low) / 200, quantum) if low else quantum * 100
            low, high = low - pad, high + pad
        step = _nice(_CTX.divide(high - low, Decimal(rows - 1)), quantum)
        best: tuple[Decimal, int, _Scale] | None = None
        for _ in range(12):
            bottom = _CTX.multiply(_CTX.divide(low, step).to_integral_value(ROUND_FLOOR), step)
            top = _CTX.multiply(_CTX.divide(high, step).to_integral_value(ROUND_CEILING), step)
            ticks = max(1, int(_CTX.divide(top - bottom, step)))
            if ticks <= rows - 1:
                per_tick = (rows - 1) // ticks
                scale = cls(top, step, per_tick, ticks * per_tick + 1)
                unit = _CTX.divide(step, Decimal(per_tick))
                if best is None or (unit, -per_tick) < best[:2]:
                    best = (unit, -per_tick, scale)
                if ticks <= 2:
                    break
            step = _nice(step * 2, quantum)
        assert best is not None
        return best[2]

    def row(self, value: Decimal) -> int:
        """The row nearest to ``value`` (0 at the top); half way, the higher row, as the
        value rounded half up would be."""
        offset = _CTX.divide(_CTX.multiply(self.top - value, Decimal(self.per_tick)), self.step)
        return max(0, min(self.rows - 1, int(offset.to_integral_value(ROUND_HALF_DOWN))))

    def tick_values(self) -> list[Decimal]:
        return [self.top - self.step * i for i in range((self.rows - 1) // self.per_tick + 1)]


def _nice(raw: Decimal, quantum: Decimal) -> Decimal:
    """The smallest 1, 2 or 5 times a power of ten that is at least ``raw`` and ``quantum``."""
    raw = max(raw, quantum)
    power = Decimal(1).scaleb(raw.adjusted())
    return next(power * f for f in (1, 2, 5, 10) if power * f >= raw)


# ---------------------------------------------------------------------------------------------
# Drawing a panel

# A column of one series: (entry row, exit row, top row, bottom row). Entry: the row the line
# comes in at from the left (None: it starts here); exit: the row it leaves at to the right
# (None: it ends here).
Column = tuple[int | None, int | None, int, int]

# (comes in from the left, leaves to the right, goes on up, goes on down) -> glyph
_GLYPHS = {
    (False, False, True, True): "│", (True, False, True, True): "┤",
    (False, True, True, True): "├", (True, True, True, True): "┼",
    (False, False, False, True): "╷", (True, False, False, True): "╮",
    (False, True, False, True): "╭", (True, True, False, True): "┬",
    (False, False, True, False): "╵", (True, False, True, False): "╯",
    (False, True, True, False): "╰", (True, True, True, False): "┴",
}


def _columns(points: Points, values: Sequence[Decimal | None], scale: _Scale, start: float,
             end: float, width: int) -> list[Column | None]:
    """What each of ``width`` columns draws of one series. Points are reduced per column to
    their lowest, highest and last value first: rows are computed for those only."""
    span = end - start
    low: list[Decimal | None] = [None] * width
    high: list[Decimal | None] = [None] * width
    last: list[Decimal | None] = [None] * width
    seen = [False] * width
    for (t, _), v in zip(points, values, strict=True):
        col = 0 if span <= 0 else round((t - start) / span * (width - 1))
        seen[col] = True
        last[col] = v
        if v is not None:
            lo, hi = low[col], high[col]
            if lo is None or v < lo:
                low[col] = v
            if hi is None or v > hi:
                high[col] = v
    final = max(i for i in range(width) if high[i] is not None)
    out: list[Column | None] = []
    carry: int | None = None  # the row handed on by the column before
    for i in range(width):
        lo, hi = low[i], high[i]
        if i > final or (lo is None and carry is None) or (seen[i] and lo is None):
            out.append(None)  # nothing known here (after a gap's None, until a value)
            carry = None if seen[i] or i > final else carry
            continue
        if lo is None or hi is None:  # no point here: the line holds its value
            top = bottom = leave = carry
        else:
            top, bottom = scale.row(hi), scale.row(lo)
            if carry is not None:
                top, bottom = min(top, carry), max(bottom, carry)
            value = last[i]
            leave = None if value is None else scale.row(value)
        assert top is not None and bottom is not None
        out.append((carry, leave if i < final else None, top, bottom))
        carry = leave
    return out


def _glyph(column: Column, row: int) -> str | None:
    entry, leave, top, bottom = column
    if not top <= row <= bottom:
        return None
    if top == bottom:
        return POINT if entry is None and leave is None else "─"
    return _GLYPHS[(row == entry, row == leave, row > top, row < bottom)]


def _panel(columns: Sequence[Column | None], scale: _Scale, labels: Sequence[str],
           label_width: int, paint: Callable[[str], str] | None) -> list[str]:
    lines = []
    for row in range(scale.rows):
        tick = row % scale.per_tick == 0
        label = labels[row // scale.per_tick] if tick else ""
        cells = []
        for column in columns:
            glyph = None if column is None else _glyph(column, row)
            cells.append(" " if glyph is None else paint(glyph) if paint else glyph)
        line = f"{label:>{label_width}} {'┤' if tick else '│'}" + "".join(cells)
        lines.append(line.rstrip())
    return lines


# ---------------------------------------------------------------------------------------------
# The time axis

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
# (period of resample.period_bounds, every how many, about how long in seconds)
_STEPS = [("1h", n, 3600 * n) for n in (1, 2, 3, 6, 12)] + [
    ("1d", 1, 86400), ("1d", 2, 2 * 86400), ("1w", 1, 7 * 86400), ("1w", 2, 14 * 86400)] + [
    ("1mo", n, 30 * 86400 * n) for n in (1, 2, 3, 6)] + [
    ("1y", n, 365 * 86400 * n) for n in (1, 2, 5, 10, 20, 50, 100)]


@dataclass(frozen=True)
class Tick:
    column: int
    label: str


def time_ticks(start: float, end: float, width: int, tz: tzinfo | None = None) -> list[Tick]:
    """Ticks for ``width`` columns from ``start`` to ``end`` (epoch seconds): on round local
    times, the finest step with at least two labels that neither collide nor run past the
    right edge; else the first time, written in full."""
    span = end - start
    if span > 0:
        for period, every, seconds in _STEPS:
            if span / seconds > width / 4:  # more ticks than could ever be labelled
                continue
            moments = _boundaries(start, end, period, every, tz)
            ticks = _fit([Tick(round((m.timestamp() - start) / span * (width - 1)),
                               _tick_label(m, period, moments)) for m in moments], width)
            if ticks is not None and len(ticks) >= 2:
                return ticks
    first = _local(start, tz)
    label = f"{first:%Y-%m-%d %H:%M}"
    return [Tick(0, label)] if len(label) <= width else []


def _local(stamp: float, tz: tzinfo | None) -> datetime:
    moment = datetime.fromtimestamp(stamp, UTC)
    return moment.astimezone(tz) if tz is not None else moment.astimezone()


def _boundaries(start: float, end: float, period: str, every: int,
                tz: tzinfo | None) -> list[datetime]:
    """The local starts of ``period`` in [start, end], every ``every``-th by calendar."""
    from balancecli.history.resample import period_bounds

    moment = datetime.fromtimestamp(start, UTC)
    first, following = period_bounds(moment, period, tz)
    edge = first if first.timestamp() >= start else following
    out = []
    while edge.timestamp() <= end:
        local = edge.astimezone(tz) if tz is not None else edge.astimezone()
        if _counts(local, period) % every == 0:
            out.append(local)
        edge = period_bounds(edge, period, tz)[1]
    return out


def _counts(local: datetime, period: str) -> int:
    """A calendar number that ``every`` divides: hour, day number, week number, month, year."""
    if period == "1h":
        return local.hour
    if period == "1d":
        return local.toordinal()
    if period == "1w":
        return local.toordinal() // 7
    if period == "1mo":
        return local.month - 1
    return local.year


def _tick_label(local: datetime, period: str, moments: Sequence[datetime]) -> str:
    day = f"{MONTHS[local.month - 1]} {local.day}"
    if period == "1h":
        return day if (local.hour, local.minute) == (0, 0) else f"{local:%H:%M}"
    if period in ("1d", "1w"):
        return f"{local:%Y-%m-%d}" if moments[0].year != moments[-1].year else day
    if period == "1mo":
        first = local is moments[0]
        return f"{MONTHS[local.month - 1]}" + (f" {local.year}" if first or local.month == 1
                                               else "")
    return str(local.year)


def _fit(ticks: list[Tick], width: int) -> list[Tick] | None:
    """The ticks whose labels fit (those running past the right edge dropped), or None when
    two labels would collide."""
    kept: list[Tick] = []
    for tick in ticks:
        if tick.column + len(tick.label) > width:
            break
        if kept and kept[-1].column + len(kept[-1].label) + TICK_GAP > tick.column:
            return None
        kept.append(tick)
    return kept


def _x_axis(ticks: Sequence[Tick], label_width: int, width: int) -> list[str]:
    rule = ["─"] * width
    text = [" "] * width
    for tick in ticks:
        rule[tick.column] = "┬"
        text[tick.column:tick.column + len(tick.label)] = tick.label
    pad = " " * (label_width + 1)
    return [pad + "└" + "".join(rule), (pad + " " + "".join(text)).rstrip()]


# ---------------------------------------------------------------------------------------------
# The summary under the chart


def _when(stamp: float, tz: tzinfo | None) -> str:
    return f"{_local(stamp, tz):%Y-%m-%d %H:%M}"


def _signed(text: str, value: Decimal) -> str:
    return ("+" + text) if value > 0 else text


def _summary(label: str, currency: str | None, points: Points, hide: bool,
             tz: tzinfo | None, width: int, color: bool) -> list[str]:
    """First, last, min, max (with their times) and the change, wrapped to ``width``."""
    known: list[tuple[float, Decimal]] = [(t, v) for t, v in points if v is not None]
    first, last = known[0], known[-1]
    low = min(known, key=lambda p: p[1])
    high = max(known, key=lambda p: p[1])
    base = _base(points)
    change = _CTX.subtract(last[1], first[1])
    pct_text = None
    if first[1]:
        pct = _CTX.divide(_CTX.multiply(change, _HUNDRED), abs(first[1]))
        pct_text = _signed(f"{display(pct, places=2)}%", pct)
        if pct < 0 and not pct_text.startswith("-"):
            pct_text = "-" + pct_text  # a fall too small for 0.01 % is still a fall
    if len(known) == 1:
        items = [f"One value{'' if hide else ' ' + display(first[1], currency)}"
                 f" ({_when(first[0], tz)})"]
        return _wrap([printable(label) + ":", *items] if label else items, width)
    if hide:
        items = [f"First {_when(first[0], tz)}", f"Last {_when(last[0], tz)}"] + [
            f"{name} {display(_percent(v, base).quantize(_CENT), places=2)}% ({_when(t, tz)})"
            for name, (t, v) in (("Min", low), ("Max", high))]
        change_item = f"Change {pct_text or '—'}"
    else:
        items = [f"{name} {display(v, currency)} ({_when(t, tz)})"
                 for name, (t, v) in (("First", first), ("Last", last), ("Min", low),
                                      ("Max", high))]
        change_item = (f"Change {_signed(display(change, currency), change)}"
                       f"{' ' + currency if currency else ''}"
                       + (f" ({pct_text})" if pct_text else ""))
    if color and change:
        change_item = _painter(GREEN if change > 0 else RED)(change_item)
    items.append(change_item)
    if label:
        items.insert(0, printable(label) + ":")
    return _wrap(items, width)


def _wrap(items: Sequence[str], width: int) -> list[str]:
    """Items joined by two spaces, a new line where the next would pass ``width`` (an item
    is never cut)."""
    lines: list[str] = []
    line = ""
    used = 0
    for item in items:
        size = _visible(item)
        if line and used + 2 + size > width:
            lines.append(line)
            line, used = "", 0
        line, used = (line + "  " + item, used + 2 + size) if line else (item, size)
    lines.append(line)
    return lines


def _visible(text: str) -> int:
    if "\x1b" in text:
        import re

        text = re.sub(r"\x1b\[[0-9;]*m", "", text)
    return width_of(text)

