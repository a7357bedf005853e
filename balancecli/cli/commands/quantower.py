"""``balancecli quantower ...``: the Quantower bridge."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from balancecli.cli.commands.examples import EXAMPLES

app = typer.Typer(
    help="Quantower: print the C# bridge Strategy that exports accounts for balancecli.",
    epilog=EXAMPLES["quantower"],
    no_args_is_help=True,
)


@app.callback()
def quantower() -> None:
    """Quantower has no network API: a C# Strategy inside Quantower exports the accounts."""


@app.command(epilog=EXAMPLES["quantower bridge"])
def bridge(
    ctx: typer.Context,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", metavar="PATH", dir_okay=False,
                     help="Write the C# source to this file instead of stdout."),
    ] = None,
) -> None:
    """Print the BalanceCliBridge C# Strategy source (install steps go to stderr)."""
    from balancecli.cli.boundary import run
    from balancecli.cli.runtime import Runtime

    rt = Runtime(command_path=ctx.command_path)
    run(rt, lambda: _bridge(output))


def _bridge(output: Path | None) -> None:
    from balancecli.brokers.quantower.bridge import bridge_source, install_steps
    from balancecli.cli.boundary import UsageError

    source = bridge_source()
    if output is None:
        sys.stdout.write(source)
        sys.stdout.flush()
        sys.stderr.write("\n" + install_steps() + "\n")
        return
    path = output.expanduser()
    try:
        path.write_text(source, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror}", option="--output") from None
    sys.stderr.write(f"wrote {path}\n\n" + install_steps(str(path)) + "\n")


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="quantower")
