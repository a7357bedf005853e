"""Plain-text accounting and monitoring exports: beancount, ledger, OpenMetrics.

Pure functions of the rows, like ``render``; nothing here imports beancount, hledger or
prometheus_client (those only check our text in the tests).

Which amount a balance assertion states: a ``balance`` row asserts its ``cash`` in the row's
``currency`` (the money the account holds in that currency; LongPort's ``total_cash`` of each
currency view); an ``assets`` row asserts its ``total`` in the row's ``asset`` (the per-currency
holdings, the better source for multi-currency accounts). A row without that amount or without
a currency gets a ``;`` comment instead of an assertion: a missing value is never written as 0.
Numbers are written with every digit the broker sent; nothing is rounded.

Dates: an assertion is dated the day after the row's ``as_of`` (UTC), because a beancount
``balance`` directive holds at the *start* of its date, so it must include the whole fetch day.
ledger/hledger use the same date so that both journals agree.

Account names: the profile setting ``ledger_account``, a template or a table of templates by
account id (``{broker}``, ``{account}``, ``{profile}`` are filled in, made valid), else
``Assets:<Broker>:<AccountId>`` (``<Broker>``: the broker class's ``title``). Names are
checked against beancount's rules, which are stricter than ledger's, so one setting serves
both.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from balancecli.brokers import title
from balancecli.core.ledgernames import (
    check_ledger_account,
    commodity,
    component,
)
from balancecli.core.models import Asset, Balance


class AccountNames:
    """Ledger account names per (profile, broker, account id), from ``ledger_account``."""

    def __init__(self, settings: Mapping[str, Any] | None = None) -> None:
        # profile -> the ledger_account setting (None, a template, or {account id: template})
        self.settings = dict(settings or {})

    check = staticmethod(check_ledger_account)

    def __call__(self, profile: str, broker: str, account_id: str) -> str:
        setting = self.settings.get(profile)
        if isinstance(setting, dict):
            setting = setting.get(account_id)
        values = {"broker": component(title(broker)),
                  "account": component(account_id), "profile": component(profile)}
        template = setting if isinstance(setting, str) else "Assets:{broker}:{account}"
        return template.format(**values)


def assertion_date(as_of: str | None, generated_at: str) -> date:
    """The day after the row's time (UTC); the fetch time when the row has none."""
    for text in (as_of, generated_at):
        if text:
            try:
                return (datetime.fromisoformat(text.replace("Z", "+00:00")).date()
                        + timedelta(days=1))
            except ValueError:
                continue
    raise ValueError(f"no usable time in {as_of!r} / {generated_at!r}")


def plain(value: Decimal | int) -> str:
    """Every digit, never an exponent (``1E+3`` -> ``1000``): accounting tools reject them."""
    return format(Decimal(value), "f")


Row = Balance | Asset


def _assertions(rows: Iterable[Row], names: Callable[[str, str, str], str], generated_at: str
                ) -> tuple[list[tuple[date, str, str, Decimal, str]], list[str]]:
    """(date, account, commodity, amount, source row) per assertable row, and comments for
    the rows that cannot be asserted."""
    out: list[tuple[date, str, str, Decimal, str]] = []
    skipped: list[str] = []
    seen: set[tuple[date, str, str]] = set()
    for row in rows:
        if isinstance(row, Balance):
            field, code, amount = "cash", row.currency, row.cash
        else:
            field, code, amount = "total", row.asset, row.total
        where = f"{row.profile} {row.account_id} {code or '(no currency)'}"
        name = names(row.profile, row.broker, row.account_id)
        symbol = commodity(code)
        when = assertion_date(getattr(row, "as_of", None), generated_at)
        if amount is None:
            skipped.append(f"{where}: the broker sent no {field}; no assertion")
        elif symbol is None:
            skipped.append(f"{where}: no valid commodity name for {code!r}; no assertion")
        elif (when, name, symbol) in seen:
            skipped.append(f"{where}: {name} {symbol} is already asserted for {when}; "
                           f"this {field} ({plain(amount)}) is not")
        else:
            seen.add((when, name, symbol))
            out.append((when, name, symbol, amount, where))
    return out, skipped


def _field(command: str) -> str:
    return "cash per account and currency" if command == "balance" else \
        "total per account and asset"


def beancount(command: str, rows: Sequence[Row], names: Callable[[str, str, str], str],
              generated_at: str) -> str:
    """One ``balance`` directive per account and currency (beancount 2 and 3)."""
    found, skipped = _assertions(rows, names, generated_at)
    lines = [f"; balancecli {command} at {generated_at}: {_field(command)}"]
    lines += [f"; {text}" for text in skipped]
    lines += [f"{when.isoformat()} balance {account}  {plain(amount)} {symbol}"
              for when, account, symbol, amount, _ in found]
    return "\n".join(lines) + "\n"


def _ledger_commodity(symbol: str) -> str:
    # hledger/ledger: a symbol with anything but letters must be double-quoted.
    return symbol if symbol.isalpha() else f'"{symbol}"'


def ledger(command: str, rows: Sequence[Row], names: Callable[[str, str, str], str],
           generated_at: str) -> str:
    """Balance assertions for hledger and ledger: one transaction per date whose postings move
    nothing (``0 USD``) and assert the balance (``= 98765.43 USD``)."""
    found, skipped = _assertions(rows, names, generated_at)
    lines = [f"; balancecli {command} at {generated_at}: {_field(command)}"]
    lines += [f"; {text}" for text in skipped]
    by_date: dict[date, list[tuple[str, str, Decimal]]] = {}
    for when, account, symbol, amount, _ in found:
        by_date.setdefault(when, []).append((account, symbol, amount))
    for when in sorted(by_date):
        lines.append("")
        lines.append(f"{when.isoformat()} * balancecli {command}")
        for account, symbol, amount in by_date[when]:
            cur = _ledger_commodity(symbol)
            lines.append(f"    {account}  0 {cur} = {plain(amount)} {cur}")
    return "\n".join(lines) + "\n"


# -- OpenMetrics

BALANCE_HELP = {
    "cash": "Cash balance", "available": "Available funds", "withdrawable": "Withdrawable funds",
    "buying_power": "Buying power", "equity": "Equity (net liquidation value)",
    "market_value": "Market value of positions", "initial_margin": "Initial margin",
    "maintenance_margin": "Maintenance margin", "unrealized_pnl": "Unrealized profit/loss",
    "realized_pnl": "Realized profit/loss",
}
ASSET_HELP = {
    "total": "Total holding", "available": "Available", "reserved": "Reserved",
    "settling": "Settling", "withdrawable": "Withdrawable",
    "value_in_account_currency": "Value in the account currency", "value_usd": "Value in USD",
    "value_btc": "Value in BTC", "conversion_rate": "Rate to the account currency",
}


def metric_name(kind: str, field: str) -> str:
    """``balancecli_<field>`` for balances, ``balancecli_asset_<field>`` for assets; the
    asset ``total`` is ``balancecli_asset_balance`` (``_total`` is the counter suffix)."""
    if kind == "balance":
        return f"balancecli_{field}"
    return "balancecli_asset_balance" if field == "total" else f"balancecli_asset_{field}"


def label_value(text: str | None) -> str:
    """OpenMetrics label escaping: backslash, double quote and line feed."""
    return (text or "").replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def openmetrics(balances: Sequence[Balance], assets: Sequence[Asset], *,
                up: Mapping[str, bool], seconds: float) -> str:
    """OpenMetrics text: one gauge family per amount field with a sample per non-null value,
    ``balancecli_up{profile}`` (1: every request of the profile succeeded), the run's wall
    time, ``# EOF``. Also valid Prometheus text format (node_exporter's textfile collector)."""
    lines: list[str] = []
    families: list[tuple[str, str, str, Sequence[Row], str]] = [
        ("balance", f, h, balances, "currency") for f, h in BALANCE_HELP.items()]
    families += [("asset", f, h, assets, "asset") for f, h in ASSET_HELP.items()]
    for kind, field, help_text, rows, key in families:
        name = metric_name(kind, field)
        samples: dict[tuple[str, ...], str] = {}
        for row in rows:
            value = getattr(row, field)
            if value is None:
                continue
            labels = (row.profile, row.broker, row.account_id, getattr(row, key))
            samples.setdefault(labels, plain(value))  # a repeated label set: the first wins
        if not samples:
            continue
        unit = f" (in the {key} label)" if kind == "balance" or field in (
            "total", "available", "reserved", "settling", "withdrawable") else ""
        lines.append(f"# TYPE {name} gauge")
        lines.append(f"# HELP {name} {_help(help_text + unit)}, as the broker reported it.")
        for (profile, broker, account, code), text in samples.items():
            lines.append(
                f'{name}{{profile="{label_value(profile)}",broker="{label_value(broker)}",'
                f'account="{label_value(account)}",{key}="{label_value(code)}"}} {text}')
    lines.append("# TYPE balancecli_up gauge")
    lines.append("# HELP balancecli_up 1 if every request of the profile succeeded, else 0.")
    lines += [f'balancecli_up{{profile="{label_value(p)}"}} {int(ok)}' for p, ok in up.items()]
    lines.append("# TYPE balancecli_scrape_seconds gauge")
    lines.append("# HELP balancecli_scrape_seconds Wall time of the fetch in seconds.")
    lines.append(f"balancecli_scrape_seconds {seconds:.3f}")
    lines.append("# EOF")
    return "\n".join(lines) + "\n"


def profiles_up(names: Iterable[str], errors: Iterable[Any]) -> dict[str, bool]:
    """profile -> no error; profiles that only appear in errors (unknown, invalid) are down."""
    failed = {e.profile for e in errors if getattr(e, "profile", None)}
    result = {name: name not in failed for name in names}
    for name in sorted(failed - set(result)):
        result[name] = False
    return result
