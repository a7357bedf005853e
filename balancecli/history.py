"""The snapshot history store: one SQLite file that cron appends to (issue #7, DESIGN.md §8).

``sqlite3`` is imported only here, and the CLI imports this module only for ``snapshot`` and
``history`` (DESIGN.md §10).

API
---
- ``db_path(explicit=None) -> Path``: ``--db``, else ``BALANCECLI_DB``, else
  ``platformdirs.user_data_dir("balancecli")/history.sqlite3``.
- ``Store.open(path, create=True) -> Store`` (also a context manager): creates the directory
  (0700) and the file (0600; SQLite gives ``-wal``/``-shm`` the same mode), sets WAL,
  ``busy_timeout`` 30 s and ``synchronous=FULL``, and migrates the schema in place to
  ``SCHEMA_VERSION`` (``PRAGMA user_version``). ``create=False`` raises ConfigError when there is
  no database yet (``history`` never creates one).
- ``Store.record_run(*, started_at, finished_at, profiles, balances, assets, errors) -> int``:
  the whole run in ONE ``BEGIN IMMEDIATE`` transaction; a process killed at any point leaves the
  whole run or nothing. Failed runs are recorded too (with their errors).
- ``Store.series(field, account_ids=None, profiles=None, since=None, until=None)
  -> list[Point]``: one balance field over time, ordered by account id then time;
  ``Store.iter_series(...)`` streams the same points in constant memory.
- ``Store.balances_at(when)`` / ``Store.assets_at(when) -> list[Stored]``: for each account, the
  rows of the last run at or before ``when`` that stored that account (``Stored.row`` is the
  Balance/Asset, ``Stored.run_id`` and ``Stored.taken_at`` say which run).
- ``Store.prune(keep: timedelta, now=None) -> int``: deletes runs (and their rows) older than
  ``now - keep``; returns the number of runs deleted. Only ever on request.
- ``Store.runs(limit=None) -> list[Run]``, newest first; ``Store.accounts()`` every
  ``(profile, broker, account_id)`` stored.
- ``Store.series_query(...)`` / ``Store.explain(sql, params)``: the SQL of ``series`` and its
  ``EXPLAIN QUERY PLAN`` (tests assert the indexes are used).
- helpers: ``parse_when("30d" | "2026-11-01" | ISO 8601, end_of_day=False) -> datetime``,
  ``parse_duration("365d") -> timedelta``, ``sparkline(values, width)``, ``exact_sum(values)``.

Storage
-------
Times are UTC text with microseconds, fixed width (``2026-11-21T19:00:00.123456Z``), so text
order is time order. A row's time (``taken_at``) is its run's ``started_at``. Amounts are the
exact ``str(Decimal)`` text in TEXT columns (``19638.14545186560000000000`` stays so), a missing
value is NULL, never 0. ``extra`` is JSON in which every Decimal is written with its exact digits
(an integral Decimal gets an ``E0`` exponent so that it reads back as the same Decimal, not an
int). Errors are stored redacted, as in the JSON ``errors`` list plus ``next_step``.

Schema versions: 1 was the first layout (time only on ``runs``); 2 copies the run time into the
row tables so that the ``(account_id, taken_at)`` index answers series queries without a join,
and keeps a table of every account stored so that ``balances_at`` seeks per account.
A database from a newer balancecli is refused (ConfigError), never downgraded.

SQLite errors become ``UnavailableError`` (busy or locked beyond the timeout: exit 5) or
``ConfigError`` (not a database, unwritable path, disk full: exit 3).
"""

from __future__ import annotations

import contextlib
import dataclasses
import decimal
import gc
import json
import os
import re
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, NamedTuple

from balancecli.errors import BalanceCliError, ConfigError, UnavailableError
from balancecli.models import MONEY_FIELDS, Asset, Balance

SCHEMA_VERSION = 2
BUSY_TIMEOUT = 30.0
ENV_DB = "BALANCECLI_DB"

BALANCE_FIELDS: tuple[str, ...] = MONEY_FIELDS[Balance]
ASSET_FIELDS: tuple[str, ...] = MONEY_FIELDS[Asset]
_BALANCE_TEXT = ("profile", "broker", "account_id", "account_name", "account_type", "currency",
                 "as_of")
_ASSET_TEXT = ("profile", "broker", "account_id", "asset")


def _money_columns(fields: Sequence[str]) -> str:
    return ", ".join(f"{name} TEXT" for name in fields)


# MIGRATIONS[n] takes a database from user_version n to n + 1. A new database runs them all, so
# a fresh file and a migrated one have the same schema.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE runs (
            id INTEGER PRIMARY KEY,
            started_at TEXT NOT NULL,
            finished_at TEXT NOT NULL,
            profiles_json TEXT NOT NULL,
            ok INTEGER NOT NULL,
            error_count INTEGER NOT NULL,
            errors_json TEXT NOT NULL,
            balance_count INTEGER NOT NULL,
            asset_count INTEGER NOT NULL)""",
        f"""CREATE TABLE balances (
            run_id INTEGER NOT NULL REFERENCES runs(id),
            profile TEXT NOT NULL, broker TEXT NOT NULL, account_id TEXT NOT NULL,
            account_name TEXT, account_type TEXT, currency TEXT, as_of TEXT,
            {_money_columns(BALANCE_FIELDS)},
            extra_json TEXT)""",
        f"""CREATE TABLE assets (
            run_id INTEGER NOT NULL REFERENCES runs(id),
            profile TEXT NOT NULL, broker TEXT NOT NULL, account_id TEXT NOT NULL,
            asset TEXT NOT NULL,
            {_money_columns(ASSET_FIELDS)},
            extra_json TEXT)""",
        "CREATE INDEX runs_started ON runs(started_at)",
        "CREATE INDEX balances_run ON balances(run_id)",
        "CREATE INDEX balances_account ON balances(account_id, run_id)",
        "CREATE INDEX assets_run ON assets(run_id)",
        "CREATE INDEX assets_account ON assets(account_id, run_id)",
    ),
    (
        "ALTER TABLE balances ADD COLUMN taken_at TEXT",
        "ALTER TABLE assets ADD COLUMN taken_at TEXT",
        "UPDATE balances SET taken_at = (SELECT started_at FROM runs WHERE runs.id = run_id)",
        "UPDATE assets SET taken_at = (SELECT started_at FROM runs WHERE runs.id = run_id)",
        "DROP INDEX balances_run",
        "DROP INDEX balances_account",
        "DROP INDEX assets_run",
        "DROP INDEX assets_account",
        "CREATE INDEX balances_account_time ON balances(account_id, taken_at)",
        "CREATE INDEX balances_time ON balances(taken_at)",
        "CREATE INDEX assets_account_time ON assets(account_id, taken_at)",
        "CREATE INDEX assets_time ON assets(taken_at)",
        # Every account ever stored: lets balances_at() seek per account instead of scanning.
        """CREATE TABLE accounts (
            account_id TEXT NOT NULL, profile TEXT NOT NULL, broker TEXT NOT NULL,
            PRIMARY KEY (account_id, profile, broker)) WITHOUT ROWID""",
        "INSERT OR IGNORE INTO accounts SELECT DISTINCT account_id, profile, broker FROM balances",
        "INSERT OR IGNORE INTO accounts SELECT DISTINCT account_id, profile, broker FROM assets",
    ),
)
assert len(MIGRATIONS) == SCHEMA_VERSION


# The last time at or before ? that an account was stored: a backwards walk of the
# (account_id, taken_at) index that stops at the first row of that profile and broker.
LATEST_SQL = ("SELECT taken_at FROM {table} WHERE account_id = ? AND taken_at <= ?"
              " AND profile = ? AND broker = ? ORDER BY taken_at DESC LIMIT 1")


class Point(NamedTuple):
    """One value of a series: the run's time and id, the account and the field's value."""

    taken_at: str
    run_id: int
    profile: str
    broker: str
    account_id: str
    currency: str | None
    value: Decimal | None


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


# ---------------------------------------------------------------------------------------------
# Time, durations, exact sums, sparklines


def format_time(when: datetime) -> str:
    """The stored form: UTC, microseconds, ``Z`` (naive datetimes are taken as UTC)."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def short_time(stored: str) -> str:
    """``2026-11-21T19:00:00.123456Z`` -> ``2026-11-21T19:00:00Z`` for tables."""
    return stored[:19] + "Z" if len(stored) > 19 else stored


_DURATION = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_duration(text: str) -> timedelta:
    """``90s``, ``15m``, ``12h``, ``30d``, ``2w`` -> timedelta. ValueError otherwise."""
    match = _DURATION.match(text)
    if not match:
        raise ValueError(f"{text!r} is not a duration (use e.g. 12h, 30d, 52w)")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def parse_when(text: str, *, end_of_day: bool = False, now: datetime | None = None) -> datetime:
    """A point in time (aware, UTC) from ``30d`` (that long ago), ``now``, a date or ISO 8601.

    A date alone is 00:00 UTC of that day, or with ``end_of_day`` its last microsecond (so
    ``--until 2026-11-30`` includes that day). An ISO time without an offset is UTC.
    """
    text = text.strip()
    now = now or datetime.now(UTC)
    if text == "now":
        return now
    if _DURATION.match(text):
        return now - parse_duration(text)
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        try:
            day = date.fromisoformat(text)
        except ValueError:
            raise ValueError(f"{text!r} is not a valid date") from None
        start = datetime(day.year, day.month, day.day, tzinfo=UTC)
        return start + timedelta(days=1, microseconds=-1) if end_of_day else start
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"{text!r} is not a time (use e.g. 30d, 2026-11-01 or 2026-11-01T12:00:00Z)"
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC)


_EXACT = decimal.Context(prec=decimal.MAX_PREC, traps=[decimal.InvalidOperation])


def exact_sum(values: Iterable[Decimal]) -> Decimal:
    """The exact sum (the default context would round to 28 digits)."""
    total = Decimal(0)
    for value in values:
        total = _EXACT.add(total, value)
    return total


def exact_diff(last: Decimal, first: Decimal) -> Decimal:
    return _EXACT.subtract(last, first)


_BARS = "▁▂▃▄▅▆▇█"


def sparkline(values: Sequence[Decimal | None], width: int = 24) -> str:
    """A one-line chart; a missing value is a blank. Longer series keep each bucket's last
    value, so the last character is always the last point."""
    if not values:
        return ""
    if len(values) > width:
        size = len(values) / width
        values = [values[min(len(values) - 1, int((i + 1) * size) - 1)] for i in range(width)]
    known = [v for v in values if v is not None]
    if not known:
        return " " * len(values)
    low, high = min(known), max(known)
    span = high - low
    out = []
    for value in values:
        if value is None:
            out.append(" ")
        elif span == 0:
            out.append(_BARS[len(_BARS) // 2 - 1])
        else:
            index = int((value - low) / span * (len(_BARS) - 1))
            out.append(_BARS[max(0, min(len(_BARS) - 1, index))])
    return "".join(out)


# ---------------------------------------------------------------------------------------------
# Exact JSON for `extra`


def _decimal_json(value: Decimal) -> str:
    if not value.is_finite():
        raise ValueError(f"cannot store {value} in extra")
    text = str(value)
    # "5" would read back as the int 5; "5E0" reads back (parse_float=Decimal) as Decimal("5").
    return text if ("." in text or "E" in text) else text + "E0"


def dumps_extra(obj: Any) -> str:
    """JSON with every Decimal written with its exact digits (``loads_extra`` reverses it)."""
    from balancecli.render import dumps_exact

    return dumps_exact(obj, number=_decimal_json)


def loads_extra(text: str | None) -> Any:
    if text is None:
        return {}
    return json.loads(text, parse_float=Decimal)


def _money(value: Decimal | None) -> str | None:
    if value is None:
        return None
    if not isinstance(value, Decimal):  # an int from a broker that did not use to_decimal
        value = Decimal(value)
    return str(value)


def _decimal(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)


# ---------------------------------------------------------------------------------------------
# The store


def db_path(explicit: str | os.PathLike[str] | None = None, *, demo: bool = False) -> Path:
    """``--db``, else ``BALANCECLI_DB``, else the user data dir's ``history.sqlite3``; with
    ``--demo`` the default is ``history-demo.sqlite3`` so demo data never mixes with yours."""
    if explicit:
        return Path(explicit).expanduser()
    env = os.environ.get(ENV_DB)
    if env:
        return Path(env).expanduser()
    import platformdirs

    name = "history-demo.sqlite3" if demo else "history.sqlite3"
    return Path(platformdirs.user_data_dir("balancecli")) / name


@contextlib.contextmanager
def _sqlite_errors(path: Path) -> Iterator[None]:
    """SQLite failures as the CLI's error kinds (busy -> 5, anything else -> 3)."""
    try:
        yield
    except sqlite3.OperationalError as exc:
        text = str(exc)
        if "locked" in text or "busy" in text:
            raise UnavailableError(
                f"the history database {path} stayed locked for {BUSY_TIMEOUT:.0f} s ({text})",
                next_step="retry later; another balancecli run holds the database",
            ) from None
        raise ConfigError(
            f"cannot use the history database {path}: {text}",
            next_step="check the path, its permissions and free disk space (or use --db PATH)",
        ) from None
    except sqlite3.DatabaseError as exc:
        raise ConfigError(
            f"{path} is not a usable balancecli history database: {exc}",
            next_step="move the file away or choose another one with --db PATH",
        ) from None


class Store:
    """One open history database. Use ``Store.open(path)``; close with ``close()`` or ``with``."""

    def __init__(self, path: Path, conn: sqlite3.Connection) -> None:
        self.path = path
        self._conn = conn

    # -- opening and migrations ---------------------------------------------------------------

    @classmethod
    def open(cls, path: str | os.PathLike[str] | None = None, *, create: bool = True) -> Store:
        path = db_path(path)
        if not path.exists():
            if not create:
                raise ConfigError(
                    f"no history database at {path}",
                    next_step="run: balancecli snapshot (or pass --db PATH)",
                )
            _create_file(path)
        with _sqlite_errors(path):
            conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT, isolation_level=None)
            store = cls(path, conn)
            try:
                conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT * 1000)}")
                store._set_wal()
                conn.execute("PRAGMA synchronous = FULL")
                store._migrate()
            except BaseException:
                conn.close()
                raise
        return store

    def _set_wal(self) -> None:
        # WAL lets readers run during a write and makes a killed writer's frames invisible.
        # Switching needs a moment of exclusive access; other openers may hold the file.
        deadline = time.monotonic() + BUSY_TIMEOUT
        while True:
            mode = self._conn.execute("PRAGMA journal_mode").fetchone()[0]
            if mode.lower() == "wal":
                return
            try:
                mode = self._conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
                if mode.lower() == "wal":
                    return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
            if time.monotonic() > deadline:
                raise sqlite3.OperationalError("database is locked (cannot enable WAL)")
            time.sleep(0.05)

    def user_version(self) -> int:
        return self._conn.execute("PRAGMA user_version").fetchone()[0]

    def _migrate(self) -> None:
        version = self.user_version()
        if version == SCHEMA_VERSION:
            return
        self._refuse_newer(version)
        with self._transaction():
            version = self.user_version()  # another process may have migrated meanwhile
            self._refuse_newer(version)
            for step in MIGRATIONS[version:]:
                for statement in step:
                    self._conn.execute(statement)
            self._conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def _refuse_newer(self, version: int) -> None:
        if version > SCHEMA_VERSION:
            raise ConfigError(
                f"the history database {self.path} has schema version {version}; this "
                f"balancecli knows up to {SCHEMA_VERSION}",
                next_step="upgrade balancecli (the file is left untouched)",
            )

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def integrity_check(self) -> str:
        return ";".join(r[0] for r in self._conn.execute("PRAGMA integrity_check"))

    # -- writing ------------------------------------------------------------------------------

    def record_run(
        self,
        *,
        started_at: datetime,
        finished_at: datetime,
        profiles: Sequence[str],
        balances: Sequence[Balance],
        assets: Sequence[Asset],
        errors: Sequence[BalanceCliError],
    ) -> int:
        """Append one run and all its rows in one transaction; returns the run id."""
        from balancecli.secrets import REDACTOR

        taken_at = format_time(started_at)
        stored_errors = [
            {**{k: REDACTOR.redact(v) if isinstance(v, str) else v
                for k, v in e.as_dict().items()},
             "next_step": e.next_step and REDACTOR.redact(e.next_step)}
            for e in errors
        ]
        b_cols = ("run_id", "taken_at", *_BALANCE_TEXT, *BALANCE_FIELDS, "extra_json")
        a_cols = ("run_id", "taken_at", *_ASSET_TEXT, *ASSET_FIELDS, "extra_json")
        with _sqlite_errors(self.path), self._transaction():
            cursor = self._conn.execute(
                "INSERT INTO runs (started_at, finished_at, profiles_json, ok, error_count,"
                " errors_json, balance_count, asset_count) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (taken_at, format_time(finished_at), json.dumps(list(profiles)),
                 int(not errors), len(errors), json.dumps(stored_errors, ensure_ascii=False),
                 len(balances), len(assets)),
            )
            run_id = cursor.lastrowid
            assert run_id is not None
            self._conn.executemany(
                f"INSERT INTO balances ({', '.join(b_cols)})"
                f" VALUES ({', '.join('?' * len(b_cols))})",
                (
                    (run_id, taken_at, *(getattr(b, n) for n in _BALANCE_TEXT),
                     *(_money(getattr(b, n)) for n in BALANCE_FIELDS),
                     dumps_extra(b.extra) if b.extra else None)
                    for b in balances
                ),
            )
            self._conn.executemany(
                f"INSERT INTO assets ({', '.join(a_cols)})"
                f" VALUES ({', '.join('?' * len(a_cols))})",
                (
                    (run_id, taken_at, *(getattr(a, n) for n in _ASSET_TEXT),
                     *(_money(getattr(a, n)) for n in ASSET_FIELDS),
                     dumps_extra(a.extra) if a.extra else None)
                    for a in assets
                ),
            )
            self._conn.executemany(
                "INSERT OR IGNORE INTO accounts (account_id, profile, broker) VALUES (?, ?, ?)",
                {(r.account_id, r.profile, r.broker) for r in (*balances, *assets)},
            )
        return run_id

    def prune(self, keep: timedelta, *, now: datetime | None = None) -> int:
        """Delete the runs started before ``now - keep`` and their rows; returns how many."""
        cutoff = format_time((now or datetime.now(UTC)) - keep)
        with _sqlite_errors(self.path), self._transaction():
            self._conn.execute("DELETE FROM balances WHERE taken_at < ?", (cutoff,))
            self._conn.execute("DELETE FROM assets WHERE taken_at < ?", (cutoff,))
            self._conn.execute(
                "DELETE FROM accounts WHERE NOT EXISTS (SELECT 1 FROM balances AS t"
                " WHERE t.account_id = accounts.account_id AND t.profile = accounts.profile"
                " AND t.broker = accounts.broker) AND NOT EXISTS (SELECT 1 FROM assets AS t"
                " WHERE t.account_id = accounts.account_id AND t.profile = accounts.profile"
                " AND t.broker = accounts.broker)")
            return self._conn.execute("DELETE FROM runs WHERE started_at < ?", (cutoff,)).rowcount

    # -- reading ------------------------------------------------------------------------------

    def runs(self, limit: int | None = None) -> list[Run]:
        sql = "SELECT * FROM runs ORDER BY started_at DESC, id DESC"
        params: tuple[Any, ...] = ()
        if limit is not None:
            sql += " LIMIT ?"
            params = (limit,)
        with _sqlite_errors(self.path):
            rows = self._conn.execute(sql, params).fetchall()
        return [
            Run(id=r[0], started_at=r[1], finished_at=r[2], profiles=json.loads(r[3]),
                ok=bool(r[4]), error_count=r[5], errors=json.loads(r[6]), balance_count=r[7],
                asset_count=r[8])
            for r in rows
        ]

    def series_query(
        self,
        field: str,
        account_ids: Sequence[str] | None = None,
        profiles: Sequence[str] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> tuple[str, list[Any]]:
        """The SQL and parameters of ``series`` (exposed for EXPLAIN QUERY PLAN)."""
        if field not in BALANCE_FIELDS:
            raise ValueError(f"unknown field {field!r} (one of: {', '.join(BALANCE_FIELDS)})")
        where, params = [], []
        if account_ids:
            where.append(f"account_id IN ({', '.join('?' * len(account_ids))})")
            params.extend(account_ids)
        if profiles:
            where.append(f"profile IN ({', '.join('?' * len(profiles))})")
            params.extend(profiles)
        if since is not None:
            where.append("taken_at >= ?")
            params.append(format_time(since))
        if until is not None:
            where.append("taken_at <= ?")
            params.append(format_time(until))
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
            f"SELECT taken_at, run_id, profile, broker, account_id, currency, {field}"
            f" FROM {source}"
            + (" WHERE " + " AND ".join(where) if where else "")
            + " ORDER BY account_id, taken_at"
        )
        return sql, params

    def series(
        self,
        field: str,
        account_ids: Sequence[str] | None = None,
        profiles: Sequence[str] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[Point]:
        """One balance field over time, ordered by account id, then time (then insertion)."""
        sql, params = self.series_query(field, account_ids, profiles, since, until)
        with _sqlite_errors(self.path), _no_gc():
            rows = self._conn.execute(sql, params).fetchall()
            return [
                Point(t, run, prof, brk, acct, cur, None if v is None else Decimal(v))
                for t, run, prof, brk, acct, cur, v in rows
            ]

    def iter_series(
        self,
        field: str,
        account_ids: Sequence[str] | None = None,
        profiles: Sequence[str] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> Iterator[Point]:
        """``series`` streamed in the same order, in constant memory."""
        sql, params = self.series_query(field, account_ids, profiles, since, until)
        with _sqlite_errors(self.path):
            cursor = self._conn.execute(sql, params)
            while rows := cursor.fetchmany(4096):
                for t, run, prof, brk, acct, cur, v in rows:
                    yield Point(t, run, prof, brk, acct, cur, None if v is None else Decimal(v))

    def explain(self, sql: str, params: Sequence[Any] = ()) -> list[str]:
        """The ``EXPLAIN QUERY PLAN`` details of a query, one string per step."""
        with _sqlite_errors(self.path):
            return [r[3] for r in self._conn.execute("EXPLAIN QUERY PLAN " + sql, params)]

    def balances_at(self, when: datetime) -> list[Stored]:
        """Each account's Balance rows from the last run at or before ``when`` that stored it."""
        return self._rows_at("balances", when, _BALANCE_TEXT, BALANCE_FIELDS, Balance)

    def assets_at(self, when: datetime) -> list[Stored]:
        """Each account's Asset rows from the last run at or before ``when`` that stored it."""
        return self._rows_at("assets", when, _ASSET_TEXT, ASSET_FIELDS, Asset)

    def accounts(self) -> list[tuple[str, str, str]]:
        """Every (profile, broker, account_id) with stored rows, sorted."""
        with _sqlite_errors(self.path):
            return sorted(self._conn.execute(
                "SELECT profile, broker, account_id FROM accounts").fetchall())

    def _rows_at(self, table: str, when: datetime, text: Sequence[str],
                 money: Sequence[str], model: type) -> list[Stored]:
        columns = ", ".join((*text, *money, "extra_json"))
        out = []
        with _sqlite_errors(self.path):
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
                    values = dict(zip(text, row[2:2 + len(text)], strict=True))
                    amounts = row[2 + len(text):2 + len(text) + len(money)]
                    values.update({n: _decimal(v) for n, v in zip(money, amounts, strict=True)})
                    values["extra"] = loads_extra(row[-1])
                    out.append(Stored(row[0], row[1], model(**values)))
        return out


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


def _create_file(path: Path) -> None:
    """The directory 0700 (only the last level is ours to create) and the file 0600."""
    parent = path.parent
    try:
        if not parent.exists():
            parent.parent.mkdir(parents=True, exist_ok=True)
            with contextlib.suppress(FileExistsError):
                parent.mkdir(mode=0o700)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return  # a concurrent run created it
    except OSError as exc:
        raise ConfigError(
            f"cannot create the history database {path}: {exc.strerror}",
            next_step="check the directory's permissions (or use --db PATH)",
        ) from None
    os.close(fd)
