"""TradeStation through the installed command: accounts of a type the balances endpoint does
not serve, and margin accounts, as a user sees them."""

from __future__ import annotations

import json
from decimal import Decimal as D

import pytest
from jsonschema import Draft202012Validator

from tests.support.cli import on_terminal, run_cli
from tests.support.config import write_config

SKIPPED = {"profile": "ts", "broker": "tradestation", "account_id": "123456790C",
           "reason": "a crypto account: TradeStation serves balances for cash, margin, futures "
                     "and dvp accounts only"}


@pytest.fixture
def env(tmp_path, ts_fake, ts_profile):
    """A config with one TradeStation profile whose user also holds a Crypto account."""
    ts_fake.include_unsupported_account = True
    settings, secrets = ts_profile
    return {**secrets, "BALANCECLI_CONFIG": str(write_config(tmp_path / "c.toml",
                                                             {"ts": settings}))}


def valid(doc: dict) -> dict:
    schema = json.loads(run_cli("schema", doc["schema"]).stdout)
    assert [e.message for e in Draft202012Validator(schema).iter_errors(doc)] == []
    return doc


def test_accounts_lists_every_account_type(env):
    proc = run_cli("accounts", "-f", "json", env=env)
    assert proc.returncode == 0, proc.stderr
    types = {a["account_id"]: a["type"] for a in json.loads(proc.stdout)["accounts"]}
    assert types == {"11827391": "cash", "11827392": "margin", "210FUT01": "futures",
                     "123456790C": "crypto"}


@pytest.mark.parametrize("command, key", [("balance", "balances"), ("assets", "assets")])
def test_an_unsupported_account_type_is_skipped_not_an_error(env, ts_fake, command, key):
    proc = run_cli(command, "-f", "json", env=env)
    assert (proc.returncode, proc.stderr) == (0, "")  # no error line, nothing on stderr
    doc = valid(json.loads(proc.stdout, parse_float=D))
    assert "123456790C" not in {r["account_id"] for r in doc[key]}
    assert doc["skipped"] == [SKIPPED]
    assert doc["errors"] == []
    assert not any("123456790C" in c.path for c in ts_fake.calls("/balances$"))
    # -v says why, in one line; a JSON document on a terminal has the same block.
    verbose = run_cli(command, "-f", "jsonl", "-v", env=env)
    assert verbose.returncode == 0
    said = [line for line in verbose.stderr.splitlines() if "123456790C" in line]
    assert said == [f"ts: left out 123456790C: {SKIPPED['reason']}"]
    screen, _, code = on_terminal([command, "-f", "json"], 100, env=env)
    assert code == 0 and json.loads(screen)["skipped"] == [SKIPPED]


def test_without_skipped_accounts_the_document_has_no_skipped_block(tmp_path, ts_profile):
    settings, secrets = ts_profile
    env = {**secrets, "BALANCECLI_CONFIG": str(write_config(tmp_path / "c.toml",
                                                            {"ts": settings}))}
    doc = json.loads(run_cli("balance", "-f", "json", env=env).stdout)
    assert "skipped" not in doc


def test_snapshot_leaves_it_out_and_exits_0(env, tmp_path):
    proc = run_cli("snapshot", "--db", str(tmp_path / "h.db"), "-f", "json", "-v", env=env)
    assert proc.returncode == 0, proc.stderr
    assert f"ts: left out 123456790C: {SKIPPED['reason']}" in proc.stderr.splitlines()
    run = json.loads(proc.stdout)["run"]
    assert (run["ok"], run["balances"], run["errors"]) == (True, 3, 0)


def test_a_margin_account_shows_its_required_margin(env):
    doc = json.loads(run_cli("balance", "-f", "json", "-a", "11827392", env=env).stdout,
                     parse_float=D)
    [margin] = doc["balances"]
    assert (margin["initial_margin"], margin["maintenance_margin"]) == (D("50356.13"), None)
    assert margin["extra"]["BalanceDetail"]["MaintenanceRate"] == "25178.07"
