"""The one error boundary: what a run ends with becomes lines on stderr and one exit code.

Exit codes are decided here and nowhere else:

- 0: everything asked for was done;
- 1: an unexpected exception, a bug (the traceback only with ``--debug``);
- 2: a usage error, Typer's (a bad option value, an unknown option, a missing argument) or
  ours (``UsageError``): always one line, ``error: ... (run: balancecli CMD --help)``;
- 3 to 6: a ``BalanceCliError``, its ``exit_code`` (config, auth, temporary, bad response);
- 7: some profiles or accounts failed and the rest were shown, or what was shown is
  incomplete (an ``--in`` total that misses an account) (``Ending``);
- 130: Ctrl-C, or Ctrl-D at a question (``Interrupted``);
- 141: the reader of stdout went away (``| head``); nothing more is said;
- a write on stdout that fails otherwise (``output.console.StdoutError``, from whatever wrote,
  up to the last flush before exit): one line, 5 (the disk is full, an I/O error: free space
  and run again), or 2 when stdout is closed or not open for writing (how it was started).

Commands run their body through ``run``; the body returns an ``Ending`` (the errors of the
profiles and whether anything succeeded) or None, and raises for everything else. Typer's own
parsing errors, before any command runs, come through ``entry``.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NoReturn, Protocol

from balancecli.core.errors import (
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    EXIT_PARTIAL,
    EXIT_TEMPORARY,
    EXIT_USAGE,
    BalanceCliError,
    exit_code_for,
)

if TYPE_CHECKING:
    from balancecli.output.console import Console

EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, what the shell reports for a reader that went away


class UsageError(Exception):
    """A command line that cannot run as given: one line, exit 2, before anything is fetched
    where possible. ``option`` (``--at``) is named first: ``error: --at: ...``."""

    def __init__(self, message: str, *, option: str | None = None) -> None:
        super().__init__(message)
        self.message = f"{option}: {message}" if option else message


class Interrupted(Exception):
    """The user stopped the run (Ctrl-D at a question): its one line, exit 130."""


@dataclass
class Ending:
    """How a command ended: the errors to report and whether anything succeeded (0, 7 or the
    worst error's code). ``shown``: the errors are already on screen (the ``--watch`` frame).
    ``partial``: nothing failed, but what was shown is incomplete (said on stderr): exit 7."""

    errors: Sequence[BalanceCliError] = field(default_factory=list)
    anything_succeeded: bool = True
    shown: bool = False
    partial: bool = False


class Run(Protocol):
    """What the boundary needs of a run (``cli.runtime.Runtime``)."""

    console: Console
    debug: bool
    command_path: str

    def close(self) -> None: ...


def usage_line(message: str, command_path: str) -> str:
    return f"error: {message} (run: {command_path} --help)"


def report(run: Run, errors: Sequence[BalanceCliError]) -> None:
    """One line per error; profiles stopped by the same unusable keyring share one line."""
    shown: Sequence[BalanceCliError] = errors
    if any(type(e).__name__ == "KeyringUnavailable" for e in errors):
        from balancecli.credentials import merge_keyring_errors

        shown = merge_keyring_errors(errors)
    for error in shown:
        correct(error)
        run.console.report(error)


# -- next steps: a command to run, as it works from where the user is ----------------------------
#
# Next steps are written where an error is raised, as plain commands (``run: balancecli auth
# status work``); that code does not know how the run was started. The run's console passes
# every line through ``with_flags`` (``cli.runtime``), so that a suggested command repeats the
# global options that change what it sees, and works when pasted as printed.

# The top-level commands but a broker's own (which print its files: nothing to repeat for
# them); tests/unit/cli/test_next_steps.py checks the list against the app.
COMMANDS = frozenset({"accounts", "balance", "assets", "snapshot", "history", "doctor", "schema",
                      "auth", "profile", "rates", "help"})
# Commands that read neither the config nor the demo (nor do a broker's own files): as they are.
UNCONFIGURED = frozenset({"schema", "help"})


@dataclass(frozen=True)
class Flags:
    """The global options given on the command line that a suggested command must repeat:
    ``--demo`` and ``--config PATH`` (a config from ``BALANCECLI_CONFIG`` is still in the
    environment of the next command, so it is not repeated)."""

    demo: bool = False
    config: str | None = None

    def __bool__(self) -> bool:
        return self.demo or self.config is not None


def with_flags(text: str, flags: Flags) -> str:
    """``text`` with the run's global flags after each ``balancecli COMMAND`` it names,
    unless that command already has them: ``run: balancecli --config other.toml auth status
    work``. Paths are quoted for a shell (``shlex.quote``)."""
    if not flags or "balancecli " not in text:
        return text
    import re
    import shlex

    names = "|".join(sorted(COMMANDS - UNCONFIGURED, key=len, reverse=True))
    # "is not a balancecli history database" names no command: not after an article.
    pattern = re.compile(rf"(?<![\w./-])(?<!\ba )(?<!\ban )(?<!\bthe )balancecli "
                         rf"(?=(?:{names})(?![\w-]))")

    def insert(match: re.Match[str]) -> str:
        rest = re.split(r"[();]| && | — |, or |balancecli ", text[match.end():], maxsplit=1)[0]
        if "--help" in rest:
            return match.group(0)  # the same page whatever the flags: as it is
        added = []
        if flags.demo and "--demo" not in rest:
            added.append("--demo")
        if flags.config is not None and "--config" not in rest and "--demo" not in rest:
            added += ["--config", shlex.quote(flags.config)]
        return "balancecli " + "".join(f"{word} " for word in added)

    return pattern.sub(insert, text)


def correct(error: BalanceCliError) -> None:
    """A name typed close to a known one (``-p tss``): the next step is the command as typed
    with the name corrected (``run: balancecli balance -p ts``), when argv holds it."""
    if error.retry_with is None:
        return
    import shlex

    typed, meant = error.retry_with
    argv, changed = [], 0
    for arg in sys.argv[1:]:
        for form in ("{}", "--profile={}", "-p{}"):
            if arg == form.format(typed):
                arg, changed = form.format(meant), changed + 1
                break
        argv.append(arg)
    if changed:
        error.next_step = "run: " + shlex.join(["balancecli", *argv])


def finish(run: Run, ending: Ending | None) -> int:
    """Report the errors of ``ending`` and return its exit code."""
    if ending is None:
        return 0
    if not ending.shown:
        report(run, ending.errors)
    code = exit_code_for(list(ending.errors), anything_succeeded=ending.anything_succeeded)
    return EXIT_PARTIAL if code == 0 and ending.partial else code


def run(rt: Run, body: Callable[[], Ending | None]) -> NoReturn:
    """Run a command's body and exit with the code of how it ended."""
    import typer

    raise typer.Exit(outcome(rt, body))


def outcome(rt: Run, body: Callable[[], Ending | None]) -> int:
    """The exit code of ``body``, its errors reported; Ctrl-C exits 130 at once."""
    from balancecli.core import interrupt

    interrupt.install()  # SIGINT first stops every request in flight, then unwinds here
    try:
        return finish(rt, body())
    except Exception as exc:
        return code_of(rt, exc)
    except KeyboardInterrupt:
        _interrupted(rt)
    finally:
        rt.close()


@contextlib.contextmanager
def guarded(rt: Run) -> Iterator[None]:
    """The same boundary around a block that ends itself (``raise typer.Exit(code)``)."""
    import typer

    from balancecli.core import interrupt

    interrupt.install()
    try:
        yield
    except typer.Exit:
        raise
    except Exception as exc:
        raise typer.Exit(code_of(rt, exc)) from None
    except KeyboardInterrupt:
        _interrupted(rt)
    finally:
        rt.close()


def code_of(rt: Run, exc: Exception) -> int:
    """The one line (if any) and the exit code of what ended a run."""
    import typer

    from balancecli.credentials.prompts import Cancelled

    if isinstance(exc, typer.Exit):  # --version, and commands that still end themselves
        return int(exc.exit_code)
    if isinstance(exc, UsageError):
        rt.console.err(usage_line(exc.message, rt.command_path))
        return EXIT_USAGE
    if isinstance(exc, BalanceCliError):
        _traceback(rt, exc)
        correct(exc)
        rt.console.report(exc)
        return exc.exit_code
    if isinstance(exc, (Interrupted, Cancelled)):
        rt.console.err(str(exc) or "cancelled")
        return EXIT_INTERRUPTED
    if isinstance(exc, BrokenPipeError):
        # The reader went away (`| head`): stop quietly, as a tool killed by SIGPIPE does.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # nothing more to flush at exit
        return EXIT_BROKEN_PIPE
    from balancecli.output.console import StdoutError

    if isinstance(exc, StdoutError):
        return stdout_failed(exc, rt.console.err)
    if not _traceback(rt, exc):
        rt.console.err("error: internal error; this is a bug — run again with --debug for the "
                       "traceback and report it")
    return EXIT_INTERNAL


def _traceback(rt: Run, exc: BaseException) -> bool:
    if rt.debug:
        import traceback

        rt.console.err("".join(traceback.format_exception(exc)).rstrip(), block=True)
    return rt.debug


def _interrupted(rt: Run) -> NoReturn:
    """Ctrl-C: the main thread has unwound (a snapshot transaction rolled back on the way);
    worker threads may be mid-request: stop them, say so, and exit without waiting for them."""
    from balancecli.core import interrupt

    interrupt.cancel()
    with contextlib.suppress(Exception):
        rt.console.err("interrupted")
        sys.stdout.flush()
    os._exit(EXIT_INTERRUPTED)


# -- before a command runs: Typer's parsing ----------------------------------------------------


def entry(command: Any) -> int:
    """Run the root command as the console script does; the exit code of what happened,
    stdout flushed (a write that fails, up to that last flush, is one line: ``stdout_failed``)."""
    from balancecli.output.console import StdoutError, guard_stdio

    guard_stdio()
    try:
        code = _entry(command)
        sys.stdout.flush()
    except StdoutError as exc:  # --help, --version: before a command's boundary, or the last
        return stdout_failed(exc, _say)
    return code


def _entry(command: Any) -> int:
    import typer

    try:
        code = command.main(prog_name="balancecli", standalone_mode=False)
    except typer.TyperException as exc:  # Typer's (vendored Click's) usage errors
        from balancecli.cli.typer_internals import usage_error_kind

        if usage_error_kind(exc) != "no_args_help":  # else the help is already printed
            _say(describe(exc))
        return EXIT_USAGE
    except (typer.Abort, KeyboardInterrupt):
        # Click turns a Ctrl-C (or Ctrl-D at one of its prompts) before a command's own
        # boundary into Abort: still an interruption (exit 130), not an internal error.
        _say("interrupted")
        return EXIT_INTERRUPTED
    return code if isinstance(code, int) else 0


def _say(line: str) -> None:
    with contextlib.suppress(OSError, ValueError):  # a stderr that cannot be written
        sys.stderr.write(line + "\n")
        sys.stderr.flush()


def stdout_failed(exc: Any, say: Callable[[str], None]) -> int:
    """The one line and exit code of a failed write on stdout (an ``output.console.
    StdoutError``): a reader gone is 141 and silent; a closed stdout is 2 (how the command was
    started); anything else, a full disk first, 5: free space and run again. Requests still in
    flight are stopped, and what is still buffered is dropped (the flush at exit is silent)."""
    import errno

    from balancecli.core import interrupt
    from balancecli.output.console import discard_stdout

    interrupt.cancel()
    discard_stdout()
    if exc.errno == errno.EPIPE:
        return EXIT_BROKEN_PIPE
    if exc.errno == errno.EBADF:
        say("error: balancecli: stdout is closed (or not open for writing), so the output has "
            "nowhere to go — run it with stdout open: > FILE, or > /dev/null to discard it")
        return EXIT_USAGE
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        step = "free some disk space (or write somewhere else) and run again"
    else:
        step = "check where stdout goes and run again"
    say(f"error: balancecli: cannot write the output to stdout: {exc.strerror} — {step}")
    return EXIT_TEMPORARY


def describe(exc: Any) -> str:
    """The one line for a Typer/Click usage error, in our words: the option, what is wrong and
    where the help is (``error: --format: 'xml' is not one of table, json, ... (run: balancecli
    balance --help)``), instead of Typer's box with pydantic's wording."""
    from balancecli.output.table import printable

    ctx = getattr(exc, "ctx", None)
    path = ctx.command_path if ctx is not None else "balancecli"
    return printable(usage_line(_message(exc, ctx), path))


def _option_name(param: Any) -> str:
    opts = [o for o in getattr(param, "opts", []) if o.startswith("--")]
    if opts:
        return str(opts[0])
    if getattr(param, "param_type_name", "") == "argument":
        return str(param.metavar or param.name or "argument").upper()
    return str((getattr(param, "opts", None) or [param.name])[0])


def _from_env(ctx: Any, param: Any) -> str | None:
    """The environment variable the bad value came from, if it did."""
    from balancecli.cli.typer_internals import parameter_source

    if ctx is None or parameter_source(ctx, param.name) != "ENVIRONMENT":
        return None
    envvar = param.envvar
    return envvar if isinstance(envvar, str) else ", ".join(envvar)


def _message(exc: Any, ctx: Any) -> str:
    from balancecli.cli.typer_internals import usage_error_kind

    kind = usage_error_kind(exc)
    param = getattr(exc, "param", None)
    if kind == "missing" and param is not None:
        return f"missing {param.param_type_name} {_option_name(param)}"
    if kind in ("missing", "bad_parameter") and param is not None:
        name = _option_name(param)
        env = _from_env(ctx, param)
        if env:
            name = f"{env} (for {name})"
        cause = exc.__cause__
        if cause is not None and hasattr(cause, "errors"):
            return f"{name}: {_validation(cause.errors()[0], param)}"
        return f"{name}: {exc.message}"
    if kind in ("missing", "bad_parameter") and exc.param_hint:
        return f"{exc.param_hint}: {exc.message}"
    if kind == "no_such_option":
        possible = getattr(exc, "possibilities", None)
        hint = f"; did you mean {' or '.join(sorted(possible))}?" if possible else ""
        return f"no such option {exc.option_name}{hint}"
    text = str(exc.format_message() if hasattr(exc, "format_message") else exc).rstrip(".")
    return text[:1].lower() + text[1:]


def _validation(error: dict[str, Any], param: Any) -> str:
    """pydantic's first error, in our words."""
    from balancecli.cli.typer_internals import choices_of

    kind = str(error.get("type", ""))
    value = error.get("input")
    given = f"got {value}" if value is not None else "got nothing"
    limits = error.get("ctx") or {}
    seconds = param.metavar == "SECONDS"
    unit = " seconds" if seconds else ""
    if kind in ("greater_than_equal", "greater_than"):
        bound = limits.get("ge", limits.get("gt"))
        word = "at least" if kind == "greater_than_equal" else "more than"
        return f"must be {word} {bound}{unit}, {given}"
    if kind in ("less_than_equal", "less_than"):
        bound = limits.get("le", limits.get("lt"))
        word = "at most" if kind == "less_than_equal" else "less than"
        return f"must be {word} {bound}{unit}, {given}"
    if kind.startswith("int_"):
        return f"takes a whole number, {given}"
    if kind.startswith(("float_", "decimal_")):
        return f"takes a number{' of seconds' if seconds else ''}, {given}"
    choices = choices_of(param)
    if choices:
        return f"{value!r} is not one of {', '.join(choices)}"
    if kind.startswith("bool"):
        return f"takes true or false, {given}"
    return f"invalid value {value!r}"
