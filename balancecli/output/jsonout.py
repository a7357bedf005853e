"""JSON and JSONL written as rows arrive, exact digits, fast.

The text is the same as ``render.to_json`` / ``render.to_jsonl``: the same separators, the
same exact numbers and string escaping (``exactjson``), every string masked before it is
encoded. But each row is encoded with a per-model plan (field names encoded once, one encoder
per value type, each distinct string masked and escaped once) and written out as soon as its
profile is done, so 10,000 rows take well under 0.2 s and the first rows reach ``jq`` before the
slowest broker has answered.
"""

from __future__ import annotations

import dataclasses
import operator
from collections.abc import Callable, Iterable
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

    def row(self, row: Any) -> str:
        """A model row as an object: every field in declaration order, nulls included."""
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
        parts.append("}")
        return "".join(parts)


class _Buffered:
    """Writes in blocks of about 64 KiB: one syscall per block, not per row."""

    def __init__(self, out: IO[str], size: int = 1 << 16) -> None:
        self.out, self.size, self.parts, self.length = out, size, [], 0

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
    """The rows of a data command written as they arrive, as ``-f json`` or ``-f jsonl``.

    ``rows`` takes each profile's rows (``fetch.run``'s ``on_rows``), keeps those ``keep``
    accepts and writes them at once; ``close`` ends the document: for json the ``blocks``
    (name, value) in order, then ``errors``. The json head is written with the first row (or at
    ``close``), so a run that ends in an error before any row prints nothing at all.
    """

    def __init__(self, out: IO[str], fmt: str, *, schema: str, key: str,
                 generated_at: Callable[[], str],
                 keep: Callable[[Any], bool] | None = None,
                 redact: Callable[[str], str] | None = None) -> None:
        self._sink = _Buffered(out)
        self._encode = Encoder(redact)
        self.fmt, self.schema, self.key = fmt, schema, key
        self._generated_at = generated_at
        self._keep = keep
        self._started = False
        self.count = 0

    def _start(self) -> None:
        if self.fmt == "json" and not self._started:
            string = self._encode.string
            self._sink.write(f'{{"schema": {string(self.schema)}, "generated_at": '
                             f'{string(self._generated_at())}, {string(self.key)}: [')
            self._started = True

    def rows(self, rows: Iterable[Any]) -> None:
        keep, row = self._keep, self._encode.row
        texts = [row(r) for r in rows if keep is None or keep(r)]
        if not texts:
            return
        self._start()
        if self.fmt == "json":
            self._sink.write((", " if self.count else "") + ", ".join(texts))
        else:
            self._sink.write("\n".join(texts) + "\n")
        self.count += len(texts)
        self._sink.flush()  # what is known is on its way to the reader

    def close(self, errors: Iterable[BalanceCliError] = (),
              blocks: Iterable[tuple[str, Any]] = ()) -> None:
        if self.fmt == "json":
            self._start()
            value, string = self._encode.value, self._encode.string
            tail = ["]"]
            for name, block in blocks:
                tail.append(f", {string(name)}: {value(block)}")
            tail.append(f', "errors": {value([e.as_dict() for e in errors])}}}\n')
            self._sink.write("".join(tail))
        self._sink.flush()
