"""One HTTP client per profile: pooled connections, a total deadline, a size cap, bounded retries.

- Deadline: ``timeout`` bounds the whole attempt (connect, headers and body), not each socket
  read: a server trickling a byte a second cannot hold a run. A watchdog thread shuts the
  socket down at the deadline; the body is read in chunks against the same monotonic deadline.
- Size: the decoded body is capped (``max_response_bytes``, 16 MiB by default) while it is read
  and while it is decompressed (urllib3 >= 2.6 inflates at most what is asked for), so a gzip
  bomb or a 50 MB page fails as ``bad_response`` with little memory used.
- Retries: transport failures and retryable statuses (429, 5xx, and whatever a broker adds
  through ``retry_if``, e.g. TradeStation v2's "403 Quota Exceeded" HTML page) are retried with
  exponential backoff, honouring ``Retry-After``, bounded in count (``max_retries``) and in total
  waiting (``retry_budget``). Any other status goes back to the broker, which knows its errors.
- Concurrency: every attempt takes a slot of the host's process-wide ``HostLimiter``
  (balancecli.limiter), which adapts to the broker within its documented rate limit.
- Ctrl-C: no attempt or retry starts after it (``interrupt.CANCEL``), sockets in flight are shut.
- CPU: ``requests`` is used for what it does once per host: the environment (proxies,
  NO_PROXY, netrc, CA bundle) and its adapter's connection pool (proxy managers, TLS settings).
  Each request then goes straight to that pool, as ``HTTPAdapter.send`` would send it, and the
  answer is read from urllib3's response: no ``Session.request``, no ``requests.Response``, no
  cookie jar, no second read for the end of a body of declared length.

``requests`` is imported lazily, so commands that do not fetch never load it.
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

from balancecli.deadline import WATCHDOG, Guard, adapter_class
from balancecli.errors import (
    AuthError,
    BadResponseError,
    BalanceCliError,
    BrokerError,
    RateLimitedError,
    UnavailableError,
)
from balancecli.interrupt import CANCEL
from balancecli.limiter import CONGESTED, NEUTRAL, OK, HostLimiter, Interrupted, RateLimit
from balancecli.limiter import limiter_for as _limiter_for
from balancecli.models import loads
from balancecli.secrets import REDACTOR

USER_AGENT = "balancecli/0.1 (+read-only balance inspector)"
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS"})
MAX_RESPONSE_BYTES = 16 * 1024 * 1024
CHUNK = 64 * 1024
BASE_HEADERS = {"User-Agent": USER_AGENT, "Accept-Encoding": "gzip, deflate", "Accept": "*/*",
                "Connection": "keep-alive"}


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
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        return max(0.0, when.timestamp() - time.time())
    return max(0.0, seconds) if seconds == seconds else None  # NaN: ignore


# -- per host ---------------------------------------------------------------------------------

@dataclass
class _Host:
    """What is resolved once per host: its limiter, proxies and netrc credentials, and (on
    first use) the connection pool of the client's adapter and how URLs go on the wire."""

    name: str
    limiter: HostLimiter
    proxies: dict[str, str]
    netrc_auth: str | None
    origin: str = ""  # scheme://host:port
    pool: Any = None
    absolute: bool = False  # plain HTTP through a proxy: the full URL on the request line


def _resolve_host(base: str, limits: RateLimit) -> _Host:
    """Read the environment once for this host, the way ``requests`` would on every call
    (HTTP(S)_PROXY / ALL_PROXY honouring NO_PROXY, and ~/.netrc)."""
    from requests.auth import _basic_auth_str
    from requests.utils import get_environ_proxies, get_netrc_auth

    scheme, _, netloc = base.partition("://")
    netloc = netloc.rpartition("@")[2]  # user info never reaches a message or a limiter key
    proxies = get_environ_proxies(f"{scheme}://{netloc}/") or {}
    auth = get_netrc_auth(f"{scheme}://{netloc}/")
    origin = f"{scheme}://{netloc}"
    return _Host(netloc, _limiter_for(origin, limits), dict(proxies),
                 _basic_auth_str(*auth) if auth else None, origin)


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
        self._adapter: Any = None
        self._verify: Any = True
        self._hosts: dict[str, _Host] = {}
        self._timeouts: dict[float, Any] = {}  # urllib3 Timeout objects (urlopen copies them)
        self._lock = threading.Lock()
        self.request_count = 0

    def _setup(self) -> Any:
        with self._lock:
            if self._adapter is None:
                # Retries are ours (they must re-sign LongPort requests); the adapter does none.
                self._adapter = adapter_class()(
                    pool_connections=16, pool_maxsize=self.pool_size, max_retries=0)
                self._verify = (os.environ.get("REQUESTS_CA_BUNDLE")
                                or os.environ.get("CURL_CA_BUNDLE") or True)
            return self._adapter

    def _host(self, url: str) -> _Host:
        scheme, _, rest = url.partition("://")
        base = f"{scheme.lower()}://{rest.split('/', 1)[0].split('?', 1)[0]}"
        host = self._hosts.get(base)
        if host is None:
            if scheme.lower() not in ("http", "https"):
                raise UnavailableError(f"cannot fetch {scheme}:// URLs (only https and http)")
            with self._lock:
                host = self._hosts.get(base) or _resolve_host(base, self.limits)
                self._hosts[base] = host
        return host

    def close(self) -> None:
        if self._adapter is not None:
            self._adapter.close()

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
        host = self._host(url)
        timeout = self.timeout if timeout is None else float(timeout)
        body, content_type = _encode_body(data)
        waited = 0.0
        attempt = 0
        while True:
            if CANCEL.is_set():
                raise Interrupted()
            epoch = host.limiter.acquire(self.retry_budget - waited)
            outcome, wait = NEUTRAL, None
            try:
                hdrs = headers() if callable(headers) else headers
                started = time.monotonic()
                try:
                    response = self._attempt(method, full_url, hdrs, body, content_type,
                                             host, started + timeout, timeout)
                except _Failure as failure:
                    self._log(method, full_url, failure.outcome, started)
                    error, retryable = failure.error, failure.retryable and method in IDEMPOTENT
                else:
                    self.request_count += 1
                    self._log(method, full_url, str(response.status), started)
                    status = response.status
                    wait = retry_after_seconds(response.headers.get("Retry-After"))
                    if status == 429 or (retry_if is not None and retry_if(response)):
                        outcome = CONGESTED
                        error = RateLimitedError(f"rate limited by {host.name} (HTTP {status})",
                                                 http_status=status)
                        retryable = True
                    elif status in RETRY_STATUSES:
                        outcome = CONGESTED
                        error = UnavailableError(f"{host.name} answered HTTP {status}",
                                                 http_status=status)
                        retryable = method in IDEMPOTENT
                    else:
                        outcome = OK
                        return response
            finally:
                host.limiter.release(epoch, outcome, wait)
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
            if CANCEL.wait(wait):
                raise Interrupted()
            waited += wait
            attempt += 1

    def _pool(self, host: _Host) -> tuple[Any, bool]:
        """The adapter's connection pool for ``host`` (through its proxy, if any), set up once
        as ``HTTPAdapter.send`` would on every call: TLS settings, and the URL form."""
        from requests.models import PreparedRequest

        pool = host.pool
        if pool is not None and pool.pool is not None:  # a pool the manager closed is replaced
            return pool, host.absolute
        adapter = self._adapter or self._setup()
        with self._lock:
            probe = PreparedRequest()
            probe.method, probe.url, probe.headers, probe.body = "GET", host.origin + "/", {}, None
            pool = adapter.get_connection_with_tls_context(probe, self._verify,
                                                           proxies=host.proxies)
            adapter.cert_verify(pool, probe.url, self._verify, None)
            absolute = adapter.request_url(probe, host.proxies) != "/"
            host.pool, host.absolute = pool, absolute
        return pool, absolute

    def _timeout_for(self, seconds: float) -> Any:
        from urllib3.util import Timeout

        timeout = self._timeouts[seconds] = Timeout(connect=seconds, read=seconds)
        return timeout

    def _attempt(self, method: str, url: str, headers: Mapping[str, str] | None,
                 body: bytes | None, content_type: str | None, host: _Host, deadline: float,
                 timeout: float) -> Response:
        """One exchange within ``deadline``; a _Failure says what went wrong.

        The request goes straight to the pool of ``requests``' adapter (what ``HTTPAdapter.send``
        does after its per-call set-up, which ``_pool`` did once for the host), and the answer
        is urllib3's response, read by ``_read``: no ``requests.Response``, no cookie jar."""
        import requests
        from urllib3 import exceptions as u3

        hdrs = _merge_headers(content_type, headers)
        if host.netrc_auth and "authorization" not in hdrs:
            hdrs["authorization"] = ("Authorization", host.netrc_auth)  # never the broker's
        if body is not None:
            hdrs["content-length"] = ("Content-Length", str(len(body)))
        elif method not in ("GET", "HEAD"):
            hdrs["content-length"] = ("Content-Length", "0")
        guard = WATCHDOG.arm(deadline)
        raw = None
        complete = False
        try:
            try:
                pool, absolute = self._pool(host)
                raw = pool.urlopen(
                    method=method, url=url if absolute else _path_of(url),
                    body=body, headers=dict(hdrs.values()), redirect=False,
                    assert_same_host=False, preload_content=False, decode_content=False,
                    retries=self._adapter.max_retries, chunked=False,
                    timeout=self._timeouts.get(timeout) or self._timeout_for(timeout))
            except u3.TimeoutError as exc:  # a read or connect timeout, not a refusal
                if not isinstance(exc, u3.NewConnectionError):
                    raise self._timed_out(host, timeout) from None
                raise self._broken(exc, host, guard, timeout, connect=True) from None
            except u3.MaxRetryError as exc:  # retries=0: the first failure, as requests maps it
                reason = exc.reason
                if (isinstance(reason, u3.ConnectTimeoutError)
                        and not isinstance(reason, u3.NewConnectionError)):
                    raise self._timed_out(host, timeout) from None
                raise self._broken(reason or exc, host, guard, timeout,
                                   connect=not isinstance(reason, u3.ResponseError)) from None
            except u3.LocationValueError as exc:
                raise self._broken(exc, host, guard, timeout, connect=False) from None
            except (u3.HTTPError, OSError, requests.RequestException) as exc:
                raise self._broken(exc, host, guard, timeout, connect=True) from None
            content = self._read(raw, host, guard, deadline, timeout)
            complete = True
            return Response(raw.status, raw.headers, content, url)
        finally:
            WATCHDOG.disarm(guard)
            if raw is not None:
                if not complete:
                    raw.close()  # a half-read connection is not reused
                raw.release_conn()

    def _read(self, raw: Any, host: _Host, guard: Guard, deadline: float,
              timeout: float) -> bytes:
        """The decoded body, chunk by chunk, within the deadline and the size cap."""
        cap = self.max_response_bytes
        declared = raw.headers.get("Content-Length", "")
        if (declared.isdigit() and int(declared) > cap
                and not raw.headers.get("Content-Encoding")):
            raise _Failure(self._too_big(host, cap), "too large", retryable=False)
        chunks: list[bytes] = []
        total = 0
        identity = not raw.headers.get("Content-Encoding")
        try:
            while True:
                chunk = raw.read(CHUNK, decode_content=True)
                if not chunk:
                    break
                total += len(chunk)
                if total > cap:
                    raise _Failure(self._too_big(host, cap), "too large", retryable=False)
                chunks.append(chunk)
                if time.monotonic() > deadline:
                    raise self._timed_out(host, timeout)
                if identity and raw.length_remaining == 0:
                    break  # all the declared bytes: no read for the end (the pool has it back)
        except _Failure:
            raise
        except Exception as exc:  # urllib3 and socket errors: ProtocolError, DecodeError, ...
            if type(exc).__name__ == "DecodeError":
                encoding = raw.headers.get("Content-Encoding", "")
                raise _Failure(BadResponseError(
                    f"{host.name} sent a body that does not decode as {encoding or 'declared'}"),
                    "undecodable", retryable=False) from None
            raise self._broken(exc, host, guard, timeout, connect=False) from None
        return b"".join(chunks)

    @staticmethod
    def _too_big(host: _Host, cap: int) -> BadResponseError:
        return BadResponseError(
            f"{host.name} sent a response larger than {_size(cap)} (setting max_response_bytes)")

    @staticmethod
    def _timed_out(host: _Host, timeout: float) -> _Failure:
        return _Failure(UnavailableError(f"{host.name} did not answer within {timeout:g} s"),
                        "timeout")

    def _broken(self, exc: BaseException, host: _Host, guard: Guard, timeout: float,
                connect: bool) -> _Failure:
        if CANCEL.is_set():
            return _Failure(Interrupted(), "interrupted", retryable=False)
        if guard.fired or "timed out" in str(exc).lower():
            return self._timed_out(host, timeout)
        if connect:
            return _Failure(UnavailableError(f"could not connect to {host.name} ({_reason(exc)})"),
                            "connection error")
        return _Failure(UnavailableError(f"the connection to {host.name} broke ({_reason(exc)})"),
                        "connection error")

    def _log(self, method: str, url: str, outcome: str, started: float) -> None:
        if self.log is not None:
            ms = (time.monotonic() - started) * 1000
            self.log(REDACTOR.redact(f"{self.profile}: {method} {url} -> {outcome} ({ms:.0f} ms)"))


class _Failure(Exception):
    """An attempt that failed before a usable response: the error and whether to retry."""

    def __init__(self, error: BalanceCliError, outcome: str, retryable: bool = True) -> None:
        self.error, self.outcome, self.retryable = error, outcome, retryable


def _merge_headers(content_type: str | None,
                   headers: Mapping[str, str] | None) -> dict[str, tuple[str, str]]:
    """Our base headers, then the broker's, case-insensitively (later wins): lower-cased name
    -> (name as given, value)."""
    merged = {name.lower(): (name, value) for name, value in BASE_HEADERS.items()}
    if content_type:
        merged["content-type"] = ("Content-Type", content_type)
    if headers:
        for name, value in headers.items():
            merged[name.lower()] = (name, value)
    return merged


def _path_of(url: str) -> str:
    """What follows scheme://host on the request line ("/" at least), as requests sends it."""
    rest = url.partition("://")[2]
    path = rest[len(rest.split("/", 1)[0].split("?", 1)[0]):]
    return path if path.startswith("/") else "/" + path


def _encode_body(data: bytes | Mapping[str, str] | None) -> tuple[bytes | None, str | None]:
    """(body, its Content-Type): a mapping is a form, as ``requests`` would send it."""
    if data is None or isinstance(data, bytes):
        return data or None, None
    from urllib.parse import urlencode

    return urlencode(list(data.items())).encode() or None, "application/x-www-form-urlencoded"


def _size(n: int) -> str:
    return f"{n / 1048576:g} MiB" if n >= 1048576 else f"{n} bytes"


def _reason(exc: BaseException) -> str:
    text = str(exc)
    if "CERTIFICATE_VERIFY_FAILED" in text:
        return "its TLS certificate is not trusted here; a private CA goes in REQUESTS_CA_BUNDLE"
    for marker in ("Connection refused", "Connection reset", "Name or service not known",
                   "Remote end closed connection", "RemoteDisconnected", "timed out",
                   "IncompleteRead"):
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
