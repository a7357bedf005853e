"""``balancecli profile path``: the config file in use and where that choice came from.

The path alone goes to stdout, so ``$EDITOR "$(balancecli profile path)"`` works; where it came
from (``--config``, ``BALANCECLI_CONFIG`` or the default location) and whether the file exists
go to stderr. ``-f json`` prints all of it as ``balancecli.profile_path/1``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from balancecli.cli.commands.options import ConfigOpt, DebugOpt, NoColorOpt, VerboseOpt, runtime

if TYPE_CHECKING:
    from balancecli.cli.runtime import Runtime

SCHEMA = "balancecli.profile_path/1"
SOURCES = {"flag": "--config", "env": "BALANCECLI_CONFIG", "default": "the default location"}


def source_of(ctx: typer.Context, used: Any) -> str:
    """flag, env or default: how the value ``used`` reached the command (the option is
    accepted before the command and after it; click knows each one's source)."""
    from balancecli.cli.typer_internals import parameter_source

    node: Any = ctx
    while node is not None:
        if "config" in node.params and node.params["config"] is not None \
                and node.params["config"] == used:
            return "env" if parameter_source(node, "config") == "ENVIRONMENT" else "flag"
        node = node.parent
    return "default"


def path(
    ctx: typer.Context,
    fmt: Annotated[str, typer.Option(
        "--format", "-f", metavar="FORMAT", help="Output format: table or json.")] = "table",
    config: ConfigOpt = None, verbose: VerboseOpt = False, debug: DebugOpt = False,
    no_color: NoColorOpt = False,
) -> None:
    """Print the config file in use (and, on stderr, where that came from)."""
    from balancecli.cli.boundary import run

    rt = runtime(ctx, config=config, verbose=verbose, debug=debug, no_color=no_color)
    run(rt, lambda: _show(ctx, rt, fmt))


def _show(ctx: typer.Context, rt: Runtime, fmt: str) -> None:
    import json

    from balancecli import config as cfg
    from balancecli.cli.boundary import UsageError

    if fmt not in ("table", "json"):
        raise UsageError(f"{fmt!r} is not one of 'table', 'json'", option="--format")
    if rt.demo:
        raise UsageError("--demo uses no config file (its profiles are built in)")
    file = cfg.config_path(rt.config)
    source = source_of(ctx, rt.config) if rt.config else (
        "env" if _env_config() else "default")
    exists = file.is_file()
    if fmt == "json":
        rt.out(json.dumps({"schema": SCHEMA, "config": str(file), "source": source,
                           "exists": exists}, indent=rt.json_indent) + "\n")
        return
    rt.out(f"{file}\n")
    rt.err(f"from {SOURCES[source]}" + ("" if exists else "; the file does not exist yet "
                                         "(run: balancecli profile add NAME --broker BROKER)"))


def _env_config() -> bool:
    import os

    return bool(os.environ.get("BALANCECLI_CONFIG"))
