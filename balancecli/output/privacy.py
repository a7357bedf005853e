"""``--hide-amounts`` (env ``BALANCECLI_HIDE_AMOUNTS=1``): tables for screen sharing.

The table shows no amount at all, only each account's share of its group's total: balances
are grouped by currency and valued by ``equity``, else ``cash``, else ``available``; assets are
grouped by asset and valued by ``total``, else ``available``. A share is exact Decimal
arithmetic rounded only for display (one decimal, half up); an account without any of those
values shows ``—`` and the group says so, as totals do elsewhere.

Machine formats (json, jsonl, csv, beancount, ledger, prometheus) are never masked: with
``--hide-amounts`` they are refused unless ``--force`` says "print the real amounts", so that
the environment variable set for a screen share cannot leak amounts into a window by mistake
and no script ever reads masked numbers.
"""

from __future__ import annotations

import decimal
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from balancecli.core.models import Asset, Balance

MACHINE_FORMATS = ("json", "jsonl", "csv", "beancount", "ledger", "prometheus")
BALANCE_BASIS = ("equity", "cash", "available")
ASSET_BASIS = ("total", "available")
EXACT = decimal.Context(prec=200)
NULL = "—"


def refusal(fmt: str) -> str | None:
    """The usage error for a machine format under --hide-amounts (None: allowed)."""
    if fmt not in MACHINE_FORMATS:
        return None
    return (f"--hide-amounts masks tables only; -f {fmt} would print every amount "
            "(add --force to print them anyway, or unset BALANCECLI_HIDE_AMOUNTS)")


def basis(row: Balance | Asset) -> tuple[str | None, Decimal | None]:
    """(field used, value) of a row: the first non-null field of its basis."""
    for name in BALANCE_BASIS if isinstance(row, Balance) else ASSET_BASIS:
        value = getattr(row, name)
        if value is not None:
            return name, value
    return None, None


def group_key(row: Balance | Asset) -> str | None:
    return row.currency if isinstance(row, Balance) else row.asset


def shares(rows: Sequence[Balance | Asset]) -> list[tuple[str | None, Decimal | None]]:
    """Per row: (field used, share of its group's total as a fraction), None when unknown
    (no value, or a group total of zero)."""
    totals: dict[str | None, Decimal] = {}
    for row in rows:
        _, value = basis(row)
        if value is not None:
            key = group_key(row)
            totals[key] = EXACT.add(totals.get(key, Decimal(0)), value)
    result: list[tuple[str | None, Decimal | None]] = []
    for row in rows:
        name, value = basis(row)
        total = totals.get(group_key(row))
        if value is None or not total:
            result.append((name, None))
        else:
            result.append((name, EXACT.divide(value, total)))
    return result


def percent(fraction: Decimal | None) -> str:
    if fraction is None:
        return NULL
    value = (fraction * 100).quantize(Decimal("0.1"), rounding=decimal.ROUND_HALF_UP)
    if value == 0:
        value = abs(value)  # no "-0.0%"
    return f"{value}%"


def table(command: str, rows: Sequence[Any], *, color: bool) -> Any:
    """Identities and shares, no amounts (a ``balancecli.table.Table``: fits the terminal,
    never cuts an id, a currency/asset or a share; ``--watch`` draws it via ``to_rich``).
    ``accounts`` has no amounts and is rendered as usual by the caller. ``color`` is for
    callers written against the Rich version: the renderer decides."""
    from balancecli.output.table import KEEP, Column, Table

    key, group = ("currency", "currency") if command == "balance" else ("asset", "asset")
    columns = [Column("profile", "Profile", priority=2), Column("account_id", "Account"),
               Column(key, "Ccy" if key == "currency" else "Asset"),
               Column("share", "Share", numeric=True, priority=KEEP),
               Column("of", "Of", priority=1)]
    body: list[list[Any]] = []
    incomplete = False
    for row, (name, fraction) in zip(rows, shares(rows), strict=True):
        incomplete = incomplete or fraction is None
        body.append([row.profile, row.account_id, group_key(row),
                     None if fraction is None else percent(fraction), name])
    basis_text = ("equity, else cash, else available" if command == "balance"
                  else "total, else available")
    caption = (f"amounts hidden: each row's share of its {group}'s total "
               f"({basis_text})" + ("; — no value or a zero total" if incomplete else ""))
    return Table(columns, body, caption=caption)
