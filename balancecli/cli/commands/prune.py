"""``history --prune --keep SPAN``: delete old runs, carefully.

``--keep`` takes a number and a unit: ``h``, ``d``, ``w``, ``mo`` (calendar months), ``y`` (also
``s`` and ``min``); a bare ``m`` is refused as ambiguous (minutes to some tools, months to
restic). What goes is every run started before now minus that span, with its rows.

- ``--dry-run`` opens the database read-only and shows what would go (how many runs, the first
  and the last date) and what stays; nothing is deleted.
- On a terminal (stdin and stderr) it asks first, naming how many runs and which dates.
- ``--yes`` skips the question: scripts and cron use it. Off a terminal without ``--yes`` (or
  ``--dry-run``) it refuses with exit 2 before opening anything: a destructive command never
  runs unconfirmed.
- The count shown and the delete use one cutoff, so what was confirmed is what goes.
- ``-q`` drops the summary of a real prune; a dry run always prints its answer.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

PRUNE_SCHEMA = "balancecli.prune/1"


def run_prune(rt: Any, *, prune: bool, keep: str | None, dry_run: bool, yes: bool, fmt: str,
              db: Path | None, conflicts: list[str]) -> None:
    from balancecli import history
    from balancecli.cli.boundary import UsageError

    # Usage errors (exit 2) come first, before anything is opened.
    if not prune or keep is None:
        raise UsageError("--prune and --keep go together (e.g. --prune --keep 365d); --dry-run "
                         "and --yes only with them", option="--prune/--keep")
    if conflicts:
        raise UsageError(f"--prune deletes whole runs: it takes no {conflicts[0]}",
                         option="--prune")
    try:
        span = history.parse_duration(keep)
        now = datetime.now(UTC)
        cutoff = span.before(now)
    except ValueError as exc:
        raise UsageError(str(exc), option="--keep") from None
    interactive = sys.stdin.isatty() and sys.stderr.isatty()
    if not (yes or dry_run or interactive):
        raise UsageError("--prune deletes runs and there is no terminal to ask: add --yes (or "
                         "see first with --dry-run)", option="--yes")

    path = history.db_path(db, demo=rt.demo)
    with history.Store.open(path, create=False, readonly=dry_run) as store:
        count, first, last = store.runs_before(cutoff)
        total = store.run_span()[0]
        deleted = 0
        if not dry_run and count:
            if not yes and not _confirm(rt, count, total, first, last, cutoff):
                rt.err("nothing deleted")
                return
            deleted = store.prune_before(cutoff)
    if dry_run or not rt.quiet:
        rt.out(_text(fmt, dry_run=dry_run, cutoff=history.format_time(cutoff), matched=count,
                     deleted=deleted, first=first, last=last, kept=total - count,
                     indent=rt.json_indent))


def _confirm(rt: Any, count: int, total: int, first: str | None, last: str | None,
             cutoff: datetime) -> bool:
    """Ask on the terminal; Ctrl-D or Ctrl-C cancels (exit 130), anything but y/yes declines."""
    from balancecli.cli.boundary import Interrupted
    from balancecli.history import format_time

    question = (f"Delete {count} of {total} run(s), taken {_day(first)} to {_day(last)} "
                f"(everything before {_minute(format_time(cutoff))})? [y/N] ")
    sys.stderr.write(question)
    sys.stderr.flush()
    answer = sys.stdin.readline()
    if not answer:  # Ctrl-D
        sys.stderr.write("\n")
        raise Interrupted("cancelled: nothing deleted")
    return answer.strip().lower() in ("y", "yes")


def _day(stored: str | None) -> str:
    return _minute(stored) if stored else "?"


def _minute(stored: str) -> str:
    """``2026-11-21T19:00:00.123456Z`` -> ``2026-11-21 19:00Z`` for people."""
    return f"{stored[:10]} {stored[11:16]}Z"


def _text(fmt: str, *, dry_run: bool, cutoff: str, matched: int, deleted: int,
          first: str | None, last: str | None, kept: int, indent: int | None = None) -> str:
    from balancecli.core.clock import utc_now
    from balancecli.core.exactjson import dumps_exact
    from balancecli.output.render import csv_line

    fields = {"cutoff": cutoff, "dry_run": dry_run, "matched_runs": matched,
              "deleted_runs": deleted, "first": first, "last": last, "kept_runs": kept}
    if fmt == "json":
        return dumps_exact({"schema": PRUNE_SCHEMA, "generated_at": utc_now(), **fields},
                           indent=indent) + "\n"
    if fmt == "jsonl":
        return dumps_exact(fields) + "\n"
    if fmt == "csv":
        return csv_line(fields) + csv_line(fields.values())
    before = f"started before {_minute(cutoff)}"
    if not matched:
        return f"nothing to prune: no run {before}; {kept} run(s) kept\n"
    span = f"taken {_minute(first or '')} to {_minute(last or '')}"
    if dry_run:
        return (f"would delete {matched} run(s) {before}, {span}; {kept} run(s) would stay "
                "(dry run: nothing deleted)\n")
    return f"pruned {deleted} run(s) {before}, {span}; {kept} run(s) kept\n"
