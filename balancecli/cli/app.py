"""The root Typer app: global options and the wiring of the command modules.

Commands live in ``cli/commands/`` (one module per group, each with ``register(app)``);
errors are shown and exit codes decided by ``cli.boundary`` only.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Annotated, Any

import typer

from balancecli import __version__
from balancecli.cli.commands import register_all
from balancecli.cli.commands.options import (
    ConfigOpt,
    DebugOpt,
    DemoOpt,
    NoColorOpt,
    QuietOpt,
    VerboseOpt,
    unfit_env_format,
)
from balancecli.cli.runtime import Globals

app = typer.Typer(
    name="balancecli",
    help="Read-only balance inspector for TradeStation, LongPort, ETNA Trader and Quantower.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,  # tokens live in locals: never print them
    pretty_exceptions_show_locals=False,
    context_settings={"help_option_names": ["-h", "--help"]},
    epilog="Examples:\n$ balancecli --demo balance\n$ balancecli balance -p ts -f json | jq "
           "'.totals'\n$ balancecli assets --currency BTC\n$ balancecli snapshot   # from cron"
           "\n$ balancecli history --since 30d",
)


def _version(ctx: typer.Context, value: bool) -> None:
    if value and not ctx.resilient_parsing:  # not while a completion script asks
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
    quiet: QuietOpt = False,
    version: Annotated[bool, typer.Option(
        "--version", "-V", callback=_version, is_eager=True,
        help="Show the version and exit.")] = False,
) -> None:
    """Read-only balance inspector for TradeStation, LongPort, ETNA Trader and Quantower."""
    ctx.obj = Globals(config, demo, verbose, debug, no_color, quiet,
                      ignored_format=unfit_env_format(ctx.invoked_subcommand))


def _with_quiet(command: Callable[..., Any]) -> Callable[..., Any]:
    """``command`` also accepting ``-q/--quiet`` after its name: the flag lands in the run's
    Globals, which ``Runtime.from_options`` merges, so no command needs its own parameter."""
    # Evaluated now: Typer takes a __signature__ as it is, and these annotations are strings.
    signature = inspect.signature(command, eval_str=True)
    if "quiet" in signature.parameters:
        return command
    # Typer hands the Context to one parameter only: the command's own, if it has one.
    own = next((name for name, p in signature.parameters.items()
                if p.annotation in (typer.Context, "typer.Context")), None)
    context_name = own or "quiet_context"

    @functools.wraps(command)
    def wrapper(*args: Any, quiet: bool = False, **kwargs: Any) -> Any:
        context = kwargs[context_name] if own else kwargs.pop(context_name)
        if quiet and context is not None:
            found = context.find_object(Globals)
            if found is not None:
                found.quiet = True
        return command(*args, **kwargs)

    extra = [inspect.Parameter("quiet", inspect.Parameter.KEYWORD_ONLY, default=False,
                               annotation=QuietOpt)]
    annotations = {**command.__annotations__, "quiet": QuietOpt}
    if not own:
        extra.append(inspect.Parameter(context_name, inspect.Parameter.KEYWORD_ONLY,
                                       annotation=typer.Context))
        annotations[context_name] = typer.Context
    wrapper.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=[*signature.parameters.values(), *extra])
    wrapper.__annotations__ = annotations
    return wrapper


def _quiet_everywhere(group: typer.Typer) -> None:
    from balancecli.cli.typer_internals import command_infos

    for info in command_infos(group):
        if info.callback is not None:
            info.callback = _with_quiet(info.callback)


register_all(app)
_quiet_everywhere(app)  # -q/--quiet, like --verbose, before or after the command


def main() -> None:
    from balancecli.cli.usage import run

    run(app)  # usage errors as one line in our words (commands/usage.py)
