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

Each profile's rows teach the rates their broker reported as they arrive, and are valued with
the rates known so far: JSONL and CSV rows with a value are written at once; a row without one
waits for the end of the run, because a rate one broker reports for a currency values every
account in that currency (``money.rates``). ``-f json`` streams its rows (the values are in the
``converted`` block after them); tables value every row once every profile is in.
"""

from __future__ import annotations

from collections.abc import Sequence
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


def unique(rates: Sequence[Rate]) -> list[Rate]:
    seen: dict[tuple[Any, ...], Rate] = {}
    for r in rates:
        seen.setdefault((r.base, r.quote, r.source, r.day, r.how), r)
    return list(seen.values())


class Valuing:
    """``--in CUR`` over one run: each profile's rows valued as they arrive (``cells``), the
    ``converted`` block of the whole run at the end (``converted``).

    ``holdings``: each row is an asset valued on its own (``assets``); else each account is
    valued once, on the balance view ``money.valuation`` chooses (``balance``)."""

    def __init__(self, target: str, rates: Rates, *, holdings: bool) -> None:
        self.target = target
        self.rates = rates
        self.holdings = holdings
        self.balances: list[Any] = []
        self.assets: list[Any] = []
        self.asset_rates: list[Rate] = []
        self._converted: tuple[tuple[bool, int, int], Converted] | None = None

    def cells(self, shown: Sequence[Any], balances: Sequence[Any],
              assets: Sequence[Any]) -> list[Decimal | None]:
        """One profile's rows: their rates learnt, the value of each row of ``shown`` with
        the rates known so far (``values`` once every profile is in)."""
        from balancecli.money.valuation import broker_quotes

        self.balances += balances
        self.assets += assets
        self.rates.broker.update(broker_quotes(balances, assets))
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
            table.footer.insert(0, f"{net_worth_label(converted)}: {text or '—'}")

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
            console.warn(f"ECB rates from {stale[0]} used ({age} days old; run: balancecli "
                         "rates update)")


# -- net worth over stored runs (history --in CUR) ---------------------------------------------

RUNS_SCHEMA = "balancecli.history.networth/1"
RUN_FIELDS = ("run_id", "taken_at", "currency", "total", "incomplete", "accounts",
              "unconverted", "change")


class RunsPrinter:
    """Each stored run's net worth, written as it is valued (json, jsonl, csv) or, for a
    table, once all are in: one line per run, then first / last / change and the trend.
    ``masked`` (``--hide-amounts``): no amount, changes in percent only."""

    def __init__(self, console: Console, fmt: str, target: str,
                 head: Sequence[tuple[str, Any]], *, masked: bool = False) -> None:
        self.console, self.fmt, self.target, self.masked = console, fmt, target, masked
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
            self.console.print_tables(runs_table(self.rows, self.target, masked=self.masked))
            self.console.out("\n".join(summary_lines(self.rows, summary, self.target,
                                                      masked=self.masked)) + "\n")


def runs_table(rows: Sequence[dict[str, Any]], target: str, *, masked: bool) -> Table:
    """One line per run: its time, id, net worth (masked: none) and change, accounts."""
    from balancecli.history import short_time
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
        body.append([short_time(r["taken_at"]), str(r["run_id"]), *amounts, str(r["accounts"])])
        before = r["total"] if r["total"] is not None else before
    caption = "amounts hidden: the change of each run's net worth in percent" if masked else None
    return Table(columns, body, caption=caption)


def summary_lines(rows: Sequence[dict[str, Any]], summ: dict[str, Any], target: str, *,
                  masked: bool) -> list[str]:
    """``First … ; last … ; change …``, ``Trend ▁▃█`` and what ``*`` means."""
    from balancecli.history import short_time

    first, last = summ["first"], summ["last"]
    lines = []
    if first and last:
        pct = summ["change_pct"]
        if masked:
            lines.append(f"First {short_time(first['taken_at'])}; last "
                         f"{short_time(last['taken_at'])}; change "
                         + (_signed_pct(pct) if pct is not None else "—"))
        else:
            lines.append(
                f"First {short_time(first['taken_at'])} {money(first['total'], target)}; "
                f"last {short_time(last['taken_at'])} {money(last['total'], target)}; change "
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
