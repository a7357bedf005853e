"""The JSON Schemas themselves: valid draft 2020-12, strict about the rows.

Every JSON output of every command is validated against them in test_json_outputs.py.
"""

from __future__ import annotations

import copy
import json
from decimal import Decimal as D

import pytest
from jsonschema import Draft202012Validator

from balancecli.output import schemas
from tests.support.cli import run_cli

# Every field of each model, in declaration order: the row shapes scripts rely on.
ROW_FIELDS = {
    "account": ["profile", "broker", "account_id", "name", "type", "currency", "status",
                "extra"],
    "balance": ["profile", "broker", "account_id", "account_name", "account_type", "currency",
                "as_of", "cash", "available", "withdrawable", "buying_power", "equity",
                "market_value", "initial_margin", "maintenance_margin", "unrealized_pnl",
                "realized_pnl", "extra"],
    "asset": ["profile", "broker", "account_id", "asset", "total", "available", "reserved",
              "settling", "withdrawable", "value_in_account_currency", "value_usd",
              "value_btc", "conversion_rate", "extra"],
}


@pytest.mark.parametrize("name", schemas.NAMES)
def test_every_schema_is_valid_draft_2020_12(name):
    schema = schemas.SCHEMAS[name]
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["properties"]["schema"] == {"const": name}


def test_the_documents_the_tool_prints_all_have_a_schema():
    assert set(schemas.NAMES) >= {
        "balancecli.accounts/1", "balancecli.balance/1", "balancecli.assets/1",
        "balancecli.snapshot/1", "balancecli.history/1", "balancecli.history.at/1",
        "balancecli.prune/1", "balancecli.profiles/1", "balancecli.auth_status/1",
        "balancecli.doctor/1"}


@pytest.mark.parametrize("kind", ROW_FIELDS)
def test_rows_carry_every_model_field_and_nothing_else(kind):
    rowschema = schemas.DEFS[kind]
    assert list(rowschema["properties"]) == ROW_FIELDS[kind]
    assert rowschema["required"] == ROW_FIELDS[kind]
    assert rowschema["additionalProperties"] is False


@pytest.mark.parametrize("kind", ROW_FIELDS)
def test_each_row_field_is_described_by_its_model_text(kind):
    import dataclasses

    from balancecli.core.models import Account, Asset, Balance, doc_of

    model = {"account": Account, "balance": Balance, "asset": Asset}[kind]
    properties = schemas.DEFS[kind]["properties"]
    for f in dataclasses.fields(model):
        assert doc_of(f), f"{model.__name__}.{f.name} has no description in core/models.py"
        assert properties[f.name]["description"] == doc_of(f)


def test_the_broker_is_one_of_the_registry():
    from balancecli.brokers import NAMES

    for kind in ROW_FIELDS:
        assert schemas.DEFS[kind]["properties"]["broker"]["enum"] == list(NAMES)


def test_the_printed_schema_carries_the_descriptions():
    proc = run_cli("schema", "balance")
    assert proc.returncode == 0 and proc.stderr == ""
    balance = json.loads(proc.stdout)["$defs"]["balance"]["properties"]
    assert balance["cash"] == {"description": "Cash balance.", "$ref": "#/$defs/amount"}
    assert balance["as_of"]["description"].startswith("When the values held, ISO 8601 UTC")


@pytest.fixture(scope="module")
def balance_doc():
    proc = run_cli("--demo", "balance", "-f", "json")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout, parse_float=D)


def errors_of(name, doc):
    return [e.message for e in Draft202012Validator(schemas.SCHEMAS[name]).iter_errors(doc)]


def test_the_demo_balance_is_valid(balance_doc):
    assert errors_of("balancecli.balance/1", balance_doc) == []


@pytest.mark.parametrize("change, fragment", [
    (lambda d: d["balances"][0].__setitem__("cash", "25731.18"), "is not of type 'number'"),
    (lambda d: d["balances"][0].pop("available"), "'available' is a required property"),
    (lambda d: d["balances"][0].__setitem__("note", 1), "Additional properties"),
    (lambda d: d["balances"][0].__setitem__("broker", "ibkr"), "is not one of"),
    (lambda d: d.__setitem__("schema", "balancecli.balance/2"), "was expected"),
    (lambda d: d["errors"].append({"profile": "x", "broker": None, "account_id": None,
                                   "kind": "oops", "message": "m", "http_status": None}),
     "is not one of"),
    (lambda d: d.__setitem__("generated_at", "2026-11-21 19:00"), "does not match"),
])
def test_a_changed_shape_is_caught(balance_doc, change, fragment):
    doc = copy.deepcopy(balance_doc)
    change(doc)
    found = errors_of("balancecli.balance/1", doc)
    assert found and any(fragment in m for m in found), found


def test_short_names_resolve():
    assert schemas.get("balance") is schemas.SCHEMAS["balancecli.balance/1"]
    assert schemas.get("history.at") is schemas.SCHEMAS["balancecli.history.at/1"]
    assert schemas.get("nope") is None


# -- the command


def test_schema_lists_the_names():
    proc = run_cli("schema")
    assert proc.returncode == 0 and proc.stderr == ""
    lines = proc.stdout.splitlines()
    assert [line.split()[0] for line in lines] == list(schemas.NAMES)
    assert "balancecli.balance/1           balancecli balance -f json (converted: with --in CUR)" \
        in lines


@pytest.mark.parametrize("given", ["balancecli.balance/1", "balance"])
def test_schema_prints_one(given):
    proc = run_cli("schema", given)
    assert proc.returncode == 0 and proc.stderr == ""
    assert json.loads(proc.stdout) == schemas.SCHEMAS["balancecli.balance/1"]


def test_unknown_schema_is_a_usage_error():
    proc = run_cli("schema", "balancecli.nope/1")
    assert (proc.returncode, proc.stdout) == (2, "")
    assert proc.stderr.startswith("error: unknown schema 'balancecli.nope/1' (valid: "
                                  "balancecli.accounts/1, balancecli.balance/1, ")
