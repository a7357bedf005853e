"""``accounts``, ``balance`` and ``assets``: their options, checked before anything is fetched,
then the fetch reporting to the presenter of the command's spec (``output.presenter``).

The three commands differ only in their spec (``output.specs``): which rows, which columns,
whether amounts can be hidden or valued in one currency. Nothing here asks which command runs.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import typer

from balancecli.cli.commands.options import (
    AccountOpt,
    AllowStaleOpt,
    ByOpt,
    ColumnsOpt,
    ConfigOpt,
    CurrencyOpt,
    DataFormat,
    DataFormatOpt,
    DebugOpt,
    DemoOpt,
    ExactOpt,
    ForceOpt,
    Format,
    FormatOpt,
    HideAmountsOpt,
    InOpt,
    MaxTimeOpt,
    NoColorOpt,
    ProfileOpt,
    TimeoutOpt,
    VerboseOpt,
    WatchOpt,
    WideOpt,
    examples,
    runtime,
    start_clock,
)

if TYPE_CHECKING:
    from balancecli.cli.boundary import Ending
    from balancecli.cli.profiles import Selection
    from balancecli.cli.runtime import Runtime
    from balancecli.core.errors import BalanceCliError
    from balancecli.output.presenter import Presenter, View
    from balancecli.output.specs import Spec
    from balancecli.service.fetch import Options


@dataclass
class Request:
    """The command line of a data command, beyond how its rows are shown (``View``)."""

    profiles: list[str] | None
    accounts: list[str] | None
    timeout: float
    force: bool = False
    watch: float | None = None
    in_currency: str | None = None
    by: str | None = None
    max_time: float | None = None  # --max-time: the run's deadline (each refresh's, --watch)
    allow_stale: bool = False  # --allow-stale: data older than max_age shown, marked


def show(rt: Runtime, spec: Spec, request: Request, view: View) -> Ending:
    """Check the command line, fetch the selected profiles, present the rows; how it ended."""
    import sys
    import time

    from balancecli.cli.boundary import Ending
    from balancecli.cli.commands import networth
    from balancecli.output.presenter import EXPORTS, End
    from balancecli.service import fetch

    start_clock(request.max_time)
    refuse_masked(view, force=request.force)
    if request.watch is not None:
        from balancecli.cli import watch

        watch.check(request.watch, view.fmt)
    _check_by(spec, request, view)
    selection = rt.selection(request.profiles)
    target = settings = None
    if spec.converts:
        target, settings = networth.target_currency(
            rt, request.in_currency, applies=view.fmt not in EXPORTS and (
                not view.hide_amounts or request.by is not None or request.watch is not None))
    if request.by and not target:
        from balancecli.cli.boundary import UsageError

        raise UsageError("--by groups the values in one currency: add --in CUR (e.g. --in USD)",
                         option="--by")
    valuing = (networth.valuing(target, settings, holdings=spec.holdings, by=request.by)
               if target and settings else None)
    check_value_columns(view, valuing is not None)
    # --in on assets values each holding with its balances; beancount/ledger of balances
    # assert the holdings: both fetch the asset rows with the balances (Broker.snapshot).
    with_assets = (valuing is not None and spec.holdings) or (
        spec.asserts_assets and view.fmt in ("beancount", "ledger"))
    options = fetch.Options(
        command="snapshot" if with_assets else spec.name,
        account_ids=list(request.accounts or []), currency=None if valuing and spec.holdings
        else view.currency, timeout=request.timeout, verbose=rt.verbose, presets=selection.presets,
        # --watch: a prompt would tear the live table; the error says what to run.
        interactive=sys.stdin.isatty() and sys.stderr.isatty() and request.watch is None,
        debug=rt.debug, moved=selection.moved, allow_stale=request.allow_stale)
    if request.watch is not None:
        return watched(rt, spec, view, selection, options, request.watch,
                       (target, settings, request.by) if target else None, request.max_time)
    presenter = _presenter(rt, spec, view, valuing, options)
    options.listener = presenter
    started = time.monotonic()
    with rt.console.spinner(f"Fetching {len(selection.profiles)} profile(s)…"):
        outcome = fetch.run(selection.profiles, options)
    errors = [*selection.errors, *presenter.errors]
    _nothing_matched(spec, view, options, outcome, presenter, errors)
    presenter.close(End(errors, selection.profiles, time.monotonic() - started, bool(errors),
                        outcome.skipped))
    # --in: a net worth that left an account out is partial (its one line is on stderr).
    return Ending(errors, outcome.anything_succeeded, partial=presenter.incomplete)


def _presenter(rt: Runtime, spec: Spec, view: View, valuing: Any,
               options: Options) -> Presenter:
    from balancecli.cli.commands import networth
    from balancecli.credentials.prompts import ask_secret
    from balancecli.output.presenter import Presenter, printer

    presenter = Presenter(spec, view, rt.console, printer(spec, view, rt.console, valuing),
                          valuing, ask=ask_secret)
    if valuing is not None and not spec.holdings:
        presenter.complete = networth.completer(dataclasses.replace(options, listener=presenter))
    return presenter


def _nothing_matched(spec: Spec, view: View, options: Options, outcome: Any,
                     presenter: Presenter, errors: list[BalanceCliError]) -> None:
    """``-a`` or ``--currency`` that matched nothing (and nothing failed): exit 3, nothing
    printed, naming what there is."""
    if errors:
        return
    if options.account_ids and not outcome.matched_accounts:
        from balancecli.cli.profiles import no_match_error

        raise no_match_error(options.account_ids)
    key = spec.currency_field
    if view.currency and key and not presenter.shown:
        from balancecli.core.errors import ConfigError

        seen = sorted({str(getattr(r, key)).upper() for r in presenter.fetched
                       if getattr(r, key, None)})
        raise ConfigError(f"no {spec.row_noun} in {view.currency} "
                          "(--currency); fetched: " + (", ".join(seen) or "nothing"),
                          next_step="run again without --currency to see everything")


def watched(rt: Runtime, spec: Spec, view: View, selection: Selection, options: Options,
            interval: float, valued: tuple[str, Any, str | None] | None = None,
            max_time: float | None = None) -> Ending:
    """``--watch``: the same table as without it, fetched and drawn again every interval;
    ``valued`` (``--in``: target, rate settings, ``--by``): each refresh valued anew, with
    the net worth's change since the watch began under the table; ``max_time``: each
    refresh's deadline."""
    from balancecli.cli import watch
    from balancecli.cli.commands import networth
    from balancecli.output.networth import WorthSince
    from balancecli.output.presenter import Presenter, TablePrinter

    since = WorthSince(valued[0], masked=view.hide_amounts) if valued else None

    def once() -> tuple[list[Any], list[BalanceCliError]]:
        start_clock(max_time)
        valuing = (networth.valuing(valued[0], valued[1], holdings=spec.holdings, by=valued[2])
                   if valued else None)
        out = TablePrinter(spec, view, rt.console, valuing)
        presenter = Presenter(spec, view, rt.console, out, valuing)
        if valuing is not None and not spec.holdings:
            presenter.complete = networth.completer(
                dataclasses.replace(options, listener=presenter))
        from balancecli.service.fetch import run

        outcome = run(selection.profiles, dataclasses.replace(options, listener=presenter))
        tables = out.tables(failed=bool(outcome.errors))
        if valuing is not None and since is not None and tables:
            tables[0].footer.append(since.line(valuing.converted(failed=bool(outcome.errors))))
        return tables, [*selection.errors, *presenter.errors]

    hint = "--wide" if view.masked and spec.shares else "--wide or --columns NAME,..."
    return watch.run(rt.console, title=f"balancecli {spec.name}", interval=interval,
                     refresh=once, wide=view.wide, hint=hint)


def _check_by(spec: Spec, request: Request, view: View) -> None:
    """``--by``: one of the spec's groups, for a table or ``-f json`` (exit 2 otherwise)."""
    if request.by is None:
        return
    from balancecli.cli.boundary import UsageError

    request.by = request.by.strip().lower()
    if request.by not in spec.groups:
        raise UsageError(f"{spec.name} groups by {', '.join(spec.groups)}, not "
                         f"{request.by!r}", option="--by")
    if view.fmt not in ("table", "json"):
        raise UsageError(f"the groups show in tables and in -f json (converted.groups), not "
                         f"in -f {view.fmt}", option="--by")


def refuse_masked(view: View, *, force: bool) -> None:
    """--hide-amounts with a machine format: a usage error (exit 2) unless --force."""
    from balancecli.cli.boundary import UsageError
    from balancecli.output.privacy import refusal

    message = refusal(view.fmt) if view.hide_amounts and not force else None
    if message:
        raise UsageError(message)


COLUMN_FORMATS = ("table", "csv")  # what --columns shapes (JSON rows carry every field)


def columns_option(spec: Spec, text: str | None, fmt: str = "table") -> list[str] | None:
    """``--columns a,b,c`` as a list of field names. A name is a field name or a header as
    the table prints it (``Market value``, in any case); ``value_in`` and ``value`` are the
    fields ``--in`` adds. An unknown name, or ``--columns`` with a format it does not shape,
    is a usage error (exit 2) listing what works."""
    if text is None:
        return None
    from balancecli.cli.boundary import UsageError
    from balancecli.cli.commands.options import check_columns

    if fmt not in COLUMN_FORMATS:
        raise UsageError(f"--columns shapes -f table and csv, not -f {fmt} (JSON rows carry "
                         "every field: pick them with jq)")
    from balancecli.output.specs import VALUE_COLUMNS

    names = [spec.resolve_column(n.strip()) for n in text.split(",") if n.strip()]
    plain = [n for n in names if not (spec.converts and n in VALUE_COLUMNS)]  # --in: later
    if plain or not names:
        check_columns(",".join(plain), spec.field_names(), f"{spec.name} has")
    return names


def check_value_columns(view: View, converting: bool) -> None:
    """``--columns value,value_in`` only when the run values its rows (``--in CUR``)."""
    from balancecli.output.specs import VALUE_COLUMNS

    named = [n for n in view.columns or () if n in VALUE_COLUMNS]
    if named and not converting:
        from balancecli.cli.boundary import UsageError

        raise UsageError(f"--columns {', '.join(named)}: only with --in CUR (the value of "
                         "each row in one currency)")


def view(spec: Spec, fmt: str, columns: str | None, currency: str | None = None, *,
         hide_amounts: bool = False, wide: bool = False, exact: bool = False) -> View:
    """How the rows are shown; a ``--columns`` typo is a usage error here."""
    from balancecli.output.presenter import View

    return View(fmt, hide_amounts=hide_amounts, wide=wide, exact=exact,
                columns=columns_option(spec, columns, fmt),
                currency=currency.upper() if currency else None)


def accounts(
    ctx: typer.Context, profile: ProfileOpt = None, account: AccountOpt = None,
    fmt: FormatOpt = Format.table, timeout: TimeoutOpt = 15.0, max_time: MaxTimeOpt = None,
    wide: WideOpt = False, columns: ColumnsOpt = None, allow_stale: AllowStaleOpt = False,
    config: ConfigOpt = None, demo: DemoOpt = False, verbose: VerboseOpt = False,
    debug: DebugOpt = False, no_color: NoColorOpt = False,
) -> None:
    """List the accounts of the selected profiles."""
    from balancecli.cli.boundary import run
    from balancecli.output.specs import ACCOUNTS

    rt = runtime(ctx, config=config, demo=demo, verbose=verbose, debug=debug, no_color=no_color)
    request = Request(profile, account, timeout, max_time=max_time, allow_stale=allow_stale)
    run(rt, lambda: show(rt, ACCOUNTS, request, view(ACCOUNTS, fmt.value, columns, wide=wide)))


def _currency_command(name: str) -> Any:
    """balance and assets take the same options; only their spec differs."""

    def command(
        ctx: typer.Context, profile: ProfileOpt = None, account: AccountOpt = None,
        fmt: DataFormatOpt = DataFormat.table, timeout: TimeoutOpt = 15.0,
        max_time: MaxTimeOpt = None, currency: CurrencyOpt = None,
        hide_amounts: HideAmountsOpt = False,
        force: ForceOpt = False, watch: WatchOpt = None, in_currency: InOpt = None,
        by: ByOpt = None,
        wide: WideOpt = False, columns: ColumnsOpt = None, exact: ExactOpt = False,
        allow_stale: AllowStaleOpt = False,
        config: ConfigOpt = None, demo: DemoOpt = False, verbose: VerboseOpt = False,
        debug: DebugOpt = False, no_color: NoColorOpt = False,
    ) -> None:
        from balancecli.cli.boundary import run
        from balancecli.output.specs import DATA

        spec = DATA[name]
        rt = runtime(ctx, config=config, demo=demo, verbose=verbose, debug=debug,
                     no_color=no_color)
        request = Request(profile, account, timeout, force, watch, in_currency, by, max_time,
                          allow_stale)
        run(rt, lambda: show(rt, spec, request, view(
            spec, fmt.value, columns, currency, hide_amounts=hide_amounts, wide=wide,
            exact=exact)))

    return command


EXAMPLES = {
    "accounts": examples(
        "balancecli --demo accounts",
        "balancecli accounts -p ts --columns account_id,name,type",
        "balancecli accounts -f json | jq -r '.accounts[].account_id'"),
    "balance": examples(
        "balancecli --demo balance",
        "balancecli balance -p ts -a 11827391 --exact",
        "balancecli balance --wide | less -S",
        "balancecli balance --in USD",
        "balancecli balance --columns account_id,currency,cash,equity -f csv",
        "balancecli balance -f json | jq '.balances[] | select(.equity > 1000)'",
        "balancecli balance -f jsonl | jq -c 'select(.equity > 1000)'",
        "balancecli balance --watch 30"),
    "assets": examples(
        "balancecli --demo assets",
        "balancecli assets --currency BTC",
        "balancecli assets --hide-amounts",
        "balancecli assets -f jsonl | jq -c 'select(.asset == \"BTC\")'"),
}


def register(app: typer.Typer) -> None:
    app.command(epilog=EXAMPLES["accounts"])(accounts)
    from balancecli.cli.watch import WatchCommand  # --watch with or without SECONDS

    app.command(
        "balance", cls=WatchCommand, epilog=EXAMPLES["balance"],
        help="Normalized balance per account (and per currency view), with totals per currency.",
    )(_currency_command("balance"))
    app.command("assets", cls=WatchCommand, epilog=EXAMPLES["assets"],
                help="Per-asset / per-currency holdings of each account.")(
        _currency_command("assets"))
