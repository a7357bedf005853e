"""Hostile and odd broker data through the installed command: whatever a broker sends, the
failing profile or account becomes one error line with its exit code, the other profiles still
print, in bounded time and memory, and nothing secret or personal is shown."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import tomllib
from decimal import Decimal as D
from pathlib import Path

import pytest

from balancecli.demo.tradestation import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, FakeTradeStation
from tests.support.cli import run_cli, run_measured
from tests.support.config import FAST, write_config

HEALTHY = ["11827391", "11827392", "210FUT01"]  # the 'ok' profile's accounts
PEAK_RSS_MB = 150


@pytest.fixture
def two_profiles(tmp_path, ts_fake):
    """'ts' (the hostile broker) and 'ok' (a healthy one beside it)."""
    other = FakeTradeStation().start()
    env, profiles = {}, {}
    for name, fake in (("ts", ts_fake), ("ok", other)):
        access, refresh = fake.issue()
        profiles[name] = {"broker": "tradestation", "base_url": fake.url,
                          "token_url": fake.url + "/oauth/token", **FAST}
        up = name.upper()
        env |= {f"BALANCECLI_{up}_ACCESS_TOKEN": access, f"BALANCECLI_{up}_REFRESH_TOKEN": refresh,
                f"BALANCECLI_{up}_CLIENT_ID": DEMO_CLIENT_ID,
                f"BALANCECLI_{up}_CLIENT_SECRET": DEMO_CLIENT_SECRET}
    env["BALANCECLI_CONFIG"] = str(write_config(tmp_path / "config.toml", profiles))
    yield env, ts_fake, other
    other.stop()


def errors_of(proc: subprocess.CompletedProcess) -> list[str]:
    return [line for line in proc.stderr.splitlines() if not line.startswith("warning: ")]


def assert_contained(proc, seconds, peak, *, who: str, fragment: str, code: int = 7):
    """The documented code, one line naming who failed, the healthy rows, bounded costs."""
    assert proc.returncode == code, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = errors_of(proc)
    assert len(lines) == 1 and lines[0].startswith(f"error: {who}") and fragment in lines[0], \
        lines
    assert seconds < 20 and peak < PEAK_RSS_MB, (seconds, peak)
    assert len(proc.stdout) < 100_000


# -- payloads that end the whole profile


PROFILE_PAYLOADS = {
    "tiny-huge-exponent": ('{"Accounts": [{"AccountID": "A", "X": 1e-999999999}]}',
                           "X in the response has an exponent beyond ±100"),
    "ten-thousand-digits": ('{"Accounts": [{"AccountID": "A", "X": 1' + "0" * 9999 + "}]}",
                            "X in the response has 10000 digits"),
    "deep-nesting": ('{"Accounts": ' + "[" * 100_000 + "]" * 100_000 + "}",
                     "nested more than 64 levels"),
    "id-is-an-object": ('{"Accounts": [{"AccountID": {"a": 1}}]}', "expected text"),
    "huge-exponent-in-array": ('{"Accounts": [], "Odd": [1e999999999]}',
                               "a number in the response has an exponent"),
}


@pytest.mark.parametrize("name", PROFILE_PAYLOADS)
@pytest.mark.parametrize("fmt", ["json", "table"])
def test_profile_payloads_fail_that_profile_only(two_profiles, name, fmt):
    env, hostile, _ = two_profiles
    body, fragment = PROFILE_PAYLOADS[name]
    hostile.inject("body", "/v3/brokerage/accounts$", body=body)
    proc, seconds, peak = run_measured("balance", "-f", fmt, env=env)
    assert_contained(proc, seconds, peak, who="ts:", fragment=fragment)
    if fmt == "json":
        doc = json.loads(proc.stdout)
        assert [b["account_id"] for b in doc["balances"]] == HEALTHY
        assert [(e["profile"], e["kind"]) for e in doc["errors"]] == [("ts", "bad_response")]
    else:
        assert all(account in proc.stdout for account in HEALTHY)


# -- values that fail one account


@pytest.mark.parametrize(("value", "fragment"), [
    ("1_000", "CashBalance is not a number: '1_000'"),
    ("١٢٣", "CashBalance is not a number"),                    # Arabic-Indic digits
    ("１２３", "CashBalance is not a number"),                  # full-width digits
    ("1e-999999999", "CashBalance has an exponent beyond ±100"),
    ("9" * 10_000, "CashBalance is not a number"),
    ("1" * 101, "CashBalance has 101 significant digits"),
])
@pytest.mark.parametrize("fmt", ["json", "csv", "table"])
def test_account_values_fail_that_account_only(two_profiles, value, fragment, fmt):
    env, hostile, _ = two_profiles
    hostile.v3["balances"]["11827392"]["CashBalance"] = value
    proc, seconds, peak = run_measured("balance", "-f", fmt, env=env)
    assert_contained(proc, seconds, peak, who="ts account 11827392:", fragment=fragment)
    assert proc.stdout.count(value[:40]) <= 1  # at most quoted in the JSON error entry
    if fmt == "json":
        rows = [(b["profile"], b["account_id"]) for b in json.loads(proc.stdout)["balances"]]
        assert rows == [("ts", "11827391"), ("ts", "210FUT01")] + [("ok", a) for a in HEALTHY]


# -- duplicate account ids


def test_a_repeated_account_id_in_the_list_fails_that_account(two_profiles):
    env, hostile, _ = two_profiles
    hostile.v3["accounts"].append(copy.deepcopy(hostile.v3["accounts"][1]))
    for command in ("accounts", "balance", "assets"):
        proc = run_cli(command, "-p", "ts", "-f", "json", env=env)
        assert proc.returncode == 7, proc.stderr
        doc = json.loads(proc.stdout)
        rows = doc.get("accounts") or doc.get("balances") or doc.get("assets")
        assert "11827392" not in {r["account_id"] for r in rows}
        assert {"11827391", "210FUT01"} <= {r["account_id"] for r in rows}
        [error] = doc["errors"]
        assert (error["account_id"], error["kind"]) == ("11827392", "bad_response")
        assert error["message"] == "the account list names this account 2 times"


def test_a_repeated_id_in_the_balances_answer_fails_that_account(two_profiles):
    env, hostile, _ = two_profiles
    b = hostile.v3["balances"]
    body = {"Balances": [b["11827391"], b["11827392"], {**b["11827392"], "CashBalance": "1"},
                         b["210FUT01"]], "Errors": []}
    hostile.inject("body", "/balances$", body=json.dumps(body))
    proc = run_cli("balance", "-p", "ts", "-f", "json", env=env)
    assert proc.returncode == 7, proc.stderr
    doc = json.loads(proc.stdout)
    assert [r["account_id"] for r in doc["balances"]] == ["11827391", "210FUT01"]
    assert [(e["account_id"], e["message"]) for e in doc["errors"]] == [
        ("11827392", "the balances response names this account 2 times")]


# -- user info in URLs


@pytest.mark.parametrize("key", ["base_url", "token_url"])
def test_user_info_in_a_url_is_a_config_error_that_hides_the_password(two_profiles, key):
    env, hostile, _ = two_profiles
    config = Path(env["BALANCECLI_CONFIG"])
    text = config.read_text().replace(
        f'{key} = "http://', f'{key} = "https://trader:s3cr3t-pw@', 1)
    text = text.replace("https://trader:s3cr3t-pw@127.0.0.1", "https://trader:s3cr3t-pw@host",
                        1)
    config.write_text(text)
    alone = run_cli("balance", "-p", "ts", env=env)
    assert alone.returncode == 3, alone.stderr
    [line] = errors_of(alone)
    assert line.startswith(f"error: ts: setting '{key}' must not contain a user name or "
                           "password ('https://host")
    both = run_cli("balance", "-f", "json", "-v", env=env)
    assert both.returncode == 7
    assert [b["account_id"] for b in json.loads(both.stdout)["balances"]] == HEALTHY
    for proc in (alone, both):
        assert "s3cr3t-pw" not in proc.stdout + proc.stderr
        assert "trader" not in proc.stdout + proc.stderr


def test_user_info_in_a_quantower_url_is_a_config_error(tmp_path):
    config = write_config(tmp_path / "c.toml", {"qt": {
        "broker": "quantower", "source": "http://me:pa55word@127.0.0.1:9/export.json"}})
    proc = run_cli("balance", "--config", str(config), env={"BALANCECLI_QT_TOKEN": "t" * 20})
    assert proc.returncode == 3 and "pa55word" not in proc.stderr + proc.stdout
    assert "must not contain a user name or password" in proc.stderr


# -- config numbers


@pytest.mark.parametrize(("key", "value", "fragment"), [
    ("timeout", -1, "setting 'timeout' must be more than 0, got -1"),
    ("timeout", 0, "setting 'timeout' must be more than 0, got 0"),
    ("timeout", float("nan"), "setting 'timeout' must be a finite number, got nan"),
    ("timeout", float("inf"), "setting 'timeout' must be a finite number, got inf"),
    ("retry_backoff", -0.5, "setting 'retry_backoff' must be at least 0, got -0.5"),
    ("retry_budget", -1, "setting 'retry_budget' must be at least 0, got -1"),
    ("max_retries", -1, "setting 'max_retries' must be at least 0, got -1"),
    ("max_response_bytes", 0, "setting 'max_response_bytes' must be at least 1, got 0"),
])
def test_bad_numbers_in_the_config_are_config_errors(two_profiles, key, value, fragment):
    env, _, _ = two_profiles
    config = Path(env["BALANCECLI_CONFIG"])
    profiles = tomllib.loads(config.read_text())["profiles"]
    profiles["ts"][key] = value
    write_config(config, profiles)
    alone = run_cli("balance", "-p", "ts", env=env)
    assert alone.returncode == 3
    [line] = errors_of(alone)
    assert line.startswith(f"error: ts: {fragment}") and "Traceback" not in alone.stderr
    both = run_cli("balance", "-f", "json", env=env)
    assert both.returncode == 7
    assert [b["account_id"] for b in json.loads(both.stdout)["balances"]] == HEALTHY


# -- personal data


def test_no_personal_data_in_extra_of_any_output():
    for command in ("accounts", "balance", "assets"):
        proc = run_cli("--demo", command, "-f", "json")
        assert proc.returncode == 0, proc.stderr
        for text in ("Owners", "demo@example.com", "FirstName", "LastName", "Login",
                     '"Trader"'):
            assert text not in proc.stdout, (command, text)
    etna = [a for a in json.loads(run_cli("--demo", "accounts", "-f", "json").stdout)["accounts"]
            if a["broker"] == "etna"]
    assert etna[0]["extra"] == {"Enabled": True, "AccessType": "Owner",
                                "OwnerType": "IndividualCustomer",
                                "ClearingFirm": "PaperTrading", "MarginType": "Margin",
                                "IsAverageAccount": False}


# -- Quantower sources that are not export files


def qt_config(tmp_path: Path, source: str, **extra) -> Path:
    return write_config(tmp_path / "qt.toml", {"qt": {"broker": "quantower", "source": source,
                                                      "max_age": 0, **extra}})


@pytest.mark.parametrize("kind", ["dev-zero", "fifo", "directory"])
def test_a_quantower_source_that_is_not_a_regular_file_is_a_config_error(tmp_path, kind):
    if kind == "dev-zero":
        if not Path("/dev/zero").exists():
            pytest.skip("no /dev/zero here")
        source = "/dev/zero"
    elif kind == "fifo":
        if not hasattr(os, "mkfifo"):
            pytest.skip("no FIFOs here")
        source = str(tmp_path / "pipe")
        os.mkfifo(source)
    else:
        source = str(tmp_path)
    proc, seconds, peak = run_measured("balance", "--config", str(qt_config(tmp_path, source)),
                                       env={}, timeout=20)
    assert proc.returncode == 3, proc.stderr
    assert seconds < 10 and peak < PEAK_RSS_MB
    [line] = errors_of(proc)
    assert line.startswith("error: qt: the Quantower source") and "is not a regular file" in line


def test_a_quantower_export_over_the_size_cap_is_a_bad_response(tmp_path):
    export = tmp_path / "export.json"
    export.write_text(json.dumps({"Format": "balancecli.quantower/1", "GeneratedAt":
                                  "2026-01-01T00:00:00Z", "Accounts": [], "Pad": "x" * 5000}))
    proc = run_cli("balance", "--config",
                   str(qt_config(tmp_path, str(export), max_response_bytes=4096)))
    assert proc.returncode == 6, proc.stderr
    assert "is larger than 4096 bytes" in proc.stderr


def test_a_quantower_url_off_this_machine_is_a_config_error(tmp_path):
    proc = run_cli("balance", "--config", str(qt_config(tmp_path, "http://10.1.2.3:8080/x")))
    assert proc.returncode == 3 and "on 127.0.0.1" in proc.stderr


def test_repeated_quantower_ids_even_with_their_connection_fail_that_account(tmp_path):
    accounts = [{"Id": "A1", "ConnectionId": "binance", "Name": "one", "AccountCurrency": "USDT",
                 "Balance": 1},
                {"Id": "A1", "ConnectionId": "binance", "Name": "two", "AccountCurrency": "USDT",
                 "Balance": 2},
                {"Id": "B", "ConnectionId": "kraken", "Name": "b", "AccountCurrency": "USD",
                 "Balance": 3}]
    export = tmp_path / "export.json"
    export.write_text(json.dumps({"Format": "balancecli.quantower/1",
                                  "GeneratedAt": "2026-01-01T00:00:00Z", "Accounts": accounts}))
    proc = run_cli("balance", "-f", "json", "--config", str(qt_config(tmp_path, str(export))))
    assert proc.returncode == 7, proc.stderr
    doc = json.loads(proc.stdout, parse_float=D)
    assert [(b["account_id"], b["available"]) for b in doc["balances"]] == [("B", D("3"))]
    assert [(e["account_id"], e["kind"]) for e in doc["errors"]] == [
        ("binance:A1", "bad_response")]
