"""How long one Tab takes (a script, not a timed test): python tests/bench/bench_completion.py

Each Tab runs the installed command once (the completion scripts call back into it), so the
figure to compare is `balancecli --version`: completing a profile, an account id from a history
store of RUNS snapshots, or a currency should cost little more than starting the command.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

EXE = str(Path(sys.executable).with_name("balancecli"))
RUNS = 2000  # demo snapshots in the store: 20,000 balance rows, 28,000 asset rows
REPEAT = 15


def timed(env: dict[str, str], *args: str) -> float:
    samples = []
    for _ in range(REPEAT):
        started = time.perf_counter()
        subprocess.run([EXE, *args], env=env, capture_output=True, check=True)
        samples.append(time.perf_counter() - started)
    return statistics.median(samples) * 1000


def complete(env: dict[str, str], words: str) -> float:
    cword = len(words.split()) - (0 if words.endswith(" ") else 1)
    return timed({**env, "_BALANCECLI_COMPLETE": "complete_bash", "COMP_WORDS": words,
                  "COMP_CWORD": str(cword)})


def fill_store(db: Path) -> None:
    """RUNS copies of one demo snapshot, written with the store's own writer."""
    import sqlite3

    subprocess.run([EXE, "--demo", "snapshot", "--db", str(db)], check=True,
                   capture_output=True)
    con = sqlite3.connect(db)
    with con:
        for n in range(RUNS - 1):
            run_id = con.execute(
                "INSERT INTO runs (started_at, finished_at, profiles_json, ok, error_count, "
                "errors_json, balance_count, asset_count) SELECT started_at, finished_at, "
                "profiles_json, ok, error_count, errors_json, balance_count, asset_count "
                "FROM runs WHERE id = 1").lastrowid
            for table in ("balances", "assets"):
                columns = [r[1] for r in con.execute(f"PRAGMA table_info({table})")
                           if r[1] not in ("run_id", "taken_at")]
                names = ", ".join(columns)
                con.execute(f"INSERT INTO {table} (run_id, taken_at, {names}) SELECT ?, "
                            f"strftime('%Y-%m-%dT%H:%M:%fZ', 'now', ?), {names} FROM {table} "
                            "WHERE run_id = 1", (run_id, f"-{RUNS - n} minutes"))
    con.close()


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "config.toml"
        config.write_text("".join(f'[profiles.p{i}]\nbroker = "etna"\nbase_url = '
                                  f'"https://example.com/api"\n\n' for i in range(50)))
        db = Path(tmp) / "history.sqlite3"
        fill_store(db)
        env = {**os.environ, "BALANCECLI_CONFIG": str(config), "BALANCECLI_DB": str(db),
               "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}
        rows = [
            ("balancecli --version", timed(env, "--version")),
            ("balancecli profile list (parses options)", timed(env, "profile", "list")),
            ("-p <Tab> (50 profiles)", complete(env, "balancecli balance -p ")),
            ("-a <Tab> (store)", complete(env, "balancecli balance -a ")),
            ("--currency <Tab> (store + ISO)", complete(env, "balancecli assets --currency ")),
            ("history --field <Tab>", complete(env, "balancecli history --field ")),
        ]
        rows += in_process(config, db)
    print(f"median of {REPEAT} runs; history store of {RUNS} snapshots")
    for name, ms in rows:
        print(f"  {name:<42} {ms:7.1f} ms")


def in_process(config: Path, db: Path) -> list[tuple[str, float]]:
    """The callbacks alone, without the interpreter and Typer around them."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from balancecli.cli import complete

    class Ctx:
        params = {"config": config, "db": db, "profile": None, "demo": False}
        parent = None

        def get_parameter_source(self, name: str) -> None:
            return None

    out = []
    for name, call in (("callback: profiles", lambda: complete.complete_profile(Ctx(), "")),
                       ("callback: account ids", lambda: complete.complete_account(Ctx(), "")),
                       ("callback: currencies", lambda: complete.complete_currency(Ctx(), ""))):
        samples = []
        for _ in range(REPEAT):
            started = time.perf_counter()
            call()
            samples.append(time.perf_counter() - started)
        out.append((name, statistics.median(samples) * 1000))
    return out


if __name__ == "__main__":
    main()
