"""``balancecli BROKER NAME``: the files a broker ships to be installed on its side.

Which brokers ship which files is declared by the brokers themselves and found through the
registry (``brokers.commands``); this module only makes each a command: print the file, or
write it with ``-o PATH``, and show its install steps on stderr. It names no broker.
"""

# No ``from __future__ import annotations``: each command's option is built from its file's
# declaration at run time, and Typer reads the annotations of the function it is given.

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from balancecli import brokers
from balancecli.brokers.shipped import ShippedFile
from balancecli.cli.commands.options import examples


def _write(shipped: ShippedFile, output: Path | None) -> None:
    from balancecli.cli.boundary import UsageError

    source = shipped.content()
    if output is None:
        sys.stdout.write(source)
        sys.stdout.flush()
        sys.stderr.write("\n" + shipped.steps(None) + "\n")
        return
    path = output.expanduser()
    try:
        path.write_text(source, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror}", option="--output") from None
    sys.stderr.write(f"wrote {path}\n\n" + shipped.steps(str(path)) + "\n")


def _command(shipped: ShippedFile) -> Callable[..., None]:
    def command(
        ctx: typer.Context,
        output: Annotated[
            Path | None,
            typer.Option("--output", "-o", metavar="PATH", dir_okay=False,
                         help=f"Write {shipped.what} to this file instead of stdout."),
        ] = None,
    ) -> None:
        from balancecli.cli.boundary import run
        from balancecli.cli.runtime import Runtime

        run(Runtime(command_path=ctx.command_path), lambda: _write(shipped, output))

    command.__doc__ = shipped.help
    command.__name__ = shipped.name
    return command


def register(root: typer.Typer) -> None:
    for broker, declared in brokers.commands():
        app = typer.Typer(help=declared.help, epilog=examples(*declared.examples),
                          no_args_is_help=True)
        for shipped in declared.files:
            app.command(name=shipped.name, epilog=examples(*shipped.examples))(
                _command(shipped))
        root.add_typer(app, name=broker)
