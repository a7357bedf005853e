"""Bundled demo brokers: real HTTP servers on 127.0.0.1 (ephemeral ports) with sample data.

``balancecli --demo`` starts one server per broker and points a demo profile at each, with demo
secrets and without reading the user's config or keyring. The same servers, with fault
injection, are the test doubles.
"""

from __future__ import annotations

import importlib
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

# profile name -> "module:function"; each function starts its server(s) on an ExitStack and
# returns a DemoProfile. One line per broker.
_DEMOS = {
    "demo-ts": "balancecli.demo.tradestation:demo_profile",
    "demo-lp": "balancecli.demo.longport:demo_profile",
    "demo-etna": "balancecli.demo.etna:demo_profile",
    "demo-qt": "balancecli.demo.quantower:demo_profile",
}


@dataclass
class DemoProfile:
    settings: dict[str, Any]
    secrets: dict[str, Any] = field(default_factory=dict)


def start_demo(stack: ExitStack, latency: float = 0.0) -> dict[str, DemoProfile]:
    """Start every available demo broker; return profile name -> settings and secrets.

    Each demo gets its own ExitStack and ``stack`` closes them all at once, in parallel: a
    server's shutdown waits for its poll interval, and four in a row were half of a
    ``--demo`` run."""
    profiles: dict[str, DemoProfile] = {}
    stacks: list[ExitStack] = []
    stack.callback(close_in_parallel, stacks)
    for name, target in _DEMOS.items():
        module_name, _, attr = target.partition(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:  # that broker's demo is not written yet
                continue
            raise
        own = ExitStack()
        stacks.append(own)
        profiles[name] = getattr(module, attr)(own, latency=latency)
    return profiles


def close_in_parallel(stacks: list[ExitStack]) -> None:
    """Close every stack, each in its own thread; the first error is raised after all ran."""
    import threading

    errors: list[BaseException] = []

    def close(one: ExitStack) -> None:
        try:
            one.close()
        except BaseException as exc:  # noqa: BLE001 - re-raised below, in the caller
            errors.append(exc)

    threads = [threading.Thread(target=close, args=(one,), daemon=True) for one in stacks]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
