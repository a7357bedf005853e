"""Demo Quantower bridge: serves a sample BalanceCliBridge export over HTTP on 127.0.0.1.

It behaves like the C# Strategy's HttpListener: ``Authorization: Bearer <token>`` or 401, and a
``GeneratedAt`` of now (the export is fresh while the Strategy runs). The sample is a revision 2
export: its ``Connections`` are all connected, so every account is there.
"""

from __future__ import annotations

import copy
import hmac
from contextlib import ExitStack
from typing import Any

from balancecli.core.clock import utc_now
from balancecli.demo import DemoProfile
from balancecli.demo.server import FakeBroker, Reply, Request, json_reply, load_fixture

DEMO_TOKEN = "demo-qt-bridge-token-5f2c9a61e0"
EXPORT_PATH = "/balancecli-export.json"


class FakeQuantowerBridge(FakeBroker):
    """The bridge's HTTP mode; ``export`` may be replaced by tests (``generated_at`` too)."""

    def __init__(self, latency: float = 0.0, token: str = DEMO_TOKEN,
                 export: dict[str, Any] | None = None) -> None:
        super().__init__(latency)
        self.token = token
        self.export = export if export is not None else load_fixture("quantower_export.json")
        self.generated_at: str | None = None  # None: now, at serve time

    def handle(self, request: Request) -> Reply:
        given = request.bearer() or ""
        if not hmac.compare_digest(given.encode(), self.token.encode()):
            return json_reply({"error": "missing or wrong bearer token"}, 401,
                              **{"WWW-Authenticate": 'Bearer realm="balancecli"'})
        if request.path not in ("/", EXPORT_PATH):
            return json_reply({"error": "not found"}, 404)
        if request.method != "GET":
            return json_reply({"error": "method not allowed"}, 405, Allow="GET, HEAD")
        with self.lock:
            body = copy.deepcopy(self.export)
        if isinstance(body, dict) and "GeneratedAt" in body:
            body["GeneratedAt"] = self.generated_at or utc_now()
        return json_reply(body, 200, **{"Cache-Control": "no-store"})


def demo_profile(stack: ExitStack, latency: float = 0.0) -> DemoProfile:
    server = FakeQuantowerBridge(latency).start()
    stack.callback(server.stop)
    return DemoProfile(
        settings={"broker": "quantower", "source": server.url + EXPORT_PATH, "max_age": 600},
        secrets={"TOKEN": DEMO_TOKEN},
    )
