"""What the tables show a newcomer, through the installed command (in a pipe, on a
pseudo-terminal, under ``env -i``): every row keeps a number, every total row says its
currency, ``--in`` values with one grand total (an unknown code is a usage error, an incomplete
total exits 7 with one line even under ``-q``), a stale export is shown with ``--allow-stale``,
``--columns`` takes the headers the table prints, ``snapshot -q -f json`` prints its document,
and no spinner is drawn above data that goes to a pipe."""

from __future__ import annotations

import json
import os
import pty
import re
import subprocess
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from balancecli.output.table import width_of
from tests.support.cli import Terminal, balancecli_exe, on_terminal, run_cli, table_lines
from tests.support.config import FAST, write_config
from tests.support.quantower_exports import stamp, write_document

NUMBER = re.compile(r"-?\d[\d,]*(\.\d+)?\*?$")


def body(lines: list[str]) -> list[str]:
    """The table's rows: between the rule under the header and the next rule (or the end)."""
    rules = [i for i, line in enumerate(lines) if line.startswith("───")]
    end = rules[1] if len(rules) > 1 else len(lines)
    return [line for line in lines[rules[0] + 1:end] if line.strip()]


def numbers(line: str) -> list[str]:
    return [w for w in line.split() if NUMBER.match(w)]


def cron_env(**more: str) -> dict[str, str]:
    """What cron gives a job (``env -i``): a PATH, a HOME, nothing else."""
    return {"PATH": "/usr/bin:/bin", "HOME": os.environ["HOME"], **more}


def run_bare(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([balancecli_exe(), *args], capture_output=True, text=True, env=env,
                          timeout=60)


# -- a row keeps a number ---------------------------------------------------------------------


@pytest.mark.parametrize("command", ["balance", "assets"])
@pytest.mark.parametrize("cols", [80, 100, 120])
def test_every_row_keeps_a_number_on_a_terminal(command, cols):
    """The Quantower rows have neither cash nor equity (nor a total): the column that holds
    their value (Available) stays however narrow the terminal."""
    out, err, code = on_terminal(["--demo", command], cols)
    assert code == 0, err
    lines = table_lines(out)
    assert all(width_of(line) <= cols for line in lines), out
    rows = body(lines)
    assert len(rows) == (10 if command == "balance" else 15)
    assert all(numbers(row) for row in rows), out
    futures = [row for row in rows if "rithmic-demo:RITHMIC-PAPER-7" in row]
    assert futures and "100,000.25" in futures[0]
    assert "Available" in lines[0] and "Available" not in err


def test_with_in_the_value_column_is_the_number_a_row_keeps():
    out, err, code = on_terminal(["--demo", "balance", "--in", "USD"], 80)
    assert code == 0, err
    lines = table_lines(out)
    assert all(width_of(line) <= 80 for line in lines), out
    assert lines[0].split()[-2:] == ["Value", "(USD)"]
    assert all(numbers(row) for row in body(lines))
    assert "Available" in err  # hidden to fit: the Value column holds those rows' number


# -- total rows say their currency ------------------------------------------------------------


@pytest.fixture
def two_currencies(tmp_path):
    """The ETNA fake twice: its three accounts in USD, and again in EUR."""
    from balancecli.demo.etna import DEMO_APP_KEY, DEMO_PASSWORD, DEMO_USERNAME, FakeEtna

    fake = FakeEtna().start()
    base = {"broker": "etna", "base_url": fake.url + "/api", **FAST}
    config = write_config(tmp_path / "config.toml", {
        "us": {**base, "currency": "USD"}, "eu": {**base, "currency": "EUR"}})
    env = {"BALANCECLI_CONFIG": str(config)}
    for name in ("US", "EU"):
        env |= {f"BALANCECLI_{name}_APP_KEY": DEMO_APP_KEY,
                f"BALANCECLI_{name}_USERNAME": DEMO_USERNAME,
                f"BALANCECLI_{name}_PASSWORD": DEMO_PASSWORD}
    yield env
    fake.stop()


def test_without_the_currency_column_each_total_row_names_its_currency(two_currencies):
    proc = run_cli("balance", "--columns", "account_id,cash,equity", env=two_currencies)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    totals = [line.split("   ")[0].strip() for line in lines if line.startswith("Total")]
    assert totals == ["Total USD (3 accounts)", "Total EUR (3 accounts)"]
    # ... and with only amounts, a column of its own holds the labels.
    proc = run_cli("balance", "--columns", "cash,equity", env=two_currencies)
    assert proc.returncode == 0, proc.stderr
    assert [line.split("   ")[0] for line in proc.stdout.splitlines()
            if line.startswith("Total")] == ["Total USD (3 accounts)", "Total EUR (3 accounts)"]
    # With the Ccy column, the currency is in its cell.
    proc = run_cli("balance", env=two_currencies)
    assert [line.split()[:4] for line in proc.stdout.splitlines()
            if line.startswith("Total")] == [["Total", "(3", "accounts)", "USD"],
                                             ["Total", "(3", "accounts)", "EUR"]]


# -- --in ---------------------------------------------------------------------------------------


def test_an_unknown_currency_code_is_a_usage_error_naming_where_known_ones_are():
    for env in (None, cron_env()):
        proc = (run_cli("--demo", "balance", "--in", "XYZ") if env is None
                else run_bare("--demo", "balance", "--in", "XYZ", env=env))
        assert (proc.returncode, proc.stdout) == (2, "")
        assert proc.stderr == (
            "error: --in: XYZ is not a currency balancecli knows (ISO 4217 codes, the ECB "
            "file's and the config's [rates]; list them: balancecli --demo rates show; for a "
            "crypto "
            'asset add e.g. "XYZ/USD" = "..." under [rates]) (run: balancecli balance --help)\n')
    # The suggested command lists them.
    shown = run_cli("--demo", "rates", "show", "--in", "USD", "-f", "json")
    assert shown.returncode == 0 and len(json.loads(shown.stdout)["rates"]) > 20
    # An ISO 4217 code, in any case, is known.
    assert run_cli("--demo", "balance", "--in", "eur", "-f", "json").returncode == 0


@pytest.fixture
def crypto(tmp_path):
    """A Quantower export: a USDT account without assets, a crypto account whose assets carry
    the broker's USD values (so a USDT rate), and an account in a currency nobody quotes."""
    export = write_document(tmp_path / "export.json", {
        "Format": "balancecli.quantower/1", "GeneratedAt": stamp(),
        "Accounts": [
            {"Id": "U1", "Name": "USDT futures", "AccountCurrency": "USDT", "Balance": 2500.5},
            {"Id": "C1", "Name": "Spot", "AccountCurrency": "USDT", "Balance": 100,
             "Balances": [
                 {"AssetId": "BTC", "TotalBalance": 0.5, "AvailableBalance": 0.5,
                  "ReservedBalance": 0, "TotalInUSD": 48000.0, "TotalInBTC": 0.5},
                 {"AssetId": "USDT", "TotalBalance": 1250.75, "AvailableBalance": 1250.75,
                  "ReservedBalance": 0, "TotalInUSD": 1250.75, "TotalInBTC": 0.013}]},
            {"Id": "X", "Name": "Odd venue", "AccountCurrency": "XYZ", "Balance": 5}]})
    config = write_config(tmp_path / "config.toml", {
        "qt": {"broker": "quantower", "source": str(export)}})
    return {"BALANCECLI_CONFIG": str(config)}, export


def test_a_rate_known_for_a_currency_values_every_account_in_it(crypto):
    env, _ = crypto
    proc = run_cli("balance", "--in", "USD", "-f", "json", env=env)
    doc = json.loads(proc.stdout, parse_float=Decimal)
    got = {a["account_id"]: a for a in doc["converted"]["accounts"]}
    # U1 has no assets of its own: C1's USDT quote (TotalInUSD / TotalBalance) values it.
    assert (got["U1"]["value"], got["U1"]["rate_source"]) == (Decimal("2500.5"), "broker")
    assert got["C1"]["value"] == Decimal("49250.75")
    assert doc["converted"]["unconverted"] == [
        {"profile": "qt", "account_id": "X", "currency": "XYZ", "reason": "no rate"}]
    # The table says where the rate came from.
    table = run_cli("balance", "--in", "USD", env=env).stdout
    assert "USDT→USD 1 (broker qt TotalInUSD " in table


def test_an_incomplete_net_worth_exits_7_with_one_line_even_under_q(crypto):
    env, _ = crypto
    line = ('error: not in the USD net worth (incomplete): qt X (XYZ: no rate) — add e.g. '
            '"XYZ/USD" = "..." under [rates] in the config file\n')
    for args in (["balance", "--in", "USD"], ["-q", "balance", "--in", "USD"],
                 ["balance", "--in", "USD", "-f", "json", "-q"],
                 ["assets", "--in", "USD", "-f", "csv"]):
        proc = run_cli(*args, env=env)
        assert (proc.returncode, proc.stderr) == (7, line), args
    proc = run_bare("balance", "--in", "USD", "-q", env=cron_env(**env))
    assert (proc.returncode, proc.stderr) == (7, line)
    lines = proc.stdout.splitlines()
    assert [line.split() for line in lines if line.startswith("Net worth")] == [
        "Net worth in USD, incomplete (2 of 3 accounts) 51,751.25".split()]
    # Complete: exit 0.
    proc = run_cli("balance", "--in", "USD", "-a", "U1", "-a", "C1", env=env)
    assert (proc.returncode, proc.stderr) == (0, "")
    assert "Net worth in USD (2 accounts)" in proc.stdout


def test_one_grand_total_clearly_labelled_and_no_two_columns_named_alike():
    proc = run_cli("--demo", "balance", "--in", "USD")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    totals = [line for line in lines if line.startswith(("Total", "Net worth"))]
    assert len(totals) == 1 and totals[0].startswith("Net worth in USD (10 accounts)   ")
    assert lines[lines.index(totals[0]) - 1].startswith("───")
    value = Decimal(totals[0].split()[-1].replace(",", ""))
    doc = json.loads(run_cli("--demo", "balance", "--in", "USD", "-f", "json").stdout,
                     parse_float=Decimal)
    assert value == round(doc["converted"]["total"], 2)
    # assets: the broker's own USD value and the converted value have different headers.
    head = run_cli("--demo", "assets", "--in", "USD", "--wide").stdout.splitlines()[0]
    titles = re.split(r"\s{2,}", head.strip())
    assert "USD (broker)" in titles and "Value (USD)" in titles
    assert len(titles) == len(set(titles))


# -- --allow-stale ------------------------------------------------------------------------------


def test_a_stale_export_fails_and_allow_stale_shows_it_with_its_age(tmp_path):
    written = datetime.now(UTC) - timedelta(days=3)
    export = write_document(tmp_path / "export.json", {
        "Format": "balancecli.quantower/1", "GeneratedAt": stamp(written),
        "Accounts": [{"Id": "F1", "Name": "Futures", "AccountCurrency": "USD",
                      "Balance": 1000.5}]})
    env = {"BALANCECLI_CONFIG": str(write_config(tmp_path / "config.toml", {
        "qt": {"broker": "quantower", "source": str(export)}}))}
    proc = run_cli("balance", env=env)
    assert (proc.returncode, proc.stdout) == (5, "")
    assert f"is 3.0 days old (GeneratedAt {stamp(written)}, max_age 600 s)" in proc.stderr
    assert proc.stderr.rstrip().endswith("to see this export as it is: --allow-stale")
    # The suggested option works: the rows, marked with the export's age; exit 0.
    for command in ("balance", "assets", "accounts"):
        proc = run_cli(command, "--allow-stale", env=env)
        assert proc.returncode == 0, proc.stderr
        head, _, row = proc.stdout.splitlines()[:3]
        assert head.split()[:3] == ["Profile", "Account", "Stale"] or \
            head.split()[:4] == ["Profile", "Broker", "Account", "Stale"]
        assert " F1 3.0 days " in " ".join(["", *row.split(), ""])
        assert proc.stderr == (f"warning: the Quantower export {export} is 3.0 days old "
                               f"(GeneratedAt {stamp(written)}, max_age 600 s): shown as it "
                               "is (--allow-stale), marked stale\n")
    doc = json.loads(run_cli("balance", "--allow-stale", "-f", "json", env=env).stdout)
    assert [(r["account_id"], r["as_of"]) for r in doc["balances"]] == [("F1", stamp(written))]
    # The same age format in doctor.
    doctor = run_cli("doctor", env=env)
    assert "written 3.0 days ago" in doctor.stdout
    # snapshot has no --allow-stale: its error does not suggest it.
    snap = run_cli("snapshot", "--db", str(tmp_path / "h.sqlite3"), env=env)
    assert snap.returncode == 5 and "--allow-stale" not in snap.stderr


# -- --columns ----------------------------------------------------------------------------------


def test_columns_takes_the_headers_the_note_prints():
    out, err, _ = on_terminal(["--demo", "balance", "-p", "demo-ts"], 80)
    note = next(line for line in err.splitlines() if line.startswith("note:"))
    hidden = note.split(": ", 2)[2].split(" (show them")[0].split(", ")
    assert "Market value" in hidden
    proc = run_cli("--demo", "balance", "-p", "demo-ts", "--columns",
                   f"Account,{hidden[0]},market VALUE")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[0].split("   ")[0] == "Account"
    assert "Market value" in proc.stdout.splitlines()[0]


def test_columns_value_with_in_and_never_silently_ignored():
    proc = run_cli("--demo", "balance", "-p", "demo-etna", "--in", "USD", "--columns",
                   "account_id,value,value_in,Value (USD)", "-f", "csv")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[:2] == ["account_id,value,value_in,value",
                                            "83267,100000,USD,100000"]  # the amounts as sent
    table = run_cli("--demo", "balance", "-p", "demo-etna", "--in", "USD", "--columns",
                    "account_id,Value (USD)").stdout.splitlines()
    assert table[0].split() == ["Account", "Value", "(USD)"]
    assert table[-1].startswith("Net worth in USD (3 accounts)")
    for args, message in [
        (["--columns", "account_id,value"],
         "--columns value: only with --in CUR (the value of each row in one currency)"),
        (["--columns", "account_id", "-f", "json"],
         "--columns shapes -f table and csv, not -f json (JSON rows carry every field: pick "
         "them with jq)"),
        (["--columns", "account_id", "-f", "jsonl"],
         "--columns shapes -f table and csv, not -f jsonl (JSON rows carry every field: pick "
         "them with jq)")]:
        proc = run_cli("--demo", "balance", *args)
        assert (proc.returncode, proc.stdout) == (2, "")
        assert proc.stderr == f"error: {message} (run: balancecli balance --help)\n"


# -- snapshot -q -f json, the spinner ------------------------------------------------------------


def test_snapshot_quiet_still_prints_the_document_asked_for(tmp_path):
    env = cron_env(BALANCECLI_DB=str(tmp_path / "h.sqlite3"))
    proc = run_bare("--demo", "snapshot", "-q", "-f", "json", env=env)
    assert (proc.returncode, proc.stderr) == (0, "")
    doc = json.loads(proc.stdout)
    assert (doc["schema"], doc["run"]["id"], doc["run"]["ok"]) == ("balancecli.snapshot/1", 1,
                                                                  True)
    proc = run_bare("--demo", "snapshot", "-q", "-f", "csv", env=env)
    assert proc.stdout.splitlines()[0].startswith("id,started_at")
    proc = run_bare("--demo", "snapshot", "-q", env=env)  # the summary line is what -q drops
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "", "")


def stdout_piped_stderr_on_a_terminal(args: list[str]) -> tuple[str, str, int]:
    """``balancecli ... | less``: stdout a pipe, stderr the terminal."""
    master, slave = pty.openpty()
    proc = subprocess.Popen([balancecli_exe(), *args], stdout=subprocess.PIPE, stderr=slave,
                            stdin=slave, env={**os.environ, "TERM": "xterm-256color"})
    os.close(slave)
    out, _ = proc.communicate(timeout=60)
    err = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        err += chunk
    os.close(master)
    return out.decode(), err.decode(), proc.returncode


def test_no_spinner_above_data_that_goes_to_a_pipe():
    out, err, code = stdout_piped_stderr_on_a_terminal(["--demo", "balance", "-f", "json"])
    assert code == 0
    assert json.loads(out)["schema"] == "balancecli.balance/1"
    assert "Fetching" not in err and "Waiting" not in err and "\x1b[?25l" not in err
    # On a terminal (stdout and stderr), the spinner is there.
    term = Terminal(["--demo", "balance"], env={})
    try:
        term.wait_for("Total (")
        assert "Fetching" in term.output.decode() or "Waiting" in term.output.decode()
    finally:
        term.close()


# -- type and status, profile list, rates update --demo ----------------------------------------


def test_type_and_status_are_the_same_words_for_every_broker_with_their_own_in_extra():
    doc = json.loads(run_cli("--demo", "accounts", "-f", "json").stdout)
    got = {a["account_id"]: a for a in doc["accounts"]}
    assert {a["type"] for a in doc["accounts"]} <= {"cash", "margin", "futures", "securities",
                                                    "crypto", None}
    assert {a["status"] for a in doc["accounts"]} <= {"active", "inactive", None}
    assert (got["11827391"]["status"], got["11827391"]["extra"]["Status"]) == ("active",
                                                                               "Active")
    assert (got["210FUT01"]["type"], got["210FUT01"]["extra"]["AccountType"]) == ("futures",
                                                                                  "Futures")
    assert (got["83268"]["type"], got["83268"]["extra"]["MarginType"]) == ("margin",
                                                                           "MarginIra")
    assert (got["83269"]["status"], got["83269"]["extra"]["Enabled"]) == ("inactive", False)
    table = run_cli("--demo", "accounts").stdout
    assert "marginira" not in table and "enabled" not in table and "Active" not in table


def test_profile_list_is_a_table_like_the_others(tmp_path):
    config = write_config(tmp_path / "config.toml", {
        "ts": {"broker": "tradestation"}, "odd": {"broker": "quantowr"}})
    proc = run_cli("profile", "list", env={"BALANCECLI_CONFIG": str(config)})
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].split() == ["Profile", "Broker", "Status"]
    assert set(lines[1]) == {"─"}
    assert lines[2].split() == ["ts", "tradestation", "ok"]
    assert lines[3].startswith("odd       quantowr       invalid: unknown broker 'quantowr'")


def test_rates_update_with_demo_goes_to_no_network(tmp_path):
    # Any request would go to this proxy, which is not there.
    env = cron_env(HTTPS_PROXY="http://127.0.0.1:9", HTTP_PROXY="http://127.0.0.1:9",
                   XDG_CACHE_HOME=str(tmp_path / "cache"))
    proc = run_bare("--demo", "rates", "update", env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("ECB rates of ") and " in " in proc.stdout
    assert proc.stderr.startswith("--demo: nothing downloaded")
    assert not (tmp_path / "cache").exists()
    doc = json.loads(run_bare("--demo", "rates", "update", "-f", "json", "-q", env=env).stdout)
    assert doc["schema"] == "balancecli.rates.update/1" and doc["file"] == doc["in_use"]
    # Without --demo it does try the network (and says what failed).
    proc = run_bare("rates", "update", "--timeout", "2", env=env)
    assert proc.returncode == 5 and proc.stdout == ""


def test_the_demo_longport_account_looks_like_one_account():
    doc = json.loads(run_cli("--demo", "balance", "-p", "demo-lp", "-f", "json").stdout,
                     parse_float=Decimal)
    [row] = doc["balances"]
    assert row["cash"] < row["equity"] < 10 * row["cash"]
    assert row["available"] <= row["cash"] and row["withdrawable"] <= row["available"]
