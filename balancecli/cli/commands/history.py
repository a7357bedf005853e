"""``history``: balances over time from the history store that ``snapshot`` fills.

One balance field over time per account (``--field``, default ``equity``) with the change
from the first to the last known value, a sparkline and per-currency totals (sums of each
account's first and last value in the range); ``--at`` shows the balances as stored at the
last snapshot at or before a time; ``--in CUR`` the net worth of each stored run;
``--hide-amounts`` shows shares and changes in percent instead of amounts; ``--prune --keep
365d`` deletes older runs (``commands/prune.py``). Times: ``30d`` (that long ago; units s, min,
h, d, w, mo, y), ``2026-11-01`` (00:00 UTC; as ``--until``/``--at`` the end of that day) or ISO
8601 (UTC unless it has an offset). ``history`` opens the database read-only: it never
creates, migrates or changes a file. What it shows is ``output.series`` (series),
``output.networth`` (net worth) and the data commands' printers (``--at``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from balancecli.cli import complete
from balancecli.cli.commands.options import (
    AccountOpt,
    ColumnsOpt,
    ConfigOpt,
    DebugOpt,
    DemoOpt,
    ExactOpt,
    ForceOpt,
    Format,
    FormatOpt,
    InOpt,
    NoColorOpt,
    ProfileOpt,
    UtcOpt,
    VerboseOpt,
    WideOpt,
    examples,
    runtime,
)
from balancecli.cli.commands.snapshot import DbOpt

if TYPE_CHECKING:
    from balancecli.cli.boundary import Ending
    from balancecli.cli.runtime import Runtime

CurrencyOpt = Annotated[str | None, typer.Option(
    "--currency", metavar="CUR", help="Only the series in this currency.",
    autocompletion=complete.complete_currency)]
FieldOpt = Annotated[str, typer.Option(
    "--field", metavar="FIELD", help="Balance field to follow (equity, cash, buying_power, ...).",
    autocompletion=complete.complete_field)]
SinceOpt = Annotated[str | None, typer.Option(
    "--since", metavar="TIME", help="From this time: 30d, 12h, 2026-11-01 or ISO 8601 (UTC).")]
UntilOpt = Annotated[str | None, typer.Option(
    "--until", metavar="TIME", help="Up to this time (a date includes that whole day).")]
AtOpt = Annotated[str | None, typer.Option(
    "--at", metavar="TIME", help="Show the balances as stored at the last snapshot at or before "
    "this time (a date means the end of that day).")]
PruneOpt = Annotated[bool, typer.Option(
    "--prune", help="Delete the runs older than --keep (nothing else is shown).")]
KeepOpt = Annotated[str | None, typer.Option(
    "--keep", metavar="DURATION", help="With --prune: how much history to keep: a number and h, "
    "d, w, mo (months) or y, e.g. 365d, 6mo, 1y.")]
DryRunOpt = Annotated[bool, typer.Option(
    "--dry-run", help="With --prune: show what would be deleted, delete nothing.")]
YesOpt = Annotated[bool, typer.Option(
    "--yes", "-y", help="With --prune: do not ask (needed off a terminal, e.g. cron).")]
HistoryHideOpt = Annotated[bool, typer.Option(
    "--hide-amounts", envvar="BALANCECLI_HIDE_AMOUNTS", show_envvar=True,
    help="Tables: no amounts, only shares and changes in percent (screen sharing).")]
EXAMPLES = examples(
    "balancecli history --since 30d", "balancecli history --field cash --currency USD --utc",
    "balancecli history -a 11827391 --since 2026-11-01", "balancecli history --at 2026-11-01 "
    "--exact", "balancecli history --hide-amounts", "balancecli history -f csv > equity.csv",
    "balancecli history --prune --keep 1y --dry-run")


@dataclass
class Query:
    """What ``history`` was asked for."""

    profiles: list[str] | None
    accounts: list[str] | None
    fmt: str
    currency: str | None
    field: str
    since: str | None
    until: str | None
    at: str | None
    db: Path | None
    in_currency: str | None = None
    hide_amounts: bool = False
    force: bool = False


def history(
    ctx: typer.Context, profile: ProfileOpt = None, account: AccountOpt = None,
    fmt: FormatOpt = Format.table, currency: CurrencyOpt = None, field: FieldOpt = "equity",
    since: SinceOpt = None, until: UntilOpt = None, at: AtOpt = None, prune: PruneOpt = False,
    keep: KeepOpt = None, dry_run: DryRunOpt = False, yes: YesOpt = False,
    in_currency: InOpt = None, db: DbOpt = None, hide_amounts: HistoryHideOpt = False,
    force: ForceOpt = False, wide: WideOpt = False, exact: ExactOpt = False,
    utc: UtcOpt = False, columns: ColumnsOpt = None,
    config: ConfigOpt = None, demo: DemoOpt = False, verbose: VerboseOpt = False,
    debug: DebugOpt = False, no_color: NoColorOpt = False,
) -> None:
    """Balances over time from the history store; with --in, net worth per run.

    The store is filled by: balancecli snapshot."""
    from balancecli.cli.boundary import run

    rt = runtime(ctx, config=config, demo=demo, verbose=verbose, debug=debug, no_color=no_color)
    rt.wide, rt.exact, rt.utc = wide, exact, utc
    query = Query(profile, account, fmt.value, currency, field, since, until, at, db,
                  in_currency, hide_amounts, force)
    conflicts = [name for name, value in (
        ("--at", at), ("--since", since), ("--until", until), ("--profile", profile),
        ("--account", account), ("--currency", currency)) if value]

    def body() -> Ending | None:
        if columns is not None:  # a typo is exit 2 before the store is opened
            rt.columns = check_columns(columns, query)
        if prune or keep is not None or dry_run or yes:
            from balancecli.cli.commands.prune import run_prune

            run_prune(rt, prune=prune, keep=keep, dry_run=dry_run, yes=yes, fmt=fmt.value,
                      db=db, conflicts=conflicts)
            return None
        return run_history(rt, query)

    run(rt, body)


def register(app: typer.Typer) -> None:
    """Add ``snapshot`` and ``history`` to the root app."""
    from balancecli.cli.commands.snapshot import EXAMPLES as SNAPSHOT_EXAMPLES
    from balancecli.cli.commands.snapshot import snapshot

    app.command(epilog=SNAPSHOT_EXAMPLES)(snapshot)
    app.command(epilog=EXAMPLES)(history)


def check_columns(text: str, q: Query) -> list[str]:
    """``history --columns a,b``: the names that output has (the series table's keys, the csv
    header's, or with --at a balance row's); a typo is a usage error listing them (exit 2)."""
    from balancecli.cli.boundary import UsageError
    from balancecli.cli.commands.options import check_columns as check
    from balancecli.output.series import POINT_FIELDS, SERIES_COLUMNS
    from balancecli.output.specs import BALANCE

    if q.in_currency is not None:
        raise UsageError("--columns does not apply to net worth history (--in)")
    if q.at:
        valid = BALANCE.field_names()
    elif q.fmt == "table":
        valid = [key for key, *_ in SERIES_COLUMNS]
    else:
        valid = [*POINT_FIELDS, q.field]
    has = f"history{' --at' if q.at else ''}{' -f csv' if q.fmt == 'csv' and not q.at else ''}"
    return check(text, valid, f"{has} has")


def _when(text: str | None, option: str, *, end_of_day: bool = False) -> datetime | None:
    from balancecli.cli.boundary import UsageError
    from balancecli.history import parse_when

    if text is None:
        return None
    try:
        return parse_when(text, end_of_day=end_of_day)
    except ValueError as exc:
        raise UsageError(str(exc), option=option) from None


def run_history(rt: Runtime, q: Query) -> Ending | None:
    from balancecli import history
    from balancecli.cli.boundary import UsageError
    from balancecli.cli.commands.data import refuse_masked
    from balancecli.output.presenter import View

    refuse_masked(View(q.fmt, hide_amounts=q.hide_amounts), force=q.force)
    if q.field not in history.BALANCE_FIELDS:
        raise UsageError(f"{q.field!r} is not a balance field (one of: "
                         f"{', '.join(history.BALANCE_FIELDS)})", option="--field")
    if q.at and (q.since or q.until):
        raise UsageError("--at excludes --since/--until", option="--at")
    when = (_when(q.at, "--at", end_of_day=True), _when(q.since, "--since"),
            _when(q.until, "--until", end_of_day=True))
    target = settings = None
    if q.in_currency is not None or not (q.at or q.currency):
        from balancecli.cli.commands.networth import target_currency

        target, settings = target_currency(rt, q.in_currency)
    if target and (q.at or q.currency):
        raise UsageError("--in excludes --at and --currency")
    path = history.db_path(q.db, demo=rt.demo)
    # Read-only: works on read-only media, and never creates or changes a file.
    with history.Store.open(path, create=False, readonly=True) as store:
        if target and rt.columns:
            raise UsageError("--columns does not apply to net worth history (--in)")
        if q.currency:
            _check_currency(store, q.currency)
        if target:
            ending = _networth(rt, store, q, target, settings, when[1], when[2])
        elif when[0] is not None:
            _check_at(store, when[0])
            ending = _at(rt, store, q, when[0])
        else:
            ending = _series(rt, store, q, when[1], when[2])
        return _with_damage(ending, store)


def _with_damage(ending: Ending | None, store: Any) -> Ending | None:
    """Rows of the store that could not be read were left out of what was shown: one line
    per damaged column naming its runs, exit 3 (``history.damage``)."""
    from balancecli.cli.boundary import Ending

    damaged = store.damage.errors(store.path)
    if not damaged:
        return ending
    return Ending([*(ending.errors if ending else ()), *damaged], anything_succeeded=False)


def _masked(rt: Runtime, q: Query) -> bool:
    return q.hide_amounts and q.fmt == "table"


def _range(since: datetime | None, until: datetime | None) -> list[tuple[str, Any]]:
    from balancecli.history import format_time

    return [("since", since and format_time(since)), ("until", until and format_time(until))]


def _no_match(rt: Runtime, accounts: list[str] | None) -> Ending | None:
    from balancecli.cli.boundary import Ending
    from balancecli.cli.profiles import no_match_error

    if accounts:
        return Ending([no_match_error(accounts)], anything_succeeded=False)
    rt.note("no stored balances match (run: balancecli snapshot)")
    return None


def _series(rt: Runtime, store: Any, q: Query, since: datetime | None,
            until: datetime | None) -> Ending | None:
    """Streams json/jsonl/csv (constant memory over a million points); the table needs only
    each series' summary (plus its points with --account)."""
    from balancecli.output import series as shown

    points = store.iter_series(q.field, account_ids=q.accounts, profiles=q.profiles,
                               since=since, until=until)
    if q.currency:
        points = (p for p in points if (p.currency or "").upper() == q.currency.upper())
    if q.fmt == "json":
        found = shown.stream_json(rt.console, points, q.field, _range(since, until))
    elif q.fmt in ("jsonl", "csv"):
        found = shown.stream_points(rt.console, points, q.field, q.fmt,
                                    rt.columns if q.fmt == "csv" else None)
    else:
        summaries = sorted(
            shown.with_timelines(shown.iter_groups(points), keep_points=bool(q.accounts)),
            key=lambda s: (s.profile, s.account_id, s.currency or ""))
        found = len(summaries)
        rt.console.print_tables(*shown.tables(
            summaries, q.field, exact=rt.exact, utc=rt.utc, masked=_masked(rt, q),
            columns=rt.columns, points=bool(q.accounts)), wide=rt.wide,
            show_with="--wide" if _masked(rt, q) else "--wide or -f csv")
    return None if found else _no_match(rt, q.accounts)


def _at(rt: Runtime, store: Any, q: Query, when: datetime) -> Ending | None:
    """The balances as stored at ``when``, through the balance command's printers."""
    from balancecli import history
    from balancecli.output.presenter import End, View, printer
    from balancecli.output.specs import AT

    stored = [s for s in store.balances_at(when)
              if (not q.profiles or s.row.profile in q.profiles)
              and (not q.accounts or s.row.account_id in q.accounts)
              and (not q.currency or (s.row.currency or "").upper() == q.currency.upper())]
    view = View(q.fmt, hide_amounts=q.hide_amounts, wide=rt.wide, exact=rt.exact,
                columns=rt.columns)
    out = printer(AT, view, rt.console, head=[("at", history.format_time(when))])
    out.rows([s.row for s in stored], None,
             [[("snapshot_at", s.taken_at), ("run_id", s.run_id)] for s in stored])
    out.close(End())
    if not stored:
        return _no_match(rt, q.accounts)
    if q.fmt == "table":
        runs = sorted({(s.run_id, s.taken_at) for s in stored})
        rt.note("as stored by snapshot " + ", ".join(
            f"{run_id} ({history.short_time(t)})" for run_id, t in runs))
    return None


def _networth(rt: Runtime, store: Any, q: Query, target: str, settings: Any,
              since: datetime | None, until: datetime | None) -> Ending | None:
    """Net worth per stored run, each valued offline with the rates of its own day."""
    from balancecli.output.networth import RunsPrinter
    from balancecli.service.networth import summary, valued_runs

    out = RunsPrinter(rt.console, q.fmt, target, _range(since, until), masked=_masked(rt, q))
    missing: dict[tuple[str, str], str] = {}
    stale: set[Any] = set()
    for row, converted in valued_runs(store, target, settings, since=since, until=until,
                                      profiles=q.profiles, accounts=q.accounts):
        out.run(row, converted)
        for u in converted.unconverted:
            missing[(u.profile, u.account_id)] = f"{u.currency or 'no currency'}: {u.reason}"
        stale |= {r.day for r in converted.rates_used() if r.stale and r.day}
    out.close(summary(out.rows))
    if not out.rows:
        rt.err("no stored runs match (run: balancecli snapshot)")
    if missing:
        incomplete = sum(1 for r in out.rows if r["incomplete"])
        names = ", ".join(f"{p} {a} ({why})" for (p, a), why in missing.items())
        rt.warn(f"{incomplete} of {len(out.rows)} runs are incomplete in {target}; not "
                f"converted: {names} — add a rate under [rates] in the config file")
    if stale:
        rt.warn(f"ECB rates more than {settings.max_age_days} days older than their run were "
                f"used (the newest from {max(stale)}; run: balancecli rates update)")
    return None


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
