"""Benchmark of table rendering (the budget: 10,000 rows in under 0.5 s and 100 MB peak).

A script, not a timed test:  python tests/bench/bench_render.py

1. In process: 10,000 balance rows (every column filled, five currencies, up to 12 decimals)
   turned into a table (display precision, exact totals) and drawn, off a terminal and at 120
   columns with colour; best of 5, and the peak of Python allocations (tracemalloc).
2. The installed command: `balancecli balance` (table, then `-f json`) over a Quantower export
   of 10,000 accounts, stdout to a pipe: wall time and the child's peak RSS.
"""

from __future__ import annotations

import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from balancecli.core.models import Balance  # noqa: E402
from balancecli.output import render  # noqa: E402
from balancecli.output.specs import BALANCE  # noqa: E402
from balancecli.output.table import render as draw  # noqa: E402

N = 10_000
EXE = str(Path(sys.executable).with_name("balancecli"))
CURRENCIES = ("USD", "HKD", "JPY", "USDT", "BTC")
AMOUNTS = ("cash", "available", "withdrawable", "buying_power", "equity", "market_value",
           "initial_margin", "maintenance_margin", "unrealized_pnl", "realized_pnl")


def amount(rng: random.Random, decimals: int) -> Decimal:
    return Decimal(f"{rng.randint(-10**9, 10**10)}.{rng.randint(0, 10**decimals - 1):0{decimals}d}")


def rows(rng: random.Random, decimals: int = 12) -> list[Balance]:
    return [Balance(profile=f"p{i % 7}", broker="tradestation", account_id=f"ACC{i:06d}",
                    account_name=f"Account number {i}", currency=CURRENCIES[i % 5],
                    **{name: amount(rng, decimals) for name in AMOUNTS}) for i in range(N)]


def in_process() -> None:
    """Wall and CPU time (best of 5: the CPU figure does not depend on other load)."""
    for decimals in (12, 2):
        data = rows(random.Random(7), decimals)
        for label, width, color in (("off a terminal", None, False),
                                    ("120 columns, colour", 120, True)):
            wall = cpu = float("inf")
            for _ in range(5):
                started, cpu_started = time.perf_counter(), time.process_time()
                text = draw(render.table(BALANCE, data), width=width, color=color).text
                wall = min(wall, time.perf_counter() - started)
                cpu = min(cpu, time.process_time() - cpu_started)
            tracemalloc.start()
            draw(render.table(BALANCE, data), width=width, color=color)
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            print(f"render 10,000 balance rows x 10 amounts of {decimals:2d} decimals, "
                  f"{label}: wall {wall:.3f} s, CPU {cpu:.3f} s, allocations peak "
                  f"{peak / 2**20:.1f} MB, {len(text.splitlines())} lines (budget 0.5 s, 100 MB)")


def export(path: Path) -> None:
    rng = random.Random(11)
    accounts = [{"Id": f"QT{i:06d}", "Name": f"Account {i}", "ConnectionId": "c",
                 "ConnectionName": "C", "AccountCurrency": CURRENCIES[i % 5],
                 "Balance": float(amount(rng, 2))} for i in range(N)]
    path.write_text(json.dumps({"Format": "balancecli.quantower/1",
                                "GeneratedAt": "2026-11-21T19:00:00Z", "Accounts": accounts}))


def whole_command() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "export.json"
        export(source)
        config = Path(tmp) / "config.toml"
        config.write_text(f'[profiles.qt]\nbroker = "quantower"\nsource = "{source.as_posix()}"'
                          "\nmax_age = 0\n")
        env = dict(os.environ, BALANCECLI_CONFIG=str(config),
                   PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring")
        probe = ("import resource, subprocess, sys, time; t = time.perf_counter(); "
                 "p = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL); "
                 "print(p.returncode, time.perf_counter() - t, "
                 "resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
        for args in (["balance"], ["balance", "-f", "json"], ["--version"]):
            out = subprocess.run([sys.executable, "-c", probe, EXE, *args], env=env,
                                 capture_output=True, text=True, check=True).stdout
            code, seconds, rss = out.split()
            assert code == "0", out
            print(f"balancecli {' '.join(args):18s} 10,000 Quantower accounts: "
                  f"{float(seconds):.2f} s, peak RSS {int(rss) / 1024:.0f} MB")


if __name__ == "__main__":
    print(f"python {sys.version.split()[0]}, max RSS so far "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    in_process()
    whole_command()
