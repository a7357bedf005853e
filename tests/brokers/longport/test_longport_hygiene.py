"""LongPort under cron: concurrent API-key runs never fail on 403202, the data-center header
follows the official SDK, and a hostile token answer keeps its tokens."""

from __future__ import annotations

import json
import subprocess
import time
from decimal import Decimal as D

import pytest

from balancecli.brokers.longport.broker import LongPort
from balancecli.brokers.longport.sign import dc_region, timestamp
from balancecli.core.errors import UnavailableError
from balancecli.demo.longport import (
    DEMO_ACCESS_TOKEN,
    DEMO_APP_KEY,
    DEMO_APP_SECRET,
    DEMO_CLIENT_ID,
    FakeLongPort,
)
from tests.support.cli import balancecli_exe
from tests.support.config import FAST, make_ctx, write_config

CREDS = {"APP_KEY": DEMO_APP_KEY, "APP_SECRET": DEMO_APP_SECRET, "ACCESS_TOKEN": DEMO_ACCESS_TOKEN}


@pytest.fixture
def fake():
    server = FakeLongPort().start()
    yield server
    server.stop()


def broker(fake: FakeLongPort, secrets: dict | None = None, **settings) -> LongPort:
    return LongPort(make_ctx("lp", {"broker": "longport", "auth": "apikey", "base_url": fake.url,
                                    "timeout": 5, **FAST, **settings}, secrets or CREDS))


def balances(lp: LongPort):
    return lp.balances(lp.accounts())


# -- x-dc-region


def test_the_region_comes_from_any_credential_like_the_sdk():
    assert dc_region("ap_key", "us_secret", "ap_token") == "us"
    assert dc_region("us_key", "secret", "token") == "us"
    assert dc_region("key", "secret", "us_m_token") == "us"
    assert dc_region("Bearer us_x") == "us"
    assert dc_region("ap_key", "ap_secret", "ap_token") == "ap"
    assert dc_region("key", "secret", "m_token") == "ap" and dc_region() == "ap"


@pytest.mark.parametrize(("which", "region"), [
    ("APP_KEY", "us"), ("APP_SECRET", "us"), ("ACCESS_TOKEN", "us"), (None, "ap")])
def test_every_api_key_request_carries_the_region(which, region):
    creds = dict(CREDS)
    if which:
        creds[which] = "us_" + creds[which]
    server = FakeLongPort(app_key=creds["APP_KEY"], app_secret=creds["APP_SECRET"],
                          access_token=creds["ACCESS_TOKEN"]).start()
    try:
        assert balances(broker(server, creds)).errors == []
        assert [r.header("x-dc-region") for r in server.requests] == [region]
    finally:
        server.stop()


def test_oauth_requests_carry_the_region_of_the_token():
    server = FakeLongPort(mode="oauth", access_token=None).start()
    try:
        for prefix, region in (("us_", "us"), ("m_", "ap")):
            token = server.issue(86400, prefix=prefix)
            lp = LongPort(make_ctx("lpo", {"broker": "longport", "auth": "oauth",
                                           "base_url": server.url, **FAST},
                                   {"ACCESS_TOKEN": token, "REFRESH_TOKEN": "rt_x",
                                    "CLIENT_ID": DEMO_CLIENT_ID}))
            assert balances(lp).errors == []
            assert server.requests[-1].header("x-dc-region") == region
    finally:
        server.stop()


# -- 403202 duplicate request


def test_timestamps_are_strictly_increasing_and_near_now():
    stamps = [int(timestamp()) for _ in range(1000)]
    assert stamps == sorted(set(stamps))
    assert abs(stamps[0] / 1000 - time.time()) < 2  # the per-process offset is under 1 s


def test_a_duplicate_request_is_signed_again_at_once(fake):
    fake.fail_codes = [403202]
    started = time.monotonic()
    result = balances(broker(fake))
    assert result.errors == [] and len(result.rows) == 1
    first, second = fake.calls("/v1/asset/account")
    assert int(second.header("x-timestamp")) > int(first.header("x-timestamp"))
    assert second.header("x-api-signature") != first.header("x-api-signature")
    assert time.monotonic() - started < 2  # no backoff


def test_a_persistent_duplicate_request_is_temporary_not_a_login_problem(fake):
    fake.fail_codes = [403202] * 5
    [error] = balances(broker(fake)).errors
    assert isinstance(error, UnavailableError) and error.exit_code == 5
    assert "duplicate request, code 403202" in error.message and "5 attempts" in error.message
    assert "login" not in (error.next_step or "") and "clock" in error.next_step
    assert len(fake.calls("/v1/asset/account")) == 5


def cli_env(fake: FakeLongPort, tmp_path, names: tuple[str, ...] = ("lp",)) -> dict[str, str]:
    """Profiles sharing one credential set (so identical requests), secrets from the env."""
    config = write_config(tmp_path / "lp.toml", {name: {
        "broker": "longport", "auth": "apikey", "base_url": fake.url, "account_id": "LP1",
        "timeout": 10} for name in names})
    env = {"BALANCECLI_CONFIG": str(config)}
    for name in names:
        up = name.upper()
        env |= {f"BALANCECLI_{up}_APP_KEY": DEMO_APP_KEY,
                f"BALANCECLI_{up}_APP_SECRET": DEMO_APP_SECRET,
                f"BALANCECLI_{up}_ACCESS_TOKEN": DEMO_ACCESS_TOKEN}
    return env


def test_twenty_concurrent_runs_all_succeed(fake, tmp_path):
    """The fake rejects any replayed signature (403202), like the service. Each run signs the
    same request for 8 profiles at once, so 20 runs send 160 identical requests within a few
    seconds: without a retry and the per-process offset some collide in the same millisecond."""
    import os

    names = tuple(f"lp{i}" for i in range(8))
    env = {**os.environ, **cli_env(fake, tmp_path, names)}
    for _ in range(3):
        runs = [subprocess.Popen([balancecli_exe(), "balance", "-f", "json"], env=env,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                for _ in range(20)]
        outcomes = [(run.wait(timeout=120), run.stdout.read(), run.stderr.read())
                    for run in runs]
        for code, out, err in outcomes:
            assert code == 0, err
            rows = json.loads(out, parse_float=D)["balances"]
            assert [r["cash"] for r in rows] == [D("1759070010.72")] * len(names)
        for run in runs:
            run.stdout.close()
            run.stderr.close()
    assert len(fake.calls("/v1/asset/account")) >= 3 * 20 * len(names)


def test_cli_persistent_duplicate_is_exit_5(fake, tmp_path):
    import os

    fake.fail_codes = [403202] * 5
    proc = subprocess.run([balancecli_exe(), "balance"], env={**os.environ,
                                                              **cli_env(fake, tmp_path)},
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 5, proc.stderr
    [line] = proc.stderr.splitlines()
    assert line.startswith("error: lp account LP1: LongPort saw this request twice")
    assert "auth login" not in line


# -- hostile token answers


@pytest.mark.parametrize("expires_in", ["1e400", '"1E+999999"', "-1", '"soon"', "null"])
def test_oauth_refresh_keeps_its_tokens_whatever_the_expiry(expires_in):
    server = FakeLongPort(mode="oauth", access_token=None).start()
    try:
        access, rotated = server.issue(86400), server.issue_refresh_token()
        server.inject("body", "/oauth2/token$", method="POST",
                      body=f'{{"access_token": "{access}", "refresh_token": "{rotated}", '
                           f'"expires_in": {expires_in}, "token_type": "Bearer"}}')
        lp = LongPort(make_ctx("lpo", {"broker": "longport", "auth": "oauth",
                                       "base_url": server.url, **FAST},
                               {"REFRESH_TOKEN": server.issue_refresh_token(),
                                "CLIENT_ID": DEMO_CLIENT_ID}))
        assert balances(lp).errors == []
        secrets = lp.ctx.secrets
        assert (secrets.get("ACCESS_TOKEN"), secrets.get("REFRESH_TOKEN")) == (access, rotated)
        left = float(secrets.get("ACCESS_TOKEN_EXPIRES_AT")) - time.time()
        assert 3500 < left <= 3600  # the SDK's default lifetime
    finally:
        server.stop()


def test_legacy_refresh_with_an_unreadable_expiry_keeps_the_new_token(fake):
    lp = broker(fake)
    fake.inject("body", "/v1/token/refresh$", body=json.dumps({"code": 0, "data": {
        "token": fake.issue(), "expired_at": "whenever", "n": "x"}})
        .replace('"x"', "1e999999"))
    lp.refresh()
    # The 90 days asked for, as epoch seconds.
    left = lp.ctx.secrets.get("ACCESS_TOKEN_EXPIRES_AT") - time.time()
    assert 90 * 86400 - 60 < left <= 90 * 86400
    assert lp.ctx.secrets.get("ACCESS_TOKEN") != DEMO_ACCESS_TOKEN
