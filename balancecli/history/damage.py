"""Stored values that cannot be read back: found while reading, left out, named once.

The store is a file that other programs, a failing disk or a hand edit can change. A row whose
amount is not a number, whose ``extra`` is not a JSON object or whose time is not a time must
not end ``history``: the readers (``query``, ``valued``) leave that row (with ``--in``, that
run) out and note it here, the command shows everything else and then names each damaged
column with its runs in one line, exit 3 (``Damage.errors``).

The checks cost little on the common path: an amount is parsed as it always was (and checked
for bounds only when its text could be out of them), each distinct time is checked once.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from balancecli.core.errors import ConfigError
from balancecli.core.numbers import DOUBLE_EXPONENT, MAX_DIGITS, out_of_bounds, printable_short

TIME_LENGTH = len("2026-11-21T19:00:00.123456Z")  # format_time's fixed width
SHOWN_RUNS = 5  # run ids named in a line; more are counted


class Damaged(ValueError):
    """One stored value that cannot be read: its ``column`` (``balances.equity``), what it
    holds, and what is wrong with it."""

    def __init__(self, column: str, text: Any, problem: str) -> None:
        shown = text if isinstance(text, str) else repr(text)
        super().__init__(f"{column} is {printable_short(shown[:40])!r}, {problem}")
        self.column, self.problem = column, problem
        self.text = shown


def amount(text: Any, column: str) -> Decimal | None:
    """A stored amount (``str(Decimal)``) or None; anything else raises Damaged."""
    if text is None:
        return None
    try:
        if not isinstance(text, str):
            raise TypeError
        value = Decimal(text)
    except (InvalidOperation, TypeError, ValueError):
        raise Damaged(column, text, "not a number") from None
    if not value.is_finite():
        raise Damaged(column, text, "not a finite number")
    # What could be out of bounds is long or has an exponent; short plain text cannot be.
    if (len(text) > MAX_DIGITS + 2 or "E" in text or "e" in text) and \
            out_of_bounds(value, DOUBLE_EXPONENT):
        raise Damaged(column, text, "a number too large to be an amount")
    return value


def time_text(text: Any, column: str) -> str:
    """A stored time (``format_time``'s fixed-width UTC text), as it is; else Damaged."""
    if not isinstance(text, str) or len(text) != TIME_LENGTH or text[-1] != "Z":
        raise Damaged(column, text, "not a stored time (like 2026-11-21T19:00:00.123456Z)")
    try:
        datetime.fromisoformat(text)
    except ValueError:
        raise Damaged(column, text, "not a valid time") from None
    return text


def day(text: Any, column: str) -> date | None:
    """A stored date (``2026-11-21``) or None; else Damaged."""
    if text is None or text == "":
        return None
    try:
        return date.fromisoformat(text)
    except (TypeError, ValueError):
        raise Damaged(column, text, "not a date") from None


def json_value(text: Any, column: str, kind: type = dict) -> Any:
    """Stored JSON whose numbers read back as exact Decimals (``dumps_extra``), of ``kind``."""
    from balancecli.core.errors import BadResponseError
    from balancecli.core.jsonread import loads

    if not isinstance(text, str):
        raise Damaged(column, text, "not JSON text")
    try:
        value = loads(text, max_exponent=DOUBLE_EXPONENT)  # bounded, NaN refused
    except BadResponseError:
        raise Damaged(column, text, "not valid JSON") from None
    if not isinstance(value, kind):
        raise Damaged(column, text, f"not a JSON {'object' if kind is dict else 'list'}")
    return value


class Times:
    """Stored times already checked: each distinct one (a run's) is parsed once."""

    def __init__(self) -> None:
        self._ok: set[str] = set()

    def check(self, text: Any, column: str) -> str:
        if text not in self._ok:
            self._ok.add(time_text(text, column))
        return str(text)


class Damage:
    """What the reads of one open store left out: per column and problem, the runs."""

    def __init__(self) -> None:
        self._found: dict[tuple[str, str], tuple[str, list[int | None]]] = {}

    def __bool__(self) -> bool:
        return bool(self._found)

    def note(self, run_id: int | None, damaged: Damaged) -> None:
        text, runs = self._found.setdefault((damaged.column, damaged.problem),
                                            (str(damaged), []))
        if run_id not in runs:
            runs.append(run_id)

    def errors(self, path: Path) -> list[ConfigError]:
        """One error per damaged column and problem, naming its runs (exit 3)."""
        return [ConfigError(f"the history database is damaged in {_runs(runs)}: {text}"
                            f"{' (the first)' if len(runs) > 1 else ''}; left out, the rest is"
                            " shown", next_step=f"restore {path} from a backup to see it again")
                for text, runs in self._found.values()]


def _runs(runs: Sequence[int | None]) -> str:
    ids = sorted(r for r in runs if r is not None)
    if not ids or len(ids) < len(runs):
        return "a run" if not ids else f"{_runs(ids)} and a run without an id"
    if len(ids) == 1:
        return f"run {ids[0]}"
    if len(ids) <= SHOWN_RUNS:
        return f"runs {', '.join(map(str, ids[:-1]))} and {ids[-1]}"
    return f"runs {', '.join(map(str, ids[:SHOWN_RUNS]))} and {len(ids) - SHOWN_RUNS} more"
