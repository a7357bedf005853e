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
from balancecli.history.damage import Damage, Damaged, amount, day, json_value, time_text
from balancecli.history.formats import format_time
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


def _balance(r: tuple[Any, ...]) -> Balance:
    return Balance(r[2], r[3], r[4], account_type=r[5], currency=r[6], as_of=r[7],
                   equity=amount(r[8], "balances.equity"), cash=amount(r[9], "balances.cash"),
                   available=amount(r[10], "balances.available"),
                   extra=json_value(r[11], "balances.extra_json") if r[11] else {})


def _asset(r: tuple[Any, ...]) -> Asset:
    return Asset(r[2], r[3], r[4], r[5], total=amount(r[6], "assets.total"),
                 value_in_account_currency=amount(r[7], "assets.value_in_account_currency"),
                 value_usd=amount(r[8], "assets.value_usd"),
                 conversion_rate=amount(r[9], "assets.conversion_rate"))


def _rate(r: tuple[Any, ...]) -> StoredRate:
    num, den = amount(r[6], "rates.num"), amount(r[7], "rates.den")
    if num is None or den is None or den == 0:
        raise Damaged("rates.den" if num is not None else "rates.num",
                      r[7] if num is not None else r[6], "not a usable rate")
    return StoredRate(r[2], r[3], r[4], r[5], num, den, r[8], day(r[9], "rates.rate_date"))


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
            runs = list(self._checked_runs(self._conn.execute(run_sql, time_params)))
            streams = [
                _Group(self._conn.execute(_balance_sql(extra_of) + where(row_where) + ORDER,
                                          [*extra_of, *row_params]), _balance, "balances"),
                _Group(self._conn.execute(ASSET_SQL + where(row_where) + ORDER, row_params),
                       _asset, "assets"),
                _Group(self._conn.execute(RATE_SQL + where(time_where) + ORDER, time_params)
                       if self.user_version() >= 3 else iter(()), _rate, "rates"),
            ]
            for taken_at, run_id, ok in runs:
                key = (taken_at, run_id)
                balances, assets, rates = (s.take(key, self.damage) for s in streams)
                if all(s.whole for s in streams):  # a damaged run is left out whole
                    yield RunRows(run_id, taken_at, bool(ok), balances, assets, rates)
            for s in streams:
                s.rest(self.damage)

    def _checked_runs(self, rows: Any) -> Iterator[tuple[str, int, int]]:
        """``(started_at, id, ok)`` of the runs whose time can be read (the others noted)."""
        for taken_at, run_id, ok in rows:
            try:
                yield time_text(taken_at, "runs.started_at"), run_id, ok
            except Damaged as exc:
                self.damage.note(run_id, exc)


def _balance_sql(extra_of: Sequence[str]) -> str:
    if not extra_of:
        return BALANCE_SQL.format(extra="NULL")
    marks = ", ".join("?" * len(extra_of))
    return BALANCE_SQL.format(extra=f"CASE WHEN broker IN ({marks}) THEN extra_json END")


class _Group:
    """The rows of one (taken_at, run_id) at a time from a cursor ordered by them. A row that
    cannot be read is noted in the store's ``Damage``; ``whole`` says whether the last run
    taken was read in full."""

    def __init__(self, cursor: Any, make: Any, table: str) -> None:
        self._cursor = cursor
        self._make = make
        self._time = f"{table}.taken_at"
        self._batch: list[Any] = []
        self._at = 0
        self._done = False
        self.whole = True

    def _peek(self) -> Any:
        if self._at == len(self._batch):
            if self._done:
                return None
            self._batch, self._at = self._cursor.fetchmany(2048), 0
            if not self._batch:
                self._done = True
                return None
        return self._batch[self._at]

    def take(self, key: tuple[str, int], damage: Damage) -> list[Any]:
        out = []
        self.whole = True
        while (row := self._peek()) is not None and (row[0], row[1]) <= key:
            if (row[0], row[1]) == key:
                try:
                    out.append(self._make(row))
                except Damaged as exc:
                    damage.note(row[1], exc)
                    self.whole = False
            else:  # a row of a run outside the list: skipped, but said if its time is bad
                self._check_time(row, damage)
            self._at += 1
        return out

    def rest(self, damage: Damage) -> None:
        """Rows after the last run: only a row whose time is damaged sorts there."""
        while (row := self._peek()) is not None:
            self._check_time(row, damage)
            self._at += 1

    def _check_time(self, row: Sequence[Any], damage: Damage) -> None:
        try:
            time_text(row[0], self._time)
        except Damaged as exc:
            damage.note(row[1], exc)
