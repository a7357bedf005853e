"""``--by`` groups in process: shares by the largest remainder method sum to exactly 1 (and
the shown ones to 100.0 %) for any values, negative ones included; bars in eighths; the
accounts left out of the total listed apart; and ``--watch --in``'s line of the change since
the watch began."""

from __future__ import annotations

import random
from decimal import Context, Decimal

import pytest

from balancecli.money.rates import Rate
from balancecli.money.valuation import Converted, Unconverted, Valued
from balancecli.output.networth import Valuing, WorthSince, apportion, bar, grouped

EXACT = Context(prec=200)


def total(values) -> Decimal:
    out = Decimal(0)
    for v in values:
        out = EXACT.add(out, v)
    return out


@pytest.mark.parametrize("seed", range(40))
def test_shares_sum_to_exactly_one_whatever_the_values(seed):
    rng = random.Random(seed)
    values = [Decimal(rng.randint(-10**6, 10**9)) / Decimal(10) ** rng.randint(0, 8)
              for _ in range(rng.randint(1, 12))]
    whole = total(values)
    if not whole:
        return
    for quantum in (Decimal("1E-12"), Decimal("0.001")):
        shares = apportion(values, whole, quantum)
        assert total(shares) == 1
        for value, share in zip(values, shares, strict=True):
            assert share % quantum == 0
            assert abs(share - EXACT.divide(value, whole)) < quantum


def test_the_units_left_go_to_the_largest_remainders():
    # thirds: 0.333 each and one unit left, to the first of equal remainders
    assert apportion([Decimal(1)] * 3, Decimal(3), Decimal("0.001")) == [
        Decimal("0.334"), Decimal("0.333"), Decimal("0.333")]
    # 2/3 has the larger remainder
    assert apportion([Decimal(1), Decimal(2)], Decimal(3), Decimal("0.01")) == [
        Decimal("0.33"), Decimal("0.67")]


def test_groups_are_exact_sums_largest_first():
    found = grouped([("a", Decimal("0.10")), ("b", Decimal("5")), ("a", Decimal("0.2")),
                     ("c", Decimal("-0.3"))], [])
    assert [(g.key, g.value) for g in found.groups] == [
        ("b", Decimal("5")), ("a", Decimal("0.30")), ("c", Decimal("-0.3"))]
    assert found.total == Decimal("5.00")
    assert [g.shown for g in found.groups] == [Decimal("100.000"), Decimal("6.000"),
                                               Decimal("-6.000")]
    zero = grouped([("a", Decimal(1)), ("b", Decimal(-1))], [])
    assert [g.share for g in zero.groups] == [None, None]  # no total to be a share of


def test_bars_in_eighths_and_none_below_zero():
    assert bar(Decimal(1)) == "█" * 20
    assert bar(Decimal("0.5")) == "█" * 10
    assert bar(Decimal("0.01")) == "▏"  # 1.6 eighths
    assert bar(Decimal("0.006")) == ""  # less than an eighth of a cell
    assert bar(Decimal("-0.2")) == "" and bar(None) == ""


def _rate(base: str) -> Rate:
    return Rate(base, "USD", Decimal(1), Decimal(1), "identity")


def test_unconverted_accounts_are_listed_apart():
    from balancecli.core.models import Balance

    valuing = Valuing("USD", rates=None, holdings=False, by="broker")  # type: ignore[arg-type]
    valuing.balances = [Balance("ts", "tradestation", "1", currency="USD"),
                        Balance("qt", "quantower", "x", currency="XYZ")]
    converted = Converted("USD", accounts=[
        Valued("ts", "1", Decimal("10.50"), "equity", "USD", _rate("USD"))],
        unconverted=[Unconverted("qt", "x", "XYZ", "no rate")])
    table, apart = valuing.group_tables(converted, masked=False)
    assert [c.title for c in table.columns] == ["Broker", "Value (USD)", "Share", "Bar"]
    assert table.rows == [["tradestation", "10.50", "100.0%", "█" * 20]]
    assert table.footer[0] == "Net worth in USD, incomplete (1 of 2 accounts): 10.50"
    assert apart.title == "Not in the total"
    assert apart.rows == [["qt", "x", "XYZ", "no rate"]]
    masked, _ = valuing.group_tables(converted, masked=True)
    assert [c.title for c in masked.columns] == ["Broker", "Share", "Bar"]
    assert masked.footer == ["Shares of the total in USD of 1 account(s)"]
    block = valuing.as_dict(converted)
    assert block["by"] == "broker" and block["groups"] == [
        {"key": "tradestation", "value": Decimal("10.50"), "share": Decimal("1.000000000000")}]


def test_the_change_since_the_watch_began():
    since = WorthSince("USD", masked=False)
    first = Converted("USD", accounts=[Valued("p", "a", Decimal("1000"), "equity", "USD",
                                               _rate("USD"))])
    assert since.line(first).startswith("Change since the watch began (")
    assert since.line(first).endswith("): 0.00 USD (0.00%)")
    later = Converted("USD", accounts=[Valued("p", "a", Decimal("1012.5"), "equity", "USD",
                                               _rate("USD"))])
    assert since.line(later).endswith("): +12.50 USD (+1.25%)")
    failed = Converted("USD", accounts=later.accounts, failed=True)
    assert since.line(failed) == "Change since the watch began: — (the total is incomplete)"
    masked = WorthSince("USD", masked=True)
    masked.line(first)
    assert masked.line(later).endswith("): +1.25%") and "12.50" not in masked.line(later)
