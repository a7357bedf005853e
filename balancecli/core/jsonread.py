"""Bounded JSON reading: broker JSON with every number exact and bounded, nesting bounded, and
no key repeated within an object.

``json.loads`` with floats would round money; with plain Decimals it would accept a number of a
billion digits or a document nested 100,000 levels deep. ``loads`` keeps every digit and refuses
both while parsing, as a ``BadResponseError`` naming the field. An object that names a key
twice (``{"CashBalance": "1", "CashBalance": "1000000"}``) is refused the same way, naming the
key: ``json.loads`` keeps the last, other parsers the first (RFC 8259 §4 leaves it open), so
which value the broker meant cannot be known.

Text that is not text is replaced where it enters, never passed on: a lone UTF-16 surrogate
(``"\\ud800"`` without its pair, valid JSON but no character, RFC 8259 section 8.2) and bytes
that are not UTF-8 each become U+FFFD. Otherwise one such character in an account name would
stop every encoder after it (JSON, CSV, the terminal, SQLite) and with them the whole run.
"""

from __future__ import annotations

import decimal
import json
import re
from decimal import Decimal
from itertools import accumulate
from typing import Any

from balancecli.core.errors import BadResponseError
from balancecli.core.numbers import (
    DOUBLE_EXPONENT,
    MAX_DIGITS,
    MAX_EXPONENT,
    out_of_bounds,
    printable_short,
    without_surrogates,
)

MAX_DEPTH = 64  # JSON nesting; brokers send 3-5 levels, 100,000 would exhaust the stack


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
            problem = out_of_bounds(number, max_exponent)
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


class _Repeated(Exception):
    """A key named twice in one object, raised from inside the JSON parser."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _Repeated(key)
            seen.add(key)
    return obj


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
        return _decoded(data, parse_float=parse_float,
                        parse_int=_parse_int_tolerant if tolerant else _parse_int,
                        parse_constant=_reject_constant, object_pairs_hook=_object)
    except BadResponseError:
        raise
    except _Repeated as exc:
        raise BadResponseError(f"the response names the key {printable_short(exc.key)[:80]!r} "
                               "twice in one object") from None
    except _Oversized as exc:
        field = _field_of(data, exc.text)
        raise BadResponseError(
            f"{field or 'a number'} in the response {exc.reason}") from None
    except RecursionError:
        raise BadResponseError("the response is nested too deeply") from None
    except (ValueError, UnicodeDecodeError, decimal.InvalidOperation) as exc:
        raise BadResponseError(f"the response is not valid JSON ({_short(exc)})") from None


# Where a lone surrogate can come from: a \uD800-\uDFFF escape (a pair is joined by the
# parser, a lone one is kept), or its raw UTF-8 form ED A0-BF xx, which json.loads decodes with
# "surrogatepass". A document with neither (nearly all) is not walked.
_MAY_HOLD_SURROGATE = re.compile(rb"\\u[dD][89abcdefABCDEF]|\xed[\xa0-\xbf]")


def _decoded(data: bytes, **hooks: Any) -> Any:
    """``json.loads`` of ``data`` with every string (keys too) valid text."""
    try:
        value = json.loads(data, **hooks)
    except UnicodeDecodeError:
        # Not UTF-8 (a Latin-1 name, a multi-byte character cut in two): each bad byte becomes
        # U+FFFD, as a text decoder's "replace" does, rather than losing the whole answer.
        value = json.loads(data.decode(json.detect_encoding(data), "replace"), **hooks)
    if (b"\\" in data or b"\xed" in data) and _MAY_HOLD_SURROGATE.search(data):
        value = _replaced(value)
    return value


def _replaced(value: Any) -> Any:
    """``value`` with each lone surrogate in its strings and keys replaced by U+FFFD."""
    if isinstance(value, str):
        return without_surrogates(value)
    if isinstance(value, list):
        return [_replaced(v) for v in value]
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            text = without_surrogates(key)
            if text in out:  # two keys that differ only in unreadable characters
                raise BadResponseError(
                    f"the response has the key {printable_short(text[:40])!r} twice once its "
                    "unreadable characters are replaced")
            out[text] = _replaced(item)
        return out
    return value


_KEY_BEFORE = re.compile(rb'"((?:[^"\\]|\\.){1,80})"\s*:\s*$')


def _field_of(data: bytes, number: str) -> str | None:
    """The key right before the first occurrence of ``number`` (for the message only)."""
    at = data.find(number.encode())
    match = _KEY_BEFORE.search(data[max(0, at - 200):at]) if at >= 0 else None
    if not match:
        return None
    return printable_short(match.group(1).decode("utf-8", "replace"))


def _short(exc: Exception) -> str:
    return str(exc).split("\n", 1)[0][:120]
