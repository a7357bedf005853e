"""Reading broker payloads: shape checks, typed getters and expiry times, written once.

Every broker module needs the same few checks on what a broker sent ("is this an object?",
"is this a list of objects?", "when does this token expire?"). They live here so that each
broker module keeps only what is about its own API. Every helper either returns a value or
raises ``BadResponseError``: never ``TypeError``, ``OverflowError`` or ``RecursionError``,
whatever the payload (a broker, a proxy in front of it or a hand-edited export can send
anything).

Expiry times (epoch seconds, epoch milliseconds, ISO 8601 text) are read by
``credentials.expiry``, re-exported here; token answers by ``credentials.tokens``.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from balancecli.core.errors import BadResponseError
from balancecli.core.numbers import to_text
from balancecli.credentials.expiry import LATEST_EPOCH as LATEST_EPOCH
from balancecli.credentials.expiry import MILLIS_ABOVE as MILLIS_ABOVE
from balancecli.credentials.expiry import expired as expired
from balancecli.credentials.expiry import expiry_epoch as expiry_epoch
from balancecli.credentials.expiry import lifetime as lifetime
from balancecli.credentials.expiry import seconds_left as seconds_left

KINDS = {bool: "a boolean", int: "a number", float: "a number", Decimal: "a number",
         str: "a string", list: "a list", dict: "an object", type(None): "null"}


def kind(value: Any) -> str:
    """``value``'s JSON kind for messages ("a string", "an object", "null")."""
    return KINDS.get(type(value), "a value of another kind")


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


def index_by(items: list[Any], key: str,
             what: str) -> tuple[dict[str, dict[str, Any]], dict[str, int]]:
    """The objects of ``items`` by their ``key`` field (as text; items without one are
    skipped). An id that occurs more than once is left out and returned with its count: a
    bad_response for that account, never "last one wins"."""
    found: dict[str, dict[str, Any]] = {}
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

