"""Plain-text accounting and monitoring exports: beancount, ledger, OpenMetrics; and the one
rule for text cells that a spreadsheet would run as a formula (CSV).

Pure functions of the rows, like ``render``; nothing here imports beancount, hledger or
prometheus_client (those only check our text in the tests).

What a balance assertion states: what each account holds, one assertion per account and
currency (or asset): the ``total`` of each asset row (TradeStation's ``CurrencyDetails``,
LongPort's ``cash_infos``, Quantower's coins, ETNA's cash), never a balance row's figure,
which can be a converted total (a TradeStation futures account's all-currency cash) or a
currency view (each LongPort view is the whole account valued in one currency). ``balance``
and ``assets`` therefore assert the same set: ``balance`` passes the asset rows it fetched
alongside its balance rows (one set of responses, ``Broker.snapshot``). A holding without a
total, or whose code no journal can spell, gets a ``;`` comment: a missing value is never
written as 0.

Amounts are normalized: no trailing zeros (beancount infers an assertion's tolerance from its
digits: ``2.30000000`` would leave 5e-9), at most the digits the broker's numbers carry
(``Broker.significant_digits``: Quantower's C# doubles, 15, so ``2.3000000000000003`` is
``2.3``) and at most 28 significant digits (beancount's decimal context: a longer amount fails
after summation), rounded half even. JSON keeps every digit the broker sent.

Dates, from the fetch time (UTC): a beancount ``balance`` holds at the *start* of its date, so
it is dated the day after the fetch; hledger and ledger check an assertion after that date's
earlier postings, so theirs is dated the fetch day (dated the day after, a deposit booked that
day would fail the check).

Account names: the profile setting ``ledger_account``, a template or a table of templates by
account id (``{broker}``, ``{account}``, ``{profile}`` are filled in, made valid), else
``Assets:<Broker>:<AccountId>`` (``<Broker>``: the broker class's ``title``), checked against
beancount's rules (``core.ledgernames``). Two (profile, account) pairs never share a name: when
they would (``acct.lower:1`` and ``acct_lower-1`` both make ``Acct-lower-1``), each gets a
short suffix from its profile and id, stable from run to run, and a comment line says so.

Nothing from a broker reaches a line unescaped: names and commodities are validated or
quoted, comments escape every control character (``ledgernames.comment_text``), OpenMetrics
label values are escaped, and a CSV cell that a spreadsheet would run is written as text.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Context, Decimal
from typing import Any

from balancecli.brokers import known, title
from balancecli.core.ledgernames import (
    check_ledger_account,
    comment_text,
    commodity,
    component,
    ledger_commodity,
)
from balancecli.core.models import Asset, Balance

MAX_SIGNIFICANT = 28  # beancount computes in the decimal module's default context (prec 28)


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


def fetch_day(generated_at: str) -> date:
    """The UTC date of the fetch time (``2026-11-23T11:04:12Z`` -> 2026-11-23)."""
    return datetime.fromisoformat(generated_at.replace("Z", "+00:00")).date()


def plain(value: Decimal | int) -> str:
    """Every digit, never an exponent (``1E+3`` -> ``1000``): OpenMetrics keeps them all."""
    return format(Decimal(value), "f")


def amount_text(value: Decimal, digits: int | None = None) -> str:
    """An amount for a journal: at most ``digits`` (and at most 28) significant digits,
    rounded half even, no trailing zeros, no exponent, no negative zero
    (``4995774.48040`` -> ``4995774.4804``, ``2.3000000000000003`` at 15 -> ``2.3``)."""
    context = Context(prec=min(digits or MAX_SIGNIFICANT, MAX_SIGNIFICANT),
                      rounding=ROUND_HALF_EVEN)
    rounded = context.plus(Decimal(value))
    if rounded.is_zero():
        return "0"
    return format(rounded.normalize(context), "f")


Row = Balance | Asset
Pair = tuple[str, str]  # (profile, account id)


@dataclass(frozen=True)
class Assertion:
    account: str
    commodity: str
    amount: str


def _suffix(profile: str, account_id: str, size: int) -> str:
    key = f"{profile}\0{account_id}".encode("utf-8", "surrogatepass")
    return hashlib.blake2b(key, digest_size=size).hexdigest()


def unique_names(pairs: Iterable[tuple[str, str, str]],
                 names: Callable[[str, str, str], str]) -> tuple[dict[Pair, str], list[str]]:
    """An account name per (profile, account id) of ``pairs`` (profile, broker, account id),
    never one name for two pairs: those that would share one each get a suffix from their
    profile and id (6 hex digits; longer in the unlikely case that is not enough), with one
    comment per shared name."""
    wanted: dict[Pair, str] = {}
    for profile, broker, account_id in pairs:
        wanted.setdefault((profile, account_id), names(profile, broker, account_id))
    groups: dict[str, list[Pair]] = {}
    for pair, name in wanted.items():
        groups.setdefault(name, []).append(pair)
    taken = {name for name, group in groups.items() if len(group) == 1}
    notes: list[str] = []
    for name, group in groups.items():
        if len(group) == 1:
            continue
        for size in (3, 6, 16):
            made = {pair: f"{name}-{_suffix(*pair, size)}" for pair in group}
            if len(set(made.values())) == len(group) and not taken & set(made.values()):
                break
        wanted.update(made)
        taken |= set(made.values())
        whose = ", ".join(f"{p} {a} as {made[(p, a)]}" for p, a in group)
        notes.append(comment_text(f"{name} would name {len(group)} accounts; each has a "
                                  f"suffix from its profile and id: {whose}"))
    return wanted, notes


def _digits(broker: str) -> int | None:
    cls = known(broker)
    return None if cls is None else cls.significant_digits


BEAN_SPELLING = ("beancount cannot spell this code (its commodities are capitals, digits and "
                 "'._-, a capital first, at most 24)")
LEDGER_SPELLING = "no quoting holds this code (a double quote, a ';' or a control character)"


def _plan(rows: Sequence[Row], names: Callable[[str, str, str], str],
          spell: Callable[[str | None], str | None], unspellable: str
          ) -> tuple[list[Assertion], list[str]]:
    """The assertions of the asset rows among ``rows`` and the comments: shared names,
    holdings that cannot be asserted, accounts with no holding in the rows."""
    names_of, notes = unique_names(((r.profile, r.broker, r.account_id) for r in rows), names)
    held = {(r.profile, r.account_id) for r in rows if isinstance(r, Asset)}
    out: list[Assertion] = []
    seen: set[tuple[str, str]] = set()
    for row in rows:
        if isinstance(row, Balance):
            if (row.profile, row.account_id) not in held:
                held.add((row.profile, row.account_id))
                notes.append(comment_text(f"{row.profile} {row.account_id}: no holding per "
                                          "currency in this run; no assertion"))
            continue
        where = comment_text(f"{row.profile} {row.account_id} {row.asset}")
        account = names_of[(row.profile, row.account_id)]
        symbol = spell(row.asset)
        if row.total is None:
            notes.append(f"{where}: the broker sent no total; no assertion")
        elif symbol is None:
            notes.append(f"{where}: {unspellable}; no assertion")
        elif (account, symbol) in seen:
            notes.append(f"{where}: {account} {symbol} is already asserted; this total "
                         f"({amount_text(row.total, _digits(row.broker))}) is not")
        else:
            seen.add((account, symbol))
            out.append(Assertion(account, symbol, amount_text(row.total, _digits(row.broker))))
    return out, notes


def _header(command: str, generated_at: str) -> str:
    return (f"; balancecli {command} at {generated_at}: what each account holds, per "
            "account and currency (the total of each asset row)")


def beancount(command: str, rows: Sequence[Row], names: Callable[[str, str, str], str],
              generated_at: str) -> str:
    """One ``balance`` directive per account and currency held (beancount 2 and 3), dated
    the day after the fetch. ``rows``: the asset rows, with the balance rows for ``balance``
    (an account with a balance row and no asset row gets a comment)."""
    found, notes = _plan(rows, names, commodity, BEAN_SPELLING)
    when = (fetch_day(generated_at) + timedelta(days=1)).isoformat()
    lines = [_header(command, generated_at), *(f"; {note}" for note in notes)]
    lines += [f"{when} balance {a.account}  {a.amount} {a.commodity}" for a in found]
    return "\n".join(lines) + "\n"


def ledger(command: str, rows: Sequence[Row], names: Callable[[str, str, str], str],
           generated_at: str) -> str:
    """Balance assertions for hledger and ledger, dated the fetch day: one transaction whose
    postings move nothing (``0 USD``) and assert the balance (``= 98765.43 USD``); codes as
    the broker sent them, quoted where needed (``"HK$"``)."""
    found, notes = _plan(rows, names, ledger_commodity, LEDGER_SPELLING)
    lines = [_header(command, generated_at), *(f"; {note}" for note in notes)]
    if found:
        lines += ["", f"{fetch_day(generated_at).isoformat()} * balancecli {command}"]
        lines += [f"    {a.account}  0 {a.commodity} = {a.amount} {a.commodity}"
                  for a in found]
    return "\n".join(lines) + "\n"


# -- CSV

_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(text: str) -> str:
    """A CSV text cell that no spreadsheet runs as a formula: one starting with ``=``, ``+``,
    ``-``, ``@``, a tab or a carriage return gets a leading ``'`` (OWASP's CSV injection
    rule), unless it is a plain number (``-4210.07`` stays a number)."""
    if text.startswith(FORMULA_STARTS) and not _NUMBER.fullmatch(text):
        return "'" + text
    return text


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
# What a label value cannot hold raw: the OpenMetrics escapes (backslash, double quote, line
# feed), and what no line should carry (other control characters, lone surrogates, which
# cannot be encoded): those become U+FFFD.
_LABEL_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n"}
_LABEL_UNSAFE = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")


def metric_name(kind: str, field: str) -> str:
    """``balancecli_<field>`` for balances, ``balancecli_asset_<field>`` for assets; the
    asset ``total`` is ``balancecli_asset_balance`` (``_total`` is the counter suffix)."""
    if kind == "balance":
        return f"balancecli_{field}"
    return "balancecli_asset_balance" if field == "total" else f"balancecli_asset_{field}"


def label_value(text: str | None) -> str:
    """OpenMetrics label escaping (backslash, double quote, line feed); other control
    characters and lone surrogates are replaced by U+FFFD."""
    escaped = "".join(_LABEL_ESCAPES.get(c, c) for c in text or "")
    return _LABEL_UNSAFE.sub("\ufffd", escaped)


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
