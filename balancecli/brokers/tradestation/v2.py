"""TradeStation v2 (legacy; ``api = "v2"``): what differs from v3.

Sources: TradeStation's Web API v2 documentation, ``tradestation/webapi-docs`` (the "Balances"
page ``en/accounts/balances.md``: ``GET /accounts/{accountkey}/balances``, with the cash and
futures examples; the ``en/objects/`` pages; ``en/security/authorize.md``;
``en/getting-started/request-throttling.md``), and the v2 swagger, ``spec/swagger.yaml`` in
``tradestation/api-docs``.

- Hosts: ``https://api.tradestation.com/v2``, SIM ``https://sim-api.tradestation.com/v2``; the
  token endpoint ``/v2/security/authorize`` lives on the same host as the data (legacy OAuth).
- Every call sends ``APIVersion=20160101``, else the 20101026 behaviour is served.
- ``Key`` is a JSON number (ids are kept as strings); balances answer a bare object for one
  account or an array; money values are JSON numbers with up to 28 digits, kept exact.
- Throttling (250 requests / 5 min) is "HTTP 403 Quota Exceeded" with an HTML body.

The token handling, batching and error mapping are shared with v3 in ``broker.py``; this
module holds the v2 paths and field mapping only (the ``FieldMap`` declarations below, which the
parsers read).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from balancecli.brokers.mapping import FieldMap, From
from balancecli.brokers.payload import array, index_by
from balancecli.brokers.tradestation.api import STATUSES, TYPES, Session
from balancecli.core.errors import BalanceCliError, ConfigError
from balancecli.core.models import Account, Asset, Balance
from balancecli.net.wire import Response

API_VERSION = "APIVersion=20160101"
TOKEN_PATH = "/v2/security/authorize"
SWAGGER = "tradestation/api-docs:spec/swagger.yaml"
BALANCES_PAGE = "tradestation/webapi-docs:en/accounts/balances.md"
# v2 documents no account type its balances refuse: every account is asked.
BALANCE_TYPES: tuple[str, ...] | None = None
ACCOUNTS = FieldMap(
    Account, "GET /v2/users/{user_id}/accounts", SWAGGER, variant='v2: api = "v2"',
    fields={
        "account_id": From("Key", note="a JSON number, kept as text"),
        "name": From("Name", fallback="Key"),
        "type": From("TypeDescription", values=TYPES),
        "currency": From("Currency", value="USD"),
        "status": From("StatusDescription", values=STATUSES),
    })
BALANCES = FieldMap(
    Balance, "GET /v2/accounts/{keys}/balances", BALANCES_PAGE, variant='v2: api = "v2"',
    rows="one per account; an object for one account, an array for several", fields={
        "account_id": "Key",
        "currency": From(note="the account's, from the account list"),
        "as_of": From(note="the time of the fetch"),
        "cash": "RealTimeAccountBalance",
        "buying_power": "RealTimeBuyingPower",
        "equity": "RealTimeEquity",
        "market_value": "MarketValue",
        "unrealized_pnl": "RealTimeUnrealizedProfitLoss",
        "realized_pnl": "RealTimeRealizedProfitLoss",
        "initial_margin": "RealTimeInitialMargin",
        "maintenance_margin": "RealTimeMaintenanceMargin",
    })
CURRENCY_DETAILS = FieldMap(
    Asset, "GET /v2/accounts/{keys}/balances",
    "tradestation/webapi-docs:en/objects/account-currency-detail.md", each="CurrencyDetails",
    variant='v2: api = "v2"', rows="one per CurrencyDetails item of the balance", fields={
        "asset": "Currency",
        "total": "RealTimeCashBalance",
        "value_in_account_currency": "RealTimeAccountCashBalance",
        "conversion_rate": "ToAccountConversionRate",
    })
CASH = FieldMap(
    Asset, "GET /v2/accounts/{keys}/balances", BALANCES_PAGE, variant='v2: api = "v2"',
    rows="one per balance without CurrencyDetails", fields={
        "asset": From(note="the account's currency (USD when it has none)"),
        "total": "RealTimeAccountBalance"})
FIELD_MAPS = (ACCOUNTS, BALANCES, CURRENCY_DETAILS, CASH)


def is_quota_page(response: Response) -> bool:
    """v2 throttling: HTTP 403 with an HTML "Quota Exceeded" body (webapi-docs throttling)."""
    return response.status == 403 and b"quota exceeded" in response.content[:500].lower()


def accounts(ts: Session) -> list[Account]:
    user_id = ts.ctx.settings.get("user_id") or ts.ctx.secrets.get("USER_ID")
    if not user_id:
        raise ConfigError(
            "the v2 API needs user_id (the userid of the token response)",
            next_step=f'add user_id = "..." to [profiles.{ts.profile}]',
        )
    items = array(ts._get(f"/v2/users/{quote(str(user_id), safe='')}/accounts", API_VERSION),
                  "accounts response")
    return ts.accounts_from(items, ACCOUNTS)


def fetch_batch(ts: Session, ids: str) -> tuple[dict[str, dict[str, Any]], list[BalanceCliError]]:
    """One balances call for up to 25 comma-separated keys: the raw objects by key."""
    body = ts._get(f"/v2/accounts/{ids}/balances", API_VERSION)
    items = [body] if isinstance(body, dict) else array(body, "balances response")
    found, repeated = index_by(items, BALANCES.key("account_id"), "balance")
    return found, ts.repeated_errors(repeated)


def parse_balance(ts: Session, account: Account, item: dict[str, Any], as_of: str) -> Balance:
    values = BALANCES.amounts(item)
    return ts.balance(account, as_of=as_of, extra=BALANCES.extra(item), **values)


def parse_assets(ts: Session, account: Account, item: dict[str, Any]) -> list[Asset]:
    """One row per CurrencyDetails item, else one row of the account's cash."""
    details = item.get(str(CURRENCY_DETAILS.each))
    if not details:
        return [ts.asset(account, account.currency or "USD", **CASH.amounts(item))]
    return [ts.asset_from(account, detail, CURRENCY_DETAILS)
            for detail in array(details, str(CURRENCY_DETAILS.each))]
