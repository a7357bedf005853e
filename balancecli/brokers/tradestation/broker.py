"""TradeStation: accounts and balances over the Web API, v3 (default) or v2 (legacy).

This module holds what both versions share (tokens, requests, batching, errors, the class's
declarations); the paths and field mapping of each live in ``v3.py`` and ``v2.py``, as
``FieldMap`` declarations their parsers read (shown in the README's Reference).

API documents: the v3 OpenAPI spec TradeStation publishes
(``docs/tradestation-webapi-v3-openapi.json`` in ``mxcoppell/tradestation-api-ts``); the auth
and refresh-token pages, https://api.tradestation.com/docs/fundamentals/authentication/auth-code
and https://api.tradestation.com/docs/fundamentals/authentication/refresh-tokens;
https://api.tradestation.com/docs/fundamentals/sim-vs-live and
https://api.tradestation.com/docs/fundamentals/rate-limiting; for v2, the Web API v2 "Balances"
page (``en/accounts/balances.md`` in ``tradestation/webapi-docs``, with the cash and futures
examples) and the v2 swagger (``spec/swagger.yaml`` in ``tradestation/api-docs``).

- Hosts: live ``https://api.tradestation.com``, sim ``https://sim-api.tradestation.com``
  (the docs say ``sim-api``, not ``sim.api``). ``base_url`` overrides both.
- Auth: OAuth 2.0 (Auth0), ``Authorization: Bearer <access token>``; access tokens live 20
  minutes. Refresh with ``grant_type=refresh_token`` + client id (+ secret unless a PKCE key)
  at ``https://signin.tradestation.com/oauth/token`` (v3) or ``/v2/security/authorize`` on
  the API host (v2; ``sim-api`` for sim). The refresh answer has a new refresh token only
  when rotation is enabled; a rotated token must be stored (before anything else in the answer
  is read) or the next run fails. We refresh only when the token is known to be expired or was
  rejected, because TradeStation asks for that.
- Rate limits: 250 requests per 5 minutes per resource (Accounts, Balances; a newer page
  says 320, rolling), HTTP 429 in v3; the newer page's answers carry ``X-RateLimit-Remaining``
  and ``X-RateLimit-Reset``, which pause the host when the quota is spent (``net.limiter``);
  v2 signals throttling with "HTTP 403 Quota Exceeded" and an HTML body, treated as rate
  limiting. Concurrency is not documented. Error bodies: ``{"Error", "Message"}`` (the spec's
  ``ErrorResponse``), a lower-case ``message`` read too.
- Quirks: v3 balances take 1-25 comma-separated ids and answer HTTP 200 with ``Errors`` for
  the accounts that failed (partial success). They serve Cash, Margin, Futures and DVP accounts
  only: accounts of other types are listed but skipped (``Result.skipped``), never asked, so a
  crypto account is not an error on every run; an ``Errors`` entry for a served type stays
  one. Money values are strings in v3, JSON numbers with up to 28 digits in v2; both are kept
  exact. v2 answers balances as a bare object or an array.
  Futures balances carry ``CurrencyDetails``: the asset rows, and the rates to the account's
  currency that ``reported_rates`` hands to ``--in``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from balancecli.brokers.base import Broker, ReportedRate, Result, Setting, Skipped
from balancecli.brokers.mapping import FieldMap
from balancecli.brokers.payload import obj
from balancecli.brokers.tradestation import v2, v3
from balancecli.brokers.tradestation.api import Dialect
from balancecli.core.clock import utc_now
from balancecli.core.errors import AuthError, BadResponseError, BalanceCliError, RateLimitedError
from balancecli.core.models import Account, Asset, Balance, extra_from
from balancecli.core.numbers import to_decimal, to_text
from balancecli.core.secretfields import OAUTH_STAND_INS, SecretFields
from balancecli.credentials.oauth_client import OAuthClient
from balancecli.credentials.tokens import Rejected, TokenAnswer, TokenLifecycle, TokenRules
from balancecli.net.http import Response, status_error
from balancecli.net.limiter import RateLimit
from balancecli.net.urls import segment

HOSTS = {"live": "https://api.tradestation.com", "sim": "https://sim-api.tradestation.com"}
TOKEN_URL_V3 = "https://signin.tradestation.com/oauth/token"  # Auth0, live and sim alike
MAX_BATCH = 25
EXPIRY_MARGIN = 60  # seconds: refresh a token this close to expiry
DEFAULT_LIFETIME = 1200  # "access tokens expire after 20 minutes" (refresh-tokens page)

# The token, declared for the lifecycle (credentials.tokens). Auth0 answers access_token and
# refresh_token; the old v2 docs say token and RefreshToken, and v2's answer carries the userid
# the account list needs. A refresh token in the answer means rotation is on: it is stored
# before anything else in the answer is read.
TOKENS = TokenRules(
    answer=TokenAnswer(DEFAULT_LIFETIME, access=("access_token", "token"),
                       refresh=("refresh_token", "RefreshToken"), extra=(("userid", "user_id"),)),
    margin=EXPIRY_MARGIN)
# Browser login (auth-code page): Auth0's authorize endpoint with this audience and these
# scopes, PKCE; the redirect must be one of the key's callback URLs, localhost ones by default.
# "Revoking a refresh token will revoke ALL Refresh Tokens for that API key" (refresh-tokens).
OAUTH = OAuthClient(
    authorize_url="https://signin.tradestation.com/authorize", token_url=TOKEN_URL_V3,
    scope="openid offline_access ReadAccount", audience="https://api.tradestation.com",
    answer=TOKENS.answer, redirect_port=31022,
    revoke_warning="TradeStation revokes ALL refresh tokens of this API key: every other login "
                   "and machine using this key must log in again")


# Where a user finds what ``auth login`` asks for. API keys are issued by TradeStation on
# request, each with the callback URLs registered for it (the auth-overview and auth-code pages:
# https://api.tradestation.com/docs/fundamentals/authentication/auth-overview/).
FOUND_AT = {
    "CLIENT_ID": "the API Key TradeStation issued you (ask TradeStation Client Services for "
                 "one, with the callback http://localhost:31022 registered)",
    "CLIENT_SECRET": "the API Secret issued with that key (a PKCE key has none: leave it "
                     "empty)",
}


class TradeStation(Broker):
    name = "tradestation"
    # Documented: 250 requests per 5 min per resource (Accounts, Balances): held here per
    # host, a stricter reading; balances go 25 ids per request. Concurrency undocumented.
    limits = RateLimit(start=4, ceiling=16, calls=250, period=300)
    settings = {
        "environment": Setting(str, "live", choices=("live", "sim"), shown=True,
                               overridden_by="base_url"),
        "api": Setting(str, "v3", choices=("v3", "v2"), shown=True),
        "base_url": Setting(str, where=True),
        "token_url": Setting(str),
        "user_id": Setting(str, help="v2: the user id from the token response"),
        "client_id": Setting(str),
        "batch_size": Setting(int, MAX_BATCH),
        "auth_url": Setting(str, help="browser login: the authorize URL (default Auth0's)"),
        "redirect_port": Setting(int, help="browser login: the localhost callback port "
                                           "registered for the API key (default 31022)",
                                 minimum=0, maximum=65535),  # 0: any free port
    }

    # -- declarations: secrets, field mappings, the rates the balances carry ------------------
    title = "TradeStation"
    field_maps = (*v3.FIELD_MAPS, *v2.FIELD_MAPS)
    rates_need_extra = True  # CurrencyDetails stay in the balance row's extra

    @classmethod
    def secret_spec(cls, settings: dict[str, Any]) -> SecretFields:
        return SecretFields(
            required=("ACCESS_TOKEN", "REFRESH_TOKEN", "CLIENT_ID", "CLIENT_SECRET"),
            optional=("ACCESS_TOKEN_EXPIRES_AT", "USER_ID"),
            stand_ins=OAUTH_STAND_INS,
            # "client_secret ... optional only for PKCE keys" (the refresh-tokens page)
            may_be_absent={"CLIENT_SECRET": "a PKCE API key has none"},
            token="ACCESS_TOKEN", expiry="ACCESS_TOKEN_EXPIRES_AT",
            renewed_by=("REFRESH_TOKEN",),
            not_secret=("ACCESS_TOKEN_EXPIRES_AT", "USER_ID"), found_at=FOUND_AT)

    @classmethod
    def reported_rates(cls, balances: Sequence[Balance],
                       assets: Sequence[Asset]) -> list[ReportedRate]:
        """One rate per CurrencyDetails item of a balance (its Currency -> the account's
        currency at AccountConversionRate, v2 ToAccountConversionRate: a stored row does not
        say which API it came from, so both are tried), and the asset rows' conversion_rate."""
        found: list[ReportedRate] = []
        currency: dict[tuple[str, str], str] = {}
        for row in balances:
            if row.currency:
                currency.setdefault((row.profile, row.account_id), row.currency.upper())
                found += _detail_rates(row, row.currency.upper())
        rate_field = v3.CURRENCY_DETAILS.key("conversion_rate")
        for asset in assets:
            quote_ccy = currency.get((asset.profile, asset.account_id))
            if asset.conversion_rate is not None and quote_ccy:
                found.append(ReportedRate(asset.profile, asset.account_id, asset.asset.upper(),
                                          quote_ccy, asset.conversion_rate, field=rate_field))
        return found

    def __init__(self, ctx: Any) -> None:
        super().__init__(ctx)
        s = ctx.settings
        self.api = s["api"]
        self.dialect: Dialect = v2 if self.api == "v2" else v3  # paths, field mapping
        self.base = (s.get("base_url") or HOSTS[s["environment"]]).rstrip("/")
        # v2's legacy OAuth lives on the API host itself: sim-api for sim.
        self.token_url = s.get("token_url") or (
            TOKEN_URL_V3 if self.api == "v3" else self.base + v2.TOKEN_PATH)
        self.batch_size = max(1, min(MAX_BATCH, s.get("batch_size") or MAX_BATCH))
        self.tokens = TokenLifecycle(ctx.secrets, TOKENS, self._refresh_grant,
                                     profile=self.profile, warn=ctx.warn)

    # -- tokens (the lifecycle is credentials.tokens; what is TradeStation's is declared here)
    @classmethod
    def oauth_client(cls, settings: dict[str, Any],
                     secret: Callable[[str], Any]) -> OAuthClient:
        token_url = settings.get("token_url") or OAUTH.token_url
        # Auth0's revocation endpoint sits beside its token endpoint (refresh-tokens page).
        revoke = (token_url[: -len("/token")] + "/revoke" if token_url.endswith("/oauth/token")
                  else None)
        port = settings.get("redirect_port")
        return OAUTH._replace(
            authorize_url=settings.get("auth_url") or OAUTH.authorize_url,
            token_url=token_url, revoke_url=revoke,
            redirect_port=OAUTH.redirect_port if port is None else port,
            client_id=secret("CLIENT_ID") or settings.get("client_id"),
            client_secret=secret("CLIENT_SECRET"))

    def refresh(self) -> None:
        self.tokens.renew()

    def _refresh_grant(self, current: str | None) -> bytes:
        """The refresh-token grant: the raw answer for the lifecycle to read and store."""
        secrets = self.ctx.secrets
        client_id = secrets.get("CLIENT_ID") or self.ctx.settings.get("client_id")
        form = {"grant_type": "refresh_token", "client_id": str(client_id or ""),
                "refresh_token": secrets.require("REFRESH_TOKEN")}
        if not client_id:
            secrets.require("CLIENT_ID")
        client_secret = secrets.get("CLIENT_SECRET")
        if client_secret:  # PKCE keys have none
            form["client_secret"] = str(client_secret)
        response = self.ctx.http.request(
            "POST", self.token_url, data=form,
            headers={"Content-Type": "application/x-www-form-urlencoded",
                     "Accept": "application/json"},
        )
        if response.status != 200:
            detail = _error_detail(response)
            if response.status in (400, 401, 403):
                raise AuthError(
                    f"the refresh token was rejected ({detail})",
                    http_status=response.status,
                    next_step=f"run: balancecli auth login {self.profile}",
                )
            raise status_error(response, detail)
        return response.content

    # -- requests
    def _get(self, path: str, query: str = "") -> Any:
        response = self.tokens.call(lambda token: self._send(path, query, token))
        if response.status != 200:
            raise self._error(response)
        return response.json()

    def _send(self, path: str, query: str, token: str) -> Response:
        response = self.ctx.http.request(
            "GET", self.base + path, query=query,
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            retry_if=v2.is_quota_page,
        )
        if response.status == 401:
            raise Rejected(
                f"the access token was rejected after a refresh ({_error_detail(response)})",
                http_status=401, next_step=f"run: balancecli auth login {self.profile}")
        return response

    def _error(self, response: Response) -> BalanceCliError:
        detail = _error_detail(response)
        if v2.is_quota_page(response):
            return RateLimitedError("quota exceeded (HTTP 403)", http_status=403)
        return status_error(response, detail)

    # -- accounts
    def accounts(self) -> list[Account]:
        return self.dialect.accounts(self)

    def accounts_from(self, items: list[Any], mapping: FieldMap) -> list[Account]:
        """The accounts of an account-list answer, read through the dialect's mapping."""
        result = []
        id_key = mapping.key("account_id")
        for item in items:
            item = obj(item, "account")
            account_id = to_text(item.get(id_key))
            if not account_id:
                raise BadResponseError(f"an account has no {id_key}")
            result.append(self.account(
                account_id,
                name=mapping.read(item, "name")[0],
                type=mapping.normal(item, "type"),
                currency=mapping.read(item, "currency")[0],
                status=mapping.normal(item, "status"),
                extra=extra_from(item, mapping.used),  # AccountType and Status kept
            ))
        return result

    def asset_from(self, account: Account, item: Any, mapping: FieldMap) -> Asset:
        """One asset row from a CurrencyDetails item, read through the dialect's mapping."""
        detail = obj(item, f"{mapping.each} item")
        currency = to_text(detail.get(mapping.key("asset")))
        if not currency:
            raise BadResponseError(f"a {mapping.each} item has no {mapping.key('asset')}")
        return self.asset(account, currency, extra=mapping.extra(detail),
                          **mapping.amounts(detail))

    # -- balances and assets
    def _raw_balances(self, accounts: list[Account]
                      ) -> tuple[dict[str, dict[str, Any]], Result]:
        """Fetch balances in batches of at most 25 ids, concurrently.

        Returns the raw balance objects by account id, and a Result holding the errors of the
        accounts that failed (the ``Errors`` entries, or a failed batch).
        """
        batches = [accounts[i:i + self.batch_size]
                   for i in range(0, len(accounts), self.batch_size)]
        outcomes = self.ctx.parallel(self._fetch_batch, batches)
        raw: dict[str, dict[str, Any]] = {}
        failures = Result()
        for batch, outcome in zip(batches, outcomes, strict=True):
            if isinstance(outcome, AuthError):
                raise outcome  # the same for every batch: fail the profile once
            if isinstance(outcome, BalanceCliError):
                for account in batch:
                    failures.errors.append(self._copy_error(outcome, account.account_id))
                continue
            found, errors = outcome
            raw.update(found)
            failures.errors.extend(errors)
            reported = set(found) | {e.account_id for e in errors}
            for account in batch:
                if account.account_id not in reported:
                    failures.errors.append(self.fail(BadResponseError(
                        "the balances response does not mention this account"
                    ), account.account_id))
        return raw, failures

    def _copy_error(self, error: BalanceCliError, account_id: str) -> BalanceCliError:
        copy = type(error)(error.message, http_status=error.http_status,
                           next_step=error.next_step)
        return self.fail(copy, account_id)

    def _fetch_batch(self, batch: list[Account]
                     ) -> tuple[dict[str, dict[str, Any]], list[BalanceCliError]]:
        ids = ",".join(segment(a.account_id) for a in batch)  # "," stays the separator
        return self.dialect.fetch_batch(self, ids)

    def repeated_errors(self, repeated: dict[str, int]) -> list[BalanceCliError]:
        return [self.fail(BadResponseError(
            f"the balances response names this account {n} times"), account_id)
            for account_id, n in repeated.items()]

    def served(self, accounts: Iterable[Account]) -> tuple[list[Account], list[Skipped]]:
        """The accounts the dialect's balances endpoint serves, and the others, skipped (an
        account without a type is asked: only the answer can tell)."""
        types = self.dialect.BALANCE_TYPES
        served: list[Account] = []
        skipped: list[Skipped] = []
        for account in accounts:
            if types is None or account.type is None or account.type in types:
                served.append(account)
            else:
                listed = ", ".join(types[:-1]) + f" and {types[-1]}"
                skipped.append(self.skip(account, (
                    f"a {account.type} account: TradeStation serves balances for {listed} "
                    "accounts only")))
        return served, skipped

    def balances(self, accounts: Iterable[Account]) -> Result:
        served, skipped = self.served(accounts)
        raw, result = self._raw_balances(served)
        result.skipped = skipped
        return self._parse_each(served, raw, result, self._balance_parser())

    def assets(self, accounts: Iterable[Account]) -> Result:
        served, skipped = self.served(accounts)
        raw, result = self._raw_balances(served)
        result.skipped = skipped
        return self._parse_each(served, raw, result, self._parse_assets)

    def snapshot(self, accounts: Iterable[Account]) -> tuple[Result, Result]:
        """One round of balance calls yields both: the assets are the CurrencyDetails."""
        served, skipped = self.served(accounts)
        raw, result = self._raw_balances(served)
        result.skipped = skipped
        return (self._parse_each(served, raw, result, self._balance_parser()),
                self._parse_each(served, raw, Result(skipped=list(skipped)), self._parse_assets))

    def _balance_parser(self) -> Callable[[Account, dict[str, Any]], list[Any]]:
        as_of = utc_now()
        return lambda account, item: [self.dialect.parse_balance(self, account, item, as_of)]

    def _parse_assets(self, account: Account, item: dict[str, Any]) -> list[Asset]:
        return self.dialect.parse_assets(self, account, item)

    def _parse_each(self, accounts: list[Account], raw: dict[str, dict[str, Any]],
                    result: Result, parse: Callable[[Account, dict[str, Any]], list[Any]]
                    ) -> Result:
        for account in accounts:
            item = raw.get(account.account_id)
            if item is None:
                continue
            try:
                result.rows.extend(parse(account, item))
            except BalanceCliError as exc:
                result.errors.append(self.fail(exc, account.account_id))
        return result


def _detail_rates(row: Balance, quote_ccy: str) -> list[ReportedRate]:
    details = row.extra.get(str(v3.CURRENCY_DETAILS.each))
    found: list[ReportedRate] = []
    for item in details if isinstance(details, list) else ():
        code = item.get(v3.CURRENCY_DETAILS.key("asset")) if isinstance(item, dict) else None
        if not isinstance(code, str):
            continue
        for mapping in (v3.CURRENCY_DETAILS, v2.CURRENCY_DETAILS):
            name = mapping.key("conversion_rate")
            try:
                value = to_decimal(item.get(name), name=name)
            except BalanceCliError:  # a malformed rate is no rate; never guess one
                value = None
            if value is not None:
                found.append(ReportedRate(row.profile, row.account_id, code.upper(), quote_ccy,
                                          value, field=name))
                break
    return found


def _error_detail(response: Response) -> str:
    """v3 ``{"Error", "Message"}``, v2 ``{"TraceId", "StatusCode", "Message"}``, Auth0
    ``{"error", "error_description"}``, or the start of a non-JSON body."""
    try:
        body = response.json()
    except BalanceCliError:
        text = response.text.strip()
        if text.startswith("<"):
            return "an HTML page instead of JSON"
        return text[:120] or "empty body"
    if isinstance(body, dict):
        # ``message`` in lower case too: some error bodies spell it so.
        parts = [body.get(k) for k in ("Error", "error", "Message", "message",
                                       "error_description")]
        joined = ": ".join(str(p) for p in parts if p)
        if joined:
            return joined[:200]
    return "no details"
