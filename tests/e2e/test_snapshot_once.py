"""``snapshot`` fetches once: counted at the fakes, it asks every broker exactly as often as
``balance`` does, and stores the same balances and assets as two separate commands."""

from __future__ import annotations

import json
import sqlite3

import pytest

from balancecli.demo.etna import DEMO_APP_KEY as ETNA_KEY
from balancecli.demo.etna import DEMO_PASSWORD, DEMO_USERNAME, FakeEtna
from balancecli.demo.longport import DEMO_ACCESS_TOKEN, DEMO_APP_KEY, DEMO_APP_SECRET, FakeLongPort
from balancecli.demo.quantower import DEMO_TOKEN, EXPORT_PATH, FakeQuantowerBridge
from balancecli.demo.tradestation import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, FakeTradeStation
from tests.support.cli import run_cli
from tests.support.config import FAST, write_config


@pytest.fixture
def four_brokers(tmp_path):
    fakes = {"ts": FakeTradeStation(), "lp": FakeLongPort(), "etna": FakeEtna(),
             "qt": FakeQuantowerBridge()}
    for fake in fakes.values():
        fake.start()
    access, refresh = fakes["ts"].issue()
    profiles = {
        "ts": {"broker": "tradestation", "base_url": fakes["ts"].url,
               "token_url": fakes["ts"].url + "/oauth/token", **FAST},
        "lp": {"broker": "longport", "auth": "apikey", "base_url": fakes["lp"].url, **FAST},
        "etna": {"broker": "etna", "base_url": fakes["etna"].url + "/api", **FAST},
        "qt": {"broker": "quantower", "source": fakes["qt"].url + EXPORT_PATH, **FAST},
    }
    env = {
        "BALANCECLI_CONFIG": str(write_config(tmp_path / "config.toml", profiles)),
        "BALANCECLI_TS_ACCESS_TOKEN": access, "BALANCECLI_TS_REFRESH_TOKEN": refresh,
        "BALANCECLI_TS_CLIENT_ID": DEMO_CLIENT_ID,
        "BALANCECLI_TS_CLIENT_SECRET": DEMO_CLIENT_SECRET,
        "BALANCECLI_LP_APP_KEY": DEMO_APP_KEY, "BALANCECLI_LP_APP_SECRET": DEMO_APP_SECRET,
        "BALANCECLI_LP_ACCESS_TOKEN": DEMO_ACCESS_TOKEN,
        "BALANCECLI_ETNA_APP_KEY": ETNA_KEY, "BALANCECLI_ETNA_USERNAME": DEMO_USERNAME,
        "BALANCECLI_ETNA_PASSWORD": DEMO_PASSWORD,
        "BALANCECLI_QT_TOKEN": DEMO_TOKEN,
    }
    yield env, fakes
    for fake in fakes.values():
        fake.stop()


def requests_made(fakes: dict, run) -> dict[str, list[str]]:
    before = {name: len(fake.requests) for name, fake in fakes.items()}
    run()
    return {name: sorted(f"{r.method} {r.path}" for r in fake.requests[before[name]:])
            for name, fake in fakes.items()}


def test_snapshot_makes_the_same_requests_as_balance(four_brokers, tmp_path):
    env, fakes = four_brokers
    db = tmp_path / "history.sqlite3"
    outcome = {}

    def command(*args: str):
        def go() -> None:
            proc = run_cli(*args, env=env)
            assert proc.returncode == 0, proc.stderr
            outcome[args[0]] = proc
        return go

    balance = requests_made(fakes, command("balance", "-f", "json"))
    snapshot = requests_made(fakes, command("snapshot", "--db", str(db), "-f", "json"))
    assert snapshot == balance
    assert all(balance.values())  # every broker was asked
    # TradeStation: one account list and one balances call, never a second round.
    assert balance["ts"] == ["GET /v3/brokerage/accounts",
                             "GET /v3/brokerage/accounts/11827391,11827392,210FUT01/balances"]
    assert balance["lp"] == ["GET /v1/asset/account"]

    run = json.loads(outcome["snapshot"].stdout)["run"]
    assets = json.loads(run_cli("assets", "-f", "json", env=env).stdout)["assets"]
    balances = json.loads(outcome["balance"].stdout)["balances"]
    assert (run["balances"], run["assets"], run["errors"]) == (len(balances), len(assets), 0)
    with sqlite3.connect(db) as conn:
        stored = conn.execute("SELECT name FROM sqlite_master WHERE type='table'").fetchall()
    assert stored  # the run was written


def test_snapshot_with_a_failing_account_stores_the_rest_once(four_brokers, tmp_path):
    env, fakes = four_brokers
    fakes["etna"].fail_info = {"83268": 500}
    proc = run_cli("snapshot", "--db", str(tmp_path / "h.sqlite3"), "-f", "json", env=env)
    assert proc.returncode == 7, proc.stderr
    doc = json.loads(proc.stdout)
    # One error for the account, not one per kind of row.
    assert [(e["profile"], e["account_id"]) for e in doc["errors"]] == [("etna", "83268")]
    assert len([x for x in proc.stderr.splitlines() if x.startswith("error: ")]) == 1
