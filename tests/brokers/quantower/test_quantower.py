"""Quantower: the C# bridge (compiled and run under mono against a stub API) and the fetcher.

The fetcher reads the bridge's export from a file or over HTTP on 127.0.0.1 (a real server:
the demo's FakeQuantowerBridge, or the C# HttpListener under mono).
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from balancecli.brokers.quantower.broker import Quantower
from balancecli.core.errors import (
    AuthError,
    BadResponseError,
    BalanceCliError,
    BrokerError,
    ConfigError,
    StaleError,
    UnavailableError,
)
from balancecli.core.models import row_dict
from balancecli.demo.quantower import DEMO_TOKEN, EXPORT_PATH, FakeQuantowerBridge, demo_profile
from tests.support import REPO
from tests.support.cli import run_cli
from tests.support.config import make_ctx
from tests.support.mono_harness import build_harness, mono
from tests.support.quantower_exports import FIXTURES, stamp, write_export

BRIDGE_CS = REPO / "balancecli" / "brokers" / "quantower" / "BalanceCliBridge.cs"
TOKEN = "qt-test-token-7c1d0b55e2a94f3b"
FAST = {"max_retries": 0, "retry_backoff": 0.01, "timeout": 5}


def broker(source: str, secrets: dict | None = None, **settings) -> Quantower:
    ctx = make_ctx("qt", {"broker": "quantower", "source": source, **FAST, **settings}, secrets)
    return Quantower(ctx)


def fetch(b: Quantower):
    accounts = b.accounts()
    balances = b.balances(accounts)
    assets = b.assets(accounts)
    assert balances.errors == [] and assets.errors == []
    return accounts, balances.rows, assets.rows


def acct(account_id, name, type_, currency, extra):
    return {"profile": "qt", "broker": "quantower", "account_id": account_id, "name": name,
            "type": type_, "currency": currency, "status": None, "extra": extra}


def bal(account_id, name, type_, currency, as_of, available, extra):
    row = {"profile": "qt", "broker": "quantower", "account_id": account_id,
           "account_name": name, "account_type": type_, "currency": currency, "as_of": as_of}
    for key in ("cash", "available", "withdrawable", "buying_power", "equity", "market_value",
                "initial_margin", "maintenance_margin", "unrealized_pnl", "realized_pnl"):
        row[key] = None
    row["available"] = available
    row["extra"] = extra
    return row


def asset(account_id, name, total=None, available=None, reserved=None, usd=None, btc=None,
          extra=None):
    return {"profile": "qt", "broker": "quantower", "account_id": account_id, "asset": name,
            "total": total, "available": available, "reserved": reserved, "settling": None,
            "withdrawable": None, "value_in_account_currency": None, "value_usd": usd,
            "value_btc": btc, "conversion_rate": None, "extra": extra or {}}


D = Decimal


# ---------------------------------------------------------------- fixtures, field by field

def test_crypto_account_with_many_assets(tmp_path):
    path, when = write_export(tmp_path, "crypto_many_assets.json")
    accounts, balances, assets = fetch(broker(str(path)))
    extra = {"ConnectionId": "binance", "ConnectionName": "Binance",
             "marginBalance": D("1200.5"), "leverage": D("10")}
    assert [row_dict(a) for a in accounts] == [
        acct("SPOT-7", "Binance Spot", "crypto", "USDT", extra)]
    assert [row_dict(b) for b in balances] == [
        bal("SPOT-7", "Binance Spot", "crypto", "USDT", when, D("1250.75"), extra)]
    a = "SPOT-7"
    assert [row_dict(r) for r in assets] == [
        asset(a, "BTC", D("0.5"), D("0.4"), D("0.1"), D("48000.0"), D("0.5")),
        asset(a, "ETH", D("0.30000000000000004"), D("0.30000000000000004"), D("0"),
              D("1234.5678"), D("0.0123456789012345")),
        asset(a, "SHIB", D("1E-08"), D("1E-08"), D("0"), None, D("1.5E-20")),
        asset(a, "USDT", D("1250.75"), D("1250.75"), D("0"), D("1250.75"), None),
        asset(a, "SOL", D("12.345678901234567"), D("9.845678901234567"), D("2.5"), D("2601.9"),
              D("0.0271")),
        asset(a, "XRP", D("1500"), D("1000"), D("500"), D("1459.5"), D("0.0152")),
        asset(a, "DOGE", D("0"), D("0"), D("0"), D("0"), D("0")),
        asset(a, "BNB", D("3.1"), D("3.099999"), D("0.000001"), D("2873.45"), D("0.0299"),
              extra={"Debt": D("0.25")}),
        asset(a, "ADA", D("250.5"), D("250.5"), D("0"), D("250.125"), D("0.0026")),
        asset(a, "LTC", D("1.7976931348623157E+308"), D("2"), D("-0.5"), D("107.3"),
              D("0.0011")),
    ]
    # Digits exactly as written: no float round trip.
    assert str(assets[1].total) == "0.30000000000000004"
    assert str(assets[0].value_usd) == "48000.0"


def test_futures_account_without_balances(tmp_path):
    path, when = write_export(tmp_path, "futures_no_balances.json")
    accounts, balances, assets = fetch(broker(str(path)))
    extra = {"ConnectionId": "rithmic", "ConnectionName": "Rithmic Paper",
             "initialMargin": D("4500"), "netLiquidation": D("101234.56789")}
    name = 'Futures "Main" Müller'
    assert [row_dict(a) for a in accounts] == [acct("F-100", name, None, "USD", extra)]
    assert [row_dict(b) for b in balances] == [
        bal("F-100", name, None, "USD", when, D("100000.25"), extra)]
    assert [row_dict(r) for r in assets] == [asset("F-100", "USD", available=D("100000.25"))]


def test_duplicate_ids_across_connections(tmp_path):
    path, when = write_export(tmp_path, "duplicate_ids.json")
    accounts, balances, assets = fetch(broker(str(path)))
    assert [row_dict(a) for a in accounts] == [
        acct("rithmic:DEMO1", "Rithmic demo", None, "USD",
             {"ConnectionId": "rithmic", "ConnectionName": "Rithmic"}),
        acct("cqg:DEMO1", "CQG demo", None, "USD",
             {"ConnectionId": "cqg", "ConnectionName": "CQG"}),
        acct("U7", "Unique", None, "EUR", {"ConnectionId": "cqg", "ConnectionName": "CQG"}),
    ]
    assert [(b.account_id, b.available, b.as_of) for b in balances] == [
        ("rithmic:DEMO1", D("50000"), when), ("cqg:DEMO1", D("25000.5"), when),
        ("U7", D("7.25"), when)]
    assert [row_dict(r) for r in assets] == [
        asset("rithmic:DEMO1", "USD", available=D("50000")),
        asset("cqg:DEMO1", "USD", available=D("25000.5")),
        asset("U7", "EUR", available=D("7.25")),
    ]


def test_null_currency_and_empty_values(tmp_path):
    # A row's currency is null only where it has no amount; an amount without a currency is
    # that account's bad response; the 0 of a Balance nobody set (HitBTC) is null.
    path, when = write_export(tmp_path, "null_currency.json")
    b = broker(str(path))
    accounts = b.accounts()
    x_extra = {"ConnectionId": "dx", "ConnectionName": "dxFeed Paper", "Note": "kept in extra"}
    c_extra = {"ConnectionId": "kraken", "ConnectionName": "Kraken"}
    h_extra = {"ConnectionId": "hitbtc", "ConnectionName": "HitBTC"}
    assert [row_dict(a) for a in accounts] == [
        acct("X-1", None, None, None, x_extra), acct("C-9", None, "crypto", None, c_extra),
        acct("HitBTC", "HitBTC", "crypto", None, h_extra)]
    balances = b.balances(accounts)
    assert [row_dict(r) for r in balances.rows] == [
        bal("X-1", None, None, None, when, None, x_extra),
        bal("HitBTC", "HitBTC", "crypto", None, when, None, h_extra)]
    assets = b.assets(accounts)
    # X-1 holds nothing that can be named; HitBTC's coins are its assets.
    assert [row_dict(r) for r in assets.rows] == [
        asset("HitBTC", "BTC", D("0.01"), D("0.01"), D("0"), D("960"), D("0.01"))]
    for result in (balances, assets):
        assert [(e.kind, e.account_id, e.exit_code) for e in result.errors] == [
            ("bad_response", "C-9", 6)]
        assert result.errors[0].message == (
            "Quantower reports a Balance of 3.5 without an account currency, so its unit is "
            "not known")
        assert "does not say the account's currency" in result.errors[0].next_step


def test_export_is_read_once_per_run(tmp_path):
    path, _ = write_export(tmp_path, "futures_no_balances.json")
    b = broker(str(path))
    accounts = b.accounts()
    path.unlink()  # accounts() read it; balances() and assets() use the same document
    assert b.balances(accounts).rows[0].available == D("100000.25")
    assert b.assets(accounts).rows[0].available == D("100000.25")


def test_tilde_and_file_url_sources(tmp_path, isolated):
    path, _ = write_export(tmp_path, "futures_no_balances.json")
    (isolated / "quantower").mkdir()
    shutil.copy(path, isolated / "quantower" / "balancecli-export.json")
    assert broker("~/quantower/balancecli-export.json").accounts()[0].account_id == "F-100"
    assert broker(path.as_uri()).accounts()[0].account_id == "F-100"


# ---------------------------------------------------------------- stale, missing, malformed

def test_stale_export_fails_with_its_age(tmp_path):
    old = stamp(datetime.now(UTC) - timedelta(hours=2, minutes=5))
    path, _ = write_export(tmp_path, "duplicate_ids.json", generated_at=old)
    with pytest.raises(StaleError) as info:
        broker(str(path), max_age=600).accounts()
    exc = info.value
    assert (exc.kind, exc.exit_code) == ("stale", 5)
    assert "is 2 h 5 min old" in exc.message
    assert f"GeneratedAt {old}" in exc.message
    assert "may not be running in Quantower" in exc.message
    assert "balancecli quantower bridge" in exc.next_step
    # max_age = 0 disables the check; as_of stays the export's own time.
    b = broker(str(path), max_age=0)
    rows = b.balances(b.accounts()).rows
    assert rows[0].as_of == old


def test_export_just_under_max_age_is_fresh(tmp_path):
    path, when = write_export(tmp_path, "duplicate_ids.json",
                              generated_at=stamp(datetime.now(UTC) - timedelta(seconds=540)))
    assert len(broker(str(path), max_age=600).accounts()) == 3
    with pytest.raises(StaleError, match=r"is 9 min old"):
        broker(str(path), max_age=60).accounts()


def test_missing_file_says_the_bridge_may_not_run(tmp_path):
    missing = tmp_path / "nowhere" / "balancecli-export.json"
    with pytest.raises(UnavailableError) as info:
        broker(str(missing)).accounts()
    exc = info.value
    assert exc.exit_code == 5
    assert str(missing) in exc.message
    assert "may not be running" in exc.message
    assert "balancecli quantower bridge" in exc.next_step


VALID = json.loads((FIXTURES / "duplicate_ids.json").read_text())


def doc(**changes):
    body = json.loads(json.dumps(VALID))
    body["GeneratedAt"] = stamp()
    body.update(changes)
    return body


def with_account(**changes):
    account = {"Id": "A", "Name": "n", "ConnectionId": "c", "ConnectionName": "C",
               "AccountCurrency": "USD", "Balance": 1}
    account.update(changes)
    return doc(Accounts=[{k: v for k, v in account.items() if v is not ...}])


MALFORMED = [
    ("not json", "{not json", "is not valid"),
    ("truncated", '{"Format": "balancecli.quantower/1", "Accou', "is not valid"),
    ("nan", json.dumps(doc()).replace('"Balance": 50000', '"Balance": NaN'), "NaN"),
    ("array", "[]", "is a list, expected an object"),
    ("format v2", doc(Format="balancecli.quantower/2"), "Format 'balancecli.quantower/2'"),
    ("no format", doc(Format=None), "Format None"),
    ("no time", doc(GeneratedAt=None), "GeneratedAt is missing"),
    ("bad time", doc(GeneratedAt="yesterday"), "not an ISO 8601 time"),
    ("time number", doc(GeneratedAt=5), "GeneratedAt is a number, expected a string"),
    ("no accounts", doc(Accounts=None), "Accounts is null, expected a list"),
    ("accounts object", doc(Accounts={}), "Accounts is an object, expected a list"),
    ("account string", doc(Accounts=["A1"]), "Accounts[0] is a string"),
    ("no id", with_account(Id=...), "Id is missing"),
    ("id number", with_account(Id=7), "Id is a number, expected a string"),
    ("balance missing", with_account(Balance=...), "Balance is missing"),
    ("balance text", with_account(Balance="12.5"), "Balance is a string, expected a number"),
    ("balance bool", with_account(Balance=True), "Balance is a boolean"),
    ("name number", with_account(Name=3), "Name is a number, expected a string"),
    ("currency object", with_account(AccountCurrency={"Name": "USD"}),
     "AccountCurrency is an object"),
    ("balances object", with_account(Balances={}), "Balances is an object, expected a list"),
    ("coin no asset", with_account(Balances=[{"TotalBalance": 1}]),
     "Balances[0]: AssetId is missing"),
    ("coin text", with_account(Balances=[{"AssetId": "BTC", "TotalBalance": "1"}]),
     "TotalBalance is a string"),
    ("info object", with_account(AdditionalInfo={}), "AdditionalInfo is an object"),
    ("info no id", with_account(AdditionalInfo=[{"Value": 1}]), "AdditionalInfo[0]: Id is missing"),
]


@pytest.mark.parametrize("body,fragment", [(b, f) for _, b, f in MALFORMED],
                         ids=[name for name, _, _ in MALFORMED])
def test_malformed_export_is_a_bad_response(tmp_path, body, fragment):
    path = tmp_path / "export.json"
    path.write_text(body if isinstance(body, str) else json.dumps(body))
    with pytest.raises(BadResponseError) as info:
        broker(str(path)).accounts()
    exc = info.value
    assert (exc.kind, exc.exit_code) == ("bad_response", 6)
    assert fragment in exc.message
    assert str(path) in exc.message


def test_unknown_format_says_what_to_do(tmp_path):
    path = tmp_path / "export.json"
    path.write_text(json.dumps(doc(Format="balancecli.quantower/2")))
    with pytest.raises(BadResponseError) as info:
        broker(str(path)).accounts()
    assert "balancecli.quantower/1" in info.value.message
    assert "balancecli quantower bridge" in info.value.next_step


# ---------------------------------------------------------------- settings

def test_settings_and_secret_fields():
    assert Quantower.secret_fields({"source": "~/x.json"}) == ()
    assert Quantower.secret_fields({"source": "http://127.0.0.1:8787/"}) == ("TOKEN",)
    assert Quantower.secret_fields({"source": "https://localhost:8787/x"}) == ("TOKEN",)
    settings = Quantower.validate("qt", {"broker": "quantower", "source": " ~/e.json "})
    assert (settings["source"], settings["max_age"]) == ("~/e.json", 600)


@pytest.mark.parametrize("raw,fragment", [
    ({"source": "http://192.168.1.5:8787/"}, "127.0.0.1"),
    ({"source": "https://bridge.example.com/export"}, "127.0.0.1"),
    ({"source": "ftp://127.0.0.1/export.json"}, "file path"),
    ({"source": ""}, "file path"),
    ({"source": "~/x.json", "max_age": -1}, "max_age"),
    ({"source": "~/x.json", "max_age": "10"}, "max_age"),
    ({}, "source"),
])
def test_bad_settings_are_config_errors(raw, fragment):
    with pytest.raises(ConfigError) as info:
        Quantower.validate("qt", {"broker": "quantower", **raw})
    assert info.value.exit_code == 3
    assert fragment in info.value.message


# ---------------------------------------------------------------- http source

@pytest.fixture
def bridge_server():
    export = json.loads((FIXTURES / "crypto_many_assets.json").read_text(),
                        parse_float=Decimal)
    with FakeQuantowerBridge(token=TOKEN, export=export) as server:
        yield server


def test_http_source_with_bearer(bridge_server):
    b = broker(bridge_server.url + EXPORT_PATH, {"TOKEN": TOKEN})
    accounts, balances, assets = fetch(b)
    assert [a.account_id for a in accounts] == ["SPOT-7"]
    assert balances[0].available == D("1250.75")
    assert str(assets[1].total) == "0.30000000000000004"
    assert assets[2].value_btc == D("1.5E-20")
    calls = bridge_server.calls(EXPORT_PATH)
    assert len(calls) == 1  # read once for accounts, balances and assets
    assert calls[0].header("authorization") == f"Bearer {TOKEN}"


def test_http_stale_export(bridge_server):
    bridge_server.generated_at = stamp(datetime.now(UTC) - timedelta(minutes=30))
    with pytest.raises(StaleError, match="is 30 min old"):
        broker(bridge_server.url + EXPORT_PATH, {"TOKEN": TOKEN}, max_age=600).accounts()


def assert_no_token(exc: BalanceCliError, token: str = TOKEN) -> None:
    for text in (exc.message, exc.next_step or "", str(exc), json.dumps(exc.as_dict())):
        assert token not in text


def test_http_wrong_token_is_an_auth_error(bridge_server):
    wrong = "wrong-token-value-0123456789"
    with pytest.raises(AuthError) as info:
        broker(bridge_server.url + EXPORT_PATH, {"TOKEN": wrong}).accounts()
    exc = info.value
    assert (exc.kind, exc.exit_code, exc.http_status) == ("auth", 4, 401)
    assert "auth login qt" in exc.next_step
    assert_no_token(exc, wrong)
    assert_no_token(exc, TOKEN)


def test_http_missing_token(bridge_server):
    with pytest.raises(AuthError, match="missing credential TOKEN"):
        broker(bridge_server.url + EXPORT_PATH, {}).accounts()
    assert bridge_server.requests == []


@pytest.mark.parametrize("fault,kwargs,error,fragment", [
    ("status", {"status": 503}, UnavailableError, "may not be running"),
    ("html", {"status": 200}, BadResponseError, "is not valid"),
    ("truncated", {}, BadResponseError, "is not valid"),
    ("body", {"body": b'{"Format": "balancecli.quantower/1", "GeneratedAt": NaN}'},
     BadResponseError, "NaN"),
])
def test_http_faults(bridge_server, fault, kwargs, error, fragment):
    bridge_server.inject(fault, **kwargs)
    with pytest.raises(error) as info:
        broker(bridge_server.url + EXPORT_PATH, {"TOKEN": TOKEN}).accounts()
    assert fragment in info.value.message
    assert_no_token(info.value)


def test_http_wrong_path_is_a_broker_error(bridge_server):
    with pytest.raises(BrokerError, match="HTTP 404"):
        broker(bridge_server.url + "/other.json", {"TOKEN": TOKEN}).accounts()


def test_http_bridge_not_running():
    port = free_port()
    with pytest.raises(UnavailableError) as info:
        broker(f"http://127.0.0.1:{port}/", {"TOKEN": TOKEN}).accounts()
    exc = info.value
    assert "may not be running in Quantower" in exc.message
    assert "balancecli quantower bridge" in exc.next_step
    assert_no_token(exc)


def test_demo_profile_serves_a_fresh_export():
    with ExitStack() as stack:
        profile = demo_profile(stack, latency=0)
        assert profile.settings["max_age"] == 600
        assert profile.settings["source"].startswith("http://127.0.0.1:")
        assert profile.settings["source"].endswith(EXPORT_PATH)
        ctx = make_ctx("demo-qt", {**profile.settings, **FAST}, profile.secrets)
        b = Quantower(ctx)
        accounts = b.accounts()
        rows = b.balances(accounts).rows
    assert [a.account_id for a in accounts] == [
        "BN-SPOT-01", "rithmic-demo:RITHMIC-PAPER-7", "cqg-demo:RITHMIC-PAPER-7"]
    age = datetime.now(UTC) - datetime.fromisoformat(rows[0].as_of)
    assert abs(age.total_seconds()) < 5
    assert profile.secrets == {"TOKEN": DEMO_TOKEN}


# ---------------------------------------------------------------- the bridge command

def test_bridge_command_prints_the_source():
    from balancecli.brokers.quantower.bridge import bridge_source

    result = run_cli("quantower", "bridge")
    assert result.returncode == 0
    assert result.stdout == bridge_source() == BRIDGE_CS.read_text()
    assert "class BalanceCliBridge : Strategy" in result.stdout
    assert "Strategies manager" in result.stderr  # install steps go to stderr


def test_bridge_command_writes_a_file(tmp_path):
    out = tmp_path / "BalanceCliBridge.cs"
    result = run_cli("quantower", "bridge", "--output", str(out))
    assert result.returncode == 0
    assert out.read_text() == BRIDGE_CS.read_text()
    assert result.stdout == ""
    assert f"wrote {out}" in result.stderr


def test_bridge_command_cannot_write_is_a_usage_error(tmp_path):
    out = tmp_path / "missing" / "BalanceCliBridge.cs"
    result = run_cli("quantower", "bridge", "-o", str(out))
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == (f"error: --output: cannot write {out}: No such file or directory "
                             "(run: balancecli quantower bridge --help)\n")


# ---------------------------------------------------------------- the C# bridge under mono

@pytest.fixture(scope="session")
def harness() -> Path:
    return build_harness()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def errors_of(b: Quantower) -> list[tuple[str, str | None, str]]:
    """(kind, account id, message) of what checked_accounts() reports besides the accounts."""
    return [(e.kind, e.account_id, e.message) for e in b.checked_accounts()[1]]


IB_UNKNOWN = ("unavailable", None, "Quantower connection 'Interactive Brokers' (ib) is "
              "Disconnected: its accounts are not in the export (which ones is not known: the "
              "bridge has not seen it connected since it started)")
UNREADABLE = "the Quantower bridge could not read this account: "


@pytest.mark.mono
def test_bridge_export_read_by_the_fetcher(harness, tmp_path):
    export = tmp_path / "out" / "balancecli-export.json"
    done = mono(harness, "once", str(export))
    assert done.returncode == 0, done.stderr
    # One failing account is exported with an Error, not skipped, and not the whole export.
    assert "Account binance:BROKEN exported with an error: reading the account failed " \
           "(InvalidOperationException)" in done.stderr
    raw = export.read_bytes()
    raw.decode("ascii")  # non-ASCII is \u-escaped
    text = raw.decode()
    for private in ("trader@example.com", "joe@example.com", "Joe Trader", "555", "xxxxx",
                    "hiddenMargin", "invisibleMargin", "U1234567", "ORPHAN", "trader42",
                    "TRADER42", "s3cret-password", "paper.example.net"):
        assert private not in text, private
    assert sorted(p.name for p in export.parent.iterdir()) == ["balancecli-export.json"]
    # "R" format, invariant culture (the harness runs under de-DE); NaN/Infinity as null.
    for written in ('"Balance": 1250.75', '"TotalBalance": 0.30000000000000004',
                    '"TotalBalance": 1E-08', '"TotalInBTC": 1.5E-20', '"TotalInUSD": null',
                    '"TotalInUSD": 48000}', '"Value": null', '"Balance": -12.5'):
        assert written in text
    document = json.loads(text)
    assert (document["Format"], document["Revision"]) == ("balancecli.quantower/1", 2)
    assert [i["Id"] for i in document["Accounts"][0]["AdditionalInfo"]] == [
        "marginBalance", "leverage", "unrealizedPnl", "status", "creationTime"]
    assert document["Accounts"][0]["AdditionalInfo"][4]["Value"] == "2021-03-04T05:06:07Z"
    by_id = {(a["ConnectionId"], a["Id"]): a for a in document["Accounts"]}
    # HitBTC sets neither Balance nor a currency: null, not the property's 0.
    assert (by_id["hitbtc", "HitBTC"]["Balance"], by_id["hitbtc", "HitBTC"]["AccountCurrency"]) \
        == (None, None)
    assert by_id["binance", "STUCK"] == {
        "Id": "STUCK", "Name": None, "ConnectionId": "binance", "ConnectionName": "Binance",
        "AccountCurrency": None, "Balance": None, "AdditionalInfo": [],
        "Error": "its crypto balances kept changing while being copied "
                 "(InvalidOperationException, 5 attempts)"}
    assert document["Connections"] == [
        {"Id": "binance", "Name": "Binance", "State": "Connected", "Type": "General"},
        {"Id": "rithmic", "Name": 'Rithmic "Paper"', "State": "Connected", "Type": "General"},
        {"Id": "cqg", "Name": "CQG", "State": "Connected", "Type": "General"},
        {"Id": "ib", "Name": "Interactive Brokers", "State": "Disconnected", "Type": "General",
         "Accounts": None},
        {"Id": "ib-live", "Name": "IB live", "State": "Connected", "Type": "General"},
        {"Id": "dxfeed", "Name": "dxFeed", "State": "Connected", "Type": "General"},
        {"Id": "backtester", "Name": "Backtester", "State": "Disconnected",
         "Type": "Backtester", "Accounts": None},
        {"Id": "hitbtc", "Name": "HitBTC", "State": "Connected", "Type": "General"},
        {"Id": "kraken", "Name": "Kraken", "State": "Connected", "Type": "General"},
    ]

    b = broker(str(export))
    accounts = b.accounts()
    crypto_extra = {"ConnectionId": "binance", "ConnectionName": "Binance",
                    "marginBalance": D("1200.5"), "leverage": D("10")}
    # The connection's login ("trader42" in its settings) is cut out of the names.
    futures_name = 'Futures "Main"\\\n\tMüller € \U0001F600'
    assert [row_dict(a) for a in accounts] == [
        acct("A1", "Main", "crypto", "USDT", crypto_extra),
        acct("BUSY", "Busy", "crypto", "USDT", {"ConnectionId": "binance",
                                                "ConnectionName": "Binance"}),
        acct("rithmic:F-100", futures_name, None, "USD",
             {"ConnectionId": "rithmic", "ConnectionName": 'Rithmic "Paper"'}),
        acct("cqg:F-100", "CQG eval", None, None, {"ConnectionId": "cqg", "ConnectionName": "CQG"}),
        acct("HitBTC", "HitBTC", "crypto", None, {"ConnectionId": "hitbtc",
                                                  "ConnectionName": "HitBTC"}),
        acct("U7654321", "Live", None, "USD", {"ConnectionId": "ib-live",
                                               "ConnectionName": "IB live"}),
        acct("K-1", "Kraken spot", None, "EUR", {"ConnectionId": "kraken",
                                                 "ConnectionName": "Kraken"}),
    ]
    assert errors_of(b) == [
        ("unavailable", "BROKEN", UNREADABLE + "reading the account failed "
                                               "(InvalidOperationException)"),
        ("unavailable", "STUCK", UNREADABLE + "its crypto balances kept changing while being "
                                              "copied (InvalidOperationException, 5 attempts)"),
        IB_UNKNOWN,  # the backtester's connection is not reported
    ]
    as_of = document["GeneratedAt"]
    assert abs((datetime.now(UTC) - datetime.fromisoformat(as_of)).total_seconds()) < 60
    balances = b.balances(accounts)
    assert [(r.account_id, r.available, r.currency, r.as_of) for r in balances.rows] == [
        ("A1", D("1250.75"), "USDT", as_of), ("BUSY", D("10"), "USDT", as_of),
        ("rithmic:F-100", D("100000.25"), "USD", as_of), ("HitBTC", None, None, as_of),
        ("U7654321", D("5000"), "USD", as_of), ("K-1", D("75.5"), "EUR", as_of)]
    assert [(e.kind, e.account_id) for e in balances.errors] == [("bad_response", "cqg:F-100")]
    assets = b.assets(accounts)
    assert [row_dict(r) for r in assets.rows] == [
        asset("A1", "BTC", D("0.5"), D("0.4"), D("0.1"), D("48000"), D("0.5")),
        asset("A1", "ETH", D("0.30000000000000004"), D("0.30000000000000004"), D("0"),
              D("1234.5678"), D("0.0123456789012345")),
        asset("A1", "SHIB", D("1E-08"), D("1E-08"), D("0"), None, D("1.5E-20")),
        asset("A1", "USDT", D("1250.75"), D("1250.75"), D("0"), D("1250.75"), None),
        # Its Balances were read on the third try (the first two threw).
        asset("BUSY", "BTC", D("0.125"), D("0.125"), D("0"), D("12000"), D("0.125")),
        asset("rithmic:F-100", "USD", available=D("100000.25")),
        asset("HitBTC", "BTC", D("0.01"), D("0.01"), D("0"), D("960"), D("0.01")),
        asset("U7654321", "USD", available=D("5000")),
        asset("K-1", "EUR", available=D("75.5")),
    ]
    assert [(e.kind, e.account_id) for e in assets.errors] == [("bad_response", "cqg:F-100")]
    assert str(assets.rows[1].total) == "0.30000000000000004"

    # A second run replaces the file in place (File.Replace) and leaves no temp file behind.
    assert mono(harness, "once", str(export)).returncode == 0
    assert sorted(p.name for p in export.parent.iterdir()) == ["balancecli-export.json"]
    assert json.loads(export.read_text())["Format"] == "balancecli.quantower/1"


@pytest.mark.mono
def test_bridge_names_the_accounts_of_connections_that_dropped(harness, tmp_path):
    export = tmp_path / "balancecli-export.json"
    done = mono(harness, "drop", str(export))
    assert done.returncode == 0, f"exit {done.returncode}: {done.stderr}"
    document = json.loads(export.read_text())
    states = {c["Id"]: (c["State"], c.get("Accounts", "-")) for c in document["Connections"]}
    assert states == {
        "binance": ("Connected", "-"), "rithmic": ("Connected", "-"), "cqg": ("Connected", "-"),
        "ib": ("Disconnected", None), "ib-live": ("ConnectionLost", ["U7654321"]),
        "dxfeed": ("Disconnected", []), "backtester": ("Disconnected", None),
        "hitbtc": ("Connected", "-"), "kraken": ("Disconnected", ["K-1"])}
    ids = [a["Id"] for a in document["Accounts"]]
    assert "U7654321" not in ids and "K-1" not in ids  # Quantower no longer lists them
    b = broker(str(export))
    assert errors_of(b)[2:] == [
        IB_UNKNOWN,
        ("unavailable", None, "Quantower connection 'IB live' (ib-live) is ConnectionLost: "
                              "account U7654321 is not in the export"),
        # dxFeed held no account: nothing is missing.
        ("unavailable", None, "Quantower connection 'Kraken' (kraken) is Disconnected: "
                              "account K-1 is not in the export"),
    ]


@pytest.mark.mono
def test_bridge_reexports_on_account_events(harness, tmp_path):
    export = tmp_path / "balancecli-export.json"
    done = mono(harness, "update", str(export))
    assert done.returncode == 0, f"exit {done.returncode}: {done.stderr}"
    b = broker(str(export))
    accounts = b.accounts()
    balances = {r.account_id: r.available for r in b.balances(accounts).rows}
    assert balances["rithmic:F-100"] == D("99999.5")
    assert b.assets(accounts).rows[0].total == D("0.75")


@pytest.mark.mono
def test_bridge_http_mode_requires_the_bearer(harness, tmp_path):
    import requests

    port = free_port()
    token = "mono-bridge-token-9f8e7d6c5b4a"
    proc = subprocess.Popen(["mono", str(harness), "serve", "-", str(port), token],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "READY"
        url = f"http://127.0.0.1:{port}/"
        for headers in ({}, {"Authorization": "Bearer wrong"},
                        {"Authorization": f"Bearer {token}x"}, {"Authorization": token},
                        {"Authorization": f"Basic {token}"}):
            reply = requests.get(url, headers=headers, timeout=5)
            assert reply.status_code == 401, headers
            assert reply.headers["WWW-Authenticate"].startswith("Bearer")
            assert token not in reply.text
        reply = requests.post(url, headers={"Authorization": f"Bearer {token}"}, timeout=5)
        assert reply.status_code == 405

        b = broker(url + "balancecli-export.json", {"TOKEN": token})
        accounts = b.accounts()
        assert [a.account_id for a in accounts] == [
            "A1", "BUSY", "rithmic:F-100", "cqg:F-100", "HitBTC", "U7654321", "K-1"]
        assert [r.available for r in b.balances(accounts[:3]).rows] == [
            D("1250.75"), D("10"), D("100000.25")]
        assert b.assets(accounts[:1]).rows[2].total == D("1E-08")
        assert errors_of(b)[-1] == IB_UNKNOWN

        with pytest.raises(AuthError) as info:
            broker(url, {"TOKEN": "not-the-bridge-token"}).accounts()
        assert_no_token(info.value, token)
        assert_no_token(info.value, "not-the-bridge-token")
    finally:
        proc.stdin.close()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, proc.stderr.read()


# ---------------------------------------------------------------- the installed command

def test_cli_demo_assets_json():
    done = run_cli("--demo", "assets", "-p", "demo-qt", "-f", "json")
    assert done.returncode == 0, done.stderr
    body = json.loads(done.stdout, parse_float=Decimal)
    assert body["schema"] == "balancecli.assets/1"
    assert body["errors"] == []
    rows = [(r["account_id"], r["asset"], r["total"], r["available"]) for r in body["assets"]]
    assert rows == [
        ("BN-SPOT-01", "BTC", D("0.5"), D("0.4")),
        ("BN-SPOT-01", "ETH", D("2.3000000000000003"), D("2.3000000000000003")),
        ("BN-SPOT-01", "USDT", D("1250.75"), D("1250.75")),
        ("rithmic-demo:RITHMIC-PAPER-7", "USD", None, D("100000.25")),
        ("cqg-demo:RITHMIC-PAPER-7", "USD", None, D("49875.5")),
    ]
    assert '"total": 2.3000000000000003' in done.stdout
    assert DEMO_TOKEN not in done.stdout + done.stderr


def write_config(tmp_path: Path, source: Path, max_age: int = 600) -> Path:
    config = tmp_path / "config.toml"
    config.write_text(
        f'[profiles.qt]\nbroker = "quantower"\nsource = "{source.as_posix()}"\n'
        f"max_age = {max_age}\n")
    return config


def test_cli_file_profile_balance(tmp_path):
    path, when = write_export(tmp_path, "futures_no_balances.json")
    config = write_config(tmp_path, path)
    done = run_cli("balance", "-p", "qt", "-f", "json", "--config", str(config))
    assert done.returncode == 0, done.stderr
    body = json.loads(done.stdout, parse_float=Decimal)
    assert [(r["account_id"], r["available"], r["as_of"]) for r in body["balances"]] == [
        ("F-100", D("100000.25"), when)]


def test_cli_stale_file_profile_exits_5(tmp_path):
    old = stamp(datetime.now(UTC) - timedelta(hours=3))
    path, _ = write_export(tmp_path, "futures_no_balances.json", generated_at=old)
    config = write_config(tmp_path, path)
    done = run_cli("balance", "-p", "qt", "--config", str(config))
    assert done.returncode == 5, done.stderr
    assert "qt" in done.stderr
    assert "3 h 0 min old" in done.stderr
    assert "may not be running in Quantower" in done.stderr
    assert "balancecli quantower bridge" in done.stderr
    assert "old" not in done.stdout and "Quantower" not in done.stdout
    assert "Traceback" not in done.stderr
    done = run_cli("balance", "-p", "qt", "-f", "json", "--config", str(config))
    assert done.returncode == 5, done.stderr
    body = json.loads(done.stdout)
    assert body["balances"] == []
    assert [(e["profile"], e["kind"]) for e in body["errors"]] == [("qt", "stale")]


def test_cli_http_profile_token_from_env(tmp_path, bridge_server):
    config = tmp_path / "config.toml"
    config.write_text(f'[profiles.qt]\nbroker = "quantower"\n'
                      f'source = "{bridge_server.url}{EXPORT_PATH}"\nmax_retries = 0\n')
    done = run_cli("accounts", "-p", "qt", "-f", "json", "--config", str(config),
                   env={"BALANCECLI_QT_TOKEN": TOKEN})
    assert done.returncode == 0, done.stderr
    assert [a["account_id"] for a in json.loads(done.stdout)["accounts"]] == ["SPOT-7"]
    wrong = "wrong-token-value-0123456789"
    done = run_cli("-v", "accounts", "-p", "qt", "--config", str(config),
                   env={"BALANCECLI_QT_TOKEN": wrong})
    assert done.returncode == 4, done.stderr
    assert "rejected the token" in done.stderr
    assert wrong not in done.stdout + done.stderr
