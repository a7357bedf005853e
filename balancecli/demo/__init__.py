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
    """Start every available demo broker; return profile name -> settings and secrets."""
    profiles: dict[str, DemoProfile] = {}
    for name, target in _DEMOS.items():
        module_name, _, attr = target.partition(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:  # that broker's demo is not written yet
                continue
            raise
        profiles[name] = getattr(module, attr)(stack, latency=latency)
    return profiles
