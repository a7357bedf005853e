"""Rows -> Rich table / JSON / JSONL / CSV. Pure functions of the rows; nothing else.

JSON numbers carry the exact digits the broker sent (``Decimal`` is written as its text), so
``19638.14545186560000000000`` stays so and ``jq 'select(.equity > 1000)'`` still works.
"""

from __future__ import annotations

import csv
import decimal
import io
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import fields
from decimal import Decimal
from typing import Any

from balancecli.errors import BalanceCliError
from balancecli.models import Account, Asset, Balance, row_dict

SCHEMAS = {
    "accounts": ("balancecli.accounts/1", "accounts", Account),
    "balance": ("balancecli.balance/1", "balances", Balance),
    "assets": ("balancecli.assets/1", "assets", Asset),
}
TOTAL_FIELDS = ("cash", "equity", "buying_power")
# Sums of 28-digit broker values must not be rounded by the default 28-digit context.
EXACT = decimal.Context(prec=200)


def number_text(value: Decimal) -> str:
    """A Decimal as a JSON number with its exact digits (no exponent for ordinary values)."""
    if value.as_tuple().exponent <= 0:  # type: ignore[operator]
        return format(value, "f")
    return str(value)  # e.g. 1E+3 as the broker wrote it: still a valid JSON number


def dumps_exact(value: Any, number: Callable[[Decimal], str] | None = None) -> str:
    """JSON text for dicts/lists/str/int/bool/None/Decimal, Decimals digit for digit.

    ``number`` writes a finite Decimal (default ``number_text``); the history store passes its
    own so that ``Decimal("5")`` reads back as a Decimal, not an int.
    """
    if value is None or isinstance(value, (bool, str, int)):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, Decimal):
        if number is not None:
            return number(value)
        return number_text(value) if value.is_finite() else "null"
    if isinstance(value, float):
        return json.dumps(value) if value == value and abs(value) != float("inf") else "null"
    if isinstance(value, dict):
        return "{" + ", ".join(
            f"{json.dumps(str(k), ensure_ascii=False)}: {dumps_exact(v, number)}"
            for k, v in value.items()
        ) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(dumps_exact(v, number) for v in value) + "]"
    return json.dumps(str(value), ensure_ascii=False)


def totals(rows: Iterable[Balance]) -> list[dict[str, Any]]:
    """Per currency: how many accounts, sums of the non-null values, and whether any was null."""
    groups: dict[str | None, dict[str, Any]] = {}
    for row in rows:
        group = groups.setdefault(row.currency, {
            "currency": row.currency, "accounts": set(),
            **{f: None for f in TOTAL_FIELDS}, "incomplete": False,
        })
        group["accounts"].add((row.profile, row.account_id))
        for name in TOTAL_FIELDS:
            value = getattr(row, name)
            if value is None:
                group["incomplete"] = True
            else:
                current = group[name]
                group[name] = value if current is None else EXACT.add(current, value)
    result = []
    for group in groups.values():
        group["accounts"] = len(group["accounts"])
        result.append(group)
    return result


def to_json(command: str, rows: Sequence[Any], errors: Sequence[BalanceCliError],
            generated_at: str, *, converted: dict[str, Any] | None = None) -> str:
    schema, key, _ = SCHEMAS[command]
    doc: dict[str, Any] = {"schema": schema, "generated_at": generated_at,
                           key: [row_dict(r) for r in rows]}
    if command == "balance":
        doc["totals"] = totals(rows)
    if converted is not None:  # --in CUR (DESIGN.md §11)
        doc["converted"] = converted
    doc["errors"] = [e.as_dict() for e in errors]
    return dumps_exact(doc) + "\n"


def to_jsonl(rows: Sequence[Any]) -> str:
    return "".join(dumps_exact(row_dict(r)) + "\n" for r in rows)


def to_csv(command: str, rows: Sequence[Any]) -> str:
    model = SCHEMAS[command][2]
    names = [f.name for f in fields(model) if f.name != "extra"]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(names)
    for row in rows:
        writer.writerow(
            "" if (v := getattr(row, n)) is None else number_text(v) if isinstance(v, Decimal)
            else v
            for n in names
        )
    return out.getvalue()


# -- tables

def display_number(value: Decimal) -> str:
    """Thousands separators, at least two decimals, every significant digit kept."""
    if value == 0:
        value = abs(value)  # no "-0.00"
    text = format(value, "f")
    sign = "-" if text.startswith("-") else ""
    text = text.lstrip("-")
    whole, _, frac = text.partition(".")
    frac = frac.rstrip("0")
    frac = frac + "0" * (2 - len(frac)) if len(frac) < 2 else frac
    return f"{sign}{int(whole):,}.{frac}"


NULL = "—"

TABLE_COLUMNS = {
    "accounts": [("profile", "Profile"), ("broker", "Broker"), ("account_id", "Account"),
                 ("name", "Name"), ("type", "Type"), ("currency", "Ccy"), ("status", "Status")],
    "balance": [("profile", "Profile"), ("account_id", "Account"), ("account_name", "Name"),
                ("currency", "Ccy"), ("cash", "Cash"), ("available", "Available"),
                ("withdrawable", "Withdrawable"), ("buying_power", "Buying power"),
                ("equity", "Equity"), ("market_value", "Market value"),
                ("initial_margin", "Init. margin"), ("maintenance_margin", "Maint. margin"),
                ("unrealized_pnl", "Unrealized P/L"), ("realized_pnl", "Realized P/L")],
    "assets": [("profile", "Profile"), ("account_id", "Account"), ("asset", "Asset"),
               ("total", "Total"), ("available", "Available"), ("reserved", "Reserved"),
               ("settling", "Settling"), ("withdrawable", "Withdrawable"),
               ("value_in_account_currency", "Value (acct ccy)"), ("value_usd", "Value USD"),
               ("value_btc", "Value BTC"), ("conversion_rate", "Rate")],
}
ALWAYS = {"profile", "account_id", "asset", "currency", "broker", "name"}


def _cell(value: Any, color: bool) -> Any:
    from rich.text import Text

    if value is None:
        return Text(NULL, style="dim" if color else "")
    if isinstance(value, Decimal):
        text = display_number(value)
        return Text(text, style="red" if color and text.startswith("-") else "")
    return Text(str(value))


def table(command: str, rows: Sequence[Any], *, color: bool) -> Any:
    """A Rich table. Columns that are null for every row are left out; balances get a total
    row per currency that several accounts share (``*``: some account did not report it)."""
    from rich import box
    from rich.table import Table

    columns = [
        (name, title) for name, title in TABLE_COLUMNS[command]
        if name in ALWAYS or any(getattr(r, name) is not None for r in rows)
    ]
    t = Table(box=box.SIMPLE_HEAD, header_style="bold" if color else "", pad_edge=False,
              show_edge=False)
    for name, title in columns:
        numeric = name not in ALWAYS and name not in ("type", "status", "account_name")
        t.add_column(title, justify="right" if numeric else "left", no_wrap=True)
    for row in rows:
        t.add_row(*(_cell(getattr(row, name), color) for name, _ in columns))
    if command == "balance":
        shared = [g for g in totals(rows)
                  if g["accounts"] > 1 and any(g[f] is not None for f in TOTAL_FIELDS)]
        if shared:
            t.add_section()
        for group in shared:
            cells: list[Any] = []
            for name, _ in columns:
                if name == "profile":
                    cells.append(_bold(f"Total ({group['accounts']} accounts)", color))
                elif name == "currency":
                    cells.append(_bold(group["currency"] or NULL, color))
                elif name in TOTAL_FIELDS:
                    value = group[name]
                    cell = _cell(value, color)
                    if value is not None and any(getattr(r, name) is None for r in rows
                                                 if r.currency == group["currency"]):
                        cell.append("*")
                    if color:
                        cell.stylize("bold")
                    cells.append(cell)
                else:
                    cells.append("")
            t.add_row(*cells)
        if any(g["incomplete"] for g in shared):
            t.caption = "* some accounts did not report this value"
    return t


def _bold(text: str, color: bool) -> Any:
    from rich.text import Text

    return Text(text, style="bold" if color else "")
