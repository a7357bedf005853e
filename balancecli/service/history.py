"""What ``history`` reads from the store, before anything is shown: the filters checked
against what is stored, the series resampled to closes, ``--last``, the field followed per
account, the runs whose net worth is worked out, per-currency totals by run, and the period
that makes a series fit a number of rows.

- Filters: a ``--profile``, ``--account`` or ``--currency`` that no stored row has is a
  ConfigError naming what is stored (exit 3); so is a range in which nothing was stored.
- Periods (``--every``) are local calendar periods (``tz``: None for the process's zone,
  ``UTC`` with ``--utc``); a close is the last stored run of a period, found in SQL by one
  index seek per period (``history.resample.period_edges``), never an average.
- ``--last N``: the N newest points of each series (the N newest runs for net worth), after
  resampling.
- Without ``--field`` each series follows ``equity``, else ``cash``, else ``available``: the
  first of them it has a value of in the range (so an account that reports only
  ``available``, as Quantower's do, is not an empty series).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from decimal import Decimal
from typing import Any

from balancecli.core.errors import ConfigError
from balancecli.history import format_time
from balancecli.history.query import FOLLOWED, Fields, Point, RunStamp
from balancecli.history.resample import choose_period, last, period_edges, run_totals

LISTED = 12  # names listed in an error before "and N more"


@dataclass(frozen=True)
class Wanted:
    """Which stored rows ``history`` shows."""

    field: str | None = None  # None: equity, else cash, else available, per series
    profiles: Sequence[str] | None = None
    accounts: Sequence[str] | None = None
    currency: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    every: str | None = None  # a period of history.resample.PERIODS
    last: int | None = None
    tz: tzinfo | None = None  # periods in this zone (None: local)

    @property
    def fields(self) -> Fields:
        return self.field if self.field is not None else FOLLOWED

    def but(self, **changes: Any) -> Wanted:
        import dataclasses

        return dataclasses.replace(self, **changes)


def _series_key(p: Any) -> tuple[Any, ...]:
    return (p.profile, p.broker, p.account_id, p.currency)


def _account(p: Any) -> str:
    return str(p.account_id)


def _listed(names: Iterable[str]) -> str:
    found = sorted(set(names))
    if not found:
        return "none"
    more = len(found) - LISTED
    return ", ".join(found[:LISTED]) + (f" and {more} more" if more > 0 else "")


# -- filters -----------------------------------------------------------------------------------


def check_filters(store: Any, wanted: Wanted) -> None:
    """A profile, account or currency that nothing stored has: exit 3 naming what is."""
    stored = store.accounts()  # (profile, broker, account_id)
    if wanted.profiles:
        names = {p for p, _, _ in stored}
        missing = [p for p in wanted.profiles if p not in names]
        if missing:
            raise ConfigError(
                f"no stored balance of profile {', '.join(missing)} (--profile); stored: "
                + _listed(names), next_step="run: balancecli history (without --profile)")
    if wanted.accounts:
        ids = {a for p, _, a in stored if not wanted.profiles or p in wanted.profiles}
        missing = [a for a in wanted.accounts if a not in ids]
        if missing:
            of = f" of {', '.join(wanted.profiles)}" if wanted.profiles else ""
            raise ConfigError(
                f"no stored balance of account {', '.join(missing)}{of} (--account); stored: "
                + _listed(ids), next_step="run: balancecli history (without --account)")
    if wanted.currency:
        currencies = store.currencies()
        if wanted.currency.upper() not in {c.upper() for c in currencies}:
            raise ConfigError(
                f"no stored balance is in {wanted.currency.upper()} (--currency); stored: "
                + _listed(currencies),
                next_step="run: balancecli history (without --currency) to see every series")


def nothing_in_range(store: Any, wanted: Wanted, when: Callable[[str], str]) -> ConfigError:
    """The error when the filters together matched no stored row: what is stored, and when
    (``when`` writes a stored time as the tables do)."""
    count, first, latest = store.run_span()
    if not count:
        return ConfigError("the history database holds no snapshot yet",
                           next_step="run: balancecli snapshot")
    given = [name for name, value in (
        ("--profile", wanted.profiles), ("--account", wanted.accounts),
        ("--currency", wanted.currency), ("--since", wanted.since),
        ("--until", wanted.until)) if value]
    return ConfigError(
        f"no stored balance matches {' '.join(given) or 'the range'}: the {count} stored "
        f"run(s) go from {when(first)} to {when(latest)}",
        next_step="widen --since/--until, or drop a filter")


# -- the range and its periods -----------------------------------------------------------------


def span(store: Any, wanted: Wanted) -> tuple[str, str] | None:
    """The stored runs' first and last time within ``--since``/``--until`` (None: none)."""
    count, first, latest = store.run_span()
    if not count:
        return None
    low = max(first, format_time(wanted.since)) if wanted.since else first
    high = min(latest, format_time(wanted.until)) if wanted.until else latest
    return (low, high) if low <= high else None


def edges(store: Any, wanted: Wanted, period: str) -> list[tuple[str, str]]:
    found = span(store, wanted)
    if found is None:
        return []
    return period_edges(found[0], found[1], period, wanted.tz)


# -- series ------------------------------------------------------------------------------------


def series_points(store: Any, wanted: Wanted) -> Iterator[Point]:
    """The points of every series, ordered by account id then time (the store's order):
    closes of ``wanted.every`` or every stored point, the ``--last`` of each series, in
    ``--currency`` only."""
    if wanted.every:
        points: Iterable[Point] = store.iter_series_closes(
            wanted.fields, edges(store, wanted, wanted.every), account_ids=wanted.accounts,
            profiles=wanted.profiles)
    else:
        points = store.iter_series(wanted.fields, account_ids=wanted.accounts,
                                   profiles=wanted.profiles, since=wanted.since,
                                   until=wanted.until)
    if wanted.currency:
        code = wanted.currency.upper()
        points = (p for p in points if (p.currency or "").upper() == code)
    if wanted.last:
        points = last(points, wanted.last, group=_series_key, outer=_account)
    yield from points


def point_period(store: Any, wanted: Wanted, rows: int) -> str | None:
    """The finest period whose closes give at most ``rows`` points per series (None: every
    point fits; ``"1y"`` when not even years do)."""
    raw = store.count_points(account_ids=wanted.accounts, profiles=wanted.profiles,
                             since=wanted.since, until=wanted.until)

    def count(period: str) -> int:
        return int(store.periods_with_rows(edges(store, wanted, period),
                                           account_ids=wanted.accounts,
                                           profiles=wanted.profiles))

    return choose_period(raw, count, rows)


# -- runs --------------------------------------------------------------------------------------


def run_stamps(store: Any, wanted: Wanted) -> list[RunStamp]:
    """The runs to value (``--in``) or total: the closes of ``wanted.every`` or every run, the
    ``--last`` of them; oldest first."""
    if wanted.every:
        stamps: Iterable[RunStamp] = store.iter_run_closes(
            edges(store, wanted, wanted.every), profiles=wanted.profiles,
            account_ids=wanted.accounts)
    else:
        stamps = store.iter_run_stamps(since=wanted.since, until=wanted.until,
                                       profiles=wanted.profiles, account_ids=wanted.accounts)
    if wanted.last:
        stamps = last(stamps, wanted.last)
    return list(stamps)


def run_period(store: Any, wanted: Wanted, rows: int) -> str | None:
    """The finest period whose closes are at most ``rows`` runs (as ``point_period``)."""
    raw = sum(1 for _ in store.iter_run_stamps(
        since=wanted.since, until=wanted.until, profiles=wanted.profiles,
        account_ids=wanted.accounts))

    def count(period: str) -> int:
        return sum(1 for _ in store.iter_run_closes(
            edges(store, wanted, period), profiles=wanted.profiles,
            account_ids=wanted.accounts))

    return choose_period(raw, count, rows)


def currency_totals(store: Any, wanted: Wanted, stamps: Sequence[RunStamp],
                    ) -> dict[str | None, tuple[set[str], list[tuple[str, Decimal | None]]]]:
    """Per currency, the fields summed (each series' followed one) and the exact total over
    each run of ``stamps``, ``None`` for a run in which a profile failed (a gap, not a fall):
    a chart line per currency. Runs where that currency had no row are left out."""
    code = wanted.currency.upper() if wanted.currency else None
    points = [p for p in store.iter_points_by_run(
        wanted.fields, profiles=wanted.profiles, account_ids=wanted.accounts, stamps=stamps)
        if code is None or (p.currency or "").upper() == code]
    fields: dict[str | None, set[str]] = {}
    for p in points:
        fields.setdefault(p.currency, set()).add(p.field)
    out: dict[str | None, tuple[set[str], list[tuple[str, Decimal | None]]]] = {}
    for t in run_totals(points):
        out.setdefault(t.currency, (fields[t.currency], []))[1].append(
            (t.taken_at, t.total if t.ok else None))
    return out
