"""Reading whole runs back for ``history --in CUR``: each run's balances, assets and the rates
it stored (schema version 3), one run at a time in time order.

Three streamed queries (balances, assets, rates), each ordered by the run's time and id, are
merged run by run, so memory holds one run. Only what the account value rule reads is loaded:
the row's currency, type and time, ``equity``/``cash``/``available``, the asset values and rates,
and ``extra`` only of the rows of the brokers named in ``extra_of`` (those whose rates are read
from it: ``Broker.rates_need_extra``). The other amounts of these rows are None: they are for
valuation, not for display.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any, NamedTuple

from balancecli.core.models import Asset, Balance
from balancecli.history.formats import format_time, loads_extra
from balancecli.history.schema import Database, sqlite_errors


class StoredRate(NamedTuple):
    """A rate as stored: 1 ``base`` = ``num / den`` ``quote``."""

    profile: str | None
    account_id: str | None
    base: str
    quote: str
    num: Decimal
    den: Decimal
    source: str
    day: date | None


class RunRows(NamedTuple):
    run_id: int
    taken_at: str
    ok: bool
    balances: list[Balance]
    assets: list[Asset]
    rates: list[StoredRate]


BALANCE_SQL = ("SELECT taken_at, run_id, profile, broker, account_id, account_type, currency,"
               " as_of, equity, cash, available, {extra} FROM balances")
ASSET_SQL = ("SELECT taken_at, run_id, profile, broker, account_id, asset, total,"
             " value_in_account_currency, value_usd, conversion_rate FROM assets")
RATE_SQL = ("SELECT taken_at, run_id, profile, account_id, base, quote, num, den, source,"
            " rate_date FROM rates")
ORDER = " ORDER BY taken_at, run_id"


def _d(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)


def _balance(r: tuple[Any, ...]) -> Balance:
    return Balance(r[2], r[3], r[4], account_type=r[5], currency=r[6], as_of=r[7],
                   equity=_d(r[8]), cash=_d(r[9]), available=_d(r[10]),
                   extra=loads_extra(r[11]) if r[11] else {})


def _asset(r: tuple[Any, ...]) -> Asset:
    return Asset(r[2], r[3], r[4], r[5], total=_d(r[6]), value_in_account_currency=_d(r[7]),
                 value_usd=_d(r[8]), conversion_rate=_d(r[9]))


def _rate(r: tuple[Any, ...]) -> StoredRate:
    return StoredRate(r[2], r[3], r[4], r[5], Decimal(r[6]), Decimal(r[7]), r[8],
                      date.fromisoformat(r[9]) if r[9] else None)


class ValuedReader(Database):
    """``iter_run_rows`` (mixed into ``Store``)."""

    def iter_run_rows(self, *, since: datetime | None = None, until: datetime | None = None,
                      profiles: Sequence[str] | None = None,
                      account_ids: Sequence[str] | None = None,
                      extra_of: Sequence[str] = ()) -> Iterator[RunRows]:
        """Every run in the range, oldest first, with its rows (filtered by profile and
        account) and its stored rates; balance rows of the brokers in ``extra_of`` keep their
        ``extra``."""
        time_where, time_params = [], []
        if since is not None:
            time_where.append("taken_at >= ?")
            time_params.append(format_time(since))
        if until is not None:
            time_where.append("taken_at <= ?")
            time_params.append(format_time(until))
        row_where, row_params = list(time_where), list(time_params)
        if profiles:
            row_where.append(f"profile IN ({', '.join('?' * len(profiles))})")
            row_params += list(profiles)
        if account_ids:
            row_where.append(f"account_id IN ({', '.join('?' * len(account_ids))})")
            row_params += list(account_ids)

        def where(parts: list[str]) -> str:
            return " WHERE " + " AND ".join(parts) if parts else ""

        run_sql = ("SELECT started_at, id, ok FROM runs"
                   + where([w.replace("taken_at", "started_at") for w in time_where])
                   + " ORDER BY started_at, id")
        with sqlite_errors(self.path):
            runs = self._conn.execute(run_sql, time_params).fetchall()
            streams = [
                _Group(self._conn.execute(_balance_sql(extra_of) + where(row_where) + ORDER,
                                          [*extra_of, *row_params]), _balance),
                _Group(self._conn.execute(ASSET_SQL + where(row_where) + ORDER, row_params),
                       _asset),
                _Group(self._conn.execute(RATE_SQL + where(time_where) + ORDER, time_params)
                       if self.user_version() >= 3 else iter(()), _rate),
            ]
            for taken_at, run_id, ok in runs:
                key = (taken_at, run_id)
                balances, assets, rates = (s.take(key) for s in streams)
                yield RunRows(run_id, taken_at, bool(ok), balances, assets, rates)


def _balance_sql(extra_of: Sequence[str]) -> str:
    if not extra_of:
        return BALANCE_SQL.format(extra="NULL")
    marks = ", ".join("?" * len(extra_of))
    return BALANCE_SQL.format(extra=f"CASE WHEN broker IN ({marks}) THEN extra_json END")


class _Group:
    """The rows of one (taken_at, run_id) at a time from a cursor ordered by them."""

    def __init__(self, cursor: Any, make: Any) -> None:
        self._cursor = cursor
        self._make = make
        self._batch: list[Any] = []
        self._at = 0
        self._done = False

    def _peek(self) -> Any:
        if self._at == len(self._batch):
            if self._done:
                return None
            self._batch, self._at = self._cursor.fetchmany(2048), 0
            if not self._batch:
                self._done = True
                return None
        return self._batch[self._at]

    def take(self, key: tuple[str, int]) -> list[Any]:
        out = []
        while (row := self._peek()) is not None and (row[0], row[1]) <= key:
            if (row[0], row[1]) == key:  # rows of a run outside the list are skipped
                out.append(self._make(row))
            self._at += 1
        return out
