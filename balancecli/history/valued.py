"""Reading whole runs back for ``history --in CUR`` (DESIGN.md §11): each run's balances, assets
and the rates it stored (schema version 3), one run at a time in time order.

Each query seeks by the run's time (the ``*_time`` indexes) and id, so memory holds one run.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any, NamedTuple

from balancecli.history.formats import decimal_or_none, format_time, loads_extra
from balancecli.history.schema import (
    ASSET_FIELDS,
    ASSET_TEXT,
    BALANCE_FIELDS,
    BALANCE_TEXT,
    Database,
    sqlite_errors,
)
from balancecli.models import Asset, Balance


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


class ValuedReader(Database):
    """``iter_run_rows`` (mixed into ``Store``)."""

    def iter_run_rows(self, *, since: datetime | None = None, until: datetime | None = None,
                      profiles: Sequence[str] | None = None,
                      account_ids: Sequence[str] | None = None) -> Iterator[RunRows]:
        """Every run in the range, oldest first, with its rows (filtered by profile and
        account) and its stored rates."""
        where, params = [], []
        if since is not None:
            where.append("started_at >= ?")
            params.append(format_time(since))
        if until is not None:
            where.append("started_at <= ?")
            params.append(format_time(until))
        sql = ("SELECT id, started_at, ok FROM runs"
               + (" WHERE " + " AND ".join(where) if where else "")
               + " ORDER BY started_at, id")
        row_filter, row_params = "", []
        if profiles:
            row_filter += f" AND profile IN ({', '.join('?' * len(profiles))})"
            row_params += list(profiles)
        if account_ids:
            row_filter += f" AND account_id IN ({', '.join('?' * len(account_ids))})"
            row_params += list(account_ids)
        with sqlite_errors(self.path):
            runs = self._conn.execute(sql, params).fetchall()
            for run_id, taken_at, ok in runs:
                key = (taken_at, run_id, *row_params)
                balances = self._rows("balances", BALANCE_TEXT, BALANCE_FIELDS, Balance,
                                      row_filter, key)
                assets = self._rows("assets", ASSET_TEXT, ASSET_FIELDS, Asset, row_filter, key)
                rates = [
                    StoredRate(p, a, base, quote, Decimal(num), Decimal(den), source,
                               date.fromisoformat(day) if day else None)
                    for p, a, base, quote, num, den, source, day in self._conn.execute(
                        "SELECT profile, account_id, base, quote, num, den, source, rate_date"
                        " FROM rates WHERE taken_at = ? AND run_id = ? ORDER BY rowid",
                        (taken_at, run_id))
                ]
                yield RunRows(run_id, taken_at, bool(ok), balances, assets, rates)

    def _rows(self, table: str, text: Sequence[str], money: Sequence[str], model: type,
              row_filter: str, params: Sequence[Any]) -> list[Any]:
        columns = ", ".join((*text, *money, "extra_json"))
        out = []
        for row in self._conn.execute(
                f"SELECT {columns} FROM {table} WHERE taken_at = ? AND run_id = ?{row_filter}"
                " ORDER BY rowid", params):
            values = dict(zip(text, row[:len(text)], strict=True))
            amounts = row[len(text):len(text) + len(money)]
            values.update({n: decimal_or_none(v) for n, v in zip(money, amounts, strict=True)})
            values["extra"] = loads_extra(row[-1])
            out.append(model(**values))
        return out
