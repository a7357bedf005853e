"""``balance --watch [SECONDS]`` and ``assets --watch``: refresh a table in place on a terminal.

- Only on a terminal, only for tables: a pipe or a file gets a usage error (exit 2); a log over
  time is ``snapshot`` from cron, not a screen scraped by a script.
- At least ``MIN_INTERVAL`` seconds between fetches (a broker's rate limit is per minutes, and a
  balance does not change faster than that); fetches never overlap: the next one starts one
  interval after the previous one started, or as soon as it ended if it took longer.
- Each refresh highlights (reverse video, with an arrow for numbers) the cells whose shown value
  changed since the previous refresh, and says how many changed.
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
from decimal import Decimal, InvalidOperation
from typing import Any

import typer
from typer.core import TyperCommand

MIN_INTERVAL = 10.0
DEFAULT_INTERVAL = 10.0
TEST_MIN_ENV = "_BALANCECLI_WATCH_MIN_SECONDS"
KEY_HEADERS = ("Profile", "Broker", "Account", "Ccy", "Currency", "Asset")
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


def optional_value(args: list[str], option: str, default: float) -> list[str]:
    """``--watch`` given without a number means ``--watch=<default>``.

    Typer 0.29's parser has no options with an optional value, so the word after ``--watch``
    is looked at here: a number is its value, anything else (another option, nothing) is not.
    """
    out: list[str] = []
    for i, arg in enumerate(args):
        if arg == "--":
            return out + args[i:]
        if arg == option and not _is_number(args[i + 1] if i + 1 < len(args) else None):
            out.append(f"{option}={default:g}")
        else:
            out.append(arg)
    return out


def _is_number(text: str | None) -> bool:
    if text is None:
        return False
    try:
        float(text)
    except ValueError:
        return False
    return True


class WatchCommand(TyperCommand):
    """A command whose ``--watch`` may be given without a value."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        return super().parse_args(ctx, optional_value(list(args), "--watch", DEFAULT_INTERVAL))


def minimum() -> float:
    test = os.environ.get(TEST_MIN_ENV)
    try:
        return float(test) if test else MIN_INTERVAL
    except ValueError:
        return MIN_INTERVAL


def refuse(rt: Any, message: str) -> None:
    rt.err(f"error: {message}")
    raise typer.Exit(EXIT_USAGE)


def check(rt: Any, interval: float, fmt: str) -> None:
    """Usage errors before anything is fetched: interval, format, terminal."""
    if interval < minimum():
        refuse(rt, f"--watch {interval:g}: the interval is at least {minimum():g} seconds "
                   "(brokers limit how often balances may be asked for)")
    if fmt != "table":
        refuse(rt, f"--watch shows a table; it cannot be combined with -f {fmt} (for a record "
                   "over time run: balancecli snapshot, from cron)")
    if not sys.stdout.isatty():
        refuse(rt, "--watch needs a terminal on stdout; for a record over time run "
                   "balancecli snapshot from cron (see: balancecli history)")


# -- what changed ------------------------------------------------------------------------------


def _plain(cell: Any) -> str:
    return cell.plain if hasattr(cell, "plain") else str(cell)


def cells(table: Any) -> dict[tuple[tuple[str, ...], str], str]:
    """``{(row key, column header): shown text}`` of a Rich table; the row key is the text of
    its identifying columns (profile, account, currency or asset)."""
    columns = [(_plain(c.header), list(c.cells)) for c in table.columns]
    keys = [cs for header, cs in columns if header in KEY_HEADERS]
    rows = len(columns[0][1]) if columns else 0
    found: dict[tuple[tuple[str, ...], str], str] = {}
    for i in range(rows):
        key = tuple(_plain(cs[i]) for cs in keys)
        for header, cs in columns:
            if header not in KEY_HEADERS:
                found[(key, header)] = _plain(cs[i])
    return found


def _number(text: str) -> Decimal | None:
    try:
        return Decimal(text.replace(",", "").rstrip("*").strip())
    except (InvalidOperation, ValueError):
        return None


def highlight(table: Any, previous: dict[tuple[tuple[str, ...], str], str]) -> int:
    """Mark the cells of ``table`` whose text differs from ``previous``; return how many."""
    from rich.text import Text

    now = cells(table)
    changed = {k for k, v in now.items() if k in previous and previous[k] != v}
    if not changed:
        return 0
    key_columns = [c for c in table.columns if _plain(c.header) in KEY_HEADERS]
    for column in table.columns:
        header = _plain(column.header)
        if header in KEY_HEADERS:
            continue
        for i, cell in enumerate(list(column.cells)):
            key = (tuple(_plain(list(c.cells)[i]) for c in key_columns), header)
            if key not in changed:
                continue
            old, new = _number(previous[key]), _number(_plain(cell))
            arrow = "" if old is None or new is None else ("▲ " if new > old else "▼ ")
            marked = Text(arrow) + (cell.copy() if isinstance(cell, Text) else Text(str(cell)))
            marked.stylize("reverse")
            column._cells[i] = marked  # Rich keeps a column's cells in this list
    return len(changed)


# -- the loop ----------------------------------------------------------------------------------


def run(rt: Any, *, command: str, interval: float,
        fetch: Callable[[], tuple[Sequence[Any], Sequence[Any]]],
        render: Callable[[Sequence[Any]], Any]) -> None:
    """Fetch, show, wait; until Ctrl-C (exit 130). ``fetch`` returns (rows, errors)."""
    from rich.console import Console, Group
    from rich.live import Live
    from rich.text import Text

    console = Console(file=sys.stdout, no_color=not rt.color, highlight=False)
    previous: dict[tuple[tuple[str, ...], str], str] | None = None
    last_time = ""
    body: Any = Text("")
    live = Live(body, console=console, auto_refresh=False, transient=False,
                redirect_stdout=False, redirect_stderr=False)

    def stop(signum: int, frame: Any) -> None:
        # Requests may be in flight in worker threads: leave without waiting for them.
        try:
            live.stop()
        finally:
            console.show_cursor(True)
            sys.stdout.flush()
            sys.stderr.write("stopped\n")
            sys.stderr.flush()
            os._exit(EXIT_INTERRUPTED)

    signal.signal(signal.SIGINT, stop)

    def header(state: str, refresh: int) -> Text:
        return Text(f"Every {interval:g} s: balancecli {command}  ·  {state}  ·  refresh "
                    f"#{refresh}  ·  Ctrl-C to stop", style="dim" if rt.color else "")

    refresh = 0
    with live:
        while True:
            started = time.monotonic()
            refresh += 1
            live.update(Group(header("refreshing…", refresh), body), refresh=True)
            rows, errors = fetch()
            now = time.strftime("%H:%M:%S")
            table = render(rows) if rows else None
            parts: list[Any] = []
            if table is not None:
                if previous is None:
                    note = ""
                else:
                    count = highlight(table, previous)
                    note = (f"{count} value(s) changed since {last_time}" if count
                            else f"no change since {last_time}")
                previous = cells(table)
                parts.append(table)
                if note:
                    parts.append(Text(note, style="bold" if rt.color and "changed" in note
                                      else ""))
            for error in errors:
                parts.append(Text(_error_line(error), style="red" if rt.color else ""))
            last_time = now
            body = Group(*parts)
            live.update(Group(header(f"updated {now}", refresh), body), refresh=True)
            wait = started + interval - time.monotonic()
            if wait > 0:
                time.sleep(wait)


def _error_line(error: Any) -> str:
    """The one-line error report (profile, what happened, next step), shown in the frame (a
    line on stderr would scroll it)."""
    from balancecli.cli.runtime import NEXT_STEPS
    from balancecli.core.redact import REDACTOR

    where = error.profile or "balancecli"
    if error.account_id:
        where += f" account {error.account_id}"
    step = error.next_step or NEXT_STEPS.get(error.kind, "").format(
        profile=error.profile or "PROFILE")
    return REDACTOR.redact(f"error: {where}: {error.message}" + (f" — {step}" if step else ""))
