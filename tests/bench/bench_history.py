"""Benchmark of the history store over one million stored balance rows (not a pytest test).

    .venv/bin/python tests/bench/bench_history.py [--rows 1000000] [--accounts 40] [--keep DB]

Fills a temporary database (40 accounts x 25,000 runs taken every 15 minutes, about 260 days of
cron snapshots) with a fast bulk insert, then prints how long ``Store.series()`` takes for one
account over 30 days and over everything, for all accounts over 30 days and over everything,
``balances_at()``, and ``balancecli history`` end to end, plus each query's plan.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from balancecli.history import BALANCE_FIELDS, Store, format_time

LAUNCHER = """
import os, subprocess, sys, tempfile, time
with tempfile.TemporaryFile() as out:
    t0 = time.perf_counter()
    child = subprocess.Popen(sys.argv[1:], stdout=out, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    elapsed = time.perf_counter() - t0
    print(elapsed, os.waitstatus_to_exitcode(status), out.seek(0, os.SEEK_END), usage.ru_maxrss)
"""


def fill(store: Store, rows: int, accounts: int) -> tuple[datetime, datetime]:
    runs = rows // accounts
    rng = random.Random(1)
    end = datetime.now(UTC).replace(microsecond=0)
    start = end - timedelta(minutes=15 * (runs - 1))
    conn = store._conn  # bulk load: one transaction, no fsync per page
    conn.execute("PRAGMA synchronous = OFF")
    equity = [Decimal_text(rng.uniform(1e3, 1e6)) for _ in range(accounts)]
    cols = ("run_id", "taken_at", "profile", "broker", "account_id", "account_name",
            "currency", "as_of", "cash", "equity", "buying_power")

    def balance_rows():
        for run in range(1, runs + 1):
            taken = format_time(start + timedelta(minutes=15 * (run - 1)))
            for a in range(accounts):
                yield (run, taken, f"p{a % 4}", "etna", f"ACC{a:04d}", f"Account {a}", "USD",
                       taken[:19] + "Z", f"{rng.randrange(10**8)}.{rng.randrange(100):02d}",
                       equity[a], None)

    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO runs (id, started_at, finished_at, profiles_json, ok, error_count,"
        " errors_json, balance_count, asset_count) VALUES (?, ?, ?, '[\"p0\"]', 1, 0, '[]', ?, 0)",
        ((run, t, t, accounts) for run, t in (
            (r, format_time(start + timedelta(minutes=15 * (r - 1)))) for r in range(1, runs + 1))),
    )
    conn.executemany(
        f"INSERT INTO balances ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
        balance_rows(),
    )
    conn.execute("INSERT OR IGNORE INTO accounts SELECT DISTINCT account_id, profile, broker"
                 " FROM balances")
    conn.execute("COMMIT")
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("ANALYZE")
    return start, end


def Decimal_text(value: float) -> str:  # noqa: N802 - reads like the type it stands for
    return f"{value:.6f}"


def timed(label: str, fn, repeat: int = 3):
    best = float("inf")
    result = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t0)
    count = len(result) if hasattr(result, "__len__") else result
    print(f"  {label:<48} {best * 1000:9.1f} ms  ({count} rows)")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--accounts", type=int, default=40)
    parser.add_argument("--keep", type=Path, help="write the database here and keep it")
    args = parser.parse_args()
    tmp = tempfile.TemporaryDirectory()
    path = args.keep or Path(tmp.name) / "history.sqlite3"

    t0 = time.perf_counter()
    store = Store.open(path)
    start, end = fill(store, args.rows, args.accounts)
    size = path.stat().st_size
    print(f"filled {args.rows:,} balance rows ({args.accounts} accounts x "
          f"{args.rows // args.accounts:,} runs, {start:%Y-%m-%d} .. {end:%Y-%m-%d}) in "
          f"{time.perf_counter() - t0:.1f} s; file {size / 1e6:.0f} MB "
          f"({size / args.rows:.0f} bytes/row)")
    assert "equity" in BALANCE_FIELDS

    month = end - timedelta(days=30)
    cases = [
        ("one account, last 30 days", dict(account_ids=["ACC0007"], since=month)),
        ("one account, everything", dict(account_ids=["ACC0007"])),
        ("one account + profile filter, 30 days", dict(account_ids=["ACC0007"],
                                                       profiles=["p3"], since=month)),
        ("all accounts, last 30 days", dict(since=month)),
        ("all accounts, everything", {}),
    ]
    print("Store.series('equity', ...):")
    for label, kw in cases:
        timed(label, lambda kw=kw: store.series("equity", **kw))
        for step in store.explain(*store.series_query("equity", **kw)):
            print(f"      plan: {step}")
    print("Store.balances_at(...):")
    timed("now (latest run)", lambda: store.balances_at(end))
    timed("100 days ago", lambda: store.balances_at(end - timedelta(days=100)))
    timed("runs(limit=10)", lambda: store.runs(limit=10))
    store.close()

    exe = Path(sys.executable).with_name("balancecli")
    probe = subprocess.run([str(exe), "history", "--help"], capture_output=True)
    if probe.returncode == 0:
        print("balancecli history (end to end, one process each):")
        env = {**os.environ, "BALANCECLI_DB": str(path)}
        for label, cli_args in (
            ("history -a ACC0007 --since 30d -f json", ["-a", "ACC0007", "--since", "30d",
                                                        "-f", "json"]),
            ("history --since 30d (table, all accounts)", ["--since", "30d"]),
            ("history (table, everything)", []),
            ("history -f json (everything)", ["-f", "json"]),
            ("history -f jsonl (everything)", ["-f", "jsonl"]),
            ("history --at now -f json", ["--at", "now", "-f", "json"]),
        ):
            # Measured from a small launcher: a child forked from this (large) process would
            # report this process's memory as its own peak.
            launched = subprocess.run(
                [sys.executable, "-c", LAUNCHER, str(exe), "history", *cli_args],
                capture_output=True, text=True, env=env, check=True)
            elapsed, code, size, peak = launched.stdout.split()
            print(f"  {label:<48} {float(elapsed) * 1000:9.1f} ms  (exit {code}, "
                  f"{int(size) / 1e6:.1f} MB out, peak RSS {int(peak) / 1024:.0f} MB)")
    else:
        print("(balancecli history is not wired into the CLI yet: end-to-end figures skipped)")
    tmp.cleanup()


if __name__ == "__main__":
    main()
