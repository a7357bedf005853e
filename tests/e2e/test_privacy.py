"""--hide-amounts / BALANCECLI_HIDE_AMOUNTS=1: tables show shares, never an amount; machine
formats are refused (exit 2) unless --force, which prints them with every amount."""

from __future__ import annotations

import json
import re
from decimal import Decimal as D

import pytest

from balancecli.core.models import Balance
from balancecli.output import privacy
from balancecli.output.specs import BALANCE
from tests.support.cli import on_terminal, run_cli

# The account value rule: equity, else cash, else available; shares per currency.
BALANCE_TABLE = """\
Profile     Account                        Ccy     Share   Of
────────────────────────────────────────────────────────────────────
demo-ts     11827391                       USD      1.0%   equity
demo-ts     11827392                       USD      2.0%   equity
demo-ts     210FUT01                       USD     67.1%   equity
demo-lp     LP-DEMO                        HKD    100.0%   equity
demo-etna   83267                          USD      2.1%   equity
demo-etna   83268                          USD     24.6%   equity
demo-etna   83269                          USD      0.1%   equity
demo-qt     BN-SPOT-01                     USDT   100.0%   available
demo-qt     rithmic-demo:RITHMIC-PAPER-7   USD      2.1%   available
demo-qt     cqg-demo:RITHMIC-PAPER-7       USD      1.0%   available
amounts hidden: each row's share of its currency's total (equity, else cash, else available)
"""


def test_balance_table_shows_shares_and_no_amount():
    proc = run_cli("--demo", "balance", "--hide-amounts")
    assert (proc.returncode, proc.stderr) == (0, "")
    assert proc.stdout == BALANCE_TABLE


def test_the_environment_variable_does_the_same():
    proc = run_cli("--demo", "balance", env={"BALANCECLI_HIDE_AMOUNTS": "1"})
    assert (proc.returncode, proc.stdout) == (0, BALANCE_TABLE)


def test_assets_shares_per_asset():
    proc = run_cli("--demo", "assets", "--hide-amounts")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert "demo-ts     210FUT01                       JPY     100.0%   total" in lines
    # LongPort sends no total: its available is used, HKD only in LP-DEMO.
    assert "demo-lp     LP-DEMO                        HKD     100.0%   available" in lines
    # Only shares (one decimal and %): no amount anywhere.
    cells = re.findall(r"\d[\d,.]*%?", proc.stdout)
    assert all(c.endswith("%") or c.isdigit() for c in cells), cells


def _on_a_terminal(args: list[str], env: dict) -> str:
    out, err, code = on_terminal(args, 120, env)
    assert code == 0, err
    return out


def test_on_a_terminal_no_digit_of_any_amount_shows():
    screen = _on_a_terminal(["--demo", "balance"], {"BALANCECLI_HIDE_AMOUNTS": "1"})
    plain = re.sub(r"\x1b\[[0-9;]*m", "", screen)
    assert "67.1%" in plain and "equity" in plain
    for amount in ("25,731.18", "25731.18", "3,212,461", "1,759,070,010.72", "49,875.50"):
        assert amount not in plain


@pytest.mark.parametrize("fmt", ["json", "jsonl", "csv", "beancount", "ledger", "prometheus"])
def test_machine_formats_are_refused_without_force(fmt):
    proc = run_cli("--demo", "balance", "--hide-amounts", "-f", fmt)
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr == (
        f"error: --hide-amounts masks tables only; -f {fmt} would print every amount (add "
        "--force to print them anyway, or unset BALANCECLI_HIDE_AMOUNTS) "
        "(run: balancecli balance --help)\n")


def test_force_prints_the_real_amounts():
    proc = run_cli("--demo", "balance", "-f", "json", "--force",
                   env={"BALANCECLI_HIDE_AMOUNTS": "1"})
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout, parse_float=D)
    assert doc["balances"][0]["cash"] == D("25731.18")


def test_hide_amounts_env_off_and_bad_values():
    assert run_cli("--demo", "balance", "-f", "json",
                   env={"BALANCECLI_HIDE_AMOUNTS": "0"}).returncode == 0
    bad = run_cli("--demo", "balance", env={"BALANCECLI_HIDE_AMOUNTS": "maybe"})
    assert bad.returncode == 2 and "BALANCECLI_HIDE_AMOUNTS" in bad.stderr


def test_shares_are_exact_and_unknowns_are_marked():
    def row(account, **fields):
        return Balance(profile="p", broker="etna", account_id=account, currency="USD", **fields)

    rows = [row("a", equity=D("1")), row("b", cash=D("2")), row("c"),
            Balance(profile="p", broker="etna", account_id="z", currency="EUR",
                    equity=D("0"))]
    got = privacy.shares(rows, BALANCE.shares)
    assert got[0] == ("equity", privacy.EXACT.divide(D(1), D(3))) and got[1][0] == "cash"
    assert got[2] == (None, None)
    assert got[3] == ("equity", None)  # a zero total has no shares
    assert [privacy.percent(s) for _, s in got] == ["33.3%", "66.7%", "—", "—"]
    assert privacy.percent(D("-0.0001")) == "0.0%"


# -- history --hide-amounts ----------------------------------------------------------------

AMOUNT = re.compile(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+\.\d+")


@pytest.fixture
def stored_runs():
    """Three demo snapshots, pinned to three, two and one day ago."""
    from datetime import UTC, datetime, timedelta

    from tests.support.history import demo_db, pin_runs

    for _ in range(3):
        proc = run_cli("--demo", "snapshot", "-q")
        assert proc.returncode == 0, proc.stderr
    now = datetime.now(UTC).replace(microsecond=0)
    pin_runs(demo_db(), [now - timedelta(days=d) for d in (3, 2, 1)])


def _amounts(text: str) -> set[str]:
    """Every amount a table shows (percentages and times excluded)."""
    text = re.sub(r"\d+(?:\.\d+)?%", "", text)
    text = re.sub(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2})?Z?", "", text)
    return set(AMOUNT.findall(text))


@pytest.mark.parametrize("args", [[], ["-a", "210FUT01"], ["--at", "now"], ["--in", "USD"]],
                         ids=["series", "points", "at", "networth"])
def test_history_hides_every_amount(stored_runs, args):
    shown = run_cli("--demo", "history", *args)
    hidden = run_cli("--demo", "history", "--hide-amounts", *args)
    assert shown.returncode == hidden.returncode == 0, hidden.stderr
    amounts = _amounts(shown.stdout)
    assert amounts, shown.stdout  # the unmasked table shows amounts ...
    assert _amounts(hidden.stdout) == set(), hidden.stdout  # ... the masked one none
    assert "amounts hidden" in hidden.stdout and "%" in hidden.stdout
    same = run_cli("--demo", "history", *args, env={"BALANCECLI_HIDE_AMOUNTS": "1"})
    assert same.stdout == hidden.stdout


def test_history_shares_and_percent_changes(stored_runs):
    series = run_cli("--demo", "history", "--hide-amounts").stdout.splitlines()
    assert series[0].split() == ["Profile", "Account", "Ccy", "Of", "Points", "From", "To",
                                 "Share", "Change", "%", "Trend"]
    row = next(line for line in series if " 210FUT01 " in line).split()
    # 3,212,461.98 of the eight USD accounts' 4,785,775.16 (six equities and the Quantower
    # accounts' available, the value each follows); no change in the demo.
    assert (row[3], row[4], row[-3], row[-2]) == ("equity", "3", "67.1%", "0.00%")
    at = run_cli("--demo", "history", "--hide-amounts", "--at", "now").stdout
    # The shares table of balance --hide-amounts (the store keeps its rows by profile).
    assert sorted(at.splitlines()) == sorted(BALANCE_TABLE.splitlines())
    worth = run_cli("--demo", "history", "--hide-amounts", "--in", "USD").stdout.splitlines()
    assert worth[0].split() == ["Time", "Run", "Change", "%", "Accounts"]
    summary = next(line for line in worth if line.startswith("First "))
    assert summary.endswith("; change 0.00%") and worth[-1].startswith("Trend ")


@pytest.mark.parametrize("fmt", ["json", "jsonl", "csv"])
def test_history_machine_formats_are_refused_without_force(stored_runs, fmt):
    proc = run_cli("--demo", "history", "-f", fmt, env={"BALANCECLI_HIDE_AMOUNTS": "1"})
    assert (proc.returncode, proc.stdout) == (2, "")
    assert proc.stderr == (
        f"error: --hide-amounts masks tables only; -f {fmt} would print every amount (add "
        "--force to print them anyway, or unset BALANCECLI_HIDE_AMOUNTS) "
        "(run: balancecli history --help)\n")
    forced = run_cli("--demo", "history", "-f", fmt, "--force",
                     env={"BALANCECLI_HIDE_AMOUNTS": "1"})
    plain = run_cli("--demo", "history", "-f", fmt)
    assert forced.returncode == 0 and _undated(forced.stdout) == _undated(plain.stdout)


def _undated(text: str) -> str:
    """A document without its ``generated_at`` (two runs may fall in two seconds)."""
    return re.sub(r'"generated_at": "[^"]+"', '"generated_at": ""', text)


def test_pruning_has_no_amounts_to_hide(stored_runs):
    proc = run_cli("--demo", "history", "--prune", "--keep", "1y", "--dry-run", "-f", "json",
                   env={"BALANCECLI_HIDE_AMOUNTS": "1"})
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["matched_runs"] == 0
