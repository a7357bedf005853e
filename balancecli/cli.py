"""The Typer app: options -> fetch -> render. Errors are shown by ``runtime.boundary`` only."""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Annotated

import typer

from balancecli import __version__
from balancecli.runtime import Globals, Runtime, boundary, no_match_error

app = typer.Typer(
    name="balancecli",
    help="Read-only balance inspector for TradeStation, LongPort, ETNA Trader and Quantower.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,  # tokens live in locals: never print them
    pretty_exceptions_show_locals=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


class Format(enum.StrEnum):
    table = "table"
    json = "json"
    jsonl = "jsonl"
    csv = "csv"


ConfigOpt = Annotated[Path | None, typer.Option(
    "--config", envvar="BALANCECLI_CONFIG", help="Config file (TOML).", show_envvar=True)]
DemoOpt = Annotated[bool, typer.Option("--demo", help="Run against the bundled demo brokers.")]
VerboseOpt = Annotated[bool, typer.Option(
    "--verbose", "-v", help="One line per HTTP request on stderr (secrets redacted).")]
DebugOpt = Annotated[bool, typer.Option("--debug", help="Show tracebacks for unexpected errors.")]
NoColorOpt = Annotated[bool, typer.Option("--no-color", help="No colour (NO_COLOR also works).")]
ProfileOpt = Annotated[list[str] | None, typer.Option(
    "--profile", "-p", help="Profile name (repeatable); default: every profile.")]
AccountOpt = Annotated[list[str] | None, typer.Option(
    "--account", "-a", help="Only this account id (repeatable).")]
FormatOpt = Annotated[Format, typer.Option(
    "--format", "-f", envvar="BALANCECLI_FORMAT", help="Output format.", show_envvar=True)]
TimeoutOpt = Annotated[float, typer.Option(
    "--timeout", min=0.1, help="Seconds per request.")]
CurrencyOpt = Annotated[str | None, typer.Option(
    "--currency", help="Only this currency (LongPort filters server-side).")]


def _version(value: bool) -> None:
    if value:
        typer.echo(f"balancecli {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    ctx: typer.Context,
    config: ConfigOpt = None,
    demo: DemoOpt = False,
    verbose: VerboseOpt = False,
    debug: DebugOpt = False,
    no_color: NoColorOpt = False,
    version: Annotated[bool, typer.Option(
        "--version", callback=_version, is_eager=True, help="Show the version and exit.")] = False,
) -> None:
    """Read-only balance inspector for TradeStation, LongPort, ETNA Trader and Quantower."""
    ctx.obj = Globals(config, demo, verbose, debug, no_color)


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


@app.command()
def accounts(
    ctx: typer.Context, profile: ProfileOpt = None, account: AccountOpt = None,
    fmt: FormatOpt = Format.table, timeout: TimeoutOpt = 15.0,
    config: ConfigOpt = None, demo: DemoOpt = False, verbose: VerboseOpt = False,
    debug: DebugOpt = False, no_color: NoColorOpt = False,
) -> None:
    """List the accounts of the selected profiles."""
    rt = Runtime.from_options(ctx, config=config, demo=demo, verbose=verbose, debug=debug,
                              no_color=no_color)
    run_data_command(rt, "accounts", profiles=profile, accounts=account, fmt=fmt,
                     timeout=timeout, currency=None)


def _currency_command(command: str, help_text: str) -> None:
    """balance and assets take the same options; only the rows differ."""

    def run(
        ctx: typer.Context, profile: ProfileOpt = None, account: AccountOpt = None,
        fmt: FormatOpt = Format.table, timeout: TimeoutOpt = 15.0, currency: CurrencyOpt = None,
        config: ConfigOpt = None, demo: DemoOpt = False, verbose: VerboseOpt = False,
        debug: DebugOpt = False, no_color: NoColorOpt = False,
    ) -> None:
        rt = Runtime.from_options(ctx, config=config, demo=demo, verbose=verbose, debug=debug,
                                  no_color=no_color)
        run_data_command(rt, command, profiles=profile, accounts=account, fmt=fmt,
                         timeout=timeout, currency=currency)

    app.command(command, help=help_text)(run)


_currency_command(
    "balance",
    "Normalized balance per account (and per currency view), with totals per currency.")
_currency_command("assets", "Per-asset / per-currency holdings of each account.")


# Sub-commands: one line each (their modules import only typer at the top).
from balancecli import cli_auth, cli_history, cli_profile, cli_quantower  # noqa: E402

cli_history.register(app)  # snapshot, history

app.add_typer(cli_auth.app, name="auth")
app.add_typer(cli_profile.app, name="profile")
app.add_typer(cli_quantower.app, name="quantower")


def main() -> None:
    app()
