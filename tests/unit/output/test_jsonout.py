"""Streamed JSON/JSONL (balancecli.jsonout): the same text as render's writers, rows on stdout
as soon as their profile is done, secrets masked, pathological numbers kept short."""

from __future__ import annotations

import io
import json
import os
import subprocess
import time
from decimal import Decimal as D

import pytest

from balancecli.core.errors import UnavailableError
from balancecli.core.models import Account, Asset, Balance
from balancecli.demo.etna import DEMO_APP_KEY, DEMO_PASSWORD, DEMO_USERNAME, FakeEtna
from balancecli.output import jsonout, render
from balancecli.output.specs import DATA
from tests.support.cli import balancecli_exe
from tests.support.config import write_config

BALANCES = [
    Balance(profile="ts", broker="tradestation", account_id="1", account_name="Ünïcode \"q\"\n",
            account_type="margin", currency="USD", as_of="2026-11-21T19:00:00Z",
            cash=D("19638.14545186560000000000"), equity=D("-0"), buying_power=D("1E+3"),
            market_value=D("0.0000001"), unrealized_pnl=D("NaN"),
            extra={"n": D("5"), "nested": {"list": [1, True, None, 1.5, "x\u0007\x9b\u202e"]}}),
    Balance(profile="lp", broker="longport", account_id="lp", currency="HKD"),
]
ASSETS = [Asset(profile="qt", broker="quantower", account_id="A", asset="BTC", total=D("0.5"))]
ACCOUNTS = [Account(profile="e", broker="etna", account_id="9", name=None, extra={})]


def streamed(fmt: str, command: str, rows: list, errors: list, batches: int = 2,
             indent: int | None = None) -> str:
    spec = DATA[command]
    out = io.StringIO()
    stream = jsonout.Stream(out, fmt, schema=spec.schema, key=spec.key,
                            generated_at=lambda: "2026-11-21T19:00:00Z", indent=indent)
    for i in range(batches):
        stream.rows(rows[i::batches])
    stream.close(errors, render.blocks(spec, rows) if fmt == "json" else [])
    return out.getvalue()


@pytest.mark.parametrize(("command", "rows"), [
    ("balance", BALANCES), ("assets", ASSETS), ("accounts", ACCOUNTS), ("balance", [])])
def test_streamed_text_is_exactly_renders(command, rows):
    error = UnavailableError("x timed out", profile="lp", broker="longport")
    interleaved = rows[0::2] + rows[1::2]  # the order two batches produce
    assert streamed("json", command, rows, [error]) == render.to_json(
        DATA[command], interleaved, [error], "2026-11-21T19:00:00Z")
    assert streamed("jsonl", command, rows, []) == render.to_jsonl(interleaved)
    # On a terminal: indented as the whole document would be, still written as rows arrive.
    assert streamed("json", command, rows, [error], indent=2) == render.to_json(
        DATA[command], interleaved, [error], "2026-11-21T19:00:00Z", indent=2)


def test_exact_digits_and_nulls_survive_a_round_trip():
    line = jsonout.Encoder().row(BALANCES[0])
    row = json.loads(line, parse_float=D)
    assert str(row["cash"]) == "19638.14545186560000000000"
    assert row["market_value"] == D("0.0000001") and "E" not in line.split('"market_value"')[1][:12]
    assert row["unrealized_pnl"] is None and row["available"] is None


def test_a_tiny_exponent_is_not_expanded_into_a_billion_zeros():
    number = jsonout.Encoder().number
    assert number(D("1e-999999999")) == "1E-999999999"
    assert number(D("1e+999999999")) == "1E+999999999"
    assert number(D("1.5e-9")) == "0.0000000015"
    assert number(D("-Infinity")) == "null" and number(D("NaN")) == "null"


def test_secrets_are_masked_before_encoding_whatever_quoting_does_to_them():
    from balancecli.core.redact import REDACTOR

    secret = 'pa"ss\\word-0042'
    REDACTOR.register(secret, "password")
    row = Account(profile="e", broker="etna", account_id="9", name=f"echo {secret}", extra={
        "note": [secret]})
    out = io.StringIO()
    stream = jsonout.Stream(out, "jsonl", schema="s", key="k", generated_at=lambda: "t",
                            redact=REDACTOR.redact)
    stream.rows([row])
    stream.close()
    assert out.getvalue() == render.to_jsonl([row])
    assert "word-0042" not in out.getvalue() and json.loads(out.getvalue())["extra"] == {
        "note": ["***"]}


def test_a_run_that_prints_nothing_before_failing_writes_no_head():
    out = io.StringIO()
    jsonout.Stream(out, "json", schema="s", key="k", generated_at=lambda: "t").rows([])
    assert out.getvalue() == ""


@pytest.fixture
def fast_and_slow(tmp_path):
    """Two ETNA profiles: 'a' answers at once, 'b' after 3 s per request."""
    fast, slow = FakeEtna().start(), FakeEtna(latency=3).start()
    config = write_config(tmp_path / "config.toml", {
        "a": {"broker": "etna", "base_url": fast.url + "/api"},
        "b": {"broker": "etna", "base_url": slow.url + "/api"}})
    env = {**os.environ, "BALANCECLI_CONFIG": str(config)}
    for name, fake in (("A", fast), ("B", slow)):
        env.update({f"BALANCECLI_{name}_APP_KEY": DEMO_APP_KEY,
                    f"BALANCECLI_{name}_USERNAME": DEMO_USERNAME,
                    f"BALANCECLI_{name}_PASSWORD": DEMO_PASSWORD,
                    f"BALANCECLI_{name}_TOKEN": fake.issue()})
    yield fast, slow, env
    fast.stop()
    slow.stop()


@pytest.mark.parametrize("fmt", ["jsonl", "json"])
def test_rows_reach_stdout_while_a_slower_profile_is_still_fetching(fast_and_slow, fmt):
    fast, _, env = fast_and_slow
    token = env["BALANCECLI_A_TOKEN"]
    fast.accounts[0]["Alias"] = f"echo {token}"  # a broker echoing a secret back
    proc = subprocess.Popen([balancecli_exe(), "balance", "-f", fmt], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=0)
    first = os.read(proc.stdout.fileno(), 1 << 20)  # as soon as profile a's rows are written
    still_running = proc.poll() is None
    rest, err = proc.communicate(timeout=60)
    assert still_running, "the first rows came only at the end"
    assert proc.returncode == 0, err
    assert b'"profile": "a"' in first and b'"profile": "b"' not in first
    text = (first + rest).decode()
    assert token not in text and "echo ***" in text
    rows = ([json.loads(line) for line in text.splitlines()] if fmt == "jsonl"
            else json.loads(text)["balances"])
    assert [(r["profile"], r["account_id"]) for r in rows] == [
        ("a", "83267"), ("a", "83268"), ("a", "83269"),
        ("b", "83267"), ("b", "83268"), ("b", "83269")]


def test_ten_thousand_rows_stream_well_within_budget():
    """A generous bound (the benchmark measures it: tests/bench_cli.py)."""
    rows = [BALANCES[0]] * 10_000
    started = time.perf_counter()
    text = streamed("json", "balance", rows, [], batches=1)
    assert time.perf_counter() - started < 2
    assert len(json.loads(text)["balances"]) == 10_000
