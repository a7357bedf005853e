"""TradeStation v3 (the default API): paths and field mapping.

Sources: the v3 OpenAPI spec TradeStation publishes, as shipped in
``mxcoppell/tradestation-api-ts`` (``docs/tradestation-webapi-v3-openapi.json``: ``Accounts``,
``Balances``, ``BalanceDetail``, ``CurrencyDetail``, ``BalanceError``, ``ErrorResponse``).

- ``GET /v3/brokerage/accounts`` -> ``{"Accounts": [...]}``; ``AccountID`` is a string.
- ``GET /v3/brokerage/accounts/{ids}/balances`` (1-25 ids) -> ``{"Balances", "Errors"}`` with
  HTTP 200 even when some accounts fail; an ``Errors`` entry's ``AccountID`` may list several
  ids, comma separated. Money values are strings; ``CurrencyDetails`` only for futures.

Token handling, batching and error mapping are shared with v2 in ``tradestation.py``.
"""

from __future__ import annotations

from balancecli.brokers.payload import array, index_by, obj, one_line
from balancecli.brokers.tradestation.api import Session
from balancecli.core.errors import BadResponseError, BalanceCliError, BrokerError
from balancecli.core.models import Account, Asset, Balance, extra_from
from balancecli.core.numbers import to_decimal, to_text

V3_BALANCE = {
    "cash": "CashBalance", "buying_power": "BuyingPower", "equity": "Equity",
    "market_value": "MarketValue",
}
V3_CURRENCY = {"total": "CashBalance", "conversion_rate": "AccountConversionRate"}
V3_DETAIL = {
    "unrealized_pnl": "UnrealizedProfitLoss", "realized_pnl": "RealizedProfitLoss",
    "initial_margin": "InitialMargin", "maintenance_margin": "MaintenanceMargin",
}
ACCOUNT_KEYS = {"AccountID", "Alias", "AccountType", "Currency", "Status"}


def accounts(ts: Session) -> list[Account]:
    body = obj(ts._get("/v3/brokerage/accounts"), "accounts response")
    items = array(body.get("Accounts"), "Accounts")
    return ts.accounts_from(items, ACCOUNT_KEYS, id="AccountID", name="Alias",
                            type="AccountType", currency="Currency", status="Status")


def fetch_batch(ts: Session, ids: str) -> tuple[dict[str, dict], list[BalanceCliError]]:
    """One balances call for up to 25 comma-separated ids: the raw objects by id, and the
    accounts TradeStation refused (``Errors``) or named more than once."""
    body = obj(ts._get(f"/v3/brokerage/accounts/{ids}/balances"), "balances response")
    found, repeated = index_by(array(body.get("Balances") or [], "Balances"), "AccountID",
                               "balance")
    errors = ts.repeated_errors(repeated)
    for item in array(body.get("Errors") or [], "Errors"):
        item = obj(item, "error")
        message = one_line(" ".join(
            str(x) for x in (item.get("Error"), item.get("Message")) if x
        )) or "no details"
        # "AccountID may contain multiple Account IDs in comma separated format".
        for account_id in (to_text(item.get("AccountID")) or "").split(","):
            if account_id.strip():
                errors.append(ts.fail(
                    BrokerError(f"TradeStation refused this account: {message}"),
                    account_id.strip(),
                ))
    return found, errors


def parse_balance(ts: Session, account: Account, item: dict, as_of: str) -> Balance:
    detail = item.get("BalanceDetail") or {}
    detail = obj(detail, "BalanceDetail")
    values = {k: to_decimal(item.get(src), name=src) for k, src in V3_BALANCE.items()}
    values |= {k: to_decimal(detail.get(src), name=src) for k, src in V3_DETAIL.items()}
    extra = extra_from(item, set(V3_BALANCE.values()) | {"AccountID", "BalanceDetail"})
    rest = extra_from(detail, set(V3_DETAIL.values()))
    if rest:
        extra["BalanceDetail"] = rest
    return ts.balance(account, as_of=as_of, extra=extra, **values)


def parse_assets(ts: Session, account: Account, item: dict) -> list[Asset]:
    details = item.get("CurrencyDetails")
    if not details:
        return [ts.asset(account, account.currency or "USD",
                           total=to_decimal(item.get("CashBalance"), name="CashBalance"))]
    rows = []
    for detail in array(details, "CurrencyDetails"):
        detail = obj(detail, "CurrencyDetails item")
        currency = to_text(detail.get("Currency"))
        if not currency:
            raise BadResponseError("a CurrencyDetails item has no Currency")
        values = {k: to_decimal(detail.get(src), name=src) for k, src in V3_CURRENCY.items()}
        extra = extra_from(detail, set(V3_CURRENCY.values()) | {"Currency"})
        rows.append(ts.asset(account, currency, extra=extra, **values))
    return rows
