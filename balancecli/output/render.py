"""Rows -> table / JSON / JSONL / CSV. Pure functions of the rows; nothing else.

JSON numbers carry the exact digits the broker sent (``Decimal`` is written as its text), so
``19638.14545186560000000000`` stays so and ``jq '.balances[] | select(.equity > 1000)'`` works.
Tables round for display only (``core.precision``); totals are summed exactly first.

Every string value passes the secret mask before it is encoded: a secret a broker echoes back
is masked whatever the format's quoting does to it (``"`` becomes ``\\"`` in JSON and ``""`` in
CSV, which a mask over the encoded text would miss).
"""

from __future__ import annotations

import csv
import decimal
import io
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import fields
from decimal import Decimal
from operator import attrgetter
from typing import Any

from balancecli.core.errors import BalanceCliError
from balancecli.core.exactjson import dumps_exact, number_text
from balancecli.output.exports import spreadsheet_safe
from balancecli.output.specs import Col, Spec, Totals
from balancecli.output.table import KEEP, NULL, Column, Table

# Sums are exact: wide enough for any value a table can show (precision.MAX_DIGITS), and
# bounded so that 1E+999999999 + 1E-999999999 cannot allocate a billion digits.
EXACT = decimal.Context(prec=250_000, Emax=999_999_999_999_999_999,
                        Emin=-999_999_999_999_999_999)

__all__ = ["NULL", "EXACT", "dumps_exact", "number_text", "totals", "to_json", "to_jsonl",
           "to_csv", "csv_value", "table", "mask", "row_dicts"]


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


def totals(rows: Iterable[Any], spec: Totals) -> list[dict[str, Any]]:
    """Per group (currency): how many accounts, sums of the non-null values, and whether any
    was null."""
    groups: dict[str | None, dict[str, Any]] = {}
    for row in rows:
        key = getattr(row, spec.group)
        group = groups.setdefault(key, {
            spec.group: key, "accounts": set(), **{f: None for f in spec.fields},
            "incomplete": False,
        })
        group["accounts"].add((row.profile, row.account_id))
        for name in spec.fields:
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


def row_dicts(rows: Sequence[Any]) -> list[dict[str, Any]]:
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


def blocks(spec: Spec, rows: Sequence[Any], converted: dict[str, Any] | None = None,
           skipped: Sequence[Any] = ()) -> list[tuple[str, Any]]:
    """What a JSON document has after its rows (before ``errors``): the totals, with ``--in``
    the ``converted`` block, and the accounts the brokers serve no balances for
    (``brokers.base.Skipped``), when there are some."""
    out: list[tuple[str, Any]] = []
    if spec.totals is not None:
        out.append(("totals", totals(rows, spec.totals)))
    if converted is not None:
        out.append(("converted", converted))
    if skipped:
        out.append(("skipped", [s.as_dict() for s in skipped]))
    return out


def to_json(spec: Spec, rows: Sequence[Any], errors: Sequence[BalanceCliError],
            generated_at: str, *, converted: dict[str, Any] | None = None,
            indent: int | None = None) -> str:
    """The whole document at once (``output.jsonout.Stream`` writes the same text as rows
    arrive)."""
    doc: dict[str, Any] = {"schema": spec.schema, "generated_at": generated_at,
                           spec.key: row_dicts(rows)}
    doc.update(blocks(spec, rows, converted))
    doc["errors"] = [e.as_dict() for e in errors]
    return dumps_exact(doc, indent=indent, redact=_redactor()) + "\n"


def to_jsonl(rows: Sequence[Any]) -> str:
    redact = _redactor()
    return "".join(dumps_exact(r, redact=redact) + "\n" for r in row_dicts(rows))


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


def csv_line(values: Iterable[Any]) -> str:
    """One CSV line of cells (``csv_value``), secrets masked (before amounts become text:
    a number is never masked)."""
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow([csv_value(v) for v in mask(list(values))])
    return out.getvalue()


def to_csv(spec: Spec, rows: Sequence[Any], columns: Sequence[str] | None = None) -> str:
    """A header and one line per row (``extra`` left out); ``columns`` picks and orders them."""
    names = list(columns) if columns else spec.field_names()
    return csv_line(names) + "".join(csv_line(getattr(row, n) for n in names) for row in rows)


# -- tables


def _column(col: Col, priority: int | None = None) -> Column:
    return Column(col.key, col.title, numeric=col.numeric,
                  priority=col.priority if priority is None else priority, shrink=col.shrink)


def kept_for_rows(spec: Spec, rows: Sequence[Any], shown: Sequence[Col],
                  covered: Sequence[bool] | None = None) -> set[str]:
    """The columns a terminal must keep so that every row keeps a number: for a row with
    nothing in the columns always kept (a Quantower account has neither cash nor equity, only
    what is available), the column of its value (``Spec.value_fields``: equity, else cash,
    else available), else its amount in the column dropped last. ``covered``: the rows that
    keep a number in a column added later (``--in``'s Value column)."""
    numeric = [c for c in shown if c.numeric]
    always = [c.key for c in numeric if c.priority >= KEEP]
    order = [k for k in spec.value_fields if any(c.key == k for c in numeric)]
    order += [c.key for c in sorted(numeric, key=lambda c: -c.priority) if c.key not in order]
    kept: set[str] = set()
    for n, row in enumerate(rows):
        if covered is not None and covered[n]:
            continue
        if any(getattr(row, k) is not None for k in always) or \
                any(getattr(row, k) is not None for k in kept):
            continue
        found = next((k for k in order if getattr(row, k) is not None), None)
        if found is not None:
            kept.add(found)
    return kept


def table(spec: Spec, rows: Sequence[Any], *, exact: bool = False,
          columns: Sequence[str] | None = None, covered: Sequence[bool] | None = None,
          totals: bool = True) -> Table:
    """The table of ``rows``, ready for ``table.render``.

    Columns that are null in every row are left out (unless named in ``columns``, which also
    picks and orders them and keeps them all); a row with no value in the columns always kept
    keeps the column of its value (``kept_for_rows``); with totals, a bold total row per group
    (a currency) that several accounts share, labelled with its currency (``*``: some account
    did not report that value; not with ``totals=False``: ``--in`` has one grand total).
    Callers may add a column (``Table.add_column``) or footer lines before rendering.
    """
    if columns is not None:
        chosen = [_column(spec.column(n), KEEP) for n in columns]
    else:
        shown = [c for c in spec.columns
                 if c.key in spec.always or any(getattr(r, c.key) is not None for r in rows)]
        kept = kept_for_rows(spec, rows, shown, covered)
        chosen = [_column(c, KEEP if c.key in kept else None) for c in shown]
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
            currency = spec.currency_of(col.key)
            by_column.append([None if v is None else fmt(v, currency(r))
                              for v, r in zip(values, rows, strict=True)])
        else:
            by_column.append([text(v) for v in values])
    out = Table(chosen, rows=[list(row) for row in zip(*by_column, strict=True)]
                if chosen else [[] for _ in rows])
    if spec.totals is not None and totals:
        _add_totals(out, rows, spec.totals, exact=exact)
    return out


def mark_stale(table: Table, rows: Sequence[Any],
               ages: Mapping[tuple[str, str], float]) -> None:
    """A ``Stale`` column, never dropped, after the Account column: the age of the data of
    each row older than its profile allows (shown because of ``--allow-stale``)."""
    from balancecli.core.clock import span
    from balancecli.output.table import YELLOW

    cells: list[Any] = []
    for row in rows:
        age = ages.get((row.profile, row.account_id))
        cells.append("" if age is None else (span(age), YELLOW))
    keys = [c.key for c in table.columns]
    table.add_column(Column("stale", "Stale"), cells,
                     index=keys.index("account_id") + 1 if "account_id" in keys else None)


def _add_totals(out: Table, rows: Sequence[Any], spec: Totals, *, exact: bool) -> None:
    from balancecli.core.precision import display

    shared = [g for g in totals(rows, spec)
              if g["accounts"] > 1 and any(g[f] is not None for f in spec.fields)]
    keys = [c.key for c in out.columns]
    labelled = bool(keys) and keys[0] not in spec.fields and keys[0] != spec.group and \
        not out.columns[0].numeric
    if shared and not labelled and spec.group not in keys:
        # Nothing would say which currency a total is in (``--columns cash,equity``): a
        # column of its own for the labels.
        out.add_column(Column("total", ""), ["" for _ in rows], [], index=0)
        keys, labelled = [c.key for c in out.columns], True
    missing = False
    for group in shared:
        ccy = group[spec.group]
        cells: list[Any] = ["" for _ in keys]
        if labelled:  # its currency: in its Ccy cell, else in the label
            named = "" if spec.group in keys else f" {ccy or 'without currency'}"
            cells[0] = f"Total{named} ({group['accounts']} accounts)"
        for i, key in enumerate(keys):
            if key == spec.group:
                cells[i] = ccy
            elif key in spec.fields:
                value = group[key]
                if value is None:
                    cells[i] = None
                    continue
                cell = display(value, ccy, exact=exact)
                if any(getattr(r, key) is None for r in rows if getattr(r, spec.group) == ccy):
                    cell += "*"
                    missing = True
                cells[i] = cell
        out.totals.append(cells)
    if missing:
        out.caption = "* some accounts did not report this value"
