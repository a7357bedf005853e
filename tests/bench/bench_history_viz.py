"""Benchmark of the history pictures on a year of 15-minute snapshots of 10 accounts (35,040
runs; not a pytest test): the whole installed commands (``--commands``), and their pieces.

    .venv/bin/python tests/bench/bench_history_viz.py [--keep DB] [--repeat 5] [--only NAME]
    .venv/bin/python tests/bench/bench_history_viz.py --keep DB --commands [--repeat 9]

``--commands`` runs the installed ``balancecli history`` as a user does (a fresh process each
time, stdout to a pipe; the chart 120 x 40 through ``COLUMNS``/``LINES``) and prints the median
wall time and the peak RSS of each: the figures of the README's performance notes.

The store is built once (``--keep DB`` reuses it): the demo's sample rows (10 balances and 15
assets, the brokers' own ``extra``) moved by ``demo.past`` to every 15 minutes of a year and
written by the real ``Store.record_run`` with the rates a ``--demo snapshot`` stores (one
transaction per run, as cron writes them; ``synchronous=OFF`` only to build it faster). It
prints how the store grows (bytes per run, per year, per table), then runs each piece in a
fresh process ``--repeat`` times and prints the median time of the piece (after the
interpreter and ``balancecli.history`` are loaded), the median whole-process time, and the
process's peak RSS (ru_maxrss; the same process idle, after those imports, for comparison).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
END = datetime(2026, 12, 1, tzinfo=UTC)
EVERY = timedelta(minutes=15)
ACCOUNT = "11827392"  # a TradeStation margin account of the demo
WIDTH, HEIGHT = 120, 40


# ---------------------------------------------------------------------------------------------
# Building the store


def build(path: Path, days: int) -> float:
    sys.path.insert(0, str(ROOT))
    from balancecli.demo.past import past_runs
    from balancecli.history import Store
    from balancecli.money.valuation import broker_quotes
    from tests.support.demo_rows import sample_rows

    balances, assets = sample_rows()
    t0 = time.perf_counter()
    with Store.open(path) as store:
        store._conn.execute("PRAGMA synchronous = OFF")  # bench only: build faster
        for i, run in enumerate(past_runs(balances, assets, end=END, days=days, every=EVERY)):
            rates = [(p, a, r) for (p, a), quotes in broker_quotes(run.balances,
                                                                  run.assets).items()
                     for r in quotes]
            store.record_run(**run._asdict(), errors=[], rates=rates)
            if i % 5000 == 0:
                print(f"  ... {i:,} runs", flush=True)
        store._conn.execute("ANALYZE")
    return time.perf_counter() - t0


def growth(path: Path) -> None:
    import sqlite3

    conn = sqlite3.connect(path)
    runs = conn.execute("SELECT count(*) FROM runs").fetchone()[0]
    size = path.stat().st_size
    print(f"store: {runs:,} runs, {size / 1e6:.1f} MB: {size / runs:,.0f} bytes per run, "
          f"{size / runs * 35_040 / 1e6:.0f} MB per year of 15-minute runs "
          f"({size / runs / 10:,.0f} bytes per account per run)")
    try:
        parts = conn.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name"
                             " ORDER BY 2 DESC").fetchall()
    except sqlite3.OperationalError:
        parts = []
    for name, used in parts[:8]:
        print(f"  {name:<24} {used / runs:8,.0f} bytes per run")
    for column in ("extra_json",):
        share = conn.execute(f"SELECT sum(length({column})) FROM balances").fetchone()[0] or 0
        share += conn.execute(f"SELECT sum(length({column})) FROM assets").fetchone()[0] or 0
        print(f"  of which {column}: {share / runs:,.0f} bytes per run")
    conn.close()


# ---------------------------------------------------------------------------------------------
# The pieces (each runs in a child process)


def _edges(store: Any, period: str) -> list[tuple[str, str]]:
    from balancecli.history.resample import period_edges

    _, first, last = store.run_span()
    return period_edges(first, last, period)


def _series_1d(store: Any) -> int:
    return sum(1 for _ in store.iter_series_closes("equity", _edges(store, "1d")))


def _series_1d_stream(store: Any) -> int:
    """The same closes from every stored point (the pure function over iter_series)."""
    from balancecli.history.resample import closes

    kept = closes(store.iter_series("equity"), "1d",
                  group=lambda p: (p.profile, p.broker, p.account_id, p.currency),
                  outer=lambda p: p.account_id)
    return sum(1 for _ in kept)


def _account_1d(store: Any) -> int:
    return len(list(store.iter_series_closes("equity", _edges(store, "1d"),
                                             account_ids=[ACCOUNT])))


def _pick(store: Any) -> str | None:
    from balancecli.history.resample import choose_period

    def count(period: str) -> int:
        return int(store.periods_with_rows(_edges(store, period), account_ids=[ACCOUNT]))

    return choose_period(store.count_points(account_ids=[ACCOUNT]), count, HEIGHT - 4)


def _valued(store: Any, stamps: Any) -> list[tuple[str, Any]]:
    """Net worth in USD of each run of ``stamps``, with that run's rates (as history --in)."""
    from datetime import date

    from balancecli.money.ecb import load_ecb
    from balancecli.money.rates import Settings
    from balancecli.money.valuation import value_accounts
    from balancecli.service.networth import _run_rates

    settings, ecb = Settings(), load_ecb()
    out = []
    for run in store.iter_rows_of_runs(stamps):
        rates = _run_rates(run, settings, lambda: ecb, date.fromisoformat(run.taken_at[:10]))
        converted = value_accounts(run.balances, run.assets, rates, "USD", failed=not run.ok)
        out.append((run.taken_at, converted.total))
    return out


def _networth_1w(store: Any) -> int:
    return len(_valued(store, store.iter_run_closes(_edges(store, "1w"))))


def _networth_all(store: Any) -> int:
    """Today's ``history --in USD``: every run valued (the rows of all 35,040 runs)."""
    return len(_valued(store, store.iter_run_stamps()))


def _totals_1d(store: Any) -> Any:
    from balancecli.history.resample import run_totals

    kept = list(store.iter_run_closes(_edges(store, "1d")))
    return list(run_totals(store.iter_points_by_run("equity", stamps=kept)))


def _chart_networth_1d(store: Any) -> int:
    from balancecli.output.chart import Series, draw

    points = _valued(store, store.iter_run_closes(_edges(store, "1d")))
    return len(draw([Series("Net worth (USD)", "USD", points)], width=WIDTH, height=HEIGHT))


def _chart_totals_1d(store: Any) -> int:
    from balancecli.output.chart import Series, draw

    by_currency: dict[Any, list[Any]] = {}
    for t in _totals_1d(store):
        by_currency.setdefault(t.currency, []).append((t.taken_at, t.total))
    series = [Series(f"{c} total equity", c, pts) for c, pts in sorted(by_currency.items(),
                                                                        key=str)]
    return len(draw(series, width=WIDTH, height=HEIGHT))


def _chart_raw(store: Any) -> int:
    from balancecli.output.chart import Series, draw

    points = [(p.taken_at, p.value) for p in store.iter_series("equity", account_ids=[ACCOUNT])]
    return len(draw([Series(f"{ACCOUNT} equity", "USD", points)], width=WIDTH, height=HEIGHT))


def _demo_seed(store: Any) -> int:
    """The demo's past (90 days every 4 hours) generated and recorded into a new store, one
    transaction per run as ``record_run`` writes (the sample rows are fetched first, untimed:
    the wiring has them from the fetch it does anyway)."""
    from balancecli.demo.past import past_runs
    from balancecli.history import Store
    from balancecli.money.valuation import broker_quotes
    from tests.support.demo_rows import sample_rows

    balances, assets = sample_rows()
    with tempfile.TemporaryDirectory() as tmp, Store.open(Path(tmp) / "demo.sqlite3") as demo:
        count = 0
        for run in past_runs(balances, assets, end=END):
            rates = [(p, a, r) for (p, a), quotes in broker_quotes(run.balances,
                                                                  run.assets).items()
                     for r in quotes]
            demo.record_run(**run._asdict(), errors=[], rates=rates)
            count += 1
    return count


PIECES: dict[str, tuple[str, Callable[[Any], Any]]] = {
    "series-1d": ("every account's equity, daily closes (history --every 1d)", _series_1d),
    "series-1d-stream": ("  the same from every point (closes() over iter_series)",
                         _series_1d_stream),
    "account-1d": ("one account, daily closes (history -a ACC --every 1d)", _account_1d),
    "pick": ("the period that fits 36 rows, one account (35,040 points)", _pick),
    "pick-stream": ("  the same from every point (pick_period over iter_series)",
                    lambda store: __import__("balancecli.history.resample").history.resample
                    .pick_period(store.iter_series("equity", account_ids=[ACCOUNT]),
                                 HEIGHT - 4)),
    "networth-1w": ("net worth in USD, weekly closes (history --in USD --every 1w)",
                    _networth_1w),
    "totals-1d": ("per-currency totals of equity by run, daily closes", _totals_1d),
    "chart-networth": ("chart of net worth, daily closes, 120x40", _chart_networth_1d),
    "chart-totals": ("chart of per-currency totals, daily closes (history --chart)",
                     _chart_totals_1d),
    "chart-raw": ("chart of one account's 35,040 raw points", _chart_raw),
    "networth-all": ("for comparison: every run valued (history --in USD today)",
                     _networth_all),
    "demo-seed": ("the demo's past: 540 runs generated and recorded (fetch excluded)",
                  _demo_seed),
}


def child(name: str, db: str) -> None:
    import resource

    start = time.perf_counter()
    sys.path.insert(0, str(ROOT))
    from balancecli.history import Store

    if name in ("networth-1w", "chart-networth", "networth-all"):
        # typer and the command modules: loaded by any real command before it gets here
        import balancecli.service.networth  # noqa: F401
    if name == "demo-seed":
        from tests.support.demo_rows import sample_rows

        sample_rows()  # fetched before the clock starts (cached)
    idle = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    with Store.open(db, readonly=True) as store:
        result = PIECES[name][1](store)
    elapsed = time.perf_counter() - t0
    print(json.dumps({"elapsed": elapsed, "process": time.perf_counter() - start,
                      "idle_kb": idle,
                      "result": len(result) if hasattr(result, "__len__") else result}))


# A small launcher starts each child and reads its peak RSS with wait4: a child forked from
# this process (large after building the store) would report this process's peak as its own.
LAUNCHER = """
import json, os, subprocess, sys
child = subprocess.Popen(sys.argv[1:], stdout=subprocess.PIPE)
out = child.stdout.read()
_, status, usage = os.wait4(child.pid, 0)
assert os.waitstatus_to_exitcode(status) == 0, out
print(json.dumps({**json.loads(out), "peak_kb": usage.ru_maxrss}))
"""


def measure(name: str, db: Path, repeat: int) -> None:
    runs = []
    for _ in range(repeat if name not in ("networth-all", "demo-seed") else 1):
        out = subprocess.run([sys.executable, "-c", LAUNCHER, sys.executable, __file__,
                              "--child", name, "--db", str(db)],
                             capture_output=True, text=True, check=True)
        runs.append(json.loads(out.stdout))
    piece = statistics.median(r["elapsed"] for r in runs)
    whole = statistics.median(r["process"] for r in runs)
    peak = max(r["peak_kb"] for r in runs) / 1024
    idle = min(r["idle_kb"] for r in runs) / 1024
    spread = f"{min(r['elapsed'] for r in runs) * 1000:.0f}-" \
             f"{max(r['elapsed'] for r in runs) * 1000:.0f}"
    print(f"  {PIECES[name][0]:<66} {piece * 1000:7.0f} ms ({spread}), process "
          f"{whole * 1000:5.0f} ms, peak RSS {peak:4.0f} MB (idle {idle:.0f}) "
          f"[{runs[0]['result']}]", flush=True)


def command(db: Path, repeat: int) -> None:
    """The installed command today, for what the wiring adds around the pieces: start-up,
    options, opening the store and printing (a day of one account, as JSON)."""
    exe = Path(sys.executable).with_name("balancecli")
    args = [str(exe), "history", "--db", str(db), "-a", ACCOUNT, "--since",
            "2026-11-30T00:00:00Z", "-f", "json"]
    timing = """
import json, os, subprocess, sys, time
t0 = time.perf_counter()
child = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL)
_, status, usage = os.wait4(child.pid, 0)
print(json.dumps({"elapsed": time.perf_counter() - t0, "peak_kb": usage.ru_maxrss,
                  "code": os.waitstatus_to_exitcode(status)}))
"""
    runs = [json.loads(subprocess.run([sys.executable, "-c", timing, *args], check=True,
                                      capture_output=True, text=True).stdout)
            for _ in range(repeat)]
    print(f"  {'the command today: history -a ACC --since (one day) -f json':<66} "
          f"{statistics.median(r['elapsed'] for r in runs) * 1000:7.0f} ms, peak RSS "
          f"{max(r['peak_kb'] for r in runs) / 1024:.0f} MB (exit {runs[0]['code']})")


COMMANDS = {
    "every-1d": ("history --every 1d (every account, daily closes)", ["--every", "1d"]),
    "in-usd-1w": ("history --in USD --every 1w (net worth, weekly)", ["--in", "USD", "--every",
                                                                      "1w"]),
    "chart": ("history --chart (each currency's total, 120 x 40)", ["--chart"]),
    "chart-in": ("history --in USD --chart (net worth, 120 x 40)", ["--in", "USD", "--chart"]),
    "chart-account": ("history -a ACC --chart (one account, 120 x 40)", ["-a", ACCOUNT,
                                                                        "--chart"]),
    "account-1d": ("history -a ACC --every 1d (one account's points table)",
                   ["-a", ACCOUNT, "--every", "1d"]),
}


def commands(db: Path, repeat: int, only: list[str] | None) -> None:
    """Each command as a whole: median wall time and peak RSS of ``repeat`` processes."""
    exe = Path(sys.executable).with_name("balancecli")
    timing = """
import json, os, subprocess, sys, time
t0 = time.perf_counter()
child = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
err = child.stderr.read()
_, status, usage = os.wait4(child.pid, 0)
print(json.dumps({"elapsed": time.perf_counter() - t0, "peak_kb": usage.ru_maxrss,
                  "code": os.waitstatus_to_exitcode(status), "err": err.decode()[-300:]}))
"""
    env = {**os.environ, "COLUMNS": str(WIDTH), "LINES": str(HEIGHT), "TZ": "UTC"}
    for name in only or COMMANDS:
        title, args = COMMANDS[name]
        runs = [json.loads(subprocess.run(
            [sys.executable, "-c", timing, str(exe), "history", "--db", str(db), *args],
            check=True, capture_output=True, text=True, env=env).stdout) for _ in range(repeat)]
        assert all(r["code"] == 0 for r in runs), runs[0]["err"]
        times = sorted(r["elapsed"] for r in runs)
        print(f"  {title:<58} {statistics.median(times) * 1000:6.0f} ms "
              f"({times[0] * 1000:.0f}-{times[-1] * 1000:.0f}), peak RSS "
              f"{max(r['peak_kb'] for r in runs) / 1024:4.0f} MB", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, help="build the store here, or reuse it")
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--only", action="append", choices=[*PIECES, *COMMANDS])
    parser.add_argument("--commands", action="store_true",
                        help="the whole installed commands instead of the pieces")
    parser.add_argument("--child")
    parser.add_argument("--db")
    args = parser.parse_args()
    if args.child:
        child(args.child, args.db)
        return
    tmp = tempfile.TemporaryDirectory()
    path = args.keep or Path(tmp.name) / "history.sqlite3"
    if not path.exists():
        print(f"building {args.days} days of 15-minute runs of the demo's 10 accounts ...")
        print(f"  built in {build(path, args.days):.0f} s")
    growth(path)
    import compileall

    compileall.compile_dir(ROOT / "balancecli", quiet=1)  # as pip does for an installed package
    print(f"load: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} "
          f"{os.getloadavg()[2]:.2f} (1/5/15 min) on {os.cpu_count()} cores; medians of "
          f"{args.repeat} processes")
    if args.commands:
        commands(path, args.repeat, args.only)
        tmp.cleanup()
        return
    for name in args.only or PIECES:
        measure(name, path, args.repeat)
    if not args.only:
        command(path, args.repeat)
    tmp.cleanup()


if __name__ == "__main__":
    main()
