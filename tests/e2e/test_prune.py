"""``history --prune``: units h/d/w/mo/y with a bare ``m`` refused as ambiguous, ``--dry-run``
first, a question on a terminal (tested on a real pty), ``--yes`` for scripts, and a refusal
off a terminal without it. Every case through the installed command, with the database's md5
proving what was (not) deleted.
"""

from __future__ import annotations

import hashlib
import json
import os
import pty
import select
import subprocess
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from balancecli.core.models import Balance
from balancecli.history import Store, parse_duration, parse_when
from tests.support.cli import balancecli_exe, run_cli

NOW = datetime(2026, 3, 31, 12, 0, tzinfo=UTC)
AGES = (timedelta(days=400), timedelta(days=366), timedelta(days=100), timedelta(days=10),
        timedelta(hours=1))


@pytest.fixture
def db(tmp_path) -> Path:
    """Five runs, 400 days to one hour old (one account each)."""
    path = tmp_path / "h.sqlite3"
    now = datetime.now(UTC)
    with Store.open(path) as store:
        for i, age in enumerate(AGES):
            store.record_run(started_at=now - age, finished_at=now - age, profiles=["etna"],
                             balances=[Balance("etna", "etna", "A1", equity=Decimal(i))],
                             assets=[], errors=[])
    return path


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def stored_runs(path: Path) -> int:
    with Store.open(path, readonly=True) as store:
        return len(store.runs())


def cli(db: Path, *args: str, **kw) -> subprocess.CompletedProcess:
    return run_cli("history", "--prune", *args, env={"BALANCECLI_DB": str(db)}, **kw)


# -- units ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "expected"), [
    ("12h", NOW - timedelta(hours=12)),
    ("30d", NOW - timedelta(days=30)),
    ("2w", NOW - timedelta(weeks=2)),
    ("90min", NOW - timedelta(minutes=90)),
    ("45s", NOW - timedelta(seconds=45)),
    ("1mo", datetime(2026, 2, 28, 12, 0, tzinfo=UTC)),  # 31 March -> the end of February
    ("3mo", datetime(2025, 12, 31, 12, 0, tzinfo=UTC)),
    ("13mo", datetime(2025, 2, 28, 12, 0, tzinfo=UTC)),
    ("1y", datetime(2025, 3, 31, 12, 0, tzinfo=UTC)),
    ("2Y", datetime(2024, 3, 31, 12, 0, tzinfo=UTC)),
])
def test_units(text, expected):
    assert parse_duration(text).before(NOW) == expected
    assert parse_when(text, now=NOW) == expected


def test_a_leap_day_a_year_back_is_the_28th():
    assert parse_duration("1y").before(datetime(2024, 2, 29, tzinfo=UTC)) == datetime(
        2023, 2, 28, tzinfo=UTC)


@pytest.mark.parametrize(("text", "message"), [
    ("3m", "'3m' is ambiguous: write 3min for minutes or 3mo for months"),
    ("3", "not a duration (units: s, min, h, d, w, mo (months) or y"),
    ("3x", "not a duration"),
    ("800000d", "'800000d' reaches back before the year 1"),
    ("800000y", "reaches back before the year 1"),
    ("99999999999999999999w", "reaches back before the year 1"),
])
def test_bad_spans(text, message):
    with pytest.raises(ValueError) as info:
        parse_duration(text).before(NOW)
    assert message in str(info.value)


# -- the command --------------------------------------------------------------------------------


def test_a_bare_m_is_refused_with_a_hint_and_nothing_is_deleted(db):
    before = md5(db)
    result = cli(db, "--keep", "3m", "--yes")
    assert result.returncode == 2
    assert "'3m' is ambiguous: write 3min for minutes or 3mo for months" in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""
    assert md5(db) == before


def test_dry_run_shows_what_would_go_and_deletes_nothing(db):
    before = md5(db)
    result = cli(db, "--keep", "1y", "--dry-run")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("would delete 2 run(s) started before ")
    assert "; 3 run(s) would stay (dry run: nothing deleted)\n" in result.stdout
    doc = json.loads(cli(db, "--keep", "1y", "--dry-run", "-f", "json").stdout)
    assert (doc["schema"], doc["dry_run"], doc["matched_runs"], doc["deleted_runs"],
            doc["kept_runs"]) == ("balancecli.prune/1", True, 2, 0, 3)
    assert doc["first"] < doc["last"] < doc["cutoff"]
    assert md5(db) == before and stored_runs(db) == 5


def test_off_a_terminal_it_refuses_without_yes(db):
    before = md5(db)
    result = cli(db, "--keep", "30d", input="y\n")
    assert result.returncode == 2
    assert "no terminal to ask: add --yes (or see first with --dry-run)" in result.stderr
    assert md5(db) == before


def test_yes_deletes_and_says_so_unless_quiet(db):
    result = cli(db, "--keep", "1y", "--yes")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("pruned 2 run(s) started before ")
    assert result.stdout.endswith("; 3 run(s) kept\n") and result.stderr == ""
    assert stored_runs(db) == 3
    quiet = run_cli("-q", "history", "--prune", "--keep", "30d", "--yes",
                    env={"BALANCECLI_DB": str(db)})
    assert (quiet.returncode, quiet.stdout, quiet.stderr) == (0, "", "")
    assert stored_runs(db) == 2
    again = cli(db, "--keep", "30d", "--yes", "-q")
    assert (again.returncode, again.stdout, again.stderr) == (0, "", "")
    nothing = cli(db, "--keep", "30d", "--yes")
    assert nothing.stdout.startswith("nothing to prune: no run started before ")
    assert nothing.stdout.endswith("; 2 run(s) kept\n")


@pytest.mark.parametrize("args", [
    ["--keep", "30d", "--dry-run", "-p", "etna"],
    ["--keep", "30d", "--yes", "--since", "30d"],
    ["--keep", "800000d", "--yes"],
    ["--keep", "1x", "--yes"],
])
def test_usage_errors(db, args):
    before = md5(db)
    result = cli(db, *args)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert md5(db) == before


@pytest.mark.parametrize("args", [["--dry-run"], ["--yes"], ["--keep", "30d"]])
def test_prune_options_need_prune(db, args):
    result = run_cli("history", *args, env={"BALANCECLI_DB": str(db)})
    assert result.returncode == 2 and "--prune and --keep go together" in result.stderr


# -- on a terminal ------------------------------------------------------------------------------


def on_pty(db: Path, answer: bytes | None, *args: str) -> tuple[int, str]:
    """Run the command with stdin, stdout and stderr on a pty; answer the question."""
    main, child = pty.openpty()
    proc = subprocess.Popen([balancecli_exe(), "history", "--prune", *args],
                            stdin=child, stdout=child, stderr=child, close_fds=True,
                            env={**os.environ, "BALANCECLI_DB": str(db), "COLUMNS": "80"})
    os.close(child)
    seen = b""
    answered = False
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        ready, _, _ = select.select([main], [], [], 0.1)
        if ready:
            try:
                chunk = os.read(main, 4096)
            except OSError:  # the child closed the pty
                break
            if not chunk:
                break
            seen += chunk
        if not answered and b"[y/N]" in seen:
            os.write(main, answer if answer is not None else b"\x04")
            answered = True
        if proc.poll() is not None and not ready:
            break
    code = proc.wait(timeout=10)
    os.close(main)
    return code, seen.decode(errors="replace").replace("\r\n", "\n")


def test_on_a_terminal_it_asks_naming_the_runs_and_dates(db):
    before = md5(db)
    with Store.open(db, readonly=True) as store:
        runs = sorted(r.started_at for r in store.runs())
    first, last = runs[0], runs[1]
    code, screen = on_pty(db, b"n\n", "--keep", "1y")
    question = (f"Delete 2 of 5 run(s), taken {first[:10]} {first[11:16]}Z to "
                f"{last[:10]} {last[11:16]}Z (everything before ")
    assert question in screen and screen.count("[y/N]") == 1
    assert code == 0 and "nothing deleted" in screen
    assert md5(db) == before

    code, screen = on_pty(db, b"y\n", "--keep", "1y")
    assert code == 0 and "pruned 2 run(s) started before " in screen
    assert stored_runs(db) == 3


def test_ctrl_d_at_the_question_cancels(db):
    before = md5(db)
    code, screen = on_pty(db, None, "--keep", "1y")
    assert code == 130 and "cancelled: nothing deleted" in screen
    assert md5(db) == before


def test_yes_does_not_ask_on_a_terminal(db):
    code, screen = on_pty(db, b"n\n", "--keep", "30d", "--yes")
    assert code == 0 and "[y/N]" not in screen and "pruned 3 run(s)" in screen
