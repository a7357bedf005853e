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

from balancecli.output.specs import Shares, Spec
from balancecli.output.table import KEEP, Cell, Column, Table

MACHINE_FORMATS = ("json", "jsonl", "csv", "beancount", "ledger", "prometheus")
EXACT = decimal.Context(prec=200)
NULL = "—"


def refusal(fmt: str) -> str | None:
    """The usage error for a machine format under --hide-amounts (None: allowed)."""
    if fmt not in MACHINE_FORMATS:
        return None
    return (f"--hide-amounts masks tables only; -f {fmt} would print every amount "
            "(add --force to print them anyway, or unset BALANCECLI_HIDE_AMOUNTS)")


def basis(row: Any, spec: Shares) -> tuple[str | None, Decimal | None]:
    """(field used, value) of a row: the first non-null field of its basis."""
    for name in spec.basis:
        value = getattr(row, name)
        if value is not None:
            return name, value
    return None, None


def shares(rows: Sequence[Any], spec: Shares) -> list[tuple[str | None, Decimal | None]]:
    """Per row: (field used, share of its group's total as a fraction), None when unknown
    (no value, or a group total of zero)."""
    totals: dict[str | None, Decimal] = {}
    for row in rows:
        _, value = basis(row, spec)
        if value is not None:
            key = getattr(row, spec.group)
            totals[key] = EXACT.add(totals.get(key, Decimal(0)), value)
    result: list[tuple[str | None, Decimal | None]] = []
    for row in rows:
        name, value = basis(row, spec)
        total = totals.get(getattr(row, spec.group))
        if value is None or not total:
            result.append((name, None))
        else:
            result.append((name, EXACT.divide(value, total)))
    return result


def fraction(part: Decimal | None, whole: Decimal | None) -> Decimal | None:
    """``part / whole`` exactly enough for a percentage, None when either is unknown or the
    whole is zero."""
    if part is None or whole is None or not whole:
        return None
    return EXACT.divide(part, whole)


def percent(fraction: Decimal | None, *, signed: bool = False) -> str:
    """A fraction as a percentage, one decimal, half up (``signed``: ``+`` on a gain)."""
    if fraction is None:
        return NULL
    value = (fraction * 100).quantize(Decimal("0.1"), rounding=decimal.ROUND_HALF_UP)
    if value == 0:
        value = abs(value)  # no "-0.0%"
    return ("+" if signed and value > 0 else "") + f"{value}%"


def table(spec: Spec, rows: Sequence[Any]) -> Table:
    """Identities and shares, no amounts: fits the terminal, never cuts an id, a
    currency/asset or a share. A spec without ``shares`` (accounts) has nothing to hide."""
    share = spec.shares
    assert share is not None
    columns = [Column("profile", "Profile", priority=2), Column("account_id", "Account"),
               Column(share.group, share.title),
               Column("share", "Share", numeric=True, priority=KEEP),
               Column("of", "Of", priority=1)]
    body: list[list[Cell]] = []
    incomplete = False
    for row, (name, part) in zip(rows, shares(rows, share), strict=True):
        incomplete = incomplete or part is None
        body.append([row.profile, row.account_id, getattr(row, share.group),
                     None if part is None else percent(part), name])
    caption = (f"amounts hidden: each row's share of its {share.group}'s total "
               f"({_basis_text(share.basis)})" + ("; — no value or a zero total"
                                                  if incomplete else ""))
    return Table(columns, body, caption=caption)


def _basis_text(basis: Sequence[str]) -> str:
    return ", else ".join(basis)
