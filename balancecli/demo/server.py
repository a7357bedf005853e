"""A small threaded HTTP server for fake brokers, with fault injection.

A fake broker subclasses ``FakeBroker`` and implements ``handle(request) -> Reply``. Faults are
queued with ``inject()`` and apply to the next matching requests before the broker sees them:

- ``timeout``: the server waits ``seconds`` before answering (the client times out first)
- ``reset``: the connection is closed with a TCP RST and no answer
- ``status``: an HTTP status with a body and headers (401, 429 + Retry-After, 503, ...)
- ``html``: an HTML page (a proxy or IIS error page) with the given status
- ``truncated``: the real answer cut in half
- ``body``: the given raw body with status 200 (``NaN``, wrong types, ...)
- ``trickle_headers``: an endless header block, one byte every ``seconds``
- ``trickle_body``: the headers of the real answer, then its body one byte every ``seconds``
- ``gzip_bomb``: a gzip body (about 1 MB per GiB) inflating to ``size`` bytes of JSON whitespace
- ``huge``: a valid JSON object of ``size`` bytes, streamed without being built in memory and
  without a Content-Length (it ends when the connection closes)
- ``raw``: ``body`` (bytes) as the whole answer, status line and headers included, then the
  connection closes: what a service that is not the broker's API, or a broken proxy, sends

``max_concurrent`` makes the server answer 429 (``Retry-After`` when ``retry_after`` is set) to
any request beyond that many in flight, as a rate-limiting gateway would; ``rejected`` counts
them and ``peak`` is the most requests seen in flight. Every request is recorded in
``requests`` so tests can assert what a client sent.
"""

from __future__ import annotations

import json
import re
import socket
import struct
import threading
import time
import zlib
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

from balancecli.core.exactjson import dumps_exact


@dataclass
class Request:
    method: str
    path: str
    query: str  # raw, exactly as received
    headers: dict[str, str]  # lower-case names
    body: bytes
    target: str = ""  # the request line's target as sent: /path?q, or a proxy's absolute URL

    @property
    def params(self) -> dict[str, str]:
        return {k: v[-1] for k, v in parse_qs(self.query, keep_blank_values=True).items()}

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def form(self) -> dict[str, str]:
        return {
            k: v[-1]
            for k, v in parse_qs(self.body.decode(), keep_blank_values=True).items()
        }

    def bearer(self) -> str | None:
        value = self.header("authorization") or ""
        return value[7:] if value.startswith("Bearer ") else None


@dataclass
class Reply:
    status: int = 200
    body: bytes | str | Any = b""
    headers: dict[str, str] = field(default_factory=dict)

    def encoded(self) -> tuple[bytes, dict[str, str]]:
        headers = dict(self.headers)
        body = self.body
        if isinstance(body, bytes):
            data = body
        elif isinstance(body, str):
            data = body.encode()
            headers.setdefault("Content-Type", "text/plain; charset=utf-8")
        else:
            data = dumps_exact(body).encode()
            headers.setdefault("Content-Type", "application/json; charset=utf-8")
        return data, headers


def json_reply(body: Any, status: int = 200, **headers: str) -> Reply:
    return Reply(status, body, dict(headers))


@dataclass
class Fault:
    kind: str
    path: str = ""  # regex searched in the path; "" matches every request
    times: int = 1
    status: int = 500
    body: bytes | str | Any = b""
    headers: dict[str, str] = field(default_factory=dict)
    seconds: float = 5.0
    method: str | None = None
    size: int = 0  # gzip_bomb / huge: bytes of the decoded body


class FakeBroker:
    """Base of a fake broker: subclass and implement ``handle``."""

    def __init__(self, latency: float = 0.0) -> None:
        self.latency = latency
        self.requests: list[Request] = []
        self.faults: list[Fault] = []
        self.lock = threading.RLock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.max_concurrent: int | None = None
        self.retry_after: float | None = None
        self.in_flight = 0
        self.peak = 0
        self.rejected = 0

    # -- lifecycle
    def start(self) -> Self:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go out as separate writes

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

            def _serve(self) -> None:
                fake._dispatch(self)

            do_GET = do_POST = do_PUT = do_DELETE = _serve

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True,
                                        name=f"fake-{type(self).__name__}")
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeBroker:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- faults
    def inject(self, kind: str, path: str = "", times: int = 1, **kwargs: Any) -> Fault:
        fault = Fault(kind, path, times, **kwargs)
        with self.lock:
            self.faults.append(fault)
        return fault

    def _take_fault(self, request: Request) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.method and fault.method != request.method:
                    continue
                if fault.path and not re.search(fault.path, request.path):
                    continue
                fault.times -= 1
                if fault.times <= 0:
                    self.faults.remove(fault)
                return fault
        return None

    def calls(self, path_regex: str = "", method: str | None = None) -> list[Request]:
        with self.lock:
            return [
                r for r in self.requests
                if re.search(path_regex, r.path) and (method is None or r.method == method)
            ]

    # -- the broker
    def handle(self, request: Request) -> Reply:
        raise NotImplementedError

    # -- plumbing
    def _dispatch(self, h: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(h.path)
        length = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(length) if length else b""
        request = Request(
            h.command, parts.path, parts.query,
            {k.lower(): v for k, v in h.headers.items()}, body, h.path,
        )
        with self.lock:
            self.requests.append(request)
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
            over = self.max_concurrent is not None and self.in_flight > self.max_concurrent
            self.rejected += over
        left: list[bool] = []

        def leave() -> None:
            # The answer is ready: the request stops counting as in flight before its bytes go
            # out, as on a real server, whose clients cannot race its bookkeeping (here they
            # share a GIL with it).
            if not left:
                left.append(True)
                with self.lock:
                    self.in_flight -= 1

        h.bc_leave = leave  # type: ignore[attr-defined]
        try:
            if over:
                headers = {} if self.retry_after is None else {
                    "Retry-After": f"{self.retry_after:g}"}
                self._send(h, Reply(429, {"error": "too many concurrent requests"}, headers))
            else:
                self._answer(h, request)
        finally:
            leave()

    def _answer(self, h: BaseHTTPRequestHandler, request: Request) -> None:
        if self.latency:
            time.sleep(self.latency)
        fault = self._take_fault(request)
        if fault is not None and fault.kind == "reset":
            # SO_LINGER 0: close() sends RST, the client sees "connection reset".
            h.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            h.close_connection = True
            h.connection.close()
            return
        if fault is not None and fault.kind == "timeout":
            time.sleep(fault.seconds)
            reply = Reply(504, b"")
        elif fault is not None and fault.kind == "status":
            reply = Reply(fault.status, fault.body, dict(fault.headers))
        elif fault is not None and fault.kind == "html":
            reply = Reply(
                fault.status,
                fault.body or "<html><body><h1>Service Unavailable</h1></body></html>",
                {"Content-Type": "text/html", **fault.headers},
            )
        elif fault is not None and fault.kind == "trickle_headers":
            _trickle(h, b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 1_000_000, fault.seconds)
            return
        elif fault is not None and fault.kind in ("gzip_bomb", "huge"):
            _stream_big(h, fault)
            return
        elif fault is not None and fault.kind == "raw":
            h.close_connection = True
            getattr(h, "bc_leave", lambda: None)()
            try:
                body = fault.body
                h.wfile.write(body if isinstance(body, bytes) else str(body).encode())
                h.wfile.flush()
            except OSError:
                pass
            return
        elif fault is not None and fault.kind == "body":
            reply = Reply(fault.status if fault.status != 500 else 200, fault.body,
                          {"Content-Type": "application/json", **fault.headers})
        else:
            try:
                reply = self.handle(request)
            except Exception as exc:  # a bug in the fake: show it as a 500 with the reason
                reply = Reply(500, f"fake broker error: {type(exc).__name__}: {exc}")
        self._send(h, reply, fault)

    @staticmethod
    def _send(h: BaseHTTPRequestHandler, reply: Reply, fault: Fault | None = None) -> None:
        data, headers = reply.encoded()
        getattr(h, "bc_leave", lambda: None)()
        if fault is not None and fault.kind == "truncated":
            data = data[: max(1, len(data) // 2)]
        try:
            h.send_response(reply.status)
            for name, value in headers.items():
                h.send_header(name, value)
            h.send_header("Content-Length", str(len(data)))
            h.end_headers()
            if fault is not None and fault.kind == "trickle_body":
                _trickle(h, data, fault.seconds)
            else:
                h.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass


def _trickle(h: BaseHTTPRequestHandler, data: bytes, seconds: float) -> None:
    """One byte every ``seconds`` until done or the client hangs up."""
    h.close_connection = True
    try:
        h.wfile.flush()
        for i in range(len(data)):
            h.wfile.write(data[i:i + 1])
            h.wfile.flush()
            time.sleep(seconds)
    except OSError:
        pass


@cache
def gzip_bomb(size: int) -> bytes:
    """One gzip member inflating to ``{``, spaces, ``}``: ``size`` bytes (whole MiB), about
    1 KB per MiB. Each MiB is deflated once and repeated (a full flush makes the pieces
    independent), so a 1 GiB bomb costs a second, not a minute, to build."""
    mib = 1 << 20
    count = max(1, size // mib)
    blank = b" " * mib
    first, last = b"{" + blank[1:], blank[:-1] + b"}"
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)

    def piece(block: bytes) -> bytes:
        return packer.compress(block) + packer.flush(zlib.Z_FULL_FLUSH)

    crc = zlib.crc32(first)
    for _ in range(count - 2):
        crc = zlib.crc32(blank, crc)
    if count > 1:
        crc = zlib.crc32(last, crc)
    pieces = [piece(first)] + [piece(blank)] * (count - 2) + ([piece(last)] if count > 1 else [])
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
    trailer = packer.flush() + struct.pack("<II", crc, (count * mib) & 0xFFFFFFFF)
    return header + b"".join(pieces) + trailer


def _stream_big(h: BaseHTTPRequestHandler, fault: Fault) -> None:
    """A large body written piece by piece (the fake never holds it whole)."""
    h.close_connection = True
    try:
        h.send_response(200)
        h.send_header("Content-Type", "application/json")
        if fault.kind == "gzip_bomb":
            data = gzip_bomb(fault.size)
            h.send_header("Content-Encoding", "gzip")
            h.send_header("Content-Length", str(len(data)))
            h.end_headers()
            h.wfile.write(data)
            return
        head, tail = b'{"Accounts": [], "pad": "', b'"}'
        h.end_headers()  # no Content-Length: the body ends when the connection closes
        h.wfile.write(head)
        left = fault.size - len(head) - len(tail)
        block = b"x" * (1 << 16)
        while left > 0:
            h.wfile.write(block[:left])
            left -= len(block)
        h.wfile.write(tail)
    except OSError:
        pass


def load_fixture(package_file: str) -> Any:
    """A JSON fixture from balancecli/demo/data, numbers as Decimal."""
    from importlib.resources import files

    text = files("balancecli.demo").joinpath("data", package_file).read_text()
    return json.loads(text, parse_float=Decimal)
