"""JSON and JSONL written as rows arrive, exact digits, fast.

The text is the same as ``render.to_json`` / ``render.to_jsonl`` (and, indented, as
``dumps_exact(document, indent=2)``): the same separators, the same exact numbers and string
escaping (``exactjson``), every string masked before it is encoded. But each row is encoded
with a per-model plan (field names encoded once, one encoder per value type, each distinct
string masked and escaped once) and written out as soon as its profile is done, so 10,000 rows
take well under 0.2 s and the first rows reach ``jq`` before the slowest broker has answered.
"""

from __future__ import annotations

import dataclasses
import operator
from collections.abc import Callable, Iterable, Sequence
from decimal import Decimal
from typing import IO, Any

from balancecli.core.errors import BalanceCliError
from balancecli.core.exactjson import _string as _escaped  # the one escaping rule of our JSON
from balancecli.core.exactjson import dumps_exact, number_text


def _float(value: float) -> str:
    return float.__repr__(value) if value == value and abs(value) != float("inf") else "null"


class Encoder:
    """Values and rows as JSON text; ``redact`` masks each string before it is encoded."""

    def __init__(self, redact: Callable[[str], str] | None = None) -> None:
        self._redact = redact
        self._strings: dict[str, str] = {}
        self._plans: dict[type, tuple[list[str], Callable[[Any], tuple[Any, ...]]]] = {}
        self._encoders: dict[type, Callable[[Any], str]] = {
            str: self.string, Decimal: self.number, type(None): lambda v: "null",
            bool: lambda v: "true" if v else "false", int: int.__repr__, float: _float,
        }

    def string(self, text: str) -> str:
        encoded = self._strings.get(text)
        if encoded is None:
            masked = self._redact(text) if self._redact else text
            encoded = self._strings[text] = _escaped(masked)
        return encoded

    @staticmethod
    def number(value: Decimal) -> str:
        return number_text(value) if value.is_finite() else "null"

    def value(self, value: Any) -> str:
        encoder = self._encoders.get(value.__class__)
        if encoder is not None:
            return encoder(value)
        return dumps_exact(value, redact=self._redact)  # dicts, lists, subclasses

    def row(self, row: Any, tail: Sequence[tuple[str, Any]] = ()) -> str:
        """A model row as an object: every field in declaration order, nulls included, then
        the ``tail`` fields (``--in``: ``value_in``, ``value``)."""
        plan = self._plans.get(row.__class__)
        if plan is None:
            names = [f.name for f in dataclasses.fields(row)]
            keys = [("{" if i == 0 else ", ") + self.string(n) + ": "
                    for i, n in enumerate(names)]
            plan = self._plans[row.__class__] = (keys, operator.attrgetter(*names))
        keys, get = plan
        encoders, value = self._encoders, self.value
        parts = []
        for key, v in zip(keys, get(row), strict=True):
            encoder = encoders.get(v.__class__)
            parts.append(key + (encoder(v) if encoder is not None else value(v)))
        for name, v in tail:
            parts.append(f", {self.string(name)}: {value(v)}")
        parts.append("}")
        return "".join(parts)


class _Buffered:
    """Writes in blocks of about 64 KiB: one syscall per block, not per row."""

    def __init__(self, out: IO[str], size: int = 1 << 16) -> None:
        self.out, self.size, self.length = out, size, 0
        self.parts: list[str] = []

    def write(self, text: str) -> None:
        self.parts.append(text)
        self.length += len(text)
        if self.length >= self.size:
            self.flush()

    def flush(self) -> None:
        if self.parts:
            self.out.write("".join(self.parts))
            self.parts, self.length = [], 0
        self.out.flush()


class Stream:
    """The rows of a command written as they arrive, as ``-f json`` or ``-f jsonl``.

    ``rows`` takes model rows (``values``: dicts; ``texts``: objects already encoded compactly)
    and writes them at once; ``close`` ends the document: for json the ``blocks`` (name,
    value) in order, then ``errors``. The json head (``schema``, ``generated_at``, the ``head``
    fields, then the rows' ``key``) is written with the first row (or at ``close``), so a run
    that ends in an error before any row prints nothing at all. ``indent`` (a person at a
    terminal): every row and block indented as ``dumps_exact(..., indent=...)`` would.
    """

    def __init__(self, out: IO[str], fmt: str, *, schema: str, key: str,
                 generated_at: Callable[[], str], head: Sequence[tuple[str, Any]] = (),
                 redact: Callable[[str], str] | None = None, indent: int | None = None) -> None:
        self._sink = _Buffered(out)
        self._encode = Encoder(redact)
        self._redact = redact
        self.fmt, self.schema, self.key, self.head = fmt, schema, key, list(head)
        self.indent = indent if fmt == "json" else None
        self._generated_at = generated_at
        self._started = False
        self.count = 0

    def _gap(self, level: int) -> str:
        return " " * ((self.indent or 0) * level)

    def _field(self, name: str, value: str) -> str:
        """``, "name": value`` at the top level of the document."""
        if self.indent is None:
            return f", {self._encode.string(name)}: {value}"
        return f",\n{self._gap(1)}{self._encode.string(name)}: {value}"

    def _block(self, value: Any) -> str:
        if self.indent is None:
            return self._encode.value(value)
        return dumps_exact(value, indent=self.indent, redact=self._redact, level=1)

    def _start(self) -> None:
        if self.fmt != "json" or self._started:
            return
        string = self._encode.string
        first = f"{string('schema')}: {string(self.schema)}"
        text = "{" + (first if self.indent is None else f"\n{self._gap(1)}{first}")
        fields = [("generated_at", self._generated_at()), *self.head]
        text += "".join(self._field(name, self._block(v)) for name, v in fields)
        self._sink.write(text + self._field(self.key, "["))
        self._started = True

    def rows(self, rows: Iterable[Any],
             tails: Sequence[Sequence[tuple[str, Any]]] | None = None) -> None:
        """Model rows; ``tails``: per row, the fields written after the model's."""
        row = self._encode.row
        if self.indent is not None:
            from balancecli.core.models import row_dict

            self.values([{**row_dict(r), **dict(t)} for r, t in _with(rows, tails)])
            return
        if tails is None:
            self._write([row(r) for r in rows])
        else:
            self._write([row(r, t) for r, t in zip(rows, tails, strict=True)])

    def values(self, values: Iterable[Any]) -> None:
        """Plain values (dicts) as rows."""
        if self.indent is None:
            self._write([self._encode.value(v) for v in values])
            return
        self._write([dumps_exact(v, indent=self.indent, redact=self._redact, level=2)
                     for v in values])

    def texts(self, texts: list[str]) -> None:
        """Rows already encoded (compact, masked); indented documents re-read them."""
        if self.indent is None:
            self._write(texts)
            return
        import json
        from decimal import Decimal

        self.values([json.loads(t, parse_float=Decimal) for t in texts])

    def _write(self, texts: list[str]) -> None:
        if not texts:
            return
        self._start()
        if self.fmt != "json":
            self._sink.write("\n".join(texts) + "\n")
        elif self.indent is None:
            self._sink.write((", " if self.count else "") + ", ".join(texts))
        else:
            sep = ",\n" + self._gap(2)
            self._sink.write((sep if self.count else "\n" + self._gap(2)) + sep.join(texts))
        self.count += len(texts)
        self._sink.flush()  # what is known is on its way to the reader

    def close(self, errors: Iterable[BalanceCliError] = (),
              blocks: Iterable[tuple[str, Any]] = ()) -> None:
        if self.fmt == "json":
            self._start()
            tail = [("\n" + self._gap(1) if self.indent is not None and self.count else "") + "]"]
            tail += [self._field(name, self._block(block)) for name, block in blocks]
            tail.append(self._field("errors", self._block([e.as_dict() for e in errors])))
            tail.append("\n}\n" if self.indent is not None else "}\n")
            self._sink.write("".join(tail))
        self._sink.flush()


def _with(rows: Iterable[Any], tails: Sequence[Sequence[tuple[str, Any]]] | None
          ) -> Iterable[tuple[Any, Sequence[tuple[str, Any]]]]:
    if tails is None:
        return ((r, ()) for r in rows)
    return zip(rows, tails, strict=True)
