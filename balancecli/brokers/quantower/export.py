"""The fields of the ``balancecli.quantower/1`` export: typed getters whose
messages say where in the document a value is wrong (``Accounts[2] (Id 'A1'): Balance is a
string, expected a number``), the bridge's AdditionalInfo filter and ``GeneratedAt``.

Numbers are C# doubles, so exponents up to a double's ±324 are accepted (other brokers: ±100).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from balancecli.brokers.payload import kind
from balancecli.core.errors import BadResponseError
from balancecli.core.models import is_personal
from balancecli.core.numbers import DOUBLE_EXPONENT, to_decimal


def text(obj: dict[str, Any], key: str, where: str, *, required: bool = False) -> str | None:
    value = obj.get(key)
    if isinstance(value, str) and value.strip():
        return value.strip()
    if value is not None and not isinstance(value, str):
        raise BadResponseError(f"{where}: {key} is {kind(value)}, expected a string")
    if required:
        raise BadResponseError(f"{where}: {key} is missing")
    return None


def number(obj: dict[str, Any], key: str, where: str, *, required: bool = False) -> Decimal | None:
    if required and key not in obj:
        raise BadResponseError(f"{where}: {key} is missing")
    value = obj.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, Decimal)):
        raise BadResponseError(f"{where}: {key} is {kind(value)}, expected a number")
    return to_decimal(value, name=key, max_exponent=DOUBLE_EXPONENT)


def numeric_info(items: Any, where: str) -> dict[str, Any]:
    """The numeric AdditionalInfo items by Id; text items are not exported."""
    if items is None:
        return {}
    if not isinstance(items, list):
        raise BadResponseError(f"{where}: AdditionalInfo is {kind(items)}, expected a list")
    found: dict[str, Any] = {}
    for j, info in enumerate(items):
        if not isinstance(info, dict):
            raise BadResponseError(f"{where}: AdditionalInfo[{j}] is {kind(info)}, "
                                   "expected an object")
        key = text(info, "Id", f"{where}: AdditionalInfo[{j}]", required=True)
        value = info.get("Value")
        if is_personal(key):  # the bridge filters these too; a hand-edited export may not
            continue
        if isinstance(value, (int, Decimal)) and not isinstance(value, bool):
            found.setdefault(key, to_decimal(value, name=key, max_exponent=DOUBLE_EXPONENT))
    return found


def parse_time(value: Any, where: str) -> datetime:
    stamp = text({"GeneratedAt": value}, "GeneratedAt", where, required=True)
    try:
        parsed = datetime.fromisoformat(stamp)
        # The bridge writes UTC with a Z; a time without an offset is read as UTC.
        return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)
    except (ValueError, OverflowError):  # OverflowError: year 1 with a positive offset
        raise BadResponseError(f"{where}: GeneratedAt is not an ISO 8601 time: {stamp[:40]!r}") \
            from None


def age_text(seconds: float) -> str:
    s = int(seconds)
    if s < 120:
        return f"{s} s"
    return f"{s // 60} min" if s < 7200 else f"{s // 3600} h {s % 3600 // 60} min"
