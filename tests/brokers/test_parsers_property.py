"""Property: whatever a broker sends, its parsers return models or raise BalanceCliError.
Generated payloads (random JSON-like structures around each API's field names, odd numbers,
wrong types, deep nesting, raw bytes) go to every broker's parsing code: the broker's own
request method is replaced by one returning the payload, so everything after the HTTP layer
runs as in production. Hostile text (surrogates, controls, bidi characters) in every text
field goes further: over the wire as JSON, then through every output format and the store."""

from __future__ import annotations

import dataclasses
import json
import re
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from balancecli.brokers.base import Result
from balancecli.brokers.etna import Etna
from balancecli.brokers.longport.broker import LongPort
from balancecli.brokers.longport.sign import read_envelope
from balancecli.brokers.quantower.broker import Quantower
from balancecli.brokers.tradestation.broker import TradeStation
from balancecli.core.errors import BalanceCliError
from balancecli.core.jsonread import loads
from balancecli.core.models import MONEY_FIELDS, Account, Asset, Balance
from balancecli.net.http import Response
from balancecli.output.table import printable
from tests.support.config import make_ctx

SETTINGS = settings(max_examples=120, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow,
                                           HealthCheck.function_scoped_fixture])

# Field names the parsers look for, so that generated objects reach deep into them.
KEYS = ["AccountID", "Alias", "AccountType", "Currency", "Status", "Accounts", "Balances",
        "Errors", "Error", "Message", "CashBalance", "BuyingPower", "Equity", "MarketValue",
        "BalanceDetail", "CurrencyDetails", "AccountConversionRate", "UnrealizedProfitLoss",
        "Key", "Name", "TypeDescription", "StatusDescription", "RealTimeAccountBalance",
        "RealTimeEquity", "RealTimeCashBalance", "ToAccountConversionRate",
        "Id", "ClearingAccount", "MarginType", "Enabled", "Owners", "Email", "cash", "excess",
        "equityTotal", "openPL", "code", "message", "data", "list", "currency", "total_cash",
        "net_assets", "cash_infos", "available_cash", "withdraw_cash", "frozen_cash",
        "Format", "GeneratedAt", "ConnectionId", "Balance", "AdditionalInfo", "Value",
        "AssetId", "TotalBalance", "AvailableBalance", "userPnl", "x"]

odd_text = st.sampled_from([
    "", " ", "1_000", "١٢٣", "１２３", "1e-999999999", "1E+999999", "NaN", "-0", "0.0",
    "12.50", "1" * 120, "\x1b[2J", "USD", "HKD", "2026-11-21T19:00:00Z", "balancecli.quantower/1",
    "A1", "11827391", "abc", "💰", "Bearer x", "0001-01-01T00:00:00+01:00",
])
numbers = st.one_of(
    st.integers(min_value=-(10 ** 30), max_value=10 ** 30),
    st.sampled_from([10 ** 150, -(10 ** 150), 0]),
    st.decimals(allow_nan=True, allow_infinity=True),
    st.sampled_from([Decimal("1E+400"), Decimal("1E-400"), Decimal("0E-500"),
                     Decimal("1.7976931348623157E+308"), Decimal("-0")]),
    st.floats(allow_nan=True, allow_infinity=True),
)
scalars = st.one_of(st.none(), st.booleans(), numbers, odd_text, st.text(max_size=20))
json_like = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.one_of(st.sampled_from(KEYS), st.text(max_size=8)), children,
                        max_size=6),
    ),
    max_leaves=30,
)


def objects_with(keys: list[str]) -> st.SearchStrategy:
    """Objects that mostly carry the given keys, with odd values."""
    return st.fixed_dictionaries({}, optional={k: json_like for k in keys})


def check_rows(rows: list) -> None:
    for row in rows:
        assert isinstance(row, Account | Balance | Asset), row
        assert isinstance(row.account_id, str) and row.account_id
        for name in MONEY_FIELDS[type(row)]:
            value = getattr(row, name)
            assert value is None or (isinstance(value, Decimal) and value.is_finite()), value
        json.dumps(row.extra, default=str)  # extra stays plain data


def check_result(result: Result) -> None:
    check_rows(result.rows)
    check_rows(result.assets)
    assert all(isinstance(e, BalanceCliError) for e in result.errors)


def exercise(broker) -> None:
    """accounts, then balances, assets and snapshot of whatever accounts came out."""
    try:
        accounts, rejected = broker.checked_accounts()
    except BalanceCliError:
        return
    check_rows(accounts)
    assert all(isinstance(e, BalanceCliError) for e in rejected)
    for call in (broker.balances, broker.assets):
        try:
            check_result(call(accounts))
        except BalanceCliError:
            pass
    try:
        balances, assets = broker.snapshot(accounts)
    except BalanceCliError:
        return
    check_result(balances)
    check_result(assets)


# -- TradeStation v3 and v2


def ts_broker(api: str, payloads: list) -> TradeStation:
    settings_ = {"broker": "tradestation", "api": api, "base_url": "https://127.0.0.1:9",
                 "user_id": "u"}
    if api == "v3":
        settings_.pop("user_id")
    b = TradeStation(make_ctx("ts", settings_, {"ACCESS_TOKEN": "t" * 10}))
    replies = iter(payloads)
    b._get = lambda path, query="": next(replies, payloads[-1])  # type: ignore[method-assign]
    return b


ts_account = objects_with(["AccountID", "Alias", "AccountType", "Currency", "Status", "Key",
                           "Name", "TypeDescription", "StatusDescription", "x"])
ts_balance = objects_with(["AccountID", "Key", "CashBalance", "BuyingPower", "Equity",
                           "BalanceDetail", "CurrencyDetails", "RealTimeAccountBalance",
                           "RealTimeEquity", "MarketValue", "Errors", "x"])


@SETTINGS
@given(api=st.sampled_from(["v3", "v2"]),
       accounts=st.one_of(json_like, st.fixed_dictionaries({"Accounts": st.lists(ts_account,
                                                                                  max_size=4)}),
                          st.lists(ts_account, max_size=4)),
       balances=st.one_of(json_like, ts_balance,
                          st.fixed_dictionaries({"Balances": st.lists(ts_balance, max_size=4),
                                                 "Errors": json_like}),
                          st.lists(ts_balance, max_size=4)))
def test_tradestation_parsers(api, accounts, balances):
    exercise(ts_broker(api, [accounts, balances]))


# -- ETNA


etna_account = objects_with(["Id", "Alias", "ClearingAccount", "MarginType", "Enabled",
                             "Owners", "Email", "x"])
etna_info = objects_with(["cash", "excess", "equityTotal", "openPL", "stockBuyingPower",
                          "marketValue", "x", "Email"])


@SETTINGS
@given(accounts=st.one_of(json_like, st.lists(etna_account, max_size=4)),
       info=st.one_of(json_like, etna_info))
def test_etna_parsers(accounts, info):
    b = Etna(make_ctx("etna", {"broker": "etna", "base_url": "https://127.0.0.1:9/api"},
                      {"APP_KEY": "k" * 8, "USERNAME": "u", "PASSWORD": "p" * 8,
                       "TOKEN": "t" * 10}))
    b._get = lambda path, what: accounts if path.endswith("accounts") else info  # type: ignore
    exercise(b)


# -- LongPort


lp_cash = objects_with(["currency", "available_cash", "withdraw_cash", "frozen_cash",
                        "settling_cash", "x"])
lp_entry = st.fixed_dictionaries({}, optional={
    "currency": json_like, "total_cash": json_like, "net_assets": json_like,
    "buy_power": json_like, "cash_infos": st.one_of(json_like, st.lists(lp_cash, max_size=3)),
    "x": json_like})


@SETTINGS
@given(data=st.one_of(json_like, st.fixed_dictionaries(
    {"list": st.one_of(json_like, st.lists(lp_entry, max_size=3))})),
       currency=st.sampled_from([None, "HKD", "usd"]))
def test_longport_parsers(data, currency):
    b = LongPort(make_ctx("lp", {"broker": "longport", "auth": "apikey",
                                 "base_url": "https://127.0.0.1:9"},
                          {"APP_KEY": "k" * 8, "APP_SECRET": "s" * 8, "ACCESS_TOKEN": "t" * 8},
                          currency=currency))

    # _get returns the envelope's data, which read_envelope guarantees to be an object.
    if isinstance(data, dict):
        b._get = lambda path, params: data  # type: ignore[method-assign]
        exercise(b)


@SETTINGS
@given(body=st.one_of(json_like, st.fixed_dictionaries({"code": json_like,
                                                        "message": json_like,
                                                        "data": json_like})),
       status=st.sampled_from([200, 400, 401, 403, 429, 500]))
def test_longport_envelope(body, status):
    try:
        text = json.dumps(body, default=str, allow_nan=True).encode()
    except (ValueError, OverflowError):
        return
    response = Response(status, {"Content-Type": "application/json"}, text, "https://x/")
    try:
        data = read_envelope(response, oauth=False, profile="lp")
    except BalanceCliError:
        return
    assert isinstance(data, dict)


# -- Quantower


qt_coin = objects_with(["AssetId", "TotalBalance", "AvailableBalance", "ReservedBalance",
                        "TotalInUSD", "TotalInBTC", "x"])
qt_info = objects_with(["Id", "Value", "NameKey", "Hidden"])
qt_account = st.fixed_dictionaries({"Id": st.one_of(odd_text, json_like)}, optional={
    "Name": json_like, "ConnectionId": st.one_of(odd_text, json_like),
    "AccountCurrency": json_like, "Balance": json_like,
    "Balances": st.one_of(json_like, st.lists(qt_coin, max_size=3)),
    "AdditionalInfo": st.one_of(json_like, st.lists(qt_info, max_size=3)), "Email": json_like})
qt_document = st.fixed_dictionaries({
    "Format": st.sampled_from(["balancecli.quantower/1", "balancecli.quantower/1", "x", None]),
    "GeneratedAt": st.one_of(odd_text, st.just("2026-01-01T00:00:00Z"), json_like),
    "Accounts": st.one_of(json_like, st.lists(qt_account, max_size=4))})


@SETTINGS
@given(document=st.one_of(json_like, qt_document))
def test_quantower_parsers(document):
    b = Quantower(make_ctx("qt", {"broker": "quantower", "source": "/nonexistent/export.json",
                                  "max_age": 0}, {}))
    try:
        b._export = b._parse(document)
    except BalanceCliError:
        return
    exercise(b)


# -- raw bytes into the JSON reader


@settings(max_examples=300, deadline=None)
@given(raw=st.one_of(
    st.binary(max_size=200),
    st.text(alphabet='[]{}",:0123456789.eE+-\\ntrufalsNI ', max_size=200).map(str.encode),
    st.integers(min_value=1, max_value=5000).map(lambda n: b"[" * n + b"]" * n),
))
def test_loads_returns_data_or_a_bad_response(raw):
    try:
        loads(raw)
    except BalanceCliError:
        pass


@pytest.mark.parametrize("broker", ["tradestation", "etna"])
def test_the_property_test_reaches_real_rows(broker):
    """A sanity check that the harness itself works: a well-formed payload gives rows."""
    if broker == "tradestation":
        b = ts_broker("v3", [{"Accounts": [{"AccountID": "A", "Currency": "USD"}]},
                             {"Balances": [{"AccountID": "A", "CashBalance": "1.5"}]}])
        rows = b.balances(b.accounts()).rows
    else:
        b = Etna(make_ctx("etna", {"broker": "etna", "base_url": "https://127.0.0.1:9/api"},
                          {"APP_KEY": "k" * 8, "USERNAME": "u", "PASSWORD": "p" * 8,
                           "TOKEN": "t" * 10}))
        b._get = lambda path, what: [{"Id": 1}] if path.endswith("accounts") else {"cash": 2}
        rows = b.balances(b.accounts()).rows
    assert [r.cash for r in rows] == [Decimal("1.5") if broker == "tradestation" else Decimal(2)]


# -- hostile text: every text field, through every output format and the store
#
# Each broker's payload carries generated text in every field the parsers read as text (ids,
# names, types, statuses, currencies, assets, error messages, and unknown keys that land in
# ``extra``): lone surrogates, C0 and C1 controls, escape sequences, bidi overrides and
# isolates, line and paragraph separators, a BOM. The payload goes over the wire as JSON text,
# either way a broker may write a surrogate (as a \ud800 escape, or its raw UTF-8 bytes), and
# is read by the same reader as a real answer. Whatever comes out is written by every output
# format and the history store, and read back: nothing may raise but a BalanceCliError, every
# text must encode as UTF-8, and nothing a terminal acts on may come out raw on a terminal.

SPECIAL = ["\ud800", "\udfff", "\udc80", "\ud83d", "\x00", "\x07", "\x1b[2J", "\x1b]8;;http://x\x1b\\",
           "\r\n", "\n", "\t", "\x85", "\x9b", "\x7f", "\u202e", "\u202d", "\u2066", "\u2069",
           "\u200f", "\u061c", "\u2028", "\u2029", "\ufeff", "\ufffd", "💰", "日本", '"', ",", "\\",
           "=1+1", " "]
hostile_char = st.one_of(
    st.sampled_from(SPECIAL),
    st.characters(categories=["Cs", "Cc", "Cf", "Zl", "Zp", "Mn"]),
    st.characters(min_codepoint=0x20, max_codepoint=0x7e),
)
hostile_text = st.lists(hostile_char, min_size=1, max_size=8).map("".join)
hostile_id = st.one_of(hostile_text, st.just("A1"))
wire = st.sampled_from(["escaped", "raw"])

# What a terminal (or a JSON reader) would act on, and must therefore never come out raw.
TERMINAL_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e"
                             "\u2066-\u2069\ud800-\udfff]")
JSON_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
                         "\u2028\u2029\ud800-\udfff]")


def on_the_wire(payload, how: str):
    """``payload`` as a broker sends it and the bounded reader reads it."""
    if how == "escaped":
        raw = json.dumps(payload).encode()  # a surrogate as a \ud800 escape
    else:
        raw = json.dumps(payload, ensure_ascii=False).encode("utf-8", "surrogatepass")
    return loads(raw)


def encodes(text: str) -> str:
    text.encode("utf-8")  # strict: a lone surrogate raises
    return text


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    from balancecli.history import Store

    with Store.open(tmp_path_factory.mktemp("history") / "history.sqlite3") as opened:
        yield opened


def through_every_output(store, accounts, balances, assets, errors) -> None:
    from datetime import UTC, datetime

    from balancecli.output import exports, render
    from balancecli.output.console import error_line
    from balancecli.output.specs import ACCOUNTS, ASSETS, AT, BALANCE
    from balancecli.output.table import render as draw

    for spec, rows in ((ACCOUNTS, accounts), (BALANCE, balances), (ASSETS, assets)):
        document = encodes(render.to_json(spec, rows, errors, "2026-01-01T00:00:00Z"))
        assert not JSON_UNSAFE.search(document.replace("\n", ""))
        json.loads(document)
        lines = encodes(render.to_jsonl(rows))
        assert not JSON_UNSAFE.search(lines.replace("\n", ""))
        for line in lines.splitlines():
            json.loads(line)
        encodes(render.to_csv(spec, rows))
        for width in (80, None):
            drawn = encodes(draw(render.table(spec, rows), width=width).text)
            assert not TERMINAL_UNSAFE.search(drawn)
    for error in errors:
        line = encodes(error_line(error))
        assert not TERMINAL_UNSAFE.search(printable(line))
    for write in (exports.beancount, exports.ledger):
        try:
            encodes(write("balance", balances, exports.AccountNames(), "2026-01-01T00:00:00Z"))
        except BalanceCliError:
            pass
    encodes(exports.openmetrics(balances, assets, up={}, seconds=0.0))
    # The store: written, then read back and shown again.
    started = datetime.now(UTC)
    store.record_run(started_at=started, finished_at=started, profiles=["p"],
                     balances=balances, assets=assets, errors=errors)
    stored = [s.row for s in store.balances_at(started)]
    encodes(render.to_json(AT, stored, [], "2026-01-01T00:00:00Z"))
    encodes(draw(render.table(AT, stored), width=80).text)
    encodes(render.to_csv(ASSETS, [s.row for s in store.assets_at(started)]))
    for point in store.iter_series("equity", since=started):
        encodes(json.dumps([point.profile, point.account_id, point.currency],
                           ensure_ascii=False))
    assert not store.damage, store.damage.errors(store.path)
    encodes(json.dumps([r.errors for r in store.runs(limit=1)], ensure_ascii=False))


def hostile_run(broker, store) -> None:
    """The broker's accounts, balances and assets, then every output and the store."""
    try:
        accounts, rejected = broker.checked_accounts()
    except BalanceCliError as exc:
        through_every_output(store, [], [], [], [exc])
        return
    errors = list(rejected)
    balances, assets = [], []
    for call, out in ((broker.balances, balances), (broker.assets, assets)):
        try:
            result = call(accounts)
        except BalanceCliError as exc:
            errors.append(exc)
            continue
        out += result.rows
        errors += result.errors
    event(f"{len(accounts)} accounts, {len(balances)} balances, {len(assets)} assets")
    for row in (*accounts, *balances, *assets):
        for field in dataclasses.fields(row):
            value = getattr(row, field.name)
            if isinstance(value, str):
                encodes(value)  # where it entered, it became text
    through_every_output(store, accounts, balances, assets, errors)


@SETTINGS
@given(ident=hostile_id, text=hostile_text, other=hostile_text, how=wire)
def test_tradestation_hostile_text(store, ident, text, other, how):
    accounts = {"Accounts": [{"AccountID": ident, "Alias": text, "AccountType": other,
                              "Currency": other, "Status": text, text: other}]}
    balances = {"Balances": [{"AccountID": ident, "CashBalance": "1.5", "Equity": "2",
                              "CurrencyDetails": [{"Currency": text, "CashBalance": "1"}],
                              other: text}],
                "Errors": [{"AccountID": text, "Error": other, "Message": text}]}
    b = ts_broker("v3", [on_the_wire(accounts, how), on_the_wire(balances, how)])
    hostile_run(b, store)


@SETTINGS
@given(ident=hostile_id, text=hostile_text, other=hostile_text, how=wire)
def test_etna_hostile_text(store, ident, text, other, how):
    accounts = on_the_wire([{"Id": ident, "Alias": text, "ClearingAccount": other,
                             "MarginType": other, "Enabled": True, text: other}], how)
    info = on_the_wire({"cash": 1, "equityTotal": 2, text: other, "note": other}, how)
    b = Etna(make_ctx("etna", {"broker": "etna", "base_url": "https://127.0.0.1:9/api",
                               "currency": "USD"},
                      {"APP_KEY": "k" * 8, "USERNAME": "u", "PASSWORD": "p" * 8,
                       "TOKEN": "t" * 10}))
    b._get = lambda path, what: accounts if path.endswith("accounts") else info  # type: ignore
    hostile_run(b, store)


@SETTINGS
@given(text=hostile_text, other=hostile_text, how=wire)
def test_longport_hostile_text(store, text, other, how):
    data = on_the_wire({"list": [{"currency": text, "total_cash": "1", "net_assets": "2",
                                  "cash_infos": [{"currency": other, "available_cash": "1"},
                                                 {"currency": text, "frozen_cash": "0"}],
                                  other: text}]}, how)
    b = LongPort(make_ctx("lp", {"broker": "longport", "auth": "apikey",
                                 "base_url": "https://127.0.0.1:9"},
                          {"APP_KEY": "k" * 8, "APP_SECRET": "s" * 8, "ACCESS_TOKEN": "t" * 8}))
    b._get = lambda path, params: data  # type: ignore[method-assign]
    hostile_run(b, store)


@SETTINGS
@given(ident=hostile_id, text=hostile_text, other=hostile_text, how=wire)
def test_quantower_hostile_text(store, ident, text, other, how):
    document = on_the_wire({
        "Format": "balancecli.quantower/1", "GeneratedAt": "2026-01-01T00:00:00Z",
        "Accounts": [{"Id": ident, "Name": text, "ConnectionId": other,
                      "AccountCurrency": other, "Balance": 5,
                      "Balances": [{"AssetId": text, "TotalBalance": 1}],
                      "AdditionalInfo": [{"Id": text, "Value": other, "NameKey": other}],
                      text: other}]}, how)
    b = Quantower(make_ctx("qt", {"broker": "quantower", "source": "/nonexistent/export.json",
                                  "max_age": 0}, {}))
    try:
        b._export = b._parse(document)
    except BalanceCliError as exc:
        through_every_output(store, [], [], [], [exc])
        return
    hostile_run(b, store)


def test_hostile_text_reaches_the_rows_as_text(store):
    """The harness reaches the text fields: a lone surrogate (escaped or raw) in a name comes
    out as U+FFFD, and a bidi override is kept in the model but escaped in what is shown."""
    from balancecli.output import render
    from balancecli.output.specs import BALANCE

    for how in ("escaped", "raw"):
        accounts = {"Accounts": [{"AccountID": "A", "Alias": "x\ud800y\u202e", "Currency": "USD"}]}
        balances = {"Balances": [{"AccountID": "A", "CashBalance": "1.5"}]}
        b = ts_broker("v3", [on_the_wire(accounts, how), on_the_wire(balances, how)])
        [row] = b.balances(b.accounts()).rows
        assert row.account_name == "x\ufffdy\u202e"
        assert "x\ufffdy\\u202e" in render.to_json(BALANCE, [row], [], "2026-01-01T00:00:00Z")
        through_every_output(store, [], [row], [], [])
