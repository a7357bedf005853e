"""Option types shared by the command modules (one definition each).

Command modules import from here; nothing here imports a command module or ``cli/app.py``, so
the import graph stays a tree (tests/test_layout.py checks it). Only typer is imported at the
top.
"""

from __future__ import annotations

import enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from balancecli.cli import complete
from balancecli.cli.typer_internals import plain_flags_in_help
from balancecli.core.clock import MAX_SECONDS

if TYPE_CHECKING:
    from balancecli.cli.runtime import Runtime


class Format(enum.StrEnum):
    table = "table"
    json = "json"
    jsonl = "jsonl"
    csv = "csv"


class DataFormat(enum.StrEnum):
    """balance and assets: the formats of every command plus the beancount, ledger and
    prometheus exports."""

    table = "table"
    json = "json"
    jsonl = "jsonl"
    csv = "csv"
    beancount = "beancount"
    ledger = "ledger"
    prometheus = "prometheus"


# BALANCECLI_FORMAT may name an export format (set for balance/assets); the other commands,
# which take none, ignore it with a note rather than fail (a crontab sets it once for all).
EXPORT_FORMATS = frozenset(DataFormat) - frozenset(Format)
EXPORT_COMMANDS = frozenset({"balance", "assets"})


def unfit_env_format(command: str | None) -> str | None:
    """BALANCECLI_FORMAT when it names an export ``command`` does not take: removed from the
    environment (so the command's default applies) and returned, to be noted."""
    import os

    value = os.environ.get("BALANCECLI_FORMAT", "")
    if command in EXPORT_COMMANDS or value not in EXPORT_FORMATS:
        return None
    del os.environ["BALANCECLI_FORMAT"]
    return value


plain_flags_in_help()  # --demo, not --demo <bool>, in every command's help


def examples(*lines: str) -> str:
    """A command's help epilog: ``Examples:`` and one ``$ command`` per line.

    Help text is Rich markup: ``[`` is escaped so that ``jq '.[]'`` shows as written.
    """
    return "Examples:\n" + "\n".join("$ " + line.replace("[", "\\[") for line in lines)


# Accepted before the command and after it (merged by Runtime.from_options).
ConfigOpt = Annotated[Path | None, typer.Option(
    "--config", envvar="BALANCECLI_CONFIG", metavar="PATH", help="Config file (TOML).",
    show_envvar=True)]
DemoOpt = Annotated[bool, typer.Option("--demo", help="Run against the bundled demo brokers.")]
VerboseOpt = Annotated[bool, typer.Option(
    "--verbose", "-v", help="One line per HTTP request on stderr (secrets redacted).")]
DebugOpt = Annotated[bool, typer.Option("--debug", help="Show tracebacks for unexpected errors.")]
NoColorOpt = Annotated[bool, typer.Option("--no-color", help="No colour (NO_COLOR also works).")]
QuietOpt = Annotated[bool, typer.Option(
    "--quiet", "-q", help="No summaries, no warnings (for cron); errors still print.")]

# Options of the data commands.
ProfileOpt = Annotated[list[str] | None, typer.Option(
    "--profile", "-p", metavar="NAME", help="Profile name (repeatable); default: every profile.",
    autocompletion=complete.complete_profile)]
AccountOpt = Annotated[list[str] | None, typer.Option(
    "--account", "-a", metavar="ID", help="Only this account id (repeatable).",
    autocompletion=complete.complete_account)]
FormatOpt = Annotated[Format, typer.Option(
    "--format", "-f", envvar="BALANCECLI_FORMAT", metavar="FORMAT",
    help="Output format: table, json, jsonl or csv.", show_envvar=True)]
TimeoutOpt = Annotated[float, typer.Option(
    "--timeout", min=0.1, max=MAX_SECONDS, metavar="SECONDS",
    help="Seconds per request attempt: connect, headers and body.")]
MaxTimeOpt = Annotated[float | None, typer.Option(
    "--max-time", envvar="BALANCECLI_MAX_TIME", show_envvar=True, min=0.1, max=MAX_SECONDS,
    metavar="SECONDS", help="Seconds for the whole run, retries included: then every "
    "request in flight stops, what finished is shown (or stored) and each unfinished profile "
    "gets one error line (exit 5, or 7 beside results).")]
CurrencyOpt = Annotated[str | None, typer.Option(
    "--currency", metavar="CUR", help="Only this currency (LongPort filters server-side).",
    autocompletion=complete.complete_currency)]
InOpt = Annotated[str | None, typer.Option(
    "--in", metavar="CUR", autocompletion=complete.complete_currency,
    help="Value every account in this currency, with the rates' sources (config default: "
         "in = \"USD\"; --in none turns it off).")]
ByOpt = Annotated[str | None, typer.Option(
    "--by", metavar="GROUP", autocompletion=complete.complete_group,
    help="With --in: the values grouped, each group's share of the total and a bar: balance "
         "by broker, profile, currency or account; assets by asset, broker, profile or "
         "account.")]
WatchOpt = Annotated[float | None, typer.Option(
    "--watch", metavar="[SECONDS]", help="On a terminal: refresh in place every SECONDS "
    "(default and minimum 10), highlighting what changed; Ctrl-C stops.")]
DataFormatOpt = Annotated[DataFormat, typer.Option(
    "--format", "-f", envvar="BALANCECLI_FORMAT", show_envvar=True, metavar="FORMAT",
    help="Output format: table, json, jsonl, csv, or an export: beancount, ledger (balance "
         "assertions), prometheus (OpenMetrics).")]
HideAmountsOpt = Annotated[bool, typer.Option(
    "--hide-amounts", envvar="BALANCECLI_HIDE_AMOUNTS", show_envvar=True,
    help="Tables: no amounts, only each account's share of the total (screen sharing).")]
ForceOpt = Annotated[bool, typer.Option(
    "--force", help="With --hide-amounts: print a machine format (json, csv, ...) anyway, "
                    "with every amount.")]

AllowStaleOpt = Annotated[bool, typer.Option(
    "--allow-stale", help="Show data older than its profile's max_age, marked stale with its "
                          "age, instead of failing (exit 5).")]

# Table options of the data commands.
WideOpt = Annotated[bool, typer.Option(
    "--wide", help="Tables: show every column, even past the terminal width.")]
ColumnsOpt = Annotated[str | None, typer.Option(
    "--columns", metavar="A,B,...", autocompletion=complete.complete_columns,
    help="Tables and csv: only these columns, in this order (field names, or the headers the "
         "table shows; with --in also value and value_in).")]
ExactOpt = Annotated[bool, typer.Option(
    "--exact", help="Tables: every digit the broker sent (default: the currency's display "
                    "precision, rounded half up).")]

UtcOpt = Annotated[bool, typer.Option(
    "--utc", help="Tables: times in UTC (default: local time).")]

# Options of the auth and profile commands.
ProfileArg = Annotated[str, typer.Argument(
    metavar="PROFILE", help="Profile name (from the config file).",
    autocompletion=complete.complete_profile_arg)]
RequestTimeoutOpt = TimeoutOpt  # --timeout means per request everywhere (auth login too)


def start_clock(max_time: float | None) -> None:
    """``--max-time``: the run's deadline starts now (``net.deadline.RUN``)."""
    from balancecli.net.deadline import RUN

    RUN.start(max_time)


def runtime(ctx: typer.Context, **options: Any) -> Runtime:
    """The run's Runtime: options given after the command merged with those before it."""
    from balancecli.cli.runtime import Runtime

    return Runtime.from_options(ctx, **options)


def usage(rt: Runtime, message: str, command: str | None = None) -> NoReturn:
    """A usage error: one line with the command's help hint, exit 2 (``cli.boundary``)."""
    from balancecli.cli.boundary import UsageError

    raise UsageError(message)


def check_columns(text: str, valid: list[str], has: str) -> list[str]:
    """``--columns a,b,c`` as a list of names; an unknown name is a usage error (exit 2)
    listing the valid ones (``has``: "balance has")."""
    from balancecli.cli.boundary import UsageError
    from balancecli.core.suggest import closest

    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in valid]
    if unknown or not names:
        what = (f"unknown column{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}"
                if unknown else "no column named")
        meant = [found for found in (closest(n, valid) for n in unknown) if found]
        if unknown and len(meant) == len(unknown):  # each is a typo of one: say which
            raise UsageError(f"--columns: {what}; did you mean {', '.join(meant)}?")
        raise UsageError(f"--columns: {what}; {has}: {', '.join(valid)}")
    return names
