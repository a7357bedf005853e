"""Numbers and text as brokers send them, made exact and bounded.

Money is ``Decimal`` from the broker's text to the output, never a float. A value the broker did
not send is ``None``, never zero. A number beyond ``MAX_DIGITS`` significant digits or an exponent
beyond ``MAX_EXPONENT`` is not money but an attack, and is refused.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from balancecli.core.errors import BadResponseError

MAX_DIGITS = 100  # significant digits of one number; more is not money, it is an attack
MAX_EXPONENT = 100  # 1e-999999999 is 15 bytes of JSON and 1 GB of digits once printed
# A broker that documents IEEE doubles (Quantower's C# export writes double.MaxValue as
# 1.7976931348623157E+308) may pass this instead: 17 digits at most, so still bounded.
DOUBLE_EXPONENT = 324
# What a broker's number may look like: ASCII only. Python's Decimal also takes "1_000",
# Arabic-Indic and full-width digits, which no broker documents.
NUMBER_TEXT = re.compile(r"[+-]?[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?", re.ASCII)


# What a JSON value that is not a number is, for a message (never a Python class name).
_JSON_KINDS = {bool: "a boolean", str: "text", list: "a list", dict: "an object",
               type(None): "null"}


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
            raise BadResponseError(f"{name} is not a number: {printable_short(value[:40])!r}")
        result = Decimal(text)
    else:
        raise BadResponseError(f"{name} is {_JSON_KINDS.get(type(value), 'not a number')}, "
                               "expected a number")
    if not result.is_finite():
        raise BadResponseError(f"{name} is {result}, expected a finite number")
    problem = out_of_bounds(result, max_exponent)
    if problem:
        raise BadResponseError(f"{name} {problem}")
    return result


_INT_BOUND = 10**MAX_DIGITS


def out_of_bounds(number: Decimal, max_exponent: int = MAX_EXPONENT) -> str | None:
    """Why ``number`` is too large to be money (a reason for a message), or None."""
    digits = len(number.as_tuple().digits)
    if digits > MAX_DIGITS:
        return f"has {digits} significant digits, more than {MAX_DIGITS}"
    if not -max_exponent <= number.adjusted() <= max_exponent:
        return f"has an exponent beyond ±{max_exponent} ({number.adjusted()})"
    return None


def printable_short(text: str) -> str:
    return "".join(c if c.isprintable() else "?" for c in text)


_SURROGATE = re.compile("[\ud800-\udfff]")
REPLACEMENT = "\ufffd"  # what a character that is not text becomes (Unicode's own choice)


def without_surrogates(text: str) -> str:
    """``text`` with each lone UTF-16 surrogate replaced by U+FFFD.

    JSON may carry one (``"\\ud800"``), but no encoder can write it: UTF-8 output, CSV, the
    terminal and SQLite all raise on it, so one such character would end the whole run."""
    if text.isascii():
        return text
    return _SURROGATE.sub(REPLACEMENT, text)


def to_text(value: Any) -> str | None:
    """Ids and names as strings (TradeStation v2 keys are JSON numbers); ``""`` becomes None.

    An object or a list where text is expected is a BadResponseError, not its Python repr.
    A lone surrogate becomes U+FFFD (``without_surrogates``): every text field of the model
    can be written by every output and stored."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        got = "an object" if isinstance(value, dict) else "a list"
        raise BadResponseError(f"expected text, got {got}")
    text = str(value).strip() if not isinstance(value, Decimal) else format(value, "f")
    return without_surrogates(text) or None
