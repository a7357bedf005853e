"""Tables as a person sees them: the installed command on a real pseudo-terminal of 80, 100, 120
and 200 columns.

For accounts, balance, assets and history, on the demo brokers and on data with long values:
every amount cell is a complete number at its display precision, every account id appears
whole, the currency (or asset) column is there, no line is wider than the terminal unless the
kept columns alone are, and the stderr note appears exactly when columns were hidden and names
each of them.
"""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import struct
import subprocess
import termios
from decimal import Decimal as D

import pytest

from balancecli.core.precision import display
from balancecli.output.table import width_of
from tests.support import FIXTURES
from tests.support.cli import ANSI, balancecli_exe, on_terminal, run_cli, table_lines
from tests.support.config import FAST, write_config

WIDTHS = (80, 100, 120, 200)
NOTE = re.compile(r"^note: (\d+) columns? hidden to fit (\d+) columns: (.*) \(show them with ")
def header_titles(line: str) -> list[str]:
    return [t for t in re.split(r" {2,}", line.strip()) if t]


def check(lines: list[str], err: str, cols: int, wide_header: list[str]) -> list[str]:
    """The note is there exactly when a column of the full table is missing; returns the
    hidden titles."""
    shown = header_titles(lines[0])
    hidden = [t for t in wide_header if t not in shown]
    notes = [line for line in err.splitlines() if line.startswith("note: ")]
    if hidden:
        assert len(notes) == 1, (err, hidden)
        match = NOTE.match(notes[0])
        assert match and int(match.group(1)) == len(hidden) and int(match.group(2)) == cols
        assert match.group(3).split(", ") == hidden
    else:
        assert notes == [], err
    return hidden


def amounts_complete(lines: list[str], rows: list[dict], fields: dict[str, str],
                     key: str, ccy_of) -> None:
    """Each row's line holds each shown amount whole, at its display precision."""
    header = lines[0]
    for row in rows:
        line = next(x for x in lines[2:] if re.search(rf"(^|\s){re.escape(row[key])}(\s|$)", x)
                    and (row.get("asset") is None or f" {row['asset']} " in x))
        for field, title in fields.items():
            if title not in header or row.get(field) is None:
                continue
            text = display(D(str(row[field])), ccy_of(row, field))
            assert re.search(rf"(^|\s){re.escape(text)}(\s|$)", line), (field, text, line)


BALANCE_FIELDS = {"cash": "Cash", "available": "Available", "withdrawable": "Withdrawable",
                  "buying_power": "Buying power", "equity": "Equity",
                  "market_value": "Market value", "initial_margin": "Init. margin",
                  "maintenance_margin": "Maint. margin", "unrealized_pnl": "Unrealized P/L",
                  "realized_pnl": "Realized P/L"}
ASSET_FIELDS = {"total": "Total", "available": "Available", "reserved": "Reserved",
                "settling": "Settling", "withdrawable": "Withdrawable",
                "value_usd": "USD (broker)"}


def asset_ccy(row: dict, field: str) -> str:
    return "USD" if field == "value_usd" else row["asset"]


def run_everywhere(command: str, env: dict, extra: tuple[str, ...] = ()) -> None:
    base = ["--demo"] if "BALANCECLI_CONFIG" not in env else []
    doc = json.loads(run_cli(*base, command, "-f", "json", *extra, env=env).stdout,
                     parse_float=D)
    key = {"accounts": "accounts", "balance": "balances", "assets": "assets"}[command]
    rows = doc[key]
    wide = run_cli(*base, command, *extra, env=env)
    assert wide.returncode in (0, 7), wide.stderr
    wide_header = header_titles(wide.stdout.splitlines()[0])
    assert ("Asset" if command == "assets" else "Ccy") in wide_header
    for cols in WIDTHS:
        out, err, code = on_terminal([*base, command, *extra], cols, env)
        assert code in (0, 7), err
        lines = table_lines(out)
        hidden = check(lines, err, cols, wide_header)
        assert ("Asset" if command == "assets" else "Ccy") in header_titles(lines[0])
        assert "Account" in header_titles(lines[0])
        for row in rows:
            assert row["account_id"] in out, (cols, row["account_id"])
        if hidden:  # columns go only when needed: the table then fits, or keeps only essentials
            # (Available: the only value of a row without cash and equity, such as Quantower's)
            assert max(width_of(x) for x in lines) <= cols or all(
                t in ("Account", "Ccy", "Asset", "Cash", "Equity", "Total", "Available")
                for t in header_titles(lines[0]))
        if command == "balance":
            amounts_complete(lines, rows, BALANCE_FIELDS, "account_id",
                             lambda r, f: r["currency"])
        elif command == "assets":
            amounts_complete(lines, rows, ASSET_FIELDS, "account_id", asset_ccy)
        assert "…" not in "".join(line for line in lines if re.search(r"\d…", line))


@pytest.mark.parametrize("command", ["accounts", "balance", "assets"])
def test_demo_tables_fit_every_terminal_width(command):
    run_everywhere(command, {})


@pytest.fixture
def long_values(tmp_path, ts_fake):
    """A TradeStation account with a long id, a long name and 30-digit values, beside a
    Quantower export of crypto with 18 decimals and a long id."""
    long_id = "ACCOUNT-WITH-A-VERY-LONG-IDENTIFIER-000001"
    template = dict(ts_fake.v3["balances"]["11827392"])
    ts_fake.v3["accounts"] = [
        {"AccountID": long_id, "AccountType": "Margin", "Alias": "A rather long alias " * 3,
         "Currency": "USD", "Status": "Active"},
        {"AccountID": "JP1", "AccountType": "Cash", "Alias": "Yen", "Currency": "JPY",
         "Status": "Active"}]
    ts_fake.v3["balances"] = {
        long_id: {**template, "AccountID": long_id,
                  "CashBalance": "123456789012345678901234.5678901234",
                  "Equity": "-98765432109876543210.995", "BuyingPower": "0.005"},
        "JP1": {**template, "AccountID": "JP1", "CashBalance": "1234567.5",
                "Equity": "-0.4", "BuyingPower": "2.5"}}
    export = tmp_path / "export.json"
    # Written as text: these digits must reach the parser as they are (no float on the way).
    export.write_text(
        '{"Format": "balancecli.quantower/1", "GeneratedAt": "2026-11-21T19:00:00Z", '
        '"Accounts": [{"Id": "crypto-' + "x" * 40 + '", "Name": "' + "Crypto wallet " * 4
        + '", "ConnectionId": "c", "ConnectionName": "C", "AccountCurrency": "USDT", '
        '"Balance": 1.5, "Balances": [{"AssetId": "BTC", '
        '"TotalBalance": 12345.123456789012345678, "AvailableBalance": 0.000000015, '
        '"ReservedBalance": 0, "TotalInUSD": 987654321987.655}]}]}')
    access, refresh = ts_fake.issue()
    from balancecli.demo.tradestation import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET

    config = write_config(tmp_path / "c.toml", {
        "ts": {"broker": "tradestation", "base_url": ts_fake.url,
               "token_url": ts_fake.url + "/oauth/token", **FAST},
        "qt": {"broker": "quantower", "source": str(export), "max_age": 0}})
    return {"BALANCECLI_CONFIG": str(config), "BALANCECLI_TS_ACCESS_TOKEN": access,
            "BALANCECLI_TS_REFRESH_TOKEN": refresh, "BALANCECLI_TS_CLIENT_ID": DEMO_CLIENT_ID,
            "BALANCECLI_TS_CLIENT_SECRET": DEMO_CLIENT_SECRET}


@pytest.mark.parametrize("command", ["accounts", "balance", "assets"])
def test_long_values_are_never_cut(long_values, command):
    run_everywhere(command, long_values)


def test_long_values_show_their_precision(long_values):
    out, err, code = on_terminal(["balance"], 80, long_values)
    assert code == 0, err
    assert "123,456,789,012,345,678,901,234.57" in out  # USD: 2 decimals, half up
    assert "-98,765,432,109,876,543,211.00" in out
    assert "1,234,568" in out and "-0 " not in out  # JPY: no decimals; -0.4 shows as 0
    out, err, code = on_terminal(["assets"], 200, long_values)
    assert "12,345.12345679" in out  # BTC: 8 decimals, half up
    assert "0.00000002" in out and "987,654,321,987.66" in out
    exact, _, _ = on_terminal(["balance", "--exact", "--wide"], 80, long_values)
    assert "123,456,789,012,345,678,901,234.5678901234" in exact


def test_history_fits_every_terminal_width(long_values):
    for _ in range(2):
        snap = run_cli("snapshot", env=long_values)
        assert snap.returncode == 0, snap.stderr
    wide = run_cli("history", env=long_values)
    assert wide.returncode == 0, wide.stderr
    wide_header = header_titles(wide.stdout.splitlines()[0])
    for cols in WIDTHS:
        out, err, code = on_terminal(["history"], cols, long_values)
        assert code == 0, err
        lines = table_lines(out)
        check(lines, err, cols, wide_header)
        shown = header_titles(lines[0])
        # (the Quantower wallet follows its cash: "Last" of each row's own field)
        assert "Ccy" in shown and "Account" in shown and "Last" in shown
        assert "ACCOUNT-WITH-A-VERY-LONG-IDENTIFIER-000001" in out
        assert "-98,765,432,109,876,543,211.00" in out
        assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d", out) or "From" not in shown


def test_broker_text_cannot_drive_the_terminal(tmp_path, ts_fake, ts_profile):
    settings, env = ts_profile
    env["BALANCECLI_CONFIG"] = str(write_config(tmp_path / "c.toml", {"ts": settings}))
    ts_fake.v3["accounts"][0]["Alias"] = "\x1b[2J\x1b]8;;https://evil.example\x07Fake\u009b31m"
    out, err, code = on_terminal(["accounts"], 200, env)
    assert code == 0, err
    assert "\x1b[2J" not in out and "\x1b]8" not in out and "\u009b" not in out
    assert "\\x1b[2J\\x1b]8;;https://evil.example\\x07Fake\\x9b31m" in out
    doc = run_cli("accounts", "-f", "json", env=env).stdout
    assert "\\u001b[2J\\u001b]8;;https://evil.example\\u0007Fake\\u009b31m" in doc
    csv_on_tty, _, _ = on_terminal(["accounts", "-f", "csv"], 200, env)
    assert "\x1b[2J" not in csv_on_tty and "\\x1b[2J" in csv_on_tty


def test_error_lines_cannot_drive_the_terminal(two_profiles_with_hostile_error):
    env = two_profiles_with_hostile_error
    proc = run_cli("balance", "-f", "json", env=env)
    assert proc.returncode == 6, proc.stderr
    [line] = [x for x in proc.stderr.splitlines() if x.startswith("error: ")]
    assert "\x1b" not in proc.stderr and "\\x1b[2J" in line


@pytest.fixture
def two_profiles_with_hostile_error(tmp_path, ts_fake, ts_profile):
    settings, env = ts_profile
    env["BALANCECLI_CONFIG"] = str(write_config(tmp_path / "c.toml", {"ts": settings}))
    ts_fake.inject("status", "/v3/", times=9, status=403,
                   body={"Error": "Forbidden", "Message": "no\x1b[2J\nfake line"})
    return env


def test_json_is_indented_on_a_terminal_and_compact_in_a_pipe():
    out, err, code = on_terminal(["--demo", "balance", "-p", "demo-ts", "-f", "json"], 100, {})
    assert code == 0, err
    assert out.startswith('{\n  "schema": "balancecli.balance/1",\n')
    assert '      "cash": 4995774.4804,' in out  # exact digits, indented
    piped = run_cli("--demo", "balance", "-p", "demo-ts", "-f", "json")
    assert piped.stdout.count("\n") == 1
    on_tty, in_pipe = json.loads(out, parse_float=D), json.loads(piped.stdout, parse_float=D)
    assert on_tty["totals"] == in_pipe["totals"]
    assert [b["cash"] for b in on_tty["balances"]] == [b["cash"] for b in in_pipe["balances"]]


def test_the_spinner_names_the_profile_still_pending(tmp_path, ts_fake, ts_profile):
    """While fetches run, the spinner on a terminal's stderr names who is slow (stdout on the
    terminal too: above data going to a pipe there is no spinner)."""
    settings, env = ts_profile
    fixture = FIXTURES / "quantower" / "futures_no_balances.json"
    config = write_config(tmp_path / "c.toml", {
        "slowts": settings,
        "qt": {"broker": "quantower", "source": str(fixture), "max_age": 0}})
    env = {k.replace("_TS_", "_SLOWTS_"): v for k, v in env.items()}
    ts_fake.latency = 2.5
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 100, 0, 0))
    proc = subprocess.Popen(
        [balancecli_exe(), "balance"], stdout=slave, stderr=slave, stdin=subprocess.DEVNULL,
        env={**os.environ, **env, "BALANCECLI_CONFIG": str(config), "TERM": "xterm-256color"})
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    proc.communicate(timeout=60)
    os.close(master)
    screen = ANSI.sub("", b"".join(chunks).decode())
    assert proc.returncode == 0, screen
    assert "Waiting for slowts" in screen
    assert "Waiting for qt" not in screen
    assert "11827391" in screen and "F-100" in screen
