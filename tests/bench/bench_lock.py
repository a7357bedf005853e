"""How long a run waits behind another run's hung token refresh before it gives up.
Not a pytest test. Usage:

    .venv/bin/python tests/bench/bench_lock.py [--lock-timeout 2] [--runs 5]

A TradeStation fake holds every refresh for 30 s; the first run (keyring: a plaintext file in a
temporary HOME) takes the profile lock and waits on it; each measured run starts while the lock
is held and must exit 5 after about --lock-timeout seconds.
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
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from balancecli.demo.tradestation import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, FakeTradeStation


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lock-timeout", type=float, default=2.0)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    exe = str(Path(sys.executable).with_name("balancecli"))
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        env = {**os.environ, "HOME": tmp, "XDG_DATA_HOME": f"{tmp}/data",
               "XDG_CACHE_HOME": f"{tmp}/cache", "XDG_CONFIG_HOME": f"{tmp}/config",
               "PYTHON_KEYRING_BACKEND": "keyrings.alt.file.PlaintextKeyring",
               "BALANCECLI_CONFIG": str(home / "config.toml")}
        for name in list(env):
            if name.startswith("BALANCECLI_") and name != "BALANCECLI_CONFIG":
                del env[name]
        fake = FakeTradeStation().start()
        try:
            (home / "config.toml").write_text(
                f'[profiles.ts]\nbroker = "tradestation"\nbase_url = "{fake.url}"\n'
                f'token_url = "{fake.url}/oauth/token"\nclient_id = "{DEMO_CLIENT_ID}"\n'
                "max_retries = 0\n")
            _, refresh = fake.issue()
            code = ("import json, sys\nfrom balancecli.secrets import Keyring\n"
                    "Keyring().save('ts', json.load(sys.stdin))")
            item = {"access_token": "expired", "refresh_token": refresh,
                    "client_secret": DEMO_CLIENT_SECRET, "access_token_expires_at": 1}
            subprocess.run([sys.executable, "-c", code], env=env, check=True,
                           input=json.dumps(item), text=True)  # secrets never in argv
            fake.inject("timeout", "/oauth/token", times=99, seconds=30)
            holder = subprocess.Popen([exe, "balance", "-p", "ts", "--timeout", "60"], env=env,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            while not fake.calls("/oauth/token"):
                time.sleep(0.02)
            waits, codes = [], []
            for _ in range(args.runs):
                started = time.monotonic()
                run = subprocess.run([exe, "balance", "-p", "ts"], capture_output=True,
                                     env={**env, "BALANCECLI_LOCK_TIMEOUT":
                                          str(args.lock_timeout)})
                waits.append(time.monotonic() - started)
                codes.append(run.returncode)
            holder.kill()
            holder.wait()
        finally:
            fake.stop()
    print(f"lock timeout {args.lock_timeout:g} s, {args.runs} waiting runs: exit codes "
          f"{sorted(set(codes))}, wall time median {statistics.median(waits):.2f} s, "
          f"max {max(waits):.2f} s")


if __name__ == "__main__":
    main()
