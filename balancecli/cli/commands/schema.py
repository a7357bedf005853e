"""``balancecli schema [NAME]``: the JSON Schema (draft 2020-12) of each JSON document the tool
prints. Without NAME: the names, one per line, with the command that prints each. ``balance``
is short for ``balancecli.balance/1``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from balancecli.cli import complete
from balancecli.cli.commands.options import DebugOpt, NoColorOpt, VerboseOpt, runtime

if TYPE_CHECKING:
    from balancecli.cli.runtime import Runtime


def schema(
    ctx: typer.Context,
    name: Annotated[str | None, typer.Argument(
        metavar="NAME", help="Document name, e.g. balancecli.balance/1 (or just: balance).",
        show_default=False, autocompletion=complete.complete_schema)
    ] = None,
    verbose: VerboseOpt = False, debug: DebugOpt = False, no_color: NoColorOpt = False,
) -> None:
    """Print the JSON Schema of a JSON document (no NAME: list them)."""
    from balancecli.cli.boundary import run

    rt = runtime(ctx, verbose=verbose, debug=debug, no_color=no_color)
    run(rt, lambda: _show(rt, name))


def _show(rt: Runtime, name: str | None) -> None:
    import json

    from balancecli.cli.boundary import UsageError
    from balancecli.output import schemas

    if name is None:
        width = max(len(n) for n in schemas.NAMES)
        rt.out("".join(f"{n:<{width}}  {schemas.SCHEMAS[n]['description']}\n"
                       for n in schemas.NAMES))
        return
    found = schemas.get(name)
    if found is None:
        raise UsageError(f"unknown schema {name!r} (valid: {', '.join(schemas.NAMES)})")
    rt.out(json.dumps(found, indent=2, ensure_ascii=False) + "\n")


def register(app: typer.Typer) -> None:
    from balancecli.cli.commands.examples import EXAMPLES

    app.command(epilog=EXAMPLES["schema"])(schema)
