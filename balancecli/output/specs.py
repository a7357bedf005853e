"""What each command prints, as data: the JSON document (its schema name, the key of its rows),
the table (columns with titles and drop priorities, which currency an amount is shown in), the
totals, and how ``--hide-amounts`` and ``--in`` treat its rows.

The printers (``output.presenter``, ``output.render``) read a ``Spec``; none of them asks which
command it serves. A new command that prints rows is a new ``Spec`` here.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any

from balancecli.core.models import Account, Asset, Balance
from balancecli.output.table import KEEP


@dataclass(frozen=True)
class Col:
    """A table column: ``key`` is the JSON field (what ``--columns`` takes), ``priority`` the
    order in which columns go when the terminal is too narrow (lowest first; ``KEEP`` never)."""

    key: str
    title: str
    priority: int = KEEP
    numeric: bool = False  # an amount: right-aligned, decimal points lined up
    shrink: bool = False  # free text (a name): may be shortened with "…"


@dataclass(frozen=True)
class Totals:
    """Per ``group`` (a currency): how many accounts, the exact sums of ``fields`` and whether
    some account had no value (``incomplete``)."""

    group: str
    fields: tuple[str, ...]
    label_accounts: bool = True  # the table's total rows: "Total (3 accounts)"


@dataclass(frozen=True)
class Shares:
    """``--hide-amounts``: each row's share of its ``group``'s total, a row valued by the first
    non-null field of ``basis``; ``title`` heads the group column."""

    group: str
    title: str
    basis: tuple[str, ...]


@dataclass(frozen=True)
class Spec:
    name: str  # the command, as users type it (messages: "balance has: ...")
    row_noun: str  # what one row is ("balance": "no balance in XYZ")
    schema: str  # the JSON document's schema name
    key: str  # the key of its rows in the JSON document
    model: type
    columns: tuple[Col, ...]  # the table, in order
    more: tuple[Col, ...] = ()  # columns shown only when ``--columns`` names them
    always: frozenset[str] = frozenset()  # shown even when null in every row
    amount_in: str | None = None  # the row field naming the currency its amounts are in
    amount_in_fixed: dict[str, str | None] = field(default_factory=dict)  # or by column
    totals: Totals | None = None
    shares: Shares | None = None  # None: nothing to hide (no amounts)
    currency_field: str | None = None  # --currency keeps the rows whose field is CUR
    converts: bool = False  # takes --in CUR
    value_after: str | None = None  # --in: the Value column goes after this column (or last)
    holdings: bool = False  # --in: each row valued on its own (fetched with the balances)
    groups: tuple[str, ...] = ()  # --in CUR --by GROUP: what the values can be grouped by
    metrics: str | None = None  # -f prometheus: "balances" or "assets"
    # -f beancount|ledger assert what accounts hold: the asset rows, fetched with these rows
    # from the same answers (``Broker.snapshot``), not these rows (``output.exports``).
    asserts_assets: bool = False

    def field_names(self) -> list[str]:
        """The row fields of JSONL/CSV rows and ``--columns`` (``extra`` only in JSON)."""
        return [f.name for f in fields(self.model) if f.name != "extra"]

    def column(self, key: str) -> Col:
        for col in (*self.columns, *self.more):
            if col.key == key:
                return col
        return Col(key, key)

    @property
    def value_fields(self) -> tuple[str, ...]:
        """A row's value: the first of these fields it has (the share ``--hide-amounts``
        shows, the column a table keeps for a row that has nothing in its kept columns)."""
        return self.shares.basis if self.shares is not None else ()

    def column_names(self, *, converting: bool = False) -> list[str]:
        """What ``--columns`` takes: the row fields, and with ``--in`` ``value_in``/``value``."""
        return self.field_names() + (list(VALUE_COLUMNS) if converting else [])

    def resolve_column(self, name: str) -> str:
        """A ``--columns`` name as a field name: a field name, or a header as the table and its
        note print it (``Market value``, ``Value (USD)``), in any case; else ``name``."""
        wanted = " ".join(name.split()).casefold()
        for key in self.column_names(converting=self.converts):
            if key.casefold() == wanted:
                return key
        for col in (*self.columns, *self.more):
            if col.title.casefold() == wanted:
                return col.key
        if self.converts and wanted.startswith("value (") and wanted.endswith(")"):
            return "value"  # the converted column's header: "Value (USD)"
        return name

    def currency_of(self, key: str) -> Any:
        """A function row -> the currency whose display precision column ``key`` uses."""
        if key in self.amount_in_fixed:
            fixed = self.amount_in_fixed[key]
            return lambda row: fixed
        name = self.amount_in
        return (lambda row: getattr(row, name)) if name else (lambda row: None)


# The fields ``--in CUR`` adds to JSONL and CSV rows (and ``--columns`` may name).
VALUE_COLUMNS = ("value_in", "value")

_IDS = frozenset({"profile", "account_id", "asset", "currency", "broker", "name"})

ACCOUNTS = Spec(
    "accounts", "account", "balancecli.accounts/1", "accounts", Account,
    columns=(Col("profile", "Profile", 4), Col("broker", "Broker", 3), Col("account_id", "Account"),
             Col("name", "Name", 5, shrink=True), Col("type", "Type", 2),
             Col("currency", "Ccy"), Col("status", "Status", 1)),
    always=_IDS,
)

BALANCE = Spec(
    "balance", "balance", "balancecli.balance/1", "balances", Balance,
    columns=(Col("profile", "Profile", 10), Col("account_id", "Account"),
             Col("account_name", "Name", 8, shrink=True), Col("currency", "Ccy"),
             Col("cash", "Cash", numeric=True), Col("available", "Available", 6, True),
             Col("withdrawable", "Withdrawable", 4, True),
             Col("buying_power", "Buying power", 9, True), Col("equity", "Equity", numeric=True),
             Col("market_value", "Market value", 5, True),
             Col("initial_margin", "Init. margin", 2, True),
             Col("maintenance_margin", "Maint. margin", 3, True),
             Col("unrealized_pnl", "Unrealized P/L", 7, True),
             Col("realized_pnl", "Realized P/L", 1, True)),
    more=(Col("broker", "Broker"), Col("account_type", "Type"), Col("as_of", "As of")),
    always=_IDS, amount_in="currency",
    totals=Totals("currency", ("cash", "equity", "buying_power")),
    shares=Shares("currency", "Ccy", ("equity", "cash", "available")),
    currency_field="currency", converts=True, value_after="equity", metrics="balances",
    groups=("broker", "profile", "currency", "account"), asserts_assets=True,
)

ASSETS = Spec(
    "assets", "asset", "balancecli.assets/1", "assets", Asset,
    columns=(Col("profile", "Profile", 8), Col("account_id", "Account"), Col("asset", "Asset"),
             Col("total", "Total", numeric=True), Col("available", "Available", 9, True),
             Col("reserved", "Reserved", 5, True), Col("settling", "Settling", 3, True),
             Col("withdrawable", "Withdrawable", 4, True),
             # The broker's own valuations: never named like --in's "Value (USD)" column.
             Col("value_in_account_currency", "Acct ccy (broker)", 6, True),
             Col("value_usd", "USD (broker)", 7, True), Col("value_btc", "BTC (broker)", 2, True),
             Col("conversion_rate", "Rate", 1, True)),
    more=(Col("broker", "Broker"),),
    always=_IDS, amount_in="asset",
    amount_in_fixed={"value_usd": "USD", "value_btc": "BTC", "conversion_rate": None,
                     "value_in_account_currency": None},
    shares=Shares("asset", "Asset", ("total", "available")),
    currency_field="asset", converts=True, holdings=True, metrics="assets",
    groups=("asset", "broker", "profile", "account"),
)

DATA = {spec.name: spec for spec in (ACCOUNTS, BALANCE, ASSETS)}

# history --at: the balances as stored, each row with the time and id of its snapshot.
AT = replace(BALANCE, schema="balancecli.history.at/1")
