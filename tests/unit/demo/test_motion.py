"""The demo's motion: the same seed, name and time give the same factor in any order and any
process; the paths look like markets (a fraction of a percent a day, a few large days, no
drift away from the sample data); amounts keep their decimals."""

from __future__ import annotations

import math
import statistics
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from balancecli.demo import motion
from balancecli.demo.motion import factor, moved

T0 = datetime(2026, 9, 2, 0, 0, tzinfo=UTC)
NAMES = [f"account:etna:{n}" for n in range(83260, 83280)]


def test_pinned_values_stay_the_same_everywhere():
    # Pinned: a change here changes every demo number (and each machine must agree).
    when = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
    assert factor("account:etna:83268", when) == Decimal("1.0090400735327061166")
    assert factor("price:BTC", when, daily=0.03) == Decimal("1.0169457994231835972")
    assert moved(Decimal("48210.55"), "account:tradestation:11827391", when) == Decimal(
        "47779.14")


def test_same_inputs_same_factor_in_any_order_and_other_seeds_differ():
    times = [T0 + timedelta(hours=7 * i) for i in range(40)]
    forward = [factor(n, t) for n in NAMES[:3] for t in times]
    motion._level.cache_clear()
    motion._shock.cache_clear()
    backward = [factor(n, t) for n in reversed(NAMES[:3]) for t in reversed(times)]
    assert forward == list(reversed(backward))
    assert factor(NAMES[0], T0, seed="other") != factor(NAMES[0], T0)
    assert factor(NAMES[0], T0) != factor(NAMES[1], T0)


def test_paths_move_like_markets():
    days = [T0 + timedelta(days=d) for d in range(91)]
    returns, ranges = [], []
    for name in NAMES:
        path = [float(factor(name, t)) for t in days]
        returns += [abs(math.log(b / a)) for a, b in zip(path, path[1:], strict=False)]
        ranges.append(max(path) / min(path) - 1)
    # Daily moves a fraction of a percent, with some larger days; months move a few percent.
    assert 0.002 < statistics.median(returns) < 0.008
    assert max(returns) > 0.015
    assert sum(r > 0.015 for r in returns) < len(returns) * 0.1
    assert 0.01 < statistics.median(ranges) < 0.12 and max(ranges) < 0.3
    # Hour to hour it is smooth: no jump between two snapshots an hour apart.
    hours = [float(factor(NAMES[0], T0 + timedelta(hours=h))) for h in range(24 * 30)]
    assert max(abs(math.log(b / a)) for a, b in zip(hours, hours[1:], strict=False)) < 0.01


def test_no_drift_over_years():
    years = [float(factor(NAMES[0], T0 + timedelta(days=30 * m))) for m in range(60)]
    assert 0.75 < min(years) and max(years) < 1.33


def test_amounts_keep_their_decimals_and_specials_stay():
    when = T0 + timedelta(days=3, hours=5)
    for text in ("25731.18", "-4210.07", "100000", "3212461.980402", "0.0095697442964324",
                 "1E+3"):
        value = Decimal(text)
        assert moved(value, NAMES[0], when).as_tuple().exponent == value.as_tuple().exponent
    assert moved(Decimal("NaN"), NAMES[0], when).is_nan()
    assert moved(Decimal("12.34"), NAMES[0], when, daily=0) == Decimal("12.34")
    assert factor(NAMES[0], when, daily=0) == 1
    with pytest.raises(ValueError, match="aware"):
        factor(NAMES[0], datetime(2026, 1, 1))
