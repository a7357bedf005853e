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

The token handling, batching and error mapping are shared with v3 in ``tradestation.py``; this
module holds the v2 paths and field mapping only.
"""

from __future__ import annotations

from urllib.parse import quote

from balancecli.brokers.payload import array, index_by, obj
from balancecli.brokers.tradestation.api import Session
from balancecli.core.errors import BadResponseError, BalanceCliError, ConfigError
from balancecli.core.models import Account, Asset, Balance, extra_from
from balancecli.core.numbers import to_decimal, to_text
from balancecli.net.http import Response

API_VERSION = "APIVersion=20160101"
TOKEN_PATH = "/v2/security/authorize"
BALANCE = {
    "cash": "RealTimeAccountBalance", "buying_power": "RealTimeBuyingPower",
    "equity": "RealTimeEquity", "market_value": "MarketValue",
    "unrealized_pnl": "RealTimeUnrealizedProfitLoss",
    "realized_pnl": "RealTimeRealizedProfitLoss",
    "initial_margin": "RealTimeInitialMargin",
    "maintenance_margin": "RealTimeMaintenanceMargin",
}
CURRENCY_DETAIL = {
    "total": "RealTimeCashBalance",
    "value_in_account_currency": "RealTimeAccountCashBalance",
    "conversion_rate": "ToAccountConversionRate",
}
ACCOUNT_KEYS = {"Key", "Name", "TypeDescription", "StatusDescription", "Currency"}


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
    return ts.accounts_from(items, ACCOUNT_KEYS, id="Key", name="Name", type="TypeDescription",
                            currency="Currency", status="StatusDescription",
                            default_currency="USD")


def fetch_batch(ts: Session, ids: str) -> tuple[dict[str, dict], list[BalanceCliError]]:
    """One balances call for up to 25 comma-separated keys: the raw objects by key."""
    body = ts._get(f"/v2/accounts/{ids}/balances", API_VERSION)
    items = [body] if isinstance(body, dict) else array(body, "balances response")
    found, repeated = index_by(items, "Key", "balance")
    return found, ts.repeated_errors(repeated)


def parse_balance(ts: Session, account: Account, item: dict, as_of: str) -> Balance:
    values = {k: to_decimal(item.get(src), name=src) for k, src in BALANCE.items()}
    extra = extra_from(item, set(BALANCE.values()) | {"Key"})
    return ts.balance(account, as_of=as_of, extra=extra, **values)


def parse_assets(ts: Session, account: Account, item: dict) -> list[Asset]:
    """One row per CurrencyDetails item, else one row of the account's cash."""
    details = item.get("CurrencyDetails")
    if not details:
        return [ts.asset(account, account.currency or "USD",
                         total=to_decimal(item.get("RealTimeAccountBalance"),
                                          name="RealTimeAccountBalance"))]
    rows = []
    for detail in array(details, "CurrencyDetails"):
        detail = obj(detail, "CurrencyDetails item")
        currency = to_text(detail.get("Currency"))
        if not currency:
            raise BadResponseError("a CurrencyDetails item has no Currency")
        values = {k: to_decimal(detail.get(src), name=src) for k, src in CURRENCY_DETAIL.items()}
        extra = extra_from(detail, set(CURRENCY_DETAIL.values()) | {"Currency"})
        rows.append(ts.asset(account, currency, extra=extra, **values))
    return rows
