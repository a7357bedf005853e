"""A small threaded HTTP server for fake brokers, with fault injection.

A fake broker subclasses ``FakeBroker`` and implements ``handle(request) -> Reply``. Faults are
queued with ``inject()`` and apply to the next matching requests before the broker sees them:

- ``timeout``: the server waits ``seconds`` before answering (the client times out first)
- ``reset``: the connection is closed with a TCP RST and no answer
- ``status``: an HTTP status with a body and headers (401, 429 + Retry-After, 503, ...)
- ``html``: an HTML page (a proxy or IIS error page) with the given status
- ``truncated``: the real answer cut in half
- ``body``: the given raw body with status 200 (``NaN``, wrong types, ...)

Every request is recorded in ``requests`` so tests can assert what a client sent.
"""

from __future__ import annotations

import json
import re
import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from balancecli.render import dumps_exact


@dataclass
class Request:
    method: str
    path: str
    query: str  # raw, exactly as received
    headers: dict[str, str]  # lower-case names
    body: bytes

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


class FakeBroker:
    """Base of a fake broker: subclass and implement ``handle``."""

    def __init__(self, latency: float = 0.0) -> None:
        self.latency = latency
        self.requests: list[Request] = []
        self.faults: list[Fault] = []
        self.lock = threading.RLock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle
    def start(self) -> FakeBroker:
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
            {k.lower(): v for k, v in h.headers.items()}, body,
        )
        with self.lock:
            self.requests.append(request)
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
        elif fault is not None and fault.kind == "body":
            reply = Reply(fault.status if fault.status != 500 else 200, fault.body,
                          {"Content-Type": "application/json", **fault.headers})
        else:
            try:
                reply = self.handle(request)
            except Exception as exc:  # a bug in the fake: show it as a 500 with the reason
                reply = Reply(500, f"fake broker error: {type(exc).__name__}: {exc}")
        data, headers = reply.encoded()
        if fault is not None and fault.kind == "truncated":
            data = data[: max(1, len(data) // 2)]
        try:
            h.send_response(reply.status)
            for name, value in headers.items():
                h.send_header(name, value)
            h.send_header("Content-Length", str(len(data)))
            h.end_headers()
            h.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass


def load_fixture(package_file: str) -> Any:
    """A JSON fixture from balancecli/demo/data, numbers as Decimal."""
    from importlib.resources import files

    text = files("balancecli.demo").joinpath("data", package_file).read_text()
    return json.loads(text, parse_float=Decimal)
