"""The console script's way in: build only the command the arguments name, give its options
their fast converters, and run it through the boundary (``cli.boundary.entry``), which turns
Typer's usage errors into one line in our words and decides the exit code.
"""

from __future__ import annotations

import sys
from typing import Any

import typer


def run(app: typer.Typer) -> None:
    """Run the root app (the console script's entry point); exits with the command's code."""
    import gc
    import os

    from balancecli.cli.boundary import entry
    from balancecli.cli.typer_internals import install_coercion

    command = typer.main.get_command(only_invoked(app, sys.argv[1:]))
    install_coercion(command)  # option values without pydantic on the common path
    if COMPLETE_VAR in os.environ or any(
            arg.startswith(("--show-completion", "--install-completion")) for arg in sys.argv):
        from balancecli.cli.complete import use_bash_script

        use_bash_script()  # ids with ":" complete in bash too (complete.py)
    # The modules and the command tree live as long as the process: the collector need not
    # walk them again, during the run (a full collection over ~10^5 objects) or when the
    # interpreter exits (30-40 ms of a 0.4 s run). Cyclic garbage of the run is still collected.
    gc.freeze()
    try:
        code = entry(command)
    finally:
        gc.freeze()  # at exit, nothing is left that needs collecting before the OS frees it
    sys.exit(code)


COMPLETE_VAR = "_BALANCECLI_COMPLETE"  # set by the completion scripts when they call back
_ROOT_VALUED = frozenset({"--config"})  # the root's options that take a value
_ROOT_WHOLE = frozenset({"-h", "--help", "--version", "--install-completion",
                         "--show-completion", "--"})


def only_invoked(app: typer.Typer, args: list[str]) -> Any:
    """``app`` with only the command or group that ``args`` name, when they plainly name one.

    Typer builds the Click command of every command and group before parsing (about 20 ms
    for all of ours); a run needs one. Anything unusual (help or version at the root, shell
    completion, no command, an unknown name) gets the whole app, so its messages are unchanged.
    """
    import os

    from balancecli.cli.typer_internals import only_named

    if COMPLETE_VAR in os.environ:
        return app  # a completion script asking: it may ask about any command
    name, skip = None, False
    for arg in args:
        if skip:
            skip = False
        elif arg in _ROOT_WHOLE:
            return app
        elif arg.startswith("-"):
            skip = arg in _ROOT_VALUED
        else:
            name = arg
            break
    if name is None:
        return app
    return only_named(app, name) or app
