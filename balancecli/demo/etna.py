"""A fake ETNA Trader API on 127.0.0.1, for ``--demo`` and the tests.

It checks what ETNA checks: the ``Et-App-Key`` header on every call (HTTP 403 ``{"error":
...}`` otherwise), credentials in the ``Username``/``Password`` headers of ``POST /api/token``,
and a known, unexpired bearer token on every data call. Tokens expire after
``token_lifetime`` seconds (tests shorten it or call ``expire_all``); ``logins`` counts the
tokens issued. Users configured with a second factor get HTTP 202 ``"State": "Expecting"`` first
and a token only when the right ``VerificationCode``/``PinCode`` comes back with the interim
token. ``fail_info`` makes chosen accounts' ``/info`` fail; ``fail_with`` queues any of the
documented error body shapes.
"""

from __future__ import annotations

import copy
import re
import secrets
import time
from contextlib import ExitStack
from typing import Any
from urllib.parse import unquote

from balancecli.demo.server import FakeBroker, Reply, Request, json_reply, load_fixture

DEMO_APP_KEY = "demo-etna-app-key-7f3e"
DEMO_USERNAME = "demo"
DEMO_PASSWORD = "demo-etna-password-0000"
USERS: dict[str, dict[str, str]] = {
    DEMO_USERNAME: {"password": DEMO_PASSWORD},
    "demo2fa": {"password": "demo-2fa-password-1111", "step": "VerificationCode",
                "code": "424242"},
    "demopin": {"password": "demo-pin-password-2222", "step": "SecutityPin", "code": "1379"},
}

# The error body shapes of ETNA's documentation, by name: (HTTP status, body).
ERROR_BODIES: dict[str, tuple[int, Any]] = {
    "error": (403, {"error": "Application key is not defined or does not exist"}),
    "Message": (404, {"Message": "No HTTP resource was found that matches the request URI "
                                 "'https://pub-api-trader-demo-prod.etnasoft.us/api/v1.0/x'."}),
    "Errors": (422, {"Model": None,
                     "Errors": ["Value cannot be null.\r\nParameter name: user"],
                     "StatusCode": 422, "IsSucceed": False}),
    "Reason": (400, {"State": "Failed", "Step": "BaseAuthentication",
                     "Reason": "Invalid credentials"}),
}
UNAUTHORIZED = {"Message": "Authorization has been denied for this request."}


class FakeEtna(FakeBroker):
    def __init__(self, latency: float = 0.0, *, app_key: str = DEMO_APP_KEY,
                 users: dict[str, dict[str, str]] | None = None, token_lifetime: float = 86400,
                 fail_info: dict[str, int] | None = None) -> None:
        super().__init__(latency)
        self.app_key = app_key
        self.users = copy.deepcopy(USERS if users is None else users)
        self.token_lifetime = token_lifetime
        self.fail_info = dict(fail_info or {})
        data = load_fixture("etna_demo.json")
        self.accounts: list[dict[str, Any]] = data["accounts"]
        self.infos: dict[str, dict[str, Any]] = data["infos"]
        self.tokens: dict[str, float] = {}  # token -> expiry (epoch seconds)
        self.interim: dict[str, str] = {}  # second-factor token -> username
        self.logins = 0

    # -- helpers for tests
    def issue(self, lifetime: float | None = None) -> str:
        token = f"etna-{secrets.token_urlsafe(24)}"
        with self.lock:
            self.tokens[token] = time.time() + (self.token_lifetime if lifetime is None
                                                else lifetime)
        return token

    def expire_all(self) -> None:
        with self.lock:
            for token in self.tokens:
                self.tokens[token] = 0

    def fail_with(self, shape: str, path: str = "", times: int = 1,
                  status: int | None = None) -> None:
        """Answer the next matching requests with one of ERROR_BODIES."""
        default_status, body = ERROR_BODIES[shape]
        self.inject("status", path, times, status=status or default_status, body=body)

    # -- routing
    def handle(self, request: Request) -> Reply:
        if request.header("Et-App-Key") != self.app_key:
            return json_reply(ERROR_BODIES["error"][1], 403)
        path = request.path
        if request.method == "POST" and path == "/api/token":
            return self._token(request)
        match = re.fullmatch(r"/api/v1\.0(/.*)", path)
        route = match.group(1) if match and request.method == "GET" else None
        if route is None:
            return self._not_found(path)
        token = request.bearer()
        with self.lock:
            if token is None or self.tokens.get(token, 0) <= time.time():
                return json_reply(UNAUTHORIZED, 401)
        if route == "/users/@me/accounts":
            return json_reply(copy.deepcopy(self.accounts))
        match = re.fullmatch(r"/accounts/([^/]+)/info", route)
        if match:
            account_id = unquote(match.group(1))  # one path segment, decoded as servers do
            if account_id in self.fail_info:
                status = self.fail_info[account_id]
                if status >= 500:
                    return json_reply({"Model": None, "Errors": ["Balance service timed out"],
                                       "StatusCode": status, "IsSucceed": False}, status)
                return json_reply({"Message": f"Account {account_id} was not found."}, status)
            if account_id in self.infos:
                return json_reply(copy.deepcopy(self.infos[account_id]))
            return json_reply({"Message": "The request is invalid."}, 400)
        return self._not_found(path)

    def _not_found(self, path: str) -> Reply:
        return json_reply({"Message": "No HTTP resource was found that matches the request "
                                      f"URI '{path}'."}, 404)

    def _token(self, request: Request) -> Reply:
        username = request.header("Username") or ""
        user = self.users.get(username)
        if user is None or request.header("Password") != user["password"]:
            return json_reply({"State": "Failed", "Step": "BaseAuthentication",
                               "Reason": "Invalid credentials"}, 401)
        step = user.get("step")
        if step:
            code_header = "PinCode" if step == "SecutityPin" else "VerificationCode"
            interim = request.bearer()
            with self.lock:
                known = interim is not None and self.interim.get(interim) == username
            if not known:
                if request.header(code_header):
                    return json_reply({"State": "Failed", "Step": step,
                                       "Reason": "Corrupted ticket"}, 401)
                interim = f"etna-2fa-{secrets.token_urlsafe(18)}"
                with self.lock:
                    self.interim[interim] = username
                reason = "Expecting PIN code" if code_header == "PinCode" else \
                    "Expecting confirmation code"
                return json_reply({"Step": step, "Reason": reason, "State": "Expecting",
                                   "Token": interim}, 202)
            if request.header(code_header) != user["code"]:
                return json_reply({"State": "Failed", "Step": step,
                                   "Reason": "Invalid pin" if code_header == "PinCode"
                                   else "Invalid verification code"}, 401)
            with self.lock:
                if interim is not None:
                    self.interim.pop(interim, None)
        with self.lock:
            self.logins += 1
        return json_reply({"State": "Succeeded", "Token": self.issue()})


def demo_profile(stack: ExitStack, latency: float = 0.0) -> Any:
    from balancecli.demo import DemoProfile

    fake = FakeEtna(latency).start()
    stack.callback(fake.stop)
    # No token: the first request logs in, so the demo shows the whole ETNA login.
    return DemoProfile(
        settings={"broker": "etna", "base_url": fake.url + "/api"},
        secrets={"APP_KEY": DEMO_APP_KEY, "USERNAME": DEMO_USERNAME, "PASSWORD": DEMO_PASSWORD},
    )
