"""The installed command on Quantower exports that are not all good news: accounts without a
currency, connections that are down, accounts the bridge could not read, an export dated in the
future and one that another user can write. Each case: the exit code, the error lines on
stderr, what the other profile still printed and stored, and every JSON document valid against
``balancecli schema``.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from tests.support import schemas
from tests.support.cli import run_cli
from tests.support.config import write_config
from tests.support.quantower_exports import load_fixture, stamp, write_document, write_export

D = Decimal
NO_CURRENCY = ("error: qn account C-9: Quantower reports a Balance of 3.5 without an account "
               "currency, so its unit is not known — its connection in Quantower does not say "
               "the account's currency (nothing to change in balancecli); the other accounts "
               "are not affected")
def valid(text: str) -> dict:
    """The JSON document on stdout, checked against the schema it names (from the command)."""
    return schemas.valid(json.loads(text, parse_float=D))


def config_for(tmp_path: Path, **sources: Path) -> Path:
    return write_config(tmp_path / "config.toml", {
        name: {"broker": "quantower", "source": path.as_posix(), "max_retries": 0}
        for name, path in sources.items()})


def cli(config: Path, *args: str, code: int) -> tuple[str, list[str]]:
    done = run_cli("--config", str(config), *args)
    assert done.returncode == code, done.stderr
    assert "Traceback" not in done.stderr and "internal error" not in done.stderr
    return done.stdout, done.stderr.splitlines()


@pytest.fixture
def null_currency(tmp_path) -> Path:
    """qn: an account with neither currency nor Balance, one with an amount but no currency,
    a HitBTC-shaped one (no currency, its coins); qf: a plain futures account."""
    qn, _ = write_export(tmp_path, "null_currency.json")
    qf, _ = write_export(tmp_path, "futures_no_balances.json")
    return config_for(tmp_path, qn=qn, qf=qf)


# ---------------------------------------------------------------- AccountCurrency null

def test_balance_without_a_currency(null_currency):
    out, err = cli(null_currency, "balance", code=7)
    rows = [line.split() for line in out.splitlines()[2:]]
    assert rows == [["qn", "X-1", "—", "—", "—"], ["qn", "HitBTC", "HitBTC", "—", "—"],
                    ["qf", "F-100", "Futures", '"Main"', "Müller", "USD", "100,000.25"]]
    assert err == [NO_CURRENCY]
    doc = valid(cli(null_currency, "balance", "-f", "json", code=7)[0])
    assert [(r["account_id"], r["currency"], r["available"]) for r in doc["balances"]] == [
        ("X-1", None, None), ("HitBTC", None, None), ("F-100", "USD", D("100000.25"))]
    assert [(e["account_id"], e["kind"]) for e in doc["errors"]] == [("C-9", "bad_response")]
    # Nothing summed in an unknown unit: the null-currency group has no amounts.
    assert [(t["currency"], t["accounts"], t["cash"]) for t in doc["totals"]] == [
        (None, 2, None), ("USD", 1, None)]


def test_assets_without_a_currency(null_currency):
    out, err = cli(null_currency, "assets", code=7)
    assert [line.split()[:3] for line in out.splitlines()[2:]] == [
        ["qn", "HitBTC", "BTC"], ["qf", "F-100", "USD"]]
    assert err == [NO_CURRENCY]
    doc = valid(cli(null_currency, "assets", "-f", "json", code=7)[0])
    assert [(r["account_id"], r["asset"], r["total"]) for r in doc["assets"]] == [
        ("HitBTC", "BTC", D("0.01")), ("F-100", "USD", None)]


@pytest.mark.parametrize("command", ["assets", "balance"])
def test_in_usd_without_a_currency(null_currency, command):
    out, err = cli(null_currency, command, "--in", "USD", code=7)
    assert NO_CURRENCY in err
    [total] = [line for line in out.splitlines() if line.startswith("Net worth in USD")]
    assert total.startswith("Net worth in USD, incomplete (") and total.endswith(" 100,960.25")
    doc = valid(cli(null_currency, command, "--in", "USD", "-f", "json", code=7)[0])
    converted = doc["converted"]
    # HitBTC's value is its coins' TotalInUSD; X-1 has nothing to convert.
    assert (converted["currency"], converted["total"], converted["incomplete"]) == (
        "USD", D("100960.25"), True)
    assert [(u["account_id"], u["reason"]) for u in converted["unconverted"]] == [
        ("X-1", "no value")]


def test_snapshot_without_a_currency_stores_every_profile(null_currency, isolated):
    out, err = cli(null_currency, "snapshot", code=7)
    assert err == [NO_CURRENCY]
    db = isolated / "data" / "balancecli" / "history.sqlite3"
    with sqlite3.connect(db) as conn:
        balances = conn.execute(
            "SELECT profile, account_id, currency, available FROM balances").fetchall()
        assets = conn.execute("SELECT profile, account_id, asset, total FROM assets").fetchall()
    assert balances == [("qn", "X-1", None, None), ("qn", "HitBTC", None, None),
                        ("qf", "F-100", "USD", "100000.25")]
    assert assets == [("qn", "HitBTC", "BTC", "0.01"), ("qf", "F-100", "USD", None)]
    doc = valid(cli(null_currency, "history", "--at", "now", "-f", "json", code=0)[0])
    assert [(r["account_id"], r["currency"]) for r in doc["balances"]] == [
        ("F-100", "USD"), ("HitBTC", None), ("X-1", None)]


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "beancount", "ledger", "prometheus"])
def test_every_format_takes_an_account_without_a_currency(null_currency, fmt):
    for command in ("balance", "assets"):
        out, err = cli(null_currency, command, "-f", fmt, code=7)
        assert err == [NO_CURRENCY]
        assert "F-100" in out, out
        # Text formats name the balance without a currency; metrics show amounts only (its
        # coins, in assets).
        assert ("HitBTC" in out) == (fmt != "prometheus" or command == "assets"), out


# ---------------------------------------------------------------- connections that are down

IB = ("error: qd: Quantower connection 'Interactive Brokers' (ib) is ConnectionLost: accounts "
      "U1234567, U7654321 are not in the export — connect it again in Quantower "
      "(Connections), or remove it there if it is no longer used")
RITHMIC = ("error: qd: Quantower connection 'Rithmic of ***' (rithmic) is Fail: its accounts "
           "are not in the export (which ones is not known: the bridge has not seen it "
           "connected since it started) — connect it again in Quantower (Connections), or "
           "remove it there if it is no longer used")
BUSY = ("error: qd account BUSY-1: the Quantower bridge could not read this account: its crypto "
        "balances kept changing while being copied (InvalidOperationException, 5 attempts) — "
        "run again: the bridge exports every few seconds (if it keeps failing, see the "
        "Strategy's log in Quantower)")


@pytest.fixture
def disconnected(tmp_path) -> Path:
    qd, _ = write_export(tmp_path, "disconnected.json")
    qf, _ = write_export(tmp_path, "futures_no_balances.json")
    return config_for(tmp_path, qd=qd, qf=qf)


@pytest.mark.parametrize("command", ["accounts", "balance", "assets"])
def test_a_dropped_connection_is_one_line_naming_its_accounts(disconnected, command):
    out, err = cli(disconnected, command, code=7)
    assert err == [BUSY, IB, RITHMIC]
    assert "qf" in out and "SPOT-1" in out
    assert "jane.roe" not in out + "\n".join(err)
    doc = valid(cli(disconnected, command, "-f", "json", code=7)[0])
    assert [(e["profile"], e["account_id"], e["kind"]) for e in doc["errors"]] == [
        ("qd", "BUSY-1", "unavailable"), ("qd", None, "unavailable"),
        ("qd", None, "unavailable")]


def test_an_account_filter_keeps_the_connection_error(disconnected):
    # -a on the command line: the profile's source is still partly down.
    out, err = cli(disconnected, "balance", "-p", "qd", "-a", "SPOT-1", code=7)
    assert err == [IB, RITHMIC]
    assert [line.split()[1] for line in out.splitlines()[2:]] == ["SPOT-1"]


def test_nothing_connected_is_exit_5(tmp_path):
    document = load_fixture("disconnected.json")
    document["GeneratedAt"] = stamp()
    document["Accounts"] = []
    document["Connections"] = document["Connections"][2:]
    config = config_for(tmp_path, qd=write_document(tmp_path / "export.json", document))
    out, err = cli(config, "balance", code=5)
    assert (out, err) == ("", [IB, RITHMIC])


def test_snapshot_stores_no_email_and_the_errors(disconnected, isolated):
    out, err = cli(disconnected, "snapshot", code=7)
    assert err == [BUSY, IB, RITHMIC]
    db = isolated / "data" / "balancecli" / "history.sqlite3"
    with sqlite3.connect(db) as conn:
        names = conn.execute("SELECT account_id, account_name FROM balances").fetchall()
    assert names == [("SPOT-1", "*** - EXCHANGE"), ("HitBTC", "HitBTC"),
                     ("F-100", 'Futures "Main" Müller')]
    stored = db.read_bytes()
    for private in (b"jane.roe", b"example.org"):
        assert private not in stored
    doc = valid(cli(disconnected, "history", "--at", "now", "-f", "json", code=0)[0])
    assert "jane.roe" not in json.dumps(doc, default=str)


# ---------------------------------------------------------------- future, writable

def test_an_export_from_the_future_is_exit_6(tmp_path):
    when = stamp(datetime.now(UTC) + timedelta(days=1, seconds=30))  # 30 s: the run's start
    qz, _ = write_export(tmp_path, "duplicate_ids.json", generated_at=when)
    qf, _ = write_export(tmp_path, "futures_no_balances.json")
    config = config_for(tmp_path, qz=qz)
    out, err = cli(config, "balance", code=6)
    assert out == "" and len(err) == 1
    assert err[0].startswith(f"error: qz: the Quantower export {qz} is dated 24 h 0 min in the "
                             f"future (GeneratedAt {when}, this machine's clock says ")
    config = config_for(tmp_path, qz=qz, qf=qf)
    out, err = cli(config, "balance", code=7)
    assert "F-100" in out and len(err) == 1


def test_an_export_anyone_can_write_is_exit_3(tmp_path):
    qw, _ = write_export(tmp_path, "duplicate_ids.json")
    qw.chmod(0o666)
    qf, _ = write_export(tmp_path, "futures_no_balances.json")
    line = (f"error: qw: the Quantower export file {qw} can be written by every user, so the "
            f"balances in it cannot be trusted — run: chmod go-w {qw}")
    out, err = cli(config_for(tmp_path, qw=qw), "balance", code=3)
    assert (out, err) == ("", [line])
    out, err = cli(config_for(tmp_path, qw=qw, qf=qf), "snapshot", code=7)
    assert err == [line]
    qw.chmod(0o644)
    cli(config_for(tmp_path, qw=qw), "balance", code=0)
