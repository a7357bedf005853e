"""``snapshot``: fetch balances and assets and append them to the history store (cron-safe).

Each broker builds balances and assets from one set of responses (``Broker.snapshot``), and
they are appended with the errors as one run, in one transaction, with the broker rates of the
run and the config ``[rates]`` (so ``history --in`` can value it later, offline). A partial run
is stored and exits 7; a run where everything failed is stored too (its errors show in
``history``) and exits with the failures' code. ``-q`` prints nothing when all went well
(with ``-f json|jsonl|csv`` the document asked for is still printed: quiet drops summaries,
not data).
``--textfile DIR`` also writes ``DIR/balancecli.prom`` for node_exporter.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from balancecli.cli.commands.options import (
    AccountOpt,
    ConfigOpt,
    DebugOpt,
    DemoOpt,
    Format,
    FormatOpt,
    MaxTimeOpt,
    NoColorOpt,
    ProfileOpt,
    TimeoutOpt,
    VerboseOpt,
    examples,
    runtime,
    start_clock,
)

if TYPE_CHECKING:
    from balancecli.cli.boundary import Ending
    from balancecli.cli.runtime import Runtime
    from balancecli.core.errors import BalanceCliError

SCHEMA = "balancecli.snapshot/1"
SUMMARY_FIELDS = ("id", "started_at", "finished_at", "profiles", "ok", "balances", "assets",
                  "accounts", "errors")

DbOpt = Annotated[Path | None, typer.Option(
    "--db", envvar="BALANCECLI_DB", show_envvar=True, metavar="PATH",
    help="History database (default: the user data dir's history.sqlite3).")]
TextfileOpt = Annotated[Path | None, typer.Option(
    "--textfile", metavar="DIR", exists=True, file_okay=False, dir_okay=True, writable=True,
    help="Also write DIR/balancecli.prom (OpenMetrics) for node_exporter's textfile collector.")]
EXAMPLES = examples("balancecli --demo snapshot", "balancecli snapshot -p ts -a 11827391",
                    "balancecli snapshot -f json | jq .run")


def snapshot(
    ctx: typer.Context, profile: ProfileOpt = None, account: AccountOpt = None,
    fmt: FormatOpt = Format.table, timeout: TimeoutOpt = 15.0, max_time: MaxTimeOpt = None,
    db: DbOpt = None, textfile: TextfileOpt = None,
    config: ConfigOpt = None, demo: DemoOpt = False, verbose: VerboseOpt = False,
    debug: DebugOpt = False, no_color: NoColorOpt = False,
) -> None:
    """Fetch balances and assets and append them to the history store (cron-safe)."""
    from balancecli.cli.boundary import run

    rt = runtime(ctx, config=config, demo=demo, verbose=verbose, debug=debug, no_color=no_color)
    start_clock(max_time)
    run(rt, lambda: run_snapshot(rt, profiles=profile, accounts=account, fmt=fmt.value,
                                 timeout=timeout, db=db, textfile=textfile))


def run_snapshot(rt: Runtime, *, profiles: list[str] | None, accounts: list[str] | None,
                 fmt: str, timeout: float, db: Path | None,
                 textfile: Path | None = None) -> Ending:
    from balancecli import history
    from balancecli.cli.boundary import Ending
    from balancecli.cli.profiles import no_match_error
    from balancecli.service.fetch import Options, Relay, run
    from balancecli.service.networth import snapshot_rates

    path = history.db_path(db, demo=rt.demo)
    selection = rt.selection(profiles)
    # Open (create, migrate) before fetching: a bad --db fails before any broker is asked.
    with history.Store.open(path) as store:
        started = _demo_now(rt) or datetime.now(UTC)
        options = Options(command="snapshot", account_ids=list(accounts or []), timeout=timeout,
                          listener=Relay(warn=rt.warn, log_line=rt.log,
                                         waiting=rt.console.pending), verbose=rt.verbose,
                          interactive=False,  # never prompt: snapshot runs unattended
                          presets=selection.presets, debug=rt.debug)
        with rt.console.spinner(f"Fetching {len(selection.profiles)} profile(s)…"):
            fetched = run(selection.profiles, options)
        errors = [*selection.errors, *fetched.errors]
        if options.account_ids and not fetched.matched_accounts and not errors:
            raise no_match_error(options.account_ids)  # a typo, not a run: nothing stored
        finished = started + (datetime.now(UTC) - started if not _demo_now(rt) else RUN_TIME)
        if selection.moved is not None:
            fetched.rows, fetched.assets = _demo_run(rt, db, path, selection, fetched,
                                                     started, whole=not (profiles or accounts))
        names = [p.name for p in selection.profiles]
        run_id = store.record_run(
            started_at=started, finished_at=finished, profiles=names, balances=fetched.rows,
            assets=fetched.assets, errors=errors, rates=snapshot_rates(
                fetched.rows, fetched.assets, config=rt.config, demo=rt.demo, warn=rt.warn))
    failed = _textfile(textfile, fetched, names, errors, (finished - started).total_seconds())
    summary = {
        "id": run_id, "started_at": history.format_time(started),
        "finished_at": history.format_time(finished), "profiles": names,
        "ok": not errors, "balances": len(fetched.rows), "assets": len(fetched.assets),
        "accounts": len({(r.profile, r.account_id) for r in fetched.rows + fetched.assets}),
        "errors": len(errors),
    }
    if not rt.quiet or fmt != "table":  # -q drops the summary line, never a document asked for
        rt.out(_text(summary, errors, path, fmt, rt.json_indent))
    return Ending([*errors, *failed], fetched.anything_succeeded or bool(fetched.assets))


RUN_TIME = timedelta(milliseconds=350)  # how long a demo run "took" on a fixed demo clock


def _demo_now(rt: Runtime) -> datetime | None:
    """The demo's fixed clock (tests), else None: the run's own time."""
    if not rt.demo:
        return None
    from balancecli.demo.past import clock_is_fixed, demo_clock

    return demo_clock() if clock_is_fixed() else None


def _demo_run(rt: Runtime, db: Path | None, path: Path, selection: Any, fetched: Any,
              started: datetime, *, whole: bool) -> tuple[list[Any], list[Any]]:
    """A demo snapshot: the demo store's past first (up to just before this run; from these
    sample rows when they are every demo account's), then this run's rows moved to its
    time, continuing that past."""
    from balancecli.cli.demo_store import with_past

    with_past(rt, path, explicit=db, sample=(fetched.rows, fetched.assets) if whole else None,
              end=started - timedelta(microseconds=1))
    moved: tuple[list[Any], list[Any]] = selection.moved(fetched.rows, fetched.assets,
                                                         when=started)
    return moved


def _textfile(directory: Path | None, fetched: Any, names: list[str],
              errors: list[BalanceCliError], seconds: float) -> list[BalanceCliError]:
    """``--textfile``: its failure is reported after the summary (the run is stored)."""
    if directory is None:
        return []
    from balancecli.core.errors import BalanceCliError
    from balancecli.output.textfile import write_textfile

    try:
        write_textfile(directory, fetched.rows, fetched.assets, names, errors, seconds)
    except BalanceCliError as exc:
        return [exc]
    return []


def _text(summary: dict[str, Any], errors: list[BalanceCliError], path: Path, fmt: str,
          indent: int | None = None) -> str:
    from balancecli.core.clock import utc_now
    from balancecli.core.exactjson import dumps_exact
    from balancecli.output.render import csv_line

    if fmt == "json":
        return dumps_exact({"schema": SCHEMA, "generated_at": utc_now(), "db": str(path),
                            "run": summary, "errors": [e.as_dict() for e in errors]},
                           indent=indent) + "\n"
    if fmt == "jsonl":
        return dumps_exact({**summary, "db": str(path)}) + "\n"
    if fmt == "csv":
        values = {**summary, "profiles": " ".join(summary["profiles"])}
        return csv_line(SUMMARY_FIELDS) + csv_line(values[k] for k in SUMMARY_FIELDS)
    s = summary
    return (f"snapshot {s['id']} at {s['started_at'][:19]}Z: {s['balances']} balances, "
            f"{s['assets']} assets of {s['accounts']} accounts from {len(s['profiles'])} "
            f"profile(s), {s['errors']} error(s) -> {path}\n")
