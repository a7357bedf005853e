"""Whose file is it: the history store marks its databases, refuses another application's file
and a newer schema before touching a byte, adopts its own unmarked files, and ``history`` reads
read-only, also on read-only media.

Every refusal is checked by the file's md5 (and its journal mode) before and after, through the
Store and through the installed command.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import stat
import subprocess
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from balancecli.core.errors import ConfigError
from balancecli.core.models import Balance
from balancecli.history import MIGRATIONS, SCHEMA_VERSION, Store
from balancecli.history.schema import APPLICATION_ID
from tests.support.cli import balancecli_exe, run_cli

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def header(path: Path) -> tuple[int, int, str]:
    """(application_id, user_version, journal_mode) read through a read-only connection."""
    conn = sqlite3.connect(path.as_uri() + "?mode=ro", uri=True)
    try:
        return (conn.execute("PRAGMA application_id").fetchone()[0],
                conn.execute("PRAGMA user_version").fetchone()[0],
                conn.execute("PRAGMA journal_mode").fetchone()[0])
    finally:
        conn.close()


def sqlite_file(path: Path, *statements: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path)
    for statement in statements:
        conn.execute(statement)
    conn.commit()
    conn.close()
    return path


def our_v2_unmarked(path: Path) -> Path:
    """A database as balancecli wrote it before the application_id existed (schema 2)."""
    sqlite_file(path, *(s for step in MIGRATIONS[:2] for s in step),
                "INSERT INTO runs VALUES (1, '2026-11-01T12:00:00.000000Z', "
                "'2026-11-01T12:00:02.000000Z', '[\"etna\"]', 1, 0, '[]', 1, 0)",
                "INSERT INTO balances (run_id, taken_at, profile, broker, account_id, currency,"
                " equity) VALUES (1, '2026-11-01T12:00:00.000000Z', 'etna', 'etna', 'A1', 'USD',"
                " '19638.14545186560000000000')",
                "INSERT INTO accounts VALUES ('A1', 'etna', 'etna')",
                "PRAGMA user_version = 2")
    return path


FOREIGN = {
    # another application that marks its files (Fossil's id), with its own tables
    "marked": ("PRAGMA application_id = 252006673", "CREATE TABLE blob (rid INTEGER)",
               "INSERT INTO blob VALUES (1)"),
    # an unmarked file of someone else (a browser's history, say)
    "unmarked": ("CREATE TABLE moz_places (id INTEGER, url TEXT)",
                 "INSERT INTO moz_places VALUES (1, 'https://example.org/')",
                 "PRAGMA user_version = 70"),
    # unmarked, with a table called runs but not our others
    "lookalike": ("CREATE TABLE runs (id INTEGER)", "PRAGMA user_version = 1"),
    # ours, from a future balancecli
    "newer": (f"PRAGMA application_id = {APPLICATION_ID}", "CREATE TABLE runs (id INTEGER)",
              f"PRAGMA user_version = {SCHEMA_VERSION + 1}"),
}


@pytest.mark.parametrize("kind", sorted(FOREIGN))
def test_store_refuses_before_writing(tmp_path, kind):
    path = sqlite_file(tmp_path / "d" / "other.db", *FOREIGN[kind])
    before, head = md5(path), header(path)
    for readonly in (False, True):
        with pytest.raises(ConfigError) as info:
            Store.open(path, readonly=readonly)
        assert info.value.exit_code == 3
        assert "--db" in info.value.next_step or "upgrade" in info.value.next_step
    assert md5(path) == before and header(path) == head and head[2] == "delete"
    assert os.listdir(path.parent) == ["other.db"]  # no -wal, no -shm, no journal


MESSAGES = {
    "marked": "belongs to another application (SQLite application_id 0x0f055111",
    "unmarked": "is not a balancecli history database (its tables: moz_places)",
    "lookalike": "is not a balancecli history database (its tables: runs)",
    "newer": f"has schema version {SCHEMA_VERSION + 1}; this balancecli knows up to",
}


@pytest.mark.parametrize("kind", sorted(FOREIGN))
@pytest.mark.parametrize("args", [
    ["--demo", "snapshot"],
    ["history"],
    ["history", "--at", "now", "-f", "json"],
    ["history", "--prune", "--keep", "1d", "--yes"],
    ["history", "--prune", "--keep", "1d", "--dry-run"],
], ids=["snapshot", "history", "at", "prune", "dry-run"])
def test_commands_leave_foreign_and_newer_files_untouched(tmp_path, kind, args):
    path = sqlite_file(tmp_path / "d" / "other.db", *FOREIGN[kind])
    before = md5(path)
    result = run_cli(*args, "--db", str(path))
    assert result.returncode == 3, result.stderr
    assert MESSAGES[kind] in result.stderr and "left untouched" in result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert result.stdout == ""
    assert md5(path) == before
    assert os.listdir(path.parent) == ["other.db"]


def test_new_databases_are_marked(tmp_path):
    path = tmp_path / "h.db"
    Store.open(path).close()
    assert header(path) == (APPLICATION_ID, SCHEMA_VERSION, "wal")
    assert APPLICATION_ID == int.from_bytes(b"BLNC", "big")
    # The mark is in the header bytes 68-71, where `file(1)` and other tools look.
    assert path.read_bytes()[68:72] == b"BLNC"


def test_an_unmarked_database_of_ours_is_adopted(tmp_path):
    path = our_v2_unmarked(tmp_path / "old.db")
    with Store.open(path, readonly=True) as store:  # reading does not adopt
        assert [str(s.row.equity) for s in store.balances_at(T0)] == [
            "19638.14545186560000000000"]
    assert header(path)[:2] == (0, 2)
    with Store.open(path) as store:
        assert store.runs()[0].profiles == ["etna"]
        store.record_run(started_at=T0 + timedelta(hours=1), finished_at=T0 + timedelta(hours=1),
                         profiles=["etna"], errors=[], assets=[],
                         balances=[Balance("etna", "etna", "A1", equity=Decimal("1.50"))])
    assert header(path) == (APPLICATION_ID, SCHEMA_VERSION, "wal")
    with Store.open(path, readonly=True) as store:
        assert [str(p.value) for p in store.series("equity")] == [
            "19638.14545186560000000000", "1.50"]


def test_an_empty_file_becomes_ours_but_not_by_reading(tmp_path):
    path = tmp_path / "empty.db"
    path.touch()
    with pytest.raises(ConfigError, match="is empty"):
        Store.open(path, readonly=True)
    assert path.stat().st_size == 0
    Store.open(path).close()
    assert header(path)[0] == APPLICATION_ID


def test_history_on_an_older_schema_asks_for_a_snapshot_and_changes_nothing(tmp_path):
    path = sqlite_file(tmp_path / "v1.db", *MIGRATIONS[0], "PRAGMA user_version = 1")
    before = md5(path)
    result = run_cli("history", "--db", str(path))
    assert result.returncode == 3
    assert "schema version 1, older than this balancecli's" in result.stderr
    assert "run: balancecli snapshot" in result.stderr
    assert md5(path) == before


def test_history_never_creates_a_database(tmp_path):
    path = tmp_path / "nothing" / "h.db"
    for args in (["history"], ["history", "--at", "now"],
                 ["history", "--prune", "--keep", "1d", "--dry-run"],
                 ["history", "--prune", "--keep", "1d", "--yes"]):
        result = run_cli(*args, "--db", str(path))
        assert result.returncode == 3 and "no history database" in result.stderr, args
    assert not path.parent.exists()


def _without_file_permissions_bypass() -> list[str]:
    """A prefix that makes root subject to file permissions (as any user is), or skip."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if not setpriv:
        pytest.skip("running as root without setpriv: cannot make a directory read-only")
    return [setpriv, "--bounding-set=-dac_override,-dac_read_search,-fowner", "--"]


@pytest.mark.parametrize("leftovers", [False, True], ids=["clean", "with-wal-and-shm"])
def test_history_reads_a_database_on_read_only_media(tmp_path, leftovers):
    media = tmp_path / "media"
    path = our_v2_unmarked(media / "h.db")
    with Store.open(path) as store:  # WAL and marked, as a snapshot leaves it
        store.record_run(started_at=T0 + timedelta(hours=1), finished_at=T0 + timedelta(hours=1),
                         profiles=["etna"], errors=[], assets=[],
                         balances=[Balance("etna", "etna", "A1", equity=Decimal("2.25"))])
    if leftovers:  # a reader's companion files, left behind as SQLite does
        conn = sqlite3.connect(path.as_uri() + "?mode=ro", uri=True)
        conn.execute("SELECT 1 FROM runs").fetchall()
        conn.close()
        assert (media / "h.db-wal").exists() and (media / "h.db-shm").exists()
    names = sorted(os.listdir(media))
    digests = {name: md5(media / name) for name in names}
    for name in names:
        (media / name).chmod(0o444)
    media.chmod(0o555)
    try:
        cmd = [*_without_file_permissions_bypass(), balancecli_exe(), "history", "--db", str(path)]
        result = subprocess.run([*cmd, "--field", "equity", "-f", "jsonl"], capture_output=True,
                                text=True, timeout=60)
        at = subprocess.run([*cmd, "--at", "now", "-f", "csv"], capture_output=True, text=True,
                            timeout=60)
        snap = subprocess.run([*cmd[:-3], "--demo", "snapshot", "--db", str(path)],
                              capture_output=True, text=True, timeout=60)
    finally:
        media.chmod(0o755)
    assert result.returncode == 0, result.stderr
    assert [str(json.loads(line, parse_float=Decimal)["equity"])
            for line in result.stdout.splitlines()] == ["19638.14545186560000000000", "2.25"]
    assert at.returncode == 0 and "2.25" in at.stdout, at.stderr
    # Writing is what fails on read-only media: one line, exit 3, nothing changed.
    assert snap.returncode == 3, snap.stderr
    assert "Traceback" not in snap.stderr and snap.stderr.count("\n") == 1
    assert sorted(os.listdir(media)) == names
    assert {name: md5(media / name) for name in names} == digests
    assert stat.S_IMODE(path.stat().st_mode) == 0o444
