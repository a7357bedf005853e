"""Net worth in one currency (balancecli/valuation.py): the account value rule, the rate order
with provenance, and the ``converted`` block, with totals computed by hand.
"""

from __future__ import annotations

import decimal
import functools
import re
from datetime import date
from decimal import Decimal

import pytest

from balancecli.core.models import Asset, Balance
from balancecli.money.ecb import EcbTable
from balancecli.money.rates import Rates
from balancecli.money.valuation import broker_quotes, value_accounts, value_asset
from tests.support.ecb_zip import sample_zip, today_zip

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


def test_broker_quotes_are_the_broker_classes_own():
    # The same raw fields under another broker are not read: each class reads its own rows.
    details = {"CurrencyDetails": [{"Currency": "USD", "AccountConversionRate": "150"}]}
    rows = [bal("lp", "lp", "longport", "JPY", extra=details),
            bal("old", "9", "a-broker-no-longer-registered", "JPY", extra=details)]
    coins = [Asset("lp", "longport", "lp", "BTC", total=Decimal("1"), value_usd=Decimal("9"))]
    assert broker_quotes(rows, coins) == {}
    ts = bal("ts", "22", "tradestation", "JPY", extra=details)
    quotes = broker_quotes([ts], [])[("ts", "22")]
    assert [(r.base, r.quote, r.num, r.source, r.how) for r in quotes] == [
        ("USD", "JPY", Decimal("150"), "broker", "broker ts AccountConversionRate")]
    assert quotes[0].day == SUNDAY  # the day of the balance row's as_of


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


# -- through the installed command --------------------------------------------------------------
#
# TradeStation (the fake, with a JPY account whose CurrencyDetails quote USD at 150 JPY),
# LongPort (the fake's sample answer, the API documentation's example: one HKD view, net assets
# 24,145.90), Quantower (an export file: USDT without assets, a crypto account with the
# broker's USD values, and XYZ), and ECB rates that `rates update` fetched from a server on
# 127.0.0.1.

JP1_ACCOUNT = {"AccountID": "JP1", "AccountType": "Futures", "Currency": "JPY",
               "Status": "Active"}
JP1_BALANCE = {
    "AccountID": "JP1", "AccountType": "Futures", "CashBalance": "1000000",
    "BuyingPower": "1000000", "Equity": "1500000", "MarketValue": "500000",
    "CurrencyDetails": [
        {"Currency": "USD", "AccountConversionRate": "150", "CashBalance": "3000"},
        {"Currency": "JPY", "AccountConversionRate": "1", "CashBalance": "1050000"}]}
EXPORT = {"Format": "balancecli.quantower/1", "GeneratedAt": "2026-11-22T10:00:00Z",
          "Accounts": [
              {"Id": "U1", "Name": "USDT futures", "AccountCurrency": "USDT", "Balance": 2500.5},
              {"Id": "C1", "Name": "Spot", "AccountCurrency": "USDT", "Balance": 100,
               "Balances": [
                   {"AssetId": "BTC", "TotalBalance": 0.5, "AvailableBalance": 0.5,
                    "ReservedBalance": 0, "TotalInUSD": 48000.0, "TotalInBTC": 0.5},
                   {"AssetId": "USDT", "TotalBalance": 1250.75, "AvailableBalance": 1250.75,
                    "ReservedBalance": 0, "TotalInUSD": 1250.75, "TotalInBTC": 0.013}]},
              {"Id": "X", "Name": "Odd venue", "AccountCurrency": "XYZ", "Balance": 5}]}
# By hand: 48,210.55 (USD) + 1,500,000 JPY / 150 (broker) + 24,145.90 HKD × 1.05 / 8.4 (ECB)
# + 2,500.5 USDT × 1 (config) + 48,000.0 + 1,250.75 (Quantower's USD values); XYZ: no rate.
TOTAL_USD = Decimal("112980.0375")


def config_text(path, profiles: dict, head: str) -> dict:
    from tests.support.config import write_config

    write_config(path, profiles)
    path.write_text(head + "\n" + path.read_text())
    return {"BALANCECLI_CONFIG": str(path)}


@pytest.fixture
def world(tmp_path, ts_fake, ts_profile):
    """The mix above: returns the environment for run_cli (config, secrets)."""
    import json as _json

    from balancecli.demo.longport import (
        DEMO_ACCESS_TOKEN,
        DEMO_APP_KEY,
        DEMO_APP_SECRET,
        FakeLongPort,
    )
    from tests.support.config import FAST
    from tests.support.ecb_zip import serve

    ts_fake.v3["accounts"].append(JP1_ACCOUNT)
    ts_fake.v3["balances"]["JP1"] = JP1_BALANCE
    lp = FakeLongPort().start()
    export = tmp_path / "export.json"
    export.write_text(_json.dumps(EXPORT))
    ts_settings, ts_env = ts_profile
    profiles = {
        "ts": {**ts_settings, "accounts": ["11827391", "JP1"]},
        "lp": {"broker": "longport", "auth": "apikey", "base_url": lp.url,
               "account_id": "LP", **FAST},
        "qt": {"broker": "quantower", "source": str(export), "max_age": 0},
    }
    with serve(today_zip()) as served:
        env = config_text(tmp_path / "config.toml", profiles, "\n".join([
            '[rates]', '"USDT/USD" = "1"', '[ecb]', f'url = "{served.url}"']))
        env |= ts_env | {"BALANCECLI_LP_APP_KEY": DEMO_APP_KEY,
                         "BALANCECLI_LP_APP_SECRET": DEMO_APP_SECRET,
                         "BALANCECLI_LP_ACCESS_TOKEN": DEMO_ACCESS_TOKEN}
        from tests.support.cli import run_cli

        update = run_cli("rates", "update", env=env)
        assert update.returncode == 0, update.stderr
        yield env
    lp.stop()


def jdoc(text: str):
    import json as _json

    return _json.loads(text, parse_float=Decimal)


def test_balance_in_usd_json_has_the_converted_block(world):
    from datetime import UTC, datetime

    from tests.support.cli import run_cli

    proc = run_cli("balance", "--in", "USD", "-f", "json", env=world)
    assert proc.returncode == 7, proc.stderr  # incomplete: partial
    doc = jdoc(proc.stdout)
    today = datetime.now(UTC).date().isoformat()
    conv = doc["converted"]
    assert list(doc) == ["schema", "generated_at", "balances", "totals", "converted", "errors"]
    assert (conv["currency"], conv["total"], conv["incomplete"]) == ("USD", TOTAL_USD, True)
    assert str(conv["total"]) == "112980.0375"
    got = {(a["profile"], a["account_id"]): a for a in conv["accounts"]}
    assert got[("ts", "11827391")] == {
        "profile": "ts", "account_id": "11827391", "value": Decimal("48210.55"),
        "value_field": "equity", "from": "USD", "rate": 1, "rate_source": "identity",
        "rate_date": None}
    jp1 = got[("ts", "JP1")]
    assert (jp1["value"], jp1["from"], jp1["rate_source"]) == (Decimal("10000"), "JPY", "broker")
    assert jp1["rate"] == Decimal("0.006666666666666666666666666666666666666667")
    assert got[("lp", "LP")] == {
        "profile": "lp", "account_id": "LP", "value": Decimal("3018.2375"),
        "value_field": "equity", "from": "HKD", "rate": Decimal("0.125"), "rate_source": "ecb",
        "rate_date": today}
    assert (got[("qt", "U1")]["value"], got[("qt", "U1")]["value_field"],
            got[("qt", "U1")]["rate_source"]) == (Decimal("2500.5"), "available", "config")
    assert (got[("qt", "C1")]["value"], got[("qt", "C1")]["value_field"],
            got[("qt", "C1")]["rate_source"]) == (Decimal("49250.75"), "assets.value_usd",
                                                  "broker")
    assert conv["unconverted"] == [{"profile": "qt", "account_id": "X", "currency": "XYZ",
                                    "reason": "no rate"}]
    assert sum(a["value"] for a in conv["accounts"]) == TOTAL_USD
    # The unconverted account is named on stderr, in one line; stdout is only the document.
    assert proc.stderr.count("\n") == 1
    assert "error: not in the USD net worth (incomplete): qt X (XYZ: no rate)" in proc.stderr
    assert '"XYZ/USD" = "..." under [rates]' in proc.stderr


def test_balance_in_usd_table_value_column_and_footer(world):
    from tests.support.cli import run_cli

    proc = run_cli("balance", "--in", "USD", env=world)
    assert proc.returncode == 7, proc.stderr  # X is not in the net worth
    lines = proc.stdout.splitlines()
    header = lines[0]
    assert "Value (USD)" in header and header.index("Equity") < header.index("Value (USD)")
    row = {line.split()[1]: line for line in lines[2:]
           if line.split()[:1] in (["ts"], ["lp"], ["qt"])}
    # The value sits right after Equity, at the display precision of USD (JPY has none).
    assert re.search(r" 1,500,000 +10,000\.00 ", row["JP1"])
    assert re.search(r" 24,145\.90 +3,018\.24 ", row["LP"])
    assert "49,250.75" in row["C1"] and "2,500.50" in row["U1"]
    assert [line.split() for line in lines if line.startswith("Net worth")] == [
        "Net worth in USD, incomplete (5 of 6 accounts) 112,980.04".split()]
    rates_line = next(line for line in lines if line.startswith("Rates: "))
    assert "JPY→USD 0.00666667 (broker ts AccountConversionRate" in rates_line
    assert "HKD→USD 0.125 (ecb " in rates_line
    assert "USDT→USD 1 (config USDT/USD)" in rates_line
    assert "USD values (broker qt TotalInUSD" in rates_line
    assert "qt X (XYZ: no rate)" in proc.stderr


def test_jsonl_and_csv_rows_gain_value_in_and_value(world):
    import csv
    import io

    from tests.support.cli import run_cli

    proc = run_cli("balance", "--in", "USD", "-f", "jsonl", env=world)
    assert proc.returncode == 7, proc.stderr
    rows = [jdoc(line) for line in proc.stdout.splitlines()]
    values = {r["account_id"]: (r["value_in"], r["value"]) for r in rows}
    assert values == {"11827391": ("USD", Decimal("48210.55")), "JP1": ("USD", Decimal("10000")),
                      "LP": ("USD", Decimal("3018.2375")), "U1": ("USD", Decimal("2500.5")),
                      "C1": ("USD", Decimal("49250.75")), "X": ("USD", None)}
    proc = run_cli("balance", "--in", "USD", "-f", "csv", env=world)
    table = list(csv.DictReader(io.StringIO(proc.stdout)))
    assert [(r["account_id"], r["value_in"], r["value"]) for r in table] == [
        ("11827391", "USD", "48210.55"), ("JP1", "USD", "10000"), ("LP", "USD", "3018.2375"),
        ("U1", "USD", "2500.5"), ("C1", "USD", "49250.75"), ("X", "USD", "")]


def test_assets_in_usd_values_each_asset_and_the_same_total(world):
    from tests.support.cli import run_cli

    proc = run_cli("assets", "--in", "USD", "-f", "jsonl", env=world)
    assert proc.returncode == 7, proc.stderr
    got = [(r["account_id"], r["asset"], r["value"])
           for r in map(jdoc, proc.stdout.splitlines())]
    # Valued rows are written as their profile completes; one without a value yet waits for
    # the end (another profile's broker may quote its currency).
    assert [v for *_, v in got] == sorted([v for *_, v in got], key=lambda v: v is None)
    assert sorted(got, key=lambda r: r[:2]) == sorted([
        ("11827391", "USD", Decimal("25731.18")),
        ("JP1", "USD", Decimal("3000")),
        ("JP1", "JPY", Decimal("7000")),  # 1,050,000 JPY / 150, the broker's rate
        ("LP", "HKD", None), ("LP", "USD", None),  # LongPort sends no totals
        ("U1", "USDT", None),
        ("C1", "BTC", Decimal("48000.0")), ("C1", "USDT", Decimal("1250.75")),
        ("X", "XYZ", None)], key=lambda r: r[:2])
    doc = jdoc(run_cli("assets", "--in", "USD", "-f", "json", env=world).stdout)
    assert doc["converted"]["total"] == TOTAL_USD


def test_config_default_in_and_turning_it_off(world, tmp_path):
    from tests.support.cli import run_cli

    path = tmp_path / "config.toml"
    path.write_text('in = "usd"\n' + path.read_text())
    doc = jdoc(run_cli("balance", "-f", "json", env=world).stdout)
    assert doc["converted"]["currency"] == "USD" and doc["converted"]["total"] == TOTAL_USD
    doc = jdoc(run_cli("balance", "-f", "json", "--in", "none", env=world).stdout)
    assert "converted" not in doc


def test_bad_in_and_bad_rates_are_clear_errors(world, tmp_path):
    from tests.support.cli import run_cli

    proc = run_cli("balance", "--in", "U$D", env=world)
    assert (proc.returncode, proc.stdout) == (2, "")
    assert "'U$D' is not a currency code" in proc.stderr and "Traceback" not in proc.stderr
    path = tmp_path / "config.toml"
    path.write_text(path.read_text().replace('"USDT/USD" = "1"', '"USDT/USD" = 1.0'))
    proc = run_cli("balance", "--in", "USD", env=world)
    assert (proc.returncode, proc.stdout) == (3, "")
    assert "write the rate as exact decimal text" in proc.stderr
    assert proc.stderr.count("\n") == 1


def test_demo_balance_in_usd_counts_every_account_once():
    from tests.support.cli import run_cli

    proc = run_cli("--demo", "balance", "--in", "USD", "-f", "json")
    assert proc.returncode == 0, proc.stderr
    doc = jdoc(proc.stdout)
    conv = doc["converted"]
    accounts = {(b["profile"], b["account_id"]) for b in doc["balances"]}
    assert [(a["profile"], a["account_id"]) for a in conv["accounts"]] == [
        (b["profile"], b["account_id"]) for b in doc["balances"]]
    assert len(conv["accounts"]) == len(accounts) == 10 and conv["unconverted"] == []
    by_id = {a["account_id"]: a for a in conv["accounts"]}
    # Quantower's crypto account: the broker's USD values, 48,000.0 + 7,912.3456 + 1,250.75.
    assert by_id["BN-SPOT-01"]["value"] == Decimal("57163.0956")
    assert by_id["BN-SPOT-01"]["value_field"] == "assets.value_usd"
    # The USD accounts count at their equity (or available where there is none).
    assert by_id["210FUT01"]["value"] == Decimal("3212461.980402")
    assert by_id["cqg-demo:RITHMIC-PAPER-7"]["value_field"] == "available"
    # LongPort's HKD: the bundled ECB file's rate, with its date.
    lp = by_id["LP-DEMO"]
    assert (lp["from"], lp["rate_source"]) == ("HKD", "ecb") and lp["rate_date"] is not None
    exact = decimal.Context(prec=100)
    assert conv["total"] == functools.reduce(exact.add, (a["value"] for a in conv["accounts"]))


# -- history --in: every run with the rates of its own day -------------------------------------

HISTORY_ZIP_ROWS = (
    # A far-future row keeps this file the newest one, whatever the bundled file holds.
    ("2099-12-31", ("2", "200", "10", "N/A")),
    ("2026-11-20", ("1.20", "180", "8.00", "N/A")),
    ("2026-11-19", ("1.10", "165", "8.80", "N/A")),
)


@pytest.fixture
def runs_db(tmp_path):
    """Three snapshots written through the Store API, on a Thursday, a Friday and a Sunday."""
    from datetime import UTC, datetime, timedelta

    from balancecli.history import Store
    from balancecli.money import ecb
    from balancecli.money.rates import Rate
    from tests.support.ecb_zip import CURRENCIES, ecb_zip

    cache = ecb.cache_path()
    cache.parent.mkdir(parents=True)
    cache.write_bytes(ecb_zip(CURRENCIES, HISTORY_ZIP_ROWS))
    jpy_details = {"CurrencyDetails": [{"Currency": "USD", "AccountConversionRate": "150"}]}

    def rows(jp1_extra=None, xyz=False):
        out = [bal("lp", "LP", "longport", "HKD", equity=Decimal("800")),
               bal("ts", "JP1", "tradestation", "JPY", equity=Decimal("150000"),
                   extra=jp1_extra or {}),
               bal("qt", "U1", "quantower", "USDT", available=Decimal("1000"))]
        if xyz:
            out.append(bal("qt", "X", "quantower", "XYZ", available=Decimal("5")))
        return out

    db = tmp_path / "history.sqlite3"
    runs = [
        # Thursday: the broker's rate in the row, and the config rate of that day stored.
        (datetime(2026, 11, 19, 12, tzinfo=UTC), rows(jpy_details),
         [(None, None, Rate("USDT", "USD", Decimal("0.99"), Decimal(1), "config"))]),
        # Friday: a stored broker rate only (no CurrencyDetails in the row); XYZ appears.
        (datetime(2026, 11, 20, 12, tzinfo=UTC), rows(xyz=True),
         [("ts", "JP1", Rate("USD", "JPY", Decimal("160"), Decimal(1), "broker",
                             date(2026, 11, 20)))]),
        # Sunday: nothing stored; the ECB rates of Friday, today's config.
        (datetime(2026, 11, 22, 12, tzinfo=UTC), rows(), []),
    ]
    with Store.open(db) as store:
        for when, balances, stored in runs:
            store.record_run(started_at=when, finished_at=when + timedelta(seconds=3),
                             profiles=["lp", "qt", "ts"], balances=balances, assets=[],
                             errors=[], rates=stored)
    return db


def history_env(tmp_path, db) -> dict:
    return config_text(tmp_path / "config.toml", {}, '[rates]\n"USDT/USD" = "1"') | {
        "BALANCECLI_DB": str(db)}


def test_history_in_usd_values_each_run_with_its_own_rates(tmp_path, runs_db):
    from tests.support.cli import run_cli

    proc = run_cli("history", "--in", "USD", "-f", "json", env=history_env(tmp_path, runs_db))
    assert proc.returncode == 0, proc.stderr
    doc = jdoc(proc.stdout)
    assert (doc["schema"], doc["currency"]) == ("balancecli.history.networth/1", "USD")
    # Thursday: 800 HKD × 1.10 / 8.80 = 100; 150,000 JPY / 150 (broker) = 1,000;
    #           1,000 USDT × 0.99 (the config stored with the run) = 990.
    # Friday:   800 × 1.20 / 8.00 = 120; 150,000 / 160 (the stored broker rate) = 937.5;
    #           1,000 × 1 (today's config); XYZ has no rate: incomplete.
    # Sunday:   Friday's ECB rates: 120; 150,000 × 1.20 / 180 = 1,000; 1,000.
    assert [(r["run_id"], r["total"], r["incomplete"], r["accounts"], r["unconverted"],
             r["change"]) for r in doc["runs"]] == [
        (1, Decimal("2090"), False, 3, 0, None),
        (2, Decimal("2057.5"), True, 3, 1, Decimal("-32.5")),
        (3, Decimal("2120"), False, 3, 0, Decimal("62.5"))]
    sunday = {a["account_id"]: a for a in doc["runs"][2]["converted"]["accounts"]}
    assert (sunday["LP"]["rate_source"], sunday["LP"]["rate_date"]) == ("ecb", "2026-11-20")
    assert (sunday["JP1"]["rate_source"], str(sunday["JP1"]["rate"])) == (
        "ecb", "0.006666666666666666666666666666666666666667")  # 1.20 / 180, 40 digits
    friday = {a["account_id"]: a for a in doc["runs"][1]["converted"]["accounts"]}
    assert (friday["JP1"]["rate_source"], friday["JP1"]["value"]) == ("broker",
                                                                       Decimal("937.5"))
    assert doc["first"] == {"run_id": 1, "taken_at": "2026-11-19T12:00:00.000000Z",
                            "total": Decimal("2090"), "incomplete": False}
    assert doc["last"]["total"] == Decimal("2120") and doc["change"] == Decimal("30")
    assert str(doc["change_pct"]) == "1.435406698564593301435406698564593301435"
    assert doc["sparkline"] == "▄▁█"
    assert "1 of 3 runs are incomplete in USD; not converted: qt X (XYZ: no rate)" in proc.stderr


def test_history_in_usd_table_jsonl_and_csv_carry_the_same_fields(tmp_path, runs_db):
    from tests.support.cli import run_cli

    env = {**history_env(tmp_path, runs_db), "TZ": "Asia/Tokyo"}  # tables: local time
    table = run_cli("history", "--in", "USD", env=env)
    assert table.returncode == 0, table.stderr
    assert table.stdout.splitlines()[2:] == [
        # decimal points lined up (the * of an incomplete run after them)
        "2026-11-19 21:00     1         2,090.00      —             3",
        "2026-11-20 21:00     2         2,057.50*   -32.50          3",
        "2026-11-22 21:00     3         2,120.00    +62.50          3",
        "First 2026-11-19 21:00 2,090.00; last 2026-11-22 21:00 2,120.00; change "
        "+30.00 USD (+1.44%)",
        "Trend ▄▁█",
        "* incomplete: an account was not converted or a profile failed"]
    jsonl = [jdoc(line) for line in run_cli("history", "--in", "USD", "-f", "jsonl",
                                            env=env).stdout.splitlines()]
    assert [list(r) for r in jsonl] == [["run_id", "taken_at", "currency", "total",
                                         "incomplete", "accounts", "unconverted",
                                         "change"]] * 3
    assert [r["total"] for r in jsonl] == [Decimal("2090"), Decimal("2057.5"), Decimal("2120")]
    csv_text = run_cli("history", "--in", "USD", "-f", "csv", env=env).stdout
    assert csv_text.splitlines() == [
        "run_id,taken_at,currency,total,incomplete,accounts,unconverted,change",
        "1,2026-11-19T12:00:00.000000Z,USD,2090.00,false,3,0,",
        "2,2026-11-20T12:00:00.000000Z,USD,2057.5,true,3,1,-32.50",
        "3,2026-11-22T12:00:00.000000Z,USD,2120.00,false,3,0,62.50"]
    since = run_cli("history", "--in", "USD", "-f", "jsonl", "--since", "2026-11-20", env=env)
    assert [jdoc(line)["run_id"] for line in since.stdout.splitlines()] == [2, 3]
    # --since reads local time as the tables show it (20:00 in Tokyo is 11:00 UTC)
    since = run_cli("history", "--in", "USD", "-f", "jsonl", "--since", "2026-11-19T20:00",
                    env=env)
    assert [jdoc(line)["run_id"] for line in since.stdout.splitlines()] == [1, 2, 3]
    since = run_cli("history", "--in", "USD", "-f", "jsonl", "--since", "2026-11-19T20:00",
                    "--utc", env=env)
    assert [jdoc(line)["run_id"] for line in since.stdout.splitlines()] == [2, 3]
    misuse = run_cli("history", "--in", "USD", "--at", "2026-11-20", env=env)
    assert misuse.returncode == 2 and "--in excludes --at" in misuse.stderr


def test_snapshot_stores_the_rates_it_saw(tmp_path, world):
    import sqlite3

    from tests.support.cli import run_cli

    db = tmp_path / "snap.sqlite3"
    env = world | {"BALANCECLI_DB": str(db)}
    proc = run_cli("snapshot", env=env)
    assert proc.returncode == 0, proc.stderr
    conn = sqlite3.connect(db)
    stored = conn.execute("SELECT profile, account_id, base, quote, num, den, source"
                          " FROM rates ORDER BY rowid").fetchall()
    conn.close()
    assert stored == [
        ("ts", "JP1", "USD", "JPY", "150", "1", "broker"),
        ("qt", "C1", "BTC", "USD", "48000.0", "0.5", "broker"),
        ("qt", "C1", "USDT", "USD", "1250.75", "1250.75", "broker"),
        (None, None, "USDT", "USD", "1", "1", "config")]
    # The stored run revalues offline to the same total as the live run.
    doc = jdoc(run_cli("history", "--in", "USD", "-f", "json", env=env).stdout)
    assert doc["runs"][0]["total"] == TOTAL_USD and doc["runs"][0]["incomplete"] is True


def test_on_a_terminal_the_footer_is_whole():
    """A real pty, 80 columns: the total and the rates' sources are never cut."""
    import os
    import subprocess

    from tests.support.cli import balancecli_exe

    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    cmd = f"stty cols 80; {balancecli_exe()} --demo balance --in USD -p demo-qt --no-color"
    out = subprocess.run(["script", "-qec", cmd, "/dev/null"], capture_output=True, text=True,
                         env=env, timeout=60).stdout.replace("\r", "")
    # 48,000.0 + 7,912.3456 + 1,250.75 (the broker's USD values) + 100,000.25 + 49,875.50
    assert [line.split() for line in out.splitlines() if line.startswith("Net worth")] == [
        "Net worth in USD (3 accounts) 207,038.85".split()]
    assert "Rates: USD values (broker demo-qt TotalInUSD " in out


def test_runs_without_in_do_not_load_the_rate_code():
    import subprocess
    import sys

    def modules(*args: str) -> str:
        return subprocess.run([sys.executable, "-X", "importtime", "-m", "balancecli", *args],
                              capture_output=True, text=True, timeout=60).stderr

    for args in (("--help",), ("--demo", "balance", "-f", "json")):
        loaded = modules(*args)
        assert "balancecli.money.rates" not in loaded, args
        assert "balancecli.money.valuation" not in loaded, args
    assert "balancecli.money.valuation" in modules("--demo", "balance", "--in", "USD", "-f", "json")


def test_history_uses_the_config_default_and_in_none_turns_it_off(tmp_path, runs_db):
    from tests.support.cli import run_cli

    env = history_env(tmp_path, runs_db)
    path = tmp_path / "config.toml"
    path.write_text('in = "USD"\n' + path.read_text())
    doc = jdoc(run_cli("history", "-f", "json", env=env).stdout)
    assert doc["schema"] == "balancecli.history.networth/1"
    assert [r["total"] for r in doc["runs"]] == [Decimal("2090"), Decimal("2057.5"),
                                                 Decimal("2120")]
    series = jdoc(run_cli("history", "-f", "json", "--in", "none", env=env).stdout)
    assert series["schema"] == "balancecli.history/1"
    # Options that only make sense per account keep the per-account view.
    at = jdoc(run_cli("history", "-f", "json", "--at", "2026-11-20", env=env).stdout)
    assert at["schema"] == "balancecli.history.at/1"


def test_a_failed_profile_marks_the_total_incomplete(world):
    from tests.support.cli import run_cli

    proc = run_cli("balance", "--in", "USD", "-f", "json", "-p", "ts", "-p", "nosuch",
                   env=world)
    assert proc.returncode == 7
    conv = jdoc(proc.stdout)["converted"]
    assert (conv["total"], conv["incomplete"], conv["unconverted"]) == (
        Decimal("58210.55"), True, [])  # 48,210.55 + 10,000: ts only
    assert "nosuch" in proc.stderr
    table = run_cli("balance", "--in", "USD", "-p", "ts", "-p", "nosuch", env=world)
    assert [line.split() for line in table.stdout.splitlines()
            if line.startswith("Net worth")] == [
        "Net worth in USD, incomplete (2 accounts; some failed to fetch) 58,210.55".split()]


# -- --in through the presenter: one fetch, streamed, indented on a terminal -----------------


@pytest.fixture
def four_brokers(tmp_path, ts_fake, ts_profile):
    """A profile per broker at its fake (Quantower over HTTP), so every request is counted:
    (environment for run_cli, the four fakes)."""
    from balancecli.demo import etna, longport, quantower
    from tests.support.config import FAST, write_config

    et, lp = etna.FakeEtna().start(), longport.FakeLongPort().start()
    qt = quantower.FakeQuantowerBridge().start()
    ts_settings, ts_env = ts_profile
    path = write_config(tmp_path / "config.toml", {
        "ts": ts_settings,
        "lp": {"broker": "longport", "auth": "apikey", "base_url": lp.url, **FAST},
        "et": {"broker": "etna", "base_url": et.url + "/api", **FAST},
        "qt": {"broker": "quantower", "source": qt.url + quantower.EXPORT_PATH, "max_age": 0}})
    env = {"BALANCECLI_CONFIG": str(path), **ts_env,
           "BALANCECLI_LP_APP_KEY": longport.DEMO_APP_KEY,
           "BALANCECLI_LP_APP_SECRET": longport.DEMO_APP_SECRET,
           "BALANCECLI_LP_ACCESS_TOKEN": longport.DEMO_ACCESS_TOKEN,
           "BALANCECLI_ET_APP_KEY": etna.DEMO_APP_KEY, "BALANCECLI_ET_USERNAME": etna.DEMO_USERNAME,
           "BALANCECLI_ET_PASSWORD": etna.DEMO_PASSWORD, "BALANCECLI_ET_TOKEN": et.issue(),
           "BALANCECLI_QT_TOKEN": quantower.DEMO_TOKEN,
           "BALANCECLI_DB": str(tmp_path / "history.sqlite3")}
    yield env, {"ts": ts_fake, "lp": lp, "et": et, "qt": qt}
    for fake in (et, lp, qt):
        fake.stop()


def _requests(fakes, *args, env) -> dict[str, int]:
    """How many requests each fake got while the command ran (which must succeed)."""
    from tests.support.cli import run_cli

    before = {name: len(fake.requests) for name, fake in fakes.items()}
    proc = run_cli(*args, env=env)
    assert proc.returncode == 0, proc.stderr
    return {name: len(fake.requests) - before[name] for name, fake in fakes.items()}


def test_assets_in_usd_asks_no_more_than_snapshot(four_brokers):
    env, fakes = four_brokers
    snapshot = _requests(fakes, "snapshot", "-q", env=env)
    valued = _requests(fakes, "assets", "--in", "USD", "-f", "json", env=env)
    separately = {name: a + b for (name, a), b in zip(
        _requests(fakes, "assets", "-f", "json", env=env).items(),
        _requests(fakes, "balance", "-f", "json", env=env).values(), strict=True)}
    assert valued == snapshot, (valued, snapshot)
    assert sum(separately.values()) > sum(valued.values())  # what two fetches would send
    # balance --in sends no more than balance alone, plus (Quantower) one export read.
    assert _requests(fakes, "balance", "--in", "USD", env=env)["et"] == snapshot["et"]


def test_json_in_usd_is_indented_on_a_terminal_and_compact_in_a_pipe(four_brokers):
    import json as _json

    from tests.support.cli import on_terminal, run_cli

    env, _ = four_brokers
    piped = run_cli("balance", "--in", "USD", "-f", "json", env=env)
    assert piped.returncode == 0, piped.stderr
    assert piped.stdout.count("\n") == 1 and piped.stdout.startswith('{"schema": ')
    screen, err, code = on_terminal(["balance", "--in", "USD", "-f", "json"], 100, env)
    assert code == 0, err
    assert screen.startswith('{\n  "schema": "balancecli.balance/1",\n  "generated_at": ')
    assert '\n  "converted": {\n    "currency": "USD",\n' in screen
    on_screen, in_pipe = _json.loads(screen, parse_float=Decimal), jdoc(piped.stdout)
    for doc in (on_screen, in_pipe):
        del doc["generated_at"]
        for row in doc["balances"]:
            row.pop("as_of")
    assert on_screen == in_pipe


@pytest.mark.parametrize("fmt", ["json", "jsonl", "csv"])
def test_in_usd_rows_are_written_as_each_profile_completes(tmp_path, fmt):
    import os
    import subprocess

    from balancecli.demo.etna import DEMO_APP_KEY, DEMO_PASSWORD, DEMO_USERNAME, FakeEtna
    from tests.support.cli import balancecli_exe
    from tests.support.config import write_config

    fast, slow = FakeEtna().start(), FakeEtna(latency=3).start()
    try:
        config = write_config(tmp_path / "config.toml", {
            "a": {"broker": "etna", "base_url": fast.url + "/api"},
            "b": {"broker": "etna", "base_url": slow.url + "/api"}})
        env = {**os.environ, "BALANCECLI_CONFIG": str(config)}
        for name, fake in (("A", fast), ("B", slow)):
            env.update({f"BALANCECLI_{name}_APP_KEY": DEMO_APP_KEY,
                        f"BALANCECLI_{name}_USERNAME": DEMO_USERNAME,
                        f"BALANCECLI_{name}_PASSWORD": DEMO_PASSWORD,
                        f"BALANCECLI_{name}_TOKEN": fake.issue()})
        proc = subprocess.Popen([balancecli_exe(), "balance", "--in", "USD", "-f", fmt],
                                env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                bufsize=0)
        first = b""
        while b"83269" not in first:  # profile a's last account; b answers 3 s later
            chunk = os.read(proc.stdout.fileno(), 1 << 20)
            if not chunk:
                break
            first += chunk
        still_running = proc.poll() is None
        rest, err = proc.communicate(timeout=60)
    finally:
        fast.stop()
        slow.stop()
    assert still_running, "the first rows came only at the end"
    assert proc.returncode == 0, err
    assert b"83267" in first and (b'"b"' if fmt != "csv" else b"\nb,") not in first
    text = (first + rest).decode()
    if fmt == "json":
        doc = jdoc(text)
        assert [b["profile"] for b in doc["balances"]] == ["a"] * 3 + ["b"] * 3
        assert doc["converted"]["total"] == 2 * sum(b["equity"] for b in doc["balances"][:3])
    elif fmt == "jsonl":
        rows = [jdoc(line) for line in text.splitlines()]
        assert [(r["profile"], r["value_in"]) for r in rows] == [("a", "USD")] * 3 + [
            ("b", "USD")] * 3
        assert all(r["value"] == r["equity"] for r in rows)  # USD accounts: identity
    else:
        lines = text.splitlines()
        assert lines[0].endswith(",value_in,value") and len(lines) == 7


def test_the_demo_never_suggests_an_update_it_cannot_make():
    """``--demo`` values with the ECB file bundled with balancecli (``rates update --demo``
    downloads nothing), so however old that file is, no line tells the user to update it."""
    from tests.support.cli import run_cli

    clock = {"_BALANCECLI_DEMO_CLOCK": "2026-11-30T12:00:00Z"}  # the demo's past, from then
    for args in (["balance", "--in", "USD"], ["history", "--in", "USD", "--last", "3"]):
        proc = run_cli("--demo", *args, env=clock)
        assert proc.returncode == 0, proc.stderr
        assert "rates update" not in proc.stderr, proc.stderr
