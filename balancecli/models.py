"""The normalized model: Account, Balance and Asset rows (DESIGN.md §3).

Money is ``Decimal`` from the broker's text to the output. A value the broker did not send is
``None`` (rendered ``null`` / ``—``), never zero. Normalized values are copied from the broker,
never computed; whatever else the broker sent for the row goes under its own name into ``extra``.
"""

from __future__ import annotations

import dataclasses
import decimal
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from functools import lru_cache
from itertools import accumulate
from typing import Any

from balancecli.errors import BadResponseError

BROKERS = ("tradestation", "longport", "etna", "quantower")


MAX_DIGITS = 100  # significant digits of one number; more is not money, it is an attack
MAX_EXPONENT = 100  # 1e-999999999 is 15 bytes of JSON and 1 GB of digits once printed
# A broker that documents IEEE doubles (Quantower's C# export writes double.MaxValue as
# 1.7976931348623157E+308) may pass this instead: 17 digits at most, so still bounded.
DOUBLE_EXPONENT = 324
MAX_DEPTH = 64  # JSON nesting; brokers send 3-5 levels, 100,000 would exhaust the stack
# What a broker's number may look like: ASCII only. Python's Decimal also takes "1_000",
# Arabic-Indic and full-width digits, which no broker documents.
NUMBER_TEXT = re.compile(r"[+-]?[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?", re.ASCII)


def to_decimal(value: Any, *, name: str = "value",
               max_exponent: int = MAX_EXPONENT) -> Decimal | None:
    """Return ``value`` as an exact Decimal, or None when the broker sent nothing.

    Accepts Decimal (from ``loads``), int and numeric strings (TradeStation v3 and LongPort
    send strings; LongPort sends ``""`` for "no value"). Text must be ASCII
    ``[-+]digits[.digits][e[-+]digits]``. NaN, infinities, booleans, objects, other text and
    numbers beyond ``MAX_DIGITS`` significant digits or an exponent beyond ±``MAX_EXPONENT``
    raise BadResponseError naming ``name``.
    """
    if value is None:
        return None
    if isinstance(value, bool):
        raise BadResponseError(f"{name} is a boolean, expected a number")
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int):
        if not -_INT_BOUND < value < _INT_BOUND:
            raise BadResponseError(f"{name} has more than {MAX_DIGITS} digits")
        result = Decimal(value)
    elif isinstance(value, float):
        # Only reached when a caller did not parse with loads(); repr() is the shortest text
        # that round-trips, so no binary noise is added.
        result = Decimal(repr(value))
    elif isinstance(value, str):
        text = value.strip()
        if text == "":
            return None
        if len(text) > 4 * MAX_DIGITS or not NUMBER_TEXT.fullmatch(text):
            raise BadResponseError(f"{name} is not a number: {_printable(value[:40])!r}")
        result = Decimal(text)
    else:
        raise BadResponseError(f"{name} has type {type(value).__name__}, expected a number")
    if not result.is_finite():
        raise BadResponseError(f"{name} is {result}, expected a finite number")
    problem = _out_of_bounds(result, max_exponent)
    if problem:
        raise BadResponseError(f"{name} {problem}")
    return result


_INT_BOUND = 10**MAX_DIGITS


def _out_of_bounds(number: Decimal, max_exponent: int = MAX_EXPONENT) -> str | None:
    """Why ``number`` is too large to be money (a reason for a message), or None."""
    digits = len(number.as_tuple().digits)
    if digits > MAX_DIGITS:
        return f"has {digits} significant digits, more than {MAX_DIGITS}"
    if not -max_exponent <= number.adjusted() <= max_exponent:
        return f"has an exponent beyond ±{max_exponent} ({number.adjusted()})"
    return None


def _printable(text: str) -> str:
    return "".join(c if c.isprintable() else "?" for c in text)


def to_text(value: Any) -> str | None:
    """Ids and names as strings (TradeStation v2 keys are JSON numbers); ``""`` becomes None.

    An object or a list where text is expected is a BadResponseError, not its Python repr."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        got = "an object" if isinstance(value, dict) else "a list"
        raise BadResponseError(f"expected text, got {got}")
    text = str(value).strip() if not isinstance(value, Decimal) else format(value, "f")
    return text or None


def utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class _Oversized(Exception):
    """A number beyond the bounds, raised from inside the JSON parser with its text."""

    def __init__(self, text: str, reason: str) -> None:
        super().__init__(text)
        self.text, self.reason = text, reason


def _float_parser(max_exponent: int, tolerant: bool = False) -> Any:
    def parse_float(text: str) -> Decimal | None:
        number = Decimal(text)
        # Short plain numbers cannot be out of bounds: skip the check on the common path.
        if len(text) > 24 or "e" in text or "E" in text:
            problem = _out_of_bounds(number, max_exponent)
            if problem:
                if tolerant:
                    return None
                raise _Oversized(text, problem)
        return number

    return parse_float


_PARSE_FLOAT = {(MAX_EXPONENT, False): _float_parser(MAX_EXPONENT),
                (DOUBLE_EXPONENT, False): _float_parser(DOUBLE_EXPONENT),
                (MAX_EXPONENT, True): _float_parser(MAX_EXPONENT, tolerant=True)}


def _parse_int(text: str) -> int:
    if len(text) > MAX_DIGITS + 1 and len(text.lstrip("-")) > MAX_DIGITS:
        raise _Oversized(text, f"has {len(text.lstrip('-'))} digits, more than {MAX_DIGITS}")
    return int(text)


def _parse_int_tolerant(text: str) -> int | None:
    return None if len(text.lstrip("-")) > MAX_DIGITS else int(text)


def _reject_constant(constant: str) -> Any:
    raise BadResponseError(f"the response contains {constant}, which is not a number")


_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.S)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_STEP = [0] * 256
_STEP[ord("[")] = _STEP[ord("{")] = 1
_STEP[ord("]")] = _STEP[ord("}")] = -1


def nesting_depth(data: bytes) -> int:
    """The deepest ``[``/``{`` nesting of a JSON text (brackets inside strings ignored).

    Done before parsing, so a 100,000-level document is refused without recursing into it."""
    if data.count(b"[") + data.count(b"{") <= MAX_DEPTH:
        return 0  # cannot be deeper than the bound: skip the scan
    # Outside strings only. Without backslashes every '"' opens or closes a string, so a
    # split does it at C speed; with escapes, a regex removes the strings.
    outside = b"".join(data.split(b'"')[0::2]) if b"\\" not in data else _STRING.sub(b"", data)
    brackets = outside.translate(None, _NOT_BRACKETS)
    return max(accumulate(map(_STEP.__getitem__, brackets)), default=0)


def loads(text: str | bytes, *, max_exponent: int = MAX_EXPONENT, tolerant: bool = False) -> Any:
    """Parse broker JSON with every number kept exact and bounded (``MAX_DIGITS``,
    ``MAX_EXPONENT``), nesting bounded (``MAX_DEPTH``); anything else is a BadResponseError.

    The bounds apply while parsing, so an unusable number never reaches ``extra``. With
    ``tolerant`` such a number becomes None instead: for token responses, whose tokens must be
    saved even when their ``expires_in`` is ``1e400``."""
    data = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else bytes(text)
    if nesting_depth(data) > MAX_DEPTH:
        raise BadResponseError(f"the response is nested more than {MAX_DEPTH} levels deep")
    try:
        parse_float = (_PARSE_FLOAT.get((max_exponent, tolerant))
                       or _float_parser(max_exponent, tolerant))
        return json.loads(data, parse_float=parse_float,
                          parse_int=_parse_int_tolerant if tolerant else _parse_int,
                          parse_constant=_reject_constant)
    except BadResponseError:
        raise
    except _Oversized as exc:
        field = _field_of(data, exc.text)
        raise BadResponseError(
            f"{field or 'a number'} in the response {exc.reason}") from None
    except RecursionError:
        raise BadResponseError("the response is nested too deeply") from None
    except (ValueError, UnicodeDecodeError, decimal.InvalidOperation) as exc:
        raise BadResponseError(f"the response is not valid JSON ({_short(exc)})") from None


_KEY_BEFORE = re.compile(rb'"((?:[^"\\]|\\.){1,80})"\s*:\s*$')


def _field_of(data: bytes, number: str) -> str | None:
    """The key right before the first occurrence of ``number`` (for the message only)."""
    at = data.find(number.encode())
    match = _KEY_BEFORE.search(data[max(0, at - 200):at]) if at >= 0 else None
    if not match:
        return None
    return _printable(match.group(1).decode("utf-8", "replace"))


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
    """Everything the broker sent for a row that was not mapped to a normalized field, except
    personal data (DESIGN.md §7): e-mails, logins, user names, phones, addresses and owners'
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
