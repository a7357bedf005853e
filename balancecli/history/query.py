"""Reading the history store: runs, one field over time (``series``), and the rows as stored at
a point in time (``balances_at``/``assets_at``).

The queries are shaped for the indexes of schema version 2 (measured on a million rows in
tests/bench_history.py; tests assert the plans with ``explain``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import itertools
from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, NamedTuple

from balancecli.core.models import Asset, Balance
from balancecli.history.damage import Damaged, Times, amount, json_value, time_text
from balancecli.history.formats import format_time
from balancecli.history.schema import (
    ASSET_FIELDS,
    ASSET_TEXT,
    BALANCE_FIELDS,
    BALANCE_TEXT,
    Database,
    sqlite_errors,
)

# The last time at or before ? that an account was stored: a backwards walk of the
# (account_id, taken_at) index that stops at the first row of that profile and broker.
LATEST_SQL = ("SELECT taken_at FROM {table} WHERE account_id = ? AND taken_at <= ?"
              " AND profile = ? AND broker = ? ORDER BY taken_at DESC LIMIT 1")


# A balance field, or several to follow: per series (profile, broker, account, currency) the
# first of them that has a value in the rows read ("equity, else cash, else available").
Fields = str | tuple[str, ...]
FOLLOWED: tuple[str, ...] = ("equity", "cash", "available")


class Point(NamedTuple):
    """One value of a series: the run's time and id, the account, the field's value and the
    field it is of."""

    taken_at: str
    run_id: int
    profile: str
    broker: str
    account_id: str
    currency: str | None
    value: Decimal | None
    field: str = ""


class Stored(NamedTuple):
    """A Balance or Asset as stored, with the run it came from."""

    run_id: int
    taken_at: str
    row: Any


@dataclasses.dataclass(frozen=True)
class Run:
    id: int
    started_at: str
    finished_at: str
    profiles: list[str]
    ok: bool
    error_count: int
    errors: list[dict[str, Any]]
    balance_count: int
    asset_count: int


class Reader(Database):
    """The queries (mixed into ``Store``)."""

    def runs(self, limit: int | None = None) -> list[Run]:
        sql = "SELECT * FROM runs ORDER BY started_at DESC, id DESC"
        params: tuple[Any, ...] = ()
        if limit is not None:
            sql += " LIMIT ?"
            params = (limit,)
        with sqlite_errors(self.path):
            rows = self._conn.execute(sql, params).fetchall()
        runs = []
        for r in rows:
            try:
                runs.append(Run(
                    id=r[0], started_at=r[1], finished_at=r[2],
                    profiles=json_value(r[3], "runs.profiles_json", list), ok=bool(r[4]),
                    error_count=r[5], errors=json_value(r[6], "runs.errors_json", list),
                    balance_count=r[7], asset_count=r[8]))
            except Damaged as exc:
                self.damage.note(r[0], exc)
        return runs

    def runs_before(self, when: datetime) -> tuple[int, str | None, str | None]:
        """(how many runs started before ``when``, the first's and the last's start): what a
        prune with that cutoff deletes."""
        with sqlite_errors(self.path):
            count, first, last = self._conn.execute(
                "SELECT count(*), min(started_at), max(started_at) FROM runs"
                " WHERE started_at < ?", (format_time(when),)).fetchone()
        return count, first, last

    def run_span(self) -> tuple[int, str | None, str | None]:
        """(how many runs are stored, the first's and the last's start)."""
        with sqlite_errors(self.path):
            count, first, last = self._conn.execute(
                "SELECT count(*), min(started_at), max(started_at) FROM runs").fetchone()
        return int(count), first, last

    def currencies(self) -> list[str]:
        """Every currency of a stored balance row, sorted (a scan: for error messages)."""
        with sqlite_errors(self.path):
            return sorted(r[0] for r in self._conn.execute(
                "SELECT DISTINCT currency FROM balances WHERE currency IS NOT NULL"))

    def series_query(
        self,
        field: Fields,
        account_ids: Sequence[str] | None = None,
        profiles: Sequence[str] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> tuple[str, list[Any]]:
        """The SQL and parameters of ``series`` (exposed for EXPLAIN QUERY PLAN)."""
        columns = ", ".join(_fields(field))
        rows, params = _row_where(profiles, account_ids)
        times, time_params = _time_where("taken_at", since, until)
        where = [rows, *times]
        params += time_params
        # Measured on a million rows (tests/bench_history.py): with accounts, the
        # (account_id, taken_at) index; without, the time index for a range (then a sort), and a
        # plain table scan plus sort for everything (twice as fast as walking the index).
        if account_ids:
            source = "balances"
        elif since is not None or until is not None:
            source = "balances INDEXED BY balances_time"
        else:
            source = "balances NOT INDEXED"
        sql = (
            f"SELECT taken_at, run_id, profile, broker, account_id, currency, {columns}"
            f" FROM {source}"
            + " WHERE " + " AND ".join(where)
            + " ORDER BY account_id, taken_at"
        )
        return sql, params

    def series(
        self,
        field: Fields,
        account_ids: Sequence[str] | None = None,
        profiles: Sequence[str] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[Point]:
        """One balance field over time, ordered by account id, then time (then insertion);
        with several fields, each series follows the first of them it has a value of."""
        with _no_gc():
            return list(self.iter_series(field, account_ids, profiles, since, until))

    def iter_series(
        self,
        field: Fields,
        account_ids: Sequence[str] | None = None,
        profiles: Sequence[str] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> Iterator[Point]:
        """``series`` streamed in the same order, in constant memory (with several fields:
        one account's rows at a time)."""
        sql, params = self.series_query(field, account_ids, profiles, since, until)
        names = _fields(field)

        def rows() -> Iterator[tuple[Any, ...]]:
            with sqlite_errors(self.path):
                cursor = self._conn.execute(sql, params)
                while batch := cursor.fetchmany(4096):
                    yield from batch

        yield from _series_points(rows(), names, outer=_ACCOUNT, damage=self.damage)

    def explain(self, sql: str, params: Sequence[Any] = ()) -> list[str]:
        """The ``EXPLAIN QUERY PLAN`` details of a query, one string per step."""
        with sqlite_errors(self.path):
            return [r[3] for r in self._conn.execute("EXPLAIN QUERY PLAN " + sql, params)]

    def balances_at(self, when: datetime) -> list[Stored]:
        """Each account's Balance rows from the last run at or before ``when`` that stored it."""
        return self._rows_at("balances", when, BALANCE_TEXT, BALANCE_FIELDS, Balance)

    def assets_at(self, when: datetime) -> list[Stored]:
        """Each account's Asset rows from the last run at or before ``when`` that stored it."""
        return self._rows_at("assets", when, ASSET_TEXT, ASSET_FIELDS, Asset)

    def accounts(self) -> list[tuple[str, str, str]]:
        """Every (profile, broker, account_id) with stored rows, sorted."""
        with sqlite_errors(self.path):
            return sorted(self._conn.execute(
                "SELECT profile, broker, account_id FROM accounts").fetchall())

    def _rows_at(self, table: str, when: datetime, text: Sequence[str],
                 money: Sequence[str], model: type) -> list[Stored]:
        columns = ", ".join((*text, *money, "extra_json"))
        out = []
        with sqlite_errors(self.path):
            for profile, broker, account_id in self.accounts():
                latest = self._conn.execute(
                    LATEST_SQL.format(table=table),
                    (account_id, format_time(when), profile, broker)).fetchone()
                if latest is None:
                    continue
                rows = self._conn.execute(
                    f"SELECT run_id, taken_at, {columns} FROM {table} WHERE account_id = ?"
                    " AND taken_at = ? AND profile = ? AND broker = ? ORDER BY run_id DESC, rowid",
                    (account_id, latest[0], profile, broker)).fetchall()
                # (LongPort stores one balance row per currency: all rows of that run.)
                for row in rows:
                    if row[0] != rows[0][0]:
                        break
                    try:
                        out.append(_stored(row, table, text, money, model))
                    except Damaged as exc:
                        self.damage.note(row[0], exc)
        return out


    # -- in time order, for resampling (``history.resample``) ---------------------------------

    def iter_run_stamps(self, *, since: datetime | None = None, until: datetime | None = None,
                        profiles: Sequence[str] | None = None,
                        account_ids: Sequence[str] | None = None) -> Iterator[RunStamp]:
        """Every run in the range that stored a row (of these profiles and accounts, when
        given), oldest first: what ``resample.closes`` picks the runs to value from, before
        a single row is read (``iter_rows_of_runs`` then reads only the kept runs)."""
        where, params = _time_where("started_at", since, until)
        if profiles or account_ids:
            rows, row_params = _row_where(profiles, account_ids)
            where.append("(" + " OR ".join(
                f"EXISTS (SELECT 1 FROM {table} WHERE taken_at = runs.started_at"
                f" AND run_id = runs.id AND {rows})" for table in ("balances", "assets")) + ")")
            params += row_params + row_params
        else:
            where.append("balance_count + asset_count > 0")
        sql = ("SELECT started_at, id, ok FROM runs WHERE " + " AND ".join(where)
               + " ORDER BY started_at, id")
        with sqlite_errors(self.path):
            cursor = self._conn.execute(sql, params)
            while rows_ := cursor.fetchmany(4096):
                yield from self._stamps(rows_)

    def _stamps(self, rows: Iterable[tuple[Any, ...]]) -> Iterator[RunStamp]:
        """RunStamps of ``(started_at, id, ok)`` rows; a run whose time is damaged is left
        out (its rows cannot be told apart from another run's)."""
        for taken_at, run_id, ok in rows:
            try:
                time_text(taken_at, "runs.started_at")
            except Damaged as exc:
                self.damage.note(run_id, exc)
                continue
            yield RunStamp(taken_at, run_id, bool(ok))

    def iter_rows_of_runs(self, stamps: Iterable[RunStamp], *,
                          profiles: Sequence[str] | None = None,
                          account_ids: Sequence[str] | None = None,
                          extra_of: Sequence[str] = ()) -> Iterator[Any]:
        """``valued.RunRows`` (balances, assets, stored rates) of just these runs, in the order
        given (time order), for ``history --in CUR --every ...``: a year of 15-minute runs
        valued weekly reads 52 runs' rows, not 35,000. Read in batches of ``_BATCH`` runs.
        Balance rows of the brokers in ``extra_of`` keep their ``extra`` (``iter_run_rows``)."""
        from balancecli.history.valued import (
            ASSET_SQL,
            ORDER,
            RATE_SQL,
            RunRows,
            _asset,
            _balance,
            _balance_sql,
            _Group,
            _rate,
        )

        rows, row_params = _row_where(profiles, account_ids)
        batch: list[RunStamp] = []
        for stamp in itertools.chain(stamps, [None]):
            if stamp is not None:
                batch.append(stamp)
                if len(batch) < _BATCH:
                    continue
            if not batch:
                break
            times = sorted({s.taken_at for s in batch})
            marks = ", ".join("?" * len(times))
            with sqlite_errors(self.path):
                streams = [
                    _Group(self._conn.execute(
                        f"{_balance_sql(extra_of)} WHERE taken_at IN ({marks}) AND {rows}{ORDER}",
                        [*extra_of, *times, *row_params]), _balance, "balances"),
                    _Group(self._conn.execute(
                        f"{ASSET_SQL} WHERE taken_at IN ({marks}) AND {rows}{ORDER}",
                        [*times, *row_params]), _asset, "assets"),
                    _Group(self._conn.execute(
                        f"{RATE_SQL} WHERE taken_at IN ({marks}){ORDER}", times)
                        if self.user_version() >= 3 else iter(()), _rate, "rates"),
                ]
                for s in sorted(batch):
                    key = (s.taken_at, s.run_id)
                    balances, assets, rates = (g.take(key, self.damage) for g in streams)
                    if all(g.whole for g in streams):  # a damaged run is left out whole
                        yield RunRows(s.run_id, s.taken_at, s.ok, balances, assets, rates)
            batch = []

    def iter_points_by_run(self, field: Fields, *, profiles: Sequence[str] | None = None,
                           account_ids: Sequence[str] | None = None,
                           since: datetime | None = None, until: datetime | None = None,
                           stamps: Iterable[RunStamp] | None = None) -> Iterator[RunPoint]:
        """One balance field of every stored row (of just the runs ``stamps``, when given),
        ordered by run (time, then id) rather than by account: per-run totals per currency
        (``resample.run_totals``) stream from it. With several fields every row is read
        before the first is yielded (which field a series follows depends on all its rows):
        pass ``stamps`` to keep that small."""
        names = _fields(field)
        where, params = _time_where("b.taken_at", since, until)
        rows, row_params = _row_where(profiles, account_ids, prefix="b.")
        select = (f"SELECT b.taken_at, b.run_id, r.ok, b.profile, b.broker, b.account_id,"
                  f" b.currency, {', '.join('b.' + n for n in names)}"
                  " FROM balances AS b INDEXED BY balances_time"
                  f" JOIN runs AS r ON r.id = b.run_id WHERE {' AND '.join([*where, rows])}")
        order = " ORDER BY b.taken_at, b.run_id"

        def fetched() -> Iterator[tuple[Any, ...]]:
            with sqlite_errors(self.path):
                if stamps is None:
                    cursor = self._conn.execute(select + order, [*params, *row_params])
                    while batch := cursor.fetchmany(4096):
                        yield from batch
                    return
                for chunk in _chunks(list(stamps), _BATCH):
                    wanted = {(s.taken_at, s.run_id) for s in chunk}
                    times = sorted({t for t, _ in wanted})
                    batch = self._conn.execute(
                        f"{select} AND b.taken_at IN ({', '.join('?' * len(times))}){order}",
                        [*params, *row_params, *times]).fetchall()
                    yield from (r for r in batch if (r[0], r[1]) in wanted)

        checked = Times()
        for row, index in _followed(fetched(), len(names), key=_RUN_SERIES, outer=None):
            try:
                point = RunPoint(checked.check(row[0], "balances.taken_at"), row[1],
                                 bool(row[2]), row[3], row[4], row[5], row[6],
                                 amount(row[7 + index], f"balances.{names[index]}"),
                                 names[index])
            except Damaged as exc:
                self.damage.note(row[1], exc)
                continue
            yield point

    # -- closes in SQL: the last run of each period, found by index seeks ------------------
    # ``edges`` are local periods as stored text, ``[(start, stop), ...]`` in time order
    # (``resample.period_edges``). Each period costs one backwards index seek, so a year of
    # 15-minute runs resampled to days reads 365 rows per account, not 35,040.

    def iter_series_closes(self, field: Fields, edges: Sequence[tuple[str, str]],
                           account_ids: Sequence[str] | None = None,
                           profiles: Sequence[str] | None = None) -> Iterator[Point]:
        """``iter_series`` resampled: for each stored account (profile, broker, id) and each
        period, the rows (one per currency) of the last run in that period that stored the
        account. Ordered as ``iter_series``: by account id, then time."""
        names = _fields(field)
        accounts = sorted((a, p, b) for p, b, a in self.accounts()
                          if (not account_ids or a in account_ids)
                          and (not profiles or p in profiles))
        seek = ("SELECT taken_at FROM balances WHERE account_id = ? AND taken_at >= e.a"
                " AND taken_at < e.b AND profile = ? AND broker = ?"
                " ORDER BY taken_at DESC LIMIT 1")
        def rows() -> Iterator[tuple[Any, ...]]:
            with sqlite_errors(self.path):
                for account_id, profile, broker in accounts:
                    times = self._per_edge(seek, edges, [account_id, profile, broker])
                    for chunk in _chunks(times, _BATCH):
                        found = self._conn.execute(
                            f"SELECT taken_at, run_id, profile, broker, account_id, currency,"
                            f" {', '.join(names)} FROM balances WHERE account_id = ?"
                            " AND profile = ? AND broker = ?"
                            f" AND taken_at IN ({', '.join('?' * len(chunk))})"
                            " ORDER BY taken_at, run_id DESC, rowid",
                            [account_id, profile, broker, *chunk]).fetchall()
                        run_of: dict[str, int] = {}
                        for row in found:
                            if run_of.setdefault(row[0], row[1]) == row[1]:  # the last run
                                yield row

        # (accounts are sorted by id, then profile and broker: one account id at a time)
        yield from _series_points(rows(), names, outer=_ACCOUNT, damage=self.damage)

    def iter_run_closes(self, edges: Sequence[tuple[str, str]], *,
                        profiles: Sequence[str] | None = None,
                        account_ids: Sequence[str] | None = None) -> Iterator[RunStamp]:
        """The last run of each period that stored a row (a balance row of these profiles
        and accounts, when given), oldest first: ``iter_rows_of_runs`` and
        ``iter_points_by_run(stamps=...)`` then read only those runs."""
        if profiles or account_ids:
            rows, row_params = _row_where(profiles, account_ids)
            seek = ("SELECT run_id FROM balances INDEXED BY balances_time WHERE taken_at >= e.a"
                    f" AND taken_at < e.b AND {rows} ORDER BY taken_at DESC LIMIT 1")
        else:
            seek, row_params = ("SELECT id FROM runs WHERE started_at >= e.a AND started_at"
                                " < e.b AND balance_count + asset_count > 0"
                                " ORDER BY started_at DESC, id DESC LIMIT 1"), []
        with sqlite_errors(self.path):
            ids = self._per_edge(seek, edges, row_params)
            for chunk in _chunks(ids, _BATCH):
                yield from self._stamps(self._conn.execute(
                    "SELECT started_at, id, ok FROM runs WHERE id IN"
                    f" ({', '.join('?' * len(chunk))}) ORDER BY started_at, id", chunk))

    def periods_with_rows(self, edges: Sequence[tuple[str, str]], *,
                          account_ids: Sequence[str] | None = None,
                          profiles: Sequence[str] | None = None) -> int:
        """How many of the periods hold a balance row (of these accounts and profiles): the
        rows a table resampled to them has per series (``resample.choose_period``)."""
        rows, params = _row_where(profiles, account_ids)
        seek = (f"SELECT 1 FROM balances WHERE taken_at >= e.a AND taken_at < e.b AND {rows}"
                " LIMIT 1")
        with sqlite_errors(self.path):
            return len(self._per_edge(seek, edges, params))

    def count_points(self, *, account_ids: Sequence[str] | None = None,
                     profiles: Sequence[str] | None = None, since: datetime | None = None,
                     until: datetime | None = None) -> int:
        """How many balance rows match: the rows of an unresampled points table."""
        where, params = _time_where("taken_at", since, until)
        rows, row_params = _row_where(profiles, account_ids)
        with sqlite_errors(self.path):
            count: int = self._conn.execute(
                f"SELECT count(*) FROM balances WHERE {' AND '.join([*where, rows])}",
                [*params, *row_params]).fetchone()[0]
        return count

    def _per_edge(self, seek: str, edges: Sequence[tuple[str, str]],
                  params: Sequence[Any]) -> list[Any]:
        """``seek`` (a query of one value over ``e.a``/``e.b``) for every edge; the values
        that are not NULL, in edge order."""
        out: list[Any] = []
        for chunk in _chunks(edges, _EDGES):
            values = ", ".join("(?, ?)" for _ in chunk)
            sql = f"WITH e(a, b) AS (VALUES {values}) SELECT ({seek}) FROM e"
            flat = [x for edge in chunk for x in edge]
            out.extend(v for (v,) in self._conn.execute(sql, [*flat, *params]) if v is not None)
        return out


def _stored(row: Sequence[Any], table: str, text: Sequence[str], money: Sequence[str],
            model: type) -> Stored:
    """A row of ``_rows_at`` (run id, time, text, amounts, extra) as Stored; Damaged else."""
    values: dict[str, Any] = dict(zip(text, row[2:2 + len(text)], strict=True))
    amounts = row[2 + len(text):2 + len(text) + len(money)]
    values.update({n: amount(v, f"{table}.{n}") for n, v in zip(money, amounts, strict=True)})
    values["extra"] = {} if row[-1] is None else json_value(row[-1], f"{table}.extra_json")
    return Stored(row[0], Times().check(row[1], f"{table}.taken_at"), model(**values))


class RunStamp(NamedTuple):
    """A stored run's time and id, and whether it completed without an error."""

    taken_at: str
    run_id: int
    ok: bool


class RunPoint(NamedTuple):
    """One row's value of a field, with its run (``Reader.iter_points_by_run``)."""

    taken_at: str
    run_id: int
    ok: bool
    profile: str
    broker: str
    account_id: str
    currency: str | None
    value: Decimal | None
    field: str = ""


_BATCH = 500  # runs per query of iter_rows_of_runs (SQLite allows 32,766 parameters)
_EDGES = 4000  # periods per seek query (two parameters each)


def _fields(field: Fields) -> tuple[str, ...]:
    names = (field,) if isinstance(field, str) else tuple(field)
    unknown = [n for n in names if n not in BALANCE_FIELDS]
    if unknown or not names:
        raise ValueError(f"unknown field {', '.join(map(repr, unknown))} "
                         f"(one of: {', '.join(BALANCE_FIELDS)})")
    return names


# Where a raw row's series and account are: (taken_at, run_id, profile, broker, account_id,
# currency, *values) for series, with ``ok`` after run_id for points by run.
_Key = Callable[[Sequence[Any]], Hashable]
_SERIES: _Key = lambda r: (r[2], r[3], r[4], r[5])  # noqa: E731
_ACCOUNT: _Key = lambda r: r[4]  # noqa: E731
_RUN_SERIES: _Key = lambda r: (r[3], r[4], r[5], r[6])  # noqa: E731
_NOTHING = object()


def _followed(rows: Iterable[Sequence[Any]], count: int, *, key: _Key,
              outer: _Key | None) -> Iterator[tuple[Sequence[Any], int]]:
    """Each raw row with the index of the field its series follows: of ``count`` values at
    the end of the row, the first that some row of the series has. Rows are buffered until
    ``outer`` changes (every row when None); one field needs no buffer."""
    if count == 1:
        for row in rows:
            yield row, 0
        return
    buffer: list[Sequence[Any]] = []
    current: object = _NOTHING

    def flush() -> Iterator[tuple[Sequence[Any], int]]:
        best: dict[Hashable, int] = {}
        for row in buffer:
            first = next((i for i, v in enumerate(row[len(row) - count:]) if v is not None),
                         count)
            k = key(row)
            if first < best.get(k, count + 1):
                best[k] = first
        for row in buffer:
            index = best[key(row)]
            yield row, 0 if index == count else index  # no value at all: the first field

    for row in rows:
        if outer is not None and outer(row) != current:
            yield from flush()
            buffer, current = [], outer(row)
        buffer.append(row)
    yield from flush()


def _series_points(rows: Iterable[Sequence[Any]], names: tuple[str, ...], *,
                   outer: _Key, damage: Any) -> Iterator[Point]:
    """Points of raw series rows, each with the field its series follows; a row whose time or
    value is damaged is noted in ``damage`` and left out."""
    checked = Times()
    chosen = ((row, 0) for row in rows) if len(names) == 1 else _followed(
        rows, len(names), key=_SERIES, outer=outer)
    for row, index in chosen:
        try:
            point = Point(checked.check(row[0], "balances.taken_at"), row[1], row[2], row[3],
                          row[4], row[5], amount(row[6 + index], f"balances.{names[index]}"),
                          names[index])
        except Damaged as exc:
            damage.note(row[1], exc)
            continue
        yield point


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _time_where(column: str, since: datetime | None,
                until: datetime | None) -> tuple[list[str], list[Any]]:
    where: list[str] = []
    params: list[Any] = []
    if since is not None:
        where.append(f"{column} >= ?")
        params.append(format_time(since))
    if until is not None:
        where.append(f"{column} <= ?")
        params.append(format_time(until))
    return where, params


def _row_where(profiles: Sequence[str] | None, account_ids: Sequence[str] | None,
               prefix: str = "") -> tuple[str, list[Any]]:
    """A condition on a row's profile and account (``1`` when neither is given)."""
    where: list[str] = []
    params: list[Any] = []
    if profiles:
        where.append(f"{prefix}profile IN ({', '.join('?' * len(profiles))})")
        params.extend(profiles)
    if account_ids:
        where.append(f"{prefix}account_id IN ({', '.join('?' * len(account_ids))})")
        params.extend(account_ids)
    return " AND ".join(where) or "1", params


@contextlib.contextmanager
def _no_gc() -> Iterator[None]:
    """Building a million result tuples is 3x slower with the cycle collector running (it
    rescans the growing list again and again); tuples of str/int/Decimal make no cycles."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()

