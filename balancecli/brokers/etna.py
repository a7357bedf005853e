"""ETNA Trader (etnasoft's white-label platform): accounts and balances over the REST API.

Sources: ETNA's documentation, the ``etnatrader/gitbookHelp`` repository: "Get Account's
Balance Info" (``web-api/trading-api/user-accounts/get-accounts-balance-info.md``:
``GET /v{version}/accounts/{id}/info`` and its example), requesting-tokens, get_token,
two-factor-authentication, list-users-accounts and the error pages.

- Hosts: each ETNA-based broker has its own host, path prefix ``/api``: ``base_url`` is required
  (``https://pub-api-trader-demo-prod.etnasoft.us/api``); paths carry ``/v1.0`` (api_version).
- Auth: ``POST {base}/token`` with the credentials in *headers* (``Et-App-Key``, ``Username``,
  ``Password``) and an empty body. 200 ``{"State": "Succeeded", "Token"}``; 202 ``"State":
  "Expecting"`` asks for a second factor (``Step`` "VerificationCode" or "SecutityPin", sic),
  sent with the same headers plus ``VerificationCode``/``PinCode`` and the interim token as
  Bearer; 401 ``{"State": "Failed", "Reason"}``. Tokens live 24 h and there is no refresh
  grant, so the password stays in the keyring and an expired or rejected token means one
  fresh login. ``Et-App-Key`` goes on every request; a bad one is HTTP 403
  ``{"error": "Application key is not defined or does not exist"}``.
- The balance is a free-form ``<string, number>`` dictionary whose keys changed between doc
  revisions (all optional), numbers of up to 28 digits (``-0.05700775140829844330933239``),
  kept exact, and no currency: the profile's ``currency`` (default USD) is used.
- Error bodies vary: ``error``, ``Message``, ``Errors[]`` (with ``StatusCode``), ``Reason``.
- Rate limits: none documented; 429/5xx are retried by the HTTP client.

The field mapping is the ``FieldMap`` declarations below, which the parsers read.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from balancecli.brokers.base import Broker, Result, Setting
from balancecli.brokers.mapping import FieldMap, From
from balancecli.brokers.payload import obj, one_line
from balancecli.core.clock import utc_now
from balancecli.core.errors import (
    AuthError,
    BadResponseError,
    BalanceCliError,
    BrokerError,
    UnavailableError,
)
from balancecli.core.models import Account, Asset, Balance, extra_from
from balancecli.core.numbers import to_text
from balancecli.core.secretfields import SecretFields
from balancecli.credentials.tokens import (
    Rejected,
    TokenAnswer,
    TokenLifecycle,
    TokenRules,
    TokenSlot,
    secret_problem,
    token_problem,
)
from balancecli.net.http import Response
from balancecli.net.limiter import RateLimit
from balancecli.net.urls import segment

TOKEN_LIFETIME = 24 * 3600  # "The authorization token lifetime is 24 hours" (requesting-tokens)
EXPIRY_MARGIN = 300  # seconds: log in again this close to the expiry
MAX_FACTOR_STEPS = 3

DOCS = "etnatrader/gitbookHelp:web-api/trading-api/user-accounts"
# MarginType is Empty|Cash|Margin|DayTrader|MarginIra (``rest-api/public-api/definitions.md``
# in ``etnatrader/gitbookHelp``): day-trader and IRA margin accounts are margin accounts;
# Empty is no type. The broker's own word stays in ``extra``.
TYPES = {"Cash": "cash", "Margin": "margin", "DayTrader": "margin", "MarginIra": "margin"}
ACCOUNTS = FieldMap(
    Account, "GET /v1.0/users/@me/accounts", f"{DOCS}/list-users-accounts.md", fields={
        "account_id": "Id",
        "name": From("Alias", fallback="ClearingAccount"),
        "type": From("MarginType", values=TYPES),
        "currency": From(setting="currency", note="default USD: the API sends no currency"),
        "status": From("Enabled", values={"true": "active", "false": "inactive"}),
    })
BALANCES = FieldMap(
    Balance, "GET /v1.0/accounts/{id}/info", f"{DOCS}/get-accounts-balance-info.md",
    rows="one per account", fields={
        "as_of": From(note="the time of the fetch"),
        "cash": "cash",
        "withdrawable": "excess",
        "buying_power": "stockBuyingPower",
        "equity": "equityTotal",
        "market_value": "marketValue",
        "maintenance_margin": "maintenanceMargin",
        "unrealized_pnl": "openPL",
        "realized_pnl": "closePL",
    })
ASSETS = FieldMap(
    Asset, "GET /v1.0/accounts/{id}/info", f"{DOCS}/get-accounts-balance-info.md",
    rows="one per account: its cash", fields={
        "asset": From(note="the account's currency"),
        "total": "cash",
    })
APP_KEY_REJECTED = "the ETNA app key was rejected: check APP_KEY"
# The session token, declared for the lifecycle (credentials.tokens): ``{"State": "Succeeded",
# "Token"}`` without an expiry, 24 h. There is no refresh grant: the grant is a fresh login,
# cheap enough that an unreadable cached expiry counts as expired.
TOKENS = TokenRules(
    answer=TokenAnswer(TOKEN_LIFETIME, access=("Token",), refresh=(), expires_in=()),
    slot=TokenSlot(token="token", expires_at="token_expires_at", refresh=None),
    margin=EXPIRY_MARGIN, unreadable_expiry_is_expired=True)


# Where a user finds what ``auth login`` asks for. The app key is the broker's company key, in
# its back office ("BO Companies" widget, WebApi tab: the requesting-tokens page of ETNA's
# Trader API docs); the user name and password are the trader's own login.
FOUND_AT = {
    "APP_KEY": "the API key your broker issued for its ETNA Trader API (its back office: BO "
               "Companies, WebApi tab; ask the broker)",
    "USERNAME": "your login at the broker's ETNA trading platform",
    "PASSWORD": "the password of that login",
}


class Etna(Broker):
    name = "etna"
    asked_again = "PASSWORD"  # auth login: a refused login asks for the password again
    # No documented limit: start low, grow while it answers, at most 32 (or the
    # profile's max_concurrency).
    limits = RateLimit(start=8, ceiling=32)
    settings = {
        "base_url": Setting(str, required=True, help="e.g. https://HOST/api", where=True,
                            example="https://HOST/api"),
        "api_version": Setting((str, int, float), "1.0"),
        "currency": Setting(str, "USD", help="the balance response has no currency"),
    }

    # -- declarations: secrets, field mappings --------------------------------------------
    title = "ETNA"
    field_maps = (ACCOUNTS, BALANCES, ASSETS)

    @classmethod
    def secret_spec(cls, settings: dict[str, Any]) -> SecretFields:
        # No refresh grant: the password stays, and an expired token means a fresh login.
        return SecretFields(
            required=("APP_KEY", "USERNAME", "PASSWORD"), optional=("TOKEN", "TOKEN_EXPIRES_AT"),
            token="TOKEN", expiry="TOKEN_EXPIRES_AT", renewed_by=("PASSWORD",),
            not_secret=("TOKEN_EXPIRES_AT",), found_at=FOUND_AT)

    def __init__(self, ctx: Any) -> None:
        super().__init__(ctx)
        s = ctx.settings
        self.base = s["base_url"].rstrip("/")
        self.api = f"{self.base}/v{s.get('api_version') or '1.0'}"
        self.currency = (s.get(str(ACCOUNTS.source("currency").setting)) or "USD").upper()
        self.tokens = TokenLifecycle(ctx.secrets, TOKENS, self._login, profile=self.profile,
                                     warn=ctx.warn)

    # -- tokens (the lifecycle is credentials.tokens; ETNA's login is the grant)
    def refresh(self) -> None:
        """A fresh login (``auth refresh``): at a terminal this is where a 2FA code is typed."""
        self.tokens.renew()

    def _login(self, current: str | None) -> dict[str, Any]:
        """The login, with its second factor when asked: the ``Succeeded`` answer."""
        secrets = self.ctx.secrets
        headers = {"Et-App-Key": secrets.require("APP_KEY"), "Accept": "application/json",
                   "Username": secrets.require("USERNAME"),
                   "Password": secrets.require("PASSWORD")}
        body = self._post_token(headers)
        for _ in range(MAX_FACTOR_STEPS):
            if body.get("State") != "Expecting":
                break
            body = self._post_token({**headers, **self._second_factor(body)})
        if body.get("State") != "Succeeded":
            raise AuthError(
                f"ETNA login did not succeed (State {body.get('State')!r}: "
                f"{one_line(body.get('Reason')) or 'no reason given'})",
                next_step=f"log in on the broker's web site, then: "
                          f"balancecli auth refresh {self.profile}",
            )
        return body

    def _post_token(self, headers: dict[str, str]) -> dict[str, Any]:
        response = self.ctx.http.request("POST", f"{self.base}/token", headers=headers, data=b"")
        if response.status in (200, 202):
            return obj(response.json(), "ETNA token response")
        if response.status == 401:
            second = "Authorization" in headers  # the answer to a code we sent
            raise AuthError(
                f"ETNA login failed: {_detail(response)}",
                http_status=401,
                next_step=f"run at a terminal: balancecli auth refresh {self.profile}" if second
                else f"check USERNAME and PASSWORD: run: balancecli auth login {self.profile}",
            )
        raise self._error(response, "login")

    def _second_factor(self, body: dict[str, Any]) -> dict[str, str]:
        """The extra headers answering a 202 "Expecting" (two-factor-authentication page)."""
        pin = "pin" in str(body.get("Step") or "").lower()  # "SecutityPin" (sic)
        what = "PIN code" if pin else "verification code"
        interim = body.get("Token")
        if not isinstance(interim, str) or not interim:
            raise BadResponseError("the ETNA second-factor response has no Token")
        problem = token_problem(interim)
        if problem:  # it would go into the Authorization header
            raise AuthError(f"the token endpoint answered a second-factor token with {problem}",
                            next_step="try again; if it persists, report it to the broker")
        if not (self.ctx.interactive and self.ctx.prompt):
            raise AuthError(
                f"ETNA asks for a second factor (a {what}), which cannot be entered without a "
                "terminal (as under cron)",
                next_step=f"run at a terminal: balancecli auth refresh {self.profile} "
                          "(the token it stores lasts 24 h)",
            )
        reason = one_line(body.get("Reason"))
        code = (self.ctx.prompt(f"{self.profile}: ETNA {what}"
                                + (f" ({reason})" if reason else "") + ": ") or "").strip()
        if not code:
            raise AuthError(f"no ETNA {what} entered")
        if secret_problem(code):
            raise AuthError(f"the ETNA {what} entered has a control character")
        return {"PinCode" if pin else "VerificationCode": code,
                "Authorization": f"Bearer {interim}"}

    # -- requests
    def _get(self, path: str, what: str) -> Any:
        app_key = self.ctx.secrets.require("APP_KEY")
        response = self.tokens.call(lambda token: self._send(path, what, app_key, token))
        if response.status != 200:
            raise self._error(response, what)
        payload = response.json()
        if isinstance(payload, dict) and payload.get("IsSucceed") is False:
            # The {"Model", "Errors", "StatusCode", "IsSucceed"} envelope (get-users-info).
            status = payload.get("StatusCode")
            status = status if isinstance(status, int) and status >= 400 else 500
            raise self._error(Response(status, {}, response.content, response.url), what)
        return payload

    def _send(self, path: str, what: str, app_key: str, token: str) -> Response:
        response = self.ctx.http.request(
            "GET", self.api + path,
            headers={"Et-App-Key": app_key, "Authorization": f"Bearer {token}",
                     "Accept": "application/json"},
        )
        if response.status == 401:
            raise Rejected(
                f"ETNA rejected a fresh token for the {what} ({_detail(response)})",
                http_status=401, next_step=f"run: balancecli auth refresh {self.profile}")
        return response

    def _error(self, response: Response, what: str) -> BalanceCliError:
        status, detail = response.status, _detail(response)
        if status == 401:
            return AuthError(
                f"ETNA rejected a fresh token for the {what} ({detail})", http_status=401,
                next_step=f"run: balancecli auth refresh {self.profile}",
            )
        if status == 403 and ("key" in detail.lower() or detail == "no details"):
            return AuthError(
                APP_KEY_REJECTED, http_status=403,
                next_step=f"run: balancecli auth login {self.profile}",
            )
        message = f"ETNA {what}: {detail} (HTTP {status})"
        if status >= 500:
            return UnavailableError(message, http_status=status)
        return BrokerError(message, http_status=status)

    # -- accounts
    def accounts(self) -> list[Account]:
        items = self._get("/users/@me/accounts", "account list")
        if not isinstance(items, list):
            raise BadResponseError("the ETNA account list is not a JSON array")
        return [self._parse_account(obj(item, "ETNA account")) for item in items]

    def _parse_account(self, item: dict[str, Any]) -> Account:
        id_key = ACCOUNTS.key("account_id")
        account_id = to_text(item.get(id_key))
        if not account_id:
            raise BadResponseError(f"an ETNA account has no {id_key}")
        name, name_key = ACCOUNTS.read(item, "name")  # Alias, else ClearingAccount
        return self.account(
            account_id,
            name=name,
            type=ACCOUNTS.normal(item, "type"),
            currency=self.currency,
            status=ACCOUNTS.normal(item, "status"),
            # MarginType and Enabled stay: the broker's own words for the type and status.
            extra=extra_from(item, {id_key, *([name_key] if name_key else [])}),
        )

    # -- balances and assets
    def balances(self, accounts: Iterable[Account]) -> Result:
        return self.snapshot(accounts)[0]

    def assets(self, accounts: Iterable[Account]) -> Result:
        infos, result = self._infos(accounts)
        return self._parse_each(infos, self._parse_asset, result)

    def snapshot(self, accounts: Iterable[Account]) -> tuple[Result, Result]:
        """One ``/info`` call per account yields both (the asset row is its cash)."""
        infos, result = self._infos(accounts)
        return (self._parse_each(infos, self._parse_balance, result),
                self._parse_each(infos, self._parse_asset, Result()))

    def _infos(self, accounts: Iterable[Account]
               ) -> tuple[list[tuple[Account, dict[str, Any], str]], Result]:
        """``/accounts/{id}/info`` of every account, concurrently; failures per account."""
        wanted = self.ctx.currency
        accounts = [a for a in accounts if not wanted or (a.currency or "") == wanted.upper()]

        def fetch(account: Account) -> tuple[Account, dict[str, Any], str]:
            path = f"/accounts/{segment(account.account_id)}/info"
            return account, obj(self._get(path, "balance"), "ETNA balance response"), utc_now()

        found, failed = [], Result()
        for account, outcome in zip(accounts, self.ctx.parallel(fetch, accounts), strict=True):
            if isinstance(outcome, AuthError):
                raise outcome  # the same for every account: fail the profile once
            if isinstance(outcome, BalanceCliError):
                failed.errors.append(self.fail(outcome, account.account_id))
            else:
                found.append(outcome)
        return found, failed

    def _parse_each(self, infos: list[tuple[Account, dict[str, Any], str]],
                    parse: Callable[..., Any],
                    result: Result) -> Result:
        for account, info, as_of in infos:
            try:
                result.rows.append(parse(account, info, as_of))
            except BalanceCliError as exc:
                result.errors.append(self.fail(exc, account.account_id))
        return result

    def _parse_balance(self, account: Account, info: dict[str, Any], as_of: str) -> Balance:
        return self.balance(account, as_of=as_of, extra=BALANCES.extra(info),
                            **BALANCES.amounts(info))

    def _parse_asset(self, account: Account, info: dict[str, Any], as_of: str) -> Asset:
        return self.asset(account, account.currency or self.currency, **ASSETS.amounts(info))


def _detail(response: Response) -> str:
    """One readable line from any ETNA error body: ``error``, ``Message``, ``Errors[]``,
    ``Reason``, or the start of a non-JSON body."""
    try:
        body = response.json()
    except BalanceCliError:
        text = response.text.strip()
        if text[:1] == "<":
            return "an HTML page instead of JSON"
        return one_line(text[:120]) or "no details"
    parts: list[str] = []
    for key in ("error", "Message", "Errors", "Reason") if isinstance(body, dict) else ():
        value = body.get(key)
        items = value if isinstance(value, list) else [value]
        parts.extend(one_line(v) for v in items if not isinstance(v, dict | list))
    return "; ".join(p for p in parts if p) or "no details"
