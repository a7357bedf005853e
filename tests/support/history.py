"""The history store as tests need it: runs taken by the real ``snapshot`` command, moved to
times the test chooses, so that no assertion depends on when the suite happens to run."""

from __future__ import annotations

import sqlite3
from datetime import datetime
from pathlib import Path

import platformdirs

from balancecli.history.formats import format_time


def demo_db() -> Path:
    """The store ``balancecli --demo snapshot`` writes to in the test's own HOME."""
    return Path(platformdirs.user_data_dir("balancecli")) / "history-demo.sqlite3"


def pin_runs(db: Path, times: list[datetime]) -> None:
    """Give the stored runs, oldest first, the given start times (and their rows the same)."""
    conn = sqlite3.connect(db)
    try:
        with conn:
            ids = [row[0] for row in conn.execute("SELECT id FROM runs ORDER BY started_at, id")]
            assert len(ids) == len(times), f"{len(ids)} runs stored, {len(times)} times given"
            for run_id, when in zip(ids, times, strict=True):
                text = format_time(when)
                conn.execute("UPDATE runs SET started_at = ?, finished_at = ? WHERE id = ?",
                             (text, text, run_id))
                for table in ("balances", "assets", "rates"):
                    conn.execute(f"UPDATE {table} SET taken_at = ? WHERE run_id = ?",
                                 (text, run_id))
    finally:
        conn.close()
