"""``snapshot`` and ``history``: the commands over the SQLite history store (issue #7).

``register(app)`` adds both commands to the root app; what ``history`` shows (tables, JSON,
CSV of series and of ``--at``) lives in ``commands/history_view.py``. ``balancecli.history``
(and so ``sqlite3``) is imported only when one of these commands runs, never for ``--help``.

snapshot: fetches balances, then assets (skipping the profiles whose balances failed entirely,
so a failing broker is asked once), and appends them with the errors as one run, in one
transaction. A partial run is stored and exits 7; a run where everything failed is stored too
(its errors show in ``history``) and exits with the failures' code (DESIGN.md §5).

history: one balance field over time per account (``--field``, default ``equity``) with the
change from the first to the last known value, a sparkline and per-currency totals (sums of
each account's first and last value in the range); ``--at`` shows the balances as stored at the
last snapshot at or before a time; ``--prune --keep 365d`` deletes older runs. Times: ``30d``
(that long ago), ``2026-11-01`` (00:00 UTC; as ``--until``/``--at`` the end of that day) or ISO
8601 (UTC unless it has an offset).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from balancecli.commands.options import (
    AccountOpt,
    ConfigOpt,
    DebugOpt,
    DemoOpt,
    Format,
    FormatOpt,
    NoColorOpt,
    ProfileOpt,
    TimeoutOpt,
    VerboseOpt,
    runtime,
)

SNAPSHOT_SCHEMA = "balancecli.snapshot/1"
PRUNE_SCHEMA = "balancecli.prune/1"

DbOpt = Annotated[Path | None, typer.Option(
    "--db", envvar="BALANCECLI_DB", show_envvar=True,
    help="History database (default: the user data dir's history.sqlite3).")]


def register(app: typer.Typer) -> None:
    """Add ``snapshot`` and ``history`` to the root app."""

    @app.command()
    def snapshot(
        ctx: typer.Context, profile: ProfileOpt = None, account: AccountOpt = None,
        fmt: FormatOpt = Format.table, timeout: TimeoutOpt = 15.0, db: DbOpt = None,
        config: ConfigOpt = None, demo: DemoOpt = False, verbose: VerboseOpt = False,
        debug: DebugOpt = False, no_color: NoColorOpt = False,
    ) -> None:
        """Fetch balances and assets and append them to the history store (cron-safe)."""
        rt = runtime(ctx, config=config, demo=demo, verbose=verbose, debug=debug,
                     no_color=no_color)
        run_snapshot(rt, profiles=profile, accounts=account, fmt=fmt.value, timeout=timeout,
                     db=db)

    @app.command()
    def history(
        ctx: typer.Context, profile: ProfileOpt = None, account: AccountOpt = None,
        fmt: FormatOpt = Format.table,
        currency: Annotated[str | None, typer.Option(
            "--currency", help="Only the series in this currency.")] = None,
        field: Annotated[str, typer.Option(
            "--field", help="Balance field to follow (equity, cash, buying_power, ...).")
        ] = "equity",
        since: Annotated[str | None, typer.Option(
            "--since", help="From this time: 30d, 12h, 2026-11-01 or ISO 8601 (UTC).")] = None,
        until: Annotated[str | None, typer.Option(
            "--until", help="Up to this time (a date includes that whole day).")] = None,
        at: Annotated[str | None, typer.Option(
            "--at", help="Show the balances as stored at the last snapshot at or before "
                         "this time (a date means the end of that day).")] = None,
        prune: Annotated[bool, typer.Option(
            "--prune", help="Delete the runs older than --keep (nothing else is shown).")
        ] = False,
        keep: Annotated[str | None, typer.Option(
            "--keep", help="With --prune: how much history to keep, e.g. 365d or 52w.")] = None,
        db: DbOpt = None,
        config: ConfigOpt = None, demo: DemoOpt = False, verbose: VerboseOpt = False,
        debug: DebugOpt = False, no_color: NoColorOpt = False,
    ) -> None:
        """Balances over time from the history store (see: balancecli snapshot)."""
        rt = runtime(ctx, config=config, demo=demo, verbose=verbose, debug=debug,
                     no_color=no_color)
        run_history(rt, profiles=profile, accounts=account, fmt=fmt.value, currency=currency,
                    field=field, since=since, until=until, at=at, prune=prune, keep=keep, db=db)


# ---------------------------------------------------------------------------------------------
# snapshot


def run_snapshot(rt: Any, *, profiles: list[str] | None, accounts: list[str] | None, fmt: str,
                 timeout: float, db: Path | None) -> None:
    from balancecli import history
    from balancecli.fetch import Options, run
    from balancecli.runtime import boundary, no_match_error

    with boundary(rt):
        path = history.db_path(db, demo=rt.demo)
        selected, errors, presets = rt.select(profiles)
        # Open (create, migrate) before fetching: a bad --db fails before any broker is asked.
        with history.Store.open(path) as store:
            started = datetime.now(UTC)
            options = Options(
                command="balance", account_ids=list(accounts or []), timeout=timeout,
                log=rt.log if rt.verbose else None, warn=rt.warn,
                interactive=False,  # never prompt: snapshot runs unattended
                presets=presets, debug=rt.debug,
            )
            with rt.spinner(f"Fetching {len(selected)} profile(s)…"):
                balances = run(selected, options)
                with_rows = {r.profile for r in balances.rows}
                dead = {e.profile for e in balances.errors if e.profile not in with_rows}
                assets = run([p for p in selected if p.name not in dead],
                             dataclasses.replace(options, command="assets"))
            errors += balances.errors + _new_errors(assets.errors, balances.errors)
            matched = balances.matched_accounts | assets.matched_accounts
            if options.account_ids and not matched and not errors:
                raise no_match_error(options.account_ids)  # a typo, not a run: nothing stored
            finished = datetime.now(UTC)
            names = [p.name for p in selected]
            run_id = store.record_run(
                started_at=started, finished_at=finished, profiles=names,
                balances=balances.rows, assets=assets.rows, errors=errors)
        summary = {
            "id": run_id, "started_at": history.format_time(started),
            "finished_at": history.format_time(finished), "profiles": names,
            "ok": not errors, "balances": len(balances.rows), "assets": len(assets.rows),
            "accounts": len({(r.profile, r.account_id) for r in balances.rows + assets.rows}),
            "errors": len(errors),
        }
        rt.out(_snapshot_text(summary, errors, path, fmt))
        code = rt.exit_code(errors, balances.anything_succeeded or assets.anything_succeeded)
    raise typer.Exit(code)


def _new_errors(extra: Sequence[Any], seen: Sequence[Any]) -> list[Any]:
    keys = {(e.profile, e.account_id, e.kind, e.message) for e in seen}
    return [e for e in extra if (e.profile, e.account_id, e.kind, e.message) not in keys]


def _snapshot_text(summary: dict[str, Any], errors: Sequence[Any], path: Path, fmt: str) -> str:
    from balancecli.commands.history_view import _csv
    from balancecli.models import utc_now
    from balancecli.render import dumps_exact

    if fmt == "json":
        return dumps_exact({"schema": SNAPSHOT_SCHEMA, "generated_at": utc_now(),
                            "db": str(path), "run": summary,
                            "errors": [e.as_dict() for e in errors]}) + "\n"
    if fmt == "jsonl":
        return dumps_exact({**summary, "db": str(path)}) + "\n"
    if fmt == "csv":
        return _csv([("id", "started_at", "finished_at", "profiles", "ok", "balances", "assets",
                      "accounts", "errors"),
                     (*(summary[k] for k in ("id", "started_at", "finished_at")),
                      " ".join(summary["profiles"]),
                      *(summary[k] for k in ("ok", "balances", "assets", "accounts", "errors")))])
    s = summary
    return (f"snapshot {s['id']} at {s['started_at'][:19]}Z: {s['balances']} balances, "
            f"{s['assets']} assets of {s['accounts']} accounts from {len(s['profiles'])} "
            f"profile(s), {s['errors']} error(s) -> {path}\n")


# ---------------------------------------------------------------------------------------------
# history


def _when(text: str | None, option: str, *, end_of_day: bool = False) -> datetime | None:
    from balancecli.history import parse_when

    if text is None:
        return None
    try:
        return parse_when(text, end_of_day=end_of_day)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint=option) from None


def run_history(rt: Any, *, profiles: list[str] | None, accounts: list[str] | None, fmt: str,
                currency: str | None, field: str, since: str | None, until: str | None,
                at: str | None, prune: bool, keep: str | None, db: Path | None) -> None:
    from balancecli import history
    from balancecli.commands.history_view import _show_at, _show_series
    from balancecli.runtime import boundary

    # Usage errors (exit 2) before the boundary, which would call them internal errors.
    if field not in history.BALANCE_FIELDS:
        raise typer.BadParameter(
            f"{field!r} is not a balance field (one of: {', '.join(history.BALANCE_FIELDS)})",
            param_hint="--field")
    if prune != (keep is not None):
        raise typer.BadParameter("--prune and --keep go together (e.g. --prune --keep 365d)",
                                 param_hint="--prune/--keep")
    if prune and (at or since or until):
        raise typer.BadParameter("--prune takes only --keep", param_hint="--prune")
    if at and (since or until):
        raise typer.BadParameter("--at excludes --since/--until", param_hint="--at")
    try:
        kept = history.parse_duration(keep) if keep is not None else None
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--keep") from None
    when_at = _when(at, "--at", end_of_day=True)
    when_since = _when(since, "--since")
    when_until = _when(until, "--until", end_of_day=True)

    with boundary(rt):
        path = history.db_path(db, demo=rt.demo)
        with history.Store.open(path, create=False) as store:
            if kept is not None:
                now = datetime.now(UTC)
                deleted = store.prune(kept, now=now)
                cutoff = history.format_time(now - kept)
                rt.out(_prune_text(deleted, cutoff, fmt))
                code = 0
            elif when_at is not None:
                code = _show_at(rt, store, when_at, profiles, accounts, currency, fmt)
            else:
                points = store.iter_series(field, account_ids=accounts, profiles=profiles,
                                           since=when_since, until=when_until)
                if currency:
                    points = (p for p in points if (p.currency or "").upper() == currency.upper())
                code = _show_series(rt, points, field, when_since, when_until, accounts, fmt)
    raise typer.Exit(code)


def _prune_text(deleted: int, cutoff: str, fmt: str) -> str:
    from balancecli.commands.history_view import _csv
    from balancecli.models import utc_now
    from balancecli.render import dumps_exact

    if fmt == "json":
        return dumps_exact({"schema": PRUNE_SCHEMA, "generated_at": utc_now(),
                            "cutoff": cutoff, "deleted_runs": deleted}) + "\n"
    if fmt == "jsonl":
        return dumps_exact({"cutoff": cutoff, "deleted_runs": deleted}) + "\n"
    if fmt == "csv":
        return _csv([("cutoff", "deleted_runs"), (cutoff, deleted)])
    return f"pruned {deleted} run(s) started before {cutoff[:19]}Z\n"
