"""``history --chart`` through the installed command: on a pseudo-terminal of 60, 80 and 120
columns a known series has its highest and lowest points on the right rows, every axis label
is whole and at the currency's precision, the date ticks are in order in local time, and the
chart fits the terminal; off a terminal it is plain text; ``--hide-amounts`` shows percent of
the first value and no amount; net worth with ``--in``, one line per currency otherwise."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal as D

import pytest

from balancecli.history import Store
from tests.support.chart import LINE_GLYPHS, read_chart
from tests.support.cli import on_terminal, run_cli
from tests.support.history import balance, record

NY = {"TZ": "America/New_York"}
T0 = datetime(2026, 8, 3, 20, 0, tzinfo=UTC)  # 16:00 in New York
HIGH_DAY, LOW_DAY = 40, 70


def known(day: int) -> D:
    """90 daily values: a rise to the highest on day 40, a fall to the lowest on day 70."""
    if day <= HIGH_DAY:
        v = 4_800_000 + 2_000 * day
    elif day <= LOW_DAY:
        v = 4_880_000 - 3_500 * (day - HIGH_DAY)
    else:
        v = 4_775_000 + 1_000 * (day - LOW_DAY)
    return D(v) + D("0.37")


@pytest.fixture(scope="module")
def db(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("chart") / "h.sqlite3"
    with Store.open(path) as store:
        for day in range(90):
            record(store, T0 + timedelta(days=day), [
                balance("etna", "A1", currency="USD", equity=known(day)),
                balance("lp", "H1", broker="longport", currency="HKD",
                        equity=D(20_000 + 10 * day)),
                balance("qt", "Q1", broker="quantower", currency="USD", available=D(1000))])
    return str(path)


def amount(label: str) -> D:
    return D(label.replace(",", "").rstrip("%"))


def row_value(panel, row: int) -> D:
    (r0, l0), (r1, l1) = panel.labels[0], panel.labels[1]
    return amount(l0) - (amount(l0) - amount(l1)) / (r1 - r0) * (row - r0)


def nearest_row(panel, value: D) -> int:
    return min(range(len(panel.rows)), key=lambda r: (abs(row_value(panel, r) - value), r))


@pytest.mark.parametrize("cols", [60, 80, 120])
def test_one_account_on_a_terminal(db, cols):
    out, err, code = on_terminal(["history", "--db", db, "-a", "A1", "--chart", "--every",
                                  "1d", "--height", "24"], cols, NY)
    assert code == 0, err
    assert err == ""  # --every chosen: no note
    assert "\x1b[" in out  # colour on a terminal
    chart = read_chart(out)
    lines = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", out).rstrip("\n").split("\n")
    assert len(lines) <= 24 and max(map(len, lines)) <= cols
    (panel,) = chart.panels
    assert panel.title == "etna A1 equity (USD)"
    labels = [label for _, label in panel.labels]
    assert all(re.fullmatch(r"\d{1,3}(,\d{3})*\.\d{2}", label) for label in labels), labels
    assert [amount(x) for x in labels] == sorted(map(amount, labels), reverse=True)
    top, bottom = panel.glyph_rows()[0], panel.glyph_rows()[-1]
    assert top == nearest_row(panel, known(HIGH_DAY))
    assert bottom == nearest_row(panel, known(LOW_DAY))
    plot = len(chart.axis_rule)
    assert panel.rows[top][round(HIGH_DAY / 89 * (plot - 1))] in LINE_GLYPHS
    assert panel.rows[bottom][round(LOW_DAY / 89 * (plot - 1))] in LINE_GLYPHS
    # Ticks: whole labels, in time order, on local dates of the range.
    assert len(chart.ticks) >= 2
    columns = [c for c, _ in chart.ticks]
    assert columns == sorted(columns)
    days = [_tick_day(label) for _, label in chart.ticks]
    assert days == sorted(days) and date(2026, 8, 3) <= days[0] and days[-1] <= date(2026, 11, 1)
    text = " ".join(chart.summary)
    assert f"Max {known(HIGH_DAY):,.2f} (2026-09-12 16:00)" in text  # local time
    assert f"Min {known(LOW_DAY):,.2f} (2026-10-12 16:00)" in text


def _tick_day(label: str) -> date:
    """A tick's local date: 2026-08-10, Aug 10 (this year), Sep 2026 or Oct (months)."""
    for text, fmt in ((label, "%Y-%m-%d"), (f"{label} 2026", "%b %d %Y"), (label, "%b %Y"),
                      (f"{label} 2026", "%b %Y")):
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise AssertionError(f"not a date tick: {label!r}")


def test_off_a_terminal_the_chart_is_plain_text_of_the_given_size(db):
    proc = run_cli("history", "--db", db, "-a", "A1", "--chart", "--every", "1d",
                   env={**NY, "COLUMNS": "80", "LINES": "30"})
    assert proc.returncode == 0, proc.stderr
    assert "\x1b" not in proc.stdout
    lines = proc.stdout.rstrip("\n").split("\n")
    assert len(lines) <= 29 and max(map(len, lines)) <= 80
    assert read_chart(proc.stdout).panels[0].title == "etna A1 equity (USD)"


def test_more_points_than_columns_are_drawn_as_closes_and_said(db):
    proc = run_cli("history", "--db", db, "-a", "A1", "--chart",
                   env={**NY, "COLUMNS": "60", "LINES": "24"})
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ("note: drawing weekly closes (the last snapshot of each) to fit 60 "
                           "columns; --every or --last N to choose\n")


def test_hide_amounts_shows_percent_of_the_first_value_and_no_amount(db):
    out, err, code = on_terminal(["history", "--db", db, "-a", "A1", "--chart", "--every",
                                  "1d", "--hide-amounts", "--height", "20"], 80, NY)
    assert code == 0, err
    chart = read_chart(out)
    labels = [label for _, label in chart.panels[0].labels]
    assert labels and all(re.fullmatch(r"\d+(\.\d+)?%", label) for label in labels)
    assert 100 <= amount(labels[0]) <= 102 and 99 <= amount(labels[-1]) <= 100
    plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", out)
    for day in range(90):
        assert f"{known(day):,.2f}" not in plain and f"{int(known(day)):,}" not in plain
    assert not re.search(r"\d{1,3},\d{3}", plain)  # no amount at all
    assert "Change -" in plain or "Change +" in plain  # in percent


def test_net_worth_with_in_and_one_line_per_currency_without(db):
    worth = run_cli("history", "--db", db, "--in", "EUR", "--chart", "--every", "1w",
                    "-p", "etna", env={**NY, "COLUMNS": "100", "LINES": "30"})
    assert worth.returncode == 0, worth.stderr
    (panel,) = read_chart(worth.stdout).panels
    assert panel.title == "Net worth (EUR)"
    totals = run_cli("history", "--db", db, "--chart", "--every", "1w",
                     env={**NY, "COLUMNS": "100", "LINES": "40"})
    assert totals.returncode == 0, totals.stderr
    titles = [p.title for p in read_chart(totals.stdout).panels]
    # each account follows its field: Quantower's only value is "available"
    assert titles == ["Total in HKD (equity)", "Total in USD (available or equity)"]
    text = " ".join(read_chart(totals.stdout).summary)
    assert f"Last {known(89) + 1000:,.2f} (2026-10-31 16:00)" in text  # A1 + Q1, last day


@pytest.mark.parametrize(("args", "message"), [
    (["--chart", "-f", "json"], "error: --chart: --chart draws text for people; it cannot be "
                                "combined with -f json (drop --chart for the data)"),
    (["--height", "20"], "error: --height: --height is the height of --chart"),
    (["--chart", "--height", "8"], "error: --chart: a chart of 2 series needs at least"),
    (["--chart", "--columns", "last"], "error: --columns does not apply to a chart"),
])
def test_what_a_chart_cannot_do_is_a_usage_error(db, args, message):
    proc = run_cli("history", "--db", db, "--every", "1d", *args, env=NY)
    assert (proc.returncode, proc.stdout) == (2, "")
    assert proc.stderr.startswith(message), proc.stderr


def test_a_terminal_too_short_for_every_panel_gets_a_taller_chart(db):
    proc = run_cli("history", "--db", db, "--chart", "--every", "1w",
                   env={**NY, "COLUMNS": "60", "LINES": "20"})
    assert proc.returncode == 0, proc.stderr
    [note] = proc.stderr.splitlines()
    needed = int(re.fullmatch(r"note: the chart needs (\d+) lines; the terminal has 20", note)[1])
    assert proc.stdout.count("\n") == needed and len(read_chart(proc.stdout).panels) == 2
