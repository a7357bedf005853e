"""One HTTP client per profile: pooled connections, a total deadline, a size cap, bounded retries.

- URLs: each request URL is read by ``net.urls.split``, the parser that checked the config,
  and the connection goes to the host it read: a URL that parsers could read apart (a
  fragment, user info, a backslash, ...) is a ConfigError, never requested. Loopback is never
  proxied (``wire.resolve_host``).
- Deadline: ``timeout`` bounds the whole attempt (connect, headers and body), not each socket
  read: a server trickling a byte a second cannot hold a run. A watchdog thread shuts the
  socket down at the deadline; the body is read in chunks against the same monotonic deadline.
  The run's deadline (``--max-time``, ``deadline.RUN``) caps every attempt's, and no attempt,
  retry or backoff sleep starts that it would cut: ``OutOfTime`` (unavailable) instead.
- Size: the decoded body is capped (``max_response_bytes``, 16 MiB by default) while it is read
  and while it is decompressed (urllib3 >= 2.6 inflates at most what is asked for), so a gzip
  bomb or a 50 MB page fails as ``bad_response`` with little memory used.
- Retries: transport failures and retryable statuses (429, 5xx, and whatever a broker adds
  through ``retry_if``, e.g. TradeStation v2's "403 Quota Exceeded" HTML page) are retried with
  exponential backoff, honouring ``Retry-After`` and an exhausted ``X-RateLimit-Remaining``
  (``limiter.pause_seconds``), bounded in count (``max_retries``) and in total
  waiting (``retry_budget``). Any other status goes back to the broker, which knows its errors.
  An answer that is not HTTP (an endless header line, 10,000 headers, an SSH banner, two
  different Content-Lengths) is a BadResponseError, not retried: the connection worked.
- Concurrency: every attempt takes a slot of the host's process-wide ``HostLimiter``
  (balancecli.limiter), which adapts to the broker within its documented rate limit.
- Ctrl-C: no attempt or retry starts after it (``interrupt.CANCEL``), sockets in flight are shut.
- CPU: ``requests`` is used for what it does once per host: the environment (proxies,
  NO_PROXY, netrc, CA bundle) and its adapter's connection pool (proxy managers, TLS settings).
  Each request then goes straight to that pool, as ``HTTPAdapter.send`` would send it, and the
  answer is read from urllib3's response: no ``Session.request``, no ``requests.Response``, no
  cookie jar, no second read for the end of a body of declared length.

The exchange itself (per-host set-up, the pool, reading, transport errors) is in
``balancecli.wire``. ``requests`` is imported lazily: commands that do not fetch never load it.
"""

from __future__ import annotations

import random
import re
import threading
import time
from collections.abc import Callable, Mapping

from balancecli.core.errors import (
    AuthError,
    BalanceCliError,
    BrokerError,
    ConfigError,
    RateLimitedError,
    UnavailableError,
)
from balancecli.core.interrupt import CANCEL
from balancecli.core.redact import REDACTOR
from balancecli.net.deadline import RUN, OutOfTime
from balancecli.net.limiter import (
    CONGESTED,
    NEUTRAL,
    OK,
    Interrupted,
    RateLimit,
    pause_seconds,
    retry_after_seconds,
)
from balancecli.net.urls import BadUrl, Url, shown, split
from balancecli.net.wire import MAX_RESPONSE_BYTES, Failure, Host, Response, Wire, resolve_host

_UNSENDABLE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
__all__ = ["MAX_RESPONSE_BYTES", "HttpClient", "Response", "checked_headers",
           "retry_after_seconds", "status_error"]

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS"})


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
        pool_size: int | None = None,
        limits: RateLimit | None = None,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
        size_note: str = "setting max_response_bytes",
    ) -> None:
        self.profile = profile
        self.timeout = float(timeout)
        self.max_retries = max(0, int(max_retries))
        self.retry_backoff = float(retry_backoff)
        self.retry_budget = float(retry_budget)
        self.log = log
        self.limits = limits or RateLimit()
        self.pool_size = pool_size or max(self.limits.ceiling, 1)
        self.max_response_bytes = int(max_response_bytes)
        self.wire = Wire(self.pool_size, self.max_response_bytes, size_note)
        self._hosts: dict[str, Host] = {}
        self._lock = threading.Lock()
        self.request_count = 0

    def _split(self, url: str) -> Url:
        """``url`` read by ``urls.split``, the parser that checked the config: the host it
        names is the host connected to. A URL it refuses is a config error (exit 3)."""
        try:
            parts = split(url)
        except BadUrl as exc:
            raise ConfigError(f"cannot request {shown(url)}: {exc.reason}",
                              profile=self.profile,
                              next_step=f"fix the URL settings of [profiles.{self.profile}] "
                                        "in the config file") from None
        if parts.scheme not in ("http", "https"):
            raise ConfigError(f"cannot fetch {parts.scheme}:// URLs (only https and http)",
                              profile=self.profile)
        return parts

    def _host(self, url: Url) -> Host:
        base = url.origin
        host = self._hosts.get(base)
        if host is None:
            with self._lock:
                host = self._hosts.get(base) or resolve_host(url, self.limits)
                self._hosts[base] = host
        return host

    def close(self) -> None:
        self.wire.close()

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
        LongPort timestamp and signature per attempt), after the host's limiter let it go.
        """
        method = method.upper()
        full_url = f"{url}?{query}" if query else url
        target = self._split(full_url)
        host = self._host(target)
        timeout = self.timeout if timeout is None else float(timeout)
        body, content_type = _encode_body(data)
        waited = 0.0
        attempt = 0
        while True:
            if CANCEL.is_set():
                raise Interrupted()
            epoch = self._acquire(host, waited)
            outcome, wait = NEUTRAL, None
            try:
                if RUN.passed():
                    raise OutOfTime()
                hdrs = checked_headers(headers() if callable(headers) else headers)
                started = time.monotonic()
                try:
                    response = self.wire.attempt(method, target, hdrs, body, content_type,
                                                 host, RUN.bound(started + timeout), timeout)
                except Failure as failure:
                    self._log(method, full_url, failure.outcome, started)
                    if failure.outcome == "timeout" and RUN.passed():
                        raise OutOfTime() from None  # the run's deadline cut it short
                    error, retryable = failure.error, failure.retryable and method in IDEMPOTENT
                else:
                    self.request_count += 1
                    self._log(method, full_url, str(response.status), started)
                    wait = pause_seconds(response.headers)
                    outcome, judged, retryable = self._judge(method, host, response, retry_if)
                    if judged is None:
                        return response
                    error = judged
            finally:
                host.limiter.release(epoch, outcome, wait)
            wait = self._next_wait(error, retryable, attempt, waited, wait)
            if CANCEL.wait(wait):
                raise Interrupted()
            waited += wait
            attempt += 1

    def _acquire(self, host: Host, waited: float) -> int:
        """A slot of the host's limiter within the retry budget and the run's deadline."""
        budget, left = self.retry_budget - waited, RUN.left()
        try:
            return host.limiter.acquire(min(budget, left))
        except RateLimitedError:
            if left < budget:
                raise OutOfTime() from None
            raise

    @staticmethod
    def _judge(method: str, host: Host, response: Response,
               retry_if: Callable[[Response], bool] | None
               ) -> tuple[str, BalanceCliError | None, bool]:
        """(limiter outcome, the error to retry or raise, whether it may be retried); no error
        for an answer that goes back to the broker."""
        status = response.status
        if status == 429 or (retry_if is not None and retry_if(response)):
            return CONGESTED, RateLimitedError(f"rate limited by {host.name} (HTTP {status})",
                                               http_status=status), True
        if status in RETRY_STATUSES:
            return CONGESTED, UnavailableError(f"{host.name} answered HTTP {status}",
                                               http_status=status), method in IDEMPOTENT
        return OK, None, False

    def _next_wait(self, error: BalanceCliError, retryable: bool, attempt: int, waited: float,
                   wait: float | None) -> float:
        """Seconds to wait before the next attempt; raises ``error`` when there is none."""
        if wait is None:
            wait = self.retry_backoff * (2**attempt) * (1 + random.random() / 10)
        if not retryable or attempt >= self.max_retries or CANCEL.is_set():
            if attempt:
                error.message += f" after {attempt + 1} attempts"
            raise error
        if waited + wait > self.retry_budget:
            error.message += (
                f"; the server asks to wait {wait:.0f} s, more than the retry budget"
            )
            raise error
        if wait >= RUN.left():
            error.message += f"; no time left for a retry within {RUN.describe()}"
            raise error
        return wait

    def _log(self, method: str, url: str, outcome: str, started: float) -> None:
        if self.log is not None:
            ms = (time.monotonic() - started) * 1000
            self.log(REDACTOR.redact(f"{self.profile}: {method} {url} -> {outcome} ({ms:.0f} ms)"))


def checked_headers(headers: Mapping[str, str] | None) -> Mapping[str, str] | None:
    """``headers``, refused when a value could split or fold the header block (a line break or
    another control character, tab aside: http.client sends CRLF + space as a folded header) or
    cannot be encoded. Tokens are checked where they enter; this is the last guard, and it
    names the header, never its value."""
    for name, value in (headers or {}).items():
        if isinstance(value, str) and (_UNSENDABLE.search(value) or not _latin1(value)):
            raise AuthError(f"refused to send the {name} header: its value has a line break, "
                            "a control character or a character a header cannot carry",
                            next_step="check the profile's credentials: balancecli auth status")
    return headers


def _latin1(value: str) -> bool:
    """http.client encodes header values as ISO-8859-1: anything else raises mid-request."""
    try:
        value.encode("latin-1")
    except UnicodeEncodeError:
        return False
    return True


def _encode_body(data: bytes | Mapping[str, str] | None) -> tuple[bytes | None, str | None]:
    """(body, its Content-Type): a mapping is a form, as ``requests`` would send it."""
    if data is None or isinstance(data, bytes):
        return data or None, None
    from urllib.parse import urlencode

    return urlencode(list(data.items())).encode() or None, "application/x-www-form-urlencoded"


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
