"""A demo with a past: about 90 days of varying history for the demo accounts, generated
from the sample data (the rows a ``--demo`` fetch returns) with ``demo.motion``, as runs for a
history store. Nothing here opens or writes a store: the caller records the runs where it
chooses (the demo's own store, a temporary one).

How the amounts move (``moved_rows``), per account:

- an account in a fiat currency moves all its balance amounts, its fiat asset rows and the
  cash of TradeStation's ``CurrencyDetails`` by one factor (``account:BROKER:ID``), so cash,
  market value and equity stay consistent with each other; an account that holds only cash
  (equity equal to cash, no market value) does not move: cash does not wander;
- non-fiat assets (BTC, ETH, USDT ...) keep their quantities, and their values move with
  their price (``price:CODE``: crypto about 3 % a day, stablecoins 0.05 %); an account in such
  a currency keeps its balance amounts (they are coin quantities);
- exchange rates the broker sent (TradeStation's ``AccountConversionRate`` and the asset rows'
  ``conversion_rate``) move by ``rate:BASE/QUOTE`` (0.3 % a day), so ``--in`` totals move
  with rates as well as with amounts; HKD and the other ECB currencies move with the ECB's
  own history, as for any stored run;
- everything else (names, ids, other ``extra`` fields) is the sample data's.

Because motion depends on absolute time only, ``moved_rows(rows, t)`` is what the past has at
``t``: the runs of ``past_runs`` lie on a fixed grid (multiples of ``every`` since the epoch),
two calls share the runs they have in common, and a later ``--demo snapshot`` whose rows were
moved with the same function continues the past without a step.

How it is wired (the store, the fetch and ``snapshot_rates`` are the CLI's):

1. The demo's store is ``history-demo.sqlite3`` (``history.db_path(demo=True)``), separate from
   the user's. Only that default store is seeded: never a ``--db`` or ``BALANCECLI_DB`` file
   (``cli.demo_store``).
2. A ``--demo`` fetch gets the sample rows from the fakes, then shows and stores them moved to
   the moment of the fetch (``Motion``, handed to ``service.fetch`` as ``Options.moved``): each
   demo fetch varies a little around the sample data, seeded.
3. When ``--demo history`` or ``--demo snapshot`` opens the demo store and finds no run, it
   records ``past_runs(sample balances, sample assets, end=now)`` (the unmoved rows of a
   fetch), each run with ``rates=snapshot_rates(...)`` of its rows, as ``snapshot`` would, in
   one transaction; when the newest stored run is older than ``every``, it records
   ``past_runs(..., end=now, after=newest)`` first, so the history has no hole.
4. "now" is ``demo_clock()``: the real clock, or for tests the time ``CLOCK_ENV`` fixes, or
   ``still`` (no motion and no past: the sample data exactly, what most tests compare).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, NamedTuple

from balancecli.core.models import MONEY_FIELDS, Asset, Balance
from balancecli.core.precision import minor_units
from balancecli.demo.motion import _PRODUCT, DAILY, SEED, apply, factor

# The demo's clock, for tests only (like _BALANCECLI_WATCH_MIN_SECONDS; not a user setting):
# "still" shows the sample data as it is and gives the demo no past; an ISO 8601 time fixes
# the demo's "now" (its motion and the end of its past), so a test is exact without
# depending on today's date. Unset: the real clock.
CLOCK_ENV = "_BALANCECLI_DEMO_CLOCK"

DAYS = 90
# Six snapshots a day: 540 runs in 90 days. record_run writes a demo run in about 2 ms (4 ms
# with its fsync), so seeding hourly (2,160 runs) would take several seconds.
EVERY = timedelta(hours=4)
RUN_SECONDS = timedelta(milliseconds=350)  # how long a generated run "took"
RATE_DAILY = 0.003
CRYPTO_DAILY = 0.03
STABLE_DAILY = 0.0005
STABLECOINS = frozenset({"USDT", "USDC", "DAI", "BUSD", "TUSD", "FDUSD", "PYUSD"})
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class PastRun(NamedTuple):
    """One generated snapshot: ``Store.record_run(**run._asdict(), errors=[], rates=...)``."""

    started_at: datetime
    finished_at: datetime
    profiles: list[str]
    balances: list[Balance]
    assets: list[Asset]


def grid(end: datetime, *, days: int = DAYS, every: timedelta = EVERY,
         after: datetime | None = None) -> list[datetime]:
    """The run times: multiples of ``every`` since the epoch, later than ``days`` before
    ``end`` (and than ``after``), up to ``end`` included: 90 days every 4 hours are 540."""
    if every <= timedelta(0):
        raise ValueError("every must be positive")
    low = end - timedelta(days=days)
    if after is not None:
        low = max(low, after)
    first = (low - _EPOCH) // every + 1
    last = (end - _EPOCH) // every
    return [_EPOCH + i * every for i in range(first, last + 1)]


def past_runs(balances: Sequence[Balance], assets: Sequence[Asset], *, end: datetime,
              days: int = DAYS, every: timedelta = EVERY, after: datetime | None = None,
              seed: str = SEED) -> Iterator[PastRun]:
    """Runs on the grid of ``days`` before ``end`` (after ``after``), oldest first, with the
    sample rows moved to each run's time. Streamed: one run in memory at a time."""
    profiles = list(dict.fromkeys([*(b.profile for b in balances), *(a.profile for a in assets)]))
    plan = _Plan(balances, assets, seed)
    for when in grid(end, days=days, every=every, after=after):
        moved_balances, moved_assets = plan.at(when)
        yield PastRun(when, when + RUN_SECONDS, list(profiles), moved_balances, moved_assets)


def moved_rows(balances: Sequence[Balance], assets: Sequence[Asset], when: datetime, *,
               seed: str = SEED) -> tuple[list[Balance], list[Asset]]:
    """The sample rows as the demo has them at ``when`` (see the module's docstring)."""
    return _Plan(balances, assets, seed).at(when)


def demo_clock() -> datetime | None:
    """The demo's "now": the real time, the time ``CLOCK_ENV`` fixes, or None when it says
    ``still`` (no motion, no past). A value that is not a time is the real clock."""
    import os

    text = os.environ.get(CLOCK_ENV, "").strip()
    if text.lower() == "still":
        return None
    if text:
        try:
            fixed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            fixed = None
        if fixed is not None and fixed.tzinfo is not None:
            return fixed.astimezone(UTC)
    return datetime.now(UTC)


def clock_is_fixed() -> bool:
    import os

    return bool(os.environ.get(CLOCK_ENV, "").strip())


class Motion:
    """A demo fetch's rows moved to the demo's clock at the moment of the fetch (each fetch
    of ``--watch`` at its own moment): what ``--demo`` shows and stores instead of the sample
    data. Rows that are neither balances nor assets (accounts) pass unchanged."""

    def __init__(self, seed: str = SEED) -> None:
        self.seed = seed

    def __call__(self, rows: Sequence[Any], assets: Sequence[Any],
                 when: datetime | None = None) -> tuple[list[Any], list[Any]]:
        when = when or demo_clock()
        if when is None:
            return list(rows), list(assets)
        everything = [*rows, *assets]
        balances = [r for r in everything if isinstance(r, Balance)]
        holdings = [r for r in everything if isinstance(r, Asset)]
        moved_b, moved_a = moved_rows(balances, holdings, when, seed=self.seed)
        replaced: dict[int, Any] = dict(zip(map(id, balances), moved_b, strict=True))
        replaced.update(zip(map(id, holdings), moved_a, strict=True))
        return ([replaced.get(id(r), r) for r in rows],
                [replaced.get(id(r), r) for r in assets])


def _fiat(code: str | None) -> bool:
    return minor_units(code) is not None


def _price_daily(code: str) -> float:
    return STABLE_DAILY if code.upper() in STABLECOINS else CRYPTO_DAILY


# One amount that moves: (field, its sample value, its quantum, the motion's name, daily).
_Move = tuple[str, Decimal, Decimal, str, float]


class _Plan:
    """What moves how, decided once from the sample rows; ``at(when)`` applies it. Rows are
    rebuilt from their sample fields with only the moving ones replaced (``at`` runs for every
    generated snapshot)."""

    def __init__(self, balances: Sequence[Balance], assets: Sequence[Asset], seed: str) -> None:
        self.seed = seed
        currency: dict[tuple[str, str, str], str | None] = {}
        still: dict[tuple[str, str, str], bool] = {}
        for b in balances:
            key = (b.profile, b.broker, b.account_id)
            currency.setdefault(key, b.currency)
            cash_only = b.cash is not None and b.equity == b.cash and not b.market_value
            still[key] = still.get(key, True) and (cash_only or not _fiat(b.currency))
        self.balances = [(b, _row_fields(b), self._balance_moves(b, still)) for b in balances]
        self.assets = [(a, _row_fields(a), self._asset_moves(a, currency, still))
                       for a in assets]
        self.names = {(m[3], m[4]) for _, _, moves in (*self.balances, *self.assets)
                      for m in moves} | {("price:BTC", CRYPTO_DAILY)} | {
            (_rate_name(item, b.currency), RATE_DAILY) for b in balances
            for item in _details(b) if _rate_name(item, b.currency)}
        self.names.discard(("", RATE_DAILY))

    def at(self, when: datetime) -> tuple[list[Balance], list[Asset]]:
        stamp = when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        scale = {key: factor(key[0], when, daily=key[1], seed=self.seed) for key in self.names}
        balances = [self._balance_at(b, fields, moves, scale, stamp)
                    for b, fields, moves in self.balances]
        assets = [self._asset_at(a, fields, moves, scale) for a, fields, moves in self.assets]
        return balances, assets

    @staticmethod
    def _balance_at(row: Balance, fields: dict[str, Any], moves: list[_Move],
                    scale: dict[tuple[str, float], Decimal], stamp: str) -> Balance:
        values = _apply(fields, moves, scale)
        if row.as_of is not None:
            values["as_of"] = stamp
        details = _details(row)
        if details:
            account = moves[0][3] if moves else None
            values["extra"] = {**row.extra, "CurrencyDetails": [
                _detail(item, row.currency, account, scale) for item in details]}
        return Balance(**values)

    @staticmethod
    def _asset_at(row: Asset, fields: dict[str, Any], moves: list[_Move],
                  scale: dict[tuple[str, float], Decimal]) -> Asset:
        values = _apply(fields, moves, scale)
        if any(m[0] == "value_btc" for m in moves):  # another coin's worth in BTC
            values["value_btc"] = _over(values["value_btc"], scale[("price:BTC", CRYPTO_DAILY)])
        return Asset(**values)

    @staticmethod
    def _balance_moves(b: Balance, still: dict[tuple[str, str, str], bool]) -> list[_Move]:
        if still.get((b.profile, b.broker, b.account_id), False):
            return []
        name = f"account:{b.broker}:{b.account_id}"
        return _moves(b, MONEY_FIELDS[Balance], name, DAILY)

    @staticmethod
    def _asset_moves(a: Asset, currency: dict[tuple[str, str, str], str | None],
                     still: dict[tuple[str, str, str], bool]) -> list[_Move]:
        key = (a.profile, a.broker, a.account_id)
        if not _fiat(a.asset):  # a coin: its quantity stays, its value moves with its price
            code = a.asset.upper()
            values = ("value_in_account_currency", "value_usd", "conversion_rate") + (
                () if code == "BTC" else ("value_btc",))  # BTC's worth in BTC is its quantity
            return _moves(a, values, f"price:{code}", _price_daily(code))
        moves = [] if still.get(key, False) else _moves(
            a, [f for f in MONEY_FIELDS[Asset] if f != "conversion_rate"],
            f"account:{a.broker}:{a.account_id}", DAILY)
        account = currency.get(key)
        if account and a.asset != account:
            moves += _moves(a, ("conversion_rate",), f"rate:{a.asset}/{account}", RATE_DAILY)
        return moves


def _row_fields(row: Balance | Asset) -> dict[str, Any]:
    return {f.name: getattr(row, f.name) for f in dataclasses.fields(row)}


def _moves(row: Balance | Asset, fields: Sequence[str], name: str, daily: float) -> list[_Move]:
    out = []
    for f in fields:
        value = getattr(row, f)
        exponent = value.as_tuple().exponent if isinstance(value, Decimal) else None
        if isinstance(exponent, int):  # (NaN and infinity stay as they are)
            out.append((f, value, Decimal(1).scaleb(exponent), name, daily))
    return out


def _apply(fields: dict[str, Any], moves: Sequence[_Move],
           scale: dict[tuple[str, float], Decimal]) -> dict[str, Any]:
    values = dict(fields)
    for f, value, quantum, name, daily in moves:
        values[f] = _PRODUCT.multiply(value, scale[(name, daily)]).quantize(quantum,
                                                                           context=_PRODUCT)
    return values


def _details(row: Balance) -> list[Any]:
    """TradeStation's ``CurrencyDetails`` of a balance row (its cash and rate per currency)."""
    details = row.extra.get("CurrencyDetails")
    return details if isinstance(details, list) else []


def _rate_name(item: Any, currency: str | None) -> str:
    code = item.get("Currency") if isinstance(item, dict) else None
    if not isinstance(code, str) or not currency or code == currency:
        return ""
    return f"rate:{code}/{currency}"


def _detail(item: Any, currency: str | None, account: str | None,
            scale: dict[tuple[str, float], Decimal]) -> Any:
    """A ``CurrencyDetails`` item at that time: its cash moves with the account (when it
    moves), its ``AccountConversionRate`` with the rate; both stay decimal text."""
    if not isinstance(item, dict):
        return item
    out = dict(item)
    cash = _decimal(item.get("CashBalance"))
    if cash is not None and account is not None:
        out["CashBalance"] = str(apply(cash, scale[(account, DAILY)]))
    rate = _decimal(item.get("AccountConversionRate"))
    name = _rate_name(item, currency)
    if rate is not None and name:
        out["AccountConversionRate"] = str(apply(rate, scale[(name, RATE_DAILY)]))
    return out


def _decimal(text: Any) -> Decimal | None:
    if isinstance(text, Decimal):
        return text
    if isinstance(text, str):
        try:
            value = Decimal(text)
        except ArithmeticError:
            return None
        return value if value.is_finite() else None
    return None


def _over(value: Decimal, by: Decimal) -> Decimal:
    """A BTC value of another coin: its moved value over BTC's own move, to its decimals."""
    exponent = value.as_tuple().exponent
    if not by or not isinstance(exponent, int):
        return value
    return _PRODUCT.divide(value, by).quantize(Decimal(1).scaleb(exponent), context=_PRODUCT)
