"""The normalized model: Account, Balance and Asset rows (DESIGN.md §3).

Money is ``Decimal`` from the broker's text to the output. A value the broker did not send is
``None`` (rendered ``null`` / ``—``), never zero. Normalized values are copied from the broker,
never computed; whatever else the broker sent for the row goes under its own name into ``extra``.
"""

from __future__ import annotations

import dataclasses
import decimal
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from balancecli.errors import BadResponseError

BROKERS = ("tradestation", "longport", "etna", "quantower")


def to_decimal(value: Any, *, name: str = "value") -> Decimal | None:
    """Return ``value`` as an exact Decimal, or None when the broker sent nothing.

    Accepts Decimal (from ``json.loads(..., parse_float=Decimal)``), int and numeric strings
    (TradeStation v3 and LongPort send strings; LongPort sends ``""`` for "no value").
    NaN, infinities, booleans, objects and non-numeric text raise BadResponseError.
    """
    if value is None:
        return None
    if isinstance(value, bool):
        raise BadResponseError(f"{name} is a boolean, expected a number")
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, float):
        # Only reached when a caller did not parse with parse_float=Decimal; repr() is the
        # shortest text that round-trips, so no binary noise is added.
        result = Decimal(repr(value))
    elif isinstance(value, str):
        text = value.strip()
        if text == "":
            return None
        try:
            result = Decimal(text)
        except decimal.InvalidOperation:
            raise BadResponseError(f"{name} is not a number: {value[:40]!r}") from None
    else:
        raise BadResponseError(f"{name} has type {type(value).__name__}, expected a number")
    if not result.is_finite():
        raise BadResponseError(f"{name} is {value!s}, expected a finite number")
    return result


def to_text(value: Any) -> str | None:
    """Ids and names as strings (TradeStation v2 keys are JSON numbers); ``""`` becomes None."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value).strip() if not isinstance(value, Decimal) else format(value, "f")
    return text or None


def utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def loads(text: str | bytes) -> Any:
    """Parse broker JSON with every number kept exact; NaN/Infinity are a bad response."""

    def reject(constant: str) -> Any:
        raise BadResponseError(f"the response contains {constant}, which is not a number")

    try:
        return json.loads(text, parse_float=Decimal, parse_constant=reject)
    except BadResponseError:
        raise
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadResponseError(f"the response is not valid JSON ({_short(exc)})") from None


def _short(exc: Exception) -> str:
    return str(exc).split("\n", 1)[0][:120]


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
    """Everything the broker sent for a row that was not mapped to a normalized field."""
    return {k: v for k, v in payload.items() if k not in used}
