"""The leak hunt: every command, in every format, with -v and --debug (and forced errors whose
server answers echo a token), with known secrets in the environment and in the keyring. No
secret may appear in stdout, stderr, the config file, or the argv of any process running while
the command runs (/proc/*/cmdline).
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from balancecli.demo.longport import DEMO_ACCESS_TOKEN, DEMO_APP_KEY, DEMO_APP_SECRET, FakeLongPort
from balancecli.demo.tradestation import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, FakeTradeStation
from tests.support.cli import balancecli_exe

FAST = {"max_retries": 0, "retry_backoff": 0.01}


def cmdlines(root: int) -> set[bytes]:
    """The argv of ``root`` and of every process it started (not of the tests running
    beside this one in other workers, whose own command lines are theirs to check)."""
    parents, lines = {}, {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
                parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
                lines[int(entry.name)] = (entry / "cmdline").read_bytes()
            except (OSError, ValueError, IndexError):
                continue

    def ours(pid: int) -> bool:
        while pid > 1:
            if pid == root:
                return True
            pid = parents.get(pid, 0)
        return False

    return {line for pid, line in lines.items() if ours(pid)}


def run(args: list[str], stdin: str = "", seen: set[bytes] | None = None) -> tuple[str, str]:
    proc = subprocess.Popen([balancecli_exe(), *args], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    proc.stdin.write(stdin)
    proc.stdin.close()
    while proc.poll() is None:  # argv of every process while the command runs
        if seen is not None:
            seen |= cmdlines(proc.pid)
        time.sleep(0.01)
    return proc.stdout.read(), proc.stderr.read()


@pytest.fixture
def world(tmp_path, monkeypatch):
    import keyring.core

    from balancecli.cli.commands.profile import dump
    from balancecli.credentials import Keyring

    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyrings.alt.file.PlaintextKeyring")
    keyring.core._keyring_backend = None
    ts = FakeTradeStation(rotate=True).start()
    lp = FakeLongPort().start()
    cfg = tmp_path / "config.toml"
    cfg.write_text(dump({"profiles": {
        "ts": {"broker": "tradestation", "base_url": ts.url, "client_id": DEMO_CLIENT_ID,
               "token_url": ts.url + "/oauth/token", **FAST},
        "lp": {"broker": "longport", "auth": "apikey", "base_url": lp.url, **FAST},
    }}))
    monkeypatch.setenv("BALANCECLI_CONFIG", str(cfg))
    monkeypatch.setenv("BALANCECLI_LP_APP_KEY", DEMO_APP_KEY)
    monkeypatch.setenv("BALANCECLI_LP_APP_SECRET", DEMO_APP_SECRET)
    monkeypatch.setenv("BALANCECLI_LP_ACCESS_TOKEN", DEMO_ACCESS_TOKEN)
    access, refresh = ts.issue()
    # an expired cached token: the first command refreshes and a rotated token is stored
    Keyring().save("ts", {"access_token": access, "refresh_token": refresh,
                          "access_token_expires_at": int(time.time()) - 5,
                          "client_secret": DEMO_CLIENT_SECRET})
    yield ts, lp, cfg
    ts.stop()
    lp.stop()


def test_no_secret_in_any_output_log_traceback_file_or_argv(world):
    ts, lp, cfg = world
    seen: set[bytes] = set()
    outputs: list[tuple[list[str], str, str]] = []

    def go(*args: str, stdin: str = "") -> None:
        out, err = run(list(args), stdin, seen)
        outputs.append((list(args), out, err))

    for command in ("accounts", "balance", "assets"):
        for fmt in ("table", "json", "jsonl", "csv"):
            go(command, "-f", fmt)
        go("-v", command, "-f", "json")
        go("--debug", command, "-v")
    go("auth", "status")
    go("auth", "status", "-f", "json", "-v")
    go("-v", "--debug", "auth", "refresh", "ts")
    go("auth", "refresh", "lp", "--debug")
    from balancecli.credentials import Keyring

    current = Keyring().load("ts")
    go("-v", "auth", "login", "ts", "--with-token", stdin=json.dumps(
        {"refresh_token": current["refresh_token"], "client_secret": DEMO_CLIENT_SECRET}))
    go("profile", "list")
    go("profile", "show", "ts", "-f", "json")
    go("profile", "add", "x", "--broker", "etna", "--set", "base_url=https://e.example/api")
    go("profile", "remove", "x")
    # forced errors whose server answers echo the credentials back
    token = Keyring().load("ts")["access_token"]
    ts.inject("status", path="/v3/brokerage/accounts", status=400, times=2,
              body={"Error": "BadRequest", "Message": f"bad token {token} / {DEMO_CLIENT_SECRET}"})
    go("--debug", "-v", "accounts", "-p", "ts")
    lp.inject("status", path="/v1/asset/account", status=400, times=1,
              body={"code": 400000, "message": f"bad {DEMO_APP_SECRET} {DEMO_ACCESS_TOKEN}"})
    go("--debug", "balance", "-p", "lp", "-f", "json")
    ts.inject("body", path="/v3/brokerage/accounts", times=1, body=b'{"Accounts": "oops"}')
    go("--debug", "accounts", "-p", "ts", "-f", "json")
    ts.inject("status", path="/oauth/token", status=401, times=1,
              body={"error": "access_denied", "error_description": f"no {DEMO_CLIENT_SECRET}"})
    go("--debug", "-v", "auth", "refresh", "ts")
    go("auth", "logout", "lp")

    secrets = {DEMO_CLIENT_SECRET, DEMO_APP_KEY, DEMO_APP_SECRET, DEMO_ACCESS_TOKEN}
    secrets |= set(ts.access_tokens) | set(ts.refresh_tokens)
    assert len(ts.access_tokens) >= 3 and ts.refresh_count >= 2  # tokens did rotate
    config_text = cfg.read_text()
    tracebacks = 0
    for args, out, err in outputs:
        tracebacks += "Traceback" in err
        for secret in secrets:
            assert secret not in out, (args, secret)
            assert secret not in err, (args, secret)
    assert tracebacks >= 1  # --debug did print a traceback for the forced error
    assert any("***" in err for _, _, err in outputs)  # the echoed secret was redacted
    assert any(" GET " in err for _, _, err in outputs)  # -v logs were produced
    for secret in secrets:
        assert secret not in config_text
        for line in seen:
            assert secret.encode() not in line
    assert len(seen) > 0 and os.getpid() > 0


@pytest.mark.parametrize("broken", ["\r\n X-Injected: yes", "\n", " "])
def test_a_broken_token_from_the_endpoint_reaches_no_output_wire_or_history(tmp_path, broken):
    from balancecli.cli.commands.profile import dump
    from tests.support.cli import run_cli

    ts = FakeTradeStation().start()
    try:
        _, refresh = ts.issue()
        cfg = tmp_path / "config.toml"
        cfg.write_text(dump({"profiles": {"ts": {
            "broker": "tradestation", "base_url": ts.url, "token_url": ts.url + "/oauth/token",
            "client_id": DEMO_CLIENT_ID, **FAST}}}))
        token = "ts-at-LEAKPREFIX-" + "k" * 90 + broken + "tail-" + "q" * 20
        ts.inject("body", "/oauth/token$", method="POST", times=3,
                  body=json.dumps({"access_token": token, "expires_in": 1200}))
        env = {"BALANCECLI_CONFIG": str(cfg), "BALANCECLI_TS_REFRESH_TOKEN": refresh,
               "BALANCECLI_TS_CLIENT_SECRET": DEMO_CLIENT_SECRET}
        db = tmp_path / "h.db"
        runs = [run_cli("balance", "-f", "json", env=env),
                run_cli("-v", "--debug", "accounts", "-f", "json", env=env),
                run_cli("snapshot", "--db", str(db), env=env)]
        for proc in runs:
            assert proc.returncode == 4, proc.stderr
            assert "the token endpoint answered an access token with " in proc.stderr
            for text in (proc.stdout, proc.stderr):
                assert "LEAKPREFIX" not in text and "kkkkkkkk" not in text
                assert "tail-" not in text and "Injected" not in text
        assert json.loads(runs[0].stdout)["errors"][0]["kind"] == "auth"
        assert [x for x in runs[0].stderr.splitlines() if x] == [
            x for x in runs[0].stderr.splitlines() if x.startswith("error: ts: ")]
        data = db.read_bytes() if db.exists() else b""
        assert b"LEAKPREFIX" not in data and b"kkkkkkkk" not in data
        assert ts.calls("/v3/") == []  # it never went on the wire
    finally:
        ts.stop()
