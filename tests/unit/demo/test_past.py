"""The demo's past: 90 days of runs generated from the sample rows a ``--demo`` fetch returns,
the same every time, varying plausibly (accounts, coin prices and broker rates move; cash
accounts and quantities do not), continued exactly by a live demo fetch moved the same way,
and written nowhere unless the caller records it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from balancecli.core.models import Asset
from balancecli.demo.past import DAYS, EVERY, grid, moved_rows, past_runs
from balancecli.history import Store, db_path
from tests.support.demo_rows import sample_rows

END = datetime(2026, 12, 1, 22, 30, tzinfo=UTC)


@pytest.fixture(scope="module")
def sample():
    return sample_rows()


@pytest.fixture(scope="module")
def runs(sample):
    return list(past_runs(*sample, end=END))


def by_account(rows):
    return {(r.profile, r.account_id, r.asset if isinstance(r, Asset) else r.currency): r
            for r in rows}


def test_the_grid_is_fixed_in_time(runs):
    assert len(runs) == DAYS * 24 // 4 and EVERY == timedelta(hours=4)
    assert runs[0].started_at == datetime(2026, 9, 3, 0, 0, tzinfo=UTC)
    assert runs[-1].started_at == datetime(2026, 12, 1, 20, 0, tzinfo=UTC)
    assert all(r.finished_at - r.started_at == timedelta(milliseconds=350) for r in runs)
    assert runs[0].profiles == ["demo-ts", "demo-lp", "demo-etna", "demo-qt"]
    assert grid(END, days=1, every=timedelta(hours=6)) == [
        datetime(2026, 12, 1, h, tzinfo=UTC) for h in (0, 6, 12, 18)]
    on_grid = datetime(2026, 12, 1, tzinfo=UTC)
    assert len(grid(on_grid)) == 540 and grid(on_grid)[-1] == on_grid
    assert grid(END, every=timedelta(hours=6), after=datetime(2026, 12, 1, 6, tzinfo=UTC)) == [
        datetime(2026, 12, 1, h, tzinfo=UTC) for h in (12, 18)]
    with pytest.raises(ValueError):
        grid(END, every=timedelta(0))


def test_same_seed_same_numbers_and_overlapping_pasts_agree(sample, runs):
    again = list(past_runs(*sample, end=END + timedelta(days=2)))
    shared = {r.started_at: r for r in again}
    for run in runs[12:]:
        assert shared[run.started_at] == run
    other = list(past_runs(*sample, end=END, days=1, seed="another seed"))
    assert other[-1].balances != runs[-1].balances


def test_a_live_fetch_moved_the_same_way_continues_the_past(sample, runs):
    last = runs[-1]
    assert moved_rows(*sample, last.started_at) == (last.balances, last.assets)
    later = moved_rows(*sample, last.started_at + timedelta(minutes=35))
    for before, now in zip(last.balances, later[0], strict=True):
        if before.equity:
            assert abs(now.equity / before.equity - 1) < Decimal("0.005")


def test_accounts_prices_and_rates_move_but_cash_and_quantities_do_not(sample, runs):
    base_b, base_a = (by_account(rows) for rows in sample)
    first, last = runs[0], runs[-1]
    b0, b1 = by_account(first.balances), by_account(last.balances)
    a0, a1 = by_account(first.assets), by_account(last.assets)
    ts = ("demo-ts", "11827391", "USD")
    assert b0[ts].equity != b1[ts].equity
    assert b0[ts].equity.as_tuple().exponent == base_b[ts].equity.as_tuple().exponent
    # One factor per account: equity, cash and market value keep their proportions.
    ratio = b1[ts].equity / base_b[ts].equity
    assert abs(b1[ts].market_value / base_b[ts].market_value - ratio) < Decimal("1E-6")
    assert b1[ts].account_name == base_b[ts].account_name and b1[ts].extra.keys() == \
        base_b[ts].extra.keys()
    cash_only = ("demo-etna", "83267", "USD")
    assert b0[cash_only].equity == b1[cash_only].equity == base_b[cash_only].equity
    btc = ("demo-qt", "BN-SPOT-01", "BTC")
    assert a0[btc].total == a1[btc].total == base_a[btc].total  # a quantity
    assert a0[btc].value_btc == base_a[btc].value_btc  # BTC's worth in BTC
    assert a0[btc].value_usd != a1[btc].value_usd
    eth = ("demo-qt", "BN-SPOT-01", "ETH")
    assert a0[eth].value_btc != a1[eth].value_btc
    usdt_account = ("demo-qt", "BN-SPOT-01", "USDT")
    assert b1[usdt_account].available == base_b[usdt_account].available  # coins, not money
    # A broker rate moves, the same way in the balance's CurrencyDetails and the asset row.
    fut, jpy = ("demo-ts", "210FUT01", "USD"), ("demo-ts", "210FUT01", "JPY")
    detail = next(d for d in b1[fut].extra["CurrencyDetails"] if d["Currency"] == "JPY")
    base_detail = next(d for d in base_b[fut].extra["CurrencyDetails"] if d["Currency"] == "JPY")
    moved_by = Decimal(detail["AccountConversionRate"]) / Decimal(
        base_detail["AccountConversionRate"])
    assert moved_by != 1
    assert abs(a1[jpy].conversion_rate / base_a[jpy].conversion_rate - moved_by) < Decimal(
        "1E-12")
    assert all(r.as_of == f"{last.started_at:%Y-%m-%dT%H:%M:%SZ}" for r in last.balances)


def test_ninety_days_vary_plausibly(runs):
    ts = [by_account(r.balances)[("demo-ts", "11827392", "USD")].equity for r in runs]
    daily = ts[::6]
    moves = [abs(b / a - 1) for a, b in zip(daily, daily[1:], strict=False)]
    assert Decimal("0.001") < sorted(moves)[len(moves) // 2] < Decimal("0.01")
    assert max(ts) / min(ts) - 1 > Decimal("0.02")
    assert max(ts) / min(ts) - 1 < Decimal("0.25")


def test_nothing_is_written_until_the_caller_records_it(sample, tmp_path: Path):
    list(past_runs(*sample, end=END, days=2))
    assert not db_path(demo=True).exists()
    with Store.open(tmp_path / "demo.sqlite3") as store:
        for run in past_runs(*sample, end=END, days=2):
            store.record_run(**run._asdict(), errors=[])
        points = store.series("equity", account_ids=["11827391"])
    assert len(points) == 12 and len({p.value for p in points}) == 12
