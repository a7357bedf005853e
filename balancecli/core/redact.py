"""Secret values seen during the run, masked in everything printed and everything stored.

Every value read from the environment, the keyring or a token response is registered with
``REDACTOR``; the logger, the error boundary, every printer and the history store apply it.
Every secret is masked, whatever its length, as ``***``:

- a string value that IS a secret (a field a broker echoes a password or a PIN in);
- inside free text (a message, a name, a line of output), a secret of ``ANYWHERE`` characters
  or more wherever it appears (a token inside a URL or a quoted message); a shorter one, and
  one that looks like a number, only as a whole token: not glued to a letter, a digit or ``_``
  and not part of a number, a date or a time. A secret ``0000`` is masked in ``PIN 0000
  refused`` but not in ``10000.00``, ``0000.5``, ``1,0000`` or ``12:00:00``, and ``p4ss`` not
  in ``p4ssword``;
- never a number: amounts stay ``Decimal`` until they are printed, and ``redact_rendered``,
  for whole tables and CSV or JSON text whose strings were masked one by one before, leaves a
  secret that looks like a number alone, so an amount ``123456`` next to a 6-digit password
  still reads ``123456``.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from typing import Any

NOT_SECRET = frozenset({
    "username", "client_id", "user_id", "account_id", "access_token_expires_at",
    "token_expires_at", "refresh_token_expires_at",
})
MASK = "***"
ANYWHERE = 6  # a secret this long is masked wherever it appears, not only as a whole token
_NUMBER_LIKE = re.compile(r"[+-]?[0-9][0-9.,]*")

# How a form of a secret is looked for.
_ANYWHERE, _TOKEN, _NUMBER = "anywhere", "token", "number"


def _rule(form: str) -> str:
    if _NUMBER_LIKE.fullmatch(form):
        return _NUMBER
    return _ANYWHERE if len(form) >= ANYWHERE else _TOKEN


_JOINERS = ".,:-/"  # between two digits, part of one number, date or time (1,000.50 12:30)


def _glued(text: str, start: int, end: int) -> bool:
    """Whether ``text[start:end]`` is part of a longer word or number."""
    if start > 0:
        before = text[start - 1]
        if before.isalnum() or before == "_" or (
                before in _JOINERS and start > 1 and text[start - 2].isdigit()):
            return True
    if end < len(text):
        after = text[end]
        if after.isalnum() or after == "_" or (
                after in _JOINERS and end + 1 < len(text) and text[end + 1].isdigit()):
            return True
    return False


def _replace_tokens(text: str, form: str) -> str:
    """``text`` with each occurrence of ``form`` that is a whole token masked."""
    parts: list[str] = []
    at = 0
    found = text.find(form)
    while found >= 0:
        end = found + len(form)
        if _glued(text, found, end):
            found = text.find(form, found + 1)
            continue
        parts += [text[at:found], MASK]
        at = end
        found = text.find(form, end)
    return "".join(parts) + text[at:] if parts else text


class Redactor:
    """Masks every registered secret value (see the module docstring for where)."""

    def __init__(self) -> None:
        self._registered: set[str] = set()  # as given: registering again costs a set lookup
        self._exact: frozenset[str] = frozenset()  # every form: a value that is one is masked
        # (form, rule), longest first; a tuple replaced whole, never changed in place
        self._forms: tuple[tuple[str, str], ...] = ()
        self._lock = threading.Lock()

    def register(self, value: Any, field: str | None = None) -> None:
        """Remember a secret value. Identifiers that are not secret (user names, client ids,
        expiry times) are skipped so that ordinary words are not masked in output."""
        if field is not None and field.lower() in NOT_SECRET:
            return
        if not isinstance(value, str) or value in self._registered or not value.strip():
            return
        # Also as JSON and CSV write it (\" and ""): text already encoded elsewhere is
        # masked too (the renderers also mask values before encoding).
        forms = {value, value.replace('"', '""'), json.dumps(value)[1:-1],
                 json.dumps(value, ensure_ascii=False)[1:-1]}
        with self._lock:
            exact = self._exact | forms
            self._forms = tuple(sorted(((f, _rule(f)) for f in exact),
                                       key=lambda item: len(item[0]), reverse=True))
            self._exact = exact
            self._registered.add(value)

    def redact(self, text: str) -> str:
        """Free text or a string value, every secret in it masked."""
        return self._mask(text, numbers=True)

    def redact_rendered(self, text: str) -> str:
        """Rendered output (a table, CSV or JSON text) whose strings were masked one by one:
        its secrets masked, but never a number in it (a secret that looks like one is left)."""
        return self._mask(text, numbers=False)

    def _mask(self, text: str, *, numbers: bool) -> str:
        forms = self._forms
        if not forms:
            return text
        if text in self._exact:
            return MASK
        for form, rule in forms:
            if form not in text:
                continue
            if rule == _ANYWHERE:
                text = text.replace(form, MASK)
            elif rule == _TOKEN or numbers:
                text = _replace_tokens(text, form)
        return text

    def masker(self) -> Callable[[Any], Any]:
        """A function masking every string in a value (dicts, keys included, and lists
        walked; numbers and everything else as they are), each distinct string once."""
        if not self._forms:
            return lambda value: value
        cache: dict[str, str] = {}

        def walk(v: Any) -> Any:
            if isinstance(v, str):
                if v not in cache:
                    cache[v] = self.redact(v)
                return cache[v]
            if isinstance(v, dict):
                return {walk(k): walk(x) for k, x in v.items()}
            if isinstance(v, list | tuple):
                return [walk(x) for x in v]
            return v

        return walk


REDACTOR = Redactor()


def mask(value: str | None) -> str | None:
    """At most the last 4 characters of a secret, for `auth status`."""
    if not value:
        return None
    return "…" + value[-4:] if len(value) > 8 else "***"
