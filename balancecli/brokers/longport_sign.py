"""LongPort API-key requests: the HMAC signature, the timestamp and the trade-API throttle.

Sources: ``shared/reference/brokers.md`` §3.2 (b) and §3.4 (openapi-website
how-to-access-api.md; the Rust SDK's ``httpclient/src/signature.rs`` and ``request.rs``).

- ``X-Api-Signature`` is HMAC-SHA256 (keyed with the app secret) over the SHA-1 of a canonical
  request: method, path, the raw wire query, the signed headers ``authorization;x-api-key;
  x-timestamp`` and the body's SHA-1. The query is signed exactly as sent (openapi#180).
- ``X-Timestamp`` must differ for every request: the service answers 403202 "duplicate request"
  to a replayed signature.
- The trade API allows at most 30 calls per 30 s, 0.02 s apart, per credential.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from collections import deque

SIGNED_HEADERS = "authorization;x-api-key;x-timestamp"


def sign(method: str, path: str, query: str, headers: dict[str, str], app_secret: str,
         body: bytes = b"") -> str:
    """The ``X-Api-Signature`` value (brokers.md §3.2 (b), how-to-access-api.md)."""
    signed = "".join(f"{name}:{headers[name]}\n" for name in SIGNED_HEADERS.split(";"))
    canonical = f"{method.upper()}|{path}|{query}|{signed}|{SIGNED_HEADERS}|"
    if body:
        canonical += hashlib.sha1(body).hexdigest()
    to_sign = "HMAC-SHA256|" + hashlib.sha1(canonical.encode()).hexdigest()
    digest = hmac.new(app_secret.encode(), to_sign.encode(), hashlib.sha256).hexdigest()
    return f"HMAC-SHA256 SignedHeaders={SIGNED_HEADERS}, Signature={digest}"


_clock_lock = threading.Lock()
_last_ms = 0


def timestamp() -> str:
    """Milliseconds, strictly increasing within the process (403202 on a reused timestamp)."""
    global _last_ms
    with _clock_lock:
        _last_ms = max(int(time.time() * 1000), _last_ms + 1)
        return str(_last_ms)


class Throttle:
    """At most 30 trade calls per 30 s, 0.02 s apart, per host and credential (§3.4)."""

    def __init__(self, calls: int = 30, period: float = 30.0, gap: float = 0.02) -> None:
        self.calls, self.period, self.gap = calls, period, gap
        self._lock = threading.Lock()
        self._sent: dict[tuple[str, str], deque[float]] = {}

    def wait(self, key: tuple[str, str]) -> None:
        while True:
            with self._lock:
                now = time.monotonic()
                sent = self._sent.setdefault(key, deque())
                while sent and sent[0] <= now - self.period:
                    sent.popleft()
                delay = sent[-1] + self.gap - now if sent else 0.0
                if len(sent) >= self.calls:
                    delay = max(delay, sent[0] + self.period - now)
                if delay <= 0:
                    sent.append(now)
                    return
            time.sleep(delay)


THROTTLE = Throttle()
