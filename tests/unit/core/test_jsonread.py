"""Repeated keys in broker JSON (balancecli.core.jsonread): refused, naming the key, at any
depth; everything else parses as before, numbers exact."""

from __future__ import annotations

from decimal import Decimal

import pytest

from balancecli.core.errors import BadResponseError
from balancecli.core.jsonread import loads


@pytest.mark.parametrize(("text", "key"), [
    (b'{"CashBalance": "1", "CashBalance": "1000000"}', "CashBalance"),
    (b'{"Accounts": [{"Id": 1, "Name": "a", "Id": 2}]}', "Id"),
    (b'{"a": {"b": {"c": {"d": 1, "d": 1}}}}', "d"),  # the same value twice: still refused
    ('{"caf\\u00e9": 1, "café": 2}'.encode(), "café"),  # an escape and its character
])
def test_a_key_named_twice_in_one_object_is_a_bad_response_naming_it(text, key):
    with pytest.raises(BadResponseError) as info:
        loads(text)
    assert info.value.message == f"the response names the key {key!r} twice in one object"


def test_token_answers_are_checked_too():
    with pytest.raises(BadResponseError, match="'access_token' twice"):
        loads(b'{"access_token": "a", "access_token": "b", "expires_in": 1e400}', tolerant=True)


def test_the_same_key_in_different_objects_is_fine():
    doc = loads(b'{"Accounts": [{"Id": 1, "Cash": 0.10}, {"Id": 2, "Cash": 1e2}], "Id": 3}')
    assert doc == {"Accounts": [{"Id": 1, "Cash": Decimal("0.10")},
                                {"Id": 2, "Cash": Decimal("1E+2")}], "Id": 3}
    assert str(doc["Accounts"][0]["Cash"]) == "0.10"
