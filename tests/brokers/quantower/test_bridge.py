"""The C# bridge's export contract under mono: a Balance the connection hides is null, never 0,
no personal AdditionalInfo item reaches the export, the fetcher or the output, and the user's
login is not in any name.

The harness's ``private`` mode adds accounts shaped like Quantower's official Bitfinex
integration (Balance never set and hidden; the user's e-mail among the items; named
"{Username} - EXCHANGE") and e-mail addresses in names to the usual ones.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from balancecli.brokers.quantower.broker import Quantower
from balancecli.core.models import row_dict
from tests.support.cli import run_cli
from tests.support.config import make_ctx, write_config
from tests.support.mono_harness import build_harness, mono

pytestmark = pytest.mark.mono
D = Decimal

# The personal values the harness puts in AdditionalInfo, and the ids they come under.
PERSONAL = ("jane.roe", "example.org", "jroe", "Jane Roe", "John Roe", "Jane R.", "7946",
            "4915112345678", "555", "Main Street", "Springfield")
PERSONAL_IDS = ("email", "login", "user_name", "USERNAME", "phone", "mobileNumber",
                "accountOwner", "ownerNames", "address", "homeCity", "name", "support", "desk")


@pytest.fixture(scope="session")
def harness() -> Path:
    return build_harness()


@pytest.fixture(scope="session")
def export(harness, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("bridge") / "balancecli-export.json"
    done = mono(harness, "private", str(path))
    assert done.returncode == 0, done.stderr
    return path


def accounts_by_id(export: Path) -> dict[str, dict]:
    document = json.loads(export.read_text(), parse_float=Decimal)
    return {a["Id"]: a for a in document["Accounts"]}


def test_hidden_balance_is_exported_as_null(export):
    accounts = accounts_by_id(export)
    assert accounts["bfx-exchange"]["Balance"] is None
    assert accounts["bfx-margin"]["Balance"] is None
    # Null besides: the accounts exported with an Error, and HitBTC's (no currency either).
    assert sorted(i for i, a in accounts.items() if a["Balance"] is None) == [
        "BROKEN", "HitBTC", "STUCK", "bfx-exchange", "bfx-margin"]
    # A Balance the connection maintains stays a number, 0 included.
    assert accounts["bfx-zero"]["Balance"] == 0
    assert accounts["A1"]["Balance"] == D("1250.75")
    # The hidden marker items themselves are not exported.
    ids = [i["Id"] for a in accounts.values() for i in a["AdditionalInfo"]]
    assert "Balance" not in ids and "AccountCurrency" not in ids
    assert accounts["bfx-exchange"]["AccountCurrency"] is None


def test_logins_are_cut_out_of_names(export):
    accounts = accounts_by_id(export)
    # Bitfinex: "{Username} - EXCHANGE", the user name from the Bitfinex API.
    assert (accounts["bfx-exchange"]["Name"], accounts["bfx-margin"]["Name"]) == (
        "EXCHANGE", "MARGIN")
    # A value of a personal AdditionalInfo item (of any account of the connection), in the
    # account's and the connection's names; an e-mail address the bridge does not know stays
    # for the reader to mask.
    assert (accounts["mail-1"]["Name"], accounts["mail-1"]["ConnectionName"]) == (
        "main", "Broker of")
    assert (accounts["mail-2"]["Name"], accounts["mail-2"]["ConnectionName"]) == (
        "Joint <j.doe+fx@example.net>", "Broker of")
    names = {c["Id"]: c["Name"] for c in json.loads(export.read_text())["Connections"]}
    assert (names["mailed"], names["rithmic"]) == ("Broker of", 'Rithmic "Paper"')


def test_numbers_named_user_are_kept_and_personal_items_dropped(export):
    text = export.read_text()
    for private in PERSONAL:
        assert private not in text, private
    for private in PERSONAL_IDS:
        assert f'"Id": "{private}"' not in text, private
    accounts = accounts_by_id(export)
    margin = {i["Id"]: i["Value"] for i in accounts["bfx-margin"]["AdditionalInfo"]}
    assert margin == {
        "marginBalance": D("1500.5"), "netMargin": D("1490.25"), "userPnl": D("-12.75"),
        "userSwaps": D("-0.5"), "UserTradesCount": 42, "note": "auto-renew on",
        "openDate": "2020-01-31", "tier": "VIP 1", "velocity": 3,
    }
    exchange = {i["Id"]: i["Value"] for i in accounts["bfx-exchange"]["AdditionalInfo"]}
    assert exchange == {"creationTime": "2019-05-06T07:08:09Z", "isVerified": True,
                        "verificationLevel": "Full", "makerFee": D("0.001")}
    # The accounts of the plain harness are unchanged by the private ones.
    assert [i["Id"] for i in accounts["A1"]["AdditionalInfo"]] == [
        "marginBalance", "leverage", "unrealizedPnl", "status", "creationTime"]


def test_fetcher_reads_null_available_and_keeps_the_coins(export):
    ctx = make_ctx("qt", {"broker": "quantower", "source": str(export), "max_retries": 0})
    b = Quantower(ctx)
    accounts = {a.account_id: a for a in b.accounts()}
    assert accounts["bfx-margin"].extra == {
        "ConnectionId": "bitfinex", "ConnectionName": "Bitfinex", "marginBalance": D("1500.5"),
        "netMargin": D("1490.25"), "userPnl": D("-12.75"), "userSwaps": D("-0.5"),
        "UserTradesCount": D("42"), "velocity": D("3")}
    picked = [accounts[i] for i in ("bfx-exchange", "bfx-margin", "bfx-zero")]
    balances = b.balances(picked).rows
    assert [(r.account_id, r.currency, r.available) for r in balances] == [
        ("bfx-exchange", None, None), ("bfx-margin", "USD", None), ("bfx-zero", "USD", D("0"))]
    assets = b.assets(picked).rows
    assert [(r.account_id, r.asset, r.total, r.available) for r in assets] == [
        ("bfx-exchange", "BTC", D("0.25"), D("0.2")),
        ("bfx-exchange", "USD", D("1000"), D("1000")),
        ("bfx-margin", "USD", None, None),
        ("bfx-zero", "USD", None, D("0")),
    ]
    for row in (*balances, *assets, *picked):
        dumped = json.dumps(row_dict(row), default=str)
        for private in PERSONAL:
            assert private not in dumped


def test_balance_command_shows_no_available_for_a_hidden_balance(export, tmp_path):
    config = write_config(tmp_path / "config.toml", {
        "qt": {"broker": "quantower", "source": export.as_posix(), "max_age": 0}})
    done = run_cli("balance", "-p", "qt", "-f", "json", "--config", str(config))
    assert done.returncode == 7, done.stderr  # the harness's broken and disconnected ones
    body = json.loads(done.stdout, parse_float=Decimal)
    assert [(e["account_id"], e["kind"]) for e in body["errors"]] == [
        ("BROKEN", "unavailable"), ("STUCK", "unavailable"), (None, "unavailable"),
        ("cqg:F-100", "bad_response")]
    rows = {r["account_id"]: r for r in body["balances"]}
    assert (rows["mail-1"]["account_name"], rows["mail-2"]["account_name"]) == (
        "main", "Joint <***>")  # the reader masks what the bridge did not know
    assert rows["bfx-exchange"]["available"] is None
    assert rows["bfx-margin"]["available"] is None
    assert rows["bfx-zero"]["available"] == 0
    assert '"available": null' in done.stdout
    usd = next(t for t in body["totals"] if t["currency"] == "USD")
    assert usd["incomplete"] is True  # the margin account's null is not summed as 0

    table = run_cli("balance", "-p", "qt", "--config", str(config))
    assert table.returncode == 7, table.stderr
    lines = {line.split()[1]: line for line in table.stdout.splitlines()
             if "bfx-" in line}
    for hidden in ("bfx-exchange", "bfx-margin"):
        assert "0.00" not in lines[hidden] and "—" in lines[hidden], lines[hidden]
    assert "0.00" in lines["bfx-zero"]

    everything = run_cli("accounts", "-p", "qt", "-f", "json", "--config", str(config))
    assert everything.returncode == 7, everything.stderr
    for private in (*PERSONAL, "j.doe", "example.net"):
        for text in (everything, done, table):
            assert private not in text.stdout + text.stderr, private


# The words of a key decide, not substrings: "user" in userPnl is no user name, "city" in
# velocity no address.
KEYS = {
    "personal": ["email", "E-mail", "eMail", "userEmail", "EmailAddress", "login", "Login name",
                 "userLogin", "user_name", "userName", "USERNAME", "User", "Name", "UserID",
                 "phone", "PhoneNumber", "Telephone", "mobile", "fax", "tel", "address",
                 "IPAddress", "homeCity", "zip", "Street", "postalCode", "Country", "owner",
                 "accountOwner", "AccountHolder", "ownerNames", "firstName", "LastName",
                 "surname", "FullName", "nickname", "date_of_birth", "passport", "SSN",
                 "taxId", "IBAN", "cardNumber", "password", "apiKey", "access_token", "token",
                 "secret", "telegram", "contactPerson", "someone@example.org"],
    "kept": ["userPnl", "UserPnL", "userSwaps", "UserTradesCount", "marginBalance",
             "netMargin", "unrealizedPnl", "leverage", "velocity", "capacity", "creationTime",
             "isVerified", "verificationLevel", "makerFee", "takerFeeToFiat", "status",
             "accountName", "symbolName", "Margin balance", "User profit & loss", "tier",
             "openDate", "rebate", "equity", "TotalInUSD"],
}
VALUES = {
    "contact": ["jane.roe@example.org", "@jroe", "+44 20 7946 0958", "+4915112345678",
                "(555) 010-0199", "555-010-0199", "555.010.0199", "030 1234567"],
    "kept": ["Active", "Full", "VIP 1", "2020-01-31", "31.01.2020", "01/31/2020", "12.5",
             "-1500.25", "1234567.89", "1234567", "1,234,567", "12:30:00", "50%", "",
             "2021-03-04T05:06:07Z", "BTC-USD"],
}


@pytest.mark.parametrize("mode,table", [("keys", KEYS), ("values", VALUES)])
def test_personal_data_classification(harness, mode, table):
    given = [text for texts in table.values() for text in texts]
    done = mono(harness, mode, *given)
    assert done.returncode == 0, done.stderr
    got = dict(zip(given, done.stdout.splitlines(), strict=True))
    assert {v: [t for t in given if got[t] == v] for v in table} == table


# What identifies the user (a login, an e-mail address) is cut out of a name as a whole word,
# whatever its case, with the separators and brackets left standing alone.
NAMES = {
    "trader42 - Futures": "Futures", "Futures (TRADER42)": "Futures",
    "(trader42)": "-", "trader42": "-", "Paper [trader42] #1": "Paper #1",
    "trader421 Futures": "trader421 Futures", "xtrader42": "xtrader42",  # not the whole word
    "jane.roe@example.org: Main": "Main", "Main": "Main", "Ünïcode trader42 ñ": "Ünïcode ñ",
    "US Futures": "US Futures",  # two letters are never an identity
}


def test_identities_are_cut_out_of_names(harness):
    done = mono(harness, "names", "trader42|jane.roe@example.org|US", *NAMES)
    assert done.returncode == 0, done.stderr
    assert dict(zip(NAMES, done.stdout.splitlines(), strict=True)) == NAMES
