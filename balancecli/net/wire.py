"""One exchange on the wire, for ``balancecli.http``: what is resolved once per host, the
request sent straight to the adapter's connection pool, the body read within the deadline and
the size cap, and transport failures named in one line (``balancecli.http`` says why).

``requests`` and urllib3 are imported lazily, so commands that do not fetch never load them.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from balancecli.core.errors import BadResponseError, BalanceCliError, UnavailableError
from balancecli.core.interrupt import CANCEL
from balancecli.core.jsonread import loads
from balancecli.net.deadline import WATCHDOG, Guard, adapter_class
from balancecli.net.limiter import HostLimiter, Interrupted, RateLimit, limiter_for
from balancecli.net.urls import Url

USER_AGENT = "balancecli/0.1 (+read-only balance inspector)"
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


# -- per host ---------------------------------------------------------------------------------

@dataclass
class Host:
    """What is resolved once per host: its limiter, proxies and netrc credentials, and (on
    first use) the connection pool of the client's adapter and how URLs go on the wire."""

    name: str
    limiter: HostLimiter
    proxies: dict[str, str]
    netrc_auth: str | None
    origin: str = ""  # scheme://host:port
    pool: Any = None
    absolute: bool = False  # plain HTTP through a proxy: the full URL on the request line


def resolve_host(url: Url, limits: RateLimit) -> Host:
    """Read the environment once for this host, the way ``requests`` would on every call
    (HTTP(S)_PROXY / ALL_PROXY honouring NO_PROXY, and ~/.netrc), for the host ``urls.split``
    read: the one the config check saw. Loopback is never proxied, NO_PROXY or not: a
    request to 127.0.0.1 (the Quantower bridge, with its bearer token) must not leave the
    machine, and in plain http at that."""
    from requests.auth import _basic_auth_str
    from requests.utils import get_environ_proxies, get_netrc_auth

    origin = url.origin
    proxies = {} if url.is_loopback else get_environ_proxies(origin + "/") or {}
    auth = get_netrc_auth(origin + "/")
    return Host(url.netloc, limiter_for(origin, limits), dict(proxies),
                 _basic_auth_str(*auth) if auth else None, origin)


class Failure(Exception):
    """An attempt that failed before a usable response: the error and whether to retry."""

    def __init__(self, error: BalanceCliError, outcome: str, retryable: bool = True) -> None:
        self.error, self.outcome, self.retryable = error, outcome, retryable


class Wire:
    """The connection side of one ``HttpClient``: its adapter, CA bundle and pools."""

    def __init__(self, pool_size: int, max_response_bytes: int,
                 size_note: str = "setting max_response_bytes") -> None:
        self.pool_size = pool_size
        self.max_response_bytes = max_response_bytes
        self.size_note = size_note  # what the size cap's message says in brackets
        self.adapter: Any = None
        self.verify: Any = True
        self.timeouts: dict[float, Any] = {}  # urllib3 Timeout objects (urlopen copies them)
        self._lock = threading.Lock()

    def setup(self) -> Any:
        with self._lock:
            if self.adapter is None:
                # Retries are ours (they must re-sign LongPort requests); the adapter does none.
                self.adapter = adapter_class()(
                    pool_connections=16, pool_maxsize=self.pool_size, max_retries=0)
                self.verify = (os.environ.get("REQUESTS_CA_BUNDLE")
                               or os.environ.get("CURL_CA_BUNDLE") or True)
            return self.adapter

    def close(self) -> None:
        if self.adapter is not None:
            self.adapter.close()

    def pool(self, host: Host) -> tuple[Any, bool]:
        """The adapter's connection pool for ``host`` (through its proxy, if any), set up once
        as ``HTTPAdapter.send`` would on every call: TLS settings, and the URL form."""
        from requests.models import PreparedRequest
        from requests.structures import CaseInsensitiveDict

        pool = host.pool
        if pool is not None and pool.pool is not None:  # a pool the manager closed is replaced
            return pool, host.absolute
        adapter = self.adapter or self.setup()
        with self._lock:
            probe = PreparedRequest()
            probe.method, probe.url, probe.body = "GET", host.origin + "/", None
            probe.headers = CaseInsensitiveDict()
            pool = adapter.get_connection_with_tls_context(probe, self.verify,
                                                           proxies=host.proxies)
            adapter.cert_verify(pool, probe.url, self.verify, None)
            absolute = adapter.request_url(probe, host.proxies) != "/"
            host.pool, host.absolute = pool, absolute
        return pool, absolute

    def timeout_for(self, seconds: float) -> Any:
        """urllib3's Timeout of ``seconds`` (urlopen copies it): one per value of --timeout,
        and a new one for an attempt cut short by the run's deadline."""
        timeout = self.timeouts.get(seconds)
        if timeout is None:
            from urllib3.util import Timeout

            timeout = Timeout(connect=seconds, read=seconds)
            if len(self.timeouts) < 8:
                self.timeouts[seconds] = timeout
        return timeout

    def attempt(self, method: str, url: Url, headers: Mapping[str, str] | None,
                 body: bytes | None, content_type: str | None, host: Host, deadline: float,
                 timeout: float) -> Response:
        """One exchange within ``deadline``; a Failure says what went wrong.

        The request goes straight to the pool of ``requests``' adapter (what ``HTTPAdapter.send``
        does after its per-call set-up, which ``pool`` did once for the host), and the answer
        is urllib3's response, read by ``read``: no ``requests.Response``, no cookie jar."""
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
        started = time.monotonic()
        raw = None
        complete = False
        try:
            try:
                pool, absolute = self.pool(host)
                raw = pool.urlopen(
                    method=method, url=url.geturl() if absolute else url.target,
                    body=body, headers=dict(hdrs.values()), redirect=False,
                    assert_same_host=False, preload_content=False, decode_content=False,
                    retries=self.adapter.max_retries, chunked=False,
                    timeout=self.timeout_for(_socket_timeout(timeout, deadline - started)))
            except u3.TimeoutError as exc:  # a read or connect timeout, not a refusal
                if not isinstance(exc, u3.NewConnectionError):
                    raise self.timed_out(host, timeout) from None
                raise self.broken(exc, host, guard, timeout, connect=True) from None
            except u3.MaxRetryError as exc:  # retries=0: the first failure, as requests maps it
                reason = exc.reason
                if (isinstance(reason, u3.ConnectTimeoutError)
                        and not isinstance(reason, u3.NewConnectionError)):
                    raise self.timed_out(host, timeout) from None
                raise self.broken(reason or exc, host, guard, timeout,
                                   connect=not isinstance(reason, u3.ResponseError)) from None
            except u3.LocationValueError as exc:
                raise self.broken(exc, host, guard, timeout, connect=False) from None
            except (u3.HTTPError, OSError, requests.RequestException) as exc:
                raise self.broken(exc, host, guard, timeout, connect=True) from None
            content = self.read(raw, host, guard, deadline, timeout)
            complete = True
            return Response(raw.status, raw.headers, content, url.geturl())
        finally:
            WATCHDOG.disarm(guard)
            if raw is not None:
                if not complete:
                    raw.close()  # a half-read connection is not reused
                raw.release_conn()

    def read(self, raw: Any, host: Host, guard: Guard, deadline: float,
              timeout: float) -> bytes:
        """The decoded body, chunk by chunk, within the deadline and the size cap."""
        cap = self.max_response_bytes
        declared = raw.headers.get("Content-Length", "")
        if (declared.isdigit() and int(declared) > cap
                and not raw.headers.get("Content-Encoding")):
            raise Failure(self.too_big(host, cap), "too large", retryable=False)
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
                    raise Failure(self.too_big(host, cap), "too large", retryable=False)
                chunks.append(chunk)
                if time.monotonic() > deadline:
                    raise self.timed_out(host, timeout)
                if identity and raw.length_remaining == 0:
                    break  # all the declared bytes: no read for the end (the pool has it back)
        except Failure:
            raise
        except Exception as exc:  # urllib3 and socket errors: ProtocolError, DecodeError, ...
            if type(exc).__name__ == "DecodeError":
                encoding = raw.headers.get("Content-Encoding", "")
                raise Failure(BadResponseError(
                    f"{host.name} sent a body that does not decode as {encoding or 'declared'}"),
                    "undecodable", retryable=False) from None
            raise self.broken(exc, host, guard, timeout, connect=False) from None
        return b"".join(chunks)

    def too_big(self, host: Host, cap: int) -> BadResponseError:
        return BadResponseError(
            f"{host.name} sent a response larger than {_size(cap)} ({self.size_note})")

    @staticmethod
    def timed_out(host: Host, timeout: float) -> Failure:
        return Failure(UnavailableError(f"{host.name} did not answer within {timeout:g} s"),
                        "timeout")

    def broken(self, exc: BaseException, host: Host, guard: Guard, timeout: float,
                connect: bool) -> Failure:
        if CANCEL.is_set():
            return Failure(Interrupted(), "interrupted", retryable=False)
        if guard.fired or "timed out" in str(exc).lower():
            return self.timed_out(host, timeout)
        malformed = _malformed(exc)
        if malformed is not None:
            # The connection worked and something answered, not HTTP as it must be: asking
            # again gets the same, and "check the network" would send the user astray.
            return Failure(BadResponseError(
                f"{host.name} sent an answer that is not valid HTTP ({malformed})",
                next_step="check that the profile's URL points at the broker's API"),
                "malformed", retryable=False)
        if connect:
            return Failure(UnavailableError(f"could not connect to {host.name} ({_reason(exc)})"),
                            "connection error")
        return Failure(UnavailableError(f"the connection to {host.name} broke ({_reason(exc)})"),
                        "connection error")


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


def _socket_timeout(timeout: float, left: float) -> float:
    """The sockets' timeout: ``timeout``, or less when the run's deadline comes first."""
    return timeout if left > timeout - 0.05 else max(0.001, left)


def _malformed(exc: BaseException) -> str | None:
    """What is wrong with an answer that is not HTTP (an endless header line, 10,000 headers, an
    SSH banner, two different Content-Length headers), or None for a transport failure (a
    reset, a connection closed before any answer, a body cut short)."""
    import http.client

    from urllib3 import exceptions as u3

    if isinstance(exc, u3.InvalidHeader):
        return str(exc)[:120]
    cause = exc.args[1] if isinstance(exc, u3.ProtocolError) and len(exc.args) > 1 else None
    if not isinstance(cause, http.client.HTTPException) or isinstance(
            cause, (OSError, http.client.IncompleteRead)):
        return None  # RemoteDisconnected is an OSError: the server hung up, nothing was sent
    if type(cause) in (http.client.LineTooLong, http.client.HTTPException):
        return str(cause)[:120]  # http.client's own words: "got more than 100 headers"
    text = _printable(str(cause.args[0] if cause.args else ""))
    if type(cause) is http.client.BadStatusLine:
        return f"its status line is {text}"
    if isinstance(cause, http.client.UnknownProtocol):
        return f"an HTTP version this client does not speak: {text}"
    return f"a malformed answer: {text}"


def _printable(text: str, limit: int = 60) -> str:
    """Text a server sent, for a message: control characters escaped, at most ``limit``."""
    shown = repr(text[:limit])
    return shown if len(text) <= limit else shown + "…"


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
    return "the connection failed"
