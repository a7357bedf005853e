"""``accounts``, ``balance`` and ``assets``: options -> fetch -> render -> exit code."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import typer

from balancecli.cli.commands.options import (
    AccountOpt,
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
    NoColorOpt,
    ProfileOpt,
    TimeoutOpt,
    VerboseOpt,
    WatchOpt,
    WideOpt,
    columns_option,
    examples,
    runtime,
)
from balancecli.cli.runtime import Runtime, boundary, no_currency_error, no_match_error


def run_data_command(rt: Runtime, command: str, *, profiles: list[str] | None,
                     accounts: list[str] | None, fmt: Format | DataFormat, timeout: float,
                     currency: str | None, hide_amounts: bool = False,
                     force: bool = False, watch: float | None = None,
                     in_currency: str | None = None, wide: bool = False,
                     columns: str | None = None, exact: bool = False) -> None:
    """accounts / balance / assets: select profiles, fetch concurrently, render, exit."""
    import sys
    import time

    from balancecli.cli.commands import data_export
    from balancecli.core.clock import utc_now
    from balancecli.output import render
    from balancecli.service.fetch import Options, run

    rt.wide, rt.exact = wide, exact
    rt.columns = columns_option(rt, command, columns)  # a typo is exit 2 before any request
    with boundary(rt):
        data_export.refuse_masked(rt, fmt, hide_amounts=hide_amounts, force=force)
        if watch is not None:
            from balancecli.cli import watch as watching

            watching.check(rt, watch, fmt.value)
        selected, errors, presets = rt.select(profiles)
        target = settings = None
        if command != "accounts":
            from balancecli.cli.commands.networth import target_currency

            target, settings = target_currency(
                rt, in_currency, applies=watch is None and not hide_amounts
                and fmt not in data_export.FORMATS)
        options = Options(
            # beancount/ledger assert what accounts hold: the asset rows, which balance gets
            # from the same responses (Broker.snapshot).
            command="snapshot" if command == "balance" and fmt in ("beancount", "ledger")
            else command, account_ids=list(accounts or []),
            currency=currency.upper() if currency else None, timeout=timeout,
            log=rt.log if rt.verbose else None, warn=rt.warn,
            # --watch: a prompt would tear the live table; the error says what to run.
            interactive=sys.stdin.isatty() and sys.stderr.isatty() and watch is None,
            prompt=_prompter(rt), presets=presets, debug=rt.debug, pending=rt.pending,
        )
        if watch is not None:
            def once() -> tuple[list, list]:
                outcome = run(selected, options)
                return _only_currency(command, outcome.rows, options.currency), [
                    *errors, *outcome.errors]

            watching.run(rt, command=command, interval=watch, fetch=once,
                         render=lambda rows: _live_table(rt, command, rows, hide_amounts))
        # json/jsonl: rows written as each profile completes
        stream = (_stream(command, Format(fmt), options.currency)
                  if watch is None and not target and fmt not in data_export.FORMATS else None)
        started = time.monotonic()
        with _cancellable(), rt.spinner(f"Fetching {len(selected)} profile(s)…"):
            outcome = run(selected, options, on_rows=stream.rows if stream else None)
        seconds = time.monotonic() - started
        rows = _only_currency(command, outcome.rows, options.currency)
        errors += outcome.errors
        if options.account_ids and not outcome.matched_accounts and not errors:
            raise no_match_error(options.account_ids)
        if options.currency and command != "accounts" and not rows and not errors:
            raise no_currency_error(options.currency, outcome.rows,
                                    "asset" if command == "assets" else "currency")
        if target:  # --in CUR
            from balancecli.cli.commands import networth

            networth.show(rt, command, Format(fmt).value, rows, errors, selected, options,
                          target, settings)
        elif fmt in data_export.FORMATS:  # beancount, ledger, prometheus
            held = _only_currency("assets", outcome.assets, options.currency)
            rt.out(data_export.text(fmt, command, rows + held, errors, selected, seconds,
                                    utc_now()))
        elif stream is not None:
            stream.close(errors, ([("totals", render.totals(rows))] if command == "balance"
                                  else []) + _skipped(outcome.skipped))
        elif (fmt := Format(fmt)) is Format.json:  # DataFormat's other values are Format's
            rt.out(render.to_json(command, rows, errors, utc_now(), indent=rt.json_indent,
                                  skipped=outcome.skipped))
        elif fmt is Format.jsonl:
            rt.out(render.to_jsonl(rows))
        elif fmt is Format.csv:
            rt.out(render.to_csv(command, rows, rt.columns))
        elif rows:
            rt.print_table(_table(rt, command, rows, hide_amounts),
                           show_with="--wide" if hide_amounts and command != "accounts"
                           else "--wide, --columns NAME,... or -f csv")
        code = rt.exit_code(errors, outcome.anything_succeeded)
    raise typer.Exit(code)


def _table(rt: Runtime, command: str, rows: list, hide_amounts: bool) -> Any:
    """The table of the rows; with --hide-amounts, shares instead of amounts."""
    if hide_amounts and command != "accounts":
        from balancecli.output import privacy

        return privacy.table(command, rows, color=rt.color)
    from balancecli.output import render

    return render.table(command, rows, exact=rt.exact, columns=rt.columns)


def _live_table(rt: Runtime, command: str, rows: list, hide_amounts: bool) -> Any:
    """--watch redraws a Rich table in place: the same table, its columns chosen to fit."""
    table = _table(rt, command, rows, hide_amounts)
    from balancecli.output.table import Table, to_rich

    if not isinstance(table, Table):
        return table
    from balancecli.cli.runtime import terminal_width

    return to_rich(table, width=terminal_width(), color=rt.color, wide=rt.wide)


def _skipped(skipped: Sequence[Any]) -> list[tuple[str, Any]]:
    """The ``skipped`` block of a JSON document, when accounts were left out."""
    return [("skipped", [s.as_dict() for s in skipped])] if skipped else []


def _only_currency(command: str, rows: list, currency: str | None) -> list:
    if not currency or command == "accounts":
        return rows
    key = "asset" if command == "assets" else "currency"
    return [r for r in rows if (getattr(r, key) or "").upper() == currency]


def _stream(command: str, fmt: Format, currency: str | None) -> Any:
    """A jsonout.Stream on stdout for json/jsonl (the same text as render.to_json/to_jsonl),
    written as rows arrive; None for other formats and for json on a terminal (people read
    it whole)."""
    import sys

    if fmt is not Format.jsonl and (fmt is not Format.json or sys.stdout.isatty()):
        return None
    from balancecli.core.clock import utc_now
    from balancecli.core.redact import REDACTOR
    from balancecli.output.jsonout import Stream
    from balancecli.output.render import SCHEMAS

    schema, key, _ = SCHEMAS[command]
    keep = None if not currency or command == "accounts" else (
        lambda row: bool(_only_currency(command, [row], currency)))
    return Stream(sys.stdout, fmt.value, schema=schema, key=key, generated_at=utc_now,
                  keep=keep, redact=REDACTOR.redact)


def _prompter(rt: Runtime) -> Callable[[str], str]:
    """A broker's prompt during a run (ETNA's second factor): ``auth login``'s hidden prompt
    (Ctrl-D cancels), one question at a time, the spinner paused while it waits."""
    import threading

    from balancecli.credentials.prompts import ask_secret

    lock = threading.Lock()  # two profiles may ask at once: one question at a time

    def prompt(question: str) -> str:
        with lock, rt.paused_spinner():
            return ask_secret(question)

    return prompt


@contextlib.contextmanager
def _cancellable() -> Iterator[None]:
    """Ctrl-D at a prompt cancels the run: one line, exit 130 (as ``auth login``)."""
    from balancecli.credentials.prompts import Cancelled

    try:
        yield
    except Cancelled:
        typer.echo("cancelled", err=True)
        raise typer.Exit(130) from None


def accounts(
    ctx: typer.Context, profile: ProfileOpt = None, account: AccountOpt = None,
    fmt: FormatOpt = Format.table, timeout: TimeoutOpt = 15.0,
    wide: WideOpt = False, columns: ColumnsOpt = None,
    config: ConfigOpt = None, demo: DemoOpt = False, verbose: VerboseOpt = False,
    debug: DebugOpt = False, no_color: NoColorOpt = False,
) -> None:
    """List the accounts of the selected profiles."""
    rt = runtime(ctx, config=config, demo=demo, verbose=verbose, debug=debug, no_color=no_color)
    run_data_command(rt, "accounts", profiles=profile, accounts=account, fmt=fmt,
                     timeout=timeout, currency=None, wide=wide, columns=columns)


def _currency_command(command: str) -> Callable[..., None]:
    """balance and assets take the same options; only the rows differ."""

    def run(
        ctx: typer.Context, profile: ProfileOpt = None, account: AccountOpt = None,
        fmt: DataFormatOpt = DataFormat.table, timeout: TimeoutOpt = 15.0,
        currency: CurrencyOpt = None, hide_amounts: HideAmountsOpt = False,
        force: ForceOpt = False, watch: WatchOpt = None, in_currency: InOpt = None,
        wide: WideOpt = False, columns: ColumnsOpt = None, exact: ExactOpt = False,
        config: ConfigOpt = None, demo: DemoOpt = False, verbose: VerboseOpt = False,
        debug: DebugOpt = False, no_color: NoColorOpt = False,
    ) -> None:
        rt = runtime(ctx, config=config, demo=demo, verbose=verbose, debug=debug,
                     no_color=no_color)
        run_data_command(rt, command, profiles=profile, accounts=account, fmt=fmt,
                         timeout=timeout, currency=currency, hide_amounts=hide_amounts,
                         force=force, watch=watch, in_currency=in_currency, wide=wide,
                         columns=columns, exact=exact)

    return run


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
