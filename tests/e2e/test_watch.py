"""``balance --watch`` / ``assets --watch``: refresh in place on a terminal, highlight what
changed, at least 10 s apart, never overlapping, Ctrl-C exits 130 with the terminal restored;
refused (exit 2) off a terminal.

The pty tests shorten the minimum interval with ``_BALANCECLI_WATCH_MIN_SECONDS`` (test only).
"""

from __future__ import annotations

import copy
import re
import threading
from decimal import Decimal

import pytest

from balancecli.demo.quantower import EXPORT_PATH, FakeQuantowerBridge
from tests.support.cli import SHORT, Terminal, run_cli
from tests.support.config import FAST, write_config

TOKEN = "qt-watch-token-0123456789"


# -- refused ---------------------------------------------------------------------------------


def test_watch_is_refused_when_stdout_is_not_a_terminal():
    proc = run_cli("--demo", "balance", "--watch")
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr == ("error: --watch needs a terminal on stdout; for a record over time "
                           "run balancecli --demo snapshot from cron (see: balancecli --demo "
                           "history) "
                           "(run: balancecli balance --help)\n")


@pytest.mark.parametrize("seconds", ["9.5", "0", "-1"])
def test_watch_below_ten_seconds_is_a_usage_error(seconds):
    proc = run_cli("--demo", "assets", f"--watch={seconds}")
    assert proc.returncode == 2
    assert "the interval is at least 10 seconds" in proc.stderr
    assert proc.stdout == ""


def test_watch_only_shows_tables():
    proc = run_cli("--demo", "balance", "--watch", "30", "-f", "json")
    assert proc.returncode == 2
    assert "--watch shows a table; it cannot be combined with -f json" in proc.stderr


def test_watch_without_seconds_takes_the_next_option_as_an_option():
    # `--watch -p x`: -p is not the interval; the interval is the default 10 s.
    proc = run_cli("--demo", "balance", "--watch", "-p", "demo-ts")
    assert proc.returncode == 2
    assert "needs a terminal" in proc.stderr  # parsed fine; refused only for the pipe


def test_watch_is_in_the_help():
    proc = run_cli("balance", "--help", env={"COLUMNS": "120"})
    assert "--watch" in proc.stdout and "[SECONDS]" in proc.stdout


# -- on a terminal ---------------------------------------------------------------------------


class CountingBridge(FakeQuantowerBridge):
    """The bridge, also counting requests in flight (fetches must never overlap)."""

    def __init__(self, latency: float = 0.0) -> None:
        super().__init__(latency, token=TOKEN)
        self.in_flight = 0
        self.most_in_flight = 0
        self._count = threading.Lock()

    def _dispatch(self, h):
        with self._count:
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            super()._dispatch(h)
        finally:
            with self._count:
                self.in_flight -= 1


@pytest.fixture
def bridge():
    fake = CountingBridge().start()
    yield fake
    fake.stop()


def qt_config(tmp_path, fake) -> dict[str, str]:
    path = write_config(tmp_path / "config.toml", {"qt": {
        "broker": "quantower", "source": fake.url + EXPORT_PATH, **FAST}})
    return {"BALANCECLI_CONFIG": str(path), "BALANCECLI_QT_TOKEN": TOKEN, **SHORT}


def test_watch_refreshes_in_place_and_highlights_the_change(tmp_path, bridge):
    term = Terminal(["balance", "--watch", "0.5", "--no-color"], qt_config(tmp_path, bridge))
    try:
        first = term.wait_for("1,250.75")  # BN-SPOT-01's available balance
        assert "refresh #1  ·  Ctrl-C to stop" in first
        term.wait_for("no change since")  # the second refresh: same values, nothing marked
        changed = copy.deepcopy(bridge.export)
        changed["Accounts"][0]["Balance"] = Decimal("1300.25")
        with bridge.lock:
            bridge.export = changed
        screen = term.wait_for("1 value(s) changed since")
        assert "\x1b[7m▲ 1,300.25" in screen  # reverse video and an arrow up on the new value
        code = term.ctrl_c()
    finally:
        term.close()
    assert code == 130
    out = term.output.decode(errors="replace")
    assert out.rstrip().endswith("stopped")
    assert "\x1b[?25h" in out  # the cursor is shown again
    assert "Traceback" not in out
    assert "\x1b[?25l" in out and out.count("\x1b[2K") > 3  # lines redrawn, not scrolled


def net_worth_line(screen: str) -> list[str]:
    """The grand total row of a --in table: its label and its amount (without the mark and
    the reverse video of a changed cell)."""
    [line] = [x for x in screen.splitlines() if x.strip().startswith("Net worth in")]
    line = re.sub(r"\x1b\[[0-9;]*m|[▲▼] ", "", line)
    return [part.strip() for part in line.strip().split("  ") if part.strip()]


def test_watch_in_shows_the_net_worth_and_its_change_since_the_watch_began(tmp_path, bridge):
    env = qt_config(tmp_path, bridge)
    term = Terminal(["balance", "--watch", "0.5", "--no-color", "--in", "USD"], env)
    try:
        first = term.wait_for("Change since the watch began (")
        # 57,163.10 (BN-SPOT-01's assets in USD) + 100,000.25 + 49,875.50
        assert net_worth_line(first) == ["Net worth in USD (3 accounts)", "207,038.85"]
        assert "0.00 USD (0.00%)" in first
        term.wait_for("no change since")
        changed = copy.deepcopy(bridge.export)
        changed["Accounts"][1]["Balance"] = Decimal("102070.65")  # +2,070.40
        with bridge.lock:
            bridge.export = changed
        screen = term.wait_for("+2,070.40 USD (+1.00%)")
        assert net_worth_line(screen.rsplit("refresh #", 1)[-1]) == [
            "Net worth in USD (3 accounts)", "209,109.25"]
        code = term.ctrl_c()
    finally:
        term.close()
    assert code == 130
    masked = Terminal(["balance", "--watch", "0.5", "--no-color", "--in", "USD",
                       "--hide-amounts"], env)
    try:
        screen = masked.wait_for("Change since the watch began (")
        screen = masked.wait_for("): 0.00%")  # in percent only
        assert "207,038.85" not in screen and "USD" in screen and "Share" in screen
        assert masked.ctrl_c() == 130
    finally:
        masked.close()


def test_watch_fetches_never_overlap(tmp_path):
    # Each fetch takes 0.6 s and the interval is 0.2 s: the next fetch waits for the previous.
    fake = CountingBridge(latency=0.6).start()
    try:
        term = Terminal(["assets", "--watch", "0.2"], qt_config(tmp_path, fake))
        try:
            term.wait_for("refresh #4  ·  Ctrl-C")  # the fourth fetch has started
            code = term.ctrl_c()
        finally:
            term.close()
    finally:
        fake.stop()
    assert code == 130
    assert fake.most_in_flight == 1
    assert 3 <= len(fake.requests) <= 4


def test_watch_on_the_demo_refreshes_until_ctrl_c(tmp_path):
    term = Terminal(["--demo", "balance", "--watch", "0.3"], SHORT)
    try:
        first = term.wait_for("LP-DEMO")
        assert "refresh #1  ·  Ctrl-C to stop" in first and "11827391" in first
        screen = term.wait_for("no change since")
        assert "refresh #2  ·  Ctrl-C to stop" in screen
        code = term.ctrl_c()
    finally:
        term.close()
    assert code == 130


def test_the_test_interval_variable_is_the_only_way_below_ten_seconds():
    proc = run_cli("--demo", "balance", "--watch", "3")
    assert proc.returncode == 2
    assert "at least 10 seconds" in proc.stderr


# -- the same table as without --watch ---------------------------------------------------------

SGR = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
AMOUNT = re.compile(r"-?\d{1,3}(?:,\d{3})*(?:\.\d+)?\*?")


def last_frame(output: bytes, first: str) -> tuple[list[str], list[str]]:
    """The header and the body lines (from the line ``first``) of the last frame drawn in
    full (its header says "updated"), up to its "no change since" line."""
    text = output.decode(errors="replace")
    start = text.rindex("Every ", 0, text.rindex("updated "))
    frame = text[start:text.index("no change since", start)]
    lines = [SGR.sub("", line) for line in frame.replace("\r\n", "\n").split("\n")]
    body = lines.index(first)
    return lines[:body], lines[body:]


@pytest.mark.parametrize("command", ["balance", "assets"])
@pytest.mark.parametrize("cols", [80, 100, 120])
def test_every_amount_of_the_watch_frame_is_the_plain_tables(cols, command, monkeypatch):
    from tests.support.cli import on_terminal, table_lines

    monkeypatch.delenv("COLUMNS", raising=False)  # the terminal's own width, as for a person
    plain, err, code = on_terminal(["--demo", command], cols)
    assert code == 0, err
    table = [line for line in table_lines(plain) if line]
    term = Terminal(["--demo", command, "--watch", "0.3"], SHORT, cols=cols)
    try:
        term.wait_for("no change since")
        assert term.ctrl_c() == 130
    finally:
        term.close()
    header, frame = last_frame(term.output, table[0])
    assert " ".join(header).startswith("Every 0.3 s: balancecli ")
    # The table, line for line: the same columns chosen, every number whole (never "3,21").
    assert frame[:len(table)] == table
    assert AMOUNT.findall("\n".join(frame[:len(table)])) == AMOUNT.findall("\n".join(table))
    assert all(len(line) <= cols for line in header + frame)
    notes = [line for line in err.splitlines() if "hidden to fit" in line]
    if notes:  # the same note, in the frame (a line on stderr would scroll it away)
        said = " ".join(frame[len(table):])
        assert notes[0].split(" (show them with")[0] in said
        assert "(show them with --wide or --columns NAME,...)" in said
    else:
        assert cols == 120 and command == "assets" or "hidden to fit" not in " ".join(frame)
