"""``--in CUR`` as it is shown: every row valued in one currency.

- Tables gain a ``Value (CUR)`` column (after Equity for balances, last for assets; where
  ``--columns`` puts ``value``), whose total row is the one grand total, labelled ``Net worth
  in CUR (N accounts)`` (``incomplete`` when an account was left out or a profile failed),
  and a footer line with each rate used, its source and date.
- JSON gains the ``converted`` block (the total and how each account got there) after the rows.
- JSONL and CSV rows gain ``value_in`` (the currency) and ``value``: for a balance the value of
  the account on the currency view that was counted (other views empty), for an asset its
  ``total`` in that currency (or its broker USD value).
- Accounts left out of the total are named on stderr in one line, also under ``-q`` (the run
  then exits 7: partial); an ECB file older than ``[ecb] max_age_days`` is one warning line.
- ``--by GROUP``: a table of one row per group (its value, its share, a bar) instead of the
  rows, what was not valued listed apart; JSON gains ``by`` and ``groups`` in ``converted``.
  Shares are apportioned by the largest remainder method: exact Decimals that sum to exactly
  1 (12 decimals in JSON) and to 100.0 % as shown (one decimal).
- ``--watch --in``: each refresh's table gains the change of the net worth since the watch
  began (``WorthSince``).
- ``history --in``: net worth per stored run (``RunsPrinter``), as a table, streamed, or as a
  chart's line.

Each profile's rows teach the rates their broker reported as they arrive, and are valued with
the rates known so far: JSONL and CSV rows with a value are written at once; a row without one
waits for the end of the run, because a rate one broker reports for a currency values every
account in that currency (``money.rates``). ``-f json`` streams its rows (the values are in the
``converted`` block after them); tables value every row once every profile is in.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from balancecli.money.rates import Rate, Rates
    from balancecli.money.valuation import Converted
    from balancecli.output.console import Console
    from balancecli.output.table import Cell, Table


def money(value: Decimal, currency: str) -> str:
    """An amount at the currency's display precision (rounded half up)."""
    from balancecli.core.precision import display

    return display(value, currency)


def rate_text(value: Decimal) -> str:
    """A rate to 6 significant digits (the exact one is in ``-f json``)."""
    if value == 0:
        return "0"
    rounded = value.quantize(Decimal(1).scaleb(value.adjusted() - 5), ROUND_HALF_UP)
    return format(rounded.normalize(), "f")


def rate_line(rate: Rate) -> str:
    label = rate.how
    if rate.day:
        label += f" {rate.day.isoformat()}"
    if rate.stale:
        label += ", old"
    if rate.base == rate.quote:  # the broker's own values in that currency (Quantower)
        return f"{rate.quote} values ({label})"
    return f"{rate.base}→{rate.quote} {rate_text(rate.value)} ({label})"


def net_worth_label(converted: Converted) -> str:
    """``Net worth in USD (4 accounts)``; ``Net worth in USD, incomplete (3 of 4 accounts)``."""
    valued = len(converted.accounts)
    label = f"Net worth in {converted.currency}"
    if converted.unconverted:
        return f"{label}, incomplete ({valued} of {valued + len(converted.unconverted)} accounts)"
    counted = f"{valued} account{'s' if valued != 1 else ''}"
    if converted.failed:
        return f"{label}, incomplete ({counted}; some failed to fetch)"
    return f"{label} ({counted})"


def footer(converted: Converted, used: Sequence[Rate]) -> list[str]:
    """``Net worth in USD (4 accounts): 210,116.45`` and ``Rates: ...`` (no Value column)."""
    total = converted.total
    text = money(total, converted.currency) if total is not None else "—"
    lines = [f"{net_worth_label(converted)}: {text}"]
    if used:
        lines.append("Rates: " + "; ".join(rate_line(r) for r in used))
    return lines


def unique(rates: Sequence[Rate]) -> list[Rate]:
    seen: dict[tuple[Any, ...], Rate] = {}
    for r in rates:
        seen.setdefault((r.base, r.quote, r.source, r.day, r.how), r)
    return list(seen.values())


class Valuing:
    """``--in CUR`` over one run: each profile's rows valued as they arrive (``cells``), the
    ``converted`` block of the whole run at the end (``converted``).

    ``holdings``: each row is an asset valued on its own (``assets``); else each account is
    valued once, on the balance view ``money.valuation`` chooses (``balance``). ``by``: the
    values are also shown grouped (``--by``, ``groups``)."""

    def __init__(self, target: str, rates: Rates, *, holdings: bool,
                 by: str | None = None, demo: bool = False) -> None:
        self.target = target
        self.demo = demo  # the bundled ECB file: an old one is said, with no update to run
        self.rates = rates
        self.holdings = holdings
        self.by = by
        self.balances: list[Any] = []
        self.assets: list[Any] = []
        self.asset_rates: list[Rate] = []
        self.shown_assets: list[Any] = []  # holdings: each row shown, for --by
        self._converted: tuple[tuple[bool, int, int], Converted] | None = None

    def cells(self, shown: Sequence[Any], balances: Sequence[Any],
              assets: Sequence[Any]) -> list[Decimal | None]:
        """One profile's rows: their rates learnt, the value of each row of ``shown`` with
        the rates known so far (``values`` once every profile is in)."""
        from balancecli.money.valuation import broker_quotes

        self.balances += balances
        self.assets += assets
        self.rates.broker.update(broker_quotes(balances, assets))
        if self.holdings:
            self.shown_assets += shown
        return self.values(shown)

    def values(self, shown: Sequence[Any]) -> list[Decimal | None]:
        """The value of each row of ``shown``, with every rate learnt so far."""
        from balancecli.money.valuation import value_asset

        if self.holdings:
            found = [value_asset(r, self.rates, self.target) for r in shown]
            self.asset_rates += [v[1] for v in found if v and v[1].source != "identity"]
            return [v[0] if v else None for v in found]
        converted = self.converted(failed=False)
        return [converted.value_of(r) for r in shown]

    def converted(self, *, failed: bool) -> Converted:
        """The ``converted`` block of every row so far (worked out once per set of rows)."""
        from balancecli.money.valuation import value_accounts

        key = (failed, len(self.balances), len(self.assets))
        if self._converted is None or self._converted[0] != key:
            self._converted = key, value_accounts(self.balances, self.assets, self.rates,
                                                  self.target, failed=failed)
        return self._converted[1]

    def used(self, converted: Converted) -> list[Rate]:
        """Each rate used once: the accounts' and (assets) each row's."""
        return unique(converted.rates_used() + self.asset_rates)

    def as_dict(self, converted: Converted) -> dict[str, Any]:
        """The ``converted`` block, with its ``groups`` under ``--by``."""
        block = converted.as_dict()
        if self.by:
            found = self.groups(converted)
            block["by"] = self.by
            block["groups"] = [{"key": g.key, "value": g.value, "share": g.share}
                               for g in found.groups]
        return block

    def groups(self, converted: Converted) -> Grouped:
        """The values summed per ``by`` key (``grouped``)."""
        assert self.by is not None
        if self.holdings:  # valued again: with every profile's rates, as the rows shown last
            valued = list(zip(self.shown_assets, self.values(self.shown_assets), strict=True))
            return grouped([(_asset_key(row, self.by), value)
                            for row, value in valued if value is not None],
                           [(row.profile, row.account_id, row.asset, _no_value(row))
                            for row, value in valued if value is None])
        brokers = {(r.profile, r.account_id): r.broker for r in (*self.balances, *self.assets)}
        return grouped([(_account_key(a, self.by, brokers), a.value)
                        for a in converted.accounts],
                       [(u.profile, u.account_id, u.currency, u.reason)
                        for u in converted.unconverted])

    def group_tables(self, converted: Converted, *, masked: bool) -> list[Table]:
        """``--by``: one row per group (its value, its share, a bar), the footer, and the
        accounts (assets) left out, apart; ``masked``: only the shares and bars."""
        found = self.groups(converted)
        table = groups_table(found, self.by or "", self.target, masked=masked)
        if masked:
            table.footer.append(f"Shares of the total in {self.target} of "
                                f"{len(converted.accounts)} account(s)")
            used = self.used(converted)
            if used:
                table.footer.append("Rates: " + "; ".join(rate_line(r) for r in used))
        else:
            table.footer.extend(footer(converted, self.used(converted)) if not self.holdings
                                else holdings_footer(found, self.target, self.used(converted)))
        return [table, *([apart_table(found, holdings=self.holdings)] if found.apart else [])]

    def tails(self, cells: Sequence[Decimal | None]) -> list[list[tuple[str, Any]]]:
        """The fields JSONL and CSV rows gain."""
        return [[("value_in", self.target), ("value", v)] for v in cells]

    def add_to(self, table: Table, cells: Sequence[Decimal | None], *, after: str | None,
               converted: Converted, columns: Sequence[str] | None = None) -> None:
        """The ``Value (CUR)`` column after ``after`` (or last; or where ``columns`` names
        ``value`` and ``value_in``), the net worth total row and the rates' footer line."""
        from balancecli.output.table import Column

        value = Column("value", f"Value ({self.target})", numeric=True)
        texts = [None if v is None else money(v, self.target) for v in cells]
        if columns is None:
            keys = [c.key for c in table.columns]
            table.add_column(value, texts, index=keys.index(after) + 1 if after in keys else None)
        else:
            for i, name in enumerate(columns):
                if name == "value":
                    table.add_column(value, texts, index=i)
                elif name == "value_in":
                    table.add_column(Column("value_in", "Value in"), [self.target] * len(texts),
                                     index=i)
        self._net_worth(table, converted)
        used = self.used(converted)
        if used:
            table.footer.append("Rates: " + "; ".join(rate_line(r) for r in used))

    def _net_worth(self, table: Table, converted: Converted) -> None:
        """The grand total: a total row under the Value column, labelled; a footer line when
        no column can carry its label (no Value column, or it comes first)."""
        total = converted.total
        text = None if total is None else money(total, converted.currency)
        keys = [c.key for c in table.columns]
        if "value" in keys[1:]:
            row: list[Cell] = ["" for _ in keys]
            row[0], row[keys.index("value")] = net_worth_label(converted), text
            table.totals.append(row)
        else:
            table.footer.insert(0, footer(converted, [])[0])

    def warnings(self, converted: Converted, console: Console) -> None:
        """One line for the accounts left out of the total (also under ``-q``: the run is
        partial), one warning for an old ECB file."""
        if converted.unconverted:
            names = ", ".join(f"{u.profile} {u.account_id} ({u.currency or 'no currency'}: "
                              f"{u.reason})" for u in converted.unconverted)
            pairs = sorted({u.currency for u in converted.unconverted
                            if u.reason == "no rate" and u.currency})
            hint = (f' — add e.g. "{pairs[0]}/{converted.currency}" = "..." under [rates] in '
                    "the config file" if pairs else "")
            console.err(f"error: not in the {converted.currency} net worth (incomplete): "
                        f"{names}{hint}")
        stale = sorted({r.day for r in self.used(converted) if r.stale and r.day})
        if stale:
            from balancecli.money.rates import today

            age = (today() - stale[0]).days
            fix = ("the demo uses the ECB file bundled with balancecli" if self.demo
                   else "run: balancecli rates update")
            console.warn(f"ECB rates from {stale[0]} used ({age} days old; {fix})")


# -- --watch --in CUR: the net worth of each refresh ----------------------------------------


class WorthSince:
    """``--watch --in CUR``: the change of the net worth since the watch began (the first
    refresh with a complete total), a line under each refresh's table (whose footer has the
    total); ``masked``: in percent only."""

    def __init__(self, target: str, *, masked: bool) -> None:
        self.target, self.masked = target, masked
        self.first: Decimal | None = None
        self.began = ""

    def line(self, converted: Converted) -> str:
        import time

        from balancecli.money.rates import EXACT
        from balancecli.output.series import percent

        total = None if converted.incomplete else converted.total
        if self.first is None and total is not None:
            self.first, self.began = total, time.strftime("%H:%M:%S")
        if self.first is None or total is None:
            return "Change since the watch began: — (the total is incomplete)"
        change = EXACT.subtract(total, self.first)
        pct = percent(change, self.first)
        pct_text = "—" if pct is None else _signed_pct(pct)
        what = pct_text if self.masked else \
            f"{_signed(change, self.target)} {self.target} ({pct_text})"
        return f"Change since the watch began ({self.began}): {what}"


# -- --by: where the money is -------------------------------------------------------------------

GROUP_TITLES = {"broker": "Broker", "profile": "Profile", "currency": "Ccy",
                "account": "Account", "asset": "Asset"}
SHARE_PLACES = 12  # JSON shares: fractions of 1 to 12 decimals, summing to exactly 1
BAR_WIDTH = 20
_EIGHTHS = " ▏▎▍▌▋▊▉"


@dataclass
class Group:
    key: str
    value: Decimal
    share: Decimal | None  # of the groups' total, SHARE_PLACES decimals (None: total 0)
    shown: Decimal | None  # the share in percent as shown, one decimal


@dataclass
class Grouped:
    groups: list[Group]
    total: Decimal
    apart: list[tuple[str, str, str | None, str]]  # (profile, account, currency, reason)


def _account_key(valued: Any, by: str, brokers: dict[tuple[str, str], str]) -> str:
    if by == "profile":
        return str(valued.profile)
    if by == "broker":
        return brokers.get((valued.profile, valued.account_id), "")
    if by == "currency":
        return str(valued.from_currency)
    return f"{valued.profile} {valued.account_id}"


def _asset_key(row: Any, by: str) -> str:
    if by == "broker":
        return str(row.broker)
    if by == "asset":
        return str(row.asset).upper()
    if by == "profile":
        return str(row.profile)
    return f"{row.profile} {row.account_id}"


def _no_value(row: Any) -> str:
    return "no rate" if row.total is not None or row.value_usd is not None else "no value"


def apportion(values: Sequence[Decimal], total: Decimal, quantum: Decimal) -> list[Decimal]:
    """Each ``value / total`` to a multiple of ``quantum``, summing to exactly 1: each is
    rounded down and the units left are given to the largest remainders (the largest
    remainder method; ties go to the earlier value). Exact Decimal arithmetic throughout."""
    from decimal import ROUND_FLOOR, Context

    ctx = Context(prec=max(60, total.adjusted() + 40), rounding=ROUND_FLOOR)
    exact = [ctx.divide(v, total) for v in values]
    floors = [e.quantize(quantum, rounding=ROUND_FLOOR, context=ctx) for e in exact]
    left = int(ctx.divide(ctx.subtract(Decimal(1), sum(floors, Decimal(0))), quantum))
    order = sorted(range(len(values)), key=lambda i: (-(exact[i] - floors[i]), i))
    for i in order[:max(0, left)]:
        floors[i] = ctx.add(floors[i], quantum)
    return floors


def grouped(pairs: Sequence[tuple[str, Decimal]],
            apart: Sequence[tuple[str, str, str | None, str]]) -> Grouped:
    """Exact sums per key, largest first, with their shares of the sum of all of them."""
    from balancecli.money.rates import EXACT

    sums: dict[str, Decimal] = {}
    for key, value in pairs:
        sums[key] = EXACT.add(sums.get(key, Decimal(0)), value)
    keys = sorted(sums, key=lambda k: (-sums[k], k))
    total = Decimal(0)
    for key in keys:
        total = EXACT.add(total, sums[key])
    values = [sums[k] for k in keys]
    if not total:
        return Grouped([Group(k, v, None, None) for k, v in zip(keys, values, strict=True)],
                       total, list(apart))
    shares = apportion(values, total, Decimal(1).scaleb(-SHARE_PLACES))
    shown = apportion(values, total, Decimal("0.001"))  # 0.1 %: 100.0 % in all
    return Grouped([Group(k, v, s, d * 100) for k, v, s, d in
                    zip(keys, values, shares, shown, strict=True)], total, list(apart))


def bar(share: Decimal | None, width: int = BAR_WIDTH) -> str:
    """A share of 1 as ``width`` full blocks, in eighths of a cell; nothing below zero."""
    if share is None or share <= 0:
        return ""
    eighths = int(min(share, Decimal(1)) * width * 8)
    return "█" * (eighths // 8) + (_EIGHTHS[eighths % 8].strip())


def groups_table(found: Grouped, by: str, target: str, *, masked: bool) -> Table:
    from balancecli.output.table import Column, Table

    columns = [Column("key", GROUP_TITLES.get(by, by.title()))]
    if not masked:
        columns.append(Column("value", f"Value ({target})", numeric=True))
    columns += [Column("share", "Share", numeric=True), Column("bar", "Bar", priority=1)]
    rows: list[list[Any]] = []
    for g in found.groups:
        share = None if g.shown is None else f"{g.shown:.1f}%"
        rows.append([g.key, *([] if masked else [money(g.value, target)]), share, bar(g.share)])
    return Table(columns, rows)


def holdings_footer(found: Grouped, target: str, used: Sequence[Rate]) -> list[str]:
    """``assets --by``: the total of the assets valued (not the accounts' net worth)."""
    lines = [f"Total of the assets valued in {target}: {money(found.total, target)}"
             + (f" ({len(found.apart)} not valued, listed below)" if found.apart else "")]
    if used:
        lines.append("Rates: " + "; ".join(rate_line(r) for r in used))
    return lines


def apart_table(found: Grouped, *, holdings: bool) -> Table:
    """What is not in the groups: each account (asset row) with why."""
    from balancecli.output.table import Column, Table

    columns = [Column("profile", "Profile"), Column("account_id", "Account"),
               Column("asset" if holdings else "currency", "Asset" if holdings else "Ccy"),
               Column("reason", "Not counted")]
    return Table(columns, [[p, a, c, why] for p, a, c, why in found.apart],
                 title="Not in the total")


# -- net worth over stored runs (history --in CUR) ---------------------------------------------

RUNS_SCHEMA = "balancecli.history.networth/1"
RUN_FIELDS = ("run_id", "taken_at", "currency", "total", "incomplete", "accounts",
              "unconverted", "change")


class RunsPrinter:
    """Each stored run's net worth, written as it is valued (json, jsonl, csv) or, for a
    table, once all are in: one line per run, then first / last / change and the trend
    (times local, ``utc``: UTC). ``masked`` (``--hide-amounts``): no amount, changes in
    percent only. ``fmt`` "chart" only collects the runs (``chart_series``)."""

    def __init__(self, console: Console, fmt: str, target: str,
                 head: Sequence[tuple[str, Any]], *, masked: bool = False,
                 utc: bool = False) -> None:
        self.console, self.fmt, self.target, self.masked = console, fmt, target, masked
        self.utc = utc
        self.stream: Any = None
        self.rows: list[dict[str, Any]] = []
        if fmt == "json":
            import sys

            from balancecli.core.clock import utc_now
            from balancecli.core.redact import REDACTOR
            from balancecli.output.jsonout import Stream

            self.stream = Stream(sys.stdout, "json", schema=RUNS_SCHEMA, key="runs",
                                 generated_at=utc_now, head=[("currency", target), *head],
                                 redact=REDACTOR.redact, indent=console.json_indent)

    def run(self, row: dict[str, Any], converted: Converted) -> None:
        from balancecli.output.render import csv_line

        if self.fmt == "csv" and not self.rows:
            self.console.out(csv_line(RUN_FIELDS))
        self.rows.append(row)
        if self.stream is not None:
            self.stream.values([{**row, "converted": converted.as_dict()}])
        elif self.fmt == "jsonl":
            from balancecli.core.exactjson import dumps_exact

            self.console.out(dumps_exact(row) + "\n")
        elif self.fmt == "csv":
            self.console.out(csv_line(row[k] for k in RUN_FIELDS))

    def close(self, summary: dict[str, Any]) -> None:
        from balancecli.output.render import csv_line

        if self.stream is not None:
            self.stream.close([], list(summary.items()))
        elif self.fmt == "csv" and not self.rows:
            self.console.out(csv_line(RUN_FIELDS))
        elif self.fmt == "table" and self.rows:
            self.console.print_tables(runs_table(self.rows, self.target, masked=self.masked,
                                                 utc=self.utc))
            self.console.out("\n".join(summary_lines(self.rows, summary, self.target,
                                                      masked=self.masked, utc=self.utc))
                             + "\n")

    def chart_series(self) -> list[Any]:
        """The net worth of the runs as one chart line (``output.chart``)."""
        from balancecli.output.chart import Series

        return [Series(f"Net worth ({self.target})", self.target,
                       [(r["taken_at"], r["total"]) for r in self.rows])]


def _time(stored: str, utc: bool) -> str:
    from balancecli.output.series import when

    return when(stored, utc=utc) or stored


def runs_table(rows: Sequence[dict[str, Any]], target: str, *, masked: bool,
               utc: bool = False) -> Table:
    """One line per run: its time, id, net worth (masked: none) and change, accounts."""
    from balancecli.output.table import Column, Table


    columns = [Column("time", "Time"), Column("run_id", "Run", numeric=True)]
    columns += [Column("change_pct", "Change %", numeric=True)] if masked else [
        Column("total", f"Net worth ({target})", numeric=True),
        Column("change", "Change", numeric=True)]
    columns.append(Column("accounts", "Accounts", numeric=True))
    body: list[list[Any]] = []
    before: Decimal | None = None
    for r in rows:
        amounts: list[Any] = [_percent(r["change"], before)] if masked else [
            ("—" if r["total"] is None else money(r["total"], target))
            + ("*" if r["incomplete"] else ""), _signed(r["change"], target)]
        body.append([_time(r["taken_at"], utc), str(r["run_id"]), *amounts, str(r["accounts"])])
        before = r["total"] if r["total"] is not None else before
    caption = "amounts hidden: the change of each run's net worth in percent" if masked else None
    return Table(columns, body, caption=caption)


def summary_lines(rows: Sequence[dict[str, Any]], summ: dict[str, Any], target: str, *,
                  masked: bool, utc: bool = False) -> list[str]:
    """``First … ; last … ; change …``, ``Trend ▁▃█`` and what ``*`` means."""

    first, last = summ["first"], summ["last"]
    lines = []
    if first and last:
        pct = summ["change_pct"]
        if masked:
            lines.append(f"First {_time(first['taken_at'], utc)}; last "
                         f"{_time(last['taken_at'], utc)}; change "
                         + (_signed_pct(pct) if pct is not None else "—"))
        else:
            lines.append(
                f"First {_time(first['taken_at'], utc)} {money(first['total'], target)}; "
                f"last {_time(last['taken_at'], utc)} {money(last['total'], target)}; change "
                f"{_signed(summ['change'], target)} {target}"
                + (f" ({_signed_pct(pct)})" if pct is not None else ""))
    lines.append(f"Trend {summ['sparkline']}")
    if any(r["incomplete"] for r in rows):
        lines.append("* incomplete: an account was not converted or a profile failed")
    return lines


def _percent(change: Decimal | None, before: Decimal | None) -> Any:
    from balancecli.output.series import percent_cell

    return percent_cell(change, before)


def _signed(value: Decimal | None, ccy: str) -> str:
    if value is None:
        return "—"
    return ("+" if value > 0 else "") + money(value, ccy)


def _signed_pct(value: Decimal) -> str:
    rounded = value.quantize(Decimal("0.01"), ROUND_HALF_UP)
    return ("+" if rounded > 0 else "") + f"{rounded}%"
