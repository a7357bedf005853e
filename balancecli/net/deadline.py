"""The total deadline of a request: connect, headers and body within ``timeout``, together;
and the deadline of the whole run (``--max-time``), which bounds every request and wait.

A socket timeout bounds each read, not their sum: a server trickling one byte a second never
trips it. So the request thread arms a guard with its deadline, the connection attaches its
socket to the thread's guard once the request is sent (``getresponse``), and one watchdog
thread shuts that socket down if the deadline passes first; the blocked read returns at once
and the HTTP client reports a timeout. Ctrl-C shuts every socket in flight the same way.

``RUN`` is the run's deadline: every attempt's deadline is at most it, so when it passes the
watchdog shuts every socket still in flight; the HTTP client starts no attempt, retry or
backoff sleep that would end after it, and the fetch stops waiting for profiles then.
"""

from __future__ import annotations

import heapq
import itertools
import socket
import threading
import time
from functools import cache
from typing import Any

from balancecli.core.errors import UnavailableError
from balancecli.core.interrupt import on_cancel


class Guard:
    __slots__ = ("deadline", "sock", "fired", "done")

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        self.sock: Any = None
        self.fired = False
        self.done = False


def _shut(sock: Any) -> None:
    """Shut a socket down under a thread blocked reading it (the read returns at once).

    ``socket.socket.shutdown`` directly: SSLSocket.shutdown would first drop its SSL object
    under the reading thread's feet."""
    raw = sock if isinstance(sock, socket.socket) else getattr(sock, "socket", None)
    if isinstance(raw, socket.socket):
        try:
            socket.socket.shutdown(raw, socket.SHUT_RDWR)
        except OSError:
            pass


class Watchdog:
    """Shuts down the socket of every request still running at its deadline.

    The request thread arms a guard, the connection attaches its socket to the thread's guard
    once the request is sent (``getresponse``), and the thread disarms the guard when the body
    is read. One daemon thread sleeps until the earliest live deadline; finished guards are
    dropped lazily, so arming costs a heap push and rarely a wake-up."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._heap: list[tuple[float, int, Guard]] = []
        self._seq = itertools.count()
        self._local = threading.local()
        self._thread: threading.Thread | None = None

    def arm(self, deadline: float) -> Guard:
        guard = Guard(deadline)
        with self._lock:
            heapq.heappush(self._heap, (deadline, next(self._seq), guard))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="bc-deadline",
                                                daemon=True)
                self._thread.start()
            elif self._heap[0][2] is guard:
                self._wake.notify()
        self._local.guard = guard
        return guard

    def attach(self, sock: Any) -> None:
        guard = getattr(self._local, "guard", None)
        if guard is None:
            return
        with self._lock:
            if guard.done:
                return
            guard.sock = sock
            if guard.fired:
                _shut(sock)

    def disarm(self, guard: Guard) -> None:
        with self._lock:  # after this, the watchdog never touches that socket
            guard.done = True
            guard.sock = None
        self._local.guard = None

    def abort_all(self) -> None:
        with self._lock:
            for _, _, guard in self._heap:
                if not guard.done:
                    guard.fired = True
                    if guard.sock is not None:
                        _shut(guard.sock)

    def _run(self) -> None:
        with self._lock:
            while True:
                now = time.monotonic()
                while self._heap and (self._heap[0][2].done or self._heap[0][0] <= now):
                    _, _, guard = heapq.heappop(self._heap)
                    if not guard.done:
                        guard.fired = True
                        if guard.sock is not None:
                            _shut(guard.sock)
                self._wake.wait(self._heap[0][0] - now if self._heap else None)


WATCHDOG = Watchdog()
on_cancel(WATCHDOG.abort_all)

class RunDeadline:
    """The whole run's deadline (``--max-time``), process-wide like Ctrl-C's ``CANCEL``."""

    def __init__(self) -> None:
        self.at: float | None = None  # time.monotonic() when the run must end
        self.seconds: float | None = None

    def start(self, seconds: float | None) -> None:
        """From now, ``seconds`` for the run (None: no deadline)."""
        self.seconds = seconds
        self.at = None if seconds is None else time.monotonic() + seconds

    def left(self) -> float:
        """Seconds until the deadline (infinite without one, 0 once it passed)."""
        return float("inf") if self.at is None else max(0.0, self.at - time.monotonic())

    def passed(self) -> bool:
        return self.at is not None and time.monotonic() >= self.at

    def bound(self, deadline: float) -> float:
        """``deadline`` (a time.monotonic() value), at most the run's."""
        return deadline if self.at is None else min(deadline, self.at)

    def describe(self) -> str:
        return f"--max-time {self.seconds:g} s"


RUN = RunDeadline()


@cache
def adapter_class() -> type:
    """An HTTPAdapter whose connections report their socket to the watchdog."""
    from requests.adapters import HTTPAdapter
    from urllib3.connection import HTTPConnection, HTTPSConnection
    from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

    class GuardedHTTP(HTTPConnection):
        def getresponse(self, *args: Any, **kwargs: Any) -> Any:
            WATCHDOG.attach(self.sock)
            return super().getresponse(*args, **kwargs)

    class GuardedHTTPS(HTTPSConnection):
        def getresponse(self, *args: Any, **kwargs: Any) -> Any:
            WATCHDOG.attach(self.sock)
            return super().getresponse(*args, **kwargs)

    class Pool(HTTPConnectionPool):
        ConnectionCls = GuardedHTTP

    class SPool(HTTPSConnectionPool):
        ConnectionCls = GuardedHTTPS

    pools = {"http": Pool, "https": SPool}

    class Adapter(HTTPAdapter):
        def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
            super().init_poolmanager(*args, **kwargs)
            self.poolmanager.pool_classes_by_scheme = pools

        def proxy_manager_for(self, proxy: str, **kwargs: Any) -> Any:
            manager = super().proxy_manager_for(proxy, **kwargs)
            if not proxy.lower().startswith("socks"):
                manager.pool_classes_by_scheme = pools
            return manager

    return Adapter


class OutOfTime(UnavailableError):
    """The run's deadline passed: what was still running stops (exit 5, or 7 beside rows)."""

    def __init__(self, message: str | None = None, **fields: Any) -> None:
        fields.setdefault("next_step", "raise --max-time, or see which requests are slow "
                                       "with -v")
        super().__init__(message or f"did not finish within --max-time {RUN.seconds or 0:g} s",
                         **fields)
