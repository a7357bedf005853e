"""Option types shared by the command modules (one definition each).

Command modules import from here; nothing here imports a command module or ``cli.py``, so the
import graph stays a tree (tests/test_layout.py checks it). Only typer is imported at the top.
"""

from __future__ import annotations

import enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from balancecli.runtime import Runtime


class Format(enum.StrEnum):
    table = "table"
    json = "json"
    jsonl = "jsonl"
    csv = "csv"


# Accepted before the command and after it (merged by Runtime.from_options).
ConfigOpt = Annotated[Path | None, typer.Option(
    "--config", envvar="BALANCECLI_CONFIG", help="Config file (TOML).", show_envvar=True)]
DemoOpt = Annotated[bool, typer.Option("--demo", help="Run against the bundled demo brokers.")]
VerboseOpt = Annotated[bool, typer.Option(
    "--verbose", "-v", help="One line per HTTP request on stderr (secrets redacted).")]
DebugOpt = Annotated[bool, typer.Option("--debug", help="Show tracebacks for unexpected errors.")]
NoColorOpt = Annotated[bool, typer.Option("--no-color", help="No colour (NO_COLOR also works).")]

# Options of the data commands.
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

# Options of the auth and profile commands.
ProfileArg = Annotated[str, typer.Argument(help="Profile name (from the config file).")]
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
