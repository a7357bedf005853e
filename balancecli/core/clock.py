"""The clock: what "now" is, in the one format every document carries (ISO 8601 UTC), and
durations as people read them."""

from __future__ import annotations

from datetime import UTC, datetime

MAX_SECONDS = 86400  # the longest --timeout, --max-time or profile timeout: one day


def utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def span(seconds: float) -> str:
    """A duration for people: 45 s, 12 min, 5 h 3 min, 12.5 days."""
    s = abs(seconds)
    if s < 120:
        return f"{s:.0f} s"
    if s < 7200:
        return f"{round(s / 60)} min"
    if s < 172800:
        minutes = round(s / 60)
        return f"{minutes // 60} h {minutes % 60} min"
    return f"{s / 86400:.1f} days"
