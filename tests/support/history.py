"""The history store as tests need it: runs taken by the real ``snapshot`` command, moved to
times the test chooses, so that no assertion depends on when the suite happens to run; and
runs of rows a test writes itself (``balance``, ``record``)."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta
from pathlib import Path

import platformdirs

from balancecli.core.models import Balance
from balancecli.history import Store
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


def balance(profile: str, account: str, **fields):
    """A balance row of ``profile`` (broker ``etna`` unless given)."""
    broker = fields.pop("broker", "etna")
    return Balance(profile=profile, broker=broker, account_id=account, **fields)


def record(store: Store, when: datetime, balances=(), assets=(), errors=(), rates=()) -> int:
    """One stored run at ``when`` (it took two seconds) of these rows."""
    profiles = sorted({b.profile for b in balances} | {a.profile for a in assets})
    return store.record_run(started_at=when, finished_at=when + timedelta(seconds=2),
                            profiles=profiles, balances=list(balances), assets=list(assets),
                            errors=list(errors), rates=list(rates))
