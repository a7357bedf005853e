"""A fake TradeStation (v3 and v2) on 127.0.0.1, for ``--demo`` and the tests.

It checks what TradeStation checks: a known, unexpired bearer token on every data call, the
client id/secret and refresh token at the token endpoint (rotating refresh tokens when
``rotate`` is set), at most 25 ids per balances request, and that balances are asked only for
the account types the endpoint serves (Cash, Margin, Futures, DVP: another type gets the v3
spec's own ``Errors`` example, ``Forbidden`` / ``Request not supported for account type.``).
It also runs the authorization-code flow (with PKCE S256 when a challenge is sent) for
browser-login tests.

``quota`` (off by default, as the older rate-limit page describes it) meters requests per
resource category (Accounts, Balances) in a fixed window of ``quota_period`` seconds from the
first request, as the rate-limiting pages describe, and sends the newer page's headers on every
v3 answer: ``X-RateLimit-Limit``, ``X-RateLimit-Remaining`` and ``X-RateLimit-Reset`` (seconds
until the window resets); past the quota, HTTP 429 with the spec's ``ErrorResponse``.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import math
import secrets
import time
from collections.abc import Callable
from contextlib import ExitStack
from typing import Any
from urllib.parse import unquote, urlencode

from balancecli.demo.server import FakeBroker, Reply, Request, json_reply, load_fixture

DEMO_CLIENT_ID = "demo-ts-client"
DEMO_CLIENT_SECRET = "demo-ts-client-secret-0000"
SERVED_TYPES = ("Cash", "Margin", "Futures", "DVP")  # "Request valid for" (the v3 spec)


def _token(prefix: str) -> str:
    return f"{prefix}-{secrets.token_urlsafe(18)}"


class FakeTradeStation(FakeBroker):
    def __init__(self, latency: float = 0.0, *, client_id: str = DEMO_CLIENT_ID,
                 client_secret: str | None = DEMO_CLIENT_SECRET, token_lifetime: int = 1200,
                 rotate: bool = False, user_id: str = "demo_user") -> None:
        super().__init__(latency)
        self.client_id = client_id
        self.client_secret = client_secret
        self.token_lifetime = token_lifetime
        self.rotate = rotate
        self.user_id = user_id
        self.v3 = load_fixture("tradestation_v3.json")
        self.v2 = load_fixture("tradestation_v2.json")
        self.access_tokens: dict[str, float] = {}
        self.refresh_tokens: set[str] = set()
        self.codes: dict[str, dict[str, str]] = {}
        self.refresh_count = 0
        self.include_error_account = False  # a Cash account the balances answer refuses
        self.include_unsupported_account = False  # a Crypto account: not a balances type
        self.quota: int | None = None  # requests per resource category and window
        self.quota_period = 300.0
        self._windows: dict[str, tuple[float, int]] = {}  # category -> (start, count)

    # -- token helpers for tests and the demo
    def issue(self, lifetime: int | None = None) -> tuple[str, str]:
        access, refresh = _token("ts-at"), _token("ts-rt")
        with self.lock:
            self.access_tokens[access] = time.time() + (lifetime or self.token_lifetime)
            self.refresh_tokens.add(refresh)
        return access, refresh

    def expire_all(self) -> None:
        with self.lock:
            for token in self.access_tokens:
                self.access_tokens[token] = 0

    def _authorized(self, request: Request) -> bool:
        token = request.bearer()
        with self.lock:
            return token is not None and self.access_tokens.get(token, 0) > time.time()

    # -- routing
    def handle(self, request: Request) -> Reply:
        path = request.path
        if request.method == "POST" and path in ("/oauth/token", "/v2/security/authorize"):
            return self._token_endpoint(request)
        if request.method == "GET" and path == "/authorize":
            return self._authorize(request)
        if not self._authorized(request):
            if path.startswith("/v2/"):
                return json_reply({"TraceId": "00000000-0000-0000-0000-000000000000",
                                   "StatusCode": 401, "Message": "Unauthorized"}, 401)
            return json_reply({"Error": "Unauthorized",
                               "Message": "Token is expired or invalid."}, 401)
        parts = [unquote(p) for p in path.strip("/").split("/")]
        if parts == ["v3", "brokerage", "accounts"]:
            return self._metered("Accounts", lambda: json_reply({"Accounts": self._v3_accounts()}))
        if len(parts) == 5 and parts[:3] == ["v3", "brokerage", "accounts"] and \
                parts[4] == "balances":
            return self._metered("Balances", lambda: self._v3_balances(parts[3].split(",")))
        if len(parts) == 4 and parts[:2] == ["v2", "users"] and parts[3] == "accounts":
            if parts[2] != self.user_id:
                return json_reply({"StatusCode": 403, "Message": "Forbidden"}, 403)
            return json_reply(copy.deepcopy(self.v2["accounts"]))
        if len(parts) == 4 and parts[:2] == ["v2", "accounts"] and parts[3] == "balances":
            return self._v2_balances(parts[2].split(","))
        return json_reply({"Error": "NotFound", "Message": f"no route {path}"}, 404)

    def _v3_accounts(self) -> list[dict[str, Any]]:
        accounts: list[dict[str, Any]] = copy.deepcopy(self.v3["accounts"])
        if self.include_error_account:
            accounts += copy.deepcopy(self.v3["error_accounts"])
        if self.include_unsupported_account:
            accounts += copy.deepcopy(self.v3["unsupported_accounts"])
        return accounts

    def _metered(self, category: str, answer: Callable[[], Reply]) -> Reply:
        """The answer with the rate-limit headers of ``category``; 429 past the quota."""
        if self.quota is None:
            return answer()
        now = time.monotonic()
        with self.lock:
            start, count = self._windows.get(category, (now, 0))
            if now - start >= self.quota_period:
                start, count = now, 0
            count += 1
            self._windows[category] = (start, count)
        reset = max(0, math.ceil(start + self.quota_period - now))
        headers = {"X-RateLimit-Limit": str(self.quota),
                   "X-RateLimit-Remaining": str(max(0, self.quota - count)),
                   "X-RateLimit-Reset": str(reset)}
        if count > self.quota:
            return json_reply({"Error": "TooManyRequests",
                               "Message": "Rate limit exceeded for this resource."}, 429,
                              **headers)
        reply = answer()
        reply.headers.update(headers)
        return reply

    def _v3_balances(self, ids: list[str]) -> Reply:
        if not 1 <= len(ids) <= 25:
            return json_reply({"Error": "BadRequest",
                               "Message": "1 to 25 account ids are allowed"}, 400)
        types = {a["AccountID"]: a.get("AccountType") for a in self._v3_accounts()}
        balances, errors = [], []
        for account_id in ids:
            if types.get(account_id, "Cash") not in SERVED_TYPES:
                errors.append({"AccountID": account_id, "Error": "Forbidden",
                               "Message": "Request not supported for account type."})
            elif account_id in self.v3["balances"]:
                balances.append(copy.deepcopy(self.v3["balances"][account_id]))
            elif account_id in self.v3["errors"]:
                errors.append(copy.deepcopy(self.v3["errors"][account_id]))
            else:
                errors.append({"AccountID": account_id, "Error": "NotFound",
                               "Message": "Account not found."})
        return json_reply({"Balances": balances, "Errors": errors})

    def _v2_balances(self, keys: list[str]) -> Reply:
        if not 1 <= len(keys) <= 25:
            return json_reply({"StatusCode": 400, "Message": "1 to 25 keys are allowed"}, 400)
        items = [copy.deepcopy(self.v2["balances"][k]) for k in keys if k in self.v2["balances"]]
        if len(keys) == 1 and len(items) == 1 and "__type" not in items[0]:
            return json_reply(items[0])  # the v2 docs show a bare object for one cash account
        return json_reply(items)

    def _authorize(self, request: Request) -> Reply:
        p = request.params
        if p.get("client_id") != self.client_id or not p.get("redirect_uri"):
            return Reply(400, "invalid client_id or redirect_uri")
        code = _token("ts-code")
        with self.lock:
            self.codes[code] = {
                "redirect_uri": p["redirect_uri"],
                "challenge": p.get("code_challenge", ""),
            }
        query = urlencode({"code": code, "state": p.get("state", "")})
        return Reply(302, b"", {"Location": f"{p['redirect_uri']}?{query}"})

    def _token_endpoint(self, request: Request) -> Reply:
        form = request.form()
        if form.get("client_id") != self.client_id:
            return json_reply({"error": "invalid_client", "error_description": "Unknown client"},
                              401)
        grant = form.get("grant_type")
        with self.lock:
            if grant == "refresh_token":
                if self.client_secret and form.get("client_secret") != self.client_secret:
                    return json_reply({"error": "access_denied",
                                       "error_description": "Unauthorized"}, 401)
                if form.get("refresh_token") not in self.refresh_tokens:
                    return json_reply({"error": "invalid_grant",
                                       "error_description": "Unknown or invalid refresh token."},
                                      403)
                self.refresh_count += 1
                access = _token("ts-at")
                self.access_tokens[access] = time.time() + self.token_lifetime
                body: dict[str, Any] = {"access_token": access, "expires_in": self.token_lifetime,
                                        "scope": "openid offline_access ReadAccount",
                                        "token_type": "Bearer"}
                if self.rotate:
                    self.refresh_tokens.discard(form["refresh_token"])
                    body["refresh_token"] = _token("ts-rt")
                    self.refresh_tokens.add(body["refresh_token"])
                if request.path.startswith("/v2/"):
                    body["userid"] = self.user_id
                return json_reply(body)
            if grant == "authorization_code":
                entry = self.codes.pop(form.get("code", ""), None)
                if entry is None or entry["redirect_uri"] != form.get("redirect_uri"):
                    return json_reply({"error": "invalid_grant",
                                       "error_description": "Invalid authorization code"}, 403)
                if entry["challenge"]:
                    verifier = form.get("code_verifier", "").encode()
                    digest = base64.urlsafe_b64encode(hashlib.sha256(verifier).digest())
                    if digest.rstrip(b"=").decode() != entry["challenge"]:
                        return json_reply({"error": "invalid_grant",
                                           "error_description": "PKCE verification failed"}, 403)
                elif self.client_secret and form.get("client_secret") != self.client_secret:
                    return json_reply({"error": "access_denied"}, 401)
                access, refresh = _token("ts-at"), _token("ts-rt")
                self.access_tokens[access] = time.time() + self.token_lifetime
                self.refresh_tokens.add(refresh)
                return json_reply({"access_token": access, "refresh_token": refresh,
                                   "expires_in": self.token_lifetime, "token_type": "Bearer"})
        return json_reply({"error": "unsupported_grant_type"}, 400)


def demo_profile(stack: ExitStack, latency: float = 0.0) -> Any:
    from balancecli.demo import DemoProfile

    fake = FakeTradeStation(latency).start()
    stack.callback(fake.stop)
    _, refresh = fake.issue()
    # No access token: the first request refreshes, so the demo shows the whole token dance.
    return DemoProfile(
        settings={"broker": "tradestation", "api": "v3", "base_url": fake.url,
                  "token_url": fake.url + "/oauth/token"},
        secrets={"REFRESH_TOKEN": refresh, "CLIENT_ID": DEMO_CLIENT_ID,
                 "CLIENT_SECRET": DEMO_CLIENT_SECRET},
    )
