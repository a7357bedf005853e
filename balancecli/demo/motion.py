"""How the demo's amounts move: the value of an amount at a given time, seeded and repeatable.

Each name (an account, a price, an exchange rate) follows its own path: a factor around 1 that
an amount of the sample data is multiplied by. The path is a function of absolute time only,
so the same name and time give the same factor in every process, whatever was asked before:
the generated past (``demo.past``) and a live demo fetch at the same moment agree to the last
digit, and tomorrow's demo continues today's.

The path, for a name and a daily volatility ``daily``:

- each UTC day ``d`` has a shock ``daily * z(d)``: ``z`` is a sum of four uniform draws scaled to
  unit variance (bell-shaped, bounded), and about one day in 25 is a large day (3.5 times);
  the draws come from BLAKE2b of the seed, the name and the day, not from a generator's
  state;
- the day's level is ``sum(PULL**k * shock(d - k) for k < MEMORY)``: a random walk that is
  pulled back towards 1 by 1.5 % a day, so amounts wander a few percent around the sample data
  over months instead of drifting without bound;
- between two UTC midnights the level moves linearly, plus a smaller hourly wiggle
  (``INTRADAY`` of the daily volatility, also interpolated), so finer snapshots vary too;
- the factor is ``exp(level)``, computed with ``decimal`` (correctly rounded everywhere, unlike
  a platform's ``math.exp``), and an amount is moved as ``amount * factor`` rounded half even
  to the amount's own number of decimals.

API: ``factor(name, when, daily=DAILY, seed=SEED) -> Decimal``; ``moved(amount, name, when,
daily=DAILY, seed=SEED) -> Decimal``; ``apply(amount, factor) -> Decimal`` (the rounding).
"""

from __future__ import annotations

import hashlib
import math
import struct
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Context, Decimal
from functools import lru_cache

SEED = "balancecli-demo"
DAILY = 0.006  # an account's typical move in a day: 0.6 %
PULL = 0.985  # how much of the level a day keeps
MEMORY = 300  # days a level remembers (PULL ** 300 is 1 %)
BIG_DAY = (0.04, 3.5)  # how often a day is large, and how much larger
INTRADAY = 0.15  # the hourly wiggle, in daily volatilities
_WEIGHTS = tuple(PULL ** k for k in range(MEMORY))
_ROOT3 = math.sqrt(3.0)
_FIVE = struct.Struct(">5Q")
_TWO_64 = 2.0 ** -64
_EXP = Context(prec=20, rounding=ROUND_HALF_EVEN)  # more digits than any move needs
_PRODUCT = Context(prec=100, rounding=ROUND_HALF_EVEN, Emax=999_999, Emin=-999_999)


def _draws(seed: str, name: str, kind: str, index: int) -> tuple[float, ...]:
    """Five uniform numbers in [0, 1) for (seed, name, kind, index)."""
    digest = hashlib.blake2b(f"{seed}\x1f{name}\x1f{kind}\x1f{index}".encode(),
                             digest_size=40).digest()
    return tuple(n * _TWO_64 for n in _FIVE.unpack(digest))


@lru_cache(maxsize=1 << 16)
def _shock(seed: str, name: str, kind: str, index: int) -> float:
    """A bell-shaped draw of unit variance (Irwin-Hall of four), large about once in 25."""
    u = _draws(seed, name, kind, index)
    z = (u[0] + u[1] + u[2] + u[3] - 2.0) * _ROOT3
    return z * BIG_DAY[1] if kind == "d" and u[4] < BIG_DAY[0] else z


@lru_cache(maxsize=1 << 15)
def _level(seed: str, name: str, day: int) -> float:
    """The level at 00:00 UTC of ``day`` (days since 1970-01-01), in daily volatilities."""
    total = 0.0
    for k in range(MEMORY):
        total += _WEIGHTS[k] * _shock(seed, name, "d", day - k)
    return total


def _log_factor(name: str, stamp: float, seed: str) -> float:
    day, into_day = divmod(stamp, 86400.0)
    hour, into_hour = divmod(stamp, 3600.0)
    d, h = int(day), int(hour)
    here, there = _level(seed, name, d), _level(seed, name, d + 1)
    wiggle_here, wiggle_there = _shock(seed, name, "h", h), _shock(seed, name, "h", h + 1)
    return (here + (there - here) * (into_day / 86400.0)
            + INTRADAY * (wiggle_here + (wiggle_there - wiggle_here) * (into_hour / 3600.0)))


def factor(name: str, when: datetime, *, daily: float = DAILY, seed: str = SEED) -> Decimal:
    """What an amount of ``name`` is multiplied by at ``when`` (an aware datetime)."""
    if when.tzinfo is None:
        raise ValueError("factor() needs an aware datetime")
    if daily == 0:
        return Decimal(1)
    return Decimal(daily * _log_factor(name, when.timestamp(), seed)).exp(_EXP)


def apply(amount: Decimal, scale: Decimal) -> Decimal:
    """``amount * scale`` rounded half even to the amount's own number of decimals."""
    exponent = amount.as_tuple().exponent
    if not isinstance(exponent, int):  # NaN, infinity: left as they are
        return amount
    return _PRODUCT.multiply(amount, scale).quantize(Decimal(1).scaleb(exponent),
                                                     context=_PRODUCT)


def moved(amount: Decimal, name: str, when: datetime, *, daily: float = DAILY,
          seed: str = SEED) -> Decimal:
    """``amount`` at ``when``: times the factor, to the amount's own number of decimals."""
    return apply(amount, factor(name, when, daily=daily, seed=seed))
