"""``snapshot`` and ``history``: the commands over the SQLite history store (issue #7).

``register(app)`` adds both commands to the main Typer app; ``cli.py`` calls it once, after its
own commands are defined. ``balancecli.history`` (and so ``sqlite3``) is imported only when one
of these commands runs, never for ``--help`` or ``--version``.

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

import dataclasses
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:  # decimal is imported only when a command runs
    from decimal import Decimal

SNAPSHOT_SCHEMA = "balancecli.snapshot/1"
HISTORY_SCHEMA = "balancecli.history/1"
AT_SCHEMA = "balancecli.history.at/1"
PRUNE_SCHEMA = "balancecli.prune/1"

DbOpt = Annotated[Path | None, typer.Option(
    "--db", envvar="BALANCECLI_DB", show_envvar=True,
    help="History database (default: the user data dir's history.sqlite3).")]


def register(app: typer.Typer) -> None:
    """Add ``snapshot`` and ``history`` to the main app (call after cli.py's own commands)."""
    from balancecli.cli import (
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
    )
    from balancecli.runtime import Runtime

    @app.command()
    def snapshot(
        ctx: typer.Context, profile: ProfileOpt = None, account: AccountOpt = None,
        fmt: FormatOpt = Format.table, timeout: TimeoutOpt = 15.0, db: DbOpt = None,
        config: ConfigOpt = None, demo: DemoOpt = False, verbose: VerboseOpt = False,
        debug: DebugOpt = False, no_color: NoColorOpt = False,
    ) -> None:
        """Fetch balances and assets and append them to the history store (cron-safe)."""
        rt = Runtime.from_options(ctx, config=config, demo=demo, verbose=verbose, debug=debug,
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
        rt = Runtime.from_options(ctx, config=config, demo=demo, verbose=verbose, debug=debug,
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


def _no_match(rt: Any, accounts: list[str] | None) -> int:
    from balancecli.runtime import no_match_error

    if accounts:
        return rt.exit_code([no_match_error(accounts)], False)
    rt.err("no stored balances match (run: balancecli snapshot)")
    return 0


def _show_at(rt: Any, store: Any, when: datetime, profiles: list[str] | None,
             accounts: list[str] | None, currency: str | None, fmt: str) -> int:
    from balancecli import history, render
    from balancecli.models import row_dict, utc_now

    stored = [
        s for s in store.balances_at(when)
        if (not profiles or s.row.profile in profiles)
        and (not accounts or s.row.account_id in accounts)
        and (not currency or (s.row.currency or "").upper() == currency.upper())
    ]
    rows = [s.row for s in stored]
    with_run = [{**row_dict(s.row), "snapshot_at": s.taken_at, "run_id": s.run_id}
                for s in stored]
    if fmt == "json":
        rt.out(render.dumps_exact({
            "schema": AT_SCHEMA, "generated_at": utc_now(), "at": history.format_time(when),
            "balances": with_run, "totals": render.totals(rows), "errors": []}) + "\n")
    elif fmt == "jsonl":
        rt.out("".join(render.dumps_exact(r) + "\n" for r in with_run))
    elif fmt == "csv":
        rt.out(render.to_csv("balance", rows))
    elif rows:
        rt.print_table(render.table("balance", rows, color=rt.color))
        runs = sorted({(s.run_id, s.taken_at) for s in stored})
        rt.err("as stored by snapshot " + ", ".join(
            f"{run_id} ({history.short_time(t)})" for run_id, t in runs))
    if not rows:
        return _no_match(rt, accounts)
    return 0


@dataclasses.dataclass
class Series:
    """One account's (and currency's) values in time order, summarized once complete."""

    profile: str
    broker: str
    account_id: str
    currency: str | None
    points: list[Any]
    count: int = 0
    first: Any = None  # the first and last points with a value
    last: Any = None
    change: "Decimal | None" = None
    trend: str = ""

    def finish(self, *, keep_points: bool) -> "Series":
        from balancecli.history import exact_diff, sparkline

        self.count = len(self.points)
        known = [p for p in self.points if p.value is not None]
        if known:
            self.first, self.last = known[0], known[-1]
            self.change = exact_diff(self.last.value, self.first.value)
        self.trend = sparkline([p.value for p in self.points])
        if not keep_points:
            self.points = []
        return self


def iter_groups(points: Iterable[Any], *, keep_points: bool = True) -> Iterator[Series]:
    """Finished Series from points ordered by account id (the store's order): one account's
    points at a time are in memory, its series by profile, broker and currency."""
    current: object = object()
    buffer: dict[tuple[Any, ...], Series] = {}

    def flush() -> Iterator[Series]:
        for key in sorted(buffer, key=lambda k: (k[0], k[1], k[2] or "")):
            yield buffer[key].finish(keep_points=keep_points)

    for p in points:
        if p.account_id != current:
            yield from flush()
            buffer, current = {}, p.account_id
        key = (p.profile, p.broker, p.currency)
        if key not in buffer:
            buffer[key] = Series(p.profile, p.broker, p.account_id, p.currency, [])
        buffer[key].points.append(p)
    yield from flush()


def series_totals(series: Sequence[Series]) -> list[dict[str, Any]]:
    """Per currency: sums of each account's first and last known value, and their change."""
    from balancecli.history import exact_diff, exact_sum

    out: dict[str | None, dict[str, Any]] = {}
    for s in series:
        group = out.setdefault(s.currency, {"currency": s.currency, "accounts": 0, "first": [],
                                            "last": [], "incomplete": False})
        group["accounts"] += 1
        if s.first is None:
            group["incomplete"] = True
        else:
            group["first"].append(s.first.value)
            group["last"].append(s.last.value)
    result = []
    for group in out.values():
        first = exact_sum(group["first"]) if group["first"] else None
        last = exact_sum(group["last"]) if group["last"] else None
        change = None if first is None or last is None else exact_diff(last, first)
        result.append({"currency": group["currency"], "accounts": group["accounts"],
                       "first": first, "last": last, "change": change,
                       "incomplete": group["incomplete"]})
    return result


CHUNK = 2000  # lines per write when streaming


def _show_series(rt: Any, points: Iterable[Any], field: str, since: datetime | None,
                 until: datetime | None, accounts: list[str] | None, fmt: str) -> int:
    """Streams json/jsonl/csv (constant memory over a million points); the table needs only
    each series' summary (plus its points with --account)."""
    from balancecli import history, render
    from balancecli.models import utc_now

    summaries: list[Series] = []
    if fmt == "json":
        head = render.dumps_exact({
            "schema": HISTORY_SCHEMA, "generated_at": utc_now(), "field": field,
            "since": since and history.format_time(since),
            "until": until and history.format_time(until)})
        rt.out(head[:-1] + ', "series": [')
        for s in iter_groups(points):
            rt.out((", " if summaries else "") + _series_json(s))
            s.points = []
            summaries.append(s)
        rt.out('], "totals": ' + render.dumps_exact(series_totals(summaries))
               + ', "errors": []}\n')
    elif fmt in ("jsonl", "csv"):
        seen = _stream_points(rt, points, field, fmt)
        if not seen:
            return _no_match(rt, accounts)
        return 0
    else:
        summaries = sorted(iter_groups(points, keep_points=bool(accounts)),
                           key=lambda s: (s.profile, s.account_id, s.currency or ""))
        if summaries:
            rt.print_table(_series_table(summaries, field, color=rt.color))
        totals = [t for t in series_totals(summaries) if t["accounts"] > 1]
        if totals:
            rt.print_table(_totals_table(totals, color=rt.color))
        if accounts:
            for s in summaries:
                rt.print_table(_points_table(s, field, color=rt.color))
    if not summaries:
        return _no_match(rt, accounts)
    return 0


def _num(value: "Decimal | None") -> str:
    from balancecli.render import number_text

    return "null" if value is None else number_text(value)


def _series_json(s: Series) -> str:
    from balancecli.render import dumps_exact

    head = dumps_exact({
        "profile": s.profile, "broker": s.broker, "account_id": s.account_id,
        "currency": s.currency, "points": s.count, "first": _point(s.first),
        "last": _point(s.last), "change": s.change})
    # Hand-formatted: the generic encoder is the bottleneck at a million points. taken_at is
    # the store's own fixed-format text, safe to write unescaped.
    values = ", ".join(
        f'{{"time": "{p.taken_at}", "run_id": {p.run_id}, "value": {_num(p.value)}}}'
        for p in s.points)
    return head[:-1] + f', "values": [{values}]}}'


def _stream_points(rt: Any, points: Iterable[Any], field: str, fmt: str) -> int:
    import csv
    import io
    import json

    quoted: dict[Any, str] = {}

    def q(text: Any) -> str:
        if text not in quoted:
            quoted[text] = json.dumps(text, ensure_ascii=False)
        return quoted[text]

    count = 0
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    if fmt == "csv":
        writer.writerow(("time", "run_id", "profile", "broker", "account_id", "currency", field))
    for p in points:
        count += 1
        if fmt == "csv":
            writer.writerow((p.taken_at, p.run_id, p.profile, p.broker, p.account_id,
                             p.currency or "", "" if p.value is None else _num(p.value)))
        else:
            out.write(f'{{"time": "{p.taken_at}", "run_id": {p.run_id}, '
                      f'"profile": {q(p.profile)}, "broker": {q(p.broker)}, '
                      f'"account_id": {q(p.account_id)}, "currency": {q(p.currency)}, '
                      f'{q(field)}: {_num(p.value)}}}\n')
        if count % CHUNK == 0:
            rt.out(out.getvalue())
            out.seek(0)
            out.truncate()
    rt.out(out.getvalue())
    return count


def _point(p: Any) -> dict[str, Any] | None:
    return None if p is None else {"time": p.taken_at, "run_id": p.run_id, "value": p.value}


def _csv(rows: Sequence[Sequence[Any]]) -> str:
    import csv
    import decimal
    import io

    from balancecli.render import number_text

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for row in rows:
        writer.writerow("" if v is None else number_text(v) if isinstance(v, decimal.Decimal) else v
                        for v in row)
    return out.getvalue()


def _table(color: bool, columns: Sequence[tuple[str, bool]], title: str | None = None) -> Any:
    from rich import box
    from rich.table import Table

    t = Table(box=box.SIMPLE_HEAD, header_style="bold" if color else "", pad_edge=False,
              show_edge=False, title=title, title_justify="left")
    for name, numeric in columns:
        t.add_column(name, justify="right" if numeric else "left", no_wrap=True)
    return t


def _money_cell(value: "Decimal | None", color: bool, *, signed: bool = False) -> Any:
    from rich.text import Text

    from balancecli.render import NULL, display_number

    if value is None:
        return Text(NULL, style="dim" if color else "")
    text = display_number(value)
    if signed and value > 0:
        text = "+" + text
    style = ("red" if value < 0 else "green" if signed and value > 0 else "") if color else ""
    return Text(text, style=style)


def _series_table(series: Sequence[Series], field: str, *, color: bool) -> Any:
    from balancecli.history import short_time

    t = _table(color, [("Profile", False), ("Account", False), ("Ccy", False),
                       ("Points", True), ("From", False), ("To", False),
                       (f"First {field}", True), (f"Last {field}", True), ("Change", True),
                       ("Trend", False)])
    for s in series:
        first, last = s.first, s.last
        t.add_row(s.profile, s.account_id, s.currency or "—", str(s.count),
                  short_time(first.taken_at) if first else "—",
                  short_time(last.taken_at) if last else "—",
                  _money_cell(first and first.value, color),
                  _money_cell(last and last.value, color),
                  _money_cell(s.change, color, signed=True), s.trend)
    return t


def _totals_table(totals: Sequence[dict[str, Any]], *, color: bool) -> Any:
    t = _table(color, [("Total", False), ("Ccy", False), ("First", True), ("Last", True),
                       ("Change", True)])
    for group in totals:
        mark = "*" if group["incomplete"] else ""
        t.add_row(f"{group['accounts']} accounts{mark}", group["currency"] or "—",
                  _money_cell(group["first"], color), _money_cell(group["last"], color),
                  _money_cell(group["change"], color, signed=True))
    if any(g["incomplete"] for g in totals):
        t.caption = "* some accounts have no value in the range"
    return t


def _points_table(s: Series, field: str, *, color: bool) -> Any:
    from balancecli.history import exact_diff, short_time

    t = _table(color, [("Time", False), ("Run", True), (field, True), ("Change", True)],
               title=f"{s.profile} {s.account_id} {s.currency or ''}".rstrip())
    previous = None
    for p in s.points:
        change = (exact_diff(p.value, previous) if p.value is not None and previous is not None
                  else None)
        t.add_row(short_time(p.taken_at), str(p.run_id), _money_cell(p.value, color),
                  _money_cell(change, color, signed=True))
        if p.value is not None:
            previous = p.value
    return t
