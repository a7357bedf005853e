"""The terminal of one run: data on stdout, everything else on stderr, one line at a time.

- ``out`` writes data (secrets masked; on a terminal, control characters other than line
  breaks and tabs escaped, so a CSV or JSONL cell cannot drive the terminal either).
- ``err`` writes one line on stderr (masked and escaped); ``warn`` and ``note`` are lines that
  ``-q`` drops (but an urgent warning: the next run fails without action, said once);
  ``log`` is a ``-v`` line; ``report`` is the one line of an error: the profile, what
  happened, the next step.
- ``print_tables`` draws tables that fit the terminal (``output.table``) and says once on
  stderr which columns were hidden; off a terminal nothing is hidden or coloured.
- ``spinner`` shows progress on stderr (only when stdout and stderr are a terminal), naming
  the profiles still being fetched; it pauses while a prompt waits.
- ``guard_stdio`` makes every failed write on stdout, whoever writes (a printer, Typer's
  ``--version``, Rich's ``--help``, the interpreter's last flush), one ``StdoutError`` that the
  error boundary turns into one line and its exit code; a text that cannot be encoded for
  stdout becomes ``?`` rather than an error.
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import sys
import threading
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from balancecli.core.errors import BalanceCliError
    from balancecli.output.table import Column, Table

NEXT_STEPS = {
    "auth": "run: balancecli auth login {profile}",
    "config": "check the config file (run: balancecli profile show {profile})",
    "unavailable": "check the network and try again (add -v to see each request)",
    "rate_limited": "wait a few minutes and try again",
    "stale": "check that the balancecli bridge Strategy is running in Quantower",
    "bad_response": "try again; if it persists, report it with the output of --debug -v",
    "broker_error": "check the account at the broker (add -v to see each request)",
}
TABLE_HINT = "--wide, --columns NAME,... or -f csv"  # how to see hidden columns


def error_line(error: BalanceCliError) -> str:
    """``error: PROFILE [account ID]: what happened (HTTP n) — the next step`` (unmasked)."""
    where = error.profile or "balancecli"
    if error.account_id:
        where += f" account {error.account_id}"
    status = f" (HTTP {error.http_status})" if error.http_status and \
        f"HTTP {error.http_status}" not in error.message else ""
    step = error.next_step or NEXT_STEPS.get(error.kind, "").format(
        profile=error.profile or "PROFILE")
    return f"error: {where}: {error.message}{status}" + (f" — {step}" if step else "")


class StdoutError(Exception):
    """A write on stdout failed (``errno``: EPIPE a reader gone, ENOSPC a full disk, EBADF
    stdout closed or not open for writing, ...). Not an OSError: nothing that handles a file's
    errors takes it for its own, and Typer does not turn a closed pipe into exit 1."""

    def __init__(self, error: OSError | None = None) -> None:
        self.errno = error.errno if error is not None and error.errno else errno.EBADF
        self.strerror = (error.strerror if error is not None and error.strerror
                         else os.strerror(self.errno))
        super().__init__(self.strerror)


class _Stdout(io.TextIOWrapper):
    """The process's stdout, each failed write or flush a StdoutError."""

    def write(self, text: str) -> int:
        try:
            return super().write(text)
        except OSError as exc:
            raise StdoutError(exc) from None

    def flush(self) -> None:
        try:
            super().flush()
        except OSError as exc:
            raise StdoutError(exc) from None


class _ClosedStdout(io.TextIOBase):
    """What stdout is when the process started without one (``>&-``): writing is an error."""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        raise StdoutError()

    def isatty(self) -> bool:
        return False


def guard_stdio() -> None:
    """Install ``_Stdout`` (or ``_ClosedStdout``) as ``sys.stdout``; a missing stderr becomes
    /dev/null (there is nowhere to say anything, the exit code still tells). Called once, by
    ``cli.boundary.entry``, before anything is written; a stdout that is not the process's own
    (a test's capture) is left as it is."""
    if sys.stderr is None:
        sys.stderr = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115 - for the run
    stdout = sys.stdout
    if stdout is None:
        # Keep fd 1 taken, so that no file or socket opened later becomes "stdout".
        with contextlib.suppress(OSError):
            fd = os.open(os.devnull, os.O_WRONLY)
            if fd != 1:
                os.dup2(fd, 1)
                os.close(fd)
        sys.stdout = _ClosedStdout()
        return
    if type(stdout) is not io.TextIOWrapper:
        return
    encoding, line_buffering = stdout.encoding, stdout.line_buffering
    write_through = stdout.write_through
    guarded = _Stdout(stdout.detach(), encoding=encoding, errors="replace",
                      line_buffering=line_buffering, write_through=write_through)
    sys.stdout = guarded
    setattr(sys, "__stdout__", guarded)  # noqa: B010 - the terminal size is read from it


def discard_stdout() -> None:
    """After a failed write: whatever is still buffered goes to /dev/null, so the flush at
    exit cannot fail again (the interpreter would say so and exit 120)."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


def terminal_width() -> int:
    """Columns of the terminal on stdout (``COLUMNS`` wins, as for every Unix tool)."""
    import shutil

    return max(shutil.get_terminal_size((80, 24)).columns, 20)


def hidden_note(hidden: Sequence[Column], width: int | None, show_with: str) -> str:
    """``note: 2 columns hidden to fit 80 columns: A, B (show them with ...)``."""
    names = ", ".join(c.title for c in hidden)
    return (f"note: {len(hidden)} column{'s' if len(hidden) > 1 else ''} hidden to fit "
            f"{width} columns: {names} (show them with {show_with})")


class Console:
    """stdout and stderr of a run; safe to call from worker threads."""

    def __init__(self, *, no_color: bool = False, quiet: bool = False,
                 verbose: bool = False) -> None:
        self.no_color = no_color
        self.quiet = quiet  # -q: no summaries, warnings (but urgent ones) or notes
        self.verbose = verbose  # -v: a line per request (and no spinner to fight them)
        self._lock = threading.Lock()
        self._said: set[str] = set()  # the warnings given (urgent ones by their key)
        self._status: Any = None  # the spinner shown, paused while a prompt waits

    # -- what the terminal is
    @property
    def is_terminal(self) -> bool:
        return sys.stdout.isatty()

    @property
    def color(self) -> bool:
        return (not self.no_color and "NO_COLOR" not in os.environ
                and os.environ.get("TERM") != "dumb" and self.is_terminal)

    @property
    def width(self) -> int | None:
        """The terminal's width on stdout, None off a terminal (no limit)."""
        return terminal_width() if self.is_terminal else None

    @property
    def json_indent(self) -> int | None:
        """``-f json`` is indented for a person at a terminal, compact in a pipe."""
        return 2 if self.is_terminal else None

    # -- stderr
    def err(self, line: str, *, block: bool = False) -> None:
        """One line on stderr, secrets masked, control characters escaped (a broker's text
        cannot drive the terminal). ``block``: a multi-line text (a traceback), each line so."""
        from balancecli.core.redact import REDACTOR
        from balancecli.output.table import printable

        text = REDACTOR.redact(line)
        text = "\n".join(map(printable, text.split("\n"))) if block else printable(text)
        with self._lock, contextlib.suppress(OSError, ValueError):
            # A stderr that cannot be written (2>/dev/full) leaves nowhere to say it; the
            # exit code still tells.
            sys.stderr.write(text + "\n")
            sys.stderr.flush()

    def warn(self, message: str) -> None:
        """A warning, said once per run (a fetch that reads a source twice warns twice);
        ``-q`` drops it unless it is urgent (a ``str`` with a ``key``: without action the
        next run fails)."""
        key = getattr(message, "key", None)
        if key is None and self.quiet:
            return
        with self._lock:
            if (key or message) in self._said:
                return
            self._said.add(key or message)
        self.err(f"warning: {message}")

    def note(self, message: str) -> None:
        """A remark about what was shown (not a problem); ``-q`` drops it."""
        if not self.quiet:
            self.err(message)

    def log(self, line: str) -> None:
        self.err(line)

    def report(self, error: BalanceCliError) -> None:
        self.err(error_line(error))

    # -- stdout
    def out(self, text: str) -> None:
        """Data on stdout, secrets masked (never a number in it: its strings were masked one
        by one by its printer); escaped on a terminal (tabs and line breaks kept)."""
        from balancecli.core.redact import REDACTOR

        text = REDACTOR.redact_rendered(text)
        if self.is_terminal:
            from balancecli.output.table import printable

            text = "\n".join(
                "\t".join(map(printable, line.split("\t"))) for line in text.split("\n"))
        self.write(text)

    def write(self, text: str) -> None:
        """Text on stdout as it is (already masked and escaped by its printer)."""
        sys.stdout.write(text)
        sys.stdout.flush()

    def print_tables(self, *tables: Table | None, wide: bool = False,
                     show_with: str = TABLE_HINT) -> list[Column]:
        """Draw tables one after the other, blank-line apart; on a terminal they fit its width
        and one note on stderr names the columns hidden (returned). Off a terminal: no width
        limit, no colour, no trailing spaces."""
        text, hidden, width = self.draw(*tables, wide=wide)
        self.write(text)
        if hidden:  # -q drops it, like every note
            self.note(hidden_note(hidden, width, show_with))
        return hidden

    def draw(self, *tables: Table | None, wide: bool = False,
             width: int | None = None) -> tuple[str, list[Column], int | None]:
        """(the text of the tables, the columns hidden, the width they fit)."""
        from balancecli.core.redact import REDACTOR
        from balancecli.output.table import render

        width = width or self.width
        hidden: list[Column] = []
        parts = []
        for table in tables:
            if table is None:
                continue
            rendered = render(table, width=width, color=self.color, wide=wide)
            parts.append(rendered.text)
            hidden += [c for c in rendered.hidden if c.title not in {h.title for h in hidden}]
        return REDACTOR.redact_rendered("\n".join(p for p in parts if p)), hidden, width

    # -- progress
    @contextlib.contextmanager
    def spinner(self, message: str) -> Iterator[None]:
        """A spinner on stderr while the block runs: only when both stdout and stderr are a
        terminal (``balancecli balance -f json | less`` would show it above the data), not
        with -q or -v."""
        if not (sys.stderr.isatty() and self.is_terminal) or self.quiet or self.verbose:
            yield
            return
        from rich.console import Console as RichConsole

        with RichConsole(stderr=True).status(message) as status:
            self._status = status
            try:
                yield
            finally:
                self._status = None

    def pending(self, names: Sequence[str]) -> None:
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
