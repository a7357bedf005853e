"""beancount, ledger and OpenMetrics exports, checked by the real tools.

The rows come from the installed command on the demo brokers (``-f json``); the journals the
tests build open the accounts and book the expected balances from that JSON, independently of
the exporter; then the real ``bean-check`` and ``hledger`` must accept our assertions, and
reject them when one booked amount is off. OpenMetrics text is parsed with prometheus_client.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from pathlib import Path

import pytest

from balancecli.core import ledgernames
from balancecli.core.errors import ConfigError
from balancecli.core.models import MONEY_FIELDS, Asset, Balance
from balancecli.output import exports
from tests.support.cli import run_cli
from tests.support.config import write_config

# The default account names of the demo accounts (Assets:<Broker>:<AccountId>).
DEMO_ACCOUNTS = {
    ("demo-ts", "11827391"): "Assets:TradeStation:11827391",
    ("demo-ts", "11827392"): "Assets:TradeStation:11827392",
    ("demo-ts", "210FUT01"): "Assets:TradeStation:210FUT01",
    ("demo-lp", "LP-DEMO"): "Assets:LongPort:LP-DEMO",
    ("demo-etna", "83267"): "Assets:ETNA:83267",
    ("demo-etna", "83268"): "Assets:ETNA:83268",
    ("demo-etna", "83269"): "Assets:ETNA:83269",
    ("demo-qt", "BN-SPOT-01"): "Assets:Quantower:BN-SPOT-01",
    ("demo-qt", "rithmic-demo:RITHMIC-PAPER-7"): "Assets:Quantower:Rithmic-demo-RITHMIC-PAPER-7",
    ("demo-qt", "cqg-demo:RITHMIC-PAPER-7"): "Assets:Quantower:Cqg-demo-RITHMIC-PAPER-7",
}


def bean_check() -> str:
    exe = Path(sys.executable).with_name("bean-check")
    if not exe.exists():
        pytest.fail("bean-check is not installed (pip install -e '.[test]')")
    return str(exe)


def hledger() -> str:
    exe = shutil.which("hledger")
    if not exe:
        pytest.fail("hledger is not installed (apt-get install hledger)")
    return exe


def model_row(model, data: dict):
    """A model row from its JSON object (JSON integers become Decimals, as in the model)."""
    money = MONEY_FIELDS[model]
    return model(**{k: D(v) if k in money and v is not None else v for k, v in data.items()})


@pytest.fixture(scope="module")
def demo():
    """(generated_at, balance rows, asset rows) from the installed command on the demo."""
    docs = {}
    for command in ("balance", "assets"):
        proc = run_cli("--demo", command, "-f", "json")
        assert proc.returncode == 0, proc.stderr
        docs[command] = json.loads(proc.stdout, parse_float=D)
    balances = [model_row(Balance, r) for r in docs["balance"]["balances"]]
    assets = [model_row(Asset, r) for r in docs["assets"]["assets"]]
    return docs["balance"]["generated_at"], balances, assets


def expected(rows, field: str, code: str) -> list[tuple[str, D, str]]:
    """(account, amount, commodity) the journal must book: every non-null amount."""
    return [(DEMO_ACCOUNTS[(r.profile, r.account_id)], getattr(r, field), getattr(r, code))
            for r in rows if getattr(r, field) is not None]


def beancount_journal(booked, output: str) -> str:
    accounts = sorted({a for a, _, _ in booked})
    lines = [f"2020-01-01 open {a}" for a in accounts]
    lines += ["2020-01-01 open Equity:Opening-Balances", "", '2026-01-02 * "opening balances"']
    lines += [f"  {a}  {n} {c}" for a, n, c in booked]
    lines += ["  Equity:Opening-Balances", "", output]
    return "\n".join(lines)


def ledger_journal(booked, output: str) -> str:
    lines = ["2026-01-02 opening balances"]
    lines += [f'    {a}  {n} {c if c.isalpha() else chr(34) + c + chr(34)}' for a, n, c in booked]
    lines += ["    Equity:Opening-Balances", "", output]
    return "\n".join(lines)


def tomorrow(iso: str) -> str:
    when = datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone(UTC)
    return (when.date() + timedelta(days=1)).isoformat()


# -- beancount


def test_beancount_balance_output_is_exact(demo):
    generated_at, balances, _ = demo
    text = exports.beancount("balance", balances, exports.AccountNames(), generated_at)
    lines = text.splitlines()
    day = tomorrow(balances[0].as_of)
    assert f"{day} balance Assets:TradeStation:11827391  25731.18 USD" in lines
    assert f"{day} balance Assets:TradeStation:210FUT01  4995774.4804 USD" in lines
    assert f"{tomorrow(balances[3].as_of)} balance Assets:LongPort:LP-DEMO  353100.20 HKD" \
        in lines
    # Quantower reports no cash: a comment, never a made-up 0.
    assert "; demo-qt BN-SPOT-01 USDT: the broker sent no cash; no assertion" in lines
    assert not any(" 0 USD" in line or " 0 USDT" in line for line in lines)


@pytest.mark.parametrize("command", ["balance", "assets"])
def test_bean_check_accepts_our_assertions_and_rejects_a_wrong_balance(tmp_path, demo, command):
    generated_at, balances, assets = demo
    rows, field, code = ((balances, "cash", "currency") if command == "balance"
                         else (assets, "total", "asset"))
    output = exports.beancount(command, rows, exports.AccountNames(), generated_at)
    booked = expected(rows, field, code)
    assert len(booked) == sum(" balance " in line for line in output.splitlines()
                              if not line.startswith(";"))
    journal = tmp_path / "books.beancount"
    journal.write_text(beancount_journal(booked, output))
    ok = subprocess.run([bean_check(), str(journal)], capture_output=True, text=True)
    assert (ok.returncode, ok.stdout, ok.stderr) == (0, "", "")

    account, amount, cur = booked[0]
    wrong = [(account, amount + 1, cur)] + booked[1:]
    journal.write_text(beancount_journal(wrong, output))
    bad = subprocess.run([bean_check(), str(journal)], capture_output=True, text=True)
    assert bad.returncode != 0
    assert "Balance failed" in bad.stdout + bad.stderr
    assert account in bad.stdout + bad.stderr


def test_hledger_accepts_our_assertions_and_rejects_a_wrong_balance(tmp_path, demo):
    generated_at, _, assets = demo
    output = exports.ledger("assets", assets, exports.AccountNames(), generated_at)
    booked = expected(assets, "total", "asset")
    journal = tmp_path / "books.journal"
    journal.write_text(ledger_journal(booked, output))
    ok = subprocess.run([hledger(), "-f", str(journal), "check"], capture_output=True,
                        text=True)
    assert (ok.returncode, ok.stderr) == (0, "")
    bal = subprocess.run([hledger(), "-f", str(journal), "bal", "Assets:ETNA:83268"],
                         capture_output=True, text=True)
    assert bal.returncode == 0 and "-1520.37" in bal.stdout

    account, amount, cur = booked[-1]
    wrong = booked[:-1] + [(account, amount - D("0.01"), cur)]
    journal.write_text(ledger_journal(wrong, output))
    bad = subprocess.run([hledger(), "-f", str(journal), "check"], capture_output=True,
                         text=True)
    assert bad.returncode != 0
    assert "balance assertion" in bad.stderr and account in bad.stderr


def test_hledger_balance_output(tmp_path, demo):
    generated_at, balances, _ = demo
    output = exports.ledger("balance", balances, exports.AccountNames(), generated_at)
    assert "    Assets:TradeStation:11827392  0 USD = -4210.07 USD" in output.splitlines()
    booked = expected(balances, "cash", "currency")
    journal = tmp_path / "b.journal"
    journal.write_text(ledger_journal(booked, output))
    ok = subprocess.run([hledger(), "-f", str(journal), "check"], capture_output=True,
                        text=True)
    assert (ok.returncode, ok.stderr) == (0, "")


def row(**fields) -> Balance:
    base = {"profile": "p", "broker": "etna", "account_id": "1", "currency": "USD",
            "as_of": "2026-11-23T23:59:59Z"}
    return Balance(**{**base, **fields})


def test_dates_digits_commodities_and_comments():
    names = exports.AccountNames()
    rows = [
        row(cash=D("1E+3")),                                  # exponent: written out
        row(account_id="2", cash=D("0.10000000000000000001")),  # every digit
        row(account_id="3", cash=None),                      # null: a comment
        row(account_id="4", cash=D("5"), currency="1INCH"),  # no valid commodity: a comment
        row(account_id="5", cash=D("6"), currency="usdt", as_of=None),
        row(account_id="1", cash=D("7")),                    # same account+currency+date
    ]
    text = exports.beancount("balance", rows, names, "2026-12-31T10:00:00Z")
    assert text.splitlines() == [
        "; balancecli balance at 2026-12-31T10:00:00Z: cash per account and currency",
        "; p 3 USD: the broker sent no cash; no assertion",
        "; p 4 1INCH: no valid commodity name for '1INCH'; no assertion",
        "; p 1 USD: Assets:ETNA:1 USD is already asserted for 2026-11-24; this cash (7) is not",
        "2026-11-24 balance Assets:ETNA:1  1000 USD",
        "2026-11-24 balance Assets:ETNA:2  0.10000000000000000001 USD",
        "2027-01-01 balance Assets:ETNA:5  6 USDT",
    ]


def test_ledger_quotes_commodities_that_are_not_only_letters(tmp_path):
    rows = [Asset(profile="p", broker="quantower", account_id="x", asset="USDT.E",
                  total=D("12.5"))]
    text = exports.ledger("assets", rows, exports.AccountNames(), "2026-11-23T10:00:00Z")
    assert '    Assets:Quantower:X  0 "USDT.E" = 12.5 "USDT.E"' in text.splitlines()
    journal = tmp_path / "q.journal"
    journal.write_text('2026-01-01 open\n    Assets:Quantower:X  12.5 "USDT.E"\n    Equity\n\n'
                       + text)
    ok = subprocess.run([hledger(), "-f", str(journal), "check"], capture_output=True,
                        text=True)
    assert (ok.returncode, ok.stderr) == (0, "")


def test_account_components_are_made_valid():
    assert ledgernames.component("rithmic-demo:RITHMIC-PAPER-7") == "Rithmic-demo-RITHMIC-PAPER-7"
    assert ledgernames.component("83268") == "83268"
    assert ledgernames.component("a b/c") == "A-b-c"
    assert ledgernames.component("--") == "X"
    assert ledgernames.valid_account("Assets:TradeStation:11223344")
    assert not ledgernames.valid_account("Assets:tradestation")
    assert not ledgernames.valid_account("Cash:X")


def test_ledger_account_setting_template_and_table():
    names = exports.AccountNames({
        "ts": "Assets:Brokers:{broker}:{account}",
        "ira": {"83268": "Assets:Retirement:IRA"},
    })
    assert names("ts", "tradestation", "1122") == "Assets:Brokers:TradeStation:1122"
    assert names("ira", "etna", "83268") == "Assets:Retirement:IRA"
    assert names("ira", "etna", "83267") == "Assets:ETNA:83267"  # not in the table: default
    assert names("other", "longport", "lp:1") == "Assets:LongPort:Lp-1"


@pytest.mark.parametrize("setting, fragment", [
    ("Assets:brokers:{account}", "not a valid account name"),
    ("Assets:X:{acct}", "unknown placeholder {acct}"),
    ("Assets:X:{", "unknown placeholder"),
    ({"1": 5}, "must be a string or a table of strings"),
])
def test_ledger_account_setting_errors_name_the_profile(setting, fragment):
    with pytest.raises(ConfigError) as caught:
        exports.AccountNames.check("ts", setting)
    assert fragment in caught.value.message
    assert caught.value.profile == "ts"
    assert "ledger_account" in caught.value.next_step


# -- OpenMetrics


def test_openmetrics_parses_and_keeps_every_value(demo):
    from prometheus_client.openmetrics.parser import text_string_to_metric_families

    _, balances, assets = demo
    text = exports.openmetrics(balances, assets, up={"demo-ts": True, "demo-qt": False},
                               seconds=1.23456)
    assert text.endswith("\n# EOF\n")
    families = {f.name: f for f in text_string_to_metric_families(text)}
    assert all(f.type == "gauge" for f in families.values())
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for f in families.values() for s in f.samples}
    count = 0
    for r in balances:
        for field in exports.BALANCE_HELP:
            value = getattr(r, field)
            key = (f"balancecli_{field}", tuple(sorted({
                "profile": r.profile, "broker": r.broker, "account": r.account_id,
                "currency": r.currency}.items())))
            if value is None:
                assert key not in samples  # a null is no sample, never 0
            else:
                assert samples[key] == float(value)
                count += 1
    for r in assets:
        for field in exports.ASSET_HELP:
            value = getattr(r, field)
            key = (exports.metric_name("asset", field), tuple(sorted({
                "profile": r.profile, "broker": r.broker, "account": r.account_id,
                "asset": r.asset}.items())))
            assert (key in samples) == (value is not None)
            if value is not None:
                assert samples[key] == float(value)
                count += 1
    assert count == sum(1 for line in text.splitlines() if line.startswith("balancecli_")) - 3
    assert samples[("balancecli_up", (("profile", "demo-ts"),))] == 1
    assert samples[("balancecli_up", (("profile", "demo-qt"),))] == 0
    assert samples[("balancecli_scrape_seconds", ())] == 1.235
    # The text keeps the broker's digits even where a float could not.
    assert ('balancecli_unrealized_pnl{profile="demo-etna",broker="etna",account="83268",'
            'currency="USD"} 19638.14545186560000000000') in text.splitlines()


def test_openmetrics_escapes_labels_and_is_also_prometheus_text():
    from prometheus_client.openmetrics.parser import text_string_to_metric_families as om
    from prometheus_client.parser import text_string_to_metric_families as prom

    odd = 'a"b\\c\nd'
    text = exports.openmetrics([row(account_id=odd, cash=D("-0.5"))], [], up={"p": True},
                               seconds=0.0)
    assert 'account="a\\"b\\\\c\\nd"' in text
    for parse in (om, prom):
        cash = [f for f in parse(text) if f.name == "balancecli_cash"][0]
        assert cash.samples[0].labels["account"] == odd
        assert cash.samples[0].value == -0.5


def test_profiles_up():
    errors = [ConfigError("x", profile="bad"), ConfigError("y", profile="ts")]
    assert exports.profiles_up(["ts", "lp"], errors) == {"ts": False, "lp": True, "bad": False}


# -- through the installed command


def test_balance_beancount_from_the_command_passes_bean_check(tmp_path, demo):
    _, balances, _ = demo
    proc = run_cli("--demo", "balance", "-f", "beancount")
    assert (proc.returncode, proc.stderr) == (0, "")
    journal = tmp_path / "cli.beancount"
    journal.write_text(beancount_journal(expected(balances, "cash", "currency"), proc.stdout))
    ok = subprocess.run([bean_check(), str(journal)], capture_output=True, text=True)
    assert (ok.returncode, ok.stdout, ok.stderr) == (0, "", "")


def test_assets_ledger_from_the_command_passes_hledger(tmp_path, demo):
    _, _, assets = demo
    proc = run_cli("--demo", "assets", "-f", "ledger")
    assert (proc.returncode, proc.stderr) == (0, "")
    journal = tmp_path / "cli.journal"
    journal.write_text(ledger_journal(expected(assets, "total", "asset"), proc.stdout))
    ok = subprocess.run([hledger(), "-f", str(journal), "check"], capture_output=True,
                        text=True)
    assert (ok.returncode, ok.stderr) == (0, "")


def test_ledger_account_setting_through_the_command(tmp_path, ts_profile):
    settings, env = ts_profile
    config = write_config(tmp_path / "c.toml", {"ts": {
        **settings, "ledger_account": "Assets:Invest:{broker}:{account}"}})
    proc = run_cli("balance", "-f", "beancount", env={**env, "BALANCECLI_CONFIG": str(config)})
    assert proc.returncode == 0, proc.stderr
    assertions = [line.split(" ", 2)[2] for line in proc.stdout.splitlines()
                  if not line.startswith(";")]
    assert "Assets:Invest:TradeStation:11827391  25731.18 USD" in assertions


def test_a_bad_ledger_account_is_a_config_error_of_that_profile(tmp_path, ts_profile):
    settings, env = ts_profile
    config = write_config(tmp_path / "c.toml", {
        "ts": settings, "bad": {**settings, "ledger_account": "assets:x"}})
    proc = run_cli("balance", "-f", "ledger", env={**env, "BALANCECLI_CONFIG": str(config)})
    assert proc.returncode == 7  # the other profile still prints
    assert "Assets:TradeStation:11827391  0 USD = 25731.18 USD" in proc.stdout
    assert proc.stderr.startswith("error: bad: ledger_account 'assets:x': not a valid account")
    assert "fix ledger_account in [profiles.bad]" in proc.stderr


def test_balance_prometheus_from_the_command(demo):
    from prometheus_client.openmetrics.parser import text_string_to_metric_families

    _, balances, _ = demo
    proc = run_cli("--demo", "balance", "-f", "prometheus")
    assert (proc.returncode, proc.stderr) == (0, "")
    families = {f.name: f for f in text_string_to_metric_families(proc.stdout)}
    equity = {s.labels["account"]: s.value for s in families["balancecli_equity"].samples}
    assert equity == {r.account_id: float(r.equity) for r in balances if r.equity is not None}
    assert {s.labels["profile"]: s.value for s in families["balancecli_up"].samples} == {
        "demo-ts": 1, "demo-lp": 1, "demo-etna": 1, "demo-qt": 1}
    assert 0 < families["balancecli_scrape_seconds"].samples[0].value < 30
    assert not any(name.startswith("balancecli_asset_") for name in families)


def test_snapshot_textfile_is_written_atomically_with_up_per_profile(tmp_path, ts_fake,
                                                                      ts_profile):
    from prometheus_client.openmetrics.parser import text_string_to_metric_families

    settings, env = ts_profile
    broken = {**settings, "max_retries": 0}
    config = write_config(tmp_path / "c.toml", {"ts": settings, "nokey": broken})
    textdir = tmp_path / "textfile"
    textdir.mkdir()
    (textdir / "other.prom").write_text("# EOF\n")
    proc = run_cli("snapshot", "--db", str(tmp_path / "h.db"), "--textfile", str(textdir),
                   env={**env, "BALANCECLI_CONFIG": str(config)})
    assert proc.returncode == 7, proc.stderr
    assert "nokey" in proc.stderr
    assert sorted(p.name for p in textdir.iterdir()) == ["balancecli.prom", "other.prom"]
    target = textdir / "balancecli.prom"
    assert target.stat().st_mode & 0o777 == 0o644
    families = {f.name: f for f in text_string_to_metric_families(target.read_text())}
    assert {s.labels["profile"]: s.value for s in families["balancecli_up"].samples} == {
        "ts": 1, "nokey": 0}
    cash = {s.labels["account"]: s.value for s in families["balancecli_cash"].samples}
    assert cash["11827391"] == 25731.18
    assert "balancecli_asset_balance" in families  # snapshot fetches assets too


def test_snapshot_textfile_directory_must_exist(tmp_path):
    proc = run_cli("--demo", "snapshot", "--db", str(tmp_path / "h.db"), "--textfile",
                   str(tmp_path / "missing"))
    assert proc.returncode == 2
    assert "does not exist" in proc.stderr and proc.stdout == ""
    assert not (tmp_path / "h.db").exists()  # refused before anything ran


def test_the_export_formats_are_for_balance_and_assets_only():
    proc = run_cli("--demo", "accounts", "-f", "beancount")
    assert proc.returncode == 2 and "beancount" in proc.stderr
