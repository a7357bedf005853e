"""The field mappings each broker declares (``brokers/mapping.py``): the README's Reference is
generated from them, every parser reads the broker's fields through them, and each names a
public document.
"""

from __future__ import annotations

import dataclasses
import re
from decimal import Decimal as D

import pytest

from balancecli.brokers import NAMES, broker_class
from balancecli.brokers.etna import Etna
from balancecli.brokers.longport.broker import LongPort
from balancecli.brokers.mapping import FieldMap, From
from balancecli.brokers.tradestation import v2, v3
from balancecli.brokers.tradestation.broker import TradeStation
from balancecli.core.models import Account, Asset, Balance
from tests.support.config import make_ctx
from tests.support.reference import README, current, section

AS_OF = "2026-11-22T10:00:00Z"
NOWHERE = "http://127.0.0.1:9"  # nothing is fetched: the parsers are given the payloads


def test_the_readme_reference_is_generated_from_the_code():
    assert current(README.read_text()) == section(), (
        "README.md's Reference differs from the declarations: run "
        "python tests/tools/make_reference.py")


@pytest.mark.parametrize("name", NAMES)
def test_every_broker_declares_its_mapping_with_public_documents(name):
    maps = broker_class(name).field_maps
    assert {m.model for m in maps} == {Account, Balance, Asset}
    for found in maps:
        assert re.fullmatch(r"https://\S+|[\w.-]+/[\w.-]+:\S+", found.document), found.document
        assert found.sources, found.request


def test_a_mapping_names_only_model_fields():
    with pytest.raises(ValueError, match="Balance has no field 'cashh'"):
        FieldMap(Balance, "GET /x", "https://example.org/doc", {"cashh": "Cash"})


def test_a_mapping_reads_nested_fields_and_keeps_the_rest_nested():
    found = FieldMap(Balance, "GET /x", "https://example.org/doc", {
        "cash": "Cash", "equity": "Detail.Equity", "account_id": "Id"})
    item = {"Id": "1", "Cash": "1.50", "Other": 2, "Detail": {"Equity": "3", "Margin": "4"}}
    assert found.amounts(item) == {"cash": D("1.50"), "equity": D("3")}
    assert found.extra(item) == {"Other": 2, "Detail": {"Margin": "4"}}
    assert found.used == {"Id", "Cash", "Detail"}


def renamed(found: FieldMap, name: str, key: str) -> FieldMap:
    """``found`` reading normalized field ``name`` from the broker field ``key`` instead."""
    spec = found.sources[name]
    return dataclasses.replace(found, fields={**found.sources,
                                              name: dataclasses.replace(spec, key=key)})


def ts() -> TradeStation:
    return TradeStation(make_ctx("ts", {"broker": "tradestation", "base_url": NOWHERE}))


ACCOUNT = Account("p", "x", "A1", currency="USD")


def test_tradestation_parsers_read_through_the_declarations(monkeypatch):
    monkeypatch.setattr(v3, "BALANCES", renamed(
        renamed(v3.BALANCES, "cash", "Cash2"), "unrealized_pnl", "Detail2.Open"))
    row = v3.parse_balance(ts(), ACCOUNT, {"AccountID": "A1", "Cash2": "5", "CashBalance": "7",
                                           "Detail2": {"Open": "-1", "Left": 1}}, AS_OF)
    assert (row.cash, row.unrealized_pnl) == (D("5"), D("-1"))
    assert row.extra == {"CashBalance": "7", "Detail2": {"Left": 1}}
    monkeypatch.setattr(v2, "CURRENCY_DETAILS", renamed(v2.CURRENCY_DETAILS, "asset", "Ccy"))
    rows = v2.parse_assets(ts(), ACCOUNT, {"CurrencyDetails": [
        {"Ccy": "JPY", "RealTimeCashBalance": 12}]})
    assert [(r.asset, r.total) for r in rows] == [("JPY", D("12"))]
    monkeypatch.setattr(v3, "ACCOUNTS", renamed(v3.ACCOUNTS, "name", "Nick"))
    monkeypatch.setattr(v3, "ACCOUNTS", renamed(v3.ACCOUNTS, "account_id", "Number"))
    account, = ts().accounts_from([{"Number": "9", "Nick": "mine", "Alias": "x"}], v3.ACCOUNTS)
    assert (account.account_id, account.name, account.extra) == ("9", "mine", {"Alias": "x"})


def test_longport_and_etna_parsers_read_through_the_declarations(monkeypatch):
    import balancecli.brokers.etna as etna
    import balancecli.brokers.longport.broker as longport

    monkeypatch.setattr(longport, "BALANCES", renamed(longport.BALANCES, "cash", "cash_total"))
    monkeypatch.setattr(longport, "ASSETS", renamed(longport.ASSETS, "reserved", "held"))
    lp = LongPort(make_ctx("lp", {"broker": "longport", "auth": "apikey", "base_url": NOWHERE}))
    entry = {"currency": "HKD", "cash_total": "8", "total_cash": "1",
             "cash_infos": [{"currency": "HKD", "held": "2", "available_cash": "3"}]}
    row = lp._parse_balance(ACCOUNT, entry, AS_OF)
    assert (row.cash, row.available, row.extra) == (D("8"), D("3"), {"total_cash": "1"})
    asset, = lp._parse_assets(ACCOUNT, [entry], AS_OF)
    assert (asset.asset, asset.reserved, asset.available) == ("HKD", D("2"), D("3"))
    monkeypatch.setattr(etna, "BALANCES", renamed(etna.BALANCES, "equity", "netLiquidity"))
    et = Etna(make_ctx("e", {"broker": "etna", "base_url": NOWHERE}))
    row = et._parse_balance(ACCOUNT, {"netLiquidity": 4, "equityTotal": 5}, AS_OF)
    assert (row.equity, row.extra) == (D("4"), {"equityTotal": 5})


def test_quantower_reads_its_coins_through_the_declaration():
    from balancecli.brokers.quantower import broker as quantower

    assert quantower.ASSET_FIELDS == quantower.COINS.amount_keys() == {
        "total": "TotalBalance", "available": "AvailableBalance",
        "reserved": "ReservedBalance", "value_usd": "TotalInUSD", "value_btc": "TotalInBTC"}
    assert quantower.ASSET_KEYS == quantower.COINS.used


def test_a_source_in_words():
    from tests.support.reference import source

    assert source(From("Alias", fallback="AccountID")) == "`Alias`, else `AccountID`"
    assert source(From("Currency", value="USD")) == '`Currency`, else "USD"'
    assert source(From(value="securities")) == '"securities"'
    assert source(From(setting="account_id", note="else the profile name")) == (
        "the profile's `account_id` setting (else the profile name)")
    assert source(From("withdraw_cash", within="cash_infos")) == (
        "`withdraw_cash` of a `cash_infos` item")


# -- type and status: the same words for every broker ---------------------------------------


def test_type_and_status_values_are_declared_and_normalized():
    from balancecli.brokers.mapping import STATUSES, TYPES

    for name in NAMES:
        for found in broker_class(name).field_maps:
            for field in ("type", "status"):
                spec = found.sources.get(field)
                if spec is None:
                    continue
                allowed = TYPES if field == "type" else STATUSES
                # A constant or a declared table of the broker's words: never a raw word.
                assert spec.values is not None or spec.value in allowed, (name, field)
                assert set((spec.values or {}).values()) <= set(allowed)
    status = v3.ACCOUNTS.source("status")
    assert status.normalized("Active") == "active"
    assert status.normalized("margin call -  closing TRANSACTIONS only") == "restricted"
    assert status.normalized("Something New") is None and status.normalized(None) is None
    with pytest.raises(ValueError, match="'open' is not a normalized status"):
        FieldMap(Account, "GET /x", "https://example.org/x",
                 fields={"status": From("S", values={"Open": "open"})})


def test_the_model_documents_the_normalized_values():
    from balancecli.brokers.mapping import STATUSES, TYPES
    from balancecli.core.models import doc_of

    docs = {f.name: doc_of(f) for f in dataclasses.fields(Account)}
    assert all(word in docs["type"] for word in TYPES)
    assert all(word in docs["status"] for word in STATUSES)
    from balancecli.output.schemas import SCHEMAS

    account = SCHEMAS["balancecli.accounts/1"]["$defs"]["account"]["properties"]
    assert account["status"]["enum"] == [*STATUSES, None]
    assert account["type"]["description"] == docs["type"]


def test_the_broker_own_words_for_type_and_status_stay_in_extra():
    ts = TradeStation(make_ctx("ts", {"broker": "tradestation", "base_url": NOWHERE}))
    [account] = ts.accounts_from([{"AccountID": "1", "AccountType": "DVP", "Currency": "USD",
                                   "Status": "Closing Transaction Only"}], v3.ACCOUNTS)
    assert (account.type, account.status) == ("dvp", "restricted")
    assert account.extra == {"AccountType": "DVP", "Status": "Closing Transaction Only"}
    [odd] = ts.accounts_from([{"AccountID": "2", "AccountType": "Joint", "Status": "Frozen"}],
                             v3.ACCOUNTS)
    assert (odd.type, odd.status) == (None, None)  # never guessed
    assert odd.extra == {"AccountType": "Joint", "Status": "Frozen"}
