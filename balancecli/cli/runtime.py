"""What every command shares: global options, output streams, profile selection (config or
``--demo``), fetching, and the one error boundary that turns errors into lines and exit codes.

Commands stay thin: options -> ``Runtime`` -> fetch -> render -> ``finish``.
"""

from __future__ import annotations

import contextlib
import enum
import os
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from balancecli.core.errors import (
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    BalanceCliError,
    ConfigError,
    exit_code_for,
)

EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, what the shell reports for a reader that went away

NEXT_STEPS = {
    "auth": "run: balancecli auth login {profile}",
    "config": "check the config file (run: balancecli profile show {profile})",
    "unavailable": "check the network and try again (add -v to see each request)",
    "rate_limited": "wait a few minutes and try again",
    "stale": "check that the balancecli bridge Strategy is running in Quantower",
    "bad_response": "try again; if it persists, report it with the output of --debug -v",
    "broker_error": "check the account at the broker (add -v to see each request)",
}


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


@dataclass
class Runtime:
    config: Path | None = None
    demo: bool = False
    verbose: bool = False
    debug: bool = False
    no_color: bool = False
    quiet: bool = False  # -q: no summaries, no warnings (but urgent ones), no notes; errors print
    # How tables look (set by the commands that take --wide, --exact, --utc).
    wide: bool = False
    exact: bool = False
    utc: bool = False
    columns: list[str] | None = None  # --columns, checked
    _stderr_lock: threading.Lock = field(default_factory=threading.Lock)
    _said: set[str] = field(default_factory=set)  # keys of the urgent warnings given
    _stack: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)
    _status: Any = None  # the spinner shown, paused while a prompt waits

    @classmethod
    def from_options(cls, ctx: Any, **local: Any) -> Runtime:
        """Merge options given after the command with those given before it."""
        g = ctx.find_object(Globals) or Globals()
        config = local.get("config")
        if config is not None and g.config is not None and _from_env(ctx, "config"):
            config = g.config  # `--config X cmd` beats BALANCECLI_CONFIG read again by cmd
        rt = cls(
            config=config or g.config,
            demo=bool(local.get("demo") or g.demo),
            verbose=bool(local.get("verbose") or g.verbose),
            debug=bool(local.get("debug") or g.debug),
            no_color=bool(local.get("no_color") or g.no_color),
            quiet=bool(local.get("quiet") or g.quiet),
        )
        if g.ignored_format:
            rt._note_ignored_format(ctx, g.ignored_format)
        return rt

    def _note_ignored_format(self, ctx: Any, value: str) -> None:
        """Say once that BALANCECLI_FORMAT=<export> did not apply, when the command has a
        --format it filled (its default was used instead)."""
        for param in getattr(ctx.command, "params", []):
            if getattr(param, "envvar", None) != "BALANCECLI_FORMAT":
                continue
            source = getattr(ctx, "get_parameter_source", lambda _: None)(param.name)
            if getattr(source, "name", "") != "DEFAULT":
                return  # -f given: nothing was ignored that matters
            command = ctx.command_path.partition(" ")[2] or ctx.info_name
            choices = [c.value for c in type(param.default)] if isinstance(
                param.default, enum.Enum) else []
            takes = f" takes {', '.join(choices)} and" if choices else ""
            self.note(f"note: BALANCECLI_FORMAT={value} is for balance and assets; {command}"
                      f"{takes} shows {getattr(param.default, 'value', param.default)}")
            return

    # -- output
    @property
    def color(self) -> bool:
        return (
            not self.no_color
            and "NO_COLOR" not in os.environ
            and os.environ.get("TERM") != "dumb"
            and sys.stdout.isatty()
        )

    def err(self, line: str, *, block: bool = False) -> None:
        """One line on stderr, secrets masked, control characters escaped (a broker's text
        cannot drive the terminal). ``block``: a multi-line text (a traceback), each line so."""
        from balancecli.core.redact import REDACTOR
        from balancecli.output.table import printable

        text = REDACTOR.redact(line)
        text = "\n".join(map(printable, text.split("\n"))) if block else printable(text)
        with self._stderr_lock:
            sys.stderr.write(text + "\n")
            sys.stderr.flush()

    def warn(self, message: str) -> None:
        """A warning on stderr; ``-q`` drops it unless it is ``secrets.Urgent`` (the next run
        fails without action)."""
        from balancecli.credentials import Urgent

        if isinstance(message, Urgent):
            with self._stderr_lock:
                if message.key in self._said:
                    return
                self._said.add(message.key)
        elif self.quiet:
            return
        self.err(f"warning: {message}")

    def note(self, message: str) -> None:
        """A remark on stderr about what was shown (not a problem); ``-q`` drops it."""
        if not self.quiet:
            self.err(message)

    def log(self, message: str) -> None:
        self.err(message)

    def out(self, text: str) -> None:
        """Data on stdout, secrets masked. On a terminal, control characters other than line
        breaks and tabs are escaped: a CSV or JSONL cell cannot drive the terminal either."""
        from balancecli.core.redact import REDACTOR

        text = REDACTOR.redact(text)
        if sys.stdout.isatty():
            from balancecli.output.table import printable

            text = "\n".join(
                "\t".join(map(printable, line.split("\t"))) for line in text.split("\n"))
        self._write(text)

    def _write(self, text: str) -> None:
        sys.stdout.write(text)
        sys.stdout.flush()

    @property
    def json_indent(self) -> int | None:
        """``-f json`` is indented for a person at a terminal, compact in a pipe."""
        return 2 if sys.stdout.isatty() else None

    def print_table(self, *tables: Any, wide: bool | None = None,
                    show_with: str = "--wide, --columns NAME,... or -f csv") -> list[Any]:
        """Render tables (``balancecli.table.Table``) one after the other, blank-line apart.

        On a terminal they fit its width; when columns had to be hidden, one line on stderr
        names them and how to see them. Returns the hidden columns. Off a terminal: no width
        limit, no colour, no trailing spaces.
        """
        from balancecli.core.redact import REDACTOR
        from balancecli.output.table import Table, render

        width = terminal_width() if sys.stdout.isatty() else None
        hidden: list[Any] = []
        parts = []
        for table in tables:
            if not isinstance(table, Table):
                parts.append(self._rich_text(table))
                continue
            rendered = render(table, width=width, color=self.color,
                              wide=self.wide if wide is None else wide)
            parts.append(rendered.text)
            hidden += [c for c in rendered.hidden if c.title not in {h.title for h in hidden}]
        self._write(REDACTOR.redact("\n".join(p for p in parts if p)))
        if hidden:  # -q drops it, like every note
            names = ", ".join(c.title for c in hidden)
            self.note(f"note: {len(hidden)} column{'s' if len(hidden) > 1 else ''} hidden to fit "
                     f"{width} columns: {names} (show them with {show_with})")
        return hidden

    def _rich_text(self, renderable: Any) -> str:
        """A Rich renderable as text (for callers not yet on ``balancecli.table``)."""
        from rich.console import Console

        if sys.stdout.isatty():
            console = Console(file=sys.stdout, no_color=not self.color, highlight=False)
        else:
            console = Console(file=sys.stdout, width=100_000, no_color=True,
                              color_system=None, highlight=False, soft_wrap=True)
        with console.capture() as capture:
            console.print(renderable)
        return "\n".join(line.rstrip() for line in capture.get().splitlines()) + "\n"

    @contextlib.contextmanager
    def spinner(self, message: str) -> Iterator[None]:
        if sys.stderr.isatty() and not self.verbose and not self.quiet:
            from rich.console import Console

            with Console(stderr=True).status(message) as status:
                self._status = status
                try:
                    yield
                finally:
                    self._status = None
        else:
            yield

    def pending(self, names: list[str]) -> None:
        """The spinner names the profiles still being fetched (who is slow)."""
        status = self._status
        if status is not None and names:
            shown = ", ".join(names[:4]) + (f" and {len(names) - 4} more" if len(names) > 4
                                             else "")
            status.update(f"Waiting for {shown}…")

    @contextlib.contextmanager
    def paused_spinner(self) -> Iterator[None]:
        """No spinner while a prompt waits for the user (it would redraw over the question)."""
        status = self._status
        if status is None:
            yield
            return
        status.stop()
        yield  # not drawn again when the prompt was cancelled: the run is ending
        status.start()

    def report(self, error: BalanceCliError) -> None:
        """One line naming the profile, what happened and the next step."""
        where = error.profile or "balancecli"
        if error.account_id:
            where += f" account {error.account_id}"
        status = f" (HTTP {error.http_status})" if error.http_status and \
            f"HTTP {error.http_status}" not in error.message else ""
        step = error.next_step or NEXT_STEPS.get(error.kind, "").format(
            profile=error.profile or "PROFILE")
        self.err(f"error: {where}: {error.message}{status}" + (f" — {step}" if step else ""))

    # -- profiles
    def open_demo(self, latency: float = 0.0) -> dict[str, Any]:
        from balancecli.demo import start_demo

        return start_demo(self._stack, latency=latency)

    def select(self, names: list[str] | None) -> tuple[list[Any], list[BalanceCliError],
                                                         dict[str, Any] | None]:
        """(profiles, selection errors, demo secret presets or None)."""
        from balancecli import config
        from balancecli.credentials import check_environment

        check_environment()  # a bad BALANCECLI_* tuning variable: exit 3 before any profile
        if self.demo:
            demos = self.open_demo()
            raw = {name: demo.settings for name, demo in demos.items()}
            presets = {name: demo.secrets for name, demo in demos.items()}
            profiles, errors = config.select(raw, names, Path("<demo>"))
            return profiles, list(errors), presets
        path = config.config_path(self.config)
        raw = config.load_profiles(path)
        profiles, errors = config.select(raw, names, path)
        return profiles, list(errors), None

    def close(self) -> None:
        self._stack.close()

    def exit_code(self, errors: list[BalanceCliError], anything_succeeded: bool) -> int:
        shown: list[BalanceCliError] = errors
        if any(type(e).__name__ == "KeyringUnavailable" for e in errors):
            from balancecli.credentials import merge_keyring_errors

            shown = merge_keyring_errors(errors)  # one line for every profile it stopped
        for error in shown:
            self.report(error)
        return exit_code_for(errors, anything_succeeded=anything_succeeded)


def _from_env(ctx: Any, name: str) -> bool:
    """Whether the command's option ``name`` was filled from its environment variable
    (by name: typer 0.29 vendors its own click)."""
    source = getattr(ctx, "get_parameter_source", lambda _: None)(name)
    return getattr(source, "name", "") == "ENVIRONMENT"


@contextlib.contextmanager
def boundary(rt: Runtime) -> Iterator[None]:
    """The one error boundary: expected errors -> a line and their exit code; anything else ->
    exit 1 (traceback only with --debug); Ctrl-C -> 130 at once."""
    import typer

    from balancecli.core import interrupt

    interrupt.install()  # SIGINT first stops every request in flight, then unwinds here
    try:
        yield
    except typer.Exit:
        raise
    except BalanceCliError as exc:
        if rt.debug:
            import traceback

            rt.err("".join(traceback.format_exception(exc)).rstrip(), block=True)
        rt.report(exc)
        rt.close()
        raise typer.Exit(exc.exit_code) from None
    except BrokenPipeError:
        # The reader went away (`| head`): stop quietly, as a tool killed by SIGPIPE does.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # nothing more to flush at exit
        raise typer.Exit(EXIT_BROKEN_PIPE) from None
    except KeyboardInterrupt:
        # The main thread has unwound (a snapshot transaction rolled back on the way); worker
        # threads may be mid-request: stop them, say so, and exit without waiting for them.
        interrupt.cancel()
        with contextlib.suppress(Exception):
            rt.err("interrupted")
            sys.stdout.flush()
        os._exit(EXIT_INTERRUPTED)
    except Exception as exc:
        if rt.debug:
            import traceback

            rt.err("".join(traceback.format_exception(exc)).rstrip(), block=True)
        else:
            rt.err(f"error: internal error ({type(exc).__name__}); this is a bug — run again "
                   "with --debug for the traceback and report it")
        rt.close()
        raise typer.Exit(EXIT_INTERNAL) from None
    finally:
        rt.close()


def terminal_width() -> int:
    """Columns of the terminal on stdout (``COLUMNS`` wins, as for every Unix tool)."""
    import shutil

    return max(shutil.get_terminal_size((80, 24)).columns, 20)


def no_match_error(account_ids: list[str]) -> ConfigError:
    return ConfigError(
        f"no account matches --account {', '.join(account_ids)}",
        next_step="run: balancecli accounts (to list the account ids)",
    )


def no_currency_error(currency: str, fetched: list[Any], key: str) -> ConfigError:
    """``--currency`` matched nothing: name what was fetched (exit 3, as an unmatched -a)."""
    seen = sorted({str(getattr(r, key)).upper() for r in fetched if getattr(r, key, None)})
    what = "asset" if key == "asset" else "balance"
    return ConfigError(
        f"no {what} in {currency} (--currency); fetched: " + (", ".join(seen) or "nothing"),
        next_step="run again without --currency to see everything",
    )
