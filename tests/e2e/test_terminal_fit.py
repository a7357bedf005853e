"""The tables that used to be Rich tables (doctor, rates show, --hide-amounts, and --watch
drawing them) fit a real terminal like the others: an id, a currency, an asset, a rate or a
share is never cut; whole columns go, lowest priority first, with one stderr note naming them.
The installed command on a real pty."""

from __future__ import annotations

import re

import pytest

from balancecli.output.table import width_of
from tests.support.cli import SHORT, Terminal, on_terminal, run_cli, table_lines

ACCOUNTS = ["11827391", "11827392", "210FUT01", "LP-DEMO", "83267", "83268", "83269",
            "BN-SPOT-01", "rithmic-demo:RITHMIC-PAPER-7", "cqg-demo:RITHMIC-PAPER-7"]
SHARE = re.compile(r"^-?\d{1,3}\.\d%$")  # a negative cash balance is a negative share


def notes(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("note: ")]


@pytest.mark.parametrize("cols", [80, 200])
def test_doctor_fits_and_never_cuts_a_diagnosis(cols):
    out, err, code = on_terminal(["--demo", "doctor"], cols, {})
    assert code == 0, err
    lines = table_lines(out)
    assert all(width_of(line) <= cols for line in lines), out
    text = " ".join(" ".join(line.split()) for line in lines)
    for check in ("secret REFRESH_TOKEN", "token expiry", "export age", "clock"):
        assert check in text
    # A detail too long for the terminal goes on continuation lines, whole: nothing is cut.
    assert "…" not in out
    at = lines[0].index("Detail")
    details = " ".join(line[at:].strip() for line in lines[2:])
    assert details.count("not used: --demo brings its own secrets") == 4
    assert "not stored yet: the next run gets one with the refresh token" in details
    assert re.search(r"3 account\(s\) in \d+ ms \(\d+ HTTP request\(s\)\)", details)
    if cols == 80:
        assert notes(err) == ["note: 1 column hidden to fit 80 columns: Broker "
                              "(show them with -f json)"]
        assert "tradestation" not in out
    else:
        assert notes(err) == [] and "tradestation" in out


@pytest.mark.parametrize("cols", [40, 80])
def test_rates_show_never_cuts_a_rate(cols):
    from decimal import Decimal

    from balancecli.output.networth import rate_text

    out, err, code = on_terminal(["--demo", "rates", "show", "--in", "USD"], cols, {})
    assert code == 0, err
    csv = run_cli("--demo", "rates", "show", "--in", "USD", "-f", "csv").stdout.splitlines()
    head = csv[0].split(",")
    rows = {line.split(",")[0]: line.split(",")[head.index("rate")] for line in csv[1:]}
    lines = table_lines(out)
    for code_, rate in rows.items():
        shown = [line.split() for line in lines if line.startswith(code_ + " ")]
        assert shown and shown[0][1] == (rate_text(Decimal(rate)) if rate else "—")
    if cols == 40:
        assert notes(err) == ["note: 1 column hidden to fit 40 columns: Source "
                              "(show them with -f csv or -f json)"]
    else:
        assert notes(err) == []


@pytest.mark.parametrize("command", ["balance", "assets"])
@pytest.mark.parametrize("cols", [50, 80])
def test_hide_amounts_never_cuts_an_id_a_currency_or_a_share(command, cols):
    out, err, code = on_terminal(["--demo", command, "--hide-amounts"], cols, {})
    assert code == 0, err
    lines = table_lines(out)
    body = [line.split() for line in lines[2:] if line and not line.startswith("amounts")]
    assert {row[-2] if cols == 80 else row[-1] for row in body} <= {
        r for r in (row[-2] if cols == 80 else row[-1] for row in body) if SHARE.match(r)}
    shown_ids = {word for row in body for word in row}
    assert set(ACCOUNTS) <= shown_ids
    assert {"USD", "HKD", "USDT"} <= shown_ids
    if cols == 50:
        hidden = notes(err)
        assert len(hidden) == 1 and "hidden to fit 50 columns" in hidden[0]
        assert "Profile" in hidden[0] and hidden[0].endswith("(show them with --wide)")
    else:
        assert notes(err) == []


def test_watch_with_hidden_amounts_draws_the_fitted_table(monkeypatch):
    monkeypatch.delenv("COLUMNS", raising=False)  # the terminal's own width, as for a person
    term = Terminal(["--demo", "balance", "--watch", "0.3", "--hide-amounts", "--no-color"],
                    SHORT, cols=60)
    try:
        screen = term.wait_for("refresh #2")
        code = term.ctrl_c()
    finally:
        term.close()
    assert code == 130
    plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", screen)
    for account in ACCOUNTS:
        assert account in plain
    table = [line for line in plain.splitlines() if line.startswith("demo-")]
    assert table and not [line for line in table if "…" in line]  # nothing cut
    assert max(map(width_of, (line.rstrip() for line in plain.splitlines()))) <= 60
    assert re.search(r"rithmic-demo:RITHMIC-PAPER-7\s+USD\s+\d+\.\d%", plain)
