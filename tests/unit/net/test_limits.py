"""Hostile transports through the installed command: trickling servers, gzip bombs and huge
bodies end in the documented exit code, in bounded time and memory, and the other profiles
still print."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest

from balancecli.demo.etna import DEMO_APP_KEY, DEMO_PASSWORD, DEMO_USERNAME, FakeEtna
from tests.support.cli import run_measured as measured
from tests.support.config import FAST, write_config

RSS_BOUND_MB = 150  # a small run peaks near 50 MB; a 1 GiB bomb inflated would be 1,000+


@dataclass
class Run:
    code: int
    out: str
    err: str
    seconds: float
    max_rss_mb: float


def run_measured(*args: str, env: dict) -> Run:
    """The installed command as a child: exit code, output, wall time and its peak RSS."""
    proc, seconds, peak = measured(*args, env=env)
    return Run(proc.returncode, proc.stdout, proc.stderr, seconds, peak)


@pytest.fixture
def etna():
    with FakeEtna() as fake:
        yield fake


@pytest.fixture
def two_profiles(tmp_path, ts_profile, etna):
    """A TradeStation profile (the one the tests attack) and a healthy ETNA profile."""
    settings, env = ts_profile
    config = write_config(tmp_path / "config.toml", {
        "ts": settings,
        "etna": {"broker": "etna", "base_url": etna.url + "/api", **FAST},
    })
    env = {**env, "BALANCECLI_CONFIG": str(config), "BALANCECLI_ETNA_APP_KEY": DEMO_APP_KEY,
           "BALANCECLI_ETNA_USERNAME": DEMO_USERNAME, "BALANCECLI_ETNA_PASSWORD": DEMO_PASSWORD,
           "BALANCECLI_ETNA_TOKEN": etna.issue()}  # no login: no token to store
    return config, env


def etna_rows_printed(run: Run) -> list[str]:
    rows = [json.loads(line) for line in run.out.splitlines()]
    return sorted(r["account_id"] for r in rows if r["profile"] == "etna")


def test_trickled_headers_end_at_the_timeout_with_exit_5(ts_fake, ts_profile, tmp_path):
    settings, env = ts_profile
    config = write_config(tmp_path / "config.toml", {"ts": settings})
    ts_fake.inject("trickle_headers", path="/v3/brokerage/accounts", seconds=0.5, times=5)
    run = run_measured("balance", "--timeout", "2", env={**env, "BALANCECLI_CONFIG": str(config)})
    assert run.code == 5
    assert run.err == (f"error: ts: 127.0.0.1:{ts_fake.port} did not answer within 2 s — "
                       "check the network and try again (add -v to see each request)\n")
    assert run.seconds < 6  # 2 s, not 40 s and counting


def test_trickled_body_with_retries_stays_within_timeout_times_attempts(ts_fake, ts_profile,
                                                                         tmp_path):
    settings, env = ts_profile
    settings = {**settings, "max_retries": 2, "retry_backoff": 0.2}
    config = write_config(tmp_path / "config.toml", {"ts": settings})
    ts_fake.inject("trickle_body", path="/v3/brokerage/accounts", seconds=0.5, times=5)
    run = run_measured("balance", "--timeout", "1.5", env={**env,
                                                           "BALANCECLI_CONFIG": str(config)})
    assert run.code == 5
    assert "did not answer within 1.5 s after 3 attempts" in run.err
    assert run.seconds < 3 * 1.5 + 0.6 + 4  # attempts + backoff + start-up slack


def test_a_gzip_bomb_is_a_bad_response_in_little_memory_and_others_still_print(ts_fake,
                                                                                two_profiles):
    _, env = two_profiles
    ts_fake.inject("gzip_bomb", path="/v3/brokerage/accounts", size=1 << 30)
    run = run_measured("balance", "-f", "jsonl", env=env)
    assert run.code == 7
    assert etna_rows_printed(run) == ["83267", "83268", "83269"]
    assert run.err == (f"error: ts: 127.0.0.1:{ts_fake.port} sent a response larger than "
                       "16 MiB (setting max_response_bytes) — try again; if it persists, "
                       "report it with the output of --debug -v\n")
    assert run.max_rss_mb < RSS_BOUND_MB, run.max_rss_mb


def test_a_50_mb_body_is_rejected_not_copied_into_extra(ts_fake, two_profiles):
    _, env = two_profiles
    ts_fake.inject("huge", path="/v3/brokerage/accounts", size=50 << 20)
    run = run_measured("accounts", "-f", "jsonl", env=env)
    assert run.code == 7
    assert "sent a response larger than 16 MiB" in run.err
    assert len(run.out) < 10_000  # nothing of the padding reached the output
    assert run.max_rss_mb < RSS_BOUND_MB, run.max_rss_mb


def test_max_response_bytes_is_a_profile_setting(ts_fake, ts_profile, tmp_path):
    settings, env = ts_profile
    env = {**env, "BALANCECLI_CONFIG": str(tmp_path / "config.toml")}
    write_config(tmp_path / "config.toml", {"ts": {**settings, "max_response_bytes": 2048}})
    run = run_measured("balance", env=env)
    assert run.code == 6 and "larger than 2048 bytes (setting max_response_bytes)" in run.err
    write_config(tmp_path / "config.toml", {"ts": {**settings, "max_response_bytes": 0}})
    run = run_measured("balance", env=env)
    assert run.code == 3
    assert run.err.startswith("error: ts: setting 'max_response_bytes' must be at least 1,")


def test_max_concurrency_bounds_the_requests_in_flight(tmp_path):
    with FakeEtna(latency=0.05) as fake:
        info = next(iter(fake.infos.values()))
        fake.accounts = [{**fake.accounts[0], "Id": 70000 + i} for i in range(30)]
        fake.infos = {str(70000 + i): info for i in range(30)}
        config = write_config(tmp_path / "config.toml", {"etna": {
            "broker": "etna", "base_url": fake.url + "/api", "max_concurrency": 3, **FAST}})
        env = {"BALANCECLI_CONFIG": str(config), "BALANCECLI_ETNA_APP_KEY": DEMO_APP_KEY,
               "BALANCECLI_ETNA_USERNAME": DEMO_USERNAME,
               "BALANCECLI_ETNA_PASSWORD": DEMO_PASSWORD}
        run = run_measured("balance", "-f", "jsonl", env=env)
        assert run.code == 0 and len(run.out.splitlines()) == 30
        assert fake.peak == 3
        write_config(config, {"etna": {"broker": "etna", "base_url": fake.url + "/api",
                                        "max_concurrency": 0}})
        run = run_measured("balance", env=env)
        assert run.code == 3 and "'max_concurrency' must be at least 1" in run.err


def test_a_server_limiting_concurrency_with_429_is_met_without_failures(tmp_path):
    """ETNA documents no limit; a gateway answering 429 beyond 5 in flight slows us down to
    its pace instead of failing accounts."""
    with FakeEtna(latency=0.03) as fake:
        info = next(iter(fake.infos.values()))
        fake.accounts = [{**fake.accounts[0], "Id": 80000 + i} for i in range(200)]
        fake.infos = {str(80000 + i): info for i in range(200)}
        fake.max_concurrent = 5
        config = write_config(tmp_path / "config.toml", {"etna": {
            "broker": "etna", "base_url": fake.url + "/api", "retry_backoff": 0.05}})
        env = {"BALANCECLI_CONFIG": str(config), "BALANCECLI_ETNA_APP_KEY": DEMO_APP_KEY,
               "BALANCECLI_ETNA_USERNAME": DEMO_USERNAME,
               "BALANCECLI_ETNA_PASSWORD": DEMO_PASSWORD}
        run = run_measured("balance", "-f", "jsonl", env=env)
        assert run.code == 0, run.err
        assert len(run.out.splitlines()) == 200
        assert fake.rejected < 40  # out of 200+: the window settled near the server's 5
