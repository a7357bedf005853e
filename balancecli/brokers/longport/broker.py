"""LongPort OpenAPI / Longbridge (one service, rebranded): the account balance over HTTP.

Sources: the "Get Account Balance" page, https://open.longportapp.com/docs/trade/asset/account
(``GET /v1/asset/account``, its schema and example); the other pages of those docs
(``longportapp/openapi-website``, with its error-code table); the Rust and Go SDKs
(``longbridge/openapi``, ``longbridge/openapi-go``).

- Hosts: ``https://openapi.longbridge.com``, China ``https://openapi.longbridge.cn``; the
  brand moved lbkrs -> longportapp -> longbridge, so ``base_url``/``token_url`` override. Every
  request carries ``x-dc-region``: ``us`` when any credential starts ``us_``, else ``ap``
  (the SDK's ``DcRegion::from_credentials``).
- Auth, ``auth`` setting. ``apikey``: ``X-Api-Key``, ``Authorization`` (the raw token, no
  Bearer), ``X-Timestamp`` and an HMAC-SHA256 ``X-Api-Signature`` over method, path, the raw
  wire query, those headers and the body's SHA-1. The query is encoded once and the same bytes
  are signed and sent (a re-encoded ``:`` gave 403201,
  https://github.com/longbridge/openapi/issues/180); every attempt gets a fresh, strictly
  increasing millisecond timestamp (a reused one is 403202). The token lives 90 days;
  ``GET /v1/token/refresh?expired_at=`` issues a new one and kills the old one at once, so it is
  saved before anything else, under the profile lock. ``oauth``: Bearer tokens (30 days) from
  ``POST /oauth2/token`` (refresh-token grant, the refresh token rotates), refreshed when less
  than 300 s are left (the SDK's margin) or once after 401003/401004.
- Envelope and signing: ``sign.py``. Rate limits: the trade API allows at most 30 calls in 30 s,
  0.02 s apart (the docs' "Rate Limit"; ``limits`` below, kept by the per-host limiter). 429s
  are retried with backoff by the HTTP client; a 403202 is signed again at once.
- Quirks: every value is a string and may be ``""`` (-> None); ``data.list`` may hold several
  entries, one per currency view, each with per-currency ``cash_infos``. There is no
  account-list endpoint: one credential set is one account, labelled by ``account_id``. The
  field mapping is the ``FieldMap`` declarations below, which the parsers read.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, urlencode

from balancecli.brokers.base import Broker, Result, Setting
from balancecli.brokers.longport.sign import (
    DUPLICATE_RETRIES,
    RATE_CODES,
    DuplicateRequest,
    TokenRejected,
    code_of,
    dc_region,
    json_or_none,
    read_envelope,
    sign,
    step_aside,
    timestamp,
    token_error,
)
from balancecli.brokers.mapping import FieldMap, From
from balancecli.brokers.payload import (
    blank_to_none,
    expiry_epoch,
    objects,
    seconds_left,
    token_fields,
)
from balancecli.core.clock import utc_now
from balancecli.core.errors import BadResponseError, BalanceCliError
from balancecli.core.models import Account, Asset, Balance
from balancecli.core.numbers import to_text
from balancecli.core.secretfields import OAUTH_STAND_INS, SecretFields
from balancecli.net.limiter import RateLimit

HOSTS = {"global": "https://openapi.longbridge.com", "cn": "https://openapi.longbridge.cn"}
OAUTH_MARGIN = 300  # seconds; the SDK refreshes when less is left (oauth/src/token.rs)
OAUTH_DEFAULT_LIFETIME = 3600  # the SDK's assumption when expires_in is missing
LEGACY_LIFETIME = timedelta(days=90)
ACCOUNT_PAGE = "https://open.longportapp.com/docs/trade/asset/account"
CASH_INFOS = "cash_infos"  # each data.list entry's per-currency cash
ACCOUNTS = FieldMap(
    Account, "none: one credential set is one account (the API has no account list)",
    ACCOUNT_PAGE, fields={
        "account_id": From(setting="account_id", note="else the profile name"),
        "type": From(value="securities"),
    })
BALANCES = FieldMap(
    Balance, "GET /v1/asset/account[?currency=X]", ACCOUNT_PAGE, each="list",
    rows="one per entry of data.list: a currency view of the account", fields={
        "currency": "currency",
        "as_of": From(note="the time of the fetch"),
        "cash": "total_cash",
        "available": From("available_cash", within=CASH_INFOS,
                          note="the one in the entry's own currency"),
        "withdrawable": From("withdraw_cash", within=CASH_INFOS,
                             note="the one in the entry's own currency"),
        "buying_power": "buy_power",
        "equity": "net_assets",
        "initial_margin": "init_margin",
        "maintenance_margin": "maintenance_margin",
    })
ASSETS = FieldMap(
    Asset, "GET /v1/asset/account[?currency=X]", ACCOUNT_PAGE, each=CASH_INFOS,
    rows="one per cash_infos currency of the data.list entries (the first occurrence wins)",
    fields={
        "asset": "currency",
        "total": From(note="not sent: null"),
        "available": "available_cash",
        "reserved": "frozen_cash",
        "settling": "settling_cash",
        "withdrawable": "withdraw_cash",
    })


class LongPort(Broker):
    name = "longport"
    # Trade API: at most 30 calls per 30 s, 0.02 s apart (per host here).
    limits = RateLimit(start=2, ceiling=5, calls=30, period=30, gap=0.02)
    settings = {
        "auth": Setting(str, "oauth", choices=("oauth", "apikey"), shown=True),
        "region": Setting(str, "global", choices=tuple(HOSTS), shown=True,
                          overridden_by="base_url"),
        "base_url": Setting(str, None, help="overrides region", where=True),
        "token_url": Setting(str, None, help="default: base_url + /oauth2/token"),
        "account_id": Setting(str, None, help="label of the account (default: profile name)"),
        "refresh_days": Setting((int, float), 7, help="legacy token: refresh window",
                                minimum=0),
        "client_id": Setting(str, None, help="OAuth client id (else the CLIENT_ID secret)"),
    }

    # -- declarations: secrets, field mappings --------------------------------------------
    title = "LongPort"
    field_maps = (ACCOUNTS, BALANCES, ASSETS)

    @classmethod
    def secret_spec(cls, settings: dict[str, Any]) -> SecretFields:
        if settings.get("auth", "oauth") == "oauth":
            return SecretFields(
                required=("ACCESS_TOKEN", "REFRESH_TOKEN") + (() if settings.get("client_id")
                                                               else ("CLIENT_ID",)),
                optional=("CLIENT_SECRET", "ACCESS_TOKEN_EXPIRES_AT"),
                stand_ins=OAUTH_STAND_INS, token="ACCESS_TOKEN",
                expiry="ACCESS_TOKEN_EXPIRES_AT", renewed_by=("REFRESH_TOKEN",),
                not_secret=("ACCESS_TOKEN_EXPIRES_AT",))
        # API-key mode: the access token is the credential (refreshed with itself before it
        # expires, never after).
        return SecretFields(
            required=("APP_KEY", "APP_SECRET", "ACCESS_TOKEN"),
            optional=("ACCESS_TOKEN_EXPIRES_AT",), token="ACCESS_TOKEN",
            expiry="ACCESS_TOKEN_EXPIRES_AT", not_secret=("ACCESS_TOKEN_EXPIRES_AT",))

    def __init__(self, ctx: Any) -> None:
        super().__init__(ctx)
        s = ctx.settings
        self.oauth = (s.get("auth") or "oauth") == "oauth"
        self.base = (s.get("base_url") or HOSTS[s.get("region") or "global"]).rstrip("/")
        self.token_url = s.get("token_url") or self.base + "/oauth2/token"
        self._lock = threading.RLock()
        self._token: str | None = None

    # -- tokens
    def _client_id(self) -> str:
        return self.ctx.settings.get("client_id") or self.ctx.secrets.require("CLIENT_ID")

    def _current_token(self) -> str:
        with self._lock:
            if self._token:
                return self._token
            secrets = self.ctx.secrets
            if self.oauth:
                token = secrets.get("ACCESS_TOKEN")
                left = seconds_left(secrets.get("ACCESS_TOKEN_EXPIRES_AT"))
                if not token or (left is not None and left < OAUTH_MARGIN):
                    return self._refresh_oauth(stale=token)
            else:
                token = secrets.require("ACCESS_TOKEN")
                left = seconds_left(secrets.get("ACCESS_TOKEN_EXPIRES_AT"))
                window = float(self.ctx.settings.get("refresh_days") or 7) * 86400
                if left is not None and left < window:
                    if secrets.source("ACCESS_TOKEN") != "env":
                        return self._refresh_legacy(stale=token)
                    # The refresh kills the old token at once and the env var would keep
                    # shadowing the new one (https://github.com/longbridge/openapi/issues/288):
                    # tell the user instead.
                    self.ctx.warn(f"{self.profile}: the LongPort access token expires in "
                                  f"{max(0, left) / 86400:.1f} days; run: balancecli auth "
                                  f"refresh {self.profile}, then update the environment")
            self._token = str(token)
            return self._token

    def refresh(self) -> None:
        """Forced refresh (``balancecli auth refresh``)."""
        if self.oauth:
            self._refresh_oauth(stale=None, force=True)
        else:
            self._refresh_legacy(stale=None, force=True)

    def _refresh_legacy(self, stale: str | None, force: bool = False) -> str:
        secrets = self.ctx.secrets
        with self._lock, secrets.locked():
            current = secrets.require("ACCESS_TOKEN")
            if not force and current != stale:  # another process refreshed while we waited
                self._token = current
                return current
            expires = datetime.now(UTC) + LEGACY_LIFETIME
            query = urlencode({"expired_at": expires.strftime("%Y-%m-%dT%H:%M:%S.")
                               + f"{expires.microsecond // 1000:03d}Z"}, quote_via=quote)
            data = self._send("/v1/token/refresh", query, current, tolerant=True)
            token = data.get("token")
            if not isinstance(token, str) or not token:
                raise BadResponseError("the LongPort token refresh returned no token")
            # The old token is dead from now on: store the new one before anything else (Secrets
            # warns when it cannot); an unreadable expired_at is replaced by the one we asked for.
            expired_at = data.get("expired_at")
            secrets.save(access_token=token,
                         access_token_expires_at=expired_at if isinstance(expired_at, str)
                         and expiry_epoch(expired_at) is not None
                         else expires.strftime("%Y-%m-%dT%H:%M:%SZ"))
            self._token = token
            return token

    def _refresh_oauth(self, stale: str | None, force: bool = False) -> str:
        secrets = self.ctx.secrets
        with self._lock, secrets.locked():
            current = secrets.get("ACCESS_TOKEN")
            left = seconds_left(secrets.get("ACCESS_TOKEN_EXPIRES_AT"))
            if (not force and current and current != stale
                    and (left is None or left >= OAUTH_MARGIN)):
                self._token = str(current)
                return self._token
            refresh_token = secrets.require("REFRESH_TOKEN")
            form = {"grant_type": "refresh_token", "client_id": self._client_id(),
                    "refresh_token": refresh_token}
            if secrets.get("CLIENT_SECRET"):
                form["client_secret"] = str(secrets.get("CLIENT_SECRET"))
            response = self.ctx.http.request("POST", self.token_url, data=form,
                                             headers={"Accept": "application/json"})
            body = json_or_none(response, tolerant=True)  # the tokens outweigh a bad number
            if response.status != 200 or not isinstance(body, dict):
                raise token_error(response, body, self.profile)
            return self._store_oauth(body)

    def _store_oauth(self, body: dict) -> str:
        """Save the tokens before anything else in the answer is read: the old refresh token
        is dead once a new one was issued. An unusable ``expires_in`` means the SDK's 3600 s."""
        token, rotated = body.get("access_token"), body.get("refresh_token")
        fields = token_fields(token, rotated, body.get("expires_in"), OAUTH_DEFAULT_LIFETIME)
        if fields:
            self.ctx.secrets.save(**fields)
        if "access_token" not in fields:
            raise BadResponseError("the LongPort token response has no access_token")
        self._token = token
        return token

    # -- requests
    def _get(self, path: str, params: dict[str, str]) -> dict:
        query = urlencode(params, quote_via=quote)
        token = self._current_token()
        try:
            return self._send(path, query, token)
        except TokenRejected:
            if not self.oauth:
                raise
        return self._send(path, query, self._refresh_oauth(stale=token))

    def _send(self, path: str, query: str, token: str, tolerant: bool = False) -> dict:
        secrets = self.ctx.secrets
        key = self._client_id() if self.oauth else secrets.require("APP_KEY")
        app_secret = None if self.oauth else secrets.require("APP_SECRET")

        # The SDK derives the data center from any credential's prefix and always sends it.
        region = dc_region(token) if self.oauth else dc_region(key, str(app_secret), token)

        def headers() -> dict[str, str]:
            h = {"authorization": f"Bearer {token}" if self.oauth else token,
                 "x-api-key": key, "x-timestamp": timestamp(),
                 "Content-Type": "application/json; charset=utf-8",
                 "Accept": "application/json", "x-dc-region": region}
            if app_secret is not None:  # OAuth mode: no signature (SDK signature.rs)
                h["x-api-signature"] = sign("GET", path, query, h, app_secret)
            return h

        for attempt in range(DUPLICATE_RETRIES + 1):
            response = self.ctx.http.request("GET", self.base + path, query=query,
                                             headers=headers,
                                             retry_if=lambda r: code_of(r) in RATE_CODES)
            try:
                return read_envelope(response, oauth=self.oauth, profile=self.profile,
                                     tolerant=tolerant)
            except DuplicateRequest as exc:
                # Another process signed the same request in the same millisecond: sign
                # again at once with a fresh timestamp (headers() makes one per attempt).
                if attempt == DUPLICATE_RETRIES:
                    exc.message += f" (after {attempt + 1} attempts)"
                    raise
                step_aside()
        raise AssertionError("unreachable")

    # -- accounts, balances, assets
    def accounts(self) -> list[Account]:
        label = self.ctx.settings.get(str(ACCOUNTS.source("account_id").setting))
        return [self.account(label or self.profile, type=ACCOUNTS.source("type").value)]

    def _entries(self) -> tuple[list[dict], str]:
        params = {"currency": self.ctx.currency.upper()} if self.ctx.currency else {}
        data = self._get("/v1/asset/account", params)
        as_of = utc_now()
        return objects(data.get(BALANCES.each) or [], "the LongPort data.list"), as_of

    def balances(self, accounts: Iterable[Account]) -> Result:
        return self.snapshot(accounts)[0]

    def assets(self, accounts: Iterable[Account]) -> Result:
        return self.snapshot(accounts)[1]

    def snapshot(self, accounts: Iterable[Account]) -> tuple[Result, Result]:
        """The account call carries both: ``data.list`` entries and their ``cash_infos``."""
        accounts = list(accounts)
        if not accounts:
            return Result(), Result()
        account = accounts[0]
        try:
            entries, as_of = self._entries()
        except BalanceCliError as exc:
            error = self.fail(exc, account.account_id)
            return Result(errors=[error]), Result(errors=[error])
        balances, assets = Result(), Result()
        try:
            balances.rows = [self._parse_balance(account, entry, as_of) for entry in entries]
        except BalanceCliError as exc:
            balances.errors.append(self.fail(exc, account.account_id))
        try:
            assets.rows = self._parse_assets(account, entries, as_of)
        except BalanceCliError as exc:
            assets.errors.append(self.fail(exc, account.account_id))
        return balances, assets

    def _parse_balance(self, account: Account, entry: dict[str, Any], as_of: str) -> Balance:
        currency = to_text(entry.get(BALANCES.key("currency")))
        own = next((c for c in _cash_infos(entry)
                    if to_text(c.get(ASSETS.key("asset"))) == currency), {})
        return self.balance(
            account, currency=currency, as_of=as_of,
            **BALANCES.amounts(entry, within={CASH_INFOS: own}),
            extra=blank_to_none(BALANCES.extra(entry)),
        )

    def _parse_assets(self, account: Account, entries: list[dict[str, Any]],
                      as_of: str) -> list[Asset]:
        rows: dict[str, Asset] = {}
        for entry in entries:
            for item in _cash_infos(entry):
                currency = to_text(item.get(ASSETS.key("asset")))
                if not currency:
                    raise BadResponseError(f"a LongPort {CASH_INFOS} item has no "
                                           f"{ASSETS.key('asset')}")
                if currency in rows:  # the first occurrence across entries wins
                    continue
                rows[currency] = self.asset(account, currency, **ASSETS.amounts(item),
                                            extra=blank_to_none(ASSETS.extra(item)))
        wanted = (self.ctx.currency or "").upper()
        return [row for cur, row in rows.items() if not wanted or cur == wanted]


def _cash_infos(entry: dict[str, Any]) -> list[dict[str, Any]]:
    return objects(entry.get(CASH_INFOS) or [], f"the LongPort {CASH_INFOS}")
