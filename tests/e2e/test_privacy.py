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
