"""``balance --watch [SECONDS]`` and ``assets --watch``: refresh a table in place on a terminal.

- Only on a terminal, only for tables: a pipe or a file gets a usage error (exit 2); a log over
  time is ``snapshot`` from cron, not a screen scraped by a script.
- At least ``MIN_INTERVAL`` seconds between fetches (a broker's rate limit is per minutes, and a
  balance does not change faster than that); fetches never overlap: the next one starts one
  interval after the previous one started, or as soon as it ended if it took longer.
- Each refresh draws the command's own table (the same printer as without ``--watch``:
  fitted to the terminal, no number ever cut, the same note when columns are hidden) and
  highlights the cells whose shown value changed since the previous refresh
  (``output.live``).
- Ctrl-C restores the terminal (cursor shown, the last table left on screen) and exits 130 at
  once, without waiting for requests in flight.

Tests set ``_BALANCECLI_WATCH_MIN_SECONDS`` (test only, undocumented for users) to a fraction
of a second so that a pty test sees two refreshes without waiting 20 s.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, NoReturn

from balancecli.cli.typer_internals import command_rewriting_args

if TYPE_CHECKING:
    from balancecli.core.errors import BalanceCliError
    from balancecli.output.console import Console
    from balancecli.output.table import Table

MIN_INTERVAL = 10.0
DEFAULT_INTERVAL = 10.0
TEST_MIN_ENV = "_BALANCECLI_WATCH_MIN_SECONDS"
EXIT_INTERRUPTED = 130


def watch_value(args: list[str]) -> list[str]:
    """``--watch`` given without a number means ``--watch=<default>`` (``optional_values``)."""
    from balancecli.cli.optional_values import optional_value

    return optional_value(args, "--watch", f"{DEFAULT_INTERVAL:g}")


WatchCommand = command_rewriting_args(watch_value)  # the class of balance and assets


def minimum() -> float:
    test = os.environ.get(TEST_MIN_ENV)
    try:
        return float(test) if test else MIN_INTERVAL
    except ValueError:
        return MIN_INTERVAL


def check(interval: float, fmt: str) -> None:
    """Usage errors before anything is fetched: interval, format, terminal."""
    from balancecli.cli.boundary import UsageError

    if interval < minimum():
        raise UsageError(f"--watch {interval:g}: the interval is at least {minimum():g} seconds"
                         " (brokers limit how often balances may be asked for)")
    if fmt != "table":
        raise UsageError(f"--watch shows a table; it cannot be combined with -f {fmt} (for a "
                         "record over time run: balancecli snapshot, from cron)")
    if not sys.stdout.isatty():
        raise UsageError("--watch needs a terminal on stdout; for a record over time run "
                         "balancecli snapshot from cron (see: balancecli history)")


Refresh = Callable[[], tuple[list["Table"], Sequence["BalanceCliError"]]]


def run(console: Console, *, title: str, interval: float, refresh: Refresh, wide: bool,
        hint: str) -> NoReturn:
    """Fetch, show, wait; until Ctrl-C (exit 130). ``refresh`` returns (tables, errors)."""
    from balancecli.output.live import Screen, cells, mark_changes

    screen = Screen()

    def stop(signum: int, frame: Any) -> None:
        # Requests may be in flight in worker threads: leave without waiting for them.
        try:
            screen.stop()
        finally:
            sys.stderr.write("stopped\n")
            sys.stderr.flush()
            os._exit(EXIT_INTERRUPTED)

    signal.signal(signal.SIGINT, stop)

    def header(text: str) -> str:
        return "\n".join(_wrapped(text, console.width, "2", console.color))

    previous: dict[Any, str] | None = None
    body, last, number = "", "", 0
    while True:
        started = time.monotonic()
        number += 1
        screen.show(header(_header(title, interval, "refreshing…", number)) + "\n" + body)
        tables, errors = refresh()
        now = time.strftime("%H:%M:%S")
        change = None
        if previous is not None and tables:
            count = mark_changes(tables, previous)
            change = (f"{count} value(s) changed since {last}" if count
                      else f"no change since {last}")
        previous = cells(tables) if tables else previous
        body = _body(console, tables, errors, change, wide=wide, hint=hint)
        last = now
        screen.show(header(_header(title, interval, f"updated {now}", number)) + "\n" + body)
        wait = started + interval - time.monotonic()
        if wait > 0:
            time.sleep(wait)


def _header(title: str, interval: float, state: str, number: int) -> str:
    return (f"Every {interval:g} s: {title}  ·  {state}  ·  refresh #{number}  ·  Ctrl-C to "
            "stop")


def _wrapped(text: str, width: int | None, code: str, color: bool) -> list[str]:
    """``text`` cut into lines of at most ``width`` cells at spaces (a line wider than the
    terminal would throw the redraw off), each styled with the SGR ``code`` on a terminal."""
    import textwrap

    parts = textwrap.wrap(text, width, break_on_hyphens=False) if width else [text]
    return [f"\x1b[{code}m{part}\x1b[0m" if color and code else part for part in parts or [""]]


def _body(console: Console, tables: list[Table], errors: Sequence[BalanceCliError],
          change: str | None, *, wide: bool, hint: str) -> str:
    """The tables as the command draws them, then the notes and the errors of the refresh;
    the text around the tables (captions, footers, notes) wrapped to the terminal."""
    import dataclasses

    from balancecli.cli.boundary import with_flags
    from balancecli.core.redact import REDACTOR
    from balancecli.output.console import error_line, hidden_note
    from balancecli.output.table import printable

    color, width = console.color, console.width
    lines: list[str] = []
    hidden: list[Any] = []
    for table in tables:
        text, gone, _ = console.draw(dataclasses.replace(table, caption=None, footer=[]),
                                     wide=wide)
        lines += text.rstrip("\n").split("\n") if text else []
        hidden += [c for c in gone if c.title not in {h.title for h in hidden}]
        if table.caption:
            lines += _wrapped(printable(table.caption), width, "2", color)
        for line in table.footer:
            lines += _wrapped(printable(line), width, "", color)
    if hidden:
        lines += _wrapped(hidden_note(hidden, width, hint), width, "2", color)
    if change:
        lines += _wrapped(change, width, "1" if "changed" in change else "", color)
    flags = getattr(console, "flags", None)  # the run's console: steps repeat its flags
    for error in errors:
        line = error_line(error) if flags is None else with_flags(error_line(error), flags)
        lines += _wrapped(printable(REDACTOR.redact(line)), width, "31", color)
    return "\n".join(lines)
