"""The shared payload helpers: shape checks, typed getters and the one expiry parser."""

from __future__ import annotations

import time
from decimal import Decimal as D

import pytest

from balancecli.brokers.payload import (
    array,
    blank_to_none,
    expired,
    expiry_epoch,
    kind,
    lifetime,
    lower,
    obj,
    objects,
    one_line,
    seconds_left,
    to_int,
)
from balancecli.core.errors import BadResponseError

# -- shapes


def test_obj_and_array_return_the_value_or_name_what_is_wrong():
    assert obj({"a": 1}, "token response") == {"a": 1}
    assert array([1], "Accounts") == [1]
    with pytest.raises(BadResponseError, match="^the token response is not a JSON object$"):
        obj([1], "token response")
    with pytest.raises(BadResponseError, match="^Accounts is not a JSON array$"):
        array({"a": 1}, "Accounts")


@pytest.mark.parametrize("value", [{"a": 1}, [1, {}], "x", [[]]])
def test_objects_rejects_anything_but_a_list_of_objects(value):
    with pytest.raises(BadResponseError, match="data.list is not a list of objects"):
        objects(value, "the data.list")


def test_objects_treats_null_as_empty():
    assert objects(None, "x") == [] and objects([{}], "x") == [{}]


def test_kind_names_json_kinds():
    assert [kind(v) for v in (None, True, 1, D("1"), "s", [], {})] == [
        "null", "a boolean", "a number", "a number", "a string", "a list", "an object"]


# -- typed getters


def test_text_getters():
    assert lower("Margin") == "margin" and lower("  ") is None and lower(None) is None
    assert one_line("  two\n lines\t here ") == "two lines here"
    assert one_line(None) == "" and one_line("") == ""
    assert one_line("x" * 10_000) == "x" * 200
    assert blank_to_none({"a": "", "b": "0", "c": None}) == {"a": None, "b": "0", "c": None}


@pytest.mark.parametrize(("value", "expected"), [
    (401003, 401003), ("401003", 401003), (" 7 ", 7), (D("5"), 5), ("-1", -1),
    (True, None), ("1.5", None), ("abc", None), (None, None), ([1], None), ("9" * 5000, None),
    (D("1E+5"), None),
])
def test_to_int(value, expected):
    assert to_int(value) == expected


# -- expiry


NOW = 1_800_000_000.0


@pytest.mark.parametrize(("value", "epoch"), [
    (1_800_000_000, 1_800_000_000.0),                  # epoch seconds, int
    ("1800000000", 1_800_000_000.0),                   # as text (env variables)
    (D("1800000000.5"), 1_800_000_000.5),              # a Decimal from loads()
    (1_800_000_000_000, 1_800_000_000.0),              # epoch milliseconds
    ("1800000000000", 1_800_000_000.0),
    ("2027-01-15T08:00:00Z", 1_800_000_000.0),         # ISO 8601, UTC
    ("2027-01-15T08:00:00.000Z", 1_800_000_000.0),
    ("2027-01-15T09:00:00+01:00", 1_800_000_000.0),
    ("2027-01-15T08:00:00", 1_800_000_000.0),          # no offset: UTC
    (0, 0.0),
])
def test_expiry_epoch_reads_seconds_milliseconds_and_iso(value, epoch):
    assert expiry_epoch(value) == pytest.approx(epoch)


@pytest.mark.parametrize("value", [
    None, "", "soon", "1e400", "1E+999999", D("1E+999999"), float("inf"), float("nan"), -5,
    "-5", True, [1], {"a": 1}, "9" * 400, "1_000", "١٢٣", "10000-01-01T00:00:00",
    "2027-13-45T00:00:00Z", 10 ** 400,
])
def test_expiry_epoch_is_none_for_unusable_values(value):
    assert expiry_epoch(value) is None


def test_seconds_left_and_expired():
    now = time.time()
    assert seconds_left(now + 100) == pytest.approx(100, abs=2)
    assert seconds_left((now + 100) * 1000) == pytest.approx(100, abs=2)
    assert seconds_left("garbage") is None
    assert expired(now - 1) is True
    assert expired(now + 30, margin=60) is True       # inside the margin: refresh now
    assert expired(now + 3600, margin=60) is False
    assert expired(None) is False and expired("") is False  # unknown: try the token
    assert expired("garbage") is False
    assert expired("garbage", unusable=True) is True
    assert expired("1e400", unusable=True) is True


@pytest.mark.parametrize(("value", "seconds"), [
    (1200, 1200.0), ("1200", 1200.0), (D("1199.5"), 1199.5), (2592000, 2592000.0),
])
def test_lifetime_of_a_token(value, seconds):
    assert lifetime(value) == seconds


@pytest.mark.parametrize("value", [
    None, 0, -1, "-1200", "1e400", "1E+999999", D("1E+999999"), 10 ** 400, "twenty minutes",
    True, float("inf"), float("nan"), 1e12, [1200],
])
def test_lifetime_is_none_when_unusable(value):
    assert lifetime(value) is None


def test_auth_status_reads_an_expiry_in_milliseconds_like_the_fetchers(tmp_path):
    from tests.support.cli import run_cli
    from tests.support.config import write_config

    config = write_config(tmp_path / "c.toml", {"ts": {"broker": "tradestation"}})
    env = {"BALANCECLI_TS_ACCESS_TOKEN": "abcdefgh", "BALANCECLI_TS_REFRESH_TOKEN": "r" * 8,
           "BALANCECLI_TS_CLIENT_ID": "c" * 8, "BALANCECLI_TS_CLIENT_SECRET": "s" * 8}
    for expiry in ("1800000000000", "1800000000", "2027-01-15T08:00:00Z"):
        proc = run_cli("auth", "status", "ts", "--config", str(config),
                       env={**env, "BALANCECLI_TS_ACCESS_TOKEN_EXPIRES_AT": expiry})
        assert proc.returncode == 0, proc.stderr
        assert "expires 2027-01-15T08:00:00Z" in proc.stdout
