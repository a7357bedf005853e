"""``balance --in CUR --by GROUP`` and ``assets --in CUR --by GROUP`` through the installed
command on the demo brokers: one row per group with its value, its share and a bar; shares
that sum to exactly 100 % of the converted total (JSON: exact Decimals summing to 1; the
table: one decimal, summing to 100.0 %); ``--hide-amounts`` shows only shares and bars; the
JSON ``converted.groups`` block validates against its schema."""

from __future__ import annotations

import json
import re
from decimal import Context
from decimal import Decimal as D

import pytest

from tests.support.cli import on_terminal, run_cli, table_lines
from tests.support.schemas import valid


def exact_sum(values) -> D:
    """The exact sum (``sum`` rounds to 28 digits)."""
    total, ctx = D(0), Context(prec=200)
    for value in values:
        total = ctx.add(total, value)
    return total


def document(*args: str) -> dict:
    proc = run_cli("--demo", *args, "-f", "json")
    assert proc.returncode == 0, proc.stderr
    return valid(json.loads(proc.stdout, parse_float=D))


@pytest.mark.parametrize(("by", "keys"), [
    ("broker", {"tradestation", "longport", "etna", "quantower"}),
    ("profile", {"demo-ts", "demo-lp", "demo-etna", "demo-qt"}),
    ("currency", {"USD", "HKD"}),
    ("account", {"demo-ts 11827391", "demo-ts 11827392", "demo-ts 210FUT01", "demo-lp LP-DEMO",
                 "demo-etna 83267", "demo-etna 83268", "demo-etna 83269",
                 "demo-qt BN-SPOT-01", "demo-qt rithmic-demo:RITHMIC-PAPER-7",
                 "demo-qt cqg-demo:RITHMIC-PAPER-7"}),
])
def test_groups_sum_to_the_converted_total_exactly(by, keys):
    converted = document("balance", "--in", "USD", "--by", by)["converted"]
    groups = converted["groups"]
    assert converted["by"] == by and {g["key"] for g in groups} == keys
    assert exact_sum(g["value"] for g in groups) == converted["total"]  # exact Decimals
    assert exact_sum(g["share"] for g in groups) == 1  # exactly: 12 decimals, largest remainder
    for g in groups:
        assert abs(g["share"] - g["value"] / converted["total"]) < D("1E-12")
    values = [g["value"] for g in groups]
    assert values == sorted(values, reverse=True)
    by_account = {(a["profile"], a["account_id"]): a["value"] for a in converted["accounts"]}
    if by == "account":
        assert {g["key"]: g["value"] for g in groups} == {
            f"{p} {a}": v for (p, a), v in by_account.items()}


def test_the_table_has_a_row_per_group_with_its_share_and_a_bar():
    proc = run_cli("--demo", "balance", "--in", "USD", "--by", "broker")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].split() == ["Broker", "Value", "(USD)", "Share", "Bar"]
    converted = document("balance", "--in", "USD", "--by", "broker")["converted"]
    rows = lines[2:2 + len(converted["groups"])]
    shares = []
    for line, group in zip(rows, converted["groups"], strict=True):
        key, value, share, *bar = line.split()
        assert key == group["key"]
        assert value == f"{group['value'].quantize(D('0.01')):,}"
        shares.append(D(share.rstrip("%")))
        eighths = int(group["share"] * 20 * 8)
        assert "".join(bar) == "█" * (eighths // 8) + " ▏▎▍▌▋▊▉"[eighths % 8].strip()
    assert sum(shares) == 100  # the shown shares too (one decimal, largest remainder)
    assert lines[2 + len(rows)] == ("Net worth in USD (10 accounts): "
                                    f"{converted['total'].quantize(D('0.01')):,}")


def test_hide_amounts_leaves_only_shares_and_bars():
    for env in ({}, {"BALANCECLI_HIDE_AMOUNTS": "1"}):
        args = ["--demo", "balance", "--in", "USD", "--by", "account"]
        proc = run_cli(*args, *([] if env else ["--hide-amounts"]), env=env)
        assert proc.returncode == 0, proc.stderr
        lines = proc.stdout.splitlines()
        assert lines[0].split() == ["Account", "Share", "Bar"]
        assert not re.search(r"\d,\d{3}", proc.stdout)  # no amount anywhere
        assert "Shares of the total in USD of 10 account(s)" in proc.stdout
        shares = [D(line.split()[2].rstrip("%")) for line in lines[2:12]]
        assert sum(shares) == 100
    machine = run_cli("--demo", "balance", "--in", "USD", "--by", "broker", "-f", "json",
                      "--hide-amounts")
    assert machine.returncode == 2 and "--hide-amounts masks tables only" in machine.stderr


def test_assets_by_asset_groups_the_valued_rows_and_lists_the_rest_apart():
    doc = document("assets", "--in", "USD", "--by", "asset")
    converted = doc["converted"]
    groups = {g["key"]: g for g in converted["groups"]}
    assert set(groups) == {"USD", "BTC", "EUR", "ETH", "USDT", "JPY"}
    assert exact_sum(g["share"] for g in groups.values()) == 1
    assert groups["BTC"]["value"] == D("48000.00")  # the broker's own USD value
    proc = run_cli("--demo", "assets", "--in", "USD", "--by", "asset")
    lines = proc.stdout.splitlines()
    total = exact_sum(g["value"] for g in groups.values())
    assert f"Total of the assets valued in USD: {total.quantize(D('0.01')):,} (4 not valued, " \
           "listed below)" in lines
    apart = lines[lines.index("Not in the total"):]
    assert [line.split() for line in apart[3:]] == [
        ["demo-lp", "LP-DEMO", "HKD", "no", "value"], ["demo-lp", "LP-DEMO", "USD", "no", "value"],
        ["demo-qt", "rithmic-demo:RITHMIC-PAPER-7", "USD", "no", "value"],
        ["demo-qt", "cqg-demo:RITHMIC-PAPER-7", "USD", "no", "value"]]
    brokers = document("assets", "--in", "USD", "--by", "broker")["converted"]["groups"]
    assert exact_sum(g["value"] for g in brokers) == total


@pytest.mark.parametrize("cols", [60, 80])
def test_on_a_narrow_terminal_the_bar_goes_first(cols):
    out, err, code = on_terminal(["--demo", "--no-color", "balance", "--in", "USD", "--by",
                                  "account"], cols)
    assert code == 0, err
    header = table_lines(out)[0].split()
    assert header[:4] == ["Account", "Value", "(USD)", "Share"]
    assert ("Bar" in header) == (cols > 60)
    assert ("Bar" in err) == (cols == 60)


@pytest.mark.parametrize(("args", "message"), [
    (["balance", "--by", "broker"], "error: --by: --by groups the values in one currency: add "
                                    "--in CUR (e.g. --in USD)"),
    (["balance", "--in", "USD", "--by", "asset"], "error: --by: balance groups by broker, "
                                                  "profile, currency, account, not 'asset'"),
    (["assets", "--in", "USD", "--by", "currency"], "error: --by: assets groups by asset, "
                                                    "broker, profile, account, not 'currency'"),
    (["balance", "--in", "USD", "--by", "broker", "-f", "csv"],
     "error: --by: the groups show in tables and in -f json (converted.groups), not in -f csv"),
])
def test_what_cannot_be_grouped_is_a_usage_error(args, message):
    proc = run_cli("--demo", *args)
    assert (proc.returncode, proc.stdout) == (2, "")
    assert proc.stderr.startswith(message), proc.stderr
