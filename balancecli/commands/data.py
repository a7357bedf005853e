"""``accounts``, ``balance`` and ``assets``: options -> fetch -> render -> exit code."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import typer

from balancecli.commands.options import (
    AccountOpt,
    ConfigOpt,
    CurrencyOpt,
    DebugOpt,
    DemoOpt,
    Format,
    FormatOpt,
    NoColorOpt,
    ProfileOpt,
    TimeoutOpt,
    VerboseOpt,
    runtime,
)
from balancecli.runtime import Runtime, boundary, no_match_error


def run_data_command(rt: Runtime, command: str, *, profiles: list[str] | None,
                     accounts: list[str] | None, fmt: Format, timeout: float,
                     currency: str | None) -> None:
    """accounts / balance / assets: select profiles, fetch concurrently, render, exit."""
    import sys

    from balancecli import render
    from balancecli.fetch import Options, run

    with boundary(rt):
        selected, errors, presets = rt.select(profiles)
        options = Options(
            command=command, account_ids=list(accounts or []),
            currency=currency.upper() if currency else None, timeout=timeout,
            log=rt.log if rt.verbose else None, warn=rt.warn,
            interactive=sys.stdin.isatty() and sys.stderr.isatty(),
            prompt=_prompt, presets=presets, debug=rt.debug,
        )
        keep = _currency_filter(command, options.currency)
        stream = _stream(command, fmt, keep)  # json/jsonl: rows written as they arrive
        with rt.spinner(f"Fetching {len(selected)} profile(s)…"):
            outcome = run(selected, options, on_rows=stream.rows if stream else None)
        rows = [r for r in outcome.rows if keep is None or keep(r)]
        errors += outcome.errors
        if options.account_ids and not outcome.matched_accounts and not errors:
            raise no_match_error(options.account_ids)
        if stream is not None:
            blocks = [("totals", render.totals(rows))] if command == "balance" else []
            stream.close(errors, blocks)
        elif fmt is Format.json:  # on a terminal: render's form, for people to read
            from balancecli.models import utc_now

            rt.out(render.to_json(command, rows, errors, utc_now()))
        elif fmt is Format.csv:
            rt.out(render.to_csv(command, rows))
        elif rows:
            rt.print_table(render.table(command, rows, color=rt.color))
        code = rt.exit_code(errors, outcome.anything_succeeded)
    raise typer.Exit(code)


def _currency_filter(command: str, currency: str | None) -> Callable[[Any], bool] | None:
    """--currency: balances by their currency, assets by their asset; accounts unfiltered."""
    if not currency or command == "accounts":
        return None
    key = "asset" if command == "assets" else "currency"
    return lambda row: (getattr(row, key) or "").upper() == currency


def _stream(command: str, fmt: Format, keep: Callable[[Any], bool] | None) -> Any:
    """A jsonout.Stream on stdout for json/jsonl (same text as render.to_json/to_jsonl);
    None for other formats and for json on a terminal (people read it whole, indented)."""
    import sys

    if fmt is not Format.jsonl and (fmt is not Format.json or sys.stdout.isatty()):
        return None

    from balancecli.jsonout import Stream
    from balancecli.models import utc_now
    from balancecli.render import SCHEMAS
    from balancecli.secrets import REDACTOR

    schema, key, _ = SCHEMAS[command]
    return Stream(sys.stdout, fmt.value, schema=schema, key=key, generated_at=utc_now,
                  keep=keep, redact=REDACTOR.redact)


def _prompt(text: str) -> str:
    import getpass

    return getpass.getpass(text)


def accounts(
    ctx: typer.Context, profile: ProfileOpt = None, account: AccountOpt = None,
    fmt: FormatOpt = Format.table, timeout: TimeoutOpt = 15.0,
    config: ConfigOpt = None, demo: DemoOpt = False, verbose: VerboseOpt = False,
    debug: DebugOpt = False, no_color: NoColorOpt = False,
) -> None:
    """List the accounts of the selected profiles."""
    rt = runtime(ctx, config=config, demo=demo, verbose=verbose, debug=debug, no_color=no_color)
    run_data_command(rt, "accounts", profiles=profile, accounts=account, fmt=fmt,
                     timeout=timeout, currency=None)


def _currency_command(command: str) -> Callable[..., None]:
    """balance and assets take the same options; only the rows differ."""

    def run(
        ctx: typer.Context, profile: ProfileOpt = None, account: AccountOpt = None,
        fmt: FormatOpt = Format.table, timeout: TimeoutOpt = 15.0, currency: CurrencyOpt = None,
        config: ConfigOpt = None, demo: DemoOpt = False, verbose: VerboseOpt = False,
        debug: DebugOpt = False, no_color: NoColorOpt = False,
    ) -> None:
        rt = runtime(ctx, config=config, demo=demo, verbose=verbose, debug=debug,
                     no_color=no_color)
        run_data_command(rt, command, profiles=profile, accounts=account, fmt=fmt,
                         timeout=timeout, currency=currency)

    return run


def register(app: typer.Typer) -> None:
    app.command()(accounts)
    app.command(
        "balance",
        help="Normalized balance per account (and per currency view), with totals per currency.",
    )(_currency_command("balance"))
    app.command("assets", help="Per-asset / per-currency holdings of each account.")(
        _currency_command("assets"))
