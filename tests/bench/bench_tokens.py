"""Token requests per run in a 401 storm (`python tests/bench/bench_tokens.py [RUNS]`).

Every data call is refused with HTTP 401, also after a good refresh or login. One run of the
installed `balancecli balance -f json` per case, the fakes in this process; printed: the token
requests the fake received (refresh grants, logins), the data calls it received, the exit code
and the stderr lines. Cases: TradeStation with 200 and 1,000 accounts (balances go 25 ids per
request), ETNA with 60 accounts (one /info each). A run should cost one token request each.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from balancecli.demo.etna import (  # noqa: E402
    DEMO_APP_KEY,
    DEMO_PASSWORD,
    DEMO_USERNAME,
    UNAUTHORIZED,
    FakeEtna,
)
from balancecli.demo.tradestation import FakeTradeStation  # noqa: E402

EXE = str(Path(sys.executable).with_name("balancecli"))


def run(config: Path, env: dict[str, str]) -> tuple[int, int]:
    proc = subprocess.run([EXE, "balance", "-f", "json", "--config", str(config)],
                          env={**os.environ, **env,
                               "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"},
                          capture_output=True, text=True)
    return proc.returncode, len(proc.stderr.splitlines())


def tradestation(n: int) -> tuple[int, int, int, int]:
    with FakeTradeStation() as fake:
        template = fake.v3["balances"]["11827391"]
        ids = [f"T{i:05d}" for i in range(n)]
        fake.v3["accounts"] = [{"AccountID": i, "AccountType": "Cash", "Currency": "USD",
                                "Status": "Active"} for i in ids]
        fake.v3["balances"] = {i: {**template, "AccountID": i} for i in ids}
        fake.inject("status", "/balances$", times=10**9, status=401,
                    body={"Error": "Unauthorized", "Message": "Token is expired or invalid."})
        access, refresh = fake.issue()
        config = Path(tempfile.mkdtemp()) / "c.toml"
        config.write_text(f'[profiles.ts]\nbroker = "tradestation"\nbase_url = "{fake.url}"\n'
                          f'token_url = "{fake.url}/oauth/token"\nmax_retries = 0\n')
        code, lines = run(config, {
            "BALANCECLI_TS_ACCESS_TOKEN": access, "BALANCECLI_TS_REFRESH_TOKEN": refresh,
            "BALANCECLI_TS_CLIENT_ID": fake.client_id,
            "BALANCECLI_TS_CLIENT_SECRET": fake.client_secret or ""})
        return (len(fake.calls("/oauth/token$", "POST")), len(fake.calls("/balances$")), code,
                lines)


def etna(n: int) -> tuple[int, int, int, int]:
    with FakeEtna() as fake:
        info = fake.infos["83267"]
        fake.accounts = [{**fake.accounts[0], "Id": 100000 + i,
                          "ClearingAccount": str(100000 + i)} for i in range(n)]
        fake.infos = {str(100000 + i): info for i in range(n)}
        fake.inject("status", "/info$", times=10**9, status=401, body=UNAUTHORIZED)
        config = Path(tempfile.mkdtemp()) / "c.toml"
        config.write_text(f'[profiles.et]\nbroker = "etna"\nbase_url = "{fake.url}/api"\n'
                          "max_retries = 0\n")
        code, lines = run(config, {
            "BALANCECLI_ET_APP_KEY": DEMO_APP_KEY, "BALANCECLI_ET_USERNAME": DEMO_USERNAME,
            "BALANCECLI_ET_PASSWORD": DEMO_PASSWORD, "BALANCECLI_ET_TOKEN": fake.issue()})
        return len(fake.calls("/api/token$", "POST")), len(fake.calls("/info$")), code, lines


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    print("case                      token requests  data calls  exit  stderr lines")
    for label, case in (("tradestation 200", lambda: tradestation(200)),
                        ("tradestation 1,000", lambda: tradestation(1000)),
                        ("etna 60", lambda: etna(60))):
        for _ in range(runs):
            tokens, data, code, lines = case()
            print(f"{label:<26}{tokens:>14}{data:>12}{code:>6}{lines:>14}")


if __name__ == "__main__":
    main()
