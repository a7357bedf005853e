"""Every JSON document every command prints validates against ``balancecli schema NAME``.

The schemas are read through the installed command (what a user's script would do); the
documents come from the installed command on the demo brokers and on fakes, including runs
with errors, nulls and empty results, so a change of shape anywhere fails here first.
"""

from __future__ import annotations

import json
from decimal import Decimal as D

import pytest
from jsonschema import Draft202012Validator

from tests.support.cli import run_cli
from tests.support.config import write_config

_CACHE: dict[str, dict] = {}


def schema(name: str) -> dict:
    if name not in _CACHE:
        proc = run_cli("schema", name)
        assert proc.returncode == 0, proc.stderr
        _CACHE[name] = json.loads(proc.stdout)
    return _CACHE[name]


def valid(doc: dict) -> dict:
    """Validate ``doc`` against the schema its own ``schema`` field names; return it."""
    name = doc["schema"]
    errors = [f"{list(e.absolute_path)}: {e.message}"
              for e in Draft202012Validator(schema(name)).iter_errors(doc)]
    assert errors == [], name
    return doc


def out(*args: str, env: dict | None = None, code: int = 0) -> dict:
    proc = run_cli(*args, env=env)
    assert proc.returncode == code, proc.stderr
    return json.loads(proc.stdout, parse_float=D)


@pytest.mark.parametrize("command, key", [
    ("accounts", "accounts"), ("balance", "balances"), ("assets", "assets")])
def test_data_commands_on_the_demo(command, key):
    doc = valid(out("--demo", command, "-f", "json"))
    assert len(doc[key]) >= 10 and doc["errors"] == []


@pytest.mark.parametrize("command, row", [
    ("accounts", "account"), ("balance", "balance"), ("assets", "asset")])
def test_jsonl_rows_are_the_schema_rows(command, row):
    proc = run_cli("--demo", command, "-f", "jsonl")
    assert proc.returncode == 0, proc.stderr
    top = schema(command)
    validator = Draft202012Validator({**top, "$ref": f"#/$defs/{row}"} | {
        "properties": {}, "required": [], "additionalProperties": True, "type": "object"})
    lines = proc.stdout.splitlines()
    assert lines
    for line in lines:
        assert list(validator.iter_errors(json.loads(line, parse_float=D))) == []


def test_errors_and_empty_results_are_valid(tmp_path, ts_fake, ts_profile):
    settings, env = ts_profile
    broken = {"broker": "tradestation", "base_url": ts_fake.url,
              "token_url": ts_fake.url + "/oauth/token", "max_retries": 0}
    env = {**env, "BALANCECLI_CONFIG": str(write_config(tmp_path / "c.toml", {
        "ts": settings, "nokey": broken, "bad": {"broker": "nope"}}))}
    doc = valid(out("balance", "-f", "json", env=env, code=7))
    kinds = {e["profile"]: e["kind"] for e in doc["errors"]}
    assert kinds == {"bad": "config", "nokey": "auth"}
    # A --currency that matches nothing is an error naming what was fetched.
    empty = run_cli("assets", "-p", "ts", "--currency", "XYZ", "-f", "json", env=env)
    assert (empty.returncode, empty.stdout) == (3, "")
    # Nothing fetched, only an error: empty arrays, still a valid document.
    doc = valid(out("assets", "-p", "nokey", "-f", "json", env=env, code=4))
    assert doc["assets"] == [] and doc["errors"][0]["kind"] == "auth"


def test_snapshot_history_at_and_prune(tmp_path):
    db = str(tmp_path / "h.sqlite3")
    snap = valid(out("--demo", "snapshot", "--db", db, "-f", "json"))
    assert snap["run"]["balances"] == 10
    assert run_cli("--demo", "snapshot", "--db", db).returncode == 0
    series = valid(out("history", "--db", db, "-f", "json"))
    assert len(series["series"]) == 10 and series["series"][0]["points"] == 2
    cash = valid(out("history", "--db", db, "--field", "cash", "--since", "1d", "-f", "json"))
    assert any(s["first"] is None for s in cash["series"])  # Quantower sends no cash
    at = valid(out("history", "--db", db, "--at", "2099-01-01", "-f", "json"))
    assert len(at["balances"]) == 10 and at["balances"][0]["run_id"] == 2
    dry = valid(out("history", "--db", db, "--prune", "--keep", "0d", "--dry-run", "-f", "json"))
    assert (dry["dry_run"], dry["matched_runs"], dry["deleted_runs"]) == (True, 2, 0)
    pruned = valid(out("history", "--db", db, "--prune", "--keep", "365d", "--yes", "-f",
                       "json"))
    assert pruned["deleted_runs"] == 0 and pruned["first"] is None


def test_profile_list_show_and_path(tmp_path):
    config = write_config(tmp_path / "c.toml", {
        "ts": {"broker": "tradestation", "ledger_account": "Assets:Broker:{account}"},
        "broken": {"broker": "etna"}})
    env = {"BALANCECLI_CONFIG": str(config)}
    listed = valid(out("profile", "list", "-f", "json", env=env))
    assert [p["valid"] for p in listed["profiles"]] == [True, False]
    shown = valid(out("profile", "show", "ts", "-f", "json", env=env))
    assert shown["settings"]["ledger_account"] == "Assets:Broker:{account}"
    where = valid(out("profile", "path", "-f", "json", env=env))
    assert (where["config"], where["source"], where["exists"]) == (str(config), "env", True)


def test_auth_status(tmp_path, ts_profile):
    settings, env = ts_profile
    env = {**env, "BALANCECLI_CONFIG": str(write_config(tmp_path / "c.toml", {
        "ts": settings, "etna": {"broker": "etna", "base_url": "https://example.invalid"}}))}
    doc = valid(out("auth", "status", "-f", "json", env=env, code=4))
    assert [p["ok"] for p in doc["profiles"]] == [True, False]


def test_every_schema_the_command_prints_is_a_valid_schema():
    proc = run_cli("schema")
    names = [line.split()[0] for line in proc.stdout.splitlines()]
    assert "balancecli.balance/1" in names
    for name in names:
        Draft202012Validator.check_schema(schema(name))


def test_doctor():
    proc = run_cli("--demo", "doctor", "-f", "json")
    assert proc.returncode == 0, proc.stderr  # the demo brokers are all healthy
    valid(json.loads(proc.stdout, parse_float=D))


def test_balance_in_one_currency():
    for command in ("balance", "assets"):
        doc = valid(out("--demo", command, "--in", "USD", "-f", "json"))
        assert doc["converted"]["currency"] == "USD"


def test_rates_show_and_net_worth_history(tmp_path):
    valid(out("--demo", "rates", "show", "--in", "USD", "-f", "json"))
    db = str(tmp_path / "h.sqlite3")
    assert run_cli("--demo", "snapshot", "--db", db).returncode == 0
    doc = valid(out("history", "--db", db, "--in", "USD", "-f", "json"))
    assert len(doc["runs"]) == 1
