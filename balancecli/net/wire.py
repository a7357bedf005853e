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


def resolve_host(base: str, limits: RateLimit) -> Host:
    """Read the environment once for this host, the way ``requests`` would on every call
    (HTTP(S)_PROXY / ALL_PROXY honouring NO_PROXY, and ~/.netrc)."""
    from requests.auth import _basic_auth_str
    from requests.utils import get_environ_proxies, get_netrc_auth

    scheme, _, netloc = base.partition("://")
    netloc = netloc.rpartition("@")[2]  # user info never reaches a message or a limiter key
    proxies = get_environ_proxies(f"{scheme}://{netloc}/") or {}
    auth = get_netrc_auth(f"{scheme}://{netloc}/")
    origin = f"{scheme}://{netloc}"
    return Host(netloc, limiter_for(origin, limits), dict(proxies),
                 _basic_auth_str(*auth) if auth else None, origin)


class Failure(Exception):
    """An attempt that failed before a usable response: the error and whether to retry."""

    def __init__(self, error: BalanceCliError, outcome: str, retryable: bool = True) -> None:
        self.error, self.outcome, self.retryable = error, outcome, retryable


class Wire:
    """The connection side of one ``HttpClient``: its adapter, CA bundle and pools."""

    def __init__(self, pool_size: int, max_response_bytes: int) -> None:
        self.pool_size = pool_size
        self.max_response_bytes = max_response_bytes
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
        from urllib3.util import Timeout

        timeout = self.timeouts[seconds] = Timeout(connect=seconds, read=seconds)
        return timeout

    def attempt(self, method: str, url: str, headers: Mapping[str, str] | None,
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
        raw = None
        complete = False
        try:
            try:
                pool, absolute = self.pool(host)
                raw = pool.urlopen(
                    method=method, url=url if absolute else _path_of(url),
                    body=body, headers=dict(hdrs.values()), redirect=False,
                    assert_same_host=False, preload_content=False, decode_content=False,
                    retries=self.adapter.max_retries, chunked=False,
                    timeout=self.timeouts.get(timeout) or self.timeout_for(timeout))
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
            return Response(raw.status, raw.headers, content, url)
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

    @staticmethod
    def too_big(host: Host, cap: int) -> BadResponseError:
        return BadResponseError(
            f"{host.name} sent a response larger than {_size(cap)} (setting max_response_bytes)")

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


def _path_of(url: str) -> str:
    """What follows scheme://host on the request line ("/" at least), as requests sends it."""
    rest = url.partition("://")[2]
    path = rest[len(rest.split("/", 1)[0].split("?", 1)[0]):]
    return path if path.startswith("/") else "/" + path


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
