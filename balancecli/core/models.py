"""The normalized model: Account, Balance and Asset rows, each field documented once.

Money is ``Decimal`` from the broker's text to the output. A value the broker did not send is
``None`` (rendered ``null`` / ``—``), never zero. Normalized values are copied from the broker,
never computed; whatever else the broker sent for the row goes under its own name into ``extra``.

Each field's text (``doc``) is the one description of that field: ``balancecli schema`` prints
it as the field's ``description`` (``output/schemas.py``). Which broker field fills it is
declared by each broker module (``brokers/mapping.py``) and shown in the README's Reference.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache
from typing import Any

_MISSING: Any = dataclasses.MISSING


def doc(text: str, default: Any = _MISSING) -> Any:
    """A model field with its description (``doc_of`` reads it back)."""
    return field(default=default, metadata={"doc": text})


def doc_of(model_field: dataclasses.Field[Any]) -> str:
    """The description of a model field."""
    return str(model_field.metadata.get("doc", ""))


_EXTRA = ("Everything else the broker sent for this row, under the broker's own names "
          "(personal data such as e-mails, logins and owners' names left out).")
_PROFILE = "The profile, a [profiles.NAME] table of the config, the row was fetched with."
_BROKER = "The broker of the profile (its broker setting)."
_ACCOUNT_ID = "The broker's id of the account, always text."


@dataclass(frozen=True, slots=True)
class Account:
    """One account of a profile."""

    profile: str = doc(_PROFILE)
    broker: str = doc(_BROKER)
    account_id: str = doc(_ACCOUNT_ID)
    name: str | None = doc("The account's name or alias at the broker.", None)
    type: str | None = doc("The account type, the same word for every broker: cash, margin, "
                           "futures, dvp, forex, securities or crypto; null when the broker "
                           "sends none or one balancecli does not know (the broker's own word "
                           "stays in extra).", None)
    currency: str | None = doc("The account's currency (ISO 4217, or an asset code such as "
                               "USDT); null when the broker does not say.", None)
    status: str | None = doc("The account's status, the same word for every broker: active, "
                             "restricted (closing or liquidating transactions only), inactive "
                             "or closed; null when the broker sends none or one balancecli "
                             "does not know (the broker's own word stays in extra).", None)
    extra: dict[str, Any] = field(default_factory=dict, metadata={"doc": _EXTRA})


@dataclass(frozen=True, slots=True)
class Balance:
    """The balance of one account (or of one currency view of it)."""

    profile: str = doc(_PROFILE)
    broker: str = doc(_BROKER)
    account_id: str = doc(_ACCOUNT_ID)
    account_name: str | None = doc("The account's name (the account row's name).", None)
    account_type: str | None = doc("The account's type (the account row's type: cash, "
                                   "margin, futures, dvp, forex, securities or crypto).",
                                   None)
    currency: str | None = doc("The currency of this row's amounts; an account the broker "
                               "reports in several currency views has one row per view.", None)
    as_of: str | None = doc("When the values held, ISO 8601 UTC: the broker's own time where "
                            "it sends one, else the time of the fetch.", None)
    cash: Decimal | None = doc("Cash balance.", None)
    available: Decimal | None = doc("Funds available to trade.", None)
    withdrawable: Decimal | None = doc("Funds that may be withdrawn.", None)
    buying_power: Decimal | None = doc("Buying power.", None)
    equity: Decimal | None = doc("Account value: cash and positions at market value (net "
                                 "liquidation value, net assets).", None)
    market_value: Decimal | None = doc("Market value of the positions.", None)
    initial_margin: Decimal | None = doc("Initial margin requirement.", None)
    maintenance_margin: Decimal | None = doc("Maintenance margin requirement.", None)
    unrealized_pnl: Decimal | None = doc("Profit or loss of the open positions.", None)
    realized_pnl: Decimal | None = doc("Realized profit or loss, over the broker's period "
                                       "(usually today).", None)
    extra: dict[str, Any] = field(default_factory=dict, metadata={"doc": _EXTRA})


@dataclass(frozen=True, slots=True)
class Asset:
    """One asset or currency held by an account."""

    profile: str = doc(_PROFILE)
    broker: str = doc(_BROKER)
    account_id: str = doc(_ACCOUNT_ID)
    asset: str = doc("The asset or currency held: USD, HKD, BTC, ...")
    total: Decimal | None = doc("Amount held, in units of the asset.", None)
    available: Decimal | None = doc("Amount free to use (not reserved).", None)
    reserved: Decimal | None = doc("Amount held back, by open orders for instance.", None)
    settling: Decimal | None = doc("Amount not yet settled.", None)
    withdrawable: Decimal | None = doc("Amount that may be withdrawn.", None)
    value_in_account_currency: Decimal | None = doc(
        "Value of the holding in the account's currency, as the broker reports it.", None)
    value_usd: Decimal | None = doc("Value of the holding in USD, as the broker reports it.",
                                    None)
    value_btc: Decimal | None = doc("Value of the holding in BTC, as the broker reports it.",
                                    None)
    conversion_rate: Decimal | None = doc(
        "The broker's rate from this asset to the account's currency: one unit of the asset "
        "is worth this much of the account's currency.", None)
    extra: dict[str, Any] = field(default_factory=dict, metadata={"doc": _EXTRA})


Row = Account | Balance | Asset

MONEY_FIELDS = {
    Balance: tuple(
        f.name for f in dataclasses.fields(Balance) if f.type == "Decimal | None"
    ),
    Asset: tuple(f.name for f in dataclasses.fields(Asset) if f.type == "Decimal | None"),
    Account: (),
}


def row_dict(row: Row) -> dict[str, Any]:
    """Every model field in declaration order, nulls included (the JSON row shape)."""
    return {f.name: getattr(row, f.name) for f in dataclasses.fields(row)}


def extra_from(payload: dict[str, Any], used: set[str] | frozenset[str]) -> dict[str, Any]:
    """Everything the broker sent for a row that was not mapped to a normalized field, except
    personal data: e-mails, logins, user names, phones, addresses and owners'
    names never reach ``extra``, the output or the history store, at any depth."""
    return {k: _without_personal(v) for k, v in payload.items()
            if k not in used and not is_personal(str(k))}


# Normalized key (lower case, letters and digits only) fragments that mark personal data.
_PERSONAL_PARTS = ("email", "login", "username", "phone", "mobile", "address", "firstname",
                   "lastname", "middlename", "fullname", "ownername", "holdername", "birth",
                   "passport", "taxid", "nationalid", "socialsecurity")
_PERSONAL_KEYS = frozenset({"owner", "owners", "mail", "ssn", "dob", "tin", "user", "users"})


@lru_cache(maxsize=4096)
def is_personal(key: str) -> bool:
    """True for a field name that carries personal data (``Email``, ``Owners``,
    ``user_name``, ``PhoneNumber``); ``userPnl`` or ``OwnerType`` are not."""
    norm = "".join(c for c in key.lower() if c.isalnum())
    return norm in _PERSONAL_KEYS or any(part in norm for part in _PERSONAL_PARTS)


def _without_personal(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_personal(v) for k, v in value.items() if not is_personal(str(k))}
    if isinstance(value, list):
        return [_without_personal(v) for v in value]
    return value
