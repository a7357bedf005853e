"""TradeStation token refresh against hostile answers: the answer's tokens are saved before
anything else in it is read, an unusable ``expires_in`` keeps the token, and v2 refreshes at the
host of its environment."""

from __future__ import annotations

import json
import time

import keyring
import pytest
from keyrings.alt.file import PlaintextKeyring

from balancecli.brokers.tradestation.broker import TradeStation
from balancecli.core.errors import AuthError, BadResponseError
from balancecli.credentials import Keyring
from balancecli.demo.tradestation import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET
from tests.support.cli import run_cli
from tests.support.config import FAST, make_ctx, write_config

UNUSABLE = ["1e400", '"1E+999999"', "-5", '"twenty minutes"', "true", "null",
            "1" + "0" * 500, '{"s": 1}']


def rotated_answer(fake, expires_in: str) -> tuple[str, str]:
    """Queue a refresh answer with a fresh (valid) access token, a rotated refresh token and
    the given raw ``expires_in``; returns the two tokens."""
    access, rotated = fake.issue()
    fake.inject("body", "/oauth/token$", method="POST",
                body=f'{{"access_token": "{access}", "refresh_token": "{rotated}", '
                     f'"expires_in": {expires_in}, "token_type": "Bearer"}}')
    return access, rotated


def broker(fake, **secrets) -> TradeStation:
    _, refresh = fake.issue()
    settings = {"broker": "tradestation", "base_url": fake.url,
                "token_url": fake.url + "/oauth/token", **FAST}
    given = {"REFRESH_TOKEN": refresh, "CLIENT_ID": DEMO_CLIENT_ID,
             "CLIENT_SECRET": DEMO_CLIENT_SECRET, **secrets}
    return TradeStation(make_ctx("ts", settings, given))


@pytest.mark.parametrize("expires_in", UNUSABLE)
def test_an_unusable_expires_in_keeps_the_tokens(ts_fake, expires_in):
    b = broker(ts_fake)
    access, rotated = rotated_answer(ts_fake, expires_in)
    before = time.time()
    assert len(b.accounts()) == 3
    secrets = b.ctx.secrets
    assert secrets.get("ACCESS_TOKEN") == access and secrets.get("REFRESH_TOKEN") == rotated
    # The documented 20 minutes instead of the unusable value.
    assert before + 1199 <= float(secrets.get("ACCESS_TOKEN_EXPIRES_AT")) <= time.time() + 1201


def test_a_rotated_refresh_token_is_saved_even_when_the_access_token_is_missing(ts_fake):
    b = broker(ts_fake)
    _, rotated = ts_fake.issue()
    ts_fake.inject("body", "/oauth/token$", method="POST",
                   body=f'{{"refresh_token": "{rotated}", "access_token": 12}}')
    with pytest.raises(BadResponseError, match="no access_token"):
        b.accounts()
    assert b.ctx.secrets.get("REFRESH_TOKEN") == rotated


def test_the_cli_stores_the_rotated_token_despite_a_1e400_expiry(tmp_path, ts_fake, monkeypatch):
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyrings.alt.file.PlaintextKeyring")
    keyring.set_keyring(PlaintextKeyring())
    _, refresh = ts_fake.issue()
    Keyring().save("ts", {"refresh_token": refresh, "client_id": DEMO_CLIENT_ID,
                          "client_secret": DEMO_CLIENT_SECRET})
    config = write_config(tmp_path / "c.toml", {"ts": {
        "broker": "tradestation", "base_url": ts_fake.url,
        "token_url": ts_fake.url + "/oauth/token", **FAST}})
    access, rotated = rotated_answer(ts_fake, "1e400")
    proc = run_cli("accounts", "--config", str(config))
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    item = Keyring().load("ts")
    assert (item["access_token"], item["refresh_token"]) == (access, rotated)
    # The next run uses the stored token: no second refresh.
    again = run_cli("accounts", "--config", str(config))
    assert again.returncode == 0 and len(ts_fake.calls("/oauth/token$")) == 1


@pytest.mark.parametrize(("environment", "base_url", "expected"), [
    ("sim", None, "https://sim-api.tradestation.com/v2/security/authorize"),
    ("live", None, "https://api.tradestation.com/v2/security/authorize"),
    ("sim", "https://proxy.example/ts/", "https://proxy.example/ts/v2/security/authorize"),
])
def test_v2_refreshes_at_the_host_of_its_environment(environment, base_url, expected):
    settings = {"broker": "tradestation", "api": "v2", "environment": environment,
                "user_id": "u"}
    if base_url:
        settings["base_url"] = base_url
    assert TradeStation(make_ctx("ts", settings, {})).token_url == expected


def test_v3_refreshes_at_auth0_in_both_environments():
    for environment in ("live", "sim"):
        b = TradeStation(make_ctx("ts", {"broker": "tradestation", "environment": environment},
                                  {}))
        assert b.token_url == "https://signin.tradestation.com/oauth/token"


# -- a 401 storm: at most one refresh per profile and fetch

def many_accounts(fake, n: int) -> None:
    template = fake.v3["balances"]["11827391"]
    ids = [f"T{i:05d}" for i in range(n)]
    fake.v3["accounts"] = [{"AccountID": i, "AccountType": "Cash", "Currency": "USD",
                            "Status": "Active"} for i in ids]
    fake.v3["balances"] = {i: {**template, "AccountID": i} for i in ids}


@pytest.mark.parametrize("n", [200, 1000])
def test_a_401_storm_costs_one_refresh_and_is_one_auth_error(ts_fake, n):
    many_accounts(ts_fake, n)
    # Every balances call is refused, also with the token a good refresh just issued.
    ts_fake.inject("status", "/balances$", times=10**6, status=401,
                   body={"Error": "Unauthorized", "Message": "Token is expired or invalid."})
    access, _ = ts_fake.issue()
    b = broker(ts_fake, ACCESS_TOKEN=access)
    accounts = b.accounts()
    assert len(accounts) == n
    with pytest.raises(AuthError) as info:
        b.balances(accounts)
    assert info.value.exit_code == 4 and info.value.http_status == 401
    assert info.value.message == ("the access token was rejected after a refresh "
                                  "(Unauthorized: Token is expired or invalid.)")
    assert ts_fake.refresh_count == 1
    assert len(ts_fake.calls("/oauth/token$", "POST")) == 1
    # After the failure no more batches went out: at most the first window, twice.
    assert len(ts_fake.calls("/balances$")) <= 2 * b.ctx.max_workers


def test_a_refused_refresh_is_not_repeated_by_the_other_batches(ts_fake):
    many_accounts(ts_fake, 300)
    access, _ = ts_fake.issue()
    b = broker(ts_fake, ACCESS_TOKEN=access)
    accounts = b.accounts()
    ts_fake.expire_all()
    ts_fake.inject("status", "/oauth/token$", method="POST", status=403, times=10**6,
                   body={"error": "invalid_grant", "error_description": "Unknown token."})
    with pytest.raises(AuthError, match="the refresh token was rejected"):
        b.balances(accounts)
    assert len(ts_fake.calls("/oauth/token$", "POST")) == 1


# -- tokens checked where they enter

@pytest.mark.parametrize("token", ["ts-at-1\r\n X-Injected: yes", "ts-at-2\nfolded",
                                   "ts-at-3 space", "ts-at-4\x00nul", "ts-at-5é"])
def test_a_refresh_answer_with_an_unsendable_access_token_is_refused(ts_fake, token):
    b = broker(ts_fake)
    body = json.dumps({"access_token": token, "expires_in": 1200})
    ts_fake.inject("body", "/oauth/token$", method="POST", body=body)
    with pytest.raises(AuthError) as info:
        b.accounts()
    assert info.value.message.startswith("the token endpoint answered an access token with ")
    assert "ts-at-" not in info.value.message + (info.value.next_step or "")
    assert ts_fake.calls("/v3/") == []  # it never went on the wire
    assert b.ctx.secrets.get("ACCESS_TOKEN") is None  # nor into the store
