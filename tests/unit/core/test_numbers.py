"""Strict, bounded numbers: what a broker's number may look like, and what no payload may do to
us (a 15-byte number that prints as 1 GB, 100,000 levels of nesting)."""

from __future__ import annotations

import json
import time
from decimal import Decimal as D

import pytest

from balancecli.core.errors import BadResponseError
from balancecli.core.jsonread import loads, nesting_depth
from balancecli.core.models import extra_from, is_personal
from balancecli.core.numbers import DOUBLE_EXPONENT, to_decimal, to_text

# -- to_decimal: text


@pytest.mark.parametrize(("text", "value"), [
    ("12", D("12")), ("-12.50", D("-12.50")), ("+3", D("3")), (" 7.25 ", D("7.25")),
    ("1e5", D("1E+5")), ("-1.5E-3", D("-0.0015")), ("19638.14545186560000000000",
                                                   D("19638.14545186560000000000")),
    ("", None),
])
def test_ascii_numbers_are_accepted_exactly(text, value):
    result = to_decimal(text, name="CashBalance")
    assert result == value and (value is None or str(result) == str(value))


@pytest.mark.parametrize("text", [
    "1_000",          # Python's Decimal reads 1000
    "١٢٣",            # Arabic-Indic digits: Decimal reads 123
    "１２３",          # full-width digits: Decimal reads 123
    "۱۲۳",            # Extended Arabic-Indic
    "1,000", ".5", "5.", "0x10", "1e", "--1", "NaN", "Infinity", "inf", "1 000", "12abc",
])
def test_other_numeric_text_is_a_bad_response_naming_the_field(text):
    with pytest.raises(BadResponseError, match="^CashBalance is not a number"):
        to_decimal(text, name="CashBalance")


@pytest.mark.parametrize(("value", "reason"), [
    ("1" * 101, "101 significant digits, more than 100"),
    ("1e-999999999", "exponent beyond ±100"),
    ("0e-999999999", "exponent beyond ±100"),      # zero too: it would print 1e9 zeros
    ("1E+101", "exponent beyond ±100"),
    (D("1E+400"), "exponent beyond ±100"),
    (10 ** 100, "more than 100 digits"),
])
def test_numbers_beyond_the_bounds_are_a_bad_response_naming_the_field(value, reason):
    with pytest.raises(BadResponseError, match=f"^Equity .*{reason}"):
        to_decimal(value, name="Equity")


def test_at_the_bounds_is_still_a_number():
    assert to_decimal("9" * 100, name="x") == D("9" * 100)
    assert to_decimal("1e100", name="x") == D("1E+100")
    assert to_decimal("1e-100", name="x") == D("1E-100")
    # A broker documenting doubles (Quantower) may pass a double's range: 17 digits at most.
    assert to_decimal(D("1.7976931348623157E+308"), name="x",
                      max_exponent=DOUBLE_EXPONENT) == D("1.7976931348623157E+308")


def test_objects_where_text_is_expected_are_a_bad_response():
    with pytest.raises(BadResponseError):
        to_text({"a": 1})
    with pytest.raises(BadResponseError):
        to_text([1])
    assert to_text(D("114277")) == "114277" and to_text(7) == "7"


# -- loads


def test_the_fifteen_byte_bomb_names_its_field():
    with pytest.raises(BadResponseError) as info:
        loads(b'{"CashBalance": 1e-999999999}')
    assert info.value.message == (
        "CashBalance in the response has an exponent beyond ±100 (-999999999)")


def test_huge_numbers_never_reach_extra():
    with pytest.raises(BadResponseError, match="^Note in the response has 10000 digits"):
        loads('{"AccountID": "1", "Note": 1' + "0" * 9999 + "}")
    with pytest.raises(BadResponseError, match="^a number in the response"):
        loads("[1e-999999999]")


def test_tolerant_loads_turns_unusable_numbers_into_null():
    body = loads(b'{"access_token": "t", "expires_in": 1e400, "n": 1' + b"0" * 200 + b"}",
                 tolerant=True)
    assert body == {"access_token": "t", "expires_in": None, "n": None}


@pytest.mark.parametrize("depth", [65, 1000, 100_000])
def test_deep_nesting_is_a_bad_response_not_a_recursion_error(depth):
    for text in ("[" * depth + "]" * depth, '{"a":' * depth + "1" + "}" * depth):
        started = time.monotonic()
        with pytest.raises(BadResponseError, match="nested more than 64 levels"):
            loads(text)
        assert time.monotonic() - started < 2


def test_nesting_depth_ignores_brackets_inside_strings():
    assert nesting_depth(b'{"a": "[[[[", "b": ' + b"[" * 70 + b"]" * 70 + b"}") == 71
    assert nesting_depth(b'{"a": "\\"]]]]]]", "b": ' + b"[" * 70 + b"]" * 70 + b"}") == 71
    assert loads('{"a": "' + "[" * 1000 + '"}') == {"a": "[" * 1000}
    assert loads("[" * 64 + "]" * 64) is not None


def test_ordinary_documents_parse_as_before():
    doc = {"Balances": [{"AccountID": str(i), "CashBalance": "123.45", "Rate": 1.25,
                         "DayTrades": 7, "Detail": {"x": [1, 2, {"y": None}]}}
                        for i in range(500)]}
    parsed = loads(json.dumps(doc))
    assert parsed["Balances"][3]["Rate"] == D("1.25") and parsed["Balances"][3]["DayTrades"] == 7
    with pytest.raises(BadResponseError, match="NaN"):
        loads(b'{"x": NaN}')
    with pytest.raises(BadResponseError, match="not valid JSON"):
        loads(b'{"x": ')


# -- personal data (never in extra, the output or the history store)


@pytest.mark.parametrize("key", [
    "Email", "e_mail", "EMailAddress", "Login", "LoginName", "UserName", "user_name",
    "Phone", "PhoneNumber", "mobile", "Address", "StreetAddress", "Owners", "owner",
    "FirstName", "LastName", "MiddleName", "FullName", "OwnerName", "DateOfBirth", "ssn",
])
def test_personal_keys(key):
    assert is_personal(key)


@pytest.mark.parametrize("key", [
    "userPnl", "OwnerType", "AccessType", "ClearingFirm", "Alias", "DisplayName", "Name",
    "marginBalance", "UserId", "TodaysProfitLoss", "Currency",
])
def test_not_personal_keys(key):
    assert not is_personal(key)


def test_extra_drops_personal_data_at_any_depth():
    payload = {"Id": 1, "Owners": [{"Email": "a@example.com"}], "AccessType": "Owner",
               "Detail": {"Login": "me", "Limit": 5, "Contacts": [{"Phone": "1", "Kind": "x"}]}}
    assert extra_from(payload, {"Id"}) == {
        "AccessType": "Owner", "Detail": {"Limit": 5, "Contacts": [{"Kind": "x"}]}}
