"""Exact JSON text: Decimals digit for digit, strings safe for a terminal.

``json.dumps`` cannot write a Decimal as a number without a float on the way; this encoder
writes the Decimal's own digits (``19638.14545186560000000000`` stays so), which is what the
output, the fake brokers and the history store need. Strings escape every control character
(also C1 controls and bidi overrides, which ``json.dumps`` leaves raw), so a hostile name
cannot drive a terminal that shows the JSON.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from json.encoder import encode_basestring as _encode_basestring  # the C one
from typing import Any


def number_text(value: Decimal) -> str:
    """A Decimal as a JSON number with its exact digits (no exponent for ordinary values)."""
    text = str(value)
    if "E" not in text or "E+" in text:
        return text  # plain already, or e.g. 1E+3 as the broker wrote it: a valid JSON number
    # 1E-7 and smaller: written out plain, unless that is absurdly long (1E-999999999 would be
    # a gigabyte of zeros; the exponent form is just as exact).
    if -value.as_tuple().exponent > 100_000:  # type: ignore[operator]
        return text
    return format(value, "f")


# json.dumps escapes C0 controls; these it leaves raw although a terminal acts on them (C1
# controls such as the 8-bit CSI, DEL, bidi overrides) or JavaScript readers choke (U+2028/9).
_JSON_UNSAFE = re.compile("[\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]")


def _string(text: str) -> str:
    encoded = _encode_basestring(text)
    if text.isprintable():
        return encoded
    return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", encoded)


def dumps_exact(value: Any, number: Callable[[Decimal], str] | None = None, *,
                indent: int | None = None, redact: Callable[[str], str] | None = None) -> str:
    """JSON text for dicts/lists/str/int/bool/None/Decimal, Decimals digit for digit.

    ``number`` writes a finite Decimal (default ``number_text``); the history store passes its
    own so that ``Decimal("5")`` reads back as a Decimal, not an int. ``indent`` pretty-prints
    (for a person at a terminal); without it the text is one line. ``redact`` is applied to
    every string (keys included) before it is encoded.
    """
    parts: list[str] = []
    put = parts.append
    strings: dict[str, str] = {}
    write_number = number or (lambda d: number_text(d) if d.is_finite() else "null")

    def string(text: str) -> str:
        encoded = strings.get(text)
        if encoded is None:
            encoded = strings[text] = _string(redact(text) if redact else text)
        return encoded

    def scalar(v: Any) -> bool:
        cls = v.__class__
        if cls is str:
            put(string(v))
        elif cls is Decimal:
            put(write_number(v))
        elif v is None:
            put("null")
        else:
            return False
        return True

    def enc(v: Any, level: int) -> None:
        if scalar(v):
            return
        if isinstance(v, str):
            put(string(v))
        elif isinstance(v, Decimal):
            put(write_number(v))
        elif v is True:
            put("true")
        elif v is False:
            put("false")
        elif isinstance(v, int):
            put(int.__repr__(v))
        elif isinstance(v, dict):
            if not v:
                put("{}")
                return
            put("{")
            sep = ", " if indent is None else ",\n" + " " * (indent * (level + 1))
            if indent is not None:
                put(sep[1:])
            first = True
            for k, x in v.items():
                if not first:
                    put(sep)
                first = False
                put(string(k if k.__class__ is str else str(k)))
                put(": ")
                if not scalar(x):
                    enc(x, level + 1)
            put("}" if indent is None else "\n" + " " * (indent * level) + "}")
        elif isinstance(v, (list, tuple)):
            if not v:
                put("[]")
                return
            put("[")
            sep = ", " if indent is None else ",\n" + " " * (indent * (level + 1))
            if indent is not None:
                put(sep[1:])
            for n, x in enumerate(v):
                if n:
                    put(sep)
                if not scalar(x):
                    enc(x, level + 1)
            put("]" if indent is None else "\n" + " " * (indent * level) + "]")
        elif isinstance(v, float):
            put(float.__repr__(v) if v == v and abs(v) != float("inf") else "null")
        else:
            put(string(str(v)))

    enc(value, 0)
    return "".join(parts)
