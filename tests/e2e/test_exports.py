"""beancount, ledger and OpenMetrics exports, checked by the real tools.

The rows come from the installed command on the demo brokers (``-f json``); the journals the
tests build open the accounts and book the holdings from that JSON, independently of the
exporter (a C# double as the 15 digits it carries: the books hold ``2.3`` ETH); then the real
``bean-check``, ``hledger`` and ``ledger`` must accept the assertions the installed command
writes, and reject them when one booked amount is off. OpenMetrics text is parsed with
prometheus_client.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from datetime import date, datetime, timedelta
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
BEAN_LINE = re.compile(r"(\d{4}-\d{2}-\d{2}) balance (\S+)  (\S+) (\S+)")
LEDGER_LINE = re.compile(r"    (\S+)  0 (\S+) = (\S+) (\S+)")
HEADER = re.compile(r"; balancecli (\w+) at (\S+): ")


def bean_check() -> str:
    exe = Path(sys.executable).with_name("bean-check")
    if not exe.exists():
        pytest.fail("bean-check is not installed (pip install -e '.[test]')")
    return str(exe)


def tool(name: str) -> str:
    exe = shutil.which(name)
    if not exe:
        pytest.fail(f"{name} is not installed (apt-get install {name})")
    return exe


def model_row(model, data: dict):
    """A model row from its JSON object (JSON integers become Decimals, as in the model)."""
    money = MONEY_FIELDS[model]
    return model(**{k: D(v) if k in money and v is not None else v for k, v in data.items()})


def cli(*args: str) -> str:
    proc = run_cli("--demo", *args)
    assert (proc.returncode, proc.stderr) == (0, ""), proc.stderr
    return proc.stdout


@pytest.fixture(scope="module")
def demo():
    """The demo's rows (``-f json``) and the installed command's exports of them."""
    docs = {c: json.loads(cli(c, "-f", "json"), parse_float=D) for c in ("balance", "assets")}
    out = {(c, f): cli(c, "-f", f) for c in ("balance", "assets") for f in ("beancount", "ledger")}
    return {"balances": [model_row(Balance, r) for r in docs["balance"]["balances"]],
            "assets": [model_row(Asset, r) for r in docs["assets"]["assets"]],
            "generated_at": docs["assets"]["generated_at"], "out": out}


def fetched_at(output: str) -> str:
    match = HEADER.match(output)
    assert match, output[:200]
    return match.group(2)


def day(iso: str, after: int = 0) -> str:
    return (datetime.fromisoformat(iso.replace("Z", "+00:00")).date()
            + timedelta(days=after)).isoformat()


def held(assets) -> list[tuple[str, D, str]]:
    """(account, amount, commodity) the books hold: every asset row with a total; a C# double
    as the 15 significant digits it carries (what the user bought: 2.3 ETH)."""
    booked = []
    for r in assets:
        if r.total is None:
            continue
        amount = D(format(float(r.total), ".15g")) if r.broker == "quantower" else r.total
        booked.append((DEMO_ACCOUNTS[(r.profile, r.account_id)], amount, r.asset))
    return booked


def beancount_journal(booked, output: str, opened=None) -> str:
    accounts = sorted({a for a, _, _ in booked} | set(opened or ()))
    lines = [f"2020-01-01 open {a}" for a in accounts]
    lines += ["2020-01-01 open Equity:Opening-Balances", "", '2026-01-02 * "opening balances"']
    lines += [f"  {a}  {n} {c}" for a, n, c in booked]
    lines += ["  Equity:Opening-Balances", "", output]
    return "\n".join(lines)


def quoted(code: str) -> str:
    return code if code.isalpha() else f'"{code}"'


def ledger_journal(booked, output: str, before: str = "", after: str = "") -> str:
    lines = ["2026-01-02 opening balances"]
    lines += [f"    {a}  {n} {quoted(c)}" for a, n, c in booked]
    lines += ["    Equity:Opening-Balances", "", before, output, after]
    return "\n".join(lines)


def run(args: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, timeout=60)


def checks(journal: Path) -> dict[str, subprocess.CompletedProcess]:
    """hledger's and ledger's verdicts on a ledger journal."""
    return {"hledger": run([tool("hledger"), "-f", str(journal), "check"]),
            "ledger": run([tool("ledger"), "-f", str(journal), "bal"])}


def bean_assertions(output: str) -> list[tuple[str, str, str, str]]:
    return [m.groups() for m in map(BEAN_LINE.fullmatch, output.splitlines()) if m]


def ledger_assertions(output: str) -> list[tuple[str, str, str, str]]:
    lines = output.splitlines()
    found = [m.groups() for m in map(LEDGER_LINE.fullmatch, lines) if m]
    assert all(m[1] == m[3] for m in found)
    return found


def comments(output: str) -> list[str]:
    return [line for line in output.splitlines()[1:] if line.startswith(";")]


# -- what is asserted: the holdings, the same from balance and assets


def test_balance_and_assets_assert_the_same_holdings(demo):
    out, booked = demo["out"], held(demo["assets"])
    for fmt, parse in (("beancount", bean_assertions), ("ledger", ledger_assertions)):
        balance, assets = out[("balance", fmt)], out[("assets", fmt)]
        got = {c: [(a[0], a[1], a[2], a[3]) for a in parse(out[(c, fmt)])]
               for c in ("balance", "assets")}
        if fmt == "beancount":
            as_set = {c: {(acct, D(n), cur) for _, acct, n, cur in got[c]} for c in got}
        else:
            as_set = {c: {(acct, D(n), cur) for acct, cur, n, _ in got[c]} for c in got}
        assert as_set["balance"] == as_set["assets"] == {
            (a, n, quoted(c) if fmt == "ledger" else c) for a, n, c in booked}
        assert comments(balance) == comments(assets)
        assert balance.startswith("; balancecli balance at ")
        assert assets.startswith("; balancecli assets at ")


def test_no_converted_total_and_no_currency_view_is_asserted(demo):
    bean = demo["out"][("balance", "beancount")]
    # TradeStation futures: its CurrencyDetails, not the all-currency CashBalance.
    assert "Assets:TradeStation:210FUT01  4997606.4 USD" in bean
    assert "Assets:TradeStation:210FUT01  -188750 JPY" in bean
    assert "4995774.4804" not in bean
    # LongPort: no view's total_cash (the whole account valued in HKD, USD or CNH); its
    # cash_infos send no total per currency, so they are comments, never a guessed number.
    assert "353100.20" not in bean and "Assets:LongPort" not in bean
    assert "; demo-lp LP-DEMO HKD: the broker sent no total; no assertion" in bean
    assert "; demo-lp LP-DEMO USD: the broker sent no total; no assertion" in bean
    assert not any(" 0 USD" in line for line in bean.splitlines() if "balance" in line)


def test_dates_beancount_the_day_after_ledger_the_fetch_day(demo):
    for command in ("balance", "assets"):
        bean, led = demo["out"][(command, "beancount")], demo["out"][(command, "ledger")]
        assert {d for d, *_ in bean_assertions(bean)} == {day(fetched_at(bean), 1)}
        assert f"\n{day(fetched_at(led))} * balancecli {command}\n" in led


@pytest.mark.parametrize("command", ["balance", "assets"])
def test_bean_check_accepts_the_books_and_rejects_a_wrong_one(tmp_path, demo, command):
    output, booked = demo["out"][(command, "beancount")], held(demo["assets"])
    journal = tmp_path / "books.beancount"
    journal.write_text(beancount_journal(booked, output))
    ok = run([bean_check(), str(journal)])
    assert (ok.returncode, ok.stdout, ok.stderr) == (0, "", "")
    eth = next(i for i, (_, _, c) in enumerate(booked) if c == "ETH")
    assert booked[eth][1] == D("2.3")  # the books hold 2.3 ETH; the broker sent a double
    account, amount, cur = booked[0]
    journal.write_text(beancount_journal([(account, amount + 1, cur)] + booked[1:], output))
    bad = run([bean_check(), str(journal)])
    assert bad.returncode != 0
    assert "Balance failed" in bad.stdout + bad.stderr and account in bad.stdout + bad.stderr


@pytest.mark.parametrize("command", ["balance", "assets"])
def test_hledger_and_ledger_accept_the_books_and_reject_a_wrong_one(tmp_path, demo, command):
    output, booked = demo["out"][(command, "ledger")], held(demo["assets"])
    journal = tmp_path / "books.journal"
    journal.write_text(ledger_journal(booked, output))
    for name, done in checks(journal).items():
        assert (name, done.returncode, done.stderr) == (name, 0, "")
    bal = run([tool("hledger"), "-f", str(journal), "bal", "Assets:ETNA:83268"])
    assert bal.returncode == 0 and "-1520.37" in bal.stdout

    account, amount, cur = booked[-1]
    journal.write_text(ledger_journal(booked[:-1] + [(account, amount - D("0.01"), cur)],
                                      output))
    verdicts = checks(journal)
    assert verdicts["hledger"].returncode != 0
    assert "balance assertion" in verdicts["hledger"].stderr
    assert account in verdicts["hledger"].stderr
    assert verdicts["ledger"].returncode != 0
    assert "Balance assertion off by" in verdicts["ledger"].stderr


def test_a_deposit_the_day_after_the_fetch_does_not_break_the_checks(tmp_path, demo):
    """hledger checks an assertion after its date's postings, whatever their place in the
    file; ledger in file order: the output appended after what it covers."""
    output, booked = demo["out"][("assets", "ledger")], held(demo["assets"])
    deposit = (f"{day(fetched_at(output), 1)} deposit\n    Assets:ETNA:83267  500 USD\n"
               "    Equity:Opening-Balances\n")
    journal = tmp_path / "later.journal"
    journal.write_text(ledger_journal(booked, output, before=deposit))
    assert run([tool("hledger"), "-f", str(journal), "check"]).returncode == 0
    journal.write_text(ledger_journal(booked, output, after=deposit))
    for name, done in checks(journal).items():
        assert (name, done.returncode) == (name, 0)
    bean = demo["out"][("assets", "beancount")]
    books = tmp_path / "later.beancount"
    books.write_text(beancount_journal(booked, bean) + "\n"
                     + f'{day(fetched_at(bean), 1)} * "deposit"\n  Assets:ETNA:83267  500 USD\n'
                       "  Equity:Opening-Balances\n")
    assert run([bean_check(), str(books)]).returncode == 0


# -- amounts


@pytest.mark.parametrize("value, digits, text", [
    ("4995774.48040", None, "4995774.4804"),        # no trailing zeros
    ("19638.14545186560000000000", None, "19638.1454518656"),
    ("1E+3", None, "1000"),                          # no exponent
    ("70295825.000000000000000", None, "70295825"),
    ("-0.00", None, "0"),                            # no negative zero
    ("2.3000000000000003", 15, "2.3"),               # a C# double: its 15 digits
    ("0.30000000000000004", 15, "0.3"),
    ("1250.75", 15, "1250.75"),
    ("1234567.890123456789012345678901", None, "1234567.890123456789012345679"),  # 28 digits
    ("0.10000000000000000001", None, "0.10000000000000000001"),  # 21 digits: all kept
    ("-188750", None, "-188750"),
])
def test_amounts_are_normalized(value, digits, text):
    assert exports.amount_text(D(value), digits) == text


def asset(**fields) -> Asset:
    base = {"profile": "p", "broker": "etna", "account_id": "1", "asset": "USD"}
    return Asset(**{**base, **fields})


def test_books_that_hold_2_3_eth_and_a_28_digit_rounding_pass_every_tool(tmp_path):
    """A 31-digit amount fails in beancount after summation (its decimal context is 28
    digits); the double's 17 digits fail against books of 2.3 ETH in every tool."""
    rows = [asset(broker="quantower", account_id="Q", asset="ETH",
                  total=D("2.3000000000000003")),
            asset(account_id="E", total=D("1234567.890123456789012345678901"))]
    booked = [("Assets:Quantower:Q", D("2.3"), "ETH"),
              ("Assets:ETNA:E", D("1234567.890123456789012345679"), "USD")]
    names = exports.AccountNames()
    journal = tmp_path / "b.beancount"
    journal.write_text(beancount_journal(booked, exports.beancount(
        "assets", rows, names, "2026-11-23T10:00:00Z")))
    assert run([bean_check(), str(journal)]).returncode == 0
    ledger_file = tmp_path / "b.journal"
    ledger_file.write_text(ledger_journal(booked, exports.ledger(
        "assets", rows, names, "2026-11-23T10:00:00Z")))
    for name, done in checks(ledger_file).items():
        assert (name, done.returncode, done.stderr) == (name, 0, "")
    # What the old output (every digit) did to the same books:
    old = ("2026-11-24 balance Assets:Quantower:Q  2.3000000000000003 ETH\n"
           "2026-11-24 balance Assets:ETNA:E  1234567.890123456789012345678901 USD\n")
    journal.write_text(beancount_journal(booked, old))
    assert run([bean_check(), str(journal)]).returncode != 0


# -- commodities and names


def test_ledger_quotes_commodities_and_never_renames_one(tmp_path):
    rows = [asset(account_id="x", asset=code, total=D("12.5"))
            for code in ("HK$", "1INCH", "USDC.e", "usdt", "ÄBC")]
    text = exports.ledger("assets", rows, exports.AccountNames(), "2026-11-23T10:00:00Z")
    assert ledger_assertions(text) == [
        ("Assets:ETNA:X", '"HK$"', "12.5", '"HK$"'),
        ("Assets:ETNA:X", '"1INCH"', "12.5", '"1INCH"'),
        ("Assets:ETNA:X", '"USDC.e"', "12.5", '"USDC.e"'),
        ("Assets:ETNA:X", "usdt", "12.5", "usdt"),
        ("Assets:ETNA:X", "ÄBC", "12.5", "ÄBC")]
    journal = tmp_path / "q.journal"
    journal.write_text(ledger_journal([("Assets:ETNA:X", D("12.5"), r.asset) for r in rows],
                                      text))
    for name, done in checks(journal).items():
        assert (name, done.returncode, done.stderr) == (name, 0, "")


def test_beancount_commodities_are_capitals_or_a_comment(tmp_path):
    rows = [asset(account_id=str(i), asset=code, total=D("5"))
            for i, code in enumerate(("usdt", "HK$", "1INCH", "USDC.e", "A" * 25))]
    text = exports.beancount("assets", rows, exports.AccountNames(), "2026-12-31T10:00:00Z")
    why = exports.BEAN_SPELLING
    assert text.splitlines()[1:] == [
        f"; p 1 HK$: {why}; no assertion",
        f"; p 2 1INCH: {why}; no assertion",
        f"; p 4 {'A' * 25}: {why}; no assertion",
        "2027-01-01 balance Assets:ETNA:0  5 USDT",
        "2027-01-01 balance Assets:ETNA:3  5 USDC.E"]


def test_nulls_and_repeats_are_comments_never_a_made_up_zero():
    rows = [asset(total=None), asset(account_id="2", total=D("1")),
            asset(account_id="2", total=D("2")), Balance(profile="p", broker="etna",
                                                          account_id="3", cash=D("9"))]
    text = exports.beancount("balance", rows, exports.AccountNames(), "2026-11-23T10:00:00Z")
    assert text.splitlines()[1:] == [
        "; p 1 USD: the broker sent no total; no assertion",
        "; p 2 USD: Assets:ETNA:2 USD is already asserted; this total (2) is not",
        "; p 3: no holding per currency in this run; no assertion",
        "2026-11-24 balance Assets:ETNA:2  1 USD"]


def test_account_components_keep_unicode_letters():
    assert ledgernames.component("rithmic-demo:RITHMIC-PAPER-7") == "Rithmic-demo-RITHMIC-PAPER-7"
    assert ledgernames.component("83268") == "83268"
    assert ledgernames.component("a b/c") == "A-b-c"
    assert ledgernames.component("--") == "X"
    assert ledgernames.component("ünï") == "Ünï"
    assert ledgernames.component("ÜMLAUT ñ") == "ÜMLAUT-ñ"
    assert ledgernames.component("中文") == "X中文"
    assert ledgernames.component("a\u202eb\nc\x1bd") == "A-b-c-d"
    assert ledgernames.valid_account("Assets:TradeStation:11223344")
    assert ledgernames.valid_account("Assets:Ünï:ÜMLAUT-ñ")
    assert not ledgernames.valid_account("Assets:tradestation")
    assert not ledgernames.valid_account("Assets:ünï")
    assert not ledgernames.valid_account("Cash:X")


def test_bean_check_accepts_unicode_account_names(tmp_path):
    names = exports.AccountNames({"p": "Assets:Ünï:{account}"})
    rows = [asset(account_id="ÜMLAUT ñ", total=D("5"))]
    text = exports.beancount("assets", rows, names, "2026-11-23T10:00:00Z")
    assert "2026-11-24 balance Assets:Ünï:ÜMLAUT-ñ  5 USD" in text.splitlines()
    journal = tmp_path / "u.beancount"
    journal.write_text(beancount_journal([("Assets:Ünï:ÜMLAUT-ñ", D("5"), "USD")], text))
    assert run([bean_check(), str(journal)]).returncode == 0
    ledger_file = tmp_path / "u.journal"
    ledger_file.write_text(ledger_journal([("Assets:Ünï:ÜMLAUT-ñ", D("5"), "USD")],
                                          exports.ledger("assets", rows, names,
                                                         "2026-11-23T10:00:00Z")))
    for name, done in checks(ledger_file).items():
        assert (name, done.returncode) == (name, 0)


def test_two_accounts_never_share_a_generated_name(tmp_path):
    ids = ("acct.lower:1", "acct_lower-1", "abc", "Abc", "solo")
    rows = [asset(broker="quantower", account_id=i, total=D(n)) for n, i in enumerate(ids, 1)]
    text = exports.beancount("assets", rows, exports.AccountNames(), "2026-11-23T10:00:00Z")
    found = bean_assertions(text)
    accounts = [a for _, a, _, _ in found]
    assert len(set(accounts)) == 5
    assert accounts[4] == "Assets:Quantower:Solo"  # no collision: no suffix
    assert all(re.fullmatch(r"Assets:Quantower:(Acct-lower-1|Abc)-[0-9a-f]{6}", a)
               for a in accounts[:4])
    notes = comments(text)
    assert notes[0].startswith("; Assets:Quantower:Acct-lower-1 would name 2 accounts; each "
                               "has a suffix from its profile and id: p acct.lower:1 as ")
    assert notes[1].startswith("; Assets:Quantower:Abc would name 2 accounts")
    # Stable: the same pairs get the same names in any order, in any run.
    again = exports.beancount("assets", rows[::-1], exports.AccountNames(),
                              "2026-11-24T10:00:00Z")
    assert sorted(a for _, a, _, _ in bean_assertions(again)) == sorted(accounts)
    journal = tmp_path / "n.beancount"
    journal.write_text(beancount_journal(
        [(a, D(n), c) for _, a, n, c in found], text))
    assert run([bean_check(), str(journal)]).returncode == 0


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
    ("Assets:X\n2026-01-01 open Assets:Y", "not a valid account name"),
])
def test_ledger_account_setting_errors_name_the_profile(setting, fragment):
    with pytest.raises(ConfigError) as caught:
        exports.AccountNames.check("ts", setting)
    assert fragment in caught.value.message
    assert caught.value.profile == "ts"
    assert "ledger_account" in caught.value.next_step


# -- nothing from a broker reaches a line unescaped

FORGED = ('x\n2026-01-01 * "forged"\n  Assets:Cash  1000000 USD\n  Equity:Opening\n'
          '2026-01-01 open Assets:Cash')


def journal_lines_are_ours(text: str, pattern: re.Pattern) -> None:
    for line in text.splitlines():
        assert line == "" or line.startswith(";") or pattern.fullmatch(line) or \
            re.fullmatch(r"\d{4}-\d{2}-\d{2} \* balancecli \w+", line), line


def test_text_that_would_forge_entries_stays_in_one_comment():
    rows = [asset(account_id=FORGED, total=None), asset(account_id="2", asset=FORGED,
                                                        total=D("1")),
            asset(account_id="3", asset="USD\u2028\u202e\ud800\x1b[2J", total=D("1")),
            asset(account_id="4\r\n5", total=None)]
    for write, pattern in ((exports.beancount, BEAN_LINE), (exports.ledger, LEDGER_LINE)):
        text = write("assets", rows, exports.AccountNames(), "2026-11-23T10:00:00Z")
        text.encode("utf-8")  # nothing that cannot be written (a lone surrogate)
        journal_lines_are_ours(text, pattern)
        assert '; p x\\n2026-01-01 * "forged"\\n  Assets:Cash  1000000 USD' in text
        assert "\\u2028\\u202e\\ud800\\x1b[2J" in text
        assert "; p 4\\r\\n5 USD: the broker sent no total; no assertion" in text


def test_a_forged_entry_through_the_command_is_refused_by_the_books(tmp_path):
    """A Quantower export whose ids and codes carry a whole journal entry: the installed
    command writes comments, and neither bean-check nor hledger books the forged amount."""
    from tests.support.quantower_exports import stamp, write_document

    coin = {"ReservedBalance": 0, "AvailableBalance": 1, "TotalInBTC": 0, "TotalInUSD": 1}
    export = write_document(tmp_path / "qt.json", {
        "Format": "balancecli.quantower/1", "Revision": 2, "GeneratedAt": stamp(),
        "Connections": [{"Id": "c", "Name": "C", "State": "Connected"}],
        "Accounts": [
            {"Id": FORGED, "Name": "n", "ConnectionId": "c", "AccountCurrency": "USDT",
             "Balance": None, "Balances": [{**coin, "AssetId": "BTC", "TotalBalance": None}]},
            {"Id": "ok", "Name": "n", "ConnectionId": "c", "AccountCurrency": "USDT",
             "Balance": None, "Balances": [{**coin, "AssetId": FORGED, "TotalBalance": 1},
                                           {**coin, "AssetId": "BTC", "TotalBalance": 0.5}]}]})
    env = {"BALANCECLI_CONFIG": str(write_config(tmp_path / "c.toml", {"qt": {
        "broker": "quantower", "source": str(export)}}))}
    for fmt, pattern in (("beancount", BEAN_LINE), ("ledger", LEDGER_LINE)):
        proc = run_cli("assets", "-f", fmt, env=env)
        assert proc.returncode == 0, proc.stderr
        journal_lines_are_ours(proc.stdout, pattern)
        assert "1000000" not in "".join(line for line in proc.stdout.splitlines()
                                        if not line.startswith(";"))
    bean = run_cli("balance", "-f", "beancount", env=env).stdout
    books = tmp_path / "f.beancount"
    books.write_text(beancount_journal([("Assets:Quantower:Ok", D("0.5"), "BTC")], bean))
    assert run([bean_check(), str(books)]).returncode == 0
    led = run_cli("balance", "-f", "ledger", env=env).stdout
    journal = tmp_path / "f.journal"
    journal.write_text(ledger_journal([("Assets:Quantower:Ok", D("0.5"), "BTC")], led))
    bal = run([tool("hledger"), "-f", str(journal), "bal"])
    assert bal.returncode == 0 and "1000000" not in bal.stdout and "Cash" not in bal.stdout


def test_csv_cells_a_spreadsheet_would_run_are_text_and_numbers_stay_numbers(tmp_path,
                                                                            ts_fake,
                                                                            ts_profile):
    ts_fake.v3["accounts"][0]["Alias"] = "=HYPERLINK(\"http://x\",\"click\")"
    ts_fake.v3["accounts"][1]["Alias"] = "@SUM(A1)"
    settings, env = ts_profile
    env["BALANCECLI_CONFIG"] = str(write_config(tmp_path / "c.toml", {"ts": settings}))
    proc = run_cli("balance", "-f", "csv", "--columns", "account_id,account_name,cash", env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        "account_id,account_name,cash",
        "11827391,\"'=HYPERLINK(\"\"http://x\"\",\"\"click\"\")\",25731.18",
        "11827392,'@SUM(A1),-4210.07",  # the amount stays a number
        "210FUT01,210FUT01,4995774.4804"]
    for cell in ("+1+cmd", "-2+3", "\tx", "\rx", "=1"):
        assert exports.spreadsheet_safe(cell) == "'" + cell
    for cell in ("-4210.07", "+5", "-1e3", "abc", "", "1-2"):
        assert exports.spreadsheet_safe(cell) == cell


# -- OpenMetrics


def test_openmetrics_parses_and_keeps_every_value(demo):
    from prometheus_client.openmetrics.parser import text_string_to_metric_families

    balances, assets = demo["balances"], demo["assets"]
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


def row(**fields) -> Balance:
    base = {"profile": "p", "broker": "etna", "account_id": "1", "currency": "USD",
            "as_of": "2026-11-23T23:59:59Z"}
    return Balance(**{**base, **fields})


def test_openmetrics_escapes_labels_and_is_also_prometheus_text():
    from prometheus_client.openmetrics.parser import text_string_to_metric_families as om
    from prometheus_client.parser import text_string_to_metric_families as prom

    odd = 'a"b\\c\nd'
    text = exports.openmetrics([row(account_id=odd, cash=D("-0.5")),
                                row(account_id="e\rf\ud800g", cash=D("1"))], [],
                               up={"p": True}, seconds=0.0)
    assert 'account="a\\"b\\\\c\\nd"' in text
    assert 'account="e\ufffdf\ufffdg"' in text  # no control character, nothing unencodable
    text.encode("utf-8")
    for parse in (om, prom):
        cash = [f for f in parse(text) if f.name == "balancecli_cash"][0]
        assert [s.labels["account"] for s in cash.samples] == [odd, "e\ufffdf\ufffdg"]
        assert cash.samples[0].value == -0.5


def test_profiles_up():
    errors = [ConfigError("x", profile="bad"), ConfigError("y", profile="ts")]
    assert exports.profiles_up(["ts", "lp"], errors) == {"ts": False, "lp": True, "bad": False}


# -- through the installed command


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
    assert "— run: balancecli profile unset bad ledger_account (back to its default)" in proc.stderr


def test_balance_exports_ask_the_broker_once(tmp_path, ts_fake, ts_profile):
    """The holdings come from the balances' own responses: no second round of requests."""
    settings, env = ts_profile
    env["BALANCECLI_CONFIG"] = str(write_config(tmp_path / "c.toml", {"ts": settings}))
    for fmt in ("beancount", "ledger", "json"):
        before = len(ts_fake.calls("/balances$"))
        assert run_cli("balance", "-f", fmt, env=env).returncode == 0
        assert len(ts_fake.calls("/balances$")) - before == 1


def test_currency_filters_the_asserted_holdings():
    found = {}
    for command in ("balance", "assets"):
        proc = run_cli("--demo", command, "-p", "demo-ts", "-f", "ledger", "--currency", "usd")
        assert proc.returncode == 0, proc.stderr
        found[command] = ledger_assertions(proc.stdout)
    assert found["balance"] == found["assets"] == [
        ("Assets:TradeStation:11827391", "USD", "25731.18", "USD"),
        ("Assets:TradeStation:11827392", "USD", "-4210.07", "USD"),
        ("Assets:TradeStation:210FUT01", "USD", "4997606.4", "USD")]


def test_balance_prometheus_from_the_command(demo):
    from prometheus_client.openmetrics.parser import text_string_to_metric_families

    proc = run_cli("--demo", "balance", "-f", "prometheus")
    assert (proc.returncode, proc.stderr) == (0, "")
    families = {f.name: f for f in text_string_to_metric_families(proc.stdout)}
    equity = {s.labels["account"]: s.value for s in families["balancecli_equity"].samples}
    assert equity == {r.account_id: float(r.equity) for r in demo["balances"]
                      if r.equity is not None}
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


def test_fetch_day_is_the_utc_date():
    assert exports.fetch_day("2026-11-23T23:59:59Z") == date(2026, 11, 23)
    assert exports.fetch_day("2026-11-24T00:00:00Z") == date(2026, 11, 24)
