"""The console script's entry point: what can be answered before Typer is imported is.

- ``balancecli --version`` (or ``-V``), exactly that: the version, as the Typer app prints it.
- A completion script calling back (``_BALANCECLI_COMPLETE`` set): answered from the generated
  completion table (``fastshells``/``fastcomplete``), the dynamic candidates by ``complete.py``.

Importing Typer and building the command tree is most of a short run (about 110 ms of a 200 ms
Tab press here); anything else, and anything the fast paths do not model, goes to the Typer
app (``app.main``) unchanged.
"""

from __future__ import annotations

import os
import sys

COMPLETE_VAR = "_BALANCECLI_COMPLETE"  # set by the completion scripts (completions/)
VERSION_ARGS = (["--version"], ["-V"])
EXIT_BROKEN_PIPE = 141


def main() -> None:
    if os.environ.get(COMPLETE_VAR):
        code = complete()
        if code is not None:
            sys.exit(code)
    elif sys.argv[1:] in VERSION_ARGS:
        sys.exit(version())
    import gc

    # Importing Typer and the command tree creates ~10^5 objects that live as long as the
    # process: the collector would pass over them some 60 times during the import, and once
    # more, all of them, right after it. Frozen, they are never walked; the run's own garbage
    # is collected as usual (usage.run freezes what it builds in the same way).
    gc.disable()
    try:
        from balancecli.cli.app import main as app_main
    finally:
        gc.freeze()
        gc.enable()
    app_main()


def version() -> int:
    from balancecli import __version__

    if sys.stdout is None:  # started with stdout closed: nothing to print to, as for Typer
        return 0
    try:
        sys.stdout.write(f"balancecli {__version__}\n")
        sys.stdout.flush()
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    return 0


def complete() -> int | None:
    """The exit code of a Tab answered here, or None: Typer answers it (``source_bash``, a
    shell or a construct the table does not model, or a bug here: never a traceback on Tab)."""
    try:
        from balancecli.cli import fastshells
        from balancecli.cli.completion_table import TABLE

        return fastshells.run(TABLE, os.environ, sys.stdout)
    except Exception:  # noqa: BLE001 - Fallback, or anything unforeseen: Typer decides
        return None
