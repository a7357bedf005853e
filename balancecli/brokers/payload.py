"""Reading broker payloads: shape checks, typed getters and expiry times, written once.

Every broker module needs the same few checks on what a broker sent ("is this an object?",
"is this a list of objects?", "when does this token expire?"). They live here so that each
broker module keeps only what is about its own API. Every helper either returns a value or
raises ``BadResponseError``: never ``TypeError``, ``OverflowError`` or ``RecursionError``,
whatever the payload (a broker, a proxy in front of it or a hand-edited export can send
anything).

Expiry times come in three spellings across brokers and our own keyring cache: epoch seconds
(TradeStation and ETNA caches), epoch milliseconds (some SDKs and exports) and ISO 8601 text
(LongPort's ``expired_at``). ``expiry_epoch`` reads all three the same way everywhere.
"""

from __future__ import annotations

import math
import re
import time
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from balancecli.core.errors import BadResponseError
from balancecli.core.numbers import to_text

MILLIS_ABOVE = 1e11  # epoch values above this are milliseconds (1e11 s is the year 5138)
LATEST_EPOCH = 253402300799.0  # 9999-12-31T23:59:59Z: datetime's limit
LONGEST_LIFETIME = 100 * 365 * 86400.0  # an ``expires_in`` beyond a century is not usable
_NUMBER_TEXT = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?")

KINDS = {bool: "a boolean", int: "a number", float: "a number", Decimal: "a number",
         str: "a string", list: "a list", dict: "an object", type(None): "null"}


def kind(value: Any) -> str:
    """``value``'s JSON kind for messages ("a string", "an object", "null")."""
    return KINDS.get(type(value), type(value).__name__)


# -- shapes

def obj(value: Any, what: str) -> dict[str, Any]:
    """``value`` if it is a JSON object, else a BadResponseError naming ``what``."""
    if not isinstance(value, dict):
        raise BadResponseError(f"the {what} is not a JSON object")
    return value


def array(value: Any, what: str) -> list[Any]:
    """``value`` if it is a JSON array, else a BadResponseError naming ``what``."""
    if not isinstance(value, list):
        raise BadResponseError(f"{what} is not a JSON array")
    return value


def objects(value: Any, what: str) -> list[dict[str, Any]]:
    """A JSON array of objects (``None`` counts as empty)."""
    items = [] if value is None else value
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise BadResponseError(f"{what} is not a list of objects")
    return items


def index_by(items: list[Any], key: str, what: str) -> tuple[dict[str, dict], dict[str, int]]:
    """The objects of ``items`` by their ``key`` field (as text; items without one are
    skipped). An id that occurs more than once is left out and returned with its count: a
    bad_response for that account, never "last one wins"."""
    found: dict[str, dict] = {}
    repeated: dict[str, int] = {}
    for item in items:
        item = obj(item, what)
        ident = to_text(item.get(key))
        if not ident:
            continue
        if ident in found or ident in repeated:
            repeated[ident] = repeated.get(ident, 1) + 1
            found.pop(ident, None)
        else:
            found[ident] = item
    return found, repeated


# -- typed getters

def lower(value: Any) -> str | None:
    """Text lower-cased (account types), None when blank."""
    text = to_text(value)
    return text.lower() if text else None


def one_line(value: Any, limit: int = 200) -> str:
    """Broker text (an error message, a reason) as one short line; ``""`` when absent."""
    if value in (None, ""):
        return ""
    return re.sub(r"\s+", " ", str(value)[: limit * 4]).strip()[:limit]


def blank_to_none(values: dict[str, Any]) -> dict[str, Any]:
    """LongPort sends ``""`` for "no value": that is null in our rows."""
    return {k: None if v == "" else v for k, v in values.items()}


def to_int(value: Any) -> int | None:
    """An integer code (``"401003"`` or ``401003``), or None when it is not one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    text = str(value).strip() if isinstance(value, str | Decimal) else ""
    if not text or len(text) > 30:
        return None
    try:
        return int(text)
    except ValueError:
        return None


# -- time

def _number(value: Any) -> float | None:
    """A finite float from a JSON number or numeric text; None for anything else."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float | Decimal):
        number = value
    elif isinstance(value, str):
        text = value.strip()
        if len(text) > 60 or not _NUMBER_TEXT.fullmatch(text):
            return None
        try:
            number = Decimal(text)
        except InvalidOperation:  # pragma: no cover - the pattern already rules it out
            return None
    else:
        return None
    try:
        result = float(number)
    except (OverflowError, ValueError, InvalidOperation):
        return None
    return result if math.isfinite(result) else None


def expiry_epoch(value: Any) -> float | None:
    """An expiry as epoch seconds, from epoch seconds, epoch milliseconds (values above 1e11)
    or ISO 8601 text (a time without an offset is UTC). None when absent or unusable
    (negative, beyond the year 9999, not a time): callers treat that as "unknown"."""
    if value in (None, ""):
        return None
    when = _number(value)
    if when is None and isinstance(value, str):
        text = value.strip()
        if len(text) > 40 or not text.isascii():
            return None
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
            when = (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()
        except (ValueError, OverflowError, OSError):
            return None
    if when is None:
        return None
    if when > MILLIS_ABOVE:
        when /= 1000
    if not 0 <= when <= LATEST_EPOCH:
        return None
    return when


def seconds_left(expires_at: Any, now: float | None = None) -> float | None:
    """Seconds until ``expires_at`` (see ``expiry_epoch``), negative when passed; None if
    unknown."""
    when = expiry_epoch(expires_at)
    if when is None:
        return None
    return when - (time.time() if now is None else now)


def expired(expires_at: Any, margin: float = 0.0, *, unusable: bool = False) -> bool:
    """True when the expiry is known and less than ``margin`` seconds away.

    An absent expiry is not expired (a token given without one is tried; a 401 then means one
    refresh). ``unusable`` is the answer for a value that is present but unreadable: a broker
    that can cheaply log in again says True, one whose refresh is costly says False."""
    if expires_at in (None, ""):
        return False
    left = seconds_left(expires_at)
    if left is None:
        return unusable
    return left <= margin


def lifetime(value: Any) -> float | None:
    """A token response's ``expires_in`` as seconds: a positive finite number up to a century.

    Anything else (``1e400``, ``"1E+999999"``, negative, text, a boolean) is None: the caller
    keeps the token and uses its default lifetime instead of failing."""
    seconds = _number(value)
    if seconds is None or not 0 < seconds <= LONGEST_LIFETIME:
        return None
    return seconds


def token_fields(access: Any, rotated: Any, expires_in: Any,
                 default_lifetime: float) -> dict[str, Any]:
    """What an OAuth token answer gives to store: the rotated refresh token and the access
    token with its expiry (epoch seconds; ``default_lifetime`` when ``expires_in`` is unusable).
    Fields that are missing or not text are left out."""
    import time

    fields: dict[str, Any] = {}
    if isinstance(rotated, str) and rotated:
        fields["refresh_token"] = rotated
    if isinstance(access, str) and access:
        fields["access_token"] = access
        fields["access_token_expires_at"] = int(
            time.time() + (lifetime(expires_in) or default_lifetime))
    return fields
