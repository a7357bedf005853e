"""Token expiry times and lifetimes, read the same way everywhere.

Expiry times come in three spellings across brokers and our own keyring cache: epoch seconds
(TradeStation and ETNA caches), epoch milliseconds (some SDKs and exports) and ISO 8601 text
(LongPort's ``expired_at``); ``expiry_epoch`` reads all three. A token answer's ``expires_in``
is read by ``lifetime``. Neither ever raises: an unusable value (``1e400``, ``"-50"``, a year
beyond 9999, text) is ``None``, which callers treat as "unknown".
"""

from __future__ import annotations

import math
import re
import time
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

MILLIS_ABOVE = 1e11  # epoch values above this are milliseconds (1e11 s is the year 5138)
LATEST_EPOCH = 253402300799.0  # 9999-12-31T23:59:59Z: datetime's limit
LONGEST_LIFETIME = 100 * 365 * 86400.0  # an ``expires_in`` beyond a century is not usable
_NUMBER_TEXT = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?")


def _number(value: Any) -> float | None:
    """A finite float from a JSON number or numeric text; None for anything else."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float | Decimal):
        number: int | float | Decimal = value
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
    """A token answer's ``expires_in`` as seconds: a positive finite number up to a century.

    Anything else (``1e400``, ``"1E+999999"``, negative, text, a boolean) is None: the caller
    keeps the token and uses its default lifetime instead of failing."""
    seconds = _number(value)
    if seconds is None or not 0 < seconds <= LONGEST_LIFETIME:
        return None
    return seconds
