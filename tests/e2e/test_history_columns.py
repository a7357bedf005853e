"""``history --columns a,b`` (as the data commands take it) and ``history -f json`` indented on
a terminal, compact in a pipe, through the installed command."""

from __future__ import annotations

import json
from decimal import Decimal as D

import pytest

from tests.support.cli import on_terminal, run_cli, table_lines


@pytest.fixture(scope="module")
def db(tmp_path_factory) -> str:
    path = str(tmp_path_factory.mktemp("hist") / "h.sqlite3")
    for _ in range(2):
        assert run_cli("--demo", "snapshot", "--db", path).returncode == 0
    return path


def test_columns_pick_and_order_the_series_table(db):
    proc = run_cli("history", "--db", db, "--columns", "account_id,currency,last")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].split() == ["Account", "Ccy", "Last", "equity"]
    assert any(line.split() == ["11827391", "USD", "48,210.55"] for line in lines)
    total = lines[lines.index("") + 1]  # the totals table: its label and the columns it has
    assert total.split() == ["Total", "Ccy", "Last"]


def test_columns_pick_the_csv_columns(db):
    proc = run_cli("history", "--db", db, "--columns", "account_id,equity", "-f", "csv")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "account_id,equity"
    assert "11827391,48210.55" in lines


def test_columns_at_a_time_are_a_balance_rows(db):
    proc = run_cli("history", "--db", db, "--at", "2099-01-01", "--columns", "account_id,cash",
                   "-f", "csv")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[0] == "account_id,cash"


def test_an_unknown_column_is_a_usage_error_naming_the_valid_ones(db):
    proc = run_cli("history", "--db", db, "--columns", "qwerty")  # no column is close
    assert (proc.returncode, proc.stdout) == (2, "")
    assert proc.stderr == ("error: --columns: unknown column qwerty; history has: profile, "
                           "account_id, currency, points, from, to, first, last, change, "
                           "change_pct, trend (run: balancecli history --help)\n")


def test_json_is_indented_on_a_terminal_and_compact_in_a_pipe(db):
    out, err, code = on_terminal(["history", "--db", db, "-f", "json"], 80, {})
    assert code == 0, err
    lines = table_lines(out)
    assert lines[0] == "{" and lines[1] == '  "schema": "balancecli.history/1",'
    doc = json.loads(out, parse_float=D)
    piped = run_cli("history", "--db", db, "-f", "json")
    assert len(piped.stdout.splitlines()) == 1
    compact = json.loads(piped.stdout, parse_float=D)
    for d in (doc, compact):
        d.pop("generated_at")
    assert doc == compact  # the same document, digit for digit
