"""LongPort: mapping, request signing (checked against the official SDK), envelope errors and
token refresh, against FakeLongPort over real sockets."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import keyring
import pytest
import requests
from keyrings.alt.file import PlaintextKeyring

from balancecli.brokers.base import Context
from balancecli.brokers.longport.broker import LongPort
from balancecli.brokers.longport.sign import sign
from balancecli.config import validate_profile
from balancecli.core.errors import (
    AuthError,
    BadResponseError,
    BalanceCliError,
    BrokerError,
    RateLimitedError,
    UnavailableError,
)
from balancecli.core.models import Account, Asset, Balance
from balancecli.credentials import Keyring, Secrets
from balancecli.demo.longport import (
    DEMO_ACCESS_TOKEN,
    DEMO_APP_KEY,
    DEMO_APP_SECRET,
    DEMO_CLIENT_ID,
    FakeLongPort,
    envelope_error,
)
from balancecli.service.fetch import Options, Relay, make_context
from tests.support.cli import run_cli
from tests.support.config import FAST, make_ctx, write_config

CREDS = {"APP_KEY": DEMO_APP_KEY, "APP_SECRET": DEMO_APP_SECRET, "ACCESS_TOKEN": DEMO_ACCESS_TOKEN}
STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
CLIENT_SECRET = "lp-client-secret-7d6c5b"


@pytest.fixture
def fake():
    server = FakeLongPort().start()
    yield server
    server.stop()


@pytest.fixture
def oauth_fake():
    server = FakeLongPort(mode="oauth", access_token=None).start()
    yield server
    server.stop()


def settings(fake: FakeLongPort, **extra) -> dict:
    return {"broker": "longport", "auth": "apikey", "base_url": fake.url, "timeout": 5,
            **FAST, **extra}


def broker(fake: FakeLongPort, secrets: dict | None = None, settings_extra: dict | None = None,
           **options) -> LongPort:
    ctx = make_ctx("lp", settings(fake, **(settings_extra or {})),
                   CREDS if secrets is None else secrets, **options)
    return LongPort(ctx)


def oauth_broker(fake: FakeLongPort, *, lifetime: float | None = 86400,
                 expires_at: float | None = None, **options) -> tuple[LongPort, dict]:
    access = fake.issue(lifetime)
    refresh = fake.issue_refresh_token()
    secrets = {"ACCESS_TOKEN": access, "REFRESH_TOKEN": refresh, "CLIENT_ID": DEMO_CLIENT_ID}
    if expires_at is not None:
        secrets["ACCESS_TOKEN_EXPIRES_AT"] = int(expires_at)
    ctx = make_ctx("lpo", settings(fake, auth="oauth"), secrets, **options)
    return LongPort(ctx), secrets


def balances(lp: LongPort):
    return lp.balances(lp.accounts())


def one_error(result) -> BalanceCliError:
    assert result.rows == [] and len(result.errors) == 1
    return result.errors[0]


def shown(error: BalanceCliError) -> str:
    return " | ".join(str(x) for x in (error, error.message, error.next_step, error.as_dict(),
                                       repr(error)))


def secret_values(*fakes: FakeLongPort) -> list[str]:
    values = [DEMO_APP_SECRET, DEMO_ACCESS_TOKEN, CLIENT_SECRET]
    for f in fakes:
        values += list(f.tokens) + list(f.revoked) + list(f.refresh_tokens)
    return [v for v in values if v]


def assert_clean(texts, *fakes: FakeLongPort) -> None:
    values = secret_values(*fakes)
    for text in texts:
        for value in values:
            assert value not in text, f"a secret leaked into: {text[:200]}"


def documented_signature(method, path, query, headers, secret, body=b"") -> str:
    """LongPort's API-key request signature (HMAC-SHA256), as documented at open.longportapp.com
    and implemented in the Rust SDK's signature.rs, written out again here as the test's own
    oracle."""
    canonical = (f"{method}|{path}|{query}|authorization:{headers['authorization']}\n"
                 f"x-api-key:{headers['x-api-key']}\nx-timestamp:{headers['x-timestamp']}\n"
                 "|authorization;x-api-key;x-timestamp|")
    if body:
        canonical += hashlib.sha1(body).hexdigest()
    plain = "HMAC-SHA256|" + hashlib.sha1(canonical.encode()).hexdigest()
    digest = hmac.new(secret.encode(), plain.encode(), hashlib.sha256).hexdigest()
    return "HMAC-SHA256 SignedHeaders=authorization;x-api-key;x-timestamp, Signature=" + digest


# -- mapping


def test_accounts_is_the_profile_itself_without_a_request(fake):
    assert broker(fake).accounts() == [Account("lp", "longport", "lp", type="securities")]
    labelled = broker(fake, settings_extra={"account_id": "HK-MAIN"}).accounts()
    assert [(a.account_id, a.type, a.currency) for a in labelled] == [
        ("HK-MAIN", "securities", None)]
    assert fake.requests == []


def test_seed_example_every_field(fake):
    lp = broker(fake)
    before = datetime.now(UTC).replace(microsecond=0)
    result = balances(lp)
    assert result.errors == []
    [row] = result.rows
    assert STAMP.match(row.as_of)
    assert before <= datetime.fromisoformat(row.as_of) <= datetime.now(UTC)
    assert row == Balance(
        profile="lp", broker="longport", account_id="lp", account_name=None,
        account_type="securities", currency="HKD", as_of=row.as_of,
        cash=D("1759070010.72"), available=D("195902464.37"), withdrawable=D("97592.30"),
        buying_power=D("1759070.12"), equity=D("24145.90"), market_value=None,
        initial_margin=D("1540.09"), maintenance_margin=D("1540.09"), unrealized_pnl=None,
        realized_pnl=None,
        extra={"max_finance_amount": "977582000", "remaining_finance_amount": "0",
               "risk_level": "1", "margin_call": "2598051051.50"},
    )
    assert str(row.withdrawable) == "97592.30"  # trailing zero kept
    assets = lp.assets(lp.accounts())
    assert assets.errors == []
    assert assets.rows == [
        Asset("lp", "longport", "lp", "HKD", total=None, available=D("195902464.37"),
              reserved=D("11579339.13"), settling=D("207288537.81"),
              withdrawable=D("97592.30")),
        Asset("lp", "longport", "lp", "USD", total=None, available=D("199893416.74"),
              reserved=D("28723.76"), settling=D("-276806.51"),
              withdrawable=D("199893416.74")),
    ]
    assert [r.query for r in fake.requests] == ["", ""]


def test_seed_text_verbatim_without_message(fake):
    from importlib.resources import files

    text = files("balancecli.demo").joinpath("data", "longport_account.json").read_bytes()
    assert b'"message"' not in text
    fake.inject("body", "/v1/asset/account", body=text)
    [row] = balances(broker(fake)).rows
    assert (row.currency, row.cash, row.withdrawable) == ("HKD", D("1759070010.72"),
                                                          D("97592.30"))


def test_multi_currency_entries(fake):
    fake.variant = "multi"
    lp = broker(fake)
    rows = balances(lp).rows
    got = [(r.currency, r.cash, r.equity, r.buying_power, r.initial_margin,
            r.maintenance_margin, r.available, r.withdrawable) for r in rows]
    assert got == [
        ("HKD", D("152300.50"), D("201876.4350"), D("640123.90"), D("12500.00"),
         D("10000.00"), D("101234.56"), D("98000.00")),
        ("USD", D("19525.70"), D("25881.6000"), D("82067.17"), D("1602.56"), D("1282.05"),
         D("6500.10"), D("6400.10")),
        ("CNH", D("140560.00"), D("186300.7700"), D("590000.00"), D("11520.00"),
         D("9216.00"), D("3200.5"), D("3000")),
    ]
    assert rows[0].extra == {
        "max_finance_amount": "500000", "remaining_finance_amount": "487500.00",
        "risk_level": "0", "margin_call": "0",
        "frozen_transaction_fees": [{"currency": "HKD", "frozen_transaction_fee": "15.30"}]}
    assets = lp.assets(lp.accounts()).rows
    # One row per currency; the first occurrence across entries wins (HKD from entry 1, not 2).
    assert [(a.asset, a.available, a.reserved, a.settling, a.withdrawable, a.total)
            for a in assets] == [
        ("HKD", D("101234.56"), D("1200.00"), D("-850.25"), D("98000.00"), None),
        ("USD", D("6500.10"), D("0.00"), D("120.00"), D("6400.10"), None),
        ("CNH", D("3200.5"), D("0"), D("0"), D("3000"), None),
    ]


def test_empty_strings_are_none(fake):
    fake.variant = "empty"
    lp = broker(fake)
    [row] = balances(lp).rows
    assert (row.currency, row.cash, row.available) == ("USD", D("5000.00"), D("4800.00"))
    assert (row.equity, row.buying_power, row.initial_margin, row.maintenance_margin,
            row.withdrawable) == (None, None, None, None, None)
    assert row.extra == {"max_finance_amount": None, "remaining_finance_amount": None,
                         "risk_level": None, "margin_call": None}
    [asset] = lp.assets(lp.accounts()).rows
    assert (asset.asset, asset.available, asset.reserved, asset.settling, asset.withdrawable,
            asset.total) == ("USD", D("4800.00"), None, None, None, None)


def test_currency_is_passed_to_the_server(fake):
    fake.variant = "multi"
    lp = broker(fake, currency="hkd")
    rows = balances(lp).rows
    assert [r.currency for r in rows] == ["HKD"]
    assert [a.asset for a in lp.assets(lp.accounts()).rows] == ["HKD"]
    assert [(r.path, r.query, r.params) for r in fake.calls("/v1/asset/account")] == [
        ("/v1/asset/account", "currency=HKD", {"currency": "HKD"})] * 2


def test_wrong_types_and_shapes_are_bad_responses(fake):
    lp = broker(fake)
    for body, fragment in (
        ({"code": 0, "data": {"list": [{"currency": "HKD", "total_cash": "abc"}]}},
         "total_cash is not a number"),
        ({"code": 0, "data": {"list": {"currency": "HKD"}}}, "not a list"),
        ({"code": 0, "data": None}, "no data object"),
        ({"data": {"list": []}}, "envelope"),
        ({"code": 0, "data": {"list": [{"currency": "HKD", "cash_infos": [{"x": "1"}]}]}},
         None),
    ):
        fake.inject("body", "/v1/asset/account", body=body)
        if fragment is None:  # a cash_infos item without currency breaks only `assets`
            error = one_error(lp.assets(lp.accounts()))
            assert "has no currency" in error.message
            continue
        error = one_error(balances(lp))
        assert isinstance(error, BadResponseError) and fragment in error.message
        assert (error.profile, error.broker, error.account_id) == ("lp", "longport", "lp")


@pytest.mark.parametrize("data, fragment", [
    ({}, "has no data.list (the SDK requires it)"),
    ({"list": None}, "has no data.list (the SDK requires it)"),
    ({"list": []}, "has an empty data.list: no balance for the account"),
])
def test_an_answer_without_balances_is_a_bad_response(fake, data, fragment):
    """The SDK requires ``list``, and one account always has a balance: never 'no rows'."""
    lp = broker(fake)
    for fetch in (balances, lambda b: b.assets(b.accounts())):
        fake.inject("body", "/v1/asset/account", body={"code": 0, "message": "success",
                                                      "data": data})
        error = one_error(fetch(lp))
        assert isinstance(error, BadResponseError) and fragment in error.message
        assert (error.profile, error.account_id) == ("lp", "lp")


def test_an_empty_list_for_a_currency_is_no_rows(fake):
    """With ?currency= an empty list is an account without a view in that currency."""
    fake.inject("body", "/v1/asset/account", body={"code": 0, "data": {"list": []}})
    result = balances(broker(fake, currency="CNH"))
    assert (result.rows, result.errors) == ([], [])


# -- request signing


def test_requests_carry_the_documented_signature_and_fresh_timestamps(fake):
    lp = broker(fake, currency="USD")
    for _ in range(3):
        assert balances(lp).errors == []
    calls = fake.calls("/v1/asset/account")
    assert len(calls) == 3
    stamps = [int(r.header("x-timestamp")) for r in calls]
    assert stamps == sorted(set(stamps))  # unique and strictly increasing
    assert all(abs(s / 1000 - time.time()) < 60 for s in stamps)  # milliseconds, now
    for r in calls:
        assert r.header("authorization") == DEMO_ACCESS_TOKEN  # raw token, no Bearer
        assert r.header("x-api-key") == DEMO_APP_KEY
        assert r.query == "currency=USD"
        assert r.header("x-api-signature") == documented_signature(
            "GET", r.path, r.query, r.headers, DEMO_APP_SECRET)
        assert r.header("x-dc-region") == "ap"  # no us_ credential: the gateway default


def test_retry_is_signed_again_with_a_new_timestamp(fake):
    fake.inject("status", "/v1/asset/account", status=503)
    lp = broker(fake, settings_extra={"max_retries": 1})
    assert balances(lp).errors == []
    first, second = fake.calls("/v1/asset/account")
    assert int(second.header("x-timestamp")) > int(first.header("x-timestamp"))
    assert second.header("x-api-signature") != first.header("x-api-signature")


def test_sign_function_matches_the_documented_algorithm_with_a_body():
    headers = {"authorization": "tok", "x-api-key": "key", "x-timestamp": "1539095200.123"}
    body = b'{"symbol":"700.HK"}'
    assert sign("post", "/v1/trade/order", "a=1&b=%3A", headers, "secret", body) == \
        documented_signature("POST", "/v1/trade/order", "a=1&b=%3A", headers, "secret", body)


def test_fake_rejects_replays_and_bad_signatures(fake):
    balances(broker(fake))
    [sent] = fake.requests
    names = ("authorization", "x-api-key", "x-timestamp", "x-api-signature")
    headers = {n: sent.header(n) for n in names}
    replay = requests.get(fake.url + "/v1/asset/account", headers=headers, timeout=5)
    assert (replay.status_code, replay.json()["code"]) == (403, 403202)
    tampered = requests.get(fake.url + "/v1/asset/account?currency=USD", headers=headers,
                            timeout=5)
    assert (tampered.status_code, tampered.json()["code"]) == (403, 403201)


def run_sdk(url: str, secret: str, key: str = DEMO_APP_KEY,
            path: str = "/v1/asset/account?currency=HKD") -> dict:
    """Call the official SDK in a subprocess: its blocking call holds the GIL, which would
    starve a fake server running in the same process."""
    code = (
        "import json, sys\n"
        "from longport.openapi import HttpClient\n"
        "url, key, secret, token, path = sys.argv[1:6]\n"
        "client = HttpClient(url, key, secret, token)\n"
        "try:\n"
        "    print(json.dumps({'ok': client.request('get', path)}))\n"
        "except Exception as exc:\n"
        "    print(json.dumps({'error': str(exc), 'code': getattr(exc, 'code', None)}))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code, url, key, secret, DEMO_ACCESS_TOKEN,
                           path], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_official_sdk_is_an_independent_oracle(fake):
    pytest.importorskip("longport.openapi", reason="the official LongPort SDK is not installed")
    # A request the SDK signs verifies on the fake ...
    ok = run_sdk(fake.url, DEMO_APP_SECRET)
    assert "ok" in ok, ok
    assert [e["currency"] for e in ok["ok"]["list"]] == ["HKD"]
    assert ok["ok"]["list"][0]["total_cash"] == "1759070010.72"
    [sdk_request] = fake.requests
    # ... it signs what the docs say (integer seconds as X-Timestamp), and so does our signer.
    assert re.fullmatch(r"\d{10}", sdk_request.header("x-timestamp"))
    assert sdk_request.query == "currency=HKD"
    expected = documented_signature("GET", sdk_request.path, sdk_request.query,
                                    sdk_request.headers, DEMO_APP_SECRET)
    assert sdk_request.header("x-api-signature") == expected
    assert sign("GET", sdk_request.path, sdk_request.query, sdk_request.headers,
                DEMO_APP_SECRET) == expected
    # ... and the fake rejects it when the secret or the key differs.
    bad = run_sdk(fake.url, DEMO_APP_SECRET + "x")
    assert "403201" in bad.get("error", "") or bad.get("code") == 403201, bad
    wrong_key = run_sdk(fake.url, DEMO_APP_SECRET, key="someone-else")
    assert "403203" in wrong_key.get("error", "") or wrong_key.get("code") == 403203, wrong_key
    # An encoded query (the openapi#180 trap) verifies as sent on the wire.
    encoded = run_sdk(fake.url, DEMO_APP_SECRET,
                      path="/v1/asset/account?currency=USD&note=a%3Ab")
    assert "ok" in encoded, encoded
    assert fake.requests[-1].query == "currency=USD&note=a%3Ab"


def test_us_tokens_get_the_data_center_header(fake):
    token = fake.issue(prefix="us_")
    assert balances(broker(fake, {**CREDS, "ACCESS_TOKEN": token})).errors == []
    assert fake.requests[-1].header("x-dc-region") == "us"


# -- envelope errors


@pytest.mark.parametrize(("code", "fragment"), [
    (403201, "signature invalid (403201): check APP_SECRET"),
    (403203, "app key illegal (403203): check APP_KEY"),
    (403205, "this IP is not allowed (403205)"),
])
def test_signing_and_ip_codes_are_auth_errors_that_say_what_is_wrong(fake, code, fragment):
    fake.fail_codes = [code]
    error = one_error(balances(broker(fake)))
    assert isinstance(error, AuthError) and error.exit_code == 4
    assert fragment in error.message and error.http_status == 403
    if code == 403205:
        assert "allow-list" in error.message
    assert error.next_step == ("run: balancecli auth login lp" if code in (403201, 403203)
                               else None)
    assert_clean([shown(error)], fake)


def test_real_wrong_secret_and_wrong_key(fake):
    error = one_error(balances(broker(fake, {**CREDS, "APP_SECRET": "not-the-secret"})))
    assert isinstance(error, AuthError) and "check APP_SECRET" in error.message
    error = one_error(balances(broker(fake, {**CREDS, "APP_KEY": "not-the-key"})))
    assert isinstance(error, AuthError) and "check APP_KEY" in error.message
    assert_clean([shown(error)], fake)


@pytest.mark.parametrize("code", [401003, 401004])
def test_token_rejected_in_apikey_mode_is_an_auth_error(fake, code):
    fake.fail_codes = [code]
    error = one_error(balances(broker(fake)))
    assert isinstance(error, AuthError) and error.http_status == 401
    assert f"code {code}" in error.message and "access token was rejected" in error.message
    assert "developer center" in error.next_step
    assert len(fake.requests) == 1 and fake.legacy_refreshes == 0


def test_expired_and_revoked_tokens_on_the_server(fake):
    fake.expire(DEMO_ACCESS_TOKEN)
    assert "token expired (code 401003)" in one_error(balances(broker(fake))).message
    token = fake.issue()
    fake.revoked.add(token)
    fake.tokens.pop(token)
    error = one_error(balances(broker(fake, {**CREDS, "ACCESS_TOKEN": token})))
    assert "token invalid (code 401004)" in error.message
    assert_clean([shown(error)], fake)


def test_429002_is_retried_then_succeeds(fake):
    fake.fail_codes = [429002]
    lp = broker(fake, settings_extra={"max_retries": 2})
    assert len(balances(lp).rows) == 1
    assert len(fake.calls("/v1/asset/account")) == 2


def test_429_code_with_http_200_is_retried_too(fake):
    fake.inject("body", "/v1/asset/account", body=envelope_error(429001))
    lp = broker(fake, settings_extra={"max_retries": 2})
    assert len(balances(lp).rows) == 1
    assert len(fake.calls("/v1/asset/account")) == 2


def test_persistent_429_is_rate_limited(fake):
    fake.fail_codes = [429002] * 3
    error = one_error(balances(broker(fake, settings_extra={"max_retries": 2})))
    assert isinstance(error, RateLimitedError) and error.exit_code == 5
    assert len(fake.calls("/v1/asset/account")) == 3
    fake.inject("body", "/v1/asset/account", body=envelope_error(429002), times=5)
    error = one_error(balances(broker(fake, settings_extra={"max_retries": 1})))
    assert isinstance(error, RateLimitedError)


def test_server_errors_are_unavailable(fake):
    fake.fail_codes = [500000]
    error = one_error(balances(broker(fake)))
    assert isinstance(error, UnavailableError) and error.http_status == 500
    fake.inject("body", "/v1/asset/account", body=envelope_error(500000))  # HTTP 200
    error = one_error(balances(broker(fake)))
    assert isinstance(error, UnavailableError) and "internal error" in error.message
    fake.inject("html", "/v1/asset/account", status=502)
    error = one_error(balances(broker(fake)))
    assert isinstance(error, UnavailableError) and error.http_status == 502


@pytest.mark.parametrize(("kind", "kwargs", "fragment"), [
    ("truncated", {}, "not valid JSON"),
    ("body", {"body": b'{"code": 0, "data": {"list": [{"total_cash": NaN}]}}'}, "NaN"),
    ("body", {"body": b"<html>maintenance</html>"}, "not valid JSON"),
    ("html", {"status": 403}, "not a {code, data} envelope (HTTP 403)"),
])
def test_malformed_bodies_are_bad_responses(fake, kind, kwargs, fragment):
    fake.inject(kind, "/v1/asset/account", **kwargs)
    error = one_error(balances(broker(fake)))
    assert isinstance(error, BadResponseError) and error.exit_code == 6
    assert fragment in error.message


def test_other_codes_are_broker_errors_with_msg_or_message(fake):
    fake.inject("body", "/v1/asset/account", status=400,
                body={"code": 400001, "msg": "param  error\n currency", "data": None},
                headers={"x-trace-id": "trace-42"})
    error = one_error(balances(broker(fake)))
    assert isinstance(error, BrokerError) and error.http_status == 400
    assert error.message == ("LongPort refused the request: param error currency "
                             "(code 400001, trace id trace-42)")


# -- legacy (API key) token refresh


def iso(delta: timedelta) -> str:
    return (datetime.now(UTC) + delta).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


@pytest.fixture
def plaintext_keyring():
    keyring.set_keyring(PlaintextKeyring())
    return Keyring()


def keyring_ctx(fake: FakeLongPort, profile: str = "lp", **extra) -> Context:
    prof = validate_profile(profile, settings(fake, **extra))
    sec = Secrets(profile, prof.broker_class.secret_fields(prof.settings), env={},
                  keyring=Keyring())
    return make_context(prof, Options(), sec)


def test_legacy_token_near_expiry_is_refreshed_and_saved_before_use(fake, plaintext_keyring):
    plaintext_keyring.save("lp", {"app_key": DEMO_APP_KEY, "app_secret": DEMO_APP_SECRET,
                                  "access_token": DEMO_ACCESS_TOKEN,
                                  "access_token_expires_at": iso(timedelta(days=2))})
    fake.inject("status", "/v1/asset/account", status=400,
                body=envelope_error(400001, "bad request"))
    lp = LongPort(keyring_ctx(fake))
    error = one_error(balances(lp))  # the balance call fails after the refresh ...
    assert isinstance(error, BrokerError)
    refresh_call, balance_call = fake.requests
    assert refresh_call.path == "/v1/token/refresh"
    # ... the query carries an encoded ISO expiry 90 days out, signed exactly as sent.
    expired_at = refresh_call.params["expired_at"]
    assert "%3A" in refresh_call.query and ":" not in refresh_call.query
    assert abs(datetime.fromisoformat(expired_at) - datetime.now(UTC)
               - timedelta(days=90)) < timedelta(minutes=1)
    assert refresh_call.header("x-api-signature") == documented_signature(
        "GET", refresh_call.path, refresh_call.query, refresh_call.headers, DEMO_APP_SECRET)
    # ... but the new token was already stored, and the old one is dead on the server.
    item = plaintext_keyring.load("lp")
    new = item["access_token"]
    assert new != DEMO_ACCESS_TOKEN and new in fake.tokens and DEMO_ACCESS_TOKEN in fake.revoked
    # Stored as epoch seconds, as every expiry is (the time the answer gave).
    assert item["access_token_expires_at"] == int(datetime.fromisoformat(expired_at).timestamp())
    assert item["app_secret"] == DEMO_APP_SECRET  # the rest of the item is kept
    assert balance_call.header("authorization") == new
    assert fake.legacy_refreshes == 1
    # The next run uses the stored token without refreshing again.
    lp2 = LongPort(keyring_ctx(fake))
    assert len(balances(lp2).rows) == 1
    assert fake.legacy_refreshes == 1 and fake.requests[-1].header("authorization") == new
    old = requests.get(fake.url + "/v1/asset/account", timeout=5, headers={
        "authorization": DEMO_ACCESS_TOKEN, "x-api-key": DEMO_APP_KEY, "x-timestamp": "1",
        "x-api-signature": documented_signature(
            "GET", "/v1/asset/account", "", {"authorization": DEMO_ACCESS_TOKEN,
                                             "x-api-key": DEMO_APP_KEY, "x-timestamp": "1"},
            DEMO_APP_SECRET)})
    assert old.json()["code"] == 401004


@pytest.mark.parametrize("expires_at", [
    None, "", "not a date", iso(timedelta(days=60)), str(int(time.time()) + 60 * 86400),
    int((time.time() + 30 * 86400) * 1000),
], ids=["none", "empty", "not a date", "ISO in 60 days", "epoch s in 60 days",
        "epoch ms in 30 days"])  # ids fixed: the values follow the clock
def test_legacy_token_not_refreshed_when_far_from_or_unknown_expiry(fake, expires_at):
    secrets = {**CREDS}
    if expires_at is not None:
        secrets["ACCESS_TOKEN_EXPIRES_AT"] = expires_at
    assert len(balances(broker(fake, secrets)).rows) == 1
    assert fake.legacy_refreshes == 0 and not fake.calls("/v1/token/refresh")


def test_refresh_days_setting_and_epoch_expiry(fake):
    secrets = {**CREDS, "ACCESS_TOKEN_EXPIRES_AT": int(time.time()) + 10 * 86400}
    lp = broker(fake, secrets, settings_extra={"refresh_days": 14})
    assert len(balances(lp).rows) == 1
    assert fake.legacy_refreshes == 1
    assert lp.ctx.secrets.get("ACCESS_TOKEN") in fake.tokens


def test_another_process_refreshed_first(fake, plaintext_keyring):
    plaintext_keyring.save("lp", {"app_key": DEMO_APP_KEY, "app_secret": DEMO_APP_SECRET,
                                  "access_token": DEMO_ACCESS_TOKEN,
                                  "access_token_expires_at": iso(timedelta(days=1))})
    late = LongPort(keyring_ctx(fake))
    assert late.ctx.secrets.get("ACCESS_TOKEN") == DEMO_ACCESS_TOKEN  # read before the refresh
    first = LongPort(keyring_ctx(fake))
    assert len(balances(first).rows) == 1
    assert len(balances(late).rows) == 1  # re-read under the lock: no second refresh
    assert fake.legacy_refreshes == 1
    assert fake.requests[-1].header("authorization") == plaintext_keyring.load("lp")[
        "access_token"]


def test_env_token_near_expiry_is_not_spent_but_warned_about(fake):
    warnings: list[str] = []
    prof = validate_profile("lp", settings(fake))
    env = {f"BALANCECLI_LP_{k}": v for k, v in CREDS.items()}
    env["BALANCECLI_LP_ACCESS_TOKEN_EXPIRES_AT"] = iso(timedelta(days=3))
    sec = Secrets("lp", prof.broker_class.secret_fields(prof.settings), env=env,
                  keyring=Keyring())
    lp = LongPort(make_context(prof, Options(listener=Relay(warn=warnings.append)), sec))
    assert len(balances(lp).rows) == 1
    assert fake.legacy_refreshes == 0
    assert len(warnings) == 1 and "expires in 3.0 days" in warnings[0]
    assert "balancecli auth refresh lp" in warnings[0]
    assert_clean(warnings, fake)


def test_forced_legacy_refresh(fake):
    lp = broker(fake)
    lp.refresh()
    new = lp.ctx.secrets.get("ACCESS_TOKEN")
    assert new != DEMO_ACCESS_TOKEN and new in fake.tokens
    assert fake.legacy_refreshes == 1
    assert balances(lp).errors == [] and fake.requests[-1].header("authorization") == new


def test_forced_refresh_of_an_env_token_warns_that_the_variable_is_now_dead(fake,
                                                                          plaintext_keyring):
    warnings: list[str] = []
    prof = validate_profile("lp", settings(fake))
    env = {f"BALANCECLI_LP_{k}": v for k, v in CREDS.items()}
    sec = Secrets("lp", prof.broker_class.secret_fields(prof.settings), env=env,
                  keyring=Keyring(), warn=warnings.append)
    lp = LongPort(make_context(prof, Options(listener=Relay(warn=warnings.append)), sec))
    lp.refresh()
    new = plaintext_keyring.load("lp")["access_token"]
    assert new in fake.tokens and DEMO_ACCESS_TOKEN in fake.revoked
    assert balances(lp).errors == [] and fake.requests[-1].header("authorization") == new
    # The warning comes from Secrets now (the same for every broker).
    assert warnings == ["lp: the broker replaced the access token; the new one is stored in the "
                        "keyring, but BALANCECLI_LP_ACCESS_TOKEN still holds the spent one and "
                        "wins over the keyring: unset it"]


def test_legacy_refresh_with_an_expired_token_is_an_auth_error(fake):
    fake.expire(DEMO_ACCESS_TOKEN)
    lp = broker(fake)
    with pytest.raises(AuthError) as info:
        lp.refresh()
    assert "401003" in info.value.message
    assert_clean([shown(info.value)], fake)


# -- OAuth


def test_oauth_uses_bearer_without_signature_and_no_refresh_when_fresh(oauth_fake):
    lp, secrets = oauth_broker(oauth_fake, expires_at=time.time() + 86400)
    assert len(balances(lp).rows) == 1
    [call] = oauth_fake.requests
    assert call.header("authorization") == "Bearer " + secrets["ACCESS_TOKEN"]
    assert call.header("x-api-key") == DEMO_CLIENT_ID
    assert "x-api-signature" not in call.headers
    assert oauth_fake.oauth_refreshes == 0


def test_oauth_refresh_before_expiry_saves_the_rotated_refresh_token(oauth_fake,
                                                                      plaintext_keyring):
    old_access = oauth_fake.issue(100)
    old_refresh = oauth_fake.issue_refresh_token()
    plaintext_keyring.save("lpo", {"access_token": old_access, "refresh_token": old_refresh,
                                   "client_id": DEMO_CLIENT_ID,
                                   "access_token_expires_at": int(time.time()) + 100})
    lp = LongPort(keyring_ctx(oauth_fake, "lpo", auth="oauth"))
    assert len(balances(lp).rows) == 1
    token_call, call = oauth_fake.requests
    assert token_call.path == "/oauth2/token" and token_call.method == "POST"
    assert token_call.form() == {"grant_type": "refresh_token", "client_id": DEMO_CLIENT_ID,
                                 "refresh_token": old_refresh}
    item = plaintext_keyring.load("lpo")
    assert item["refresh_token"] != old_refresh and item["refresh_token"] in \
        oauth_fake.refresh_tokens and old_refresh not in oauth_fake.refresh_tokens
    assert call.header("authorization") == "Bearer " + item["access_token"]
    assert abs(item["access_token_expires_at"] - (time.time() + 2592000)) < 60
    assert oauth_fake.oauth_refreshes == 1
    # Fresh now: a second run does not refresh.
    lp2 = LongPort(keyring_ctx(oauth_fake, "lpo", auth="oauth"))
    assert len(balances(lp2).rows) == 1 and oauth_fake.oauth_refreshes == 1


def test_oauth_401003_refreshes_once_and_retries(oauth_fake):
    lp, secrets = oauth_broker(oauth_fake, expires_at=time.time() + 86400)
    oauth_fake.expire(secrets["ACCESS_TOKEN"])
    assert len(balances(lp).rows) == 1
    assert [r.path for r in oauth_fake.requests] == [
        "/v1/asset/account", "/oauth2/token", "/v1/asset/account"]
    assert oauth_fake.oauth_refreshes == 1
    assert lp.ctx.secrets.get("REFRESH_TOKEN") in oauth_fake.refresh_tokens


def test_oauth_rejected_twice_is_an_auth_error(oauth_fake):
    lp, _ = oauth_broker(oauth_fake)
    oauth_fake.fail_codes = [401004, 401004]
    error = one_error(balances(lp))
    assert isinstance(error, AuthError) and "401004" in error.message
    assert error.next_step == "run: balancecli auth login lpo"
    assert oauth_fake.oauth_refreshes == 1
    assert_clean([shown(error)], oauth_fake)


def test_oauth_refresh_answer_with_a_folded_token_is_refused_but_its_refresh_token_kept(
        oauth_fake):
    lp, _ = oauth_broker(oauth_fake)
    oauth_fake.fail_codes = [401004]
    rotated = oauth_fake.issue_refresh_token()
    oauth_fake.inject("body", "/oauth2/token$", method="POST", body=json.dumps(
        {"access_token": "m_folded\r\n x-injected: 1", "refresh_token": rotated,
         "expires_in": 3600}))
    error = one_error(balances(lp))
    assert isinstance(error, AuthError) and error.exit_code == 4
    assert error.message == ("the token endpoint answered an access token with a line break; "
                             "nothing of it was used or stored")
    assert "folded" not in shown(error) and "injected" not in shown(error)
    # The old refresh token is spent: the rotated one is kept; the broken token was never sent.
    assert lp.ctx.secrets.get("REFRESH_TOKEN") == rotated
    assert [r.path for r in oauth_fake.requests] == ["/v1/asset/account", "/oauth2/token"]


def test_oauth_missing_access_token_and_kept_refresh_token(oauth_fake):
    oauth_fake.rotate_refresh_tokens = False
    refresh = oauth_fake.issue_refresh_token()
    ctx = make_ctx("lpo", settings(oauth_fake, auth="oauth", client_id=DEMO_CLIENT_ID),
                   {"REFRESH_TOKEN": refresh})
    lp = LongPort(ctx)
    assert LongPort.secret_fields(ctx.settings) == ("ACCESS_TOKEN", "REFRESH_TOKEN")
    assert len(balances(lp).rows) == 1
    assert ctx.secrets.get("REFRESH_TOKEN") == refresh  # none returned: the old one is kept
    assert ctx.secrets.get("ACCESS_TOKEN") in oauth_fake.tokens


def test_oauth_bad_refresh_token_and_client_secret(oauth_fake):
    lp, _ = oauth_broker(oauth_fake)
    lp.ctx.secrets.save(refresh_token="rt_not-valid-token")
    with pytest.raises(AuthError) as info:
        lp.refresh()
    assert info.value.message == ("the LongPort OAuth token refresh was refused "
                                  "(refresh token is invalid)")
    assert info.value.next_step == "run: balancecli auth login lpo"
    oauth_fake.client_secret = CLIENT_SECRET
    lp, secrets = oauth_broker(oauth_fake)
    with pytest.raises(AuthError):
        lp.refresh()
    lp.ctx.secrets.save(client_secret=CLIENT_SECRET)
    lp.refresh()
    assert oauth_fake.calls("/oauth2/token")[-1].form()["client_secret"] == CLIENT_SECRET
    assert lp.ctx.secrets.get("ACCESS_TOKEN") != secrets["ACCESS_TOKEN"]
    assert_clean([shown(info.value)], oauth_fake)


def test_fake_oauth_authorize_and_pkce_code_grant(oauth_fake):
    import base64
    verifier = "v" * 50
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(
        b"=").decode()
    redirect = "http://localhost:60355/callback"
    reply = requests.get(oauth_fake.url + "/oauth2/authorize", allow_redirects=False, timeout=5,
                         params={"response_type": "code", "client_id": DEMO_CLIENT_ID,
                                 "redirect_uri": redirect, "state": "s1", "scope": "3",
                                 "code_challenge": challenge, "code_challenge_method": "S256"})
    assert reply.status_code == 302
    location = reply.headers["Location"]
    assert location.startswith(redirect + "?code=") and location.endswith("&state=s1")
    code = location.split("code=")[1].split("&")[0]
    form = {"grant_type": "authorization_code", "client_id": DEMO_CLIENT_ID, "code": code,
            "redirect_uri": redirect}
    bad = requests.post(oauth_fake.url + "/oauth2/token", timeout=5,
                        data={**form, "code_verifier": "w" * 50})
    assert bad.status_code == 400
    reply = requests.get(oauth_fake.url + "/oauth2/authorize", allow_redirects=False, timeout=5,
                         params={"response_type": "code", "client_id": DEMO_CLIENT_ID,
                                 "redirect_uri": redirect, "code_challenge": challenge,
                                 "code_challenge_method": "S256"})
    code = reply.headers["Location"].split("code=")[1]
    good = requests.post(oauth_fake.url + "/oauth2/token", timeout=5,
                         data={**form, "code": code, "code_verifier": verifier})
    body = good.json()
    assert good.status_code == 200 and body["token_type"] == "Bearer"
    assert body["access_token"] in oauth_fake.tokens
    assert body["refresh_token"] in oauth_fake.refresh_tokens
    revoked = requests.post(oauth_fake.url + "/oauth2/revoke", timeout=5, data={
        "token": body["refresh_token"], "token_type_hint": "refresh_token",
        "client_id": DEMO_CLIENT_ID})
    assert revoked.status_code == 200 and oauth_fake.revocations == 1
    assert body["refresh_token"] not in oauth_fake.refresh_tokens


# -- settings, hosts, throttle


def test_secret_fields_and_hosts(fake):
    assert LongPort.secret_fields({"auth": "apikey"}) == ("APP_KEY", "APP_SECRET",
                                                          "ACCESS_TOKEN")
    assert LongPort.secret_fields({"auth": "oauth"}) == ("ACCESS_TOKEN", "REFRESH_TOKEN",
                                                         "CLIENT_ID")
    hosts = {}
    for region in ("global", "cn"):
        ctx = make_ctx("lp", {"broker": "longport", "auth": "oauth", "region": region}, {})
        lp = LongPort(ctx)
        hosts[region] = (lp.base, lp.token_url)
    assert hosts == {
        "global": ("https://openapi.longbridge.com",
                   "https://openapi.longbridge.com/oauth2/token"),
        "cn": ("https://openapi.longbridge.cn", "https://openapi.longbridge.cn/oauth2/token")}
    with pytest.raises(BalanceCliError, match="region"):
        validate_profile("lp", {"broker": "longport", "region": "eu"})
    with pytest.raises(BalanceCliError, match="https"):
        validate_profile("lp", {"broker": "longport", "base_url": "http://example.com"})


def test_the_documented_rate_is_kept_by_the_hosts_limiter():
    """30 calls per 30 s, 0.02 s apart: LongPort's limits as documented at open.longportapp.com
    ("Rate Limit"), which the per-host limiter keeps for every profile on that host (one window,
    not one per profile or credential)."""
    from balancecli.brokers.longport.broker import LongPort
    from balancecli.net.limiter import HostLimiter, RateLimit

    assert (LongPort.limits.calls, LongPort.limits.period, LongPort.limits.gap) == (30, 30, 0.02)
    window = HostLimiter("lp", RateLimit(start=5, ceiling=5, calls=3, period=0.3, gap=0.02))
    started = time.monotonic()
    stamps = []
    for _ in range(4):
        window.release(window.acquire(budget=5), "ok")
        stamps.append(time.monotonic() - started)
    assert all(b - a >= 0.019 for a, b in zip(stamps, stamps[1:], strict=False))
    assert stamps[3] >= 0.29  # the 4th call waits for the 3-call window (30 s scaled down)


def test_missing_secret_is_an_auth_error_naming_the_variable(fake):
    error = one_error(balances(broker(fake, {"APP_KEY": DEMO_APP_KEY,
                                              "ACCESS_TOKEN": DEMO_ACCESS_TOKEN})))
    assert isinstance(error, AuthError) and "APP_SECRET" in error.message
    assert "BALANCECLI_LP_APP_SECRET" in error.next_step


def test_secrets_never_appear_anywhere(fake, oauth_fake):
    logs: list[str] = []
    texts: list[str] = []
    lp = broker(fake, log=logs.append)
    for code in (401003, 403201, 403202, 403203, 403205, 500000, 400001):
        fake.fail_codes = [code] * (5 if code == 403202 else 1)  # 403202 is retried 4 times
        texts.append(shown(one_error(balances(lp))))
    fake.inject("truncated", "/v1/asset/account")
    texts.append(shown(one_error(balances(lp))))
    lp.refresh()
    texts.append(shown(one_error(balances(broker(fake)))))  # the old token, now revoked
    lpo, _ = oauth_broker(oauth_fake, log=logs.append)
    oauth_fake.fail_codes = [401003, 401003]
    texts.append(shown(one_error(balances(lpo))))
    assert len(logs) >= 10
    assert_clean(texts + logs, fake, oauth_fake)


# -- the command line


def test_cli_demo_balance_json_exact():
    proc = run_cli("--demo", "balance", "-p", "demo-lp", "-f", "json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout, parse_float=D)
    [row] = doc["balances"]
    assert {k: v for k, v in row.items() if k != "as_of"} == {
        "profile": "demo-lp", "broker": "longport", "account_id": "LP-DEMO",
        "account_name": None, "account_type": "securities", "currency": "HKD",
        "cash": D("353100.20"), "available": D("300120.20"),
        "withdrawable": D("250000.00"), "buying_power": D("1580200.00"),
        "equity": D("1254830.45"), "market_value": None, "initial_margin": D("285400.00"),
        "maintenance_margin": D("228320.00"), "unrealized_pnl": None, "realized_pnl": None,
        "extra": {"max_finance_amount": "2000000", "remaining_finance_amount": "2000000",
                  "risk_level": "0", "margin_call": "0"}}
    assert '"withdrawable": 250000.00,' in proc.stdout
    # The demo's numbers look like one account: its cash is a part of its net assets.
    assert row["cash"] < row["equity"]
    assert doc["errors"] == []
    assert DEMO_APP_SECRET not in proc.stdout + proc.stderr
    assert DEMO_ACCESS_TOKEN not in proc.stdout + proc.stderr


def test_cli_config_profile_with_env_secrets(tmp_path, fake):
    fake.variant = "multi"
    config = write_config(tmp_path / "config.toml", {"my-lp": {
        "broker": "longport", "auth": "apikey", "base_url": fake.url, **FAST}})
    env = {"BALANCECLI_CONFIG": str(config), "BALANCECLI_MY_LP_APP_KEY": DEMO_APP_KEY,
           "BALANCECLI_MY_LP_APP_SECRET": DEMO_APP_SECRET,
           "BALANCECLI_MY_LP_ACCESS_TOKEN": DEMO_ACCESS_TOKEN}
    proc = run_cli("assets", "-p", "my-lp", "-f", "json", "--currency", "USD", "-v", env=env)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout, parse_float=D)
    assert [(a["account_id"], a["asset"], a["available"], a["withdrawable"], a["total"])
            for a in doc["assets"]] == [("my-lp", "USD", D("6500.10"), D("6400.10"), None)]
    assert fake.requests[-1].query == "currency=USD"
    # A wrong secret: exit 4, one line naming what to check, no secret anywhere.
    env["BALANCECLI_MY_LP_APP_SECRET"] = "wrong-secret-value"
    proc = run_cli("balance", "-p", "my-lp", "-f", "json", "-v", env=env)
    assert proc.returncode == 4
    assert "check APP_SECRET" in proc.stderr
    for value in (DEMO_APP_SECRET, DEMO_ACCESS_TOKEN, "wrong-secret-value"):
        assert value not in proc.stdout + proc.stderr


def test_cli_an_answer_without_data_list_is_exit_6_and_down(tmp_path, fake):
    """``{"code": 0, "data": {}}`` through the installed command: one bad_response line
    naming the missing field, exit 6, ``balancecli_up 0``; never an empty success."""
    fake.variant = "no_list"
    config = write_config(tmp_path / "config.toml", {"lp": {
        "broker": "longport", "auth": "apikey", "base_url": fake.url, **FAST}})
    env = {"BALANCECLI_CONFIG": str(config), "BALANCECLI_LP_APP_KEY": DEMO_APP_KEY,
           "BALANCECLI_LP_APP_SECRET": DEMO_APP_SECRET,
           "BALANCECLI_LP_ACCESS_TOKEN": DEMO_ACCESS_TOKEN}
    proc = run_cli("balance", env=env)
    assert (proc.returncode, proc.stdout) == (6, "")
    assert proc.stderr.splitlines() == [
        "error: lp account lp: the account balance answer has no data.list (the SDK requires "
        "it) — try again later; if it persists, report it to LongPort"]
    prom = run_cli("balance", "-f", "prometheus", env=env)
    assert prom.returncode == 6
    assert 'balancecli_up{profile="lp"} 0' in prom.stdout.splitlines()
