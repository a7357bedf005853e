"""Benchmarks of the performance budgets (a script, not a timed test):
python tests/bench/bench_cli.py

1. Start-up: `balancecli --version` / `--help` against a bare Typer app with the same commands.
2. Fetching 40 accounts over 4 brokers at 100 ms server latency: concurrent (as shipped) vs
   sequential (profiles one after another, one request at a time), in process and through the
   installed command.
3. Peak memory (max RSS) of `balancecli balance` for 1,000 accounts, JSON and table output.
4. Scale: 10, 1,000 and 5,000 accounts over 4 brokers at 100 ms latency, fakes in a
   process of their own: `balancecli balance -f json` against a plain requests +
   ThreadPoolExecutor script doing the same calls (at each broker's concurrency ceiling, and at
   64 per host), the chain limit at the brokers' concurrency, `snapshot` against `balance`,
   client CPU per request (whole command, marginal; and the HTTP client alone against bare
   requests), and 10,000 rows written as JSON.

5. Feel: Tab, --version, --help and 10 accounts against the plain script, side by side
   (tests/bench/bench_feel.py).

Run: python tests/bench/bench_cli.py [startup] [fetch] [memory] [scale] [http] [json] [feel]
(default: all)
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from balancecli.brokers import base  # noqa: E402
from balancecli.config import validate_profile  # noqa: E402
from balancecli.service.fetch import Options, run  # noqa: E402

EXE = str(Path(sys.executable).with_name("balancecli"))
LATENCY = 0.1

BARE = '''
from pathlib import Path
from typing import Annotated
import typer
app = typer.Typer(no_args_is_help=True, pretty_exceptions_enable=False)
def _v(value: bool):
    if value:
        typer.echo("bare 0.1.0"); raise typer.Exit()
@app.callback()
def main(config: Annotated[Path | None, typer.Option("--config")] = None,
         demo: bool = False, verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
         debug: bool = False, no_color: bool = False,
         version: Annotated[bool, typer.Option("--version", callback=_v, is_eager=True)] = False):
    """Bare app."""
def data(name):
    def command(profile: Annotated[list[str] | None, typer.Option("--profile", "-p")] = None,
                account: Annotated[list[str] | None, typer.Option("--account", "-a")] = None,
                fmt: Annotated[str, typer.Option("--format", "-f")] = "table",
                timeout: float = 15.0, currency: str | None = None,
                config: Annotated[Path | None, typer.Option("--config")] = None,
                demo: bool = False, verbose: bool = False, debug: bool = False,
                no_color: bool = False):
        """A data command."""
    app.command(name)(command)
for name in ("accounts", "balance", "assets", "snapshot", "history"):
    data(name)
for group, names in (("auth", ("login", "logout", "status", "refresh")),
                     ("profile", ("add", "list", "remove", "show")), ("quantower", ("bridge",))):
    sub = typer.Typer()
    for name in names:
        sub.command(name)(lambda profile: None)
    app.add_typer(sub, name=group)
app()
'''


def timed(cmd: list[str], n: int = 30) -> float:
    runs = []
    for _ in range(n):
        started = time.perf_counter()
        subprocess.run(cmd, capture_output=True, check=True)
        runs.append(time.perf_counter() - started)
    return statistics.median(runs)


def startup() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        bare = Path(tmp) / "bare.py"
        bare.write_text(BARE)
        for flag in ("--version", "--help"):
            ours = timed([EXE, flag])
            theirs = timed([sys.executable, str(bare), flag])
            print(f"startup {flag:9s} balancecli {ours * 1000:6.1f} ms   bare Typer "
                  f"{theirs * 1000:6.1f} ms   ratio {ours / theirs:.2f} (budget 1.30)")


def start_fakes(stack: ExitStack, latency: float) -> tuple[dict, dict]:
    """40 accounts: TradeStation 12, ETNA 12, Quantower 12, LongPort 4 profiles of 1."""
    from balancecli.demo.etna import DEMO_APP_KEY, DEMO_PASSWORD, DEMO_USERNAME, FakeEtna
    from balancecli.demo.longport import DEMO_ACCESS_TOKEN, DEMO_APP_SECRET, FakeLongPort
    from balancecli.demo.longport import DEMO_APP_KEY as LP_KEY
    from balancecli.demo.quantower import DEMO_TOKEN, EXPORT_PATH, FakeQuantowerBridge
    from balancecli.demo.tradestation import FakeTradeStation

    profiles: dict[str, dict] = {}
    secrets: dict[str, dict] = {}
    ts = FakeTradeStation(latency)
    template = ts.v3["balances"]["11827391"]
    ts.v3["accounts"] = [{"AccountID": f"T{i:03d}", "AccountType": "Cash", "Currency": "USD",
                          "Status": "Active"} for i in range(12)]
    ts.v3["balances"] = {f"T{i:03d}": {**template, "AccountID": f"T{i:03d}"} for i in range(12)}
    stack.callback(ts.start().stop)
    access, refresh = ts.issue()
    profiles["ts"] = {"broker": "tradestation", "base_url": ts.url,
                      "token_url": ts.url + "/oauth/token"}
    secrets["ts"] = {"ACCESS_TOKEN": access, "REFRESH_TOKEN": refresh,
                     "CLIENT_ID": ts.client_id, "CLIENT_SECRET": ts.client_secret}

    etna = FakeEtna(latency)
    info = etna.infos["83267"]
    etna.accounts = [{**etna.accounts[0], "Id": 90000 + i, "ClearingAccount": str(90000 + i)}
                     for i in range(12)]
    etna.infos = {str(90000 + i): info for i in range(12)}
    stack.callback(etna.start().stop)
    profiles["etna"] = {"broker": "etna", "base_url": etna.url + "/api"}
    secrets["etna"] = {"APP_KEY": DEMO_APP_KEY, "USERNAME": DEMO_USERNAME,
                       "PASSWORD": DEMO_PASSWORD}

    qt = FakeQuantowerBridge(latency)
    first = qt.export["Accounts"][0]
    qt.export["Accounts"] = [{**first, "Id": f"Q{i:03d}"} for i in range(12)]
    stack.callback(qt.start().stop)
    profiles["qt"] = {"broker": "quantower", "source": qt.url + EXPORT_PATH}
    secrets["qt"] = {"TOKEN": DEMO_TOKEN}

    for i in range(4):
        lp = FakeLongPort(latency)
        stack.callback(lp.start().stop)
        profiles[f"lp{i}"] = {"broker": "longport", "auth": "apikey", "base_url": lp.url}
        secrets[f"lp{i}"] = {"APP_KEY": LP_KEY, "APP_SECRET": DEMO_APP_SECRET,
                             "ACCESS_TOKEN": DEMO_ACCESS_TOKEN}
    return profiles, secrets


def fetch_timing() -> None:
    with ExitStack() as stack:
        raw, secrets = start_fakes(stack, LATENCY)
        profiles = [validate_profile(name, settings) for name, settings in raw.items()]
        options = Options(command="balance", presets=secrets)
        run(profiles, options)  # warm-up: logins, connection set-up
        started = time.perf_counter()
        outcome = run(profiles, options)
        concurrent = time.perf_counter() - started
        assert len(outcome.rows) == 40 and not outcome.errors, outcome.errors
        concurrent_parallel = base.Context.parallel

        def serial(self, fn, items):
            return [concurrent_parallel(self, fn, [item])[0] for item in items]

        base.Context.parallel = serial  # one request at a time, profiles one after another
        started = time.perf_counter()
        for profile in profiles:
            run([profile], options)
        sequential = time.perf_counter() - started
        base.Context.parallel = concurrent_parallel
        print(f"fetch 40 accounts / 4 brokers / 7 profiles at {LATENCY * 1000:.0f} ms latency: "
              f"concurrent {concurrent:.3f} s, sequential {sequential:.3f} s (budget 0.6 s)")

        with tempfile.TemporaryDirectory() as tmp:
            config = Path(tmp) / "config.toml"
            config.write_text("".join(
                f"[profiles.{name}]\n" + "".join(f'{k} = "{v}"\n' for k, v in s.items())
                for name, s in raw.items()))
            env = dict(os.environ, BALANCECLI_CONFIG=str(config),
                       PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring")
            for name, fields in secrets.items():
                for field, value in fields.items():
                    env[f"BALANCECLI_{name.upper()}_{field}"] = value
            runs = []
            for _ in range(5):
                started = time.perf_counter()
                proc = subprocess.run([EXE, "balance", "-f", "json"], env=env,
                                      capture_output=True, text=True)
                runs.append(time.perf_counter() - started)
                assert proc.returncode == 0, proc.stderr
            print(f"`balancecli balance -f json`, same 40 accounts, whole process "
                  f"(start-up, ETNA login and TradeStation token included): "
                  f"median {statistics.median(runs):.3f} s")


def memory() -> None:
    from balancecli.demo.tradestation import FakeTradeStation

    with ExitStack() as stack, tempfile.TemporaryDirectory() as tmp:
        ts = FakeTradeStation()
        template = ts.v3["balances"]["11827392"]
        ts.v3["accounts"] = [{"AccountID": f"M{i:04d}", "AccountType": "Margin",
                              "Currency": "USD", "Status": "Active"} for i in range(1000)]
        ts.v3["balances"] = {f"M{i:04d}": {**template, "AccountID": f"M{i:04d}"}
                             for i in range(1000)}
        stack.callback(ts.start().stop)
        access, refresh = ts.issue()
        config = Path(tmp) / "config.toml"
        config.write_text(f'[profiles.big]\nbroker = "tradestation"\nbase_url = "{ts.url}"\n')
        env = dict(os.environ, BALANCECLI_CONFIG=str(config), BALANCECLI_BIG_ACCESS_TOKEN=access,
                   PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring")
        probe = ("import resource, subprocess, sys; "
                 "p = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL); "
                 "print(p.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
        for fmt in ("json", "table"):
            out = subprocess.run([sys.executable, "-c", probe, EXE, "balance", "-f", fmt],
                                 env=env, capture_output=True, text=True, check=True).stdout
            code, rss = out.split()
            assert code == "0", out
            print(f"peak memory, 1,000 accounts, -f {fmt:5s}: {int(rss) / 1024:.1f} MB "
                  "(budget 80 MB)")


from bench_feel import main as feel  # noqa: E402
from bench_scale import json_rows, scale, transport_cpu  # noqa: E402

PARTS = {"startup": startup, "fetch": fetch_timing, "memory": memory, "scale": scale,
         "http": transport_cpu, "json": json_rows, "feel": feel}

if __name__ == "__main__":
    for name in sys.argv[1:] or list(PARTS):
        PARTS[name]()
