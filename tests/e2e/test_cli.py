"""The installed command end to end: stdout is data, stderr is talk, the README's exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from decimal import Decimal as D

import pytest
from typer.testing import CliRunner

from balancecli.cli.app import app
from balancecli.demo.tradestation import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, FakeTradeStation
from tests.support import REPO
from tests.support.cli import balancecli_exe, on_terminal, run_cli
from tests.support.config import FAST, write_config


@pytest.fixture
def two_profiles(tmp_path, ts_fake):
    """'ts' (the fault target) and 'ok' (a second, healthy fake): failures of one must not
    lose the other's rows."""
    other = FakeTradeStation().start()
    env = {}
    profiles = {}
    for name, fake in (("ts", ts_fake), ("ok", other)):
        access, refresh = fake.issue()
        profiles[name] = {"broker": "tradestation", "base_url": fake.url,
                          "token_url": fake.url + "/oauth/token", **FAST}
        up = name.upper()
        env |= {f"BALANCECLI_{up}_ACCESS_TOKEN": access, f"BALANCECLI_{up}_REFRESH_TOKEN": refresh,
                f"BALANCECLI_{up}_CLIENT_ID": DEMO_CLIENT_ID,
                f"BALANCECLI_{up}_CLIENT_SECRET": DEMO_CLIENT_SECRET}
    config = write_config(tmp_path / "config.toml", profiles)
    env["BALANCECLI_CONFIG"] = str(config)
    yield env, ts_fake, other
    other.stop()


def json_out(proc: subprocess.CompletedProcess):
    return json.loads(proc.stdout, parse_float=D)


def test_version_and_module_entry_point():
    proc = run_cli("--version")
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "balancecli 0.1.0\n", "")
    mod = subprocess.run([sys.executable, "-m", "balancecli", "--version"], capture_output=True,
                         text=True)
    assert mod.stdout == "balancecli 0.1.0\n"


def test_v2_seed_values_as_json_with_exact_digits(tmp_path, ts_fake):
    access, refresh = ts_fake.issue()
    config = write_config(tmp_path / "c.toml", {"legacy": {
        "broker": "tradestation", "api": "v2", "user_id": "demo_user", "base_url": ts_fake.url,
        "token_url": ts_fake.url + "/v2/security/authorize"}})
    env = {"BALANCECLI_CONFIG": str(config), "BALANCECLI_LEGACY_ACCESS_TOKEN": access,
           "BALANCECLI_LEGACY_REFRESH_TOKEN": refresh}
    proc = run_cli("balance", "-f", "json", env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    assert '"unrealized_pnl": 19638.14545186560000000000' in proc.stdout
    assert '"equity": 3212461.98040200000000000000' in proc.stdout
    doc = json_out(proc)
    assert doc["schema"] == "balancecli.balance/1" and doc["errors"] == []
    cash = doc["balances"][0]
    assert list(cash)[:7] == ["profile", "broker", "account_id", "account_name", "account_type",
                              "currency", "as_of"]
    assert cash["account_id"] == "111111" and cash["cash"] == D("2870328.5200")
    assert cash["initial_margin"] is None and cash["withdrawable"] is None
    [total] = doc["totals"]
    assert total == {"currency": "USD", "accounts": 2,
                     "cash": D("7866103.0004"), "equity": D("6462062.14060200000000000000"),
                     "buying_power": D("6080337.200202"), "incomplete": False}


def test_json_through_real_jq(tmp_path, ts_profile):
    settings, env = ts_profile
    env["BALANCECLI_CONFIG"] = str(write_config(tmp_path / "c.toml", {"ts": settings}))
    proc = run_cli("balance", "-f", "json", env=env)
    jq = subprocess.run(
        ["jq", "-r", '.balances[] | select(.equity > 50000) | "\\(.account_id) \\(.cash)"'],
        input=proc.stdout, capture_output=True, text=True, check=True)
    # jq 1.6 prints doubles; the selection itself is what matters here.
    assert jq.stdout.split("\n")[:2] == ["11827392 -4210.07", "210FUT01 4995774.4804"]
    count = subprocess.run(["jq", ".totals[0].accounts, (.errors | length)"], input=proc.stdout,
                           capture_output=True, text=True, check=True)
    assert count.stdout.split() == ["3", "0"]


def test_jsonl_and_csv(tmp_path, ts_profile):
    settings, env = ts_profile
    env["BALANCECLI_CONFIG"] = str(write_config(tmp_path / "c.toml", {"ts": settings}))
    lines = run_cli("assets", "-f", "jsonl", env=env).stdout.splitlines()
    assert len(lines) == 5
    assert json.loads(lines[3], parse_float=D)["conversion_rate"] == D(
        "0.0095697442964323993262900015")
    csv_text = run_cli("balance", "-f", "csv", env=env).stdout
    header, first = csv_text.splitlines()[:2]
    assert header == ("profile,broker,account_id,account_name,account_type,currency,as_of,cash,"
                      "available,withdrawable,buying_power,equity,market_value,initial_margin,"
                      "maintenance_margin,unrealized_pnl,realized_pnl")
    assert first.startswith("ts,tradestation,11827391,Long term,cash,USD,")
    assert first.endswith(",25731.18,,,25731.18,48210.55,22479.37,,,1478.25,0")


def test_table_off_a_terminal_is_never_cut(tmp_path, ts_profile):
    settings, env = ts_profile
    env["BALANCECLI_CONFIG"] = str(write_config(tmp_path / "c.toml", {"ts": settings}))
    env["COLUMNS"] = "40"
    proc = run_cli("balance", env=env)
    assert proc.returncode == 0 and proc.stderr == ""
    assert "\x1b[" not in proc.stdout  # no colour when piped
    lines = proc.stdout.splitlines()
    fut = next(line for line in lines if "210FUT01" in line)
    # Display precision: USD has 2 decimals, rounded half up (4995774.4804, -1783312.499998).
    assert "4,995,774.48" in fut and "-1,783,312.50" in fut and "70,295,825.00" in fut
    assert max(len(line) for line in lines) > 120
    cash = next(line for line in lines if "11827391" in line)
    assert "—" in cash  # null initial margin is shown as a dash, not 0
    total = next(line for line in lines if line.startswith("Total (3 accounts)"))
    # Summed exactly (5,017,295.5904), then rounded for display.
    assert total.split()[-4:] == ["USD", "5,017,295.59", "3,421,205.60", "3,357,174.72"]


def test_cli_runner_and_format_env(tmp_path, ts_profile, monkeypatch):
    settings, env = ts_profile
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("BALANCECLI_FORMAT", "json")
    config = write_config(tmp_path / "c.toml", {"ts": settings})
    result = CliRunner().invoke(app, ["--config", str(config), "accounts"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert [a["account_id"] for a in doc["accounts"]] == ["11827391", "11827392", "210FUT01"]
    assert result.stderr == ""
    result = CliRunner().invoke(app, ["balance", "--config", str(config), "-a", "210FUT01",
                                      "-f", "csv"])
    assert result.exit_code == 0 and result.stdout.count("\n") == 2


def test_account_and_currency_filters(tmp_path, ts_profile):
    settings, env = ts_profile
    env["BALANCECLI_CONFIG"] = str(write_config(tmp_path / "c.toml", {"ts": settings}))
    doc = json_out(run_cli("assets", "-f", "json", "-a", "210FUT01", "--currency", "jpy",
                           env=env))
    assert [(a["account_id"], a["asset"], a["total"]) for a in doc["assets"]] == [
        ("210FUT01", "JPY", D("-188750"))]
    proc = run_cli("balance", "-a", "NOPE", env=env)
    assert proc.returncode == 3
    assert proc.stderr.strip() == ("error: balancecli: no account matches --account NOPE — "
                                   "run: balancecli accounts (to list the account ids)")


# -- faults: each gives its documented exit code and message, and loses no other rows

FAULTS = [
    # (inject kwargs, exit code when alone, fragment of the stderr line)
    (dict(kind="timeout", path="/v3/brokerage/accounts$", seconds=3), 5,
     "did not answer within 0.5 s"),
    (dict(kind="reset", path="/v3/brokerage/accounts$"), 5, "could not connect to 127.0.0.1"),
    (dict(kind="status", path="/v3/", times=9, status=401,
          body={"Error": "Unauthorized", "Message": "Invalid token"}), 4,
     "the access token was rejected after a refresh (Unauthorized: Invalid token) (HTTP 401) "
     "— run: balancecli auth login ts"),
    (dict(kind="status", path="/v3/", times=9, status=429, headers={"Retry-After": "0"}), 5,
     "rate limited by 127.0.0.1"),
    (dict(kind="status", path="/v3/", times=9, status=503, body="busy"), 5, "answered HTTP 503"),
    (dict(kind="html", path="/v3/brokerage/accounts$", status=200), 6, "not valid JSON"),
    (dict(kind="truncated", path="/v3/brokerage/accounts$"), 6, "not valid JSON"),
    (dict(kind="body", path="/v3/brokerage/accounts$", body='{"Accounts": NaN}'), 6,
     "contains NaN"),
    (dict(kind="body", path="/balances$", body='{"Balances": {"a": 1}}'), 6,
     "Balances is not a JSON array"),
    (dict(kind="status", path="/v3/", times=9, status=403,
          body={"Error": "Forbidden", "Message": "No access"}), 6,
     "request refused (HTTP 403: Forbidden: No access)"),
]


@pytest.mark.parametrize("fault,code,fragment", FAULTS, ids=[f[0]["kind"] + str(i)
                                                            for i, f in enumerate(FAULTS)])
def test_fault_alone_and_beside_a_healthy_profile(two_profiles, fault, code, fragment):
    env, faulty, _ = two_profiles
    kind = fault.pop("kind")
    faulty.inject(kind, **fault)
    alone = run_cli("balance", "-p", "ts", "-f", "json", "--timeout", "0.5", env=env)
    assert alone.returncode == code, alone.stderr
    lines = [x for x in alone.stderr.splitlines() if not x.startswith("warning: ")]
    # One line per failure: per profile, or per account when only the balances call failed.
    assert len(lines) == (3 if fault["path"] == "/balances$" else 1), lines
    for line in lines:
        assert line.startswith("error: ts") and fragment in line, line
    assert "Traceback" not in alone.stderr
    doc = json_out(alone)
    assert doc["balances"] == [] and doc["errors"][0]["profile"] == "ts"

    faulty.faults.clear()
    faulty.inject(kind, **fault)
    both = run_cli("balance", "-f", "json", "--timeout", "0.5", env=env)
    assert both.returncode == 7, both.stderr
    doc = json_out(both)
    assert [b["account_id"] for b in doc["balances"] if b["profile"] == "ok"] == [
        "11827391", "11827392", "210FUT01"]
    assert {e["profile"] for e in doc["errors"]} == {"ts"}
    assert all(line.startswith(("error: ts", "warning: ts", "warning: ok"))
               for line in both.stderr.splitlines())


def test_429_with_retry_after_is_honoured(tmp_path, ts_profile, ts_fake):
    settings, env = ts_profile
    settings = {**settings, "max_retries": 2}
    env["BALANCECLI_CONFIG"] = str(write_config(tmp_path / "c.toml", {"ts": settings}))
    ts_fake.inject("status", "/v3/brokerage/accounts$", status=429,
                   headers={"Retry-After": "1"}, body={"Error": "TooManyRequests"})
    started = time.monotonic()
    proc = run_cli("accounts", "-f", "json", "-v", env=env)
    assert proc.returncode == 0, proc.stderr
    assert time.monotonic() - started >= 1.0
    assert len(json_out(proc)["accounts"]) == 3
    requests = [line for line in proc.stderr.splitlines() if "/v3/brokerage/accounts" in line]
    assert [line.split(" -> ")[1].split()[0] for line in requests] == ["429", "200"]


def test_account_in_errors_gives_partial_exit(tmp_path, ts_profile, ts_fake):
    ts_fake.include_error_account = True
    settings, env = ts_profile
    env["BALANCECLI_CONFIG"] = str(write_config(tmp_path / "c.toml", {"ts": settings}))
    proc = run_cli("balance", env=env)
    assert proc.returncode == 7
    assert "11827391" in proc.stdout and "210FUT01" in proc.stdout
    assert proc.stderr.strip() == (
        "error: ts account 123456789C: TradeStation refused this account: Forbidden Request not "
        "supported for account type. — check the account at the broker (add -v to see each "
        "request)")


def test_everything_failed_takes_the_most_serious_code(two_profiles):
    env, faulty, other = two_profiles
    faulty.inject("status", "/v3/", times=9, status=503)
    other.inject("status", "/v3/", times=9, status=401)
    proc = run_cli("accounts", env=env)
    assert proc.returncode == 4
    errors = [x for x in proc.stderr.splitlines() if x.startswith("error: ")]
    assert [x.split(":")[1] for x in errors] == [" ts", " ok"] and proc.stdout == ""


def test_env_only_rotation_warns_that_the_token_was_not_stored(tmp_path, ts_profile, ts_fake):
    ts_fake.rotate = True
    settings, env = ts_profile
    env["BALANCECLI_CONFIG"] = str(write_config(tmp_path / "c.toml", {"ts": settings}))
    del env["BALANCECLI_TS_ACCESS_TOKEN"]
    proc = run_cli("accounts", "-f", "json", env=env)
    assert proc.returncode == 0
    # The new access token is used without a word; the rotated refresh token that cannot be
    # stored is the one warning, naming the variable that now holds a spent token.
    [line] = proc.stderr.splitlines()
    assert line.startswith("warning: ts: the broker replaced the refresh token and the new one "
                           "could not be stored (the OS keyring is not usable")
    assert "BALANCECLI_TS_REFRESH_TOKEN now holds a spent one" in line
    assert len(json_out(proc)["accounts"]) == 3


def test_tokens_never_appear_in_any_output(tmp_path, ts_profile, ts_fake):
    ts_fake.rotate = False  # env-only: a rotated token could not be kept between runs
    settings, env = ts_profile
    env["BALANCECLI_CONFIG"] = str(write_config(tmp_path / "c.toml", {"ts": settings}))
    env["BALANCECLI_TS_ACCESS_TOKEN"] = "expired-access-token-xyz"  # forces a 401 + refresh
    outputs = []
    for command in ("accounts", "balance", "assets"):
        for fmt in ("table", "json", "jsonl", "csv"):
            proc = run_cli(command, "-f", fmt, "-v", "--debug", env=env)
            outputs += [proc.stdout, proc.stderr]
    ts_fake.inject("status", "/v3/", times=9, status=401,
                   body={"Error": "Unauthorized", "Message": env["BALANCECLI_TS_REFRESH_TOKEN"]})
    proc = run_cli("balance", "-v", "--debug", env=env)
    outputs += [proc.stdout, proc.stderr]
    secrets = [env["BALANCECLI_TS_REFRESH_TOKEN"], env["BALANCECLI_TS_CLIENT_SECRET"],
               "expired-access-token-xyz", *ts_fake.access_tokens, *ts_fake.refresh_tokens]
    assert ts_fake.refresh_count >= 12  # every run refreshed: new tokens were in play
    text = "\n".join(outputs)
    assert "-> 401" in text and "/oauth/token -> 200" in text  # the logs were really written
    for secret in secrets:
        assert secret not in text


# -- configuration errors: exit 3, one line, the next step

@pytest.mark.parametrize("content,fragment", [
    ('[profiles.ts]\nbroker = "tradestation"\nbase_url = "http://x\n',
     "is not valid TOML: "),
    ('[profiles.ts]\nbroker = "schwab"\n',
     "unknown broker 'schwab'; valid brokers: tradestation, longport, etna, quantower"),
    ("[profiles.ts]\napi = \"v3\"\n", "missing setting 'broker'"),
    ('[profiles.ts]\nbroker = "tradestation"\nbase_url = "http://api.example.com"\n',
     "setting 'base_url' must be an https:// URL"),
    ('[profiles.ts]\nbroker = "tradestation"\napi = "v4"\n',
     "setting 'api' must be one of v3, v2, got 'v4'"),
    ('[profiles.ts]\nbroker = "tradestation"\ncolour = "red"\n', "unknown setting 'colour'"),
])
def test_config_errors(tmp_path, content, fragment):
    config = tmp_path / "config.toml"
    config.write_text(content)
    proc = run_cli("balance", "--config", str(config))
    assert proc.returncode == 3
    [line] = proc.stderr.splitlines()
    assert line.startswith("error: ") and fragment in line, line
    assert proc.stdout == ""


def test_toml_error_names_the_line(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text('[profiles.ts]\nbroker = "tradestation"\napi = v3\n')
    proc = run_cli("accounts", "--config", str(config))
    assert proc.returncode == 3 and "(at line 3, column 7)" in proc.stderr


def test_missing_config_and_unknown_profile(tmp_path, ts_profile):
    proc = run_cli("balance", env={"BALANCECLI_CONFIG": str(tmp_path / "none.toml")})
    assert proc.returncode == 3 and "no config file at" in proc.stderr
    assert "balancecli --demo balance" in proc.stderr
    settings, env = ts_profile
    env["BALANCECLI_CONFIG"] = str(write_config(tmp_path / "c.toml", {"ts": settings}))
    proc = run_cli("accounts", "-p", "ts", "-p", "typo", env=env)
    assert proc.returncode == 7 and "11827391" in proc.stdout
    assert proc.stderr.startswith("error: typo: unknown profile (profiles in ")


def test_usage_error_is_exit_2():
    proc = run_cli("balance", "--format", "xml")
    assert proc.returncode == 2 and proc.stdout == ""


def test_demo_runs_the_real_fetcher_over_http():
    proc = run_cli("--demo", "balance", "-p", "demo-ts", "-f", "json", "-v")
    assert proc.returncode == 0, proc.stderr
    doc = json_out(proc)
    assert [b["equity"] for b in doc["balances"]] == [
        D("48210.55"), D("96502.19"), D("3212461.980402")]
    log = proc.stderr.splitlines()
    assert any("POST http://127.0.0.1:" in line and "/oauth/token -> 200" in line for line in log)
    assert any("/v3/brokerage/accounts -> 200" in line for line in log)


def test_completion_scripts_are_up_to_date():

    root = REPO / "completions"
    for shell, name in (("bash", "balancecli.bash"), ("zsh", "_balancecli"),
                        ("fish", "balancecli.fish"), ("powershell", "balancecli.ps1")):
        proc = subprocess.run(
            [balancecli_exe(), "--show-completion", shell], capture_output=True, text=True,
            env={**os.environ, "_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION": "1"})
        assert proc.returncode == 0, proc.stderr
        assert (root / name).read_text() == proc.stdout, (
            f"completions/{name} is out of date: run tests/make_completions.py")


def _run_on_a_terminal(args: list[str], env: dict) -> str:
    """What the command printed on a pseudo-terminal wide enough for the whole table."""
    out, err, code = on_terminal(args, 250, env, timeout=30)
    assert code == 0, err
    return out


def test_colour_only_on_a_terminal_and_never_with_no_color(tmp_path, ts_profile):
    settings, env = ts_profile
    env["BALANCECLI_CONFIG"] = str(write_config(tmp_path / "c.toml", {"ts": settings}))
    coloured = _run_on_a_terminal(["balance"], env)
    import re

    assert re.search(r"\x1b\[31m *-4,210\.07\x1b\[0m", coloured)  # red on a terminal...
    assert "-4,210.07" in coloured  # ...and keep their minus sign
    plain = _run_on_a_terminal(["balance"], {**env, "NO_COLOR": "1"})
    assert "\x1b[31m" not in plain and "-4,210.07" in plain
    plain = _run_on_a_terminal(["--no-color", "balance"], env)
    assert "\x1b[31m" not in plain and "-4,210.07" in plain


def test_a_reader_that_goes_away_is_not_an_error():
    proc = subprocess.Popen([balancecli_exe(), "--demo", "balance", "-f", "jsonl"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # like `| head -0`: nobody reads
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 141
    assert b"internal error" not in err and b"Traceback" not in err and b"Exception" not in err


def test_profile_accounts_setting_filters(tmp_path, ts_profile):
    settings, env = ts_profile
    settings = {**settings, "accounts": ["210FUT01", "11827391"]}
    env["BALANCECLI_CONFIG"] = str(write_config(tmp_path / "c.toml", {"ts": settings}))
    doc = json_out(run_cli("balance", "-f", "json", env=env))
    assert [b["account_id"] for b in doc["balances"]] == ["11827391", "210FUT01"]
    assert doc["totals"][0]["accounts"] == 2


# -- help and usage errors

def _command_paths():
    from typer.main import get_command

    def walk(command, path):
        yield path
        for name, sub in sorted(getattr(command, "commands", {}).items()):
            yield from walk(sub, [*path, name])

    return list(walk(get_command(app), []))


def test_every_command_has_placeholders_and_examples():
    for path in _command_paths():
        proc = run_cli(*path, "--help")
        assert proc.returncode == 0, (path, proc.stderr)
        assert "Examples:" in proc.stdout, path
        assert "balancecli " in proc.stdout.split("Examples:", 1)[1], path
        assert "<bool>" not in proc.stdout and "<str>" not in proc.stdout, path
        assert "<list" not in proc.stdout and "<path>" not in proc.stdout, path
    import re

    text = run_cli("balance", "--help").stdout
    for pattern in (r"--profile\s+-p\s+NAME", r"--account\s+-a\s+ID", r"--format\s+-f\s+FORMAT",
                    r"--timeout\s+SECONDS", r"--currency\s+CUR", r"--columns\s+A,B,\.\.\.",
                    r"--config\s+PATH", r"--wide\s+Tables", r"--exact\s+Tables"):
        assert re.search(pattern, text), pattern
    login = run_cli("auth", "login", "--help").stdout
    assert re.search(r"--browser-timeout\s+SECONDS", login)
    assert re.search(r"--timeout\s+SECONDS\s.*Seconds per", login)


@pytest.mark.parametrize("args,env,line", [
    (["balance", "--format", "xml"], {},
     "error: --format: 'xml' is not one of table, json, jsonl, csv, beancount, ledger, "
     "prometheus (run: balancecli balance --help)"),
    (["accounts"], {"BALANCECLI_FORMAT": "xml"},
     "error: BALANCECLI_FORMAT (for --format): 'xml' is not one of table, json, jsonl, csv "
     "(run: balancecli accounts --help)"),
    (["accounts", "--timeout", "0"], {},
     "error: --timeout: must be at least 0.1 seconds, got 0 (run: balancecli accounts --help)"),
    (["balance", "--timeout", "soon"], {},
     "error: --timeout: takes a number of seconds, got soon (run: balancecli balance --help)"),
    (["balance", "--tmeout", "1"], {},
     "error: no such option --tmeout; did you mean --timeout? "
     "(run: balancecli balance --help)"),
    (["auth", "login"], {}, "error: missing argument PROFILE (run: balancecli auth login --help)"),
    (["auth", "login", "ts", "--port", "70000"], {},
     "error: --port: must be at most 65535, got 70000 (run: balancecli auth login --help)"),
    (["balance", "--columns", "cash,equty"], {},
     "error: --columns: unknown column equty; did you mean equity? "
     "(run: balancecli balance --help)"),
    (["balance", "--columns", "cash,zzz"], {},
     "error: --columns: unknown column zzz; balance has: profile, broker, account_id, "
     "account_name, account_type, currency, as_of, cash, available, withdrawable, buying_power, "
     "equity, market_value, initial_margin, maintenance_margin, unrealized_pnl, realized_pnl "
     "(run: balancecli balance --help)"),
])
def test_usage_errors_are_one_line_in_our_words(args, env, line):
    proc = run_cli(*args, env=env)
    assert (proc.returncode, proc.stdout, proc.stderr) == (2, "", line + "\n")


@pytest.mark.parametrize("args,command,message", [
    (["--demo", "balance", "--in", "USD", "-f", "ledger"], "balance",
     "--in works with -f table, json, jsonl and csv, without --watch and --hide-amounts"),
    (["--demo", "assets", "--watch", "30", "-f", "csv"], "assets",
     "--watch shows a table; it cannot be combined with -f csv (for a record over time run: "
     "balancecli --demo snapshot, from cron)"),
    (["--demo", "profile", "list"], "profile list",
     "the profile commands edit the config file; they do not apply to --demo"),
    (["--demo", "history", "--at", "1d", "--since", "2d"], "history",
     "--at: --at excludes --since/--until"),
    (["--demo", "history", "--field", "cashh"], "history",
     "--field: 'cashh' is not a balance field (one of: cash, available, withdrawable, "
     "buying_power, equity, market_value, initial_margin, maintenance_margin, unrealized_pnl, "
     "realized_pnl)"),
    (["--demo", "history", "--prune", "--keep", "3m", "--yes"], "history",
     "--keep: '3m' is ambiguous: write 3min for minutes or 3mo for months"),
    (["schema", "nope"], "schema",
     "unknown schema 'nope' (valid: balancecli.accounts/1, balancecli.balance/1, "),
])
def test_our_usage_errors_are_the_same_one_line(args, command, message):
    """Usage errors found by the commands themselves read like Typer's: one line, the help."""
    proc = run_cli(*args)
    assert (proc.returncode, proc.stdout) == (2, ""), proc.stderr
    assert proc.stderr.startswith(f"error: {message}"), proc.stderr
    assert proc.stderr.endswith(f" (run: balancecli {command} --help)\n")
    assert proc.stderr.count("\n") == 1


def test_columns_and_exact(tmp_path, ts_profile):
    settings, env = ts_profile
    env["BALANCECLI_CONFIG"] = str(write_config(tmp_path / "c.toml", {"ts": settings}))
    csv_text = run_cli("balance", "--columns", "account_id,currency,equity", "-f", "csv",
                       env=env).stdout
    assert csv_text.splitlines() == ["account_id,currency,equity", "11827391,USD,48210.55",
                                     "11827392,USD,96502.19", "210FUT01,USD,3212461.980402"]
    table = run_cli("balance", "--columns", "equity,account_id", env=env).stdout.splitlines()
    assert table[0].split() == ["Equity", "Account"]
    assert table[4].split() == ["3,212,461.98", "210FUT01"]
    # The total says its currency, in a column of its own (the first one is an amount).
    assert table[-1].split() == ["Total", "USD", "(3", "accounts)", "3,357,174.72"]
    exact = run_cli("balance", "--exact", env=env).stdout
    assert "4,995,774.4804" in exact and "-1,783,312.49999800000000000000" in exact
    assert "3,357,174.720402" in exact  # the exact total
    wide = run_cli("balance", "--wide", env=env)  # off a terminal: the same full table
    assert wide.stdout == run_cli("balance", env=env).stdout and wide.stderr == ""


def test_snapshot_csv_writes_booleans_as_json_does(tmp_path, ts_profile):
    settings, env = ts_profile
    env["BALANCECLI_CONFIG"] = str(write_config(tmp_path / "c.toml", {"ts": settings}))
    env["BALANCECLI_DB"] = str(tmp_path / "h.sqlite3")
    proc = run_cli("snapshot", "-f", "csv", env=env)
    assert proc.returncode == 0, proc.stderr
    header, row = proc.stdout.splitlines()
    assert dict(zip(header.split(","), row.split(","), strict=True))["ok"] == "true"


def test_a_secret_with_quotes_echoed_back_is_masked_in_every_format(tmp_path, ts_profile,
                                                                     ts_fake):
    """Masking runs on the values before encoding: JSON's \\" and CSV's "" cannot hide it."""
    settings, env = ts_profile
    secret = 'tok"en\\with-quotes-0123456789'
    ts_fake.access_tokens[secret] = time.time() + 3600
    env["BALANCECLI_TS_ACCESS_TOKEN"] = secret
    env["BALANCECLI_CONFIG"] = str(write_config(tmp_path / "c.toml", {"ts": settings}))
    env["BALANCECLI_DB"] = str(tmp_path / "h.sqlite3")
    ts_fake.inject("status", "/balances$", times=99, status=403,
                   body={"Error": "Forbidden", "Message": f"bad token {secret}"})
    outputs = []
    for fmt in ("json", "jsonl", "csv", "table"):
        proc = run_cli("balance", "-f", fmt, env=env)
        assert proc.returncode == 6, proc.stderr
        outputs += [proc.stdout, proc.stderr]
    assert "bad token ***" in outputs[0]  # the JSON error entry, masked
    snap = run_cli("snapshot", "-f", "json", env=env)
    outputs += [snap.stdout, snap.stderr]
    import sqlite3

    with sqlite3.connect(env["BALANCECLI_DB"]) as db:
        stored = "".join(str(row) for row in db.execute("SELECT * FROM runs"))
    assert "bad token ***" in stored
    for text in [*outputs, stored]:
        for form in (secret, json.dumps(secret)[1:-1], secret.replace('"', '""'),
                     "with-quotes-0123456789"):
            assert form not in text, text


EXPORT_NOTE = ("note: BALANCECLI_FORMAT=beancount is for balance and assets; {} takes table, "
               "json, jsonl, csv and shows table\n")


def test_an_export_format_in_the_environment_is_for_balance_and_assets(tmp_path):
    # A crontab sets BALANCECLI_FORMAT=beancount once for `balance`; its `snapshot -q` and a
    # look at `accounts` or `history` must still work: they show their default, with a note.
    env = {"BALANCECLI_FORMAT": "beancount"}
    db = str(tmp_path / "h.sqlite3")
    balance = run_cli("--demo", "balance", env=env)
    assert balance.returncode == 0 and balance.stdout.startswith("; balancecli balance at ")
    for args, command in ((["--demo", "accounts"], "accounts"),
                          (["--demo", "snapshot", "--db", db], "snapshot"),
                          (["history", "--db", db], "history"),
                          (["--demo", "rates", "show"], "rates show")):
        proc = run_cli(*args, env=env)
        assert proc.returncode == 0, proc.stderr
        assert EXPORT_NOTE.format(command) in proc.stderr
        assert "invalid" not in proc.stderr and "error" not in proc.stderr
        assert proc.stdout and not proc.stdout.startswith(";")
    assert run_cli("--demo", "-q", "accounts", env=env).stderr == ""  # a note: -q drops it
    explicit = run_cli("--demo", "accounts", "-f", "json", env=env)
    assert explicit.stderr == "" and json.loads(explicit.stdout)["accounts"]
