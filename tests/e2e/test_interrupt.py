"""Ctrl-C: exit 130 within a second whatever is in flight, no request or retry after it,
nothing half-written (the snapshot's transaction never commits)."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import time

import pytest

from balancecli.demo.etna import DEMO_APP_KEY, DEMO_PASSWORD, DEMO_USERNAME, FakeEtna
from balancecli.demo.tradestation import FakeTradeStation
from tests.support.cli import balancecli_exe
from tests.support.config import write_config

LATENCY = 20.0  # every answer takes 20 s: a Ctrl-C always lands mid-request


@pytest.fixture
def slow(tmp_path):
    """A TradeStation and an ETNA fake answering after 20 s, and the env of a run on both."""
    ts, etna = FakeTradeStation(LATENCY).start(), FakeEtna(LATENCY).start()
    access, _ = ts.issue()
    config = write_config(tmp_path / "config.toml", {
        "ts": {"broker": "tradestation", "base_url": ts.url, "retry_backoff": 0.1},
        "etna": {"broker": "etna", "base_url": etna.url + "/api", "retry_backoff": 0.1},
    })
    env = {**os.environ, "BALANCECLI_CONFIG": str(config), "BALANCECLI_TS_ACCESS_TOKEN": access,
           "BALANCECLI_ETNA_APP_KEY": DEMO_APP_KEY, "BALANCECLI_ETNA_USERNAME": DEMO_USERNAME,
           "BALANCECLI_ETNA_PASSWORD": DEMO_PASSWORD, "BALANCECLI_ETNA_TOKEN": etna.issue()}
    yield ts, etna, env
    ts.stop()
    etna.stop()


def interrupt_after(args: list[str], env: dict, *fakes, delay: float = 1.0):
    """Start the command, SIGINT it ``delay`` seconds in, once every fake has a request (a
    loaded machine may take longer than that to start Python); (exit code, stdout, stderr,
    seconds from the signal to the exit)."""
    proc = subprocess.Popen([balancecli_exe(), *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    started = time.monotonic()
    while time.monotonic() - started < 20 and not all(fake.requests for fake in fakes):
        time.sleep(0.02)
    time.sleep(max(0.0, started + delay - time.monotonic()))
    sent = time.monotonic()
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    return proc.returncode, out, err, time.monotonic() - sent


@pytest.mark.parametrize("command", ["balance", "assets", "accounts"])
def test_ctrl_c_exits_130_at_once_against_20_second_brokers(slow, command):
    ts, etna, env = slow
    code, out, err, seconds = interrupt_after([command, "-f", "json"], env, ts, etna)
    assert code == 130 and err == "interrupted\n" and out == ""
    assert seconds < 2  # measured: a few ms (was 64 s before in-flight requests were cancelled)
    in_flight = len(ts.requests) + len(etna.requests)
    assert in_flight == 2  # the first request of each profile, still sleeping at the fakes
    time.sleep(1.0)
    assert len(ts.requests) + len(etna.requests) == in_flight  # nothing sent after Ctrl-C


def test_ctrl_c_during_retries_starts_no_new_attempt(slow):
    ts, etna, env = slow
    ts.latency = etna.latency = 0
    ts.inject("status", path="/v3/brokerage/accounts", status=503, times=10,
              headers={"Retry-After": "3"})
    etna.inject("status", path="/users/@me/accounts", status=503, times=10,
                headers={"Retry-After": "3"})
    code, _, err, seconds = interrupt_after(["balance"], env, ts, etna)
    assert code == 130 and seconds < 2
    sent = len(ts.requests) + len(etna.requests)
    time.sleep(3.5)  # past the Retry-After: a retry would have been sent by now
    assert len(ts.requests) + len(etna.requests) == sent == 2


def test_ctrl_c_during_snapshot_stores_nothing(slow, tmp_path):
    ts, etna, env = slow
    db = tmp_path / "history.sqlite3"
    code, _, err, seconds = interrupt_after(["snapshot", "--db", str(db)], env, ts, etna)
    assert code == 130 and err == "interrupted\n" and seconds < 2
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert conn.execute("SELECT count(*) FROM runs").fetchone() == (0,)
