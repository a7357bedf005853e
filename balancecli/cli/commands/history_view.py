"""What ``history`` shows: per-account series (table with sparklines, JSON, JSONL, CSV, all
streamed) and the balances stored at a time (``--at``). Pure output over rows the store yields;
the command and its options are in ``commands/history.py``.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # decimal is imported only when a command runs
    from decimal import Decimal

HISTORY_SCHEMA = "balancecli.history/1"
AT_SCHEMA = "balancecli.history.at/1"


POINT_FIELDS = ("time", "run_id", "profile", "broker", "account_id", "currency")


def check_columns(rt: Any, text: str, *, fmt: str, field: str, at: str | None,
                  in_currency: str | None) -> list[str]:
    """``history --columns a,b``: the names that output has (the series table's keys, the csv
    header's, or with --at a balance row's); a typo is a usage error listing them (exit 2)."""
    from balancecli.cli.commands.history_tables import SERIES_COLUMNS
    from balancecli.cli.commands.options import usage
    from balancecli.output.render import column_names

    if in_currency is not None:
        usage(rt, "--columns does not apply to net worth history (--in)", "history")
    if at:
        valid = column_names("balance")
    elif fmt == "table":
        valid = [key for key, *_ in SERIES_COLUMNS]
    else:
        valid = [*POINT_FIELDS, field]
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in valid]
    if unknown or not names:
        what = (f"unknown column{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}"
                if unknown else "no column named")
        usage(rt, f"--columns: {what}; history{' --at' if at else ''}"
                  f"{' -f csv' if fmt == 'csv' and not at else ''} has: {', '.join(valid)}",
              "history")
    return names


def pick(table: Any, names: list[str], *, label: str | None = None) -> Any:
    """``table`` with only the columns named (in that order), none dropped to fit: what
    ``--columns`` asks for. ``label``: a key kept first (a totals table's "Total")."""
    from dataclasses import replace

    from balancecli.output.table import KEEP, Table

    keys = [c.key for c in table.columns]
    wanted = ([label] if label in keys else []) + [n for n in names if n in keys and n != label]
    if not [n for n in wanted if n != label]:
        return None
    at = [keys.index(n) for n in wanted]
    return Table([replace(table.columns[i], priority=KEEP) for i in at],
                 [[row[i] for i in at] for row in table.rows],
                 [[row[i] for i in at] for row in table.totals],
                 table.title, table.caption, list(table.footer))


@contextlib.contextmanager
def indented(rt: Any, fmt: str) -> Iterator[None]:
    """``-f json`` on a terminal is indented, as the data commands' (exact digits kept): the
    streamed document is gathered and written once pretty-printed. In a pipe it streams."""
    if fmt != "json" or not rt.json_indent:
        yield
        return
    import json
    from decimal import Decimal

    from balancecli.core.exactjson import dumps_exact

    parts: list[str] = []
    write = rt.out
    rt.out = parts.append
    try:
        yield
    finally:
        rt.out = write
    text = "".join(parts)
    if text.strip():
        rt.out(dumps_exact(json.loads(text, parse_float=Decimal), indent=rt.json_indent) + "\n")


def _no_match(rt: Any, accounts: list[str] | None) -> int:
    from balancecli.cli.runtime import no_match_error

    if accounts:
        return rt.exit_code([no_match_error(accounts)], False)
    rt.note("no stored balances match (run: balancecli snapshot)")
    return 0


def _show_at(rt: Any, store: Any, when: datetime, profiles: list[str] | None,
             accounts: list[str] | None, currency: str | None, fmt: str) -> int:
    from balancecli import history
    from balancecli.core.clock import utc_now
    from balancecli.core.models import row_dict
    from balancecli.output import render

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
        rt.out(render.to_csv("balance", rows, rt.columns))
    elif rows:
        rt.print_table(render.table("balance", rows, exact=rt.exact, columns=rt.columns))
        runs = sorted({(s.run_id, s.taken_at) for s in stored})
        rt.note("as stored by snapshot " + ", ".join(
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
    change: Decimal | None = None
    trend: str = ""

    def finish(self, *, keep_points: bool) -> Series:
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
    from balancecli import history
    from balancecli.core.clock import utc_now
    from balancecli.output import render

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
        seen = _stream_points(rt, points, field, fmt, rt.columns if fmt == "csv" else None)
        if not seen:
            return _no_match(rt, accounts)
        return 0
    else:
        from balancecli.cli.commands import history_tables as tables

        summaries = sorted(
            tables.with_timelines(iter_groups(points), keep_points=bool(accounts)),
            key=lambda s: (s.profile, s.account_id, s.currency or ""))
        drawn = []
        if summaries:
            drawn.append(tables.series_table(summaries, field, exact=rt.exact, utc=rt.utc))
            drawn.append(tables.totals_table(summaries, exact=rt.exact))
            if rt.columns:  # --columns: these, in this order (the totals: those they have)
                drawn[0] = pick(drawn[0], rt.columns)
                drawn[1] = drawn[1] and pick(drawn[1], rt.columns, label="total")
        if accounts:
            drawn += [tables.points_table(s, field, exact=rt.exact, utc=rt.utc)
                      for s in summaries]
        rt.print_table(*(t for t in drawn if t is not None), show_with="--wide or -f csv")
    if not summaries:
        return _no_match(rt, accounts)
    return 0


def _num(value: Decimal | None) -> str:
    from balancecli.output.render import number_text

    return "null" if value is None else number_text(value)


def _series_json(s: Series) -> str:
    from balancecli.core.exactjson import dumps_exact

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


def _stream_points(rt: Any, points: Iterable[Any], field: str, fmt: str,
                   columns: list[str] | None = None) -> int:
    import csv
    import io
    import json

    quoted: dict[Any, str] = {}

    def q(text: Any) -> str:
        if text not in quoted:
            quoted[text] = json.dumps(text, ensure_ascii=False)
        return quoted[text]

    from balancecli.output.exports import spreadsheet_safe

    safe: dict[str, str] = {}

    def cell(text: str) -> str:  # text a spreadsheet would run, once per distinct value
        if text not in safe:
            safe[text] = spreadsheet_safe(text)
        return safe[text]

    count = 0
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    header = (*POINT_FIELDS, field)
    at = [header.index(n) for n in columns] if columns else None  # --columns
    if fmt == "csv":
        writer.writerow(header if at is None else [header[i] for i in at])
    for p in points:
        count += 1
        if fmt == "csv":
            row = (p.taken_at, p.run_id, cell(p.profile), p.broker, cell(p.account_id),
                   cell(p.currency or ""), "" if p.value is None else _num(p.value))
            writer.writerow(row if at is None else [row[i] for i in at])
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
    import io

    from balancecli.output.render import csv_value

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for row in rows:
        writer.writerow(csv_value(v) for v in row)  # true/false, exact digits, "" for null
    return out.getvalue()
