"""A listener on ::1 that records every connection and what it received: the "other host" a
crafted URL would send a request to, or an HTTP proxy that must receive nothing. IPv6, so that
it is a host other than the fakes on 127.0.0.1 while still on this machine.

It answers whatever arrives with ``200 {}`` (as a proxy or a hostile host would answer
something), so a request that does reach it goes on rather than failing early.
"""

from __future__ import annotations

import socket
import threading

import pytest

ANSWER = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n"
          b"Connection: close\r\n\r\n{}")


class Sink:
    def __init__(self) -> None:
        try:
            self.sock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
            self.sock.bind(("::1", 0))
        except OSError:
            pytest.skip("no IPv6 loopback (::1) on this machine")
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.received: list[bytes] = []  # one entry per connection
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._serve, daemon=True, name="sink")
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://[::1]:{self.port}"

    @property
    def netloc(self) -> str:
        return f"[::1]:{self.port}"

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with self._lock:
                self.received.append(b"")
                index = len(self.received) - 1
            threading.Thread(target=self._one, args=(conn, index), daemon=True).start()

    def _one(self, conn: socket.socket, index: int) -> None:
        conn.settimeout(2)
        try:
            data = conn.recv(65536)
            with self._lock:
                self.received[index] = data
            conn.sendall(ANSWER)
        except OSError:
            pass
        finally:
            conn.close()

    def text(self) -> str:
        with self._lock:
            return b"".join(self.received).decode("latin-1")

    def close(self) -> None:
        self.sock.close()
