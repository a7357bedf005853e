"""``history``: balances over time from the history store that ``snapshot`` fills.

Per account one balance field over time (``--field``; by default each account follows its
equity, else cash, else available) with the change from the first to the last value, a
sparkline and per-currency totals; ``--every 1h|1d|1w|1mo|1y`` keeps the last run of each
local period and ``--last N`` the N newest points; ``--chart`` draws the series instead
(``output.chart``); ``--at`` shows the balances as stored at the last snapshot at or before a
time; ``--in CUR`` the net worth of each stored (or kept) run; ``--hide-amounts`` shares and
changes in percent instead of amounts; ``--prune --keep 365d`` deletes older runs
(``commands/prune.py``).

One time zone: tables and charts show local time (``--utc``: UTC), and ``--since``,
``--until`` and ``--at`` read ``2026-11-01`` or an ISO time without an offset in that zone.
Without ``--every`` or ``--last``, a table longer than the terminal picks the period that fits
(one note says so). A filter that matches nothing is exit 3 naming what is stored.
``history`` opens the database read-only: it never creates, migrates or changes a file, but
for the demo's own store, which is given its generated past first (``cli.demo_store``). What is
read is ``service.history``; what is shown ``output.series`` (series), ``output.networth``
(net worth), ``output.chart`` (charts) and the data commands' printers (``--at``).
"""

from __future__ import annotations

import itertools
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
FieldOpt = Annotated[str | None, typer.Option(
    "--field", metavar="FIELD", help="Balance field to follow (equity, cash, buying_power, "
    "...; default: per account equity, else cash, else available).",
    autocompletion=complete.complete_field)]
SinceOpt = Annotated[str | None, typer.Option(
    "--since", metavar="TIME", help="From this time: 30d, 12h, 2026-11-01 or ISO 8601 (local "
    "time unless it has an offset; --utc: UTC).")]
UntilOpt = Annotated[str | None, typer.Option(
    "--until", metavar="TIME", help="Up to this time (a date includes that whole day).")]
AtOpt = Annotated[str | None, typer.Option(
    "--at", metavar="TIME", help="Show the balances as stored at the last snapshot at or before "
    "this time (a date means the end of that day).")]
EveryOpt = Annotated[str | None, typer.Option(
    "--every", metavar="PERIOD", help="Keep the last snapshot of each local hour, day, week, "
    "month or year: 1h, 1d, 1w, 1mo, 1y.", autocompletion=complete.complete_period)]
LastOpt = Annotated[int | None, typer.Option(
    "--last", metavar="N", min=1, help="Only the N newest points of each series (runs, with "
    "--in).")]
ChartOpt = Annotated[bool, typer.Option(
    "--chart", help="Draw the series as a chart that fits the terminal: net worth with --in, "
    "one account with -a, else each currency's total.")]
HeightOpt = Annotated[int | None, typer.Option(
    "--height", metavar="LINES", min=8, help="With --chart: its height in lines (default: the "
    "terminal's).")]
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
    help="Tables and charts: no amounts, only shares and changes in percent (screen sharing).")]
EXAMPLES = examples(
    "balancecli history --since 30d", "balancecli history --every 1d --last 14",
    "balancecli history --in USD --every 1w", "balancecli history --in USD --chart",
    "balancecli history -a 11827391 --chart --since 90d",
    "balancecli history --field cash --currency USD --utc",
    "balancecli history --at 2026-11-01 --exact", "balancecli history --hide-amounts",
    "balancecli history -f csv > equity.csv", "balancecli history --prune --keep 1y --dry-run")


@dataclass
class Query:
    """What ``history`` was asked for."""

    profiles: list[str] | None
    accounts: list[str] | None
    fmt: str
    currency: str | None
    field: str | None
    since: str | None
    until: str | None
    at: str | None
    db: Path | None
    in_currency: str | None = None
    hide_amounts: bool = False
    force: bool = False
    every: str | None = None
    last: int | None = None
    chart: bool = False
    height: int | None = None


def history(
    ctx: typer.Context, profile: ProfileOpt = None, account: AccountOpt = None,
    fmt: FormatOpt = Format.table, currency: CurrencyOpt = None, field: FieldOpt = None,
    since: SinceOpt = None, until: UntilOpt = None, at: AtOpt = None,
    every: EveryOpt = None, last: LastOpt = None, chart: ChartOpt = False,
    height: HeightOpt = None, prune: PruneOpt = False,
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
                  in_currency, hide_amounts, force, every, last, chart, height)
    conflicts = [name for name, value in (
        ("--at", at), ("--since", since), ("--until", until), ("--profile", profile),
        ("--account", account), ("--currency", currency), ("--every", every),
        ("--last", last), ("--chart", chart)) if value]

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
    from balancecli.output.series import SERIES_COLUMNS, point_header
    from balancecli.output.specs import BALANCE

    if q.in_currency is not None:
        raise UsageError("--columns does not apply to net worth history (--in)")
    if q.chart:
        raise UsageError("--columns does not apply to a chart (--chart)")
    if q.at:
        valid = BALANCE.field_names()
    elif q.fmt == "table":
        valid = [key for key, *_ in SERIES_COLUMNS]
    else:
        valid = list(point_header(q.field))
    has = f"history{' --at' if q.at else ''}{' -f csv' if q.fmt == 'csv' and not q.at else ''}"
    return check(text, valid, f"{has} has")


def _checked(rt: Runtime, q: Query) -> None:
    """The combinations that cannot run (exit 2), before the store is opened."""
    from balancecli import history
    from balancecli.cli.boundary import UsageError
    from balancecli.cli.commands.data import refuse_masked
    from balancecli.history.resample import check_period
    from balancecli.output.presenter import View

    refuse_masked(View(q.fmt, hide_amounts=q.hide_amounts), force=q.force)
    if q.field is not None and q.field not in history.BALANCE_FIELDS:
        raise UsageError(f"{q.field!r} is not a balance field (one of: "
                         f"{', '.join(history.BALANCE_FIELDS)})", option="--field")
    if q.every is not None:
        try:
            q.every = check_period(q.every)
        except ValueError as exc:
            raise UsageError(str(exc), option="--every") from None
    if q.at and (q.since or q.until):
        raise UsageError("--at excludes --since/--until", option="--at")
    if q.at and (q.every or q.last or q.chart):
        raise UsageError("--at shows one moment: it takes no --every, --last or --chart",
                         option="--at")
    if q.chart and q.fmt != "table":
        raise UsageError(f"--chart draws text for people; it cannot be combined with -f "
                         f"{q.fmt} (drop --chart for the data)", option="--chart")
    if q.height is not None and not q.chart:
        raise UsageError("--height is the height of --chart", option="--height")


def _when(text: str | None, option: str, tz: Any, *,
          end_of_day: bool = False) -> datetime | None:
    from balancecli.cli.boundary import UsageError
    from balancecli.history import parse_when

    if text is None:
        return None
    try:
        return parse_when(text, end_of_day=end_of_day, tz=tz)
    except ValueError as exc:
        raise UsageError(str(exc), option=option) from None


def run_history(rt: Runtime, q: Query) -> Ending | None:
    from datetime import UTC

    from balancecli import history
    from balancecli.cli.boundary import UsageError
    from balancecli.service.history import Wanted, check_filters

    _checked(rt, q)
    tz = UTC if rt.utc else None  # one zone for what is read and what is shown
    at = _when(q.at, "--at", tz, end_of_day=True)
    wanted = Wanted(q.field, q.profiles, q.accounts, q.currency, _when(q.since, "--since", tz),
                    _when(q.until, "--until", tz, end_of_day=True), q.every, q.last, tz)
    target = settings = None
    if q.in_currency is not None or not (q.at or q.currency):
        from balancecli.cli.commands.networth import target_currency

        target, settings = target_currency(rt, q.in_currency)
    if target and (q.at or q.currency):
        raise UsageError("--in excludes --at and --currency")
    if target and rt.columns:
        raise UsageError("--columns does not apply to net worth history (--in)")
    path = history.db_path(q.db, demo=rt.demo)
    if rt.demo:
        from balancecli.cli.demo_store import with_past

        with_past(rt, path, explicit=q.db)
    # Read-only: works on read-only media, and never creates or changes a file.
    with history.Store.open(path, create=False, readonly=True) as store:
        check_filters(store, wanted)
        if target:
            ending = _networth(rt, store, q, wanted, target, settings)
        elif at is not None:
            _check_at(store, at, rt.utc)
            ending = _at(rt, store, q, at)
        elif q.chart:
            ending = _chart(rt, store, q, wanted)
        else:
            ending = _series(rt, store, q, wanted)
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


def _head(wanted: Any) -> list[tuple[str, Any]]:
    """What the JSON documents say of the range: since, until, every, newest (--last)."""
    from balancecli.history import format_time

    return [("since", wanted.since and format_time(wanted.since)),
            ("until", wanted.until and format_time(wanted.until)),
            ("every", wanted.every), ("newest", wanted.last)]


def _nothing(rt: Runtime, store: Any, wanted: Any) -> Ending | None:
    """Nothing stored matched: exit 3 naming what is stored when the command line filtered
    (a filter that matches nothing), a note when the store is simply empty."""
    from balancecli.output.series import when
    from balancecli.service.history import nothing_in_range

    filtered = wanted.profiles or wanted.accounts or wanted.currency or wanted.since or \
        wanted.until
    count = store.run_span()[0]
    if filtered or count:
        raise nothing_in_range(store, wanted, lambda t: when(t, utc=rt.utc) or t)
    rt.note("no stored balances yet (run: balancecli snapshot)")
    return None


def _fitting(rt: Runtime, q: Query, wanted: Any, pick: Any, what: str) -> Any:
    """Without --every or --last, a table longer than the terminal (on a terminal) shows
    the closes of the finest period that fits, and says so in one note."""
    if q.fmt != "table" or wanted.every or wanted.last or not rt.console.is_terminal:
        return wanted
    import shutil

    rows = max(shutil.get_terminal_size((80, 24)).lines - 8, 5)
    period = pick(rows)
    if period is None:
        return wanted
    from balancecli.output.series import PERIOD_NAMES

    rt.note(f"note: too many {what} for {rows} lines: showing {PERIOD_NAMES[period]} "
            f"(the last snapshot of each; --every or --last N to choose, -f csv for all)")
    return wanted.but(every=period)


def _series(rt: Runtime, store: Any, q: Query, wanted: Any) -> Ending | None:
    """Streams json/jsonl/csv (constant memory over a million points); the table needs only
    each series' summary (plus its points with --account)."""
    from balancecli.output import series as shown
    from balancecli.service.history import point_period, series_points

    if q.accounts:
        wanted = _fitting(rt, q, wanted, lambda rows: point_period(store, wanted, rows),
                          "points")
    points = series_points(store, wanted)
    first = next(points, None)
    if first is None:  # nothing printed, not even an empty document
        return _nothing(rt, store, wanted)
    points = itertools.chain([first], points)
    if q.fmt == "json":
        found = shown.stream_json(rt.console, points, q.field, _head(wanted))
    elif q.fmt in ("jsonl", "csv"):
        found = shown.stream_points(rt.console, points, q.field, q.fmt,
                                    rt.columns if q.fmt == "csv" else None)
    else:
        summaries = sorted(
            shown.with_timelines(shown.iter_groups(points), keep_points=bool(q.accounts)),
            key=lambda s: (s.profile, s.account_id, s.currency or ""))
        found = len(summaries)
        rt.console.print_tables(*shown.tables(
            summaries, q.field or "", exact=rt.exact, utc=rt.utc, masked=_masked(rt, q),
            columns=rt.columns, points=bool(q.accounts)), wide=rt.wide,
            show_with="--wide" if _masked(rt, q) else "--wide or -f csv")
    return None if found else _nothing(rt, store, wanted)


def _at(rt: Runtime, store: Any, q: Query, when: datetime) -> Ending | None:
    """The balances as stored at ``when``, through the balance command's printers."""
    from balancecli import history
    from balancecli.output.presenter import End, View, printer
    from balancecli.output.series import when as shown_time
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
        from balancecli.core.errors import ConfigError

        raise ConfigError(f"no stored balance matches the filters at "
                          f"{shown_time(history.format_time(when), utc=rt.utc)}",
                          next_step="run: balancecli history --at TIME (without filters)")
    if q.fmt == "table":
        runs = sorted({(s.run_id, s.taken_at) for s in stored})
        rt.note("as stored by snapshot " + ", ".join(
            f"{run_id} ({shown_time(t, utc=rt.utc)})" for run_id, t in runs))
    return None


def _networth(rt: Runtime, store: Any, q: Query, wanted: Any, target: str,
              settings: Any) -> Ending | None:
    """Net worth per stored run (or per kept close), each valued offline with the rates of
    its own day."""
    from balancecli.output.networth import RunsPrinter
    from balancecli.service.history import run_period, run_stamps
    from balancecli.service.networth import summary, valued_runs

    if q.chart:
        wanted = _chart_period(rt, q, wanted, lambda n: run_period(store, wanted, n))
    else:
        wanted = _fitting(rt, q, wanted, lambda rows: run_period(store, wanted, rows), "runs")
    stamps = run_stamps(store, wanted) if wanted.every or wanted.last else None
    out = RunsPrinter(rt.console, "chart" if q.chart else q.fmt, target, _head(wanted),
                      masked=_masked(rt, q), utc=rt.utc)
    missing: dict[tuple[str, str], str] = {}
    stale: set[Any] = set()
    for row, converted in valued_runs(store, target, settings, since=wanted.since,
                                      until=wanted.until, profiles=q.profiles,
                                      accounts=q.accounts, stamps=stamps):
        out.run(row, converted)
        for u in converted.unconverted:
            missing[(u.profile, u.account_id)] = f"{u.currency or 'no currency'}: {u.reason}"
        stale |= {r.day for r in converted.rates_used() if r.stale and r.day}
    if not out.rows:
        return _nothing(rt, store, wanted)
    if q.chart:
        _draw(rt, q, out.chart_series())
    else:
        out.close(summary(out.rows))
    if missing:
        incomplete = sum(1 for r in out.rows if r["incomplete"])
        names = ", ".join(f"{p} {a} ({why})" for (p, a), why in missing.items())
        rt.warn(f"{incomplete} of {len(out.rows)} runs are incomplete in {target}; not "
                f"converted: {names} — add a rate under [rates] in the config file")
    if stale:
        rt.warn(f"ECB rates more than {settings.max_age_days} days older than their run were "
                f"used (the newest from {max(stale)}; "
                + ("the demo uses the ECB file bundled with balancecli)" if settings.demo
                   else "run: balancecli rates update)"))
    return None


# -- --chart -----------------------------------------------------------------------------------


def _chart_size(q: Query) -> tuple[int, int]:
    """The terminal's columns and lines (off a terminal: COLUMNS and LINES, else 80 x 24),
    the chart one line shorter than the screen (the prompt), or ``--height``."""
    import shutil

    size = shutil.get_terminal_size((80, 24))
    return max(size.columns, 20), q.height or max(size.lines - 1, 8)


def _chart_period(rt: Runtime, q: Query, wanted: Any, pick: Any) -> Any:
    """A chart draws at most about two points per column (each column keeps its highest and
    lowest): more points than that are drawn as the closes of the finest period that fits,
    said in one note. ``--every`` and ``--last`` choose for themselves."""
    if wanted.every or wanted.last:
        return wanted
    width, _ = _chart_size(q)
    budget = 2 * max(width - 16, 10)
    period = pick(budget)
    if period is None:
        return wanted
    from balancecli.output.series import PERIOD_NAMES

    rt.note(f"note: drawing {PERIOD_NAMES[period]} (the last snapshot of each) to fit "
            f"{width} columns; --every or --last N to choose")
    return wanted.but(every=period)


def _chart(rt: Runtime, store: Any, q: Query, wanted: Any) -> Ending | None:
    """With -a: each matching series; otherwise one line per currency: the total of the field
    (each account's followed field) over each run."""
    from balancecli.output.chart import Series
    from balancecli.service.history import (
        currency_totals,
        point_period,
        run_period,
        run_stamps,
        series_points,
    )

    series: list[Series] = []
    if q.accounts:
        wanted = _chart_period(rt, q, wanted, lambda n: point_period(store, wanted, n))
        lines: dict[tuple[Any, ...], list[Any]] = {}
        for p in series_points(store, wanted):
            lines.setdefault((p.profile, p.account_id, p.currency, p.field), []).append(
                (p.taken_at, p.value))
        series = [Series(f"{prof} {acct} {field} ({ccy or 'no currency'})", ccy, points)
                  for (prof, acct, ccy, field), points in sorted(lines.items(), key=str)]
    else:
        wanted = _chart_period(rt, q, wanted, lambda n: run_period(store, wanted, n))
        totals = currency_totals(store, wanted, run_stamps(store, wanted))
        series = [Series(f"Total in {ccy or 'no currency'} ({' or '.join(sorted(fields))})",
                         ccy, points)
                  for ccy, (fields, points) in sorted(totals.items(), key=lambda i: str(i[0]))]
    if not series:
        return _nothing(rt, store, wanted)
    _draw(rt, q, series)
    return None


def _draw(rt: Runtime, q: Query, series: Any) -> None:
    from datetime import UTC

    from balancecli.cli.boundary import UsageError
    from balancecli.output.chart import ChartError, draw

    width, height = _chart_size(q)

    def drawn(lines: int) -> str:
        return draw(series, width=width, height=lines, hide_amounts=q.hide_amounts,
                    color=rt.console.color, tz=UTC if rt.utc else None)

    try:
        try:
            text = drawn(height)
        except ChartError as exc:
            if exc.lines is None or q.height is not None:
                raise
            # The terminal's height is too small for every panel: taller than the screen
            # (it scrolls) rather than nothing; --height asks for exactly that many lines.
            rt.note(f"note: the chart needs {exc.lines} lines; the terminal has {height + 1}")
            text = drawn(exc.lines)
    except ChartError as exc:
        if "nothing to draw" in str(exc):
            from balancecli.core.errors import ConfigError

            raise ConfigError(f"{exc} (every value is missing)",
                              next_step="try another --field, or a wider --since") from None
        raise UsageError(f"{exc} (a larger terminal or --height)", option="--chart") from None
    from balancecli.core.redact import REDACTOR

    rt.console.write(REDACTOR.redact(text))


def _check_at(store: Any, when: datetime, utc: bool) -> None:
    """--at before the first run (or with no run at all) names what is stored (exit 3)."""
    from balancecli.core.errors import ConfigError
    from balancecli.history import format_time
    from balancecli.output.series import when as shown

    count, first, last = store.run_span()
    if count == 0:
        raise ConfigError("the history database holds no snapshot yet",
                          next_step="run: balancecli snapshot")
    if format_time(when) < first:
        raise ConfigError(
            f"no snapshot at or before {shown(format_time(when), utc=utc)}: the {count} stored "
            f"run(s) go from {shown(first, utc=utc)} to {shown(last, utc=utc)}",
            next_step=f'try: --at "{shown(_minute_after(first), utc=utc)}" or later')


def _minute_after(stored: str) -> str:
    """The stored time rounded up to the minute (what a table shows of it, and at or after
    it, so that ``--at`` with it finds that run)."""
    from datetime import timedelta

    from balancecli.history import format_time

    moment = datetime.fromisoformat(stored.replace("Z", "+00:00"))
    if moment.second or moment.microsecond:
        moment = moment.replace(second=0, microsecond=0) + timedelta(minutes=1)
    return format_time(moment)
