"""Net worth in one currency: the account value rule and the ``converted`` block.

Each account counts once. An account with several currency views (several balance rows) is
valued by its view in the target currency if there is one, else by its first view. Its value is
``equity``; where the broker gave none, the sum of its asset rows' values when every row carries
one (``assets.value_in_account_currency``, or ``assets.value_usd`` in USD), else ``cash``, else
``available``. The field used is recorded in ``value_field``. Which accounts need their asset
rows fetched to be valued so is the broker class's answer (``Broker.valued_by_assets``).

The rate F→T comes from ``rates.Rates`` (identity, the account's broker quotes, config, ECB).
The broker quotes are what each broker class reads from its own rows
(``Broker.reported_rates``); this module never reads a broker's raw fields. An account summed
from the broker's own USD values is valued in USD by the broker: for ``--in USD`` its rate is 1
with source ``broker``; for another target the USD amount is converted like any other. An
account without a value, a currency or a rate is listed in ``unconverted`` and the total is
``incomplete`` (so is a total when a profile or account failed to fetch).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from balancecli.brokers import known
from balancecli.core.models import Asset, Balance
from balancecli.money.rates import EXACT, Rate, Rates, quote

AccountKey = tuple[str, str]  # (profile, account_id)

# Asset fields whose sum is an account's value when every asset row carries it, and the
# currency of that sum (None: the account's own currency).
ASSET_VALUE_FIELDS = (("value_in_account_currency", None), ("value_usd", "USD"))


def key_of(row: Balance | Asset) -> AccountKey:
    return (row.profile, row.account_id)


def as_of_day(as_of: str | None) -> date | None:
    if not as_of or len(as_of) < 10:
        return None
    try:
        return date.fromisoformat(as_of[:10])
    except ValueError:
        return None


# ---------------------------------------------------------------------------------------------
# The broker's own rates


def broker_quotes(balances: Iterable[Balance], assets: Iterable[Asset],
                  day: date | None = None) -> dict[AccountKey, list[Rate]]:
    """The rates each account's broker response carried, dated by the response's ``as_of``
    (else ``day``): what each broker class reads from its own rows (``reported_rates``), the
    first quote of a pair per account winning. Rows of an unregistered broker carry none."""
    balances, assets = list(balances), list(assets)
    when: dict[AccountKey, date | None] = {}
    for row in balances:
        when.setdefault(key_of(row), as_of_day(row.as_of) or day)
    found: dict[AccountKey, dict[tuple[str, str], Rate]] = {}
    for name in dict.fromkeys([*(b.broker for b in balances), *(a.broker for a in assets)]):
        cls = known(name)
        if cls is None:
            continue
        mine = ([r for r in balances if r.broker == name], [a for a in assets if a.broker == name])
        for reported in cls.reported_rates(*mine):
            key = (reported.profile, reported.account_id)
            rate = quote(reported.base, reported.quote, reported.num, reported.den,
                         source="broker", day=when.get(key) or day,
                         how=f"broker {reported.profile} {reported.field}")
            if rate is not None and rate.base != rate.quote:
                found.setdefault(key, {}).setdefault((rate.base, rate.quote), rate)
    return {key: list(rates.values()) for key, rates in found.items()}


def _usd_how(profile: str, broker: str) -> str:
    """Where an account's or asset's own USD value came from: "broker qt TotalInUSD"."""
    cls = known(broker)
    source = cls.source_of(Asset, "value_usd") if cls is not None else None
    return f"broker {profile} {source or 'value_usd'}"


# ---------------------------------------------------------------------------------------------
# The account value rule


@dataclass
class Valued:
    """One account's value in the target currency."""

    profile: str
    account_id: str
    value: Decimal
    value_field: str
    from_currency: str
    rate: Rate
    view: Balance | None = None  # the balance row that was valued (for the table column)

    def as_dict(self) -> dict[str, Any]:
        return {"profile": self.profile, "account_id": self.account_id, "value": self.value,
                "value_field": self.value_field, "from": self.from_currency,
                "rate": self.rate.value, "rate_source": self.rate.source,
                "rate_date": self.rate.day.isoformat() if self.rate.day else None}


@dataclass
class Unconverted:
    profile: str
    account_id: str
    currency: str | None
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {"profile": self.profile, "account_id": self.account_id,
                "currency": self.currency, "reason": self.reason}


@dataclass
class Converted:
    """The ``converted`` block: the total in one currency and how each account got there."""

    currency: str
    accounts: list[Valued] = field(default_factory=list)
    unconverted: list[Unconverted] = field(default_factory=list)
    failed: bool = False  # a profile or account failed to fetch: the total misses it

    @property
    def total(self) -> Decimal | None:
        if not self.accounts:
            return None if self.unconverted or self.failed else Decimal(0)
        total = Decimal(0)
        for account in self.accounts:
            total = EXACT.add(total, account.value)
        return total

    @property
    def incomplete(self) -> bool:
        return bool(self.unconverted) or self.failed

    def as_dict(self) -> dict[str, Any]:
        return {"currency": self.currency, "total": self.total, "incomplete": self.incomplete,
                "accounts": [a.as_dict() for a in self.accounts],
                "unconverted": [u.as_dict() for u in self.unconverted]}

    def rates_used(self) -> list[Rate]:
        """Each distinct rate once, in first-use order (for the table footer)."""
        seen: dict[tuple[Any, ...], Rate] = {}
        for account in self.accounts:
            r = account.rate
            if r.source != "identity":
                seen.setdefault((r.base, r.quote, r.source, r.day, r.how), r)
        return list(seen.values())

    def value_of(self, row: Balance) -> Decimal | None:
        """The value shown next to a balance row (only on the view that was valued)."""
        for account in self.accounts:
            if account.view is row:
                return account.value
        return None


def choose_view(views: Sequence[Balance], target: str) -> Balance | None:
    for view in views:
        if (view.currency or "").upper() == target:
            return view
    return views[0] if views else None


def asset_sum(rows: Sequence[Asset], currency: str | None) -> tuple[Decimal, str, str] | None:
    """(sum, field, currency) when every asset row of the account carries the same value field."""
    if not rows:
        return None
    for name, fixed in ASSET_VALUE_FIELDS:
        values = [getattr(r, name) for r in rows]
        ccy = fixed or currency
        if ccy and all(v is not None for v in values):
            total = Decimal(0)
            for v in values:
                total = EXACT.add(total, v)
            return total, f"assets.{name}", ccy
    return None


def value_accounts(balances: Iterable[Balance], assets: Iterable[Asset], rates: Rates,
                   target: str, *, failed: bool = False) -> Converted:
    """Apply the account value rule to every account in ``balances`` (and ``assets``)."""
    target = target.upper()
    views: dict[AccountKey, list[Balance]] = {}
    holdings: dict[AccountKey, list[Asset]] = {}
    for row in balances:
        views.setdefault(key_of(row), []).append(row)
    for held in assets:
        holdings.setdefault(key_of(held), []).append(held)
    result = Converted(target, failed=failed)
    for key in [*views, *(k for k in holdings if k not in views)]:
        profile, account_id = key
        view = choose_view(views.get(key, []), target)
        currency = (view.currency or "").upper() or None if view is not None else None
        picked = _amount(view, holdings.get(key, []), currency)
        if picked is None:
            result.unconverted.append(Unconverted(profile, account_id, currency, "no value"))
            continue
        amount, value_field, from_ccy = picked
        if value_field == "assets.value_usd" and target == "USD":
            broker = holdings[key][0].broker
            rate = quote("USD", "USD", Decimal(1), source="broker", day=_day_of(view, rates),
                         how=_usd_how(profile, broker))
            assert rate is not None
        else:
            found = rates.find(from_ccy, target, key)
            if found is None:
                result.unconverted.append(Unconverted(profile, account_id, from_ccy, "no rate"))
                continue
            rate = found
        result.accounts.append(Valued(profile, account_id, rate.apply(amount), value_field,
                                      from_ccy, rate, view))
    return result


def _amount(view: Balance | None, rows: Sequence[Asset],
            currency: str | None) -> tuple[Decimal, str, str] | None:
    if view is not None and view.equity is not None and currency:
        return view.equity, "equity", currency
    summed = asset_sum(rows, currency)
    if summed is not None:
        return summed
    if view is None or not currency:
        return None
    for name in ("cash", "available"):
        value = getattr(view, name)
        if value is not None:
            return value, name, currency
    return None


def _day_of(view: Balance | None, rates: Rates) -> date:
    return (as_of_day(view.as_of) if view else None) or rates.day


# ---------------------------------------------------------------------------------------------
# One asset row in the target currency (the assets table's Value column, jsonl/csv fields)


def value_asset(asset: Asset, rates: Rates, target: str) -> tuple[Decimal, Rate] | None:
    """The asset's ``total`` in ``target`` (its broker's own USD value when it has one), or
    None."""
    target = target.upper()
    key = key_of(asset)
    if asset.value_usd is not None:
        if target == "USD":
            rate = quote("USD", "USD", Decimal(1), source="broker", day=rates.day,
                         how=_usd_how(asset.profile, asset.broker))
            assert rate is not None
            return asset.value_usd, rate
        found = rates.find("USD", target, key)
        return (found.apply(asset.value_usd), found) if found else None
    if asset.total is None:
        return None
    found = rates.find(asset.asset.upper(), target, key)
    return (found.apply(asset.total), found) if found else None
