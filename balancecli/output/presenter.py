"""One presentation path for the rows of a command, whatever the output.

A command describes its rows once (``output.specs.Spec``: the JSON document, the table's
columns, the totals); the command line picks a ``View`` (the format, ``--hide-amounts``,
``--wide``, ``--exact``, ``--columns``, ``--currency``) and ``printer`` picks the printer of
that spec for it, as ``kubectl -o`` does:

- ``TablePrinter``: the table that fits the terminal (or the ``--hide-amounts`` shares
  table), drawn once all rows are in; ``--watch`` draws the same tables in place;
- ``StreamPrinter``: ``-f json`` (indented on a terminal, compact in a pipe) and ``-f jsonl``,
  each profile's rows written as soon as it is done;
- ``CsvPrinter``: ``-f csv``, streamed too;
- ``ExportPrinter``: beancount, ledger and OpenMetrics, written once the run is over.

``Presenter`` is what the fetch reports to (``service.fetch.Listener``): each profile's rows
go to the printer (valued on the way with ``--in``), warnings and ``-v`` lines to the
console, questions to the user with the spinner paused.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol

from balancecli.output.console import TABLE_HINT, Console
from balancecli.output.specs import Spec

if TYPE_CHECKING:
    from balancecli.core.errors import BalanceCliError
    from balancecli.output.networth import Valuing
    from balancecli.output.table import Table

EXPORTS = ("beancount", "ledger", "prometheus")


@dataclass
class View:
    """How the rows are shown, from the command line."""

    fmt: str = "table"
    hide_amounts: bool = False  # tables: shares instead of amounts
    wide: bool = False
    exact: bool = False
    columns: list[str] | None = None
    currency: str | None = None  # --currency: only the rows in it

    @property
    def masked(self) -> bool:
        return self.hide_amounts and self.fmt == "table"


@dataclass
class End:
    """What a printer may need once the fetch is over."""

    errors: Sequence[BalanceCliError] = ()
    profiles: Sequence[Any] = ()  # the profiles selected (exports: names and settings)
    seconds: float = 0.0  # the fetch's wall time (OpenMetrics)
    failed: bool = False  # some profile or account failed (--in: the total is incomplete)
    skipped: Sequence[Any] = ()  # accounts the brokers serve no balances for (JSON lists them)


Tails = Sequence[Sequence[tuple[str, Any]]]  # per row: JSON fields after the model's


class Printer(Protocol):
    def rows(self, rows: Sequence[Any], cells: Sequence[Decimal | None] | None,
             tails: Tails | None = None) -> None:
        """One profile's rows (and their ``--in`` values), in profile order; ``tails``: what
        JSON and JSONL rows carry after the model's fields (``history --at``)."""

    def close(self, end: End) -> None:
        """The run is over: write what is left."""

    def stale(self, ages: Mapping[AccountKey, float]) -> None:
        """Accounts whose data is older than their profile allows (``--allow-stale``), with
        its age in seconds: tables mark their rows."""


AccountKey = tuple[str, str]  # (profile, account_id)


class Batch(Protocol):  # service.fetch.Batch
    profile: Any
    rows: list[Any]
    assets: list[Any]
    errors: list[BalanceCliError]
    stale: dict[str, float]


class Unmarked:
    """Printers that show no per-row marks (JSON rows carry their ``as_of``)."""

    def stale(self, ages: Mapping[AccountKey, float]) -> None:
        pass


# -- printers ----------------------------------------------------------------------------------


class TablePrinter:
    """The rows as the table that fits the terminal, once they are all in."""

    def __init__(self, spec: Spec, view: View, console: Console,
                 valuing: Valuing | None = None) -> None:
        self.spec, self.view, self.console, self.valuing = spec, view, console, valuing
        self.shown: list[Any] = []
        self.ages: dict[AccountKey, float] = {}

    def stale(self, ages: Mapping[AccountKey, float]) -> None:
        self.ages.update(ages)

    def rows(self, rows: Sequence[Any], cells: Sequence[Decimal | None] | None,
             tails: Tails | None = None) -> None:
        self.shown += rows

    @property
    def hint(self) -> str:
        """How to see the columns hidden to fit."""
        return "--wide" if self.masked else TABLE_HINT

    @property
    def masked(self) -> bool:
        return self.view.masked and self.spec.shares is not None

    def tables(self, *, failed: bool = False) -> list[Table]:
        """The tables of the rows so far (none when there is nothing to show)."""
        from balancecli.output import render

        if self.valuing is not None and self.valuing.by:  # --by: the groups instead
            return self.valuing.group_tables(self.valuing.converted(failed=failed),
                                             masked=self.view.hide_amounts)
        tables = self._tables(failed=failed)
        if self.ages:
            for table in tables:
                render.mark_stale(table, self.shown, self.ages)
        return tables

    def _tables(self, *, failed: bool) -> list[Table]:
        from balancecli.output import render

        if self.masked:
            from balancecli.output import privacy

            return [privacy.table(self.spec, self.shown)] if self.shown else []
        if self.valuing is None:
            if not self.shown:
                return []
            return [render.table(self.spec, self.shown, exact=self.view.exact,
                                 columns=self.view.columns)]
        converted = self.valuing.converted(failed=failed)
        if not self.shown and not converted.accounts:
            return []
        from balancecli.output.specs import VALUE_COLUMNS

        columns = self.view.columns
        # Every row valued with every rate of the run (one profile's broker may quote the
        # currency of another's account), as the converted total is.
        values = self.valuing.values(self.shown)
        table = render.table(self.spec, self.shown, exact=self.view.exact, columns=None
                             if columns is None else [c for c in columns if c not in VALUE_COLUMNS],
                             covered=[v is not None for v in values], totals=False)
        self.valuing.add_to(table, values, after=self.spec.value_after, converted=converted,
                            columns=columns)
        return [table]

    def close(self, end: End) -> None:
        self.console.print_tables(*self.tables(failed=end.failed), wide=self.view.wide,
                                  show_with=self.hint)


class StreamPrinter(Unmarked):
    """``-f json`` or ``-f jsonl``, each profile's rows written as soon as they arrive."""

    def __init__(self, spec: Spec, view: View, console: Console,
                 valuing: Valuing | None = None, head: Sequence[tuple[str, Any]] = ()) -> None:
        from balancecli.core.clock import utc_now
        from balancecli.core.redact import REDACTOR
        from balancecli.output.jsonout import Stream

        self.spec, self.console, self.valuing = spec, console, valuing
        self.stream = Stream(sys.stdout, view.fmt, schema=spec.schema, key=spec.key,
                             generated_at=utc_now, head=head, redact=REDACTOR.redact,
                             indent=console.json_indent)
        self.shown: list[Any] = []
        # --in: jsonl rows carry their value (json has the values in its converted block,
        # after the rows); a row without one yet waits (``waiting``).
        self.valued = valuing is not None and view.fmt == "jsonl"
        self.held: list[Any] = []

    def rows(self, rows: Sequence[Any], cells: Sequence[Decimal | None] | None,
             tails: Tails | None = None) -> None:
        self.shown += rows
        if not self.valued or self.valuing is None:
            self.stream.rows(rows, tails)
            return
        ready, values = waiting(rows, cells, self.held)
        if ready:
            self.stream.rows(ready, self.valuing.tails(values))

    def close(self, end: End) -> None:
        from balancecli.output import render

        converted = None
        if self.valuing is not None:
            converted = self.valuing.as_dict(self.valuing.converted(failed=end.failed))
            if self.held:
                self.stream.rows(self.held, self.valuing.tails(self.valuing.values(self.held)))
        self.stream.close(end.errors, render.blocks(self.spec, self.shown, converted,
                                                    end.skipped))


def waiting(rows: Sequence[Any], cells: Sequence[Decimal | None] | None,
            held: list[Any]) -> tuple[list[Any], list[Decimal | None]]:
    """``--in`` in a stream: the rows valued with the rates known so far, to write now, and
    their values; the others join ``held``, valued once every profile is in (a rate one
    broker reports for a currency values another profile's accounts in it)."""
    values = list(cells or [None] * len(rows))
    ready = [(r, v) for r, v in zip(rows, values, strict=True) if v is not None]
    held += [r for r, v in zip(rows, values, strict=True) if v is None]
    return [r for r, _ in ready], [v for _, v in ready]


class CsvPrinter(Unmarked):
    """``-f csv``: the header with the first rows (or at the end), each profile's rows as soon
    as they arrive; ``--columns`` picks and orders them. The fields JSON rows carry after the
    model's (``tails``: ``history --at``'s snapshot time and run) end each row, unless
    ``--columns`` picked."""

    def __init__(self, spec: Spec, view: View, console: Console,
                 valuing: Valuing | None = None) -> None:
        from balancecli.output.specs import VALUE_COLUMNS

        self.console, self.valuing = console, valuing
        self.names = list(view.columns) if view.columns else spec.field_names()
        if valuing is not None and not view.columns:
            self.names += VALUE_COLUMNS
        self.picked = view.columns is not None
        self.started = False
        self.held: list[Any] = []  # --in: rows without a value yet (``waiting``)

    def _start(self) -> None:
        from balancecli.output.render import csv_line

        if not self.started:
            self.console.out(csv_line(self.names))
            self.started = True

    def rows(self, rows: Sequence[Any], cells: Sequence[Decimal | None] | None,
             tails: Tails | None = None) -> None:
        if self.valuing is None:
            if rows:
                if tails and not self.picked and not self.started:  # history --at's fields
                    self.names += [name for name, _ in tails[0] if name not in self.names]
                self._write(rows, [dict(t) for t in tails] if tails else [{} for _ in rows])
            return
        ready, values = waiting(rows, cells, self.held)
        if ready:
            self._write(ready, [dict(tail) for tail in self.valuing.tails(values)])

    def _write(self, rows: Sequence[Any], added: Sequence[dict[str, Any]]) -> None:
        from balancecli.output.render import csv_line

        self._start()
        self.console.out("".join(  # out: escaped on a terminal, a cell cannot drive it
            csv_line([more[n] if n in more else getattr(r, n) for n in self.names])
            for r, more in zip(rows, added, strict=True)))

    def close(self, end: End) -> None:
        if self.valuing is not None and self.held:
            tails = self.valuing.tails(self.valuing.values(self.held))
            self._write(self.held, [dict(tail) for tail in tails])
        self._start()


class ExportPrinter(Unmarked):
    """beancount, ledger (balance assertions) or prometheus (OpenMetrics), once all rows are
    in: the profiles' ``ledger_account`` settings, which profiles were up, the wall time."""

    def __init__(self, spec: Spec, view: View, console: Console,
                 valuing: Valuing | None = None) -> None:
        self.spec, self.fmt, self.console = spec, view.fmt, console
        self.shown: list[Any] = []

    def rows(self, rows: Sequence[Any], cells: Sequence[Decimal | None] | None,
             tails: Tails | None = None) -> None:
        self.shown += rows

    def close(self, end: End) -> None:
        from balancecli.core.clock import utc_now
        from balancecli.output import exports

        if self.fmt == "prometheus":
            up = exports.profiles_up([p.name for p in end.profiles], end.errors)
            rows = {self.spec.metrics: self.shown}
            self.console.out(exports.openmetrics(rows.get("balances", []),
                                                 rows.get("assets", []), up=up,
                                                 seconds=end.seconds))
            return
        names = exports.AccountNames({p.name: p.settings.get("ledger_account")
                                      for p in end.profiles})
        write = exports.beancount if self.fmt == "beancount" else exports.ledger
        self.console.out(write(self.spec.name, self.shown, names, utc_now()))


def printer(spec: Spec, view: View, console: Console, valuing: Valuing | None = None,
            head: Sequence[tuple[str, Any]] = ()) -> Printer:
    """The printer of ``spec`` for ``view``; ``head``: JSON fields after ``generated_at``."""
    if view.fmt in EXPORTS:
        return ExportPrinter(spec, view, console, valuing)
    if view.fmt == "csv":
        return CsvPrinter(spec, view, console, valuing)
    if view.fmt in ("json", "jsonl"):
        return StreamPrinter(spec, view, console, valuing, head)
    return TablePrinter(spec, view, console, valuing)


# -- the listener ------------------------------------------------------------------------------


@dataclass
class Presenter:
    """What the fetch reports to: rows to the printer, everything else to the console.

    ``complete`` returns more asset rows for a profile's rows before they are valued (``--in``
    on balances: the assets some accounts are valued by); ``ask`` puts a question to the
    user."""

    spec: Spec
    view: View
    console: Console
    out: Printer
    valuing: Valuing | None = None
    ask: Callable[[str], str] | None = None
    complete: Callable[[Any, list[Any]], list[Any]] | None = None
    errors: list[BalanceCliError] = field(default_factory=list)
    fetched: list[Any] = field(default_factory=list)  # every row, --currency or not
    shown: int = 0
    _asking: threading.Lock = field(default_factory=threading.Lock)

    def profile_done(self, batch: Batch) -> None:
        holdings = self.valuing is not None and self.valuing.holdings
        fetched = batch.assets if holdings else batch.rows
        self.fetched += fetched
        if batch.stale:
            self.out.stale({(batch.profile.name, k): v for k, v in batch.stale.items()})
        rows = self.only_currency(fetched)
        self.shown += len(rows)
        if self.valuing is None:
            self.errors += batch.errors
            # -f beancount|ledger of balances: the holdings fetched alongside are asserted
            # (``Spec.asserts_assets``); no other view of balances fetches asset rows.
            self.out.rows(rows + self.only_assets(batch.assets), None)
            return
        # assets (a snapshot): every balance and asset of the profile values its accounts;
        # balances: the rows shown, and the assets ``complete`` adds for some of them.
        balances, assets = (batch.rows, batch.assets) if holdings else (rows, [])
        if self.complete is not None:
            assets = assets + self.complete(batch, rows)
        self.errors += batch.errors
        self.out.rows(rows, self.valuing.cells(rows, balances, assets))

    def only_assets(self, assets: Sequence[Any]) -> list[Any]:
        """Asset rows in ``--currency`` (their ``asset``)."""
        wanted = self.view.currency
        return [r for r in assets if not wanted or (r.asset or "").upper() == wanted]

    def only_currency(self, rows: Sequence[Any]) -> list[Any]:
        """The rows in ``--currency`` (all of them for a spec without currencies)."""
        wanted, key = self.view.currency, self.spec.currency_field
        if not wanted or key is None:
            return list(rows)
        return [r for r in rows if (getattr(r, key) or "").upper() == wanted]

    def close(self, end: End) -> None:
        self.out.close(end)
        if self.valuing is not None:
            self.valuing.warnings(self.valuing.converted(failed=end.failed), self.console)

    @property
    def incomplete(self) -> bool:
        """``--in``: some account could not be valued (the run is partial: exit 7)."""
        return self.valuing is not None and bool(
            self.valuing.converted(failed=False).unconverted)

    # the rest of service.fetch.Listener
    def pending(self, names: Sequence[str]) -> None:
        self.console.pending(names)

    def warning(self, message: str) -> None:
        self.console.warn(message)

    def log(self, line: str) -> None:
        self.console.log(line)

    @property
    def can_ask(self) -> bool:
        return self.ask is not None

    def prompt(self, question: str) -> str:
        """One question at a time (two profiles may ask at once), the spinner paused."""
        if self.ask is None:
            from balancecli.core.errors import AuthError

            raise AuthError("a question to answer, and no terminal to ask on")
        with self._asking, self.console.paused_spinner():
            return self.ask(question)
