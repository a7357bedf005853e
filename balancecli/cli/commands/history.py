"""``snapshot`` and ``history``: the commands over the SQLite history store.

``register(app)`` adds both commands to the root app; what ``history`` shows (tables, JSON,
CSV of series and of ``--at``) lives in ``commands/history_view.py``. ``balancecli.history``
(and so ``sqlite3``) is imported only when one of these commands runs, never for ``--help``.

snapshot: fetches balances, then assets (skipping the profiles whose balances failed entirely,
so a failing broker is asked once), and appends them with the errors as one run, in one
transaction. A partial run is stored and exits 7; a run where everything failed is stored too
(its errors show in ``history``) and exits with the failures' code.

history: one balance field over time per account (``--field``, default ``equity``) with the
change from the first to the last known value, a sparkline and per-currency totals (sums of
each account's first and last value in the range); ``--at`` shows the balances as stored at the
last snapshot at or before a time; ``--prune --keep 365d`` deletes older runs (see
``commands/prune.py``). Times: ``30d`` (that long ago; units s, min, h, d, w, mo, y), ``2026-11-01``
(00:00 UTC; as ``--until``/``--at`` the end of that day) or ISO 8601 (UTC unless it has an
offset). ``history`` opens the database read-only: it never creates, migrates or changes a file.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from balancecli.cli import complete
from balancecli.cli.commands.options import (
    AccountOpt,
    ColumnsOpt,
    ConfigOpt,
    DebugOpt,
    DemoOpt,
    ExactOpt,
    Format,
    FormatOpt,
    InOpt,
    NoColorOpt,
    ProfileOpt,
    TimeoutOpt,
    UtcOpt,
    VerboseOpt,
    WideOpt,
    examples,
    runtime,
)

SNAPSHOT_SCHEMA = "balancecli.snapshot/1"

DbOpt = Annotated[Path | None, typer.Option(
    "--db", envvar="BALANCECLI_DB", show_envvar=True, metavar="PATH",
    help="History database (default: the user data dir's history.sqlite3).")]
TextfileOpt = Annotated[Path | None, typer.Option(
    "--textfile", metavar="DIR", exists=True, file_okay=False, dir_okay=True, writable=True,
    help="Also write DIR/balancecli.prom (OpenMetrics) for node_exporter's textfile collector.")]


def register(app: typer.Typer) -> None:
    """Add ``snapshot`` and ``history`` to the root app."""

    @app.command(epilog=examples(
        "balancecli --demo snapshot",
        "balancecli snapshot -p ts -a 11827391",
        "balancecli snapshot -f json | jq .run"))
    def snapshot(
        ctx: typer.Context, profile: ProfileOpt = None, account: AccountOpt = None,
        fmt: FormatOpt = Format.table, timeout: TimeoutOpt = 15.0, db: DbOpt = None,
        textfile: TextfileOpt = None,
        config: ConfigOpt = None, demo: DemoOpt = False, verbose: VerboseOpt = False,
        debug: DebugOpt = False, no_color: NoColorOpt = False,
    ) -> None:
        """Fetch balances and assets and append them to the history store (cron-safe)."""
        rt = runtime(ctx, config=config, demo=demo, verbose=verbose, debug=debug,
                     no_color=no_color)
        run_snapshot(rt, profiles=profile, accounts=account, fmt=fmt.value, timeout=timeout,
                     db=db, textfile=textfile)

    @app.command(epilog=examples(
        "balancecli history --since 30d",
        "balancecli history --field cash --currency USD --utc",
        "balancecli history -a 11827391 --since 2026-11-01",
        "balancecli history --at 2026-11-01 --exact",
        "balancecli history -f csv > equity.csv",
        "balancecli history --prune --keep 1y --dry-run"))
    def history(
        ctx: typer.Context, profile: ProfileOpt = None, account: AccountOpt = None,
        fmt: FormatOpt = Format.table,
        currency: Annotated[str | None, typer.Option(
            "--currency", metavar="CUR", help="Only the series in this currency.",
            autocompletion=complete.complete_currency)] = None,
        field: Annotated[str, typer.Option(
            "--field", metavar="FIELD",
            help="Balance field to follow (equity, cash, buying_power, ...).",
            autocompletion=complete.complete_field)
        ] = "equity",
        since: Annotated[str | None, typer.Option(
            "--since", metavar="TIME",
            help="From this time: 30d, 12h, 2026-11-01 or ISO 8601 (UTC).")] = None,
        until: Annotated[str | None, typer.Option(
            "--until", metavar="TIME",
            help="Up to this time (a date includes that whole day).")] = None,
        at: Annotated[str | None, typer.Option(
            "--at", metavar="TIME", help="Show the balances as stored at the last snapshot at "
            "or before this time (a date means the end of that day).")] = None,
        prune: Annotated[bool, typer.Option(
            "--prune", help="Delete the runs older than --keep (nothing else is shown).")
        ] = False,
        keep: Annotated[str | None, typer.Option(
            "--keep", metavar="DURATION", help="With --prune: how much history to keep: a "
                           "number and h, d, w, mo (months) or y, e.g. 365d, 6mo, 1y.")] = None,
        dry_run: Annotated[bool, typer.Option(
            "--dry-run", help="With --prune: show what would be deleted, delete nothing.")
        ] = False,
        yes: Annotated[bool, typer.Option(
            "--yes", "-y", help="With --prune: do not ask (needed off a terminal, e.g. cron).")
        ] = False,
        in_currency: InOpt = None, db: DbOpt = None,
        wide: WideOpt = False, exact: ExactOpt = False, utc: UtcOpt = False,
        columns: ColumnsOpt = None,
        config: ConfigOpt = None, demo: DemoOpt = False, verbose: VerboseOpt = False,
        debug: DebugOpt = False, no_color: NoColorOpt = False,
    ) -> None:
        """Balances over time from the history store; with --in, net worth per run.

        The store is filled by: balancecli snapshot."""
        rt = runtime(ctx, config=config, demo=demo, verbose=verbose, debug=debug,
                     no_color=no_color)
        rt.wide, rt.exact, rt.utc = wide, exact, utc
        if columns is not None:  # a typo is exit 2 before the store is opened
            from balancecli.cli.commands.history_view import check_columns

            rt.columns = check_columns(rt, columns, fmt=fmt.value, field=field, at=at,
                                       in_currency=in_currency)
        if prune or keep is not None or dry_run or yes:
            from balancecli.cli.commands.prune import run_prune

            run_prune(rt, prune=prune, keep=keep, dry_run=dry_run, yes=yes, fmt=fmt.value, db=db,
                      conflicts=[name for name, value in (
                          ("--at", at), ("--since", since), ("--until", until),
                          ("--profile", profile), ("--account", account),
                          ("--currency", currency)) if value])
        run_history(rt, profiles=profile, accounts=account, fmt=fmt.value, currency=currency,
                    field=field, since=since, until=until, at=at, db=db,
                    in_currency=in_currency)


# ---------------------------------------------------------------------------------------------
# snapshot


def run_snapshot(rt: Any, *, profiles: list[str] | None, accounts: list[str] | None, fmt: str,
                 timeout: float, db: Path | None, textfile: Path | None = None) -> None:
    from balancecli import history
    from balancecli.cli.commands.networth_history import snapshot_rates
    from balancecli.cli.runtime import boundary, no_match_error
    from balancecli.service.fetch import Options, run

    with boundary(rt):
        path = history.db_path(db, demo=rt.demo)
        selected, errors, presets = rt.select(profiles)
        # Open (create, migrate) before fetching: a bad --db fails before any broker is asked.
        with history.Store.open(path) as store:
            started = datetime.now(UTC)
            options = Options(
                command="snapshot", account_ids=list(accounts or []), timeout=timeout,
                log=rt.log if rt.verbose else None, warn=rt.warn,
                interactive=False,  # never prompt: snapshot runs unattended
                presets=presets, debug=rt.debug, pending=rt.pending,
            )
            # One fetch: each broker builds balances and assets from the same responses.
            with rt.spinner(f"Fetching {len(selected)} profile(s)…"):
                fetched = run(selected, options)
            errors += fetched.errors
            if options.account_ids and not fetched.matched_accounts and not errors:
                raise no_match_error(options.account_ids)  # a typo, not a run: nothing stored
            finished = datetime.now(UTC)
            names = [p.name for p in selected]
            run_id = store.record_run(
                started_at=started, finished_at=finished, profiles=names,
                balances=fetched.rows, assets=fetched.assets, errors=errors,
                rates=snapshot_rates(rt, fetched.rows, fetched.assets))
        failed = []
        if textfile is not None:  # a failure here is reported after the summary
            from balancecli.cli.commands.data_export import write_textfile
            from balancecli.core.errors import BalanceCliError

            try:
                write_textfile(textfile, fetched.rows, fetched.assets, names, errors,
                               (finished - started).total_seconds())
            except BalanceCliError as exc:
                failed.append(exc)
        summary = {
            "id": run_id, "started_at": history.format_time(started),
            "finished_at": history.format_time(finished), "profiles": names,
            "ok": not errors, "balances": len(fetched.rows), "assets": len(fetched.assets),
            "accounts": len({(r.profile, r.account_id) for r in fetched.rows + fetched.assets}),
            "errors": len(errors),
        }
        if not rt.quiet:  # -q: cron mails only the error lines
            rt.out(_snapshot_text(summary, errors, path, fmt))
        code = rt.exit_code(errors + failed, fetched.anything_succeeded or bool(fetched.assets))
    raise typer.Exit(code)


def _snapshot_text(summary: dict[str, Any], errors: Sequence[Any], path: Path, fmt: str) -> str:
    from balancecli.cli.commands.history_view import _csv
    from balancecli.core.clock import utc_now
    from balancecli.core.exactjson import dumps_exact

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
                at: str | None, db: Path | None,
                in_currency: str | None = None) -> None:
    from balancecli import history
    from balancecli.cli.commands.history_view import _show_at, _show_series, indented
    from balancecli.cli.runtime import boundary

    # Usage errors (exit 2) before the boundary, which would call them internal errors.
    if field not in history.BALANCE_FIELDS:
        raise typer.BadParameter(
            f"{field!r} is not a balance field (one of: {', '.join(history.BALANCE_FIELDS)})",
            param_hint="--field")
    if at and (since or until):
        raise typer.BadParameter("--at excludes --since/--until", param_hint="--at")
    when_at = _when(at, "--at", end_of_day=True)
    when_since = _when(since, "--since")
    when_until = _when(until, "--until", end_of_day=True)

    with boundary(rt):
        target = settings = None
        if in_currency is not None or not (at or currency):
            from balancecli.cli.commands.networth import target_currency

            target, settings = target_currency(rt, in_currency)
        if target and (at or currency):
            from balancecli.cli.commands.options import usage

            usage(rt, "--in excludes --at and --currency")
        path = history.db_path(db, demo=rt.demo)
        # Read-only: works on read-only media, and never creates or changes a file.
        with history.Store.open(path, create=False, readonly=True) as store, \
                indented(rt, fmt):
            if target and rt.columns:
                from balancecli.cli.commands.options import usage

                usage(rt, "--columns does not apply to net worth history (--in)", "history")
            if currency:
                _check_currency(store, currency)
            if target:  # net worth per run
                from balancecli.cli.commands import networth_history

                code = networth_history.show(
                    rt, store, target, settings, since=when_since, until=when_until,
                    profiles=profiles, accounts=accounts, fmt=fmt)
            elif when_at is not None:
                _check_at(store, when_at)
                code = _show_at(rt, store, when_at, profiles, accounts, currency, fmt)
            else:
                points = store.iter_series(field, account_ids=accounts, profiles=profiles,
                                           since=when_since, until=when_until)
                if currency:
                    points = (p for p in points if (p.currency or "").upper() == currency.upper())
                code = _show_series(rt, points, field, when_since, when_until, accounts, fmt)
    raise typer.Exit(code)


def _check_currency(store: Any, currency: str) -> None:
    """A --currency that no stored balance has: say which ones there are (exit 3, as -a)."""
    from balancecli.core.errors import ConfigError

    stored = store.currencies()
    if currency.upper() not in {c.upper() for c in stored}:
        raise ConfigError(
            f"no stored balance is in {currency.upper()} (--currency); stored: "
            + (", ".join(stored) or "none"),
            next_step="run: balancecli history (without --currency) to see every series")


def _check_at(store: Any, when: datetime) -> None:
    """--at before the first run (or with no run at all) names what is stored (exit 3)."""
    from balancecli.core.errors import ConfigError
    from balancecli.history import format_time, short_time

    count, first, last = store.run_span()
    if count == 0:
        raise ConfigError("the history database holds no snapshot yet",
                          next_step="run: balancecli snapshot")
    if format_time(when) < first:
        raise ConfigError(
            f"no snapshot at or before {short_time(format_time(when))}: the {count} stored "
            f"run(s) go from {short_time(first)} to {short_time(last)}",
            next_step=f"try: --at {short_time(first)} or later")
