"""``balancecli help [COMMAND...]``: the help of a command, as ``balancecli COMMAND... --help``.

The way in builds only the command the arguments name (``cli.usage``), here ``help`` alone; so
this command builds the whole tree again from the root app (handed over by ``register``), checks
that the words name a command (an unknown one is the usual one-line usage error, with the
close name), and runs the root with ``--help`` after them, so that the page is exactly the one
``--help`` shows.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from balancecli.cli.commands.options import examples


def register(root: typer.Typer) -> None:
    @root.command("help", epilog=examples("balancecli help", "balancecli help auth login"))
    def help_(
        ctx: typer.Context,
        command: Annotated[list[str] | None, typer.Argument(
            metavar="COMMAND", help="A command, e.g. balance or auth login.",
            show_default=False)] = None,
    ) -> None:
        """Show the help of balancecli or of a command (as COMMAND --help)."""
        from balancecli.cli.boundary import run
        from balancecli.cli.runtime import Runtime

        run(Runtime(command_path=ctx.command_path), lambda: _show(root, list(command or [])))


def _show(root: typer.Typer, words: list[str]) -> None:
    from balancecli.cli.boundary import UsageError
    from balancecli.core.suggest import did_you_mean

    tree = typer.main.get_command(root)
    node: Any = tree
    for word in words:
        known = getattr(node, "commands", None) or {}
        if word not in known:
            where = " ".join(["balancecli", *words[: words.index(word)]])
            raise UsageError(f"{where} has no command {word!r}"
                             + did_you_mean(word, [n for n in known if n != "help"]))
        node = known[word]
    tree.main(args=[*words, "--help"], prog_name="balancecli", standalone_mode=False)
