"""What the v2 and v3 dialects need of the TradeStation broker: requests, the account-list
reader and the row builders. ``broker.TradeStation`` provides it; the dialect modules only
describe paths and field mappings, so they depend on this protocol, not on the broker."""

from __future__ import annotations

from typing import Any, Protocol

from balancecli.brokers.base import Context
from balancecli.core.errors import BalanceCliError
from balancecli.core.models import Account, Asset, Balance


class Session(Protocol):
    profile: str
    ctx: Context

    def _get(self, path: str, query: str = "") -> Any: ...

    def accounts_from(self, items: list[Any], keys: frozenset[str], *, id: str, name: str,
                      type: str, currency: str, status: str,
                      default_currency: str | None = None) -> list[Account]: ...

    def repeated_errors(self, repeated: dict[str, int]) -> list[BalanceCliError]: ...

    def balance(self, account: Account, **fields: Any) -> Balance: ...

    def asset(self, account: Account, asset: str, **fields: Any) -> Asset: ...

    def fail(self, exc: BalanceCliError, account_id: str | None = None) -> BalanceCliError: ...
