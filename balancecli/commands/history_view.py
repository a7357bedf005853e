"""What ``history`` shows: per-account series (table with sparklines, JSON, JSONL, CSV, all
streamed) and the balances stored at a time (``--at``). Pure output over rows the store yields;
the command and its options are in ``commands/history.py``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # decimal is imported only when a command runs
    from decimal import Decimal

HISTORY_SCHEMA = "balancecli.history/1"
AT_SCHEMA = "balancecli.history.at/1"


def _no_match(rt: Any, accounts: list[str] | None) -> int:
    from balancecli.runtime import no_match_error

    if accounts:
        return rt.exit_code([no_match_error(accounts)], False)
    rt.note("no stored balances match (run: balancecli snapshot)")
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


def _num(value: Decimal | None) -> str:
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


def _money_cell(value: Decimal | None, color: bool, *, signed: bool = False) -> Any:
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
