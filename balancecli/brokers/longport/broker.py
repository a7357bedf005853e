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
  entries, one per currency view, each with per-currency ``cash_infos``. ``list`` is required:
  the SDK deserializes the answer into ``struct Response { list: Vec<AccountBalance> }``
  without a default (``longbridge/openapi``, ``rust/src/trade/context.rs``,
  ``account_balance``), so ``{"code": 0, "data": {}}`` is a bad response, not an account
  without balances; so is an empty list when no ``currency`` was asked (a credential set is
  one account, and an account always has a balance). With ``currency`` an empty list means
  the account has no view in that currency: no rows, and ``--currency`` says what was
  fetched. There is no account-list endpoint: one credential set is one account, labelled by
  ``account_id``. The field mapping is the ``FieldMap`` declarations below, which the parsers read.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, urlencode

from balancecli.brokers.base import Broker, Result, Setting
from balancecli.brokers.longport.sign import (
    DUPLICATE_RETRIES,
    RATE_CODES,
    DuplicateRequest,
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
from balancecli.brokers.payload import blank_to_none, objects
from balancecli.core.clock import utc_now
from balancecli.core.errors import BadResponseError, BalanceCliError
from balancecli.core.models import Account, Asset, Balance
from balancecli.core.numbers import to_text
from balancecli.core.secretfields import OAUTH_STAND_INS, SecretFields
from balancecli.credentials.oauth_client import OAuthClient
from balancecli.credentials.tokens import TokenAnswer, TokenLifecycle, TokenRules, TokenSlot
from balancecli.net.limiter import RateLimit

HOSTS = {"global": "https://openapi.longbridge.com", "cn": "https://openapi.longbridge.cn"}
OAUTH_MARGIN = 300  # seconds; the SDK refreshes when less is left (oauth/src/token.rs)
OAUTH_DEFAULT_LIFETIME = 3600  # the SDK's assumption when expires_in is missing
LEGACY_LIFETIME = timedelta(days=90)

# The tokens, declared for the lifecycle (credentials.tokens). OAuth: Bearer tokens from
# /oauth2/token, renewed when less than the SDK's 300 s are left or once after 401003/401004;
# an unusable expires_in means the SDK's 3600 s.
OAUTH_TOKENS = TokenRules(answer=TokenAnswer(OAUTH_DEFAULT_LIFETIME), margin=OAUTH_MARGIN)
# API key: the token is the credential (90 days). /v1/token/refresh answers {token, expired_at}
# and kills the old token at once, so nothing renews it after a 401, and one that comes from
# the environment is not renewed ahead of time: the variable would go on shadowing the new one
# (https://github.com/longbridge/openapi/issues/288); the run warns instead. ``margin`` is the
# profile's refresh_days; an unreadable expired_at means the 90 days asked for.
API_KEY_TOKENS = TokenRules(
    answer=TokenAnswer(LEGACY_LIFETIME.total_seconds(), access=("token",), refresh=(),
                       expires_in=(), expires_at=("expired_at",)),
    slot=TokenSlot(refresh=None), margin=7 * 86400.0, renew_on_reject=False,
    spends_current=True)
# Browser login (OAuth overview; the SDK's rust/crates/oauth/): a public client with PKCE,
# scope 3, the SDK's callback http://localhost:60355/callback. URLs follow the profile's host.
OAUTH = OAuthClient(
    authorize_url=HOSTS["global"] + "/oauth2/authorize",
    token_url=HOSTS["global"] + "/oauth2/token", revoke_url=HOSTS["global"] + "/oauth2/revoke",
    scope="3", answer=OAUTH_TOKENS.answer, redirect_port=60355, redirect_path="/callback",
    has_client_secret=False)
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


# Where a user finds what ``auth login`` asks for: the API key's three values are on the
# OpenAPI site's User Center ("application credential"; the getting-started page:
# https://open.longportapp.com/docs/getting-started); an OAuth client id comes from the OAuth
# registration (POST /oauth2/register, the OAuth overview).
_USER_CENTER = "on open.longportapp.com: log in, open the User Center, application credential"
FOUND_AT = {
    "APP_KEY": f"the App Key, {_USER_CENTER}",
    "APP_SECRET": f"the App Secret, {_USER_CENTER}",
    "ACCESS_TOKEN": f"the Access Token, {_USER_CENTER}",
    "CLIENT_ID": "the client id of your LongPort OAuth client (from its registration; or set "
                 "client_id in the profile)",
}


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
                not_secret=("ACCESS_TOKEN_EXPIRES_AT",), found_at=FOUND_AT)
        # API-key mode: the access token is the credential (refreshed with itself before it
        # expires, never after).
        return SecretFields(
            required=("APP_KEY", "APP_SECRET", "ACCESS_TOKEN"),
            optional=("ACCESS_TOKEN_EXPIRES_AT",), token="ACCESS_TOKEN",
            expiry="ACCESS_TOKEN_EXPIRES_AT", not_secret=("ACCESS_TOKEN_EXPIRES_AT",),
            found_at=FOUND_AT)

    def __init__(self, ctx: Any) -> None:
        super().__init__(ctx)
        s = ctx.settings
        self.oauth = (s.get("auth") or "oauth") == "oauth"
        self.base = (s.get("base_url") or HOSTS[s.get("region") or "global"]).rstrip("/")
        self.token_url = s.get("token_url") or self.base + "/oauth2/token"
        if self.oauth:
            rules, grant = OAUTH_TOKENS, self._oauth_grant
        else:
            window = float(s.get("refresh_days") or 7) * 86400
            rules, grant = API_KEY_TOKENS._replace(margin=window), self._legacy_grant
        self.tokens = TokenLifecycle(ctx.secrets, rules, grant, profile=self.profile,
                                     warn=ctx.warn)

    # -- tokens (the lifecycle is credentials.tokens; what is LongPort's is declared here)
    def _client_id(self) -> str:
        return str(self.ctx.settings.get("client_id") or self.ctx.secrets.require("CLIENT_ID"))

    @classmethod
    def oauth_client(cls, settings: dict[str, Any],
                     secret: Callable[[str], Any]) -> OAuthClient | None:
        if (settings.get("auth") or "oauth") != "oauth":
            return None
        base = (settings.get("base_url") or HOSTS[settings.get("region") or "global"])
        base = base.rstrip("/")
        return OAUTH._replace(
            authorize_url=base + "/oauth2/authorize",
            token_url=settings.get("token_url") or base + "/oauth2/token",
            revoke_url=base + "/oauth2/revoke",
            client_id=settings.get("client_id") or secret("CLIENT_ID"),
            client_secret=secret("CLIENT_SECRET"))

    def refresh(self) -> None:
        """Forced refresh (``balancecli auth refresh``)."""
        self.tokens.renew()

    def _legacy_grant(self, current: str | None) -> dict[str, Any]:
        """``GET /v1/token/refresh``, signed with the current token, which it kills at once:
        the ``data`` of the answer, for the lifecycle to store before anything else."""
        expires = datetime.now(UTC) + LEGACY_LIFETIME
        query = urlencode({"expired_at": expires.strftime("%Y-%m-%dT%H:%M:%S.")
                           + f"{expires.microsecond // 1000:03d}Z"}, quote_via=quote)
        return self._send("/v1/token/refresh", query,
                          current or self.ctx.secrets.require("ACCESS_TOKEN"), tolerant=True)

    def _oauth_grant(self, current: str | None) -> dict[str, Any]:
        """The refresh-token grant at ``/oauth2/token`` (the refresh token rotates)."""
        secrets = self.ctx.secrets
        form = {"grant_type": "refresh_token", "client_id": self._client_id(),
                "refresh_token": secrets.require("REFRESH_TOKEN")}
        if secrets.get("CLIENT_SECRET"):
            form["client_secret"] = str(secrets.get("CLIENT_SECRET"))
        response = self.ctx.http.request("POST", self.token_url, data=form,
                                         headers={"Accept": "application/json"})
        body = json_or_none(response, tolerant=True)  # the tokens outweigh a bad number
        if response.status != 200 or not isinstance(body, dict):
            raise token_error(response, body, self.profile)
        return body

    # -- requests
    def _get(self, path: str, params: dict[str, str]) -> dict[str, Any]:
        query = urlencode(params, quote_via=quote)
        return self.tokens.call(lambda token: self._send(path, query, token))

    def _send(self, path: str, query: str, token: str,
              tolerant: bool = False) -> dict[str, Any]:
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

    def _entries(self) -> tuple[list[dict[str, Any]], str]:
        params = {"currency": self.ctx.currency.upper()} if self.ctx.currency else {}
        data = self._get("/v1/asset/account", params)
        as_of = utc_now()
        key = str(BALANCES.each)
        if data.get(key) is None:
            raise BadResponseError(
                f"the account balance answer has no data.{key} (the SDK requires it)",
                next_step="try again later; if it persists, report it to LongPort")
        entries = objects(data[key], f"the LongPort data.{key}")
        if not entries and not params:
            raise BadResponseError(
                f"the account balance answer has an empty data.{key}: no balance for the "
                "account", next_step="try again later; if it persists, report it to LongPort")
        return entries, as_of

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
