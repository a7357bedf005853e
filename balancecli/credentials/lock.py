"""The per-profile lock: one process at a time refreshes a profile's tokens (two cron runs
must not both spend a rotating refresh token).

Cross-platform (``filelock``: ``fcntl.flock`` on POSIX, ``msvcrt.locking`` on Windows, where
Quantower and so the ``quantower`` profiles run) and bounded: a run that cannot get the lock
within ``BALANCECLI_LOCK_TIMEOUT`` seconds (default 60) fails with exit 5 naming when the
holder took it, instead of hanging behind a refresh that trickles forever.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import time
from collections.abc import Iterator

from balancecli.core.errors import UnavailableError
from balancecli.credentials.environment import lock_timeout


def lock_dir() -> str:
    import platformdirs

    path = os.path.join(platformdirs.user_cache_dir("balancecli"), "locks")
    os.makedirs(path, mode=0o700, exist_ok=True)
    return path


@contextlib.contextmanager
def profile_lock(profile: str, timeout: float | None = None) -> Iterator[None]:
    """Hold the profile's lock across processes (and threads); UnavailableError after
    ``timeout`` seconds (default: ``BALANCECLI_LOCK_TIMEOUT``)."""
    from filelock import FileLock, Timeout

    wait = lock_timeout() if timeout is None else timeout
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", profile)
    base = os.path.join(lock_dir(), safe)
    lock = FileLock(base + ".lock", timeout=wait, mode=0o600)
    try:
        lock.acquire()
    except Timeout:
        since, pid = _holder(base + ".holder")
        raise UnavailableError(
            f"another balancecli run holds the lock of profile {profile} since {since} "
            f"(waited {wait:g} s)",
            profile=profile,
            next_step="try again later; if that run hangs, end it"
                      + (f" (pid {pid})" if pid else ""),
        ) from None
    try:
        _write_holder(base + ".holder")
        yield
    finally:
        lock.release()


def _write_holder(path: str) -> None:
    """Who holds the lock and since when, for the message of the run that waits."""
    temp = f"{path}.{os.getpid()}"
    with contextlib.suppress(OSError):
        with open(temp, "w", encoding="utf-8") as handle:
            json.dump({"pid": os.getpid(), "since": time.time()}, handle)
        os.replace(temp, path)


def _holder(path: str) -> tuple[str, int | None]:
    """("HH:MM" local time, pid) of the holder; the lock is released by the OS when its holder
    exits, so a holder that is written down is alive (or the file is from an earlier one)."""
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
        since = time.strftime("%H:%M", time.localtime(float(data["since"])))
        return since, int(data["pid"])
    except (OSError, ValueError, KeyError, TypeError, OverflowError):
        return "an unknown time", None
