"""One HTTP client per profile: a pooled ``requests.Session``, timeouts, bounded retries.

Transport failures and retryable statuses (429, 5xx, and whatever a broker adds through
``retry_if``, e.g. TradeStation v2's "403 Quota Exceeded" HTML page) are retried with exponential
backoff, honouring ``Retry-After``, bounded in count (``max_retries``) and in total waiting time
(``retry_budget``). Any other status is returned to the broker, which knows its error shapes.

``requests`` is imported here only, so commands that do not fetch never load it.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

from balancecli.errors import (
    AuthError,
    BalanceCliError,
    BrokerError,
    RateLimitedError,
    UnavailableError,
)
from balancecli.models import loads
from balancecli.secrets import REDACTOR

USER_AGENT = "balancecli/0.1 (+read-only balance inspector)"
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass
class Response:
    status: int
    headers: Mapping[str, str]
    content: bytes
    url: str

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")

    def json(self) -> Any:
        """The body parsed with exact decimals; anything else is a BadResponseError."""
        return loads(self.content)

    @property
    def is_json(self) -> bool:
        return "json" in self.headers.get("Content-Type", "").lower() or self.content.lstrip()[
            :1
        ] in (b"{", b"[")


def retry_after_seconds(value: str | None) -> float | None:
    """``Retry-After`` as seconds: delta-seconds or an HTTP date (RFC 9110 §10.2.3)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


class HttpClient:
    """Requests for one profile, sharing one connection pool."""

    def __init__(
        self,
        profile: str,
        *,
        timeout: float = 15.0,
        max_retries: int = 3,
        retry_backoff: float = 0.5,
        retry_budget: float = 30.0,
        log: Callable[[str], None] | None = None,
        pool_size: int = 16,
    ) -> None:
        self.profile = profile
        self.timeout = float(timeout)
        self.max_retries = max(0, int(max_retries))
        self.retry_backoff = float(retry_backoff)
        self.retry_budget = float(retry_budget)
        self.log = log
        self.pool_size = pool_size
        self._session: Any = None
        self._lock = threading.Lock()
        self.request_count = 0

    @property
    def session(self) -> Any:
        with self._lock:
            if self._session is None:
                import requests
                from requests.adapters import HTTPAdapter

                session = requests.Session()
                # Retries are ours (they must re-sign LongPort requests); the adapter does none.
                adapter = HTTPAdapter(
                    pool_connections=1, pool_maxsize=self.pool_size, max_retries=0
                )
                session.mount("https://", adapter)
                session.mount("http://", adapter)
                session.headers["User-Agent"] = USER_AGENT
                session.trust_env = True
                self._session = session
            return self._session

    def close(self) -> None:
        if self._session is not None:
            self._session.close()

    def request(
        self,
        method: str,
        url: str,
        *,
        query: str = "",
        headers: Mapping[str, str] | Callable[[], Mapping[str, str]] | None = None,
        data: bytes | Mapping[str, str] | None = None,
        retry_if: Callable[[Response], bool] | None = None,
        timeout: float | None = None,
    ) -> Response:
        """Send one request, retrying what is safe to retry.

        ``query`` is sent exactly as given (already percent-encoded) so that a signature over it
        matches the wire. ``headers`` may be a callable, called again for each attempt (a fresh
        LongPort timestamp and signature per attempt).
        """
        import requests

        method = method.upper()
        full_url = f"{url}?{query}" if query else url
        host = urlsplit(url).netloc
        timeout = self.timeout if timeout is None else float(timeout)
        waited = 0.0
        attempt = 0
        while True:
            hdrs = dict(headers() if callable(headers) else (headers or {}))
            started = time.monotonic()
            error: BalanceCliError
            wait: float | None = None
            try:
                raw = self.session.request(
                    method, full_url, headers=hdrs, data=data, timeout=(timeout, timeout),
                    allow_redirects=False,
                )
                content = raw.content
            except requests.Timeout:
                self._log(method, full_url, "timeout", started)
                error = UnavailableError(f"{host} did not answer within {timeout:g} s")
                retryable = method in IDEMPOTENT
            except requests.ConnectionError as exc:
                self._log(method, full_url, "connection error", started)
                error = UnavailableError(f"could not connect to {host} ({_reason(exc)})")
                retryable = method in IDEMPOTENT
            except requests.RequestException as exc:
                self._log(method, full_url, "error", started)
                raise UnavailableError(f"request to {host} failed ({_reason(exc)})") from None
            else:
                self.request_count += 1
                response = Response(raw.status_code, raw.headers, content, full_url)
                self._log(method, full_url, str(raw.status_code), started)
                limited = raw.status_code == 429 or (retry_if is not None and retry_if(response))
                if limited:
                    error = RateLimitedError(
                        f"rate limited by {host} (HTTP {raw.status_code})",
                        http_status=raw.status_code,
                    )
                    wait = retry_after_seconds(raw.headers.get("Retry-After"))
                    retryable = True
                elif raw.status_code in RETRY_STATUSES:
                    error = UnavailableError(
                        f"{host} answered HTTP {raw.status_code}", http_status=raw.status_code
                    )
                    wait = retry_after_seconds(raw.headers.get("Retry-After"))
                    retryable = method in IDEMPOTENT
                else:
                    return response
            if wait is None:
                wait = self.retry_backoff * (2**attempt) * (1 + random.random() / 10)
            if not retryable or attempt >= self.max_retries:
                if attempt:
                    error.message += f" after {attempt + 1} attempts"
                raise error
            if waited + wait > self.retry_budget:
                error.message += (
                    f"; the server asks to wait {wait:.0f} s, more than the retry budget"
                )
                raise error
            time.sleep(wait)
            waited += wait
            attempt += 1

    def _log(self, method: str, url: str, outcome: str, started: float) -> None:
        if self.log is not None:
            ms = (time.monotonic() - started) * 1000
            self.log(REDACTOR.redact(f"{self.profile}: {method} {url} -> {outcome} ({ms:.0f} ms)"))


def _reason(exc: Exception) -> str:
    text = str(exc)
    for marker in ("Connection refused", "Connection reset", "Name or service not known",
                   "Remote end closed connection", "RemoteDisconnected", "timed out"):
        if marker in text:
            return marker.lower()
    return type(exc).__name__


def status_error(response: Response, detail: str | None = None) -> BalanceCliError:
    """A generic error for an unexpected status, for brokers without a better mapping."""
    status = response.status
    message = f"HTTP {status}" + (f": {detail}" if detail else "")
    if status == 401:
        return AuthError(f"credentials rejected ({message})", http_status=status)
    if status == 429:
        return RateLimitedError(f"rate limited ({message})", http_status=status)
    if status >= 500:
        return UnavailableError(f"server error ({message})", http_status=status)
    return BrokerError(f"request refused ({message})", http_status=status)
