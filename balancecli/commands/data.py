"""``accounts``, ``balance`` and ``assets``: options -> fetch -> render -> exit code."""

from __future__ import annotations

from collections.abc import Callable

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
    from balancecli.models import utc_now

    with boundary(rt):
        selected, errors, presets = rt.select(profiles)
        options = Options(
            command=command, account_ids=list(accounts or []),
            currency=currency.upper() if currency else None, timeout=timeout,
            log=rt.log if rt.verbose else None, warn=rt.warn,
            interactive=sys.stdin.isatty() and sys.stderr.isatty(),
            prompt=_prompt, presets=presets, debug=rt.debug,
        )
        with rt.spinner(f"Fetching {len(selected)} profile(s)…"):
            outcome = run(selected, options)
        rows = outcome.rows
        if options.currency and command != "accounts":
            key = "asset" if command == "assets" else "currency"
            rows = [r for r in rows if (getattr(r, key) or "").upper() == options.currency]
        errors += outcome.errors
        if options.account_ids and not outcome.matched_accounts and not errors:
            raise no_match_error(options.account_ids)
        if fmt is Format.json:
            rt.out(render.to_json(command, rows, errors, utc_now()))
        elif fmt is Format.jsonl:
            rt.out(render.to_jsonl(rows))
        elif fmt is Format.csv:
            rt.out(render.to_csv(command, rows))
        elif rows:
            rt.print_table(render.table(command, rows, color=rt.color))
        code = rt.exit_code(errors, outcome.anything_succeeded)
    raise typer.Exit(code)


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
