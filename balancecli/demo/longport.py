"""A fake LongPort OpenAPI server: the demo broker and the tests' double.

- API-key mode (default) verifies ``X-Api-Signature`` the way the service does (canonical
  request over method, path, the raw query as received, the signed headers and the body's SHA-1;
  HMAC-SHA256 with the app secret), written independently of the client's signer: 403203 for
  an unknown ``X-Api-Key``, 403201 for a bad signature, 403202 when the same signed request comes
  twice (same timestamp), 401003 for an expired and 401004 for an unknown or revoked token.
  The official SDK sends integer seconds, the Go SDK milliseconds: both are accepted.
- OAuth mode takes ``Authorization: Bearer`` tokens and serves ``/oauth2/token`` (refresh-token
  grant with rotating refresh tokens; authorization-code grant with PKCE S256),
  ``/oauth2/authorize`` (redirects to ``redirect_uri`` with ``code`` and ``state``),
  ``/oauth2/revoke`` (RFC 7009) and the discovery document.
- ``GET /v1/asset/account`` serves ``variant`` ("example" = the API docs' example, "multi",
  "empty" = empty strings, "no_list" = ``{"code": 0, "data": {}}``, an answer the SDK
  refuses, "demo" = what ``--demo`` shows: the docs' shape with the numbers of one plausible
  account, its cash a part of its net assets) filtered by the ``currency`` query parameter.
- ``GET /v1/token/refresh`` (legacy) issues a new token and revokes the old one at once.
- ``fail_codes``: envelope error codes returned (with their HTTP status) by the next API calls.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from contextlib import ExitStack
from typing import Any
from urllib.parse import urlencode

from balancecli.demo.server import FakeBroker, Reply, Request, json_reply, load_fixture

DEMO_APP_KEY = "demo-lp-app-key"
DEMO_APP_SECRET = "demo-lp-app-secret-0f9e8d7c"
DEMO_ACCESS_TOKEN = "m_demo-lp-access-token-5a4b3c"
DEMO_CLIENT_ID = "demo-lp-client"

FIXTURES = {"example": "longport_account.json", "multi": "longport_account_multi.json",
            "empty": "longport_account_empty.json", "no_list": "longport_account_no_list.json",
            "demo": "longport_account_demo.json"}
MESSAGES = {401003: "token expired", 401004: "token invalid", 403201: "signature invalid",
            403202: "duplicate request", 403203: "apikey illegal", 403205: "ip is not allowed",
            429001: "ip request ratelimit", 429002: "api request is limited",
            500000: "internal error"}


def envelope_error(code: int, message: str | None = None) -> dict[str, Any]:
    """The error body the service sends for ``code`` (the docs' error-code table)."""
    return {"code": code, "message": message or MESSAGES.get(code, "error"), "data": None}


def http_status(code: int) -> int:
    return {401: 401, 403: 403, 429: 429, 500: 500}.get(code // 1000, 400)


class FakeLongPort(FakeBroker):
    def __init__(self, latency: float = 0.0, *, mode: str = "apikey",
                 app_key: str = DEMO_APP_KEY, app_secret: str = DEMO_APP_SECRET,
                 access_token: str | None = DEMO_ACCESS_TOKEN, client_id: str = DEMO_CLIENT_ID,
                 variant: str = "example") -> None:
        super().__init__(latency)
        self.mode = mode
        self.app_key, self.app_secret, self.client_id = app_key, app_secret, client_id
        self.variant = variant
        self.tokens: dict[str, float | None] = {}  # valid token -> expiry (epoch) or None
        self.revoked: set[str] = set()
        self.refresh_tokens: set[str] = set()
        self.rotate_refresh_tokens = True
        self.expires_in = 2592000  # 30 days, the documented OAuth example
        self.client_secret: str | None = None  # when set, the token endpoint requires it
        self.fail_codes: list[int] = []
        self.seen: set[str] = set()  # signatures already used (403202)
        self.oauth_refreshes = 0
        self.revocations = 0
        self.legacy_refreshes = 0
        self.codes: dict[str, dict[str, str]] = {}  # authorization code -> its request
        if access_token:
            self.tokens[access_token] = None

    # -- helpers for tests
    def issue(self, lifetime: float | None = None, prefix: str = "m_") -> str:
        token = prefix + secrets.token_urlsafe(24)
        with self.lock:
            self.tokens[token] = None if lifetime is None else time.time() + lifetime
        return token

    def issue_refresh_token(self) -> str:
        token = "rt_" + secrets.token_urlsafe(24)
        with self.lock:
            self.refresh_tokens.add(token)
        return token

    def expire(self, token: str) -> None:
        with self.lock:
            self.tokens[token] = time.time() - 1

    # -- dispatch
    def handle(self, request: Request) -> Reply:
        path = request.path
        if path == "/oauth2/token" and request.method == "POST":
            return self._oauth_token(request)
        if path == "/oauth2/authorize":
            return self._authorize(request)
        if path == "/oauth2/revoke" and request.method == "POST":
            return self._revoke(request)
        if path == "/.well-known/oauth-authorization-server":
            return json_reply({
                "issuer": self.url, "authorization_endpoint": self.url + "/oauth2/authorize",
                "token_endpoint": self.url + "/oauth2/token",
                "revocation_endpoint": self.url + "/oauth2/revoke",
                "grant_types_supported": ["authorization_code", "refresh_token"],
                "code_challenge_methods_supported": ["S256"]})
        denied = self._authenticate(request)
        if denied is not None:
            return denied
        with self.lock:
            code = self.fail_codes.pop(0) if self.fail_codes else None
        if code is not None:
            return json_reply(envelope_error(code), http_status(code))
        if path == "/v1/asset/account" and request.method == "GET":
            return self._account(request)
        if path == "/v1/token/refresh" and request.method == "GET":
            return self._legacy_refresh(request)
        return json_reply({"code": 404001, "message": "not found", "data": None}, 404)

    def _account(self, request: Request) -> Reply:
        body = load_fixture(FIXTURES[self.variant])
        if "message" not in body and "msg" not in body:
            # The API docs' example has no message, but the SDK's envelope struct requires one
            # (httpclient request.rs), so the live service sends it.
            body = {"code": body["code"], "message": "success", **body}
        currency = request.params.get("currency")
        if currency and "list" in body["data"]:
            body["data"]["list"] = [e for e in body["data"]["list"]
                                    if e.get("currency") == currency]
        return json_reply(body)

    # -- authentication
    def _authenticate(self, request: Request) -> Reply | None:
        authorization = request.header("authorization") or ""
        if self.mode == "oauth":
            token = request.bearer()
            if token is None:
                return json_reply(envelope_error(401004), 401)
        else:
            if request.header("x-api-key") != self.app_key:
                return json_reply(envelope_error(403203), 403)
            denied = self._verify_signature(request)
            if denied is not None:
                return denied
            token = authorization
        with self.lock:
            if token not in self.tokens:
                return json_reply(envelope_error(401004), 401)
            expiry = self.tokens[token]
        if expiry is not None and expiry <= time.time():
            return json_reply(envelope_error(401003), 401)
        return None

    def _verify_signature(self, request: Request) -> Reply | None:
        value = request.header("x-api-signature") or ""
        fields = dict(part.strip().split("=", 1) for part in value.removeprefix(
            "HMAC-SHA256 ").split(",") if "=" in part)
        names = fields.get("SignedHeaders", "")
        timestamp = request.header("x-timestamp") or ""
        if (not value.startswith("HMAC-SHA256 ") or not names
                or not timestamp.replace(".", "", 1).isdigit()
                or any(request.header(n) is None for n in names.split(";"))):
            return json_reply(envelope_error(403201), 403)
        lines = "".join(f"{n}:{request.header(n)}\n" for n in names.split(";"))
        plain = f"{request.method}|{request.path}|{request.query}|{lines}|{names}|"
        if request.body:
            plain += hashlib.sha1(request.body).hexdigest()
        string_to_sign = "HMAC-SHA256|" + hashlib.sha1(plain.encode()).hexdigest()
        expected = hmac.new(self.app_secret.encode(), string_to_sign.encode(),
                            hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, fields.get("Signature", "")):
            return json_reply(envelope_error(403201), 403)
        with self.lock:
            if expected in self.seen:  # the same request without a new X-Timestamp
                return json_reply(envelope_error(403202), 403)
            self.seen.add(expected)
        return None

    # -- tokens
    def _legacy_refresh(self, request: Request) -> Reply:
        expired_at = request.params.get("expired_at", "")
        if "T" not in expired_at:
            return json_reply({"code": 400001, "message": "invalid expired_at", "data": None},
                              400)
        new = self.issue(prefix="m_")
        with self.lock:
            old = request.header("authorization") or ""
            self.tokens.pop(old, None)
            self.revoked.add(old)
            self.legacy_refreshes += 1
        return json_reply({"code": 0, "message": "success", "data": {
            "token": new, "expired_at": expired_at,
            "issued_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "account_info": {"member_id": 300000, "aaid": 100000,
                             "account_channel": "lb_papertrading"}}})

    def _oauth_token(self, request: Request) -> Reply:
        form = request.form()
        if form.get("client_id") != self.client_id or (
                self.client_secret is not None
                and form.get("client_secret") != self.client_secret):
            return json_reply({"error": "invalid_client"}, 401)
        grant = form.get("grant_type")
        with self.lock:
            if grant == "refresh_token":
                old = form.get("refresh_token", "")
                if old not in self.refresh_tokens:
                    return json_reply({"error": "invalid_grant",
                                       "error_description": "refresh token is invalid"}, 400)
                self.oauth_refreshes += 1
                if self.rotate_refresh_tokens:
                    self.refresh_tokens.discard(old)
            elif grant == "authorization_code":
                pending = self.codes.pop(form.get("code", ""), None)
                verifier = form.get("code_verifier", "").encode()
                challenge = base64.urlsafe_b64encode(
                    hashlib.sha256(verifier).digest()).rstrip(b"=").decode()
                if (pending is None or pending["redirect_uri"] != form.get("redirect_uri")
                        or pending["code_challenge"] != challenge):
                    return json_reply({"error": "invalid_grant"}, 400)
            else:
                return json_reply({"error": "unsupported_grant_type"}, 400)
        body: dict[str, Any] = {"access_token": self.issue(self.expires_in),
                                "expires_in": self.expires_in, "token_type": "Bearer"}
        if grant == "authorization_code" or self.rotate_refresh_tokens:
            body["refresh_token"] = self.issue_refresh_token()
        return json_reply(body)

    def _revoke(self, request: Request) -> Reply:
        """RFC 7009: 200 whether or not the token was known; unknown client is 401."""
        form = request.form()
        if form.get("client_id") != self.client_id:
            return json_reply({"error": "invalid_client"}, 401)
        token = form.get("token", "")
        with self.lock:
            self.revocations += 1
            self.refresh_tokens.discard(token)
            if self.tokens.pop(token, False) is not False:
                self.revoked.add(token)
        return json_reply({})

    def _authorize(self, request: Request) -> Reply:
        p = request.params
        if (p.get("client_id") != self.client_id or p.get("response_type") != "code"
                or p.get("code_challenge_method") != "S256" or not p.get("code_challenge")
                or not p.get("redirect_uri")):
            return json_reply({"error": "invalid_request"}, 400)
        code = secrets.token_urlsafe(16)
        with self.lock:
            self.codes[code] = {"redirect_uri": p["redirect_uri"],
                                "code_challenge": p["code_challenge"]}
        query = urlencode({"code": code, **({"state": p["state"]} if "state" in p else {})})
        sep = "&" if "?" in p["redirect_uri"] else "?"
        return Reply(302, b"", {"Location": p["redirect_uri"] + sep + query})


def demo_profile(stack: ExitStack, latency: float = 0.0) -> Any:
    from balancecli.demo import DemoProfile

    # The docs' example has 70,000 times more cash than net assets: fine for a parser, not
    # for a demo that should look like one account.
    fake = FakeLongPort(latency, variant="demo").start()
    stack.callback(fake.stop)
    # API-key mode: the demo shows real request signing, verified by the server.
    return DemoProfile(
        settings={"broker": "longport", "auth": "apikey", "base_url": fake.url,
                  "account_id": "LP-DEMO"},
        secrets={"APP_KEY": DEMO_APP_KEY, "APP_SECRET": DEMO_APP_SECRET,
                 "ACCESS_TOKEN": DEMO_ACCESS_TOKEN},
    )
