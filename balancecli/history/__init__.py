"""The snapshot history store: one SQLite file that cron appends to.

``sqlite3`` is imported only by this package, and the CLI imports it only for ``snapshot`` and
``history``.

Modules: ``schema`` (where the file lives, migrations, opening; the ``Database`` base),
``write`` (``record_run``, ``prune``), ``query`` (``runs``, ``series``, ``balances_at``, ...),
``formats`` (how times, durations and amounts are written; sparklines), ``damage`` (stored
values that cannot be read back: left out, noted in ``Store.damage``, named by ``history`` in
one line per column, exit 3), ``resample`` (closes
per local hour/day/week/month/year, ``--last``, the period that fits a terminal; pure functions
over the queries' streams). ``Store`` joins them;
import the public names from here.

API
---
- ``db_path(explicit=None) -> Path``: ``--db``, else ``BALANCECLI_DB``, else
  ``platformdirs.user_data_dir("balancecli")/history.sqlite3``.
- ``Store.open(path, create=True) -> Store`` (also a context manager): creates the directory
  (0700) and the file (0600; SQLite gives ``-wal``/``-shm`` the same mode), sets WAL,
  ``busy_timeout`` 30 s and ``synchronous=FULL``, and migrates the schema in place to
  ``SCHEMA_VERSION`` (``PRAGMA user_version``). ``create=False`` raises ConfigError when there is
  no database yet (``history`` never creates one).
- ``Store.record_run(*, started_at, finished_at, profiles, balances, assets, errors,
  rates=()) -> int``:
  the whole run in ONE ``BEGIN IMMEDIATE`` transaction; a process killed at any point leaves the
  whole run or nothing. Failed runs are recorded too (with their errors).
- ``Store.series(field, account_ids=None, profiles=None, since=None, until=None)
  -> list[Point]``: one balance field over time, ordered by account id then time;
  ``Store.iter_series(...)`` streams the same points in constant memory.
- ``Store.balances_at(when)`` / ``Store.assets_at(when) -> list[Stored]``: for each account, the
  rows of the last run at or before ``when`` that stored that account (``Stored.row`` is the
  Balance/Asset, ``Stored.run_id`` and ``Stored.taken_at`` say which run).
- ``Store.iter_run_rows(since, until, profiles, account_ids, extra_of) -> Iterator[RunRows]``:
  each run with its balances, assets and stored rates, oldest first (``history --in``;
  ``valued``); ``extra`` only of the rows of the brokers in ``extra_of``.
- For resampling (``resample``), closes in SQL over ``resample.period_edges(first, last,
  period, tz)``, one index seek per local period: ``Store.iter_series_closes(field, edges,
  account_ids, profiles) -> Iterator[Point]`` (``iter_series`` resampled, same order),
  ``Store.iter_run_closes(edges, profiles, account_ids) -> Iterator[RunStamp]`` (the last run
  of each period), ``Store.periods_with_rows(edges, ...)`` and ``Store.count_points(...)``
  (for ``resample.choose_period``). Then only the kept runs are read:
  ``Store.iter_rows_of_runs(stamps, profiles, account_ids, extra_of)`` (``RunRows`` for
  ``--in``) and ``Store.iter_points_by_run(field, ..., stamps=None) -> Iterator[RunPoint]``
  (one field by run, for per-run totals per currency). ``Store.iter_run_stamps(...)``
  streams every run.
- ``Store.prune(keep: timedelta | Span, now=None) -> int`` / ``Store.prune_before(when)``:
  deletes runs (and their rows) older than ``now - keep``; returns the number of runs deleted.
  Only ever on request. ``Store.runs_before(when)`` counts what that would delete.
- ``Store.runs(limit=None) -> list[Run]``, newest first; ``Store.accounts()`` every
  ``(profile, broker, account_id)`` stored.
- ``Store.series_query(...)`` / ``Store.explain(sql, params)``: the SQL of ``series`` and its
  ``EXPLAIN QUERY PLAN`` (tests assert the indexes are used).
- helpers: ``parse_when("30d" | "2026-11-01" | ISO 8601, end_of_day=False) -> datetime``,
  ``parse_duration("365d" | "6mo" | "1y") -> Span`` (a bare ``m`` is ambiguous: ValueError),
  ``sparkline(values, width)``, ``exact_sum(values)``.

Storage
-------
Times are UTC text with microseconds, fixed width (``2026-11-21T19:00:00.123456Z``), so text
order is time order. A row's time (``taken_at``) is its run's ``started_at``. Amounts are the
exact ``str(Decimal)`` text in TEXT columns (``19638.14545186560000000000`` stays so), a missing
value is NULL, never 0. ``extra`` is JSON in which every Decimal is written with its exact digits
(an integral Decimal gets an ``E0`` exponent so that it reads back as the same Decimal, not an
int). Errors are stored redacted, as in the JSON ``errors`` list plus ``next_step``.

Schema versions, migrations and how SQLite errors map to exit codes: see ``schema``.
"""

from balancecli.history.formats import (
    Span,
    dumps_extra,
    exact_diff,
    exact_sum,
    format_time,
    loads_extra,
    parse_duration,
    parse_when,
    short_time,
    sparkline,
)
from balancecli.history.query import LATEST_SQL, Point, Reader, Run, Stored
from balancecli.history.schema import (
    APPLICATION_ID,
    ASSET_FIELDS,
    BALANCE_FIELDS,
    BUSY_TIMEOUT,
    ENV_DB,
    MIGRATIONS,
    SCHEMA_VERSION,
    db_path,
)
from balancecli.history.valued import ValuedReader
from balancecli.history.write import Writer


class Store(Reader, Writer, ValuedReader):
    """One open history database: ``Store.open(path)``, then read and write; close with
    ``close()`` or ``with``."""


__all__ = [
    "APPLICATION_ID", "ASSET_FIELDS", "BALANCE_FIELDS", "BUSY_TIMEOUT", "ENV_DB", "LATEST_SQL",
    "MIGRATIONS", "SCHEMA_VERSION", "Point", "Run", "Span", "Store", "Stored", "db_path",
    "dumps_extra", "exact_diff", "exact_sum", "format_time", "loads_extra", "parse_duration",
    "parse_when", "short_time", "sparkline",
]
