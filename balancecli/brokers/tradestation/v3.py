"""TradeStation v3 (the default API): paths and field mapping.

Sources: the v3 OpenAPI spec TradeStation publishes, as shipped in
``mxcoppell/tradestation-api-ts`` (``docs/tradestation-webapi-v3-openapi.json``: ``Accounts``,
``Balances``, ``BalanceDetail``, ``CurrencyDetail``, ``BalanceError``, ``ErrorResponse``).

- ``GET /v3/brokerage/accounts`` -> ``{"Accounts": [...]}``; ``AccountID`` is a string.
- ``GET /v3/brokerage/accounts/{ids}/balances`` (1-25 ids) -> ``{"Balances", "Errors"}`` with
  HTTP 200 even when some accounts fail; an ``Errors`` entry's ``AccountID`` may list several
  ids, comma separated. Money values are strings; ``CurrencyDetails`` only for futures.
- The balances endpoint is "valid for ``Cash``, ``Margin``, ``Futures``, and ``DVP`` account
  types" (its description); the spec's own example answers another type with an ``Errors``
  entry ``Forbidden: Request not supported for account type.`` Accounts of other types are
  listed by ``accounts`` but not asked for balances (``BALANCE_TYPES``): they are skipped, not
  failed.
- ``BalanceDetail`` varies with the account type: ``InitialMargin`` and ``MaintenanceMargin``
  are "(Futures)" fields; an equities margin account sends ``RequiredMargin`` ("(Equities)
  Total required margin for all held positions") and ``MaintenanceRate`` instead (the spec's
  Margin example). A margin account's ``initial_margin`` is its ``RequiredMargin``
  (``MARGIN_BALANCES``); ``MaintenanceRate`` ("Maintenance Margin Rate") stays in ``extra``:
  nothing says it is the maintenance requirement, so ``maintenance_margin`` is null there.

Token handling, batching and error mapping are shared with v2 in ``broker.py``; the
field mapping is the ``FieldMap`` declarations below, which the parsers read.
"""

from __future__ import annotations

from typing import Any

from balancecli.brokers.mapping import FieldMap, From
from balancecli.brokers.payload import array, index_by, lower, obj, one_line
from balancecli.brokers.tradestation.api import STATUSES, TYPES, Session
from balancecli.core.errors import BalanceCliError, BrokerError
from balancecli.core.models import Account, Asset, Balance
from balancecli.core.numbers import to_text

SPEC = "mxcoppell/tradestation-api-ts:docs/tradestation-webapi-v3-openapi.json"
# The account types the balances endpoint serves (lower case, as Account.type), from its
# description in the spec: "Request valid for Cash, Margin, Futures, and DVP account types."
BALANCE_TYPES: tuple[str, ...] | None = ("cash", "margin", "futures", "dvp")
ACCOUNTS = FieldMap(
    Account, "GET /v3/brokerage/accounts", SPEC, each="Accounts", variant="v3", fields={
        "account_id": "AccountID",
        "name": From("Alias", fallback="AccountID"),
        "type": From("AccountType", values=TYPES),
        "currency": "Currency",
        "status": From("Status", values=STATUSES),
    })
BALANCES = FieldMap(
    Balance, "GET /v3/brokerage/accounts/{ids}/balances", SPEC, each="Balances", variant="v3",
    rows="one per Cash, Futures or DVP account; 1 to 25 ids per request", fields={
        "account_id": "AccountID",
        "currency": From(note="the account's, from the account list"),
        "as_of": From(note="the time of the fetch"),
        "cash": "CashBalance",
        "buying_power": "BuyingPower",
        "equity": "Equity",
        "market_value": "MarketValue",
        "unrealized_pnl": "BalanceDetail.UnrealizedProfitLoss",
        "realized_pnl": "BalanceDetail.RealizedProfitLoss",
        "initial_margin": From("BalanceDetail.InitialMargin", note="futures"),
        "maintenance_margin": From("BalanceDetail.MaintenanceMargin", note="futures"),
    })
MARGIN_BALANCES = FieldMap(
    Balance, "GET /v3/brokerage/accounts/{ids}/balances", SPEC, each="Balances",
    variant="v3, AccountType Margin",
    rows="one per equities margin account; BalanceDetail.MaintenanceRate stays in extra",
    fields={
        **{k: v for k, v in BALANCES.fields.items()
           if k not in ("initial_margin", "maintenance_margin")},
        "initial_margin": From("BalanceDetail.RequiredMargin",
                               note="the equities margin requirement: a margin account "
                                    "sends no InitialMargin, a futures field"),
    })
CURRENCY_DETAILS = FieldMap(
    Asset, "GET /v3/brokerage/accounts/{ids}/balances", SPEC, each="CurrencyDetails",
    variant="v3", rows="one per CurrencyDetails item of the balance (futures accounts)",
    fields={"asset": "Currency", "total": "CashBalance",
            "conversion_rate": "AccountConversionRate"})
CASH = FieldMap(
    Asset, "GET /v3/brokerage/accounts/{ids}/balances", SPEC, variant="v3",
    rows="one per balance without CurrencyDetails", fields={
        "asset": From(note="the account's currency (USD when it has none)"),
        "total": "CashBalance"})
FIELD_MAPS = (ACCOUNTS, BALANCES, MARGIN_BALANCES, CURRENCY_DETAILS, CASH)


def accounts(ts: Session) -> list[Account]:
    body = obj(ts._get("/v3/brokerage/accounts"), "accounts response")
    items = array(body.get(str(ACCOUNTS.each)), str(ACCOUNTS.each))
    return ts.accounts_from(items, ACCOUNTS)


def fetch_batch(ts: Session, ids: str) -> tuple[dict[str, dict[str, Any]], list[BalanceCliError]]:
    """One balances call for up to 25 comma-separated ids: the raw objects by id, and the
    accounts TradeStation refused (``Errors``) or named more than once."""
    body = obj(ts._get(f"/v3/brokerage/accounts/{ids}/balances"), "balances response")
    found, repeated = index_by(array(body.get(str(BALANCES.each)) or [], str(BALANCES.each)),
                               BALANCES.key("account_id"), "balance")
    errors = ts.repeated_errors(repeated)
    for item in array(body.get("Errors") or [], "Errors"):
        item = obj(item, "error")
        message = one_line(" ".join(
            str(x) for x in (item.get("Error"), item.get("Message") or item.get("message")) if x
        )) or "no details"
        # "AccountID may contain multiple Account IDs in comma separated format".
        for account_id in (to_text(item.get("AccountID")) or "").split(","):
            if account_id.strip():
                errors.append(ts.fail(
                    BrokerError(f"TradeStation refused this account: {message}"),
                    account_id.strip(),
                ))
    return found, errors


def parse_balance(ts: Session, account: Account, item: dict[str, Any], as_of: str) -> Balance:
    kind = lower(item.get("AccountType")) or account.type
    mapping = MARGIN_BALANCES if kind == "margin" else BALANCES
    return ts.balance(account, as_of=as_of, extra=mapping.extra(item), **mapping.amounts(item))


def parse_assets(ts: Session, account: Account, item: dict[str, Any]) -> list[Asset]:
    details = item.get(str(CURRENCY_DETAILS.each))
    if not details:
        return [ts.asset(account, account.currency or "USD", **CASH.amounts(item))]
    return [ts.asset_from(account, detail, CURRENCY_DETAILS)
            for detail in array(details, str(CURRENCY_DETAILS.each))]

