"""Benchmark of ``--in CUR`` (not a pytest test).

    .venv/bin/python tests/bench/bench_networth.py [--runs 8760] [--accounts 10] [--repeat 3]

Prints: loading the bundled ECB file and one cross-rate lookup; ``balance --in USD`` against
``balance`` on the demo brokers (the extra cost of valuing); and ``history --in USD -f jsonl``
end to end over a temporary database of RUNS snapshots of ACCOUNTS accounts (default: a year of
hourly runs; half the accounts in HKD, so every run needs an ECB rate of its own day, and a
Quantower-like account valued from its assets). Medians of REPEAT runs, wall time and peak RSS.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

EXE = str(Path(sys.executable).with_name("balancecli"))


def timed(args: list[str], env: dict[str, str], repeat: int) -> tuple[float, float]:
    """(median seconds, max peak RSS in MB) of the command, output discarded."""
    times, peak = [], 0.0
    for _ in range(repeat):
        t0 = time.perf_counter()
        child = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                 env=env)
        _, status, usage = os.wait4(child.pid, 0)
        times.append(time.perf_counter() - t0)
        assert os.waitstatus_to_exitcode(status) == 0, args
        peak = max(peak, usage.ru_maxrss / 1024)
    return statistics.median(times), peak


def fill(db: Path, runs: int, accounts: int) -> None:
    from balancecli.core.models import Asset, Balance
    from balancecli.history import Store

    start = datetime(2025, 11, 1, tzinfo=UTC)
    with Store.open(db) as store:
        store._conn.execute("PRAGMA synchronous = OFF")  # bulk load
        for run in range(runs):
            when = start + timedelta(hours=run)
            balances = [
                Balance("p", "etna", f"A{i}", currency="HKD" if i % 2 else "USD",
                        equity=Decimal(100000 + run + i) / 100)
                for i in range(accounts - 1)]
            balances.append(Balance("qt", "quantower", "C1", currency="USDT",
                                    account_type="crypto", available=Decimal("1")))
            assets = [Asset("qt", "quantower", "C1", "BTC", total=Decimal("0.5"),
                            value_usd=Decimal(48000 + run)),
                      Asset("qt", "quantower", "C1", "USDT", total=Decimal("10"),
                            value_usd=Decimal("10"))]
            store.record_run(started_at=when, finished_at=when, profiles=["p", "qt"],
                             balances=balances, assets=assets, errors=[])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=8760)
    parser.add_argument("--accounts", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    from balancecli.money.ecb import load_ecb
    from balancecli.money.rates import Rates

    t0 = time.perf_counter()
    table = load_ecb()
    t1 = time.perf_counter()
    rate = Rates(day=date(2020, 3, 16), ecb=table).find("HKD", "JPY")
    t2 = time.perf_counter()
    print(f"ECB file ({table.origin}, {len(table._lines)} days): load {1000 * (t1 - t0):.1f} ms;"
          f" first HKD→JPY lookup {1000 * (t2 - t1):.2f} ms (rate {rate.value:.6g})")

    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "XDG_CACHE_HOME": tmp, "XDG_CONFIG_HOME": tmp,
               "XDG_DATA_HOME": tmp}
        plain = timed([EXE, "--demo", "balance", "-f", "json"], env, args.repeat)
        valued = timed([EXE, "--demo", "balance", "--in", "USD", "-f", "json"], env,
                       args.repeat)
        print(f"demo balance: {plain[0]:.3f} s; with --in USD: {valued[0]:.3f} s "
              f"(+{valued[0] - plain[0]:.3f} s); peak {valued[1]:.0f} MB")
        db = Path(tmp) / "bench.sqlite3"
        t0 = time.perf_counter()
        fill(db, args.runs, args.accounts)
        print(f"filled {args.runs} runs x {args.accounts} accounts in "
              f"{time.perf_counter() - t0:.1f} s")
        for fmt in ("jsonl", "table"):
            seconds, peak = timed([EXE, "history", "--in", "USD", "--db", str(db), "-f", fmt],
                                  env, args.repeat)
            print(f"history --in USD -f {fmt}: {seconds:.2f} s "
                  f"({1e6 * seconds / args.runs:.0f} µs per run), peak {peak:.0f} MB")
    print(f"(this process: peak {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f}"
          " MB)")


if __name__ == "__main__":
    main()
