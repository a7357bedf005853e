"""How the history store writes times, durations and amounts, and the small exact helpers that
the ``history`` command uses to read them back (no SQLite here).

Times are UTC text with microseconds, fixed width (``2026-11-21T19:00:00.123456Z``), so text
order is time order. Amounts are the exact ``str(Decimal)`` text; ``extra`` is JSON in which
every Decimal keeps its exact digits (an integral Decimal gets an ``E0`` exponent so that it
reads back as the same Decimal, not an int).
"""

from __future__ import annotations

import calendar
import decimal
import json
import re
import time as _time
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta, tzinfo
from decimal import Decimal
from typing import Any, NamedTuple


def format_time(when: datetime) -> str:
    """The stored form: UTC, microseconds, ``Z`` (naive datetimes are taken as UTC)."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def short_time(stored: str) -> str:
    """``2026-11-21T19:00:00.123456Z`` -> ``2026-11-21T19:00:00Z`` for tables."""
    return stored[:19] + "Z" if len(stored) > 19 else stored


_SPAN = re.compile(r"^\s*(\d+)\s*([a-z]+)\s*$", re.IGNORECASE)
_FIXED = {"s": "seconds", "min": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_MONTHS = {"mo": 1, "y": 12}
UNITS_HELP = "s, min, h, d, w, mo (months) or y, e.g. 12h, 30d, 6mo, 1y"


class Span(NamedTuple):
    """A length of time back from a moment: calendar months (``mo``, ``y``) or a fixed
    timedelta (``s``, ``min``, ``h``, ``d``, ``w``). ``text`` is what the user typed."""

    months: int
    delta: timedelta
    text: str

    def before(self, when: datetime) -> datetime:
        """``when`` minus this span; a month back from 31 March is the last day of February.
        ValueError when that is before the calendar starts (year 1)."""
        try:
            if self.months:
                index = when.year * 12 + when.month - 1 - self.months
                year, month = divmod(index, 12)
                if year < 1:
                    raise OverflowError
                day = min(when.day, calendar.monthrange(year, month + 1)[1])
                when = when.replace(year=year, month=month + 1, day=day)
            return when - self.delta
        except OverflowError:
            raise ValueError(f"{self.text!r} reaches back before the year 1") from None


def parse_duration(text: str) -> Span:
    """``90s``, ``15min``, ``12h``, ``30d``, ``2w``, ``6mo``, ``1y`` -> Span. ValueError
    otherwise, also for a bare ``m``: minutes to some tools, months to others (restic)."""
    match = _SPAN.match(text)
    unit = match.group(2).lower() if match else ""
    if unit == "m":
        number = match.group(1) if match else "N"
        raise ValueError(f"{text!r} is ambiguous: write {number}min for minutes or "
                         f"{number}mo for months")
    if not match or unit not in (*_FIXED, *_MONTHS):
        raise ValueError(f"{text!r} is not a duration (units: {UNITS_HELP})")
    digits = match.group(1)
    if unit in _MONTHS:
        if len(digits) > 6:
            raise ValueError(f"{text!r} reaches back before the year 1")
        return Span(int(digits) * _MONTHS[unit], timedelta(0), text.strip())
    try:
        if len(digits) > 12:
            raise OverflowError
        return Span(0, timedelta(**{_FIXED[unit]: int(digits)}), text.strip())
    except OverflowError:
        raise ValueError(f"{text!r} reaches back before the year 1") from None


def midnight(day: date, tz: tzinfo | None = None) -> datetime:
    """The first instant of a date in ``tz`` (None: the process's local zone, ``TZ``
    included), as an aware UTC datetime. With a ``zoneinfo`` zone, midnight in a gap (clocks
    jump at 00:00) resolves to the jump itself; for the local zone the C library's ``mktime``
    answers, as ``astimezone()`` does."""
    if tz is not None:
        return datetime(day.year, day.month, day.day, tzinfo=tz).astimezone(UTC)
    stamp = _time.mktime((day.year, day.month, day.day, 0, 0, 0, 0, 0, -1))
    return datetime.fromtimestamp(stamp, UTC)


def parse_when(text: str, *, end_of_day: bool = False, now: datetime | None = None,
               tz: tzinfo | None = UTC) -> datetime:
    """A point in time (aware, UTC) from ``30d`` (that long ago), ``now``, a date or ISO 8601.

    A date alone is 00:00 of that day in ``tz`` (None: the local zone), or with
    ``end_of_day`` the last microsecond before the next day starts (so ``--until 2026-11-30``
    includes that day, 23 or 25 hours long when clocks change). An ISO time without an offset
    is in ``tz`` too; one with an offset or ``Z`` is what it says.
    """
    text = text.strip()
    now = now or datetime.now(UTC)
    if text == "now":
        return now
    if _SPAN.match(text):
        return parse_duration(text).before(now)
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            try:
                day = date.fromisoformat(text)
            except ValueError:
                raise ValueError(f"{text!r} is not a valid date") from None
            if not end_of_day:
                return midnight(day, tz)
            return midnight(day + timedelta(days=1), tz) - timedelta(microseconds=1)
        try:
            when = datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(
                f"{text!r} is not a time (use e.g. 30d, 2026-11-01 or 2026-11-01T12:00:00Z)"
            ) from None
        if when.tzinfo is None:
            when = when.replace(tzinfo=tz) if tz is not None else when.astimezone()
        return when.astimezone(UTC)
    except OverflowError:
        raise ValueError(f"{text!r} is outside the calendar (years 1 to 9999)") from None


_EXACT = decimal.Context(prec=decimal.MAX_PREC, traps=[decimal.InvalidOperation])


def exact_sum(values: Iterable[Decimal]) -> Decimal:
    """The exact sum (the default context would round to 28 digits)."""
    total = Decimal(0)
    for value in values:
        total = _EXACT.add(total, value)
    return total


def exact_diff(last: Decimal, first: Decimal) -> Decimal:
    return _EXACT.subtract(last, first)


_BARS = "▁▂▃▄▅▆▇█"


def sparkline(values: Sequence[Decimal | None], width: int = 24) -> str:
    """A one-line chart; a missing value is a blank. Longer series keep each bucket's last
    value, so the last character is always the last point."""
    if not values:
        return ""
    if len(values) > width:
        size = len(values) / width
        values = [values[min(len(values) - 1, int((i + 1) * size) - 1)] for i in range(width)]
    known = [v for v in values if v is not None]
    if not known:
        return " " * len(values)
    low, high = min(known), max(known)
    span = high - low
    out = []
    for value in values:
        if value is None:
            out.append(" ")
        elif span == 0:
            out.append(_BARS[len(_BARS) // 2 - 1])
        else:
            index = int((value - low) / span * (len(_BARS) - 1))
            out.append(_BARS[max(0, min(len(_BARS) - 1, index))])
    return "".join(out)


# ---------------------------------------------------------------------------------------------
# Exact JSON for `extra`


def _decimal_json(value: Decimal) -> str:
    if not value.is_finite():
        raise ValueError(f"cannot store {value} in extra")
    text = str(value)
    # "5" would read back as the int 5; "5E0" reads back (parse_float=Decimal) as Decimal("5").
    return text if ("." in text or "E" in text) else text + "E0"


def dumps_extra(obj: Any) -> str:
    """JSON with every Decimal written with its exact digits (``loads_extra`` reverses it)."""
    from balancecli.core.exactjson import dumps_exact

    return dumps_exact(obj, number=_decimal_json)


def loads_extra(text: str | None) -> Any:
    if text is None:
        return {}
    return json.loads(text, parse_float=Decimal)


def money_text(value: Decimal | None) -> str | None:
    if value is None:
        return None
    if not isinstance(value, Decimal):  # an int from a broker that did not use to_decimal
        value = Decimal(value)
    return str(value)


def decimal_or_none(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)

