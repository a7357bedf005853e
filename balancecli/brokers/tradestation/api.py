"""What the v2 and v3 dialects need of the TradeStation broker: requests, the readers of an
account list and of a currency-details item, and the row builders. ``broker.TradeStation``
provides it; the dialect modules only describe paths and field mappings, so they depend on
this protocol, not on the broker."""

from __future__ import annotations

from typing import Any, Protocol

from balancecli.brokers.base import Context
from balancecli.brokers.mapping import FieldMap
from balancecli.core.errors import BalanceCliError
from balancecli.core.models import Account, Asset, Balance

# An account's type and status in TradeStation's words (the same in v2 and v3) -> the
# normalized values (``brokers.mapping``); the broker's own value stays in ``extra``.
# v3 ``AccountType`` is Cash|Margin|Futures|DVP and ``Status`` one of the eight below
# (``components.schemas.Account`` of the v3 OpenAPI document); v2 ``TypeDescription`` adds
# Forex (``en/objects/account-info.md`` in ``tradestation/webapi-docs``). Crypto is not in
# that enum but is listed for TradeStation Crypto accounts, a type the balances endpoint
# refuses (``v3.BALANCE_TYPES``): named, it is skipped rather than asked.
TYPES = {"Cash": "cash", "Margin": "margin", "Futures": "futures", "DVP": "dvp",
         "Forex": "forex", "Crypto": "crypto"}
STATUSES = {
    "Active": "active",
    "Closed": "closed",
    "Inactive": "inactive",
    "Restricted": "restricted",
    "Closing Transaction Only": "restricted",
    "Closing Transactions Only": "restricted",
    "Margin Call - Closing Transactions Only": "restricted",
    "Liquidating Transactions Only": "restricted",
    "90 Day Restriction-Closing Transaction Only": "restricted",
}


class Session(Protocol):
    profile: str
    ctx: Context

    def _get(self, path: str, query: str = "") -> Any: ...

    def accounts_from(self, items: list[Any], mapping: FieldMap) -> list[Account]: ...

    def asset_from(self, account: Account, item: Any, mapping: FieldMap) -> Asset: ...

    def repeated_errors(self, repeated: dict[str, int]) -> list[BalanceCliError]: ...

    def balance(self, account: Account, **fields: Any) -> Balance: ...

    def asset(self, account: Account, asset: str, **fields: Any) -> Asset: ...

    def fail(self, exc: BalanceCliError, account_id: str | None = None) -> BalanceCliError: ...


class Dialect(Protocol):
    """An API version's module (``v2``, ``v3``): its paths and field mapping, and the account
    types its balances endpoint serves (``None``: every type)."""

    BALANCE_TYPES: tuple[str, ...] | None

    def accounts(self, ts: Session) -> list[Account]: ...

    def fetch_batch(self, ts: Session, ids: str
                    ) -> tuple[dict[str, dict[str, Any]], list[BalanceCliError]]: ...

    def parse_balance(self, ts: Session, account: Account, item: dict[str, Any],
                      as_of: str) -> Balance: ...

    def parse_assets(self, ts: Session, account: Account,
                     item: dict[str, Any]) -> list[Asset]: ...
