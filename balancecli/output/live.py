"""``--watch``'s screen: the command's own tables redrawn in place, what changed marked.

A frame is a header line, the tables exactly as the command draws them without ``--watch``
(``output.table``: fitted to the terminal, never a number cut, the same "columns hidden"
note, here inside the frame), a line saying how many values changed, and the errors of that
refresh (a line on stderr would scroll the frame away). Each cell whose text changed since the
previous refresh is shown in reverse video, with ▲ or ▼ before a number.

``Screen`` redraws in place as ``watch(1)`` does: the cursor hidden, the previous frame's lines
erased and the new ones written; ``stop`` leaves the last frame on screen and shows the cursor.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from balancecli.output.table import Table

# The columns that say which row a cell is in (the rest are compared between refreshes).
KEY_FIELDS = frozenset({"profile", "broker", "account_id", "currency", "asset", "total"})
HIDE_CURSOR, SHOW_CURSOR, ERASE_LINE, UP = "\x1b[?25l", "\x1b[?25h", "\x1b[2K", "\x1b[1A"
_SGR = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")

Cells = dict[tuple[int, tuple[str, ...], str], str]


def _text(cell: object) -> str:
    if cell is None:
        return "—"
    return cell[0] if isinstance(cell, tuple) else str(cell)


def cells(tables: Sequence[Table]) -> Cells:
    """``{(table, row key, column key): text}``: the row key is the text of the row's
    identifying columns (profile, account, currency or asset; a total row's label)."""
    found: Cells = {}
    for t, table in enumerate(tables):
        keys = [i for i, c in enumerate(table.columns) if c.key in KEY_FIELDS]
        for row in [*table.rows, *table.totals]:
            ident = tuple(_text(row[i]) for i in keys)
            for i, col in enumerate(table.columns):
                if i not in keys:
                    found[(t, ident, col.key)] = _text(row[i])
    return found


def _number(text: str) -> Decimal | None:
    try:
        return Decimal(text.replace(",", "").rstrip("*%").strip())
    except (InvalidOperation, ValueError):
        return None


def mark_changes(tables: Sequence[Table], previous: Cells) -> int:
    """Mark the cells of ``tables`` whose text differs from ``previous`` (reverse video, an
    arrow before a number that went up or down); return how many."""
    count = 0
    for t, table in enumerate(tables):
        keys = [i for i, c in enumerate(table.columns) if c.key in KEY_FIELDS]
        for r, row in enumerate([*table.rows, *table.totals]):
            ident = tuple(_text(row[i]) for i in keys)
            for i, col in enumerate(table.columns):
                key = (t, ident, col.key)
                if i in keys or key not in previous or previous[key] == _text(row[i]):
                    continue
                old, new = _number(previous[key]), _number(_text(row[i]))
                if old is not None and new is not None and old != new:
                    arrow = "▲ " if new > old else "▼ "
                    cell = row[i]
                    row[i] = (arrow + cell[0], cell[1]) if isinstance(cell, tuple) \
                        else arrow + _text(cell)
                table.marks.add((r, i))
                count += 1
    return count


def physical_lines(text: str, columns: int) -> int:
    """How many terminal rows ``text`` takes at ``columns`` (long lines wrap)."""
    from balancecli.output.table import width_of

    total = 0
    for line in text.split("\n"):
        width = width_of(_SGR.sub("", line))
        total += max(1, -(-width // max(columns, 1)))
    return total


class Screen:
    """A frame redrawn in place on the terminal of stdout."""

    def __init__(self) -> None:
        self.drawn = 0  # terminal rows of the frame on screen

    def show(self, frame: str) -> None:
        import shutil

        size = shutil.get_terminal_size((80, 24))
        lines = frame.rstrip("\n").split("\n")
        if len(lines) > size.lines - 1 > 1:  # taller than the terminal: what fits, and why
            more = len(lines) - (size.lines - 2)
            lines = lines[:size.lines - 2] + [f"… {more} more lines (a taller terminal shows "
                                              "them)"]
        text = "\n".join(lines)
        erase = ("\r" + ERASE_LINE + (UP + ERASE_LINE) * (self.drawn - 1)) if self.drawn \
            else HIDE_CURSOR
        sys.stdout.write(erase + text)
        sys.stdout.flush()
        self.drawn = physical_lines(text, size.columns)

    def stop(self) -> None:
        """Leave the last frame on screen, the cursor shown on the line after it."""
        sys.stdout.write("\n" + SHOW_CURSOR)
        sys.stdout.flush()
