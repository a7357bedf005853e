"""Option types shared by the command modules (one definition each).

Command modules import from here; nothing here imports a command module or ``cli.py``, so the
import graph stays a tree (tests/test_layout.py checks it). Only typer is imported at the top.
"""

from __future__ import annotations

import enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from balancecli import complete

if TYPE_CHECKING:
    from balancecli.runtime import Runtime


class Format(enum.StrEnum):
    table = "table"
    json = "json"
    jsonl = "jsonl"
    csv = "csv"


class DataFormat(enum.StrEnum):
    """balance and assets: the formats of every command plus the exports of DESIGN §12."""

    table = "table"
    json = "json"
    jsonl = "jsonl"
    csv = "csv"
    beancount = "beancount"
    ledger = "ledger"
    prometheus = "prometheus"


# Accepted before the command and after it (merged by Runtime.from_options).
ConfigOpt = Annotated[Path | None, typer.Option(
    "--config", envvar="BALANCECLI_CONFIG", help="Config file (TOML).", show_envvar=True)]
DemoOpt = Annotated[bool, typer.Option("--demo", help="Run against the bundled demo brokers.")]
VerboseOpt = Annotated[bool, typer.Option(
    "--verbose", "-v", help="One line per HTTP request on stderr (secrets redacted).")]
DebugOpt = Annotated[bool, typer.Option("--debug", help="Show tracebacks for unexpected errors.")]
NoColorOpt = Annotated[bool, typer.Option("--no-color", help="No colour (NO_COLOR also works).")]
QuietOpt = Annotated[bool, typer.Option(
    "--quiet", "-q", help="No summaries, no warnings (for cron); errors still print.")]

# Options of the data commands.
ProfileOpt = Annotated[list[str] | None, typer.Option(
    "--profile", "-p", help="Profile name (repeatable); default: every profile.",
    autocompletion=complete.complete_profile)]
AccountOpt = Annotated[list[str] | None, typer.Option(
    "--account", "-a", help="Only this account id (repeatable).",
    autocompletion=complete.complete_account)]
FormatOpt = Annotated[Format, typer.Option(
    "--format", "-f", envvar="BALANCECLI_FORMAT", help="Output format.", show_envvar=True)]
TimeoutOpt = Annotated[float, typer.Option(
    "--timeout", min=0.1, help="Seconds per request.")]
CurrencyOpt = Annotated[str | None, typer.Option(
    "--currency", help="Only this currency (LongPort filters server-side).",
    autocompletion=complete.complete_currency)]
InOpt = Annotated[str | None, typer.Option(
    "--in", metavar="CUR", autocompletion=complete.complete_currency,
    help="Value every account in this currency, with the rates' sources (config default: "
         "in = \"USD\"; --in none turns it off).")]
WatchOpt = Annotated[float | None, typer.Option(
    "--watch", metavar="[SECONDS]", help="On a terminal: refresh in place every SECONDS "
    "(default and minimum 10), highlighting what changed; Ctrl-C stops.")]
DataFormatOpt = Annotated[DataFormat, typer.Option(
    "--format", "-f", envvar="BALANCECLI_FORMAT", show_envvar=True,
    help="Output format (beancount/ledger: balance assertions; prometheus: OpenMetrics).")]
HideAmountsOpt = Annotated[bool, typer.Option(
    "--hide-amounts", envvar="BALANCECLI_HIDE_AMOUNTS", show_envvar=True,
    help="Tables: no amounts, only each account's share of the total (screen sharing).")]
ForceOpt = Annotated[bool, typer.Option(
    "--force", help="With --hide-amounts: print a machine format (json, csv, ...) anyway, "
                    "with every amount.")]

# Options of the auth and profile commands.
ProfileArg = Annotated[str, typer.Argument(
    help="Profile name (from the config file).", autocompletion=complete.complete_profile_arg)]
RequestTimeoutOpt = Annotated[float, typer.Option(
    "--request-timeout", min=0.1, help="Seconds per HTTP request.")]


def runtime(ctx: typer.Context, **options: Any) -> Runtime:
    """The run's Runtime: options given after the command merged with those before it."""
    from balancecli.runtime import Runtime

    return Runtime.from_options(ctx, **options)


def usage(rt: Runtime, message: str) -> None:
    """A usage error: one line, exit 2 (DESIGN §5)."""
    rt.err(f"error: {message}")
    raise typer.Exit(2)
