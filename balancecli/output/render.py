"""Rows -> table / JSON / JSONL / CSV. Pure functions of the rows; nothing else.

JSON numbers carry the exact digits the broker sent (``Decimal`` is written as its text), so
``19638.14545186560000000000`` stays so and ``jq '.balances[] | select(.equity > 1000)'`` works.
Tables round for display only (``balancecli.precision``); totals are summed exactly first.

Every string value passes the secret mask before it is encoded: a secret a broker echoes back
is masked whatever the format's quoting does to it (``"`` becomes ``\\"`` in JSON and ``""`` in
CSV, which a mask over the encoded text would miss).
"""

from __future__ import annotations

import csv
import decimal
import io
from collections.abc import Callable, Iterable, Sequence
from dataclasses import fields
from decimal import Decimal
from operator import attrgetter
from typing import Any

from balancecli.core.errors import BalanceCliError
from balancecli.core.exactjson import dumps_exact, number_text
from balancecli.core.models import Account, Asset, Balance
from balancecli.output.exports import spreadsheet_safe
from balancecli.output.table import KEEP, NULL, Column, Table

SCHEMAS = {
    "accounts": ("balancecli.accounts/1", "accounts", Account),
    "balance": ("balancecli.balance/1", "balances", Balance),
    "assets": ("balancecli.assets/1", "assets", Asset),
}
TOTAL_FIELDS = ("cash", "equity", "buying_power")
# Sums are exact: wide enough for any value a table can show (precision.MAX_DIGITS), and
# bounded so that 1E+999999999 + 1E-999999999 cannot allocate a billion digits.
EXACT = decimal.Context(prec=250_000, Emax=999_999_999_999_999_999,
                        Emin=-999_999_999_999_999_999)

__all__ = ["NULL", "EXACT", "SCHEMAS", "TOTAL_FIELDS", "dumps_exact", "number_text", "totals",
           "to_json", "to_jsonl", "to_csv", "table", "column_names", "mask"]


# -- masking and JSON

def mask(value: Any) -> Any:
    """``value`` with every registered secret masked in its strings (dicts and lists walked)."""
    from balancecli.core.redact import REDACTOR

    cache: dict[str, str] = {}

    def walk(v: Any) -> Any:
        if isinstance(v, str):
            if v not in cache:
                cache[v] = REDACTOR.redact(v)
            return cache[v]
        if isinstance(v, dict):
            return {walk(k) if isinstance(k, str) else k: walk(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [walk(x) for x in v]
        return v

    return walk(value)


def _redactor() -> Callable[[str], str]:
    from balancecli.core.redact import REDACTOR

    return REDACTOR.redact


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


def _row_dicts(rows: Sequence[Any]) -> list[dict[str, Any]]:
    """``models.row_dict`` of each row, with the field list looked up once per model."""
    out: list[dict[str, Any]] = []
    getters: dict[type, tuple[list[str], Callable[[Any], tuple[Any, ...]]]] = {}
    for row in rows:
        kind = type(row)
        if kind not in getters:
            names = [f.name for f in fields(row)]
            getters[kind] = (names, attrgetter(*names))
        names, get = getters[kind]
        out.append(dict(zip(names, get(row), strict=True)))
    return out


def to_json(command: str, rows: Sequence[Any], errors: Sequence[BalanceCliError],
            generated_at: str, *, converted: dict[str, Any] | None = None,
            indent: int | None = None, skipped: Sequence[Any] = ()) -> str:
    schema, key, _ = SCHEMAS[command]
    doc: dict[str, Any] = {"schema": schema, "generated_at": generated_at,
                           key: _row_dicts(rows)}
    if command == "balance":
        doc["totals"] = totals(rows)
    if converted is not None:  # --in CUR
        doc["converted"] = converted
    if skipped:  # accounts the broker serves no balances for (brokers.base.Skipped)
        doc["skipped"] = [s.as_dict() for s in skipped]
    doc["errors"] = [e.as_dict() for e in errors]
    return dumps_exact(doc, indent=indent, redact=_redactor()) + "\n"


def to_jsonl(rows: Sequence[Any]) -> str:
    redact = _redactor()
    return "".join(dumps_exact(r, redact=redact) + "\n" for r in _row_dicts(rows))


def csv_value(value: Any) -> Any:
    """A CSV cell: exact digits for amounts, ``true``/``false`` like JSON, empty for null,
    text a spreadsheet would run as a formula as text (``exports.spreadsheet_safe``)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return number_text(value)
    return spreadsheet_safe(value) if isinstance(value, str) else value


def to_csv(command: str, rows: Sequence[Any], columns: Sequence[str] | None = None) -> str:
    """A header and one line per row (``extra`` left out); ``columns`` picks and orders them."""
    model = SCHEMAS[command][2]
    names = list(columns) if columns else [f.name for f in fields(model) if f.name != "extra"]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(names)
    for row in rows:
        writer.writerow(mask([csv_value(getattr(row, n)) for n in names]))
    return out.getvalue()


# -- tables

# (field, title, priority) in table order. Priority: the lowest goes first when the terminal
# is too narrow; KEEP columns never go.
NAME_FIELDS = {"name", "account_name"}
TEXT_FIELDS = NAME_FIELDS | {"profile", "broker", "account_id", "currency", "asset", "type",
                             "status", "account_type", "as_of"}
TABLE_COLUMNS: dict[str, list[tuple[str, str, int]]] = {
    "accounts": [("profile", "Profile", 4), ("broker", "Broker", 3),
                 ("account_id", "Account", KEEP), ("name", "Name", 5), ("type", "Type", 2),
                 ("currency", "Ccy", KEEP), ("status", "Status", 1)],
    "balance": [("profile", "Profile", 10), ("account_id", "Account", KEEP),
                ("account_name", "Name", 8), ("currency", "Ccy", KEEP), ("cash", "Cash", KEEP),
                ("available", "Available", 6), ("withdrawable", "Withdrawable", 4),
                ("buying_power", "Buying power", 9), ("equity", "Equity", KEEP),
                ("market_value", "Market value", 5), ("initial_margin", "Init. margin", 2),
                ("maintenance_margin", "Maint. margin", 3),
                ("unrealized_pnl", "Unrealized P/L", 7), ("realized_pnl", "Realized P/L", 1)],
    "assets": [("profile", "Profile", 8), ("account_id", "Account", KEEP),
               ("asset", "Asset", KEEP), ("total", "Total", KEEP),
               ("available", "Available", 9), ("reserved", "Reserved", 5),
               ("settling", "Settling", 3), ("withdrawable", "Withdrawable", 4),
               ("value_in_account_currency", "Value (acct ccy)", 6),
               ("value_usd", "Value USD", 7), ("value_btc", "Value BTC", 2),
               ("conversion_rate", "Rate", 1)],
}
# Columns only --columns shows, titled here.
EXTRA_TITLES = {"broker": "Broker", "account_type": "Type", "as_of": "As of"}
ALWAYS = {"profile", "account_id", "asset", "currency", "broker", "name"}  # shown even if null


def column_names(command: str) -> list[str]:
    """The field names ``--columns`` accepts for a command (its JSON/CSV row fields)."""
    return [f.name for f in fields(SCHEMAS[command][2]) if f.name != "extra"]


def _currency_of(command: str, name: str) -> Callable[[Any], str | None]:
    """Which currency's precision an amount column uses."""
    if command == "balance":
        return lambda row: row.currency
    if name == "value_usd":
        return lambda row: "USD"
    if name == "value_btc":
        return lambda row: "BTC"
    if name in ("conversion_rate", "value_in_account_currency"):
        return lambda row: None  # a ratio, or a currency the row does not name
    return lambda row: row.asset


def _column(command: str, name: str, title: str, priority: int) -> Column:
    return Column(name, title, numeric=name not in TEXT_FIELDS, priority=priority,
                  shrink=name in NAME_FIELDS)


def table(command: str, rows: Sequence[Any], *, exact: bool = False,
          columns: Sequence[str] | None = None, color: bool | None = None) -> Table:
    """The table of ``accounts``, ``balance`` or ``assets``, ready for ``table.render``.

    Columns that are null in every row are left out (unless named in ``columns``, which also
    picks and orders them and keeps them all); balances get a bold total row per currency that
    several accounts share (``*``: some account did not report that value). Callers may add a
    column (``Table.add_column``) or footer lines before rendering. ``color`` is ignored (the
    renderer decides): it is accepted for callers written against the Rich version.
    """
    catalogue = {name: (title, prio) for name, title, prio in TABLE_COLUMNS[command]}
    if columns:
        chosen = [_column(command, n, *catalogue.get(n, (EXTRA_TITLES.get(n, n), KEEP)))
                  for n in columns]
        chosen = [Column(c.key, c.title, c.numeric, KEEP, c.shrink) for c in chosen]
    else:
        chosen = [
            _column(command, name, title, prio) for name, title, prio in TABLE_COLUMNS[command]
            if name in ALWAYS or any(getattr(r, name) is not None for r in rows)
        ]
    from balancecli.core.precision import formatter
    from balancecli.core.redact import REDACTOR

    cache: dict[str, str] = {}

    def text(value: Any) -> str | None:
        if value is None:
            return None
        value = str(value)
        if value not in cache:
            cache[value] = REDACTOR.redact(value)
        return cache[value]

    fmt = formatter(exact=exact)
    by_column = []
    for col in chosen:
        values = [getattr(r, col.key) for r in rows]
        if col.numeric:
            ccy = _currency_of(command, col.key)
            currencies = [ccy(r) for r in rows]
            by_column.append([None if v is None else fmt(v, c)
                              for v, c in zip(values, currencies, strict=True)])
        else:
            by_column.append([text(v) for v in values])
    out = Table(chosen, rows=[list(row) for row in zip(*by_column, strict=True)]
                if chosen else [[] for _ in rows])
    if command == "balance":
        _add_totals(out, rows, exact=exact)
    return out


def _add_totals(out: Table, rows: Sequence[Balance], *, exact: bool) -> None:
    from balancecli.core.precision import display

    shared = [g for g in totals(rows)
              if g["accounts"] > 1 and any(g[f] is not None for f in TOTAL_FIELDS)]
    keys = [c.key for c in out.columns]
    label_at = 0 if keys and keys[0] not in TOTAL_FIELDS and keys[0] != "currency" else None
    missing = False
    for group in shared:
        cells: list[Any] = ["" for _ in keys]
        if label_at is not None:
            cells[label_at] = f"Total ({group['accounts']} accounts)"
        for i, key in enumerate(keys):
            if key == "currency":
                cells[i] = group["currency"]
            elif key in TOTAL_FIELDS:
                value = group[key]
                if value is None:
                    cells[i] = None
                    continue
                cell = display(value, group["currency"], exact=exact)
                if any(getattr(r, key) is None for r in rows if r.currency == group["currency"]):
                    cell += "*"
                    missing = True
                cells[i] = cell
        out.totals.append(cells)
    if missing:
        out.caption = "* some accounts did not report this value"
