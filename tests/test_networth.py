"""Net worth in one currency (balancecli/valuation.py, DESIGN.md §11): the account value rule,
the rate order with provenance, and the ``converted`` block, with totals computed by hand.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from balancecli.ecb import EcbTable
from balancecli.models import Asset, Balance
from balancecli.rates import Rates
from balancecli.valuation import broker_quotes, value_accounts, value_asset
from tests.ecb_zip import sample_zip

SUNDAY = date(2026, 11, 22)
AS_OF = "2026-11-22T10:00:00Z"


@pytest.fixture
def ecb() -> EcbTable:
    # Friday 2026-11-20: 1 EUR = 1.05 USD = 160 JPY = 8.4 HKD (tests/ecb_zip.py).
    return EcbTable.from_zip_bytes(sample_zip(), "downloaded")


def bal(profile, account, broker, currency, **kw) -> Balance:
    return Balance(profile=profile, broker=broker, account_id=account, currency=currency,
                   as_of=AS_OF, **kw)


def the_mix() -> tuple[list[Balance], list[Asset]]:
    """USD, HKD (two LongPort views), JPY (a TradeStation account whose CurrencyDetails quote
    USD at 150 JPY), USDT (config rate), XYZ (no rate anywhere), BTC and USDT held at Quantower
    with the broker's USD values."""
    balances = [
        bal("ts", "11", "tradestation", "USD", equity=Decimal("1000.50"), cash=Decimal("7")),
        bal("ts", "22", "tradestation", "JPY", equity=Decimal("1500000"),
            extra={"CurrencyDetails": [
                {"Currency": "USD", "AccountConversionRate": "150", "CashBalance": "10"},
                {"Currency": "JPY", "AccountConversionRate": "1", "CashBalance": "5"}]}),
        bal("lp", "lp", "longport", "HKD", equity=Decimal("8400.00")),
        bal("lp", "lp", "longport", "CNY", equity=Decimal("7560.00")),
        bal("qt", "U1", "quantower", "USDT", available=Decimal("2500.5")),
        bal("qt", "X", "quantower", "XYZ", available=Decimal("5")),
        bal("qt", "C1", "quantower", "USDT", available=Decimal("100")),
    ]
    assets = [
        Asset("qt", "quantower", "C1", "BTC", total=Decimal("0.5"),
              value_usd=Decimal("48000.0")),
        Asset("qt", "quantower", "C1", "USDT", total=Decimal("1250.75"),
              value_usd=Decimal("1250.75")),
    ]
    return balances, assets


def networth(target, ecb, config=None):
    balances, assets = the_mix()
    rates = Rates(day=SUNDAY, ecb=ecb, config=config or {("USDT", "USD"): Decimal("1")},
                  broker=broker_quotes(balances, assets))
    return value_accounts(balances, assets, rates, target)


def test_net_worth_in_usd_by_hand(ecb):
    doc = networth("USD", ecb).as_dict()
    # ts 11: 1000.50 USD as is. ts 22: 1,500,000 JPY / 150 (the broker's USD rate) = 10,000.
    # lp: no USD view, so its first view: 8,400.00 HKD × 1.05 / 8.4 (ECB, Friday) = 1,050.000.
    # qt U1: 2,500.5 USDT × 1 (config). qt C1: 48,000.0 + 1,250.75 (the broker's USD values).
    # qt X: XYZ has no rate: unconverted, so the total is incomplete.
    assert doc == {
        "currency": "USD",
        "total": Decimal("1000.50") + Decimal("10000") + Decimal("1050.000")
        + Decimal("2500.5") + Decimal("49250.75"),
        "incomplete": True,
        "accounts": [
            {"profile": "ts", "account_id": "11", "value": Decimal("1000.50"),
             "value_field": "equity", "from": "USD", "rate": Decimal("1"),
             "rate_source": "identity", "rate_date": None},
            {"profile": "ts", "account_id": "22", "value": Decimal("10000"),
             "value_field": "equity", "from": "JPY",
             "rate": Decimal("0.006666666666666666666666666666666666666667"),
             "rate_source": "broker", "rate_date": "2026-11-22"},
            {"profile": "lp", "account_id": "lp", "value": Decimal("1050.000"),
             "value_field": "equity", "from": "HKD", "rate": Decimal("0.125"),
             "rate_source": "ecb", "rate_date": "2026-11-20"},
            {"profile": "qt", "account_id": "U1", "value": Decimal("2500.5"),
             "value_field": "available", "from": "USDT", "rate": Decimal("1"),
             "rate_source": "config", "rate_date": None},
            {"profile": "qt", "account_id": "C1", "value": Decimal("49250.75"),
             "value_field": "assets.value_usd", "from": "USD", "rate": Decimal("1"),
             "rate_source": "broker", "rate_date": "2026-11-22"},
        ],
        "unconverted": [{"profile": "qt", "account_id": "X", "currency": "XYZ",
                         "reason": "no rate"}],
    }
    assert doc["total"] == Decimal("63801.750")
    assert str(doc["total"]) == "63801.750"


def test_a_view_in_the_target_currency_is_preferred(ecb):
    doc = networth("CNY", ecb, config={("USD", "CNY"): Decimal("7.2")}).as_dict()
    lp = [a for a in doc["accounts"] if a["profile"] == "lp"]
    assert lp == [{"profile": "lp", "account_id": "lp", "value": Decimal("7560.00"),
                   "value_field": "equity", "from": "CNY", "rate": Decimal("1"),
                   "rate_source": "identity", "rate_date": None}]


def test_net_worth_in_eur_chains_config_and_ecb(ecb):
    doc = networth("EUR", ecb).as_dict()
    values = {a["account_id"]: (a["value"], a["rate_source"], a["rate_date"])
              for a in doc["accounts"]}
    assert values == {
        "11": (Decimal("952.8571428571428571428571428571428571429"), "ecb", "2026-11-20"),
        # The broker quotes USD in JPY, not EUR: the ECB's JPY rate, 1,500,000 / 160.
        "22": (Decimal("9375"), "ecb", "2026-11-20"),
        "lp": (Decimal("1000.0"), "ecb", "2026-11-20"),
        # USDT → USD by the config, USD → EUR by the ECB: 2500.5 / 1.05.
        "U1": (Decimal("2381.428571428571428571428571428571428571"), "config", "2026-11-20"),
        "C1": (Decimal("46905.47619047619047619047619047619047619"), "ecb", "2026-11-20"),
    }
    assert doc["incomplete"] is True


def test_value_field_falls_back_from_equity_to_assets_to_cash_to_available(ecb):
    rates = Rates(day=SUNDAY, ecb=ecb)
    rows = [bal("e", "1", "etna", "USD", equity=Decimal("3"), cash=Decimal("2")),
            bal("e", "2", "etna", "USD", cash=Decimal("2"), available=Decimal("1")),
            bal("e", "3", "etna", "USD", available=Decimal("1")),
            bal("e", "4", "etna", "USD"),
            bal("e", "5", "etna", None, equity=Decimal("9"))]
    # An asset row without a USD value: the sum is not used (it would leave BTC out).
    assets = [Asset("e", "etna", "3", "BTC", total=Decimal("1")),
              Asset("e", "etna", "3", "USDT", total=Decimal("1"), value_usd=Decimal("1"))]
    doc = value_accounts(rows, assets, rates, "USD").as_dict()
    assert [(a["account_id"], a["value_field"], a["value"]) for a in doc["accounts"]] == [
        ("1", "equity", Decimal("3")), ("2", "cash", Decimal("2")),
        ("3", "available", Decimal("1"))]
    assert doc["unconverted"] == [
        {"profile": "e", "account_id": "4", "currency": "USD", "reason": "no value"},
        {"profile": "e", "account_id": "5", "currency": None, "reason": "no value"}]


def test_a_failed_profile_makes_the_total_incomplete(ecb):
    rates = Rates(day=SUNDAY, ecb=ecb)
    ok = value_accounts([bal("e", "1", "etna", "USD", equity=Decimal("3"))], [], rates, "USD")
    assert (ok.total, ok.incomplete) == (Decimal("3"), False)
    failed = value_accounts([bal("e", "1", "etna", "USD", equity=Decimal("3"))], [], rates,
                            "USD", failed=True)
    assert (failed.total, failed.incomplete) == (Decimal("3"), True)
    nothing = value_accounts([], [], rates, "USD", failed=True)
    assert (nothing.total, nothing.incomplete) == (None, True)


def test_broker_quotes_from_tradestation_and_quantower():
    balances, assets = the_mix()
    quotes = broker_quotes(balances, assets)
    assert {k: [(r.base, r.quote, r.num, r.den) for r in v] for k, v in quotes.items()} == {
        ("ts", "22"): [("USD", "JPY", Decimal("150"), Decimal("1"))],
        ("qt", "C1"): [("BTC", "USD", Decimal("48000.0"), Decimal("0.5")),
                       ("USDT", "USD", Decimal("1250.75"), Decimal("1250.75"))],
    }
    # v2 names its rate ToAccountConversionRate; assets carry conversion_rate.
    v2 = bal("t2", "9", "tradestation", "USD", extra={"CurrencyDetails": [
        {"Currency": "EUR", "ToAccountConversionRate": Decimal("1.0531")}]})
    jpy = Asset("t2", "tradestation", "9", "JPY", total=Decimal("-188750"),
                conversion_rate=Decimal("0.0095697442964323993262900015"))
    got = broker_quotes([v2], [jpy])[("t2", "9")]
    assert [(r.base, r.quote, r.num) for r in got] == [
        ("EUR", "USD", Decimal("1.0531")),
        ("JPY", "USD", Decimal("0.0095697442964323993262900015"))]


def test_asset_rows_in_the_target_currency(ecb):
    balances, assets = the_mix()
    rates = Rates(day=SUNDAY, ecb=ecb, broker=broker_quotes(balances, assets))
    btc = assets[0]
    value, rate = value_asset(btc, rates, "USD")
    assert (value, rate.source) == (Decimal("48000.0"), "broker")
    value, rate = value_asset(btc, rates, "HKD")  # the broker's USD value, then ECB USD→HKD
    assert (value, rate.source) == (Decimal("384000.00"), "ecb")
    hkd = Asset("lp", "longport", "lp", "HKD", total=Decimal("84"))
    assert value_asset(hkd, rates, "USD")[0] == Decimal("10.50")
    assert value_asset(Asset("lp", "longport", "lp", "HKD"), rates, "USD") is None
