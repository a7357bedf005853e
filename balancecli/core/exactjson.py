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
                indent: int | None = None, redact: Callable[[str], str] | None = None,
                level: int = 0) -> str:
    """JSON text for dicts/lists/str/int/bool/None/Decimal, Decimals digit for digit.

    ``number`` writes a finite Decimal (default ``number_text``); the history store passes its
    own so that ``Decimal("5")`` reads back as a Decimal, not an int. ``indent`` pretty-prints
    (for a person at a terminal); without it the text is one line. ``level``: how deep the
    value sits in an indented document (its inner lines are indented for that depth).
    ``redact`` is applied to every string (keys included) before it is encoded.
    """
    writer = _Writer(number, indent, redact)
    writer.value(value, level)
    return "".join(writer.parts)


class _Writer:
    """The text of one value, in parts; each distinct string escaped once."""

    def __init__(self, number: Callable[[Decimal], str] | None, indent: int | None,
                 redact: Callable[[str], str] | None) -> None:
        self.parts: list[str] = []
        self.indent = indent
        self.redact = redact
        self.strings: dict[str, str] = {}
        self.number = number or (lambda d: number_text(d) if d.is_finite() else "null")

    def string(self, text: str) -> str:
        encoded = self.strings.get(text)
        if encoded is None:
            redact = self.redact
            encoded = self.strings[text] = _string(redact(text) if redact else text)
        return encoded

    def value(self, v: Any, level: int) -> None:
        cls = v.__class__
        if cls is str:
            self.parts.append(self.string(v))
        elif cls is Decimal:
            self.parts.append(self.number(v))
        elif v is None:
            self.parts.append("null")
        elif isinstance(v, dict):
            self.mapping(v, level)
        elif isinstance(v, (list, tuple)):
            self.sequence(v, level)
        else:
            self.parts.append(self.other(v))

    def other(self, v: Any) -> str:
        if isinstance(v, str):
            return self.string(v)
        if isinstance(v, Decimal):
            return self.number(v)
        if v is True or v is False:
            return "true" if v else "false"
        if isinstance(v, int):
            return int.__repr__(v)
        if isinstance(v, float):
            return float.__repr__(v) if v == v and abs(v) != float("inf") else "null"
        return self.string(str(v))

    def _separator(self, level: int) -> str:
        return ", " if self.indent is None else ",\n" + " " * (self.indent * (level + 1))

    def _close(self, bracket: str, level: int) -> str:
        return bracket if self.indent is None else "\n" + " " * (self.indent * level) + bracket

    def mapping(self, v: dict[Any, Any], level: int) -> None:
        put = self.parts.append
        if not v:
            put("{}")
            return
        sep = self._separator(level)
        put("{" if self.indent is None else "{" + sep[1:])
        first = True
        for k, x in v.items():
            if not first:
                put(sep)
            first = False
            put(self.string(k if k.__class__ is str else str(k)))
            put(": ")
            self.value(x, level + 1)
        put(self._close("}", level))

    def sequence(self, v: list[Any] | tuple[Any, ...], level: int) -> None:
        put = self.parts.append
        if not v:
            put("[]")
            return
        sep = self._separator(level)
        put("[" if self.indent is None else "[" + sep[1:])
        for n, x in enumerate(v):
            if n:
                put(sep)
            self.value(x, level + 1)
        put(self._close("]", level))
