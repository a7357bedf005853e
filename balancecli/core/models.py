"""The normalized model: Account, Balance and Asset rows.

Money is ``Decimal`` from the broker's text to the output. A value the broker did not send is
``None`` (rendered ``null`` / ``—``), never zero. Normalized values are copied from the broker,
never computed; whatever else the broker sent for the row goes under its own name into ``extra``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache
from typing import Any

BROKERS = ("tradestation", "longport", "etna", "quantower")


@dataclass(frozen=True, slots=True)
class Account:
    """One account of a profile."""

    profile: str
    broker: str
    account_id: str
    name: str | None = None
    type: str | None = None
    currency: str | None = None
    status: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Balance:
    """The balance of one account (or of one currency view of it)."""

    profile: str
    broker: str
    account_id: str
    account_name: str | None = None
    account_type: str | None = None
    currency: str | None = None
    as_of: str | None = None
    cash: Decimal | None = None
    available: Decimal | None = None
    withdrawable: Decimal | None = None
    buying_power: Decimal | None = None
    equity: Decimal | None = None
    market_value: Decimal | None = None
    initial_margin: Decimal | None = None
    maintenance_margin: Decimal | None = None
    unrealized_pnl: Decimal | None = None
    realized_pnl: Decimal | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Asset:
    """One asset or currency held by an account."""

    profile: str
    broker: str
    account_id: str
    asset: str
    total: Decimal | None = None
    available: Decimal | None = None
    reserved: Decimal | None = None
    settling: Decimal | None = None
    withdrawable: Decimal | None = None
    value_in_account_currency: Decimal | None = None
    value_usd: Decimal | None = None
    value_btc: Decimal | None = None
    conversion_rate: Decimal | None = None
    extra: dict[str, Any] = field(default_factory=dict)


Row = Account | Balance | Asset

MONEY_FIELDS = {
    Balance: tuple(
        f.name for f in dataclasses.fields(Balance) if f.type == "Decimal | None"
    ),
    Asset: tuple(f.name for f in dataclasses.fields(Asset) if f.type == "Decimal | None"),
    Account: (),
}


def row_dict(row: Row) -> dict[str, Any]:
    """Every model field in declaration order, nulls included (the JSON row shape)."""
    return {f.name: getattr(row, f.name) for f in dataclasses.fields(row)}


def extra_from(payload: dict[str, Any], used: set[str] | frozenset[str]) -> dict[str, Any]:
    """Everything the broker sent for a row that was not mapped to a normalized field, except
    personal data: e-mails, logins, user names, phones, addresses and owners'
    names never reach ``extra``, the output or the history store, at any depth."""
    return {k: _without_personal(v) for k, v in payload.items()
            if k not in used and not is_personal(str(k))}


# Normalized key (lower case, letters and digits only) fragments that mark personal data.
_PERSONAL_PARTS = ("email", "login", "username", "phone", "mobile", "address", "firstname",
                   "lastname", "middlename", "fullname", "ownername", "holdername", "birth",
                   "passport", "taxid", "nationalid", "socialsecurity")
_PERSONAL_KEYS = frozenset({"owner", "owners", "mail", "ssn", "dob", "tin", "user", "users"})


@lru_cache(maxsize=4096)
def is_personal(key: str) -> bool:
    """True for a field name that carries personal data (``Email``, ``Owners``,
    ``user_name``, ``PhoneNumber``); ``userPnl`` or ``OwnerType`` are not."""
    norm = "".join(c for c in key.lower() if c.isalnum())
    return norm in _PERSONAL_KEYS or any(part in norm for part in _PERSONAL_PARTS)


def _without_personal(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_personal(v) for k, v in value.items() if not is_personal(str(k))}
    if isinstance(value, list):
        return [_without_personal(v) for v in value]
    return value
