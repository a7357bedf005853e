"""Secret values seen during the run, masked in everything printed.

Every value read from the environment, the keyring or a token response is registered with
``REDACTOR``; the logger and the error boundary apply it to every line they print.
"""

from __future__ import annotations

import json
import threading
from typing import Any

NOT_SECRET = frozenset({
    "username", "client_id", "user_id", "account_id", "access_token_expires_at",
    "token_expires_at", "refresh_token_expires_at",
})


class Redactor:
    """Replaces every registered secret value with ``***`` (and its last 4 characters)."""

    def __init__(self) -> None:
        self._values: set[str] = set()
        self._registered: set[str] = set()  # as given: registering again costs a set lookup
        self._longest_first: list[str] = []  # what redact() replaces, longest first
        self._lock = threading.Lock()

    def register(self, value: Any, field: str | None = None) -> None:
        """Remember a secret value. Identifiers that are not secret (user names, client ids,
        expiry times) are skipped so that ordinary words are not masked in output."""
        if field is not None and field.lower() in NOT_SECRET:
            return
        if isinstance(value, str) and len(value) >= 6 and value not in self._registered:
            # Also as JSON and CSV write it (\" and ""): text already encoded elsewhere is
            # masked too (the renderers also mask values before encoding).
            forms = {value, value.replace('"', '""'), json.dumps(value)[1:-1],
                     json.dumps(value, ensure_ascii=False)[1:-1]}
            with self._lock:
                self._values.update(forms)
                self._longest_first = sorted(self._values, key=len, reverse=True)
                self._registered.add(value)

    def redact(self, text: str) -> str:
        for value in self._longest_first:  # a list replaced whole, never changed in place
            if value in text:
                text = text.replace(value, "***")
        return text


REDACTOR = Redactor()


def mask(value: str | None) -> str | None:
    """At most the last 4 characters of a secret, for `auth status`."""
    if not value:
        return None
    return "…" + value[-4:] if len(value) > 8 else "***"
