"""Ctrl-C: one process-wide cancel event, set the moment SIGINT arrives.

Python delivers SIGINT to the main thread only, as a KeyboardInterrupt; worker threads in the
middle of a request or a backoff sleep never see it. So the handler installed by
``cli.boundary`` first sets ``CANCEL`` and runs the registered hooks (the HTTP client
registers one that shuts down every socket in flight and wakes the per-host limiters), then
raises KeyboardInterrupt in the main thread. The HTTP client checks ``CANCEL`` before each
attempt and sleeps its backoff on it, so no request or retry starts after Ctrl-C.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from typing import Any

CANCEL = threading.Event()
_hooks: list[Callable[[], None]] = []


def on_cancel(hook: Callable[[], None]) -> None:
    """Run ``hook`` on Ctrl-C (in a thread started by the signal handler)."""
    _hooks.append(hook)


def cancel() -> None:
    """Stop everything in flight; nothing new starts. Idempotent."""
    CANCEL.set()
    for hook in list(_hooks):
        try:
            hook()
        except Exception:  # noqa: BLE001 - a failing hook must not mask the interrupt
            pass


def _on_sigint(signum: int, frame: Any) -> None:
    # The hooks take locks the interrupted main thread may hold: run them in a thread of
    # their own (milliseconds), and unwind the main thread at once.
    threading.Thread(target=cancel, name="bc-cancel", daemon=True).start()
    raise KeyboardInterrupt


def install() -> None:
    """Route SIGINT through ``cancel`` (main thread only; elsewhere a no-op)."""
    if threading.current_thread() is threading.main_thread():
        try:
            signal.signal(signal.SIGINT, _on_sigint)
        except (ValueError, OSError):  # not the main interpreter, or an exotic platform
            pass
