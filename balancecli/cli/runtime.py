"""The options of one run: those given before the command merged with those given after it,
the run's console (``output.console``) and what must be closed when it ends (the demo brokers).

Each concern has its own module: the terminal is ``output.console``, which profiles a run
uses is ``cli.profiles``, how a run ends (lines and exit codes) is ``cli.boundary``. A
``Runtime`` only carries them for the command; its few methods hand over to them.
"""

from __future__ import annotations

import contextlib
import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from balancecli.cli.boundary import Flags, with_flags
from balancecli.cli.boundary import guarded as boundary  # the boundary as a with-block
from balancecli.output.console import Console

__all__ = ["Globals", "Runtime", "boundary"]

if TYPE_CHECKING:
    from balancecli.cli.profiles import Selection
    from balancecli.core.errors import BalanceCliError


@dataclass
class Globals:
    """Options accepted before the command (``balancecli --demo balance``)."""

    config: Path | None = None
    demo: bool = False
    verbose: bool = False
    debug: bool = False
    no_color: bool = False
    quiet: bool = False
    ignored_format: str | None = None  # BALANCECLI_FORMAT naming an export this command lacks


class RunConsole(Console):
    """The console of a run: a command named on stderr (a next step, a hint) repeats the global
    flags the run was given (``cli.boundary.with_flags``), so that it works as printed."""

    def __init__(self, *, flags: Flags = Flags(), no_color: bool = False, quiet: bool = False,
                 verbose: bool = False) -> None:
        super().__init__(no_color=no_color, quiet=quiet, verbose=verbose)
        self.flags = flags

    def err(self, line: str, *, block: bool = False) -> None:
        super().err(with_flags(line, self.flags), block=block)


def given_flags(ctx: Any, demo: bool, config: Path | None) -> Flags:
    """The global flags of this run that came from the command line (before the command or
    after it), as a next step must repeat them."""
    from balancecli.cli.typer_internals import parameter_source

    given = None
    node = ctx
    while node is not None and config is not None:
        params = getattr(node, "params", {}) or {}
        if params.get("config") == config and parameter_source(node, "config") == "COMMANDLINE":
            given = str(config)
            break
        node = node.parent
    return Flags(demo=demo, config=given)


@dataclass
class Runtime:
    config: Path | None = None
    demo: bool = False
    verbose: bool = False
    debug: bool = False
    no_color: bool = False
    quiet: bool = False  # -q: no summaries, no warnings (but urgent ones), no notes; errors print
    command_path: str = "balancecli"  # "balancecli balance": where a usage error's help is
    # How tables look (set by the commands that take --wide, --exact, --utc).
    wide: bool = False
    exact: bool = False
    utc: bool = False
    columns: list[str] | None = None  # --columns, checked
    console: Console = field(default_factory=Console)
    stack: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)

    @classmethod
    def from_options(cls, ctx: Any, **local: Any) -> Runtime:
        """Merge options given after the command with those given before it."""
        from balancecli.cli.typer_internals import parameter_source

        g = ctx.find_object(Globals) or Globals()
        config = local.get("config")
        if config is not None and g.config is not None and \
                parameter_source(ctx, "config") == "ENVIRONMENT":
            config = g.config  # `--config X cmd` beats BALANCECLI_CONFIG read again by cmd
        quiet = bool(local.get("quiet") or g.quiet)
        verbose = bool(local.get("verbose") or g.verbose)
        no_color = bool(local.get("no_color") or g.no_color)
        config, demo = config or g.config, bool(local.get("demo") or g.demo)
        console = RunConsole(flags=given_flags(ctx, demo, config), no_color=no_color,
                             quiet=quiet, verbose=verbose)
        rt = cls(config=config, demo=demo, verbose=verbose,
                 debug=bool(local.get("debug") or g.debug), no_color=no_color, quiet=quiet,
                 command_path=getattr(ctx, "command_path", "") or "balancecli", console=console)
        if g.ignored_format:
            rt._note_ignored_format(ctx, g.ignored_format)
        return rt

    def _note_ignored_format(self, ctx: Any, value: str) -> None:
        """Say once that BALANCECLI_FORMAT=<export> did not apply, when the command has a
        --format it filled (its default was used instead)."""
        from balancecli.cli.typer_internals import parameter_source

        for param in getattr(ctx.command, "params", []):
            if getattr(param, "envvar", None) != "BALANCECLI_FORMAT":
                continue
            if parameter_source(ctx, param.name) != "DEFAULT":
                return  # -f given: nothing was ignored that matters
            command = ctx.command_path.partition(" ")[2] or ctx.info_name
            choices = [c.value for c in type(param.default)] if isinstance(
                param.default, enum.Enum) else []
            takes = f" takes {', '.join(choices)} and" if choices else ""
            self.note(f"note: BALANCECLI_FORMAT={value} is for balance and assets; {command}"
                      f"{takes} shows {getattr(param.default, 'value', param.default)}")
            return

    # -- the console's lines, for the commands
    def out(self, text: str) -> None:
        self.console.out(text)

    def err(self, line: str) -> None:
        self.console.err(line)

    def warn(self, message: str) -> None:
        self.console.warn(message)

    def note(self, message: str) -> None:
        self.console.note(message)

    def log(self, message: str) -> None:
        self.console.log(message)

    @property
    def json_indent(self) -> int | None:
        return self.console.json_indent

    @property
    def color(self) -> bool:
        return self.console.color

    # -- profiles and the end of the run
    def select(self, names: list[str] | None) -> tuple[list[Any], list[BalanceCliError],
                                                         dict[str, Any] | None]:
        """(profiles, selection errors, demo secret presets or None)."""
        found = self.selection(names)
        return found.profiles, found.errors, found.presets

    def selection(self, names: list[str] | None) -> Selection:
        from balancecli.cli.profiles import select

        return select(names, demo=self.demo, config=self.config, stack=self.stack)

    def exit_code(self, errors: Sequence[BalanceCliError], anything_succeeded: bool) -> int:
        """Report ``errors`` and return the run's exit code (``cli.boundary.finish``)."""
        from balancecli.cli.boundary import Ending, finish

        return finish(self, Ending(errors, anything_succeeded))

    def close(self) -> None:
        self.stack.close()
