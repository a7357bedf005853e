"""The table side of ``--in CUR``: a ``Value (CUR)`` column next to Equity (balance) or at the
end (assets), and a footer: the total and each rate used with its source and date.

Kept apart from ``render.py`` on purpose: it adds one column to the table ``render.table``
builds (``balancecli.table.Table.add_column`` and its ``footer``), so the renderer can change
without touching the valuation.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal
from typing import Any


def money(value: Decimal, currency: str) -> str:
    """An amount at the currency's display precision (rounded half up; balancecli.precision)."""
    from balancecli.core.precision import display

    return display(value, currency)


def rate_text(value: Decimal) -> str:
    """A rate to 6 significant digits (the exact one is in ``-f json``)."""
    if value == 0:
        return "0"
    rounded = value.quantize(Decimal(1).scaleb(value.adjusted() - 5), ROUND_HALF_UP)
    return format(rounded.normalize(), "f")


def rate_line(rate: Any) -> str:
    label = rate.how
    if rate.day:
        label += f" {rate.day.isoformat()}"
    if rate.stale:
        label += ", old"
    if rate.base == rate.quote:  # the broker's own values in that currency (Quantower)
        return f"{rate.quote} values ({label})"
    return f"{rate.base}→{rate.quote} {rate_text(rate.value)} ({label})"


def footer(converted: Any, used: Sequence[Any]) -> list[str]:
    ccy = converted.currency
    total = converted.total
    accounts = len(converted.accounts)
    line = f"Total in {ccy}: " + (money(total, ccy) if total is not None else "—")
    line += f" ({accounts} account{'s' if accounts != 1 else ''}"
    if converted.unconverted:
        n = len(converted.unconverted)
        line += f"; incomplete: {n} not converted, named on stderr"
    elif converted.failed:
        line += "; incomplete: some accounts failed to fetch"
    line += ")"
    lines = [line]
    if used:
        lines.append("Rates: " + "; ".join(rate_line(r) for r in used))
    return lines


def print_table(rt: Any, command: str, rows: Sequence[Any], cells: Sequence[Decimal | None],
                converted: Any, used: Sequence[Any]) -> None:
    from balancecli.output import render

    ccy = converted.currency
    texts = [None if v is None else money(v, ccy) for v in cells]
    table = render.table(command, rows, exact=getattr(rt, "exact", False),
                         columns=getattr(rt, "columns", None))
    lines = footer(converted, used)
    if add_column(table, f"Value ({ccy})", texts, after="equity" if command == "balance" else None):
        table.footer.extend(lines)
        rt.print_table(table)
        return
    rt.print_table(table)
    rt.out("\n".join(lines) + "\n")


def add_column(table: Any, title: str, texts: Sequence[str | None], *,
               after: str | None) -> bool:
    """Add the value column; True when ``table`` prints its own footer lines."""
    try:
        from balancecli.output.table import Column, Table  # type: ignore[import-not-found]
    except ImportError:
        Table = None  # noqa: N806 (the class, when it exists)
    if Table is not None and isinstance(table, Table):
        keys = [c.key for c in table.columns]
        index = keys.index(after) + 1 if after in keys else None
        table.add_column(Column("value", title, numeric=True), list(texts), index=index)
        return True
    from rich.table import Column as RichColumn
    from rich.text import Text

    null = "—"
    body = [Text(null, style="dim") if t is None else Text(t) for t in texts]
    body += [Text("")] * (table.row_count - len(body))  # the per-currency total rows
    keys = [str(c.header) for c in table.columns]
    index = keys.index("Equity") + 1 if after == "equity" and "Equity" in keys else len(keys)
    table.columns.insert(index, RichColumn(header=title, justify="right", no_wrap=True,
                                           _cells=body))
    for number, column in enumerate(table.columns):
        column._index = number  # Rich pads the first and last columns by their index
    return False
