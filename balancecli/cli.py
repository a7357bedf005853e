"""The root Typer app: global options and the wiring of the command modules.

Commands live in ``balancecli/commands/`` (one module per group, each with ``register(app)``);
errors are shown by ``runtime.boundary`` only.
"""

from __future__ import annotations

from typing import Annotated

import typer

from balancecli import __version__
from balancecli.commands import register_all
from balancecli.commands.options import ConfigOpt, DebugOpt, DemoOpt, NoColorOpt, VerboseOpt
from balancecli.runtime import Globals

app = typer.Typer(
    name="balancecli",
    help="Read-only balance inspector for TradeStation, LongPort, ETNA Trader and Quantower.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,  # tokens live in locals: never print them
    pretty_exceptions_show_locals=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


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


register_all(app)


def main() -> None:
    app()
