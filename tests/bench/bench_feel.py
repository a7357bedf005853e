"""The start-up a person feels, in one run (a script, not a timed test):
python tests/bench/bench_cli.py feel   (or: python tests/bench/bench_feel.py [ROUNDS])

Whole processes of the installed command, each figure the median of ROUNDS runs with its
min-max, the cases taken in turn within each round so that a load change on this shared machine
touches all of them alike:

- Tab (what the shipped bash script sends): command names, ``-p`` with 50 profiles, ``-a`` with a
  history store of 2,000 snapshots (20,000 balance rows), and the ``-p`` Tab through Typer's own
  completion for comparison (the path before the completion table);
- ``--version`` (and through Typer: ``--no-color --version``), ``--help``;
- ``balance -f json`` over 10 accounts (4 brokers, fakes at 100 ms latency in a process of their
  own, every secret from the environment) against the plain requests + ThreadPoolExecutor
  script making the same calls.

Targets: Tab <= 80 ms, --version <= 60 ms, 10 accounts <= x1.2 of the plain script.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench_completion import fill_store  # noqa: E402
from bench_scale import SCRIPT, Fakes, compiled  # noqa: E402

EXE = str(Path(sys.executable).with_name("balancecli"))
ROUNDS = 21
WORDBREAKS = "\"'><=;|&(:"


def wall(cmd: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    proc = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - started
    assert proc.returncode == 0, (cmd, proc.stderr)
    return elapsed


def rounds(cases: dict[str, Callable[[], float]], n: int) -> dict[str, list[float]]:
    """Every case once per round, in an order rotating from round to round."""
    for call in cases.values():
        call()  # warm-up: page cache, byte-code
    names = list(cases)
    samples: dict[str, list[float]] = {name: [] for name in names}
    for i in range(n):
        for name in names[i % len(names):] + names[:i % len(names)]:
            samples[name].append(cases[name]())
    return samples


def tab(env: dict[str, str], line: str, typer: bool = False) -> Callable[[], float]:
    request = {**env, "_BALANCECLI_COMPLETE": "complete_bash", "_BALANCECLI_COMP_LINE": line,
               "_BALANCECLI_COMP_WORDBREAKS": WORDBREAKS}
    # Through Typer: the app's main() itself, as the console script ran it before the table.
    cmd = [sys.executable, "-c", "from balancecli.cli.app import main; main()"] if typer \
        else [EXE]
    return lambda: wall(cmd, request)


def load() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def startup_cases(tmp: Path) -> dict[str, Callable[[], float]]:
    config = tmp / "config.toml"
    config.write_text("".join(f'[profiles.p{i}]\nbroker = "etna"\nbase_url = '
                              f'"https://example.com/api"\n\n' for i in range(50)))
    db = tmp / "history.sqlite3"
    fill_store(db)
    env = {**os.environ, "BALANCECLI_CONFIG": str(config), "BALANCECLI_DB": str(db),
           "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}
    return {
        "python -c pass (the floor)": lambda: wall([sys.executable, "-c", "pass"], env),
        "Tab: balancecli <Tab> (command names)": tab(env, "balancecli "),
        "Tab: balance -p <Tab> (50 profiles)": tab(env, "balancecli balance -p "),
        "Tab: balance -a <Tab> (2,000 snapshots)": tab(env, "balancecli balance -a "),
        "Tab: balance -p <Tab>, through Typer": tab(env, "balancecli balance -p ", typer=True),
        "balancecli --version": lambda: wall([EXE, "--version"], env),
        "balancecli --no-color --version (Typer)": lambda: wall(
            [EXE, "--no-color", "--version"], env),
        "balancecli --help": lambda: wall([EXE, "--help"], env),
    }


TARGETS = {"Tab: balancecli <Tab> (command names)": 0.080,
           "Tab: balance -p <Tab> (50 profiles)": 0.080,
           "Tab: balance -a <Tab> (2,000 snapshots)": 0.080, "balancecli --version": 0.060}


def line(name: str, values: list[float], note: str = "") -> str:
    median = statistics.median(values)
    target = TARGETS.get(name)
    verdict = (f"  target {target * 1000:.0f} ms: {'ok' if median <= target else 'OVER'}"
               if target else "")
    return (f"  {name:<42} {median * 1000:7.1f} ms  ({min(values) * 1000:6.1f}-"
            f"{max(values) * 1000:6.1f}){verdict}{note}")


def ten_accounts(n: int) -> dict[str, list[float]]:
    script = Path(tempfile.mkdtemp()) / "plain.py"
    script.write_text(SCRIPT)
    fakes = Fakes(10)
    try:
        cli = [EXE, "balance", "-f", "json"]
        plain = [sys.executable, str(script), str(fakes.spec)]
        return rounds({"balancecli balance -f json (10 accounts)": lambda: wall(cli, fakes.env),
                       "plain requests + ThreadPoolExecutor script": lambda: wall(
                           plain, fakes.env)}, n)
    finally:
        fakes.close()


def main(n: int = ROUNDS) -> None:
    compiled()
    print(f"start-up a person feels: median of {n} runs (min-max); load average {load()}")
    with tempfile.TemporaryDirectory() as tmp:
        for name, values in rounds(startup_cases(Path(tmp)), n).items():
            print(line(name, values), flush=True)
    fetched = ten_accounts(n)
    ours, plain = fetched.values()
    for name, values in fetched.items():
        print(line(name, values), flush=True)
    ratio = statistics.median(ours) / statistics.median(plain)
    pairs = statistics.median(a / b for a, b in zip(ours, plain, strict=True))
    print(f"  10 accounts: x{ratio:.2f} of the plain script (median of per-round ratios "
          f"x{pairs:.2f}); target x1.20: {'ok' if ratio <= 1.2 else 'OVER'}")
    print(f"load average at the end {load()}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else ROUNDS)
