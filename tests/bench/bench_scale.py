"""Scale benchmark, run by tests/bench/bench_cli.py (`python tests/bench/bench_cli.py scale`).

The fakes run in a process of their own (`python tests/bench/bench_scale.py --serve N LATENCY`), so
that the client's CPU time is its own and both clients meet the same servers. N accounts are
spread as: 4 LongPort profiles (one account each, one host each, as LongPort has one account
per credential set) and the rest evenly over TradeStation (balances 25 ids per request), ETNA
(one /info per account) and Quantower (one export). Every secret comes from the environment
(as under cron), so no login is timed and the keyring is not opened.
"""

from __future__ import annotations

import json
import math
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

EXE = str(Path(sys.executable).with_name("balancecli"))
LATENCY = 0.1
LP_PROFILES = 4
BATCH = 25

SCRIPT = r'''
"""A plain requests + ThreadPoolExecutor client doing the calls balancecli makes."""
import json, sys
from concurrent.futures import ThreadPoolExecutor
import requests
from requests.adapters import HTTPAdapter
from balancecli.brokers.longport.sign import sign, timestamp

spec = json.load(open(sys.argv[1]))
per_host = int(sys.argv[2]) if len(sys.argv) > 2 else None

def session(workers):
    s = requests.Session()
    s.mount("http://", HTTPAdapter(pool_maxsize=workers))
    return s

def pool_map(fn, items, workers):
    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(fn, items))

def tradestation(p, sec, workers):
    s, h = session(workers), {"Authorization": "Bearer " + sec["ACCESS_TOKEN"]}
    ids = [a["AccountID"] for a in s.get(p["base_url"] + "/v3/brokerage/accounts", headers=h,
                                         timeout=15).json()["Accounts"]]
    batches = [ids[i:i + 25] for i in range(0, len(ids), 25)]
    got = pool_map(lambda b: s.get(p["base_url"] + "/v3/brokerage/accounts/" + ",".join(b)
                                   + "/balances", headers=h, timeout=15).json(), batches, workers)
    return sum(len(g["Balances"]) for g in got)

def etna(p, sec, workers):
    s = session(workers)
    h = {"Et-App-Key": sec["APP_KEY"], "Authorization": "Bearer " + sec["TOKEN"]}
    api = p["base_url"] + "/v1.0"
    ids = [a["Id"] for a in s.get(api + "/users/@me/accounts", headers=h, timeout=15).json()]
    got = pool_map(lambda i: s.get(f"{api}/accounts/{i}/info", headers=h, timeout=15).json(),
                   ids, workers)
    return len(got)

def quantower(p, sec, workers):
    r = requests.get(p["source"], headers={"Authorization": "Bearer " + sec["TOKEN"]},
                     timeout=15)
    return len(r.json()["Accounts"])

def longport(p, sec, workers):
    path = "/v1/asset/account"
    h = {"authorization": sec["ACCESS_TOKEN"], "x-api-key": sec["APP_KEY"],
         "x-timestamp": timestamp(), "Content-Type": "application/json; charset=utf-8"}
    h["x-api-signature"] = sign("GET", path, "", h, sec["APP_SECRET"])
    r = requests.get(p["base_url"] + path, headers=h, timeout=15)
    assert r.json()["code"] == 0, r.text
    return 1

FETCH = {"tradestation": tradestation, "etna": etna, "quantower": quantower,
         "longport": longport}
def one(name):
    p, sec = spec["profiles"][name], spec["secrets"][name]
    return FETCH[p["broker"]](p, sec, per_host or spec["ceilings"][p["broker"]])
with ThreadPoolExecutor(16) as pool:
    print(sum(pool.map(one, spec["profiles"])))
'''


def ceiling(broker: str) -> int:
    from balancecli.brokers import broker_class

    limits = getattr(broker_class(broker), "limits", None)  # None: an older build without limits
    return limits.ceiling if limits else 16


def split(n: int) -> dict[str, int]:
    lp = min(LP_PROFILES, n)
    rest = n - lp
    return {"tradestation": rest - 2 * (rest // 3), "etna": rest // 3, "quantower": rest // 3,
            "longport": lp}


def serve(n: int, latency: float) -> None:
    """Start the fakes for n accounts, print their profiles and secrets, wait for stdin."""
    from contextlib import ExitStack

    from balancecli.demo.etna import DEMO_APP_KEY, FakeEtna
    from balancecli.demo.longport import DEMO_ACCESS_TOKEN, DEMO_APP_SECRET, FakeLongPort
    from balancecli.demo.longport import DEMO_APP_KEY as LP_KEY
    from balancecli.demo.quantower import DEMO_TOKEN, EXPORT_PATH, FakeQuantowerBridge
    from balancecli.demo.tradestation import FakeTradeStation

    counts = split(n)
    profiles: dict[str, dict] = {}
    secrets: dict[str, dict] = {}
    fakes = []
    with ExitStack() as stack:
        if counts["tradestation"]:
            ts = FakeTradeStation(latency)
            template = ts.v3["balances"]["11827391"]
            ids = [f"T{i:05d}" for i in range(counts["tradestation"])]
            ts.v3["accounts"] = [{"AccountID": i, "AccountType": "Cash", "Currency": "USD",
                                  "Status": "Active"} for i in ids]
            ts.v3["balances"] = {i: {**template, "AccountID": i} for i in ids}
            stack.callback(ts.start().stop)
            fakes.append(ts)
            profiles["ts"] = {"broker": "tradestation", "base_url": ts.url}
            access, refresh = ts.issue()
            secrets["ts"] = {"ACCESS_TOKEN": access, "REFRESH_TOKEN": refresh,
                             "CLIENT_ID": ts.client_id, "CLIENT_SECRET": ts.client_secret}
        if counts["etna"]:
            etna = FakeEtna(latency)
            info = etna.infos["83267"]
            etna.accounts = [{**etna.accounts[0], "Id": 100000 + i,
                              "ClearingAccount": str(100000 + i)} for i in range(counts["etna"])]
            etna.infos = {str(100000 + i): info for i in range(counts["etna"])}
            stack.callback(etna.start().stop)
            fakes.append(etna)
            profiles["etna"] = {"broker": "etna", "base_url": etna.url + "/api"}
            secrets["etna"] = {"APP_KEY": DEMO_APP_KEY, "TOKEN": etna.issue(),
                               "USERNAME": "u", "PASSWORD": "unused-password"}
        if counts["quantower"]:
            qt = FakeQuantowerBridge(latency)
            first = qt.export["Accounts"][0]
            qt.export["Accounts"] = [{**first, "Id": f"Q{i:05d}"}
                                     for i in range(counts["quantower"])]
            stack.callback(qt.start().stop)
            fakes.append(qt)
            profiles["qt"] = {"broker": "quantower", "source": qt.url + EXPORT_PATH}
            secrets["qt"] = {"TOKEN": DEMO_TOKEN}
        for i in range(counts["longport"]):
            lp = FakeLongPort(latency)
            stack.callback(lp.start().stop)
            fakes.append(lp)
            profiles[f"lp{i}"] = {"broker": "longport", "auth": "apikey", "base_url": lp.url}
            secrets[f"lp{i}"] = {"APP_KEY": LP_KEY, "APP_SECRET": DEMO_APP_SECRET,
                                 "ACCESS_TOKEN": DEMO_ACCESS_TOKEN}
        print(json.dumps({"profiles": profiles, "secrets": secrets}), flush=True)
        for line in sys.stdin:
            if line.strip() == "requests":
                print(sum(len(f.requests) for f in fakes), flush=True)


class Fakes:
    """The fake servers for n accounts, in a child process."""

    def __init__(self, n: int, latency: float = LATENCY) -> None:
        self.proc = subprocess.Popen([sys.executable, __file__, "--serve", str(n), str(latency)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        spec = json.loads(self.proc.stdout.readline())
        self.profiles, self.secrets = spec["profiles"], spec["secrets"]
        self.tmp = tempfile.TemporaryDirectory()
        self.config = Path(self.tmp.name) / "config.toml"
        self.config.write_text("".join(
            f"[profiles.{name}]\n" + "".join(f'{k} = "{v}"\n' for k, v in s.items())
            for name, s in self.profiles.items()))
        ceilings = {name: ceiling(name) for name in split(0)}
        self.spec = Path(self.tmp.name) / "spec.json"
        self.spec.write_text(json.dumps({**spec, "ceilings": ceilings}))
        self.env = dict(os.environ, BALANCECLI_CONFIG=str(self.config),
                        PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring")
        for name, fields in self.secrets.items():
            for field, value in fields.items():
                self.env[f"BALANCECLI_{name.upper()}_{field}"] = value

    def requests(self) -> int:
        self.proc.stdin.write("requests\n")
        self.proc.stdin.flush()
        return int(self.proc.stdout.readline())

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait()
        self.tmp.cleanup()


def run(cmd: list[str], env: dict) -> tuple[float, float]:
    """(wall seconds, CPU seconds user+system) of one child process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                          text=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    assert proc.returncode == 0, (cmd, proc.stderr)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def median_run(cmd: list[str], env: dict, repeat: int) -> tuple[float, float]:
    runs = [run(cmd, env) for _ in range(repeat)]
    return statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)


def chain_limit(n: int, latency: float) -> float:
    """The longest chain of dependent requests at each broker's concurrency ceiling."""
    counts = split(n)
    rounds = {"tradestation": 1 + math.ceil(math.ceil(counts["tradestation"] / BATCH)
                                            / ceiling("tradestation")),
              "etna": 1 + math.ceil(counts["etna"] / ceiling("etna")),
              "quantower": 1, "longport": 1}
    return max(r for b, r in rounds.items() if counts[b]) * latency


def expected_requests(n: int) -> int:
    c = split(n)
    return (1 + math.ceil(c["tradestation"] / BATCH) if c["tradestation"] else 0) + (
        1 + c["etna"] if c["etna"] else 0) + (1 if c["quantower"] else 0) + c["longport"]


def compiled() -> None:
    """Byte-code for our modules, as pip writes it for site-packages (requests & co.): with
    PYTHONDONTWRITEBYTECODE set, an edited module would be compiled again on every run."""
    import compileall

    compileall.compile_dir(str(Path(__file__).resolve().parents[2] / "balancecli"), quiet=1)


def scale() -> None:
    compiled()
    script = Path(tempfile.mkdtemp()) / "plain.py"
    script.write_text(SCRIPT)
    cli = [EXE, "balance", "-f", "json"]
    cpu: dict[int, float] = {}
    cpu_plain: dict[int, float] = {}
    print(f"scale, {LATENCY * 1000:.0f} ms latency (medians; fakes in their own process):")
    for n, repeat in ((10, 7), (1000, 3), (5000, 3)):
        fakes = Fakes(n)
        try:
            run(cli, fakes.env)  # warm-up (page cache, pyc)
            ours, cpu[n] = median_run(cli, fakes.env, repeat)
            plain, cpu_plain[n] = median_run([sys.executable, str(script), str(fakes.spec)],
                                             fakes.env, repeat)
            wide = median_run([sys.executable, str(script), str(fakes.spec), "64"],
                              fakes.env, repeat)[0]
            chain = chain_limit(n, LATENCY)
            line = (f"  {n:5d} accounts: balancecli {ours:6.2f} s | plain script {plain:6.2f} s"
                    f" (ratio {ours / plain:.2f}) | script at 64/host {wide:6.2f} s | chain "
                    f"limit {chain:4.2f} s (ratio {ours / chain:.2f})")
            if n == 1000:
                snap = median_run([EXE, "snapshot", "--db", str(script.parent / "h.sqlite3")],
                                  fakes.env, repeat)[0]
                line += f"\n         snapshot {snap:.2f} s vs balance: ratio {snap / ours:.2f}"
            print(line, flush=True)
        finally:
            fakes.close()
    more = expected_requests(5000) - expected_requests(10)
    ours, theirs = (cpu[5000] - cpu[10]) / more, (cpu_plain[5000] - cpu_plain[10]) / more
    print(f"  client CPU per request, marginal 10 -> 5,000 accounts (parsing, models and output "
          f"included): balancecli {ours * 1e6:.0f} us, plain script {theirs * 1e6:.0f} us "
          f"(ratio {ours / theirs:.2f}; the 250 us budget is the HTTP client's, below)")


def transport_cpu(n: int = 3000) -> None:
    """CPU per GET of the HTTP client alone against bare requests (trust_env=False)."""
    import requests
    from requests.adapters import HTTPAdapter

    from balancecli.net.http import HttpClient

    fakes = Fakes(4, latency=0.0)
    try:
        url = fakes.profiles["lp0"]["base_url"] + "/missing"  # a small 404 JSON answer
        session = requests.Session()
        session.trust_env = False
        session.mount("http://", HTTPAdapter(pool_maxsize=16))
        client = HttpClient("bench", timeout=5, max_retries=0)
        trusting = requests.Session()
        trusting.mount("http://", HTTPAdapter(pool_maxsize=16))
        calls = {"bare requests, trust_env=False": lambda: session.get(url, timeout=5).content,
                 "bare requests, trust_env=True ": lambda: trusting.get(url, timeout=5).content,
                 "balancecli HttpClient         ": lambda: client.request("GET", url).content}
        for name, call in calls.items():
            for _ in range(200):
                call()
            best = []
            for _ in range(5):  # the least of 5: the machine's noise only ever adds
                started = time.thread_time()
                for _ in range(n):
                    call()
                best.append((time.thread_time() - started) / n)
            budget = " (budget 250 us)" if "balancecli" in name else ""
            print(f"  HTTP CPU per GET, {name}: {min(best) * 1e6:4.0f} us{budget}", flush=True)
    finally:
        fakes.close()


def json_rows() -> None:
    import io
    from decimal import Decimal

    from balancecli.core.models import Balance
    from balancecli.output import jsonout, render
    from balancecli.output.specs import BALANCE

    rows = [Balance(profile="ts", broker="tradestation", account_id=f"A{i:05d}",
                    account_name=f"Account {i}", account_type="margin", currency="USD",
                    as_of="2026-11-21T19:00:00Z", cash=Decimal("1234.56"),
                    buying_power=Decimal("19638.14545186560000000000"),
                    equity=Decimal("98765.4321"), unrealized_pnl=Decimal("-125.40"),
                    extra={"DayTradeExcess": Decimal("5")}) for i in range(10_000)]
    runs = []
    for _ in range(5):
        out = io.StringIO()
        started = time.perf_counter()
        stream = jsonout.Stream(out, "json", schema="balancecli.balance/1", key="balances",
                                generated_at=lambda: "2026-11-21T19:00:00Z")
        stream.rows(rows)
        stream.close([], render.blocks(BALANCE, rows))
        runs.append(time.perf_counter() - started)
    started = time.perf_counter()
    render.to_json(BALANCE, rows, [], "2026-11-21T19:00:00Z")
    before = time.perf_counter() - started
    print(f"  10,000 rows -f json: streamed {statistics.median(runs):.3f} s (budget 0.2 s; "
          f"render.to_json {before:.3f} s)")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--serve"]:
        serve(int(sys.argv[2]), float(sys.argv[3]))
    else:
        scale()
        transport_cpu()
        json_rows()
