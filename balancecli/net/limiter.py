"""Adaptive concurrency per broker host, within the broker's documented rate limit.

Each broker module declares a ``RateLimit`` (``Broker.limits``): how many requests to have in
flight per host at first, the most ever, and the documented request rate (TradeStation 250 per
5 min, LongPort 30 per 30 s and 0.02 s apart). One ``HostLimiter`` per host exists per process,
shared by every profile that talks to that host, so two profiles on one broker never add up to
more than the broker allows.

The window adapts like TCP's congestion control (AIMD): it doubles per round trip while
answers come back fine (slow start), then grows by one per round trip; a 429, a retryable 5xx
or a ``Retry-After`` halves it, once per window (answers to requests sent before the last
decrease do not halve it again), and ``Retry-After`` pauses the whole host. Every wait is
bounded: a rate window that would not open within the caller's budget is a RateLimitedError at
once, not a sleep of minutes.

What an answer says about waiting (``pause_seconds``): ``Retry-After`` (RFC 9110 §10.2.3), and
the quota headers ``X-RateLimit-Remaining`` / ``X-RateLimit-Reset`` that TradeStation's newer
rate-limiting page describes
(https://api.tradestation.com/docs/fundamentals/rate-limiting/rate-limiting-overview/): when
no request is left in the window, the host is paused until it resets, on a 200 as on a 429,
so the next request waits (or fails at once as rate limited) instead of spending a retry on a
429. The reset is seconds until the window resets (QuantConnect's reading of that page,
https://github.com/QuantConnect/Lean.Brokerages.TradeStation/issues/98); a value that can only
be an epoch time is read as one. Each quota is per resource category, but a paused host waits
for all: the stricter reading.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass

from balancecli.core.errors import RateLimitedError, UnavailableError
from balancecli.core.interrupt import CANCEL, on_cancel

OK, NEUTRAL, CONGESTED = "ok", "neutral", "congested"


@dataclass(frozen=True)
class RateLimit:
    """What a broker's API documents (or what is prudent when it documents nothing)."""

    start: int = 4  # requests in flight per host at first
    ceiling: int = 16  # never more in flight per host (profile setting max_concurrency)
    calls: int | None = None  # at most this many requests ...
    period: float = 0.0  # ... per this many seconds (sliding window), per host
    gap: float = 0.0  # seconds between two request starts on one host

    def describe(self) -> str:
        text = f"{self.calls} requests per {self.period:g} s" if self.calls else ""
        if self.gap:
            text += (", " if text else "") + f"{self.gap:g} s apart"
        return text or "no documented rate limit"


LONGEST_PAUSE = 86400.0  # seconds; a header asking for more is read as this (then refused)
EPOCH_AFTER = 1e9  # a reset above this many seconds is an epoch time (2001-09-09 onwards)


def retry_after_seconds(value: str | None) -> float | None:
    """``Retry-After`` as seconds: delta-seconds or an HTTP date (RFC 9110 §10.2.3)."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        from email.utils import parsedate_to_datetime

        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        return max(0.0, when.timestamp() - time.time())
    return max(0.0, seconds) if seconds == seconds else None  # NaN: ignore


def _number(value: str | None) -> float | None:
    try:
        number = float((value or "").strip())
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def quota_reset_seconds(headers: Mapping[str, str]) -> float | None:
    """Seconds until the quota window resets when the answer says no request is left in it
    (``X-RateLimit-Remaining: 0`` with ``X-RateLimit-Reset``), else None."""
    remaining = _number(headers.get("X-RateLimit-Remaining"))
    reset = _number(headers.get("X-RateLimit-Reset"))
    if remaining is None or remaining > 0 or reset is None:
        return None
    if reset > EPOCH_AFTER:
        reset -= time.time()
    return max(0.0, reset)


def pause_seconds(headers: Mapping[str, str]) -> float | None:
    """How long the host asks not to be sent anything: the longer of ``Retry-After`` and an
    exhausted quota's reset, at most ``LONGEST_PAUSE``; None when it asks nothing."""
    waits = [w for w in (retry_after_seconds(headers.get("Retry-After")),
                         quota_reset_seconds(headers)) if w is not None]
    return min(max(waits), LONGEST_PAUSE) if waits else None


class Interrupted(UnavailableError):
    """Raised in worker threads after Ctrl-C (the main thread exits 130 meanwhile)."""

    def __init__(self) -> None:
        super().__init__("interrupted")


class HostLimiter:
    """In-flight window and request-rate window of one host, shared across profiles."""

    def __init__(self, host: str, limits: RateLimit) -> None:
        self.host = host
        self.limits = limits
        self.ceiling = max(1, limits.ceiling)
        self.limit = float(max(1, min(limits.start, self.ceiling)))
        self.threshold = float(self.ceiling)  # slow start below it, additive growth above
        self.in_flight = 0
        self.epoch = 0  # bumped by every decrease
        self.paused_until = 0.0
        self.last_start = float("-inf")
        self.sent: deque[float] = deque()
        self.peak = 0
        self.decreases = 0
        self._cond = threading.Condition(threading.Lock())

    def tighten(self, limits: RateLimit) -> None:
        """A second profile on the same host with a lower ceiling: the strictest wins."""
        with self._cond:
            self.ceiling = max(1, min(self.ceiling, limits.ceiling))
            self.limit = min(self.limit, float(self.ceiling))
            self.threshold = min(self.threshold, float(self.ceiling))

    def acquire(self, budget: float) -> int:
        """Wait for a slot; returns the window epoch to hand back to ``release``."""
        give_up = time.monotonic() + max(0.0, budget)
        limits = self.limits
        with self._cond:
            while True:
                if CANCEL.is_set():
                    raise Interrupted()
                now = time.monotonic()
                if self.in_flight >= int(self.limit):
                    self._cond.wait(0.5)  # a release or Ctrl-C wakes it earlier
                    continue
                delay = max(self.paused_until, self.last_start + limits.gap) - now
                if limits.calls:
                    while self.sent and self.sent[0] <= now - limits.period:
                        self.sent.popleft()
                    if len(self.sent) >= limits.calls:
                        delay = max(delay, self.sent[0] + limits.period - now)
                if delay <= 0:
                    self.in_flight += 1
                    self.peak = max(self.peak, self.in_flight)
                    self.last_start = now
                    if limits.calls:
                        self.sent.append(now)
                    return self.epoch
                if now + delay > give_up:
                    why = ("it asked to wait" if self.paused_until > now
                           else f"its limit is {limits.describe()}")
                    raise RateLimitedError(
                        f"{self.host} would not accept another request within "
                        f"{max(0.0, give_up - now):.0f} s ({why})")
                self._cond.wait(delay)

    def release(self, epoch: int, outcome: str, retry_after: float | None = None) -> None:
        """Hand the slot back: grow on success, halve on congestion (once per window)."""
        with self._cond:
            self.in_flight -= 1
            wake = 1
            if outcome == OK and self.limit < self.ceiling:
                before = int(self.limit)
                self.limit += 1.0 if self.limit < self.threshold else 1.0 / self.limit
                self.limit = min(self.limit, float(self.ceiling))
                wake += int(self.limit) - before
            elif outcome == CONGESTED and epoch == self.epoch:
                self.limit = max(1.0, self.limit / 2)
                self.threshold = self.limit
                self.epoch += 1
                self.decreases += 1
            if retry_after:
                self.paused_until = max(self.paused_until, time.monotonic() + retry_after)
            self._cond.notify(wake)

    def wake_all(self) -> None:
        with self._cond:
            self._cond.notify_all()


_registry: dict[str, HostLimiter] = {}
_registry_lock = threading.Lock()


def limiter_for(host: str, limits: RateLimit) -> HostLimiter:
    """The process-wide limiter of ``host`` (scheme://netloc)."""
    with _registry_lock:
        limiter = _registry.get(host)
        if limiter is None:
            limiter = _registry[host] = HostLimiter(host, limits)
            return limiter
    if limits.ceiling < limiter.ceiling:
        limiter.tighten(limits)
    return limiter


def limiters() -> dict[str, HostLimiter]:
    """A copy of the registry (benchmarks and tests report the windows reached)."""
    with _registry_lock:
        return dict(_registry)


def _wake_all() -> None:
    for limiter in limiters().values():
        limiter.wake_all()


on_cancel(_wake_all)


def reset() -> None:
    """Forget every host (tests: a new fake may reuse a port the last one had)."""
    with _registry_lock:
        _registry.clear()
