"""The one rule of whether a profile's secrets are complete (``core.secretfields``), over the
fields each broker declares; runs, ``auth status`` and ``doctor`` all apply it."""

from __future__ import annotations

import pytest

from balancecli.brokers import NAMES, broker_class
from balancecli.core.secretfields import (
    OAUTH_STAND_INS,
    SecretFields,
    as_fields,
    missing,
    renewable,
    settled,
    unmet,
)

OAUTH = SecretFields(
    required=("ACCESS_TOKEN", "REFRESH_TOKEN", "CLIENT_ID", "CLIENT_SECRET"),
    optional=("ACCESS_TOKEN_EXPIRES_AT",), stand_ins=OAUTH_STAND_INS,
    may_be_absent={"CLIENT_SECRET": "a PKCE API key has none"},
    expiry="ACCESS_TOKEN_EXPIRES_AT", renewed_by=("REFRESH_TOKEN",))


def test_every_field_present_is_complete():
    assert unmet(OAUTH, OAUTH.required) == []
    assert settled(OAUTH, OAUTH.required)


def test_a_refresh_token_stands_in_for_the_access_token_for_good():
    found = unmet(OAUTH, ["REFRESH_TOKEN", "CLIENT_ID", "CLIENT_SECRET"])
    assert [(u.field, u.excuse, u.settled) for u in found] == [
        ("ACCESS_TOKEN", "not stored yet: the next run gets one with the refresh token", True)]
    assert settled(OAUTH, ["REFRESH_TOKEN", "CLIENT_ID", "CLIENT_SECRET"])


def test_an_access_token_works_without_its_refresh_token_until_it_expires():
    present = ["ACCESS_TOKEN", "CLIENT_ID", "CLIENT_SECRET"]
    assert missing(OAUTH, present) == []  # expiry unknown: tried, as a run does
    assert missing(OAUTH, present, expired=False) == []
    assert missing(OAUTH, present, expired=True) == ["REFRESH_TOKEN"]
    # Not for good: the environment alone does not suffice, the keyring may hold it.
    assert not settled(OAUTH, present)


def test_a_field_that_may_be_absent_says_why():
    found = unmet(OAUTH, ["ACCESS_TOKEN", "REFRESH_TOKEN", "CLIENT_ID"])
    assert [(u.field, u.excuse, u.settled) for u in found] == [
        ("CLIENT_SECRET", "not set (a PKCE API key has none)", False)]
    assert missing(OAUTH, ["ACCESS_TOKEN", "REFRESH_TOKEN", "CLIENT_ID"]) == []


def test_nothing_stands_in_for_the_rest():
    assert missing(OAUTH, ["ACCESS_TOKEN", "REFRESH_TOKEN"]) == ["CLIENT_ID"]
    assert missing(OAUTH, []) == ["ACCESS_TOKEN", "REFRESH_TOKEN", "CLIENT_ID"]  # no token
    assert missing(as_fields(("APP_KEY", "password")), ["app_key"]) == ["PASSWORD"]


def test_renewal_needs_a_declared_renewer():
    assert renewable(OAUTH, ["REFRESH_TOKEN"]) and not renewable(OAUTH, ["ACCESS_TOKEN"])
    assert not renewable(SecretFields(required=("TOKEN",)), ["TOKEN"])


@pytest.mark.parametrize("name", NAMES)
def test_each_broker_declares_consistent_fields(name):
    cls = broker_class(name)
    for settings in ({}, {"auth": "apikey"}, {"source": "http://127.0.0.1:1/"}):
        spec = cls.secret_spec(settings)
        assert cls.secret_fields(settings) == spec.required
        assert cls.optional_secret_fields(settings) == spec.optional
        every = set(spec.fields)
        assert all(f == f.upper() for f in every)
        assert set(spec.stand_ins) <= set(spec.required)
        assert {s.by for s in spec.stand_ins.values()} <= every
        assert set(spec.may_be_absent) <= set(spec.required)
        assert {spec.expiry, spec.token} - {None} <= every
        assert set(spec.renewed_by) <= every and set(spec.not_secret) <= every
