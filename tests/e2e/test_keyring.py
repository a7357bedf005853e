"""The OS keyring: the real Secret Service (gnome-keyring on a private D-Bus session), and every
way it fails under cron — failing backend, no bus, a bus that never answers, a locked keyring,
a wrong keyring password — each exit 4 with the options spelled out, fast, never a plaintext
fallback. Plus two overlapping cron runs that both need a refresh spending one rotating token.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import threading
import time

import pytest

from balancecli.demo.tradestation import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, FakeTradeStation
from tests.support.cli import balancecli_exe, run_cli
from tests.support.keyring_service import (  # noqa: F401 - fixtures
    SECRET_SERVICE_BACKEND,
    SecretService,
    ServiceMissing,
    secret_service,
    use_secret_service,
)

FAST = {"max_retries": 0, "retry_backoff": 0.01}
OPTIONS = ("DBUS_SESSION_BUS_ADDRESS", "BALANCECLI_TS_*", "PYTHON_KEYRING_BACKEND")


def write_config(path, profiles: dict) -> None:
    from balancecli.cli.commands.profile import dump

    path.write_text(dump({"profiles": profiles}))


@pytest.fixture
def ts(tmp_path, monkeypatch):
    fake = FakeTradeStation().start()
    cfg = tmp_path / "config.toml"
    write_config(cfg, {"ts": {"broker": "tradestation", "base_url": fake.url,
                              "token_url": fake.url + "/oauth/token",
                              "client_id": DEMO_CLIENT_ID, **FAST}})
    monkeypatch.setenv("BALANCECLI_CONFIG", str(cfg))
    yield fake
    fake.stop()


def assert_keyring_message(result, reason: str) -> None:
    import re

    assert result.returncode == 4, result.stderr
    # A run names the variables that would have done without the keyring first.
    assert re.search(r"error: ts: (BALANCECLI_TS_\w+(, BALANCECLI_TS_\w+)*( and BALANCECLI_TS_"
                     r"\w+)? (is|are) not set, and )?the OS keyring is not usable \(",
                     result.stderr), result.stderr
    assert reason in result.stderr
    for option in OPTIONS:
        assert option in result.stderr
    assert "Traceback" not in result.stderr


# -- the real Secret Service ----------------------------------------------------------------


@pytest.mark.keyring
@pytest.mark.usefixtures("use_secret_service")
def test_round_trip_in_the_secret_service():
    from balancecli.credentials import Keyring

    keyring = Keyring()
    assert keyring.backend_name() == SECRET_SERVICE_BACKEND
    keyring.save("rt-profile", {"refresh_token": "rt-secret-value", "n": 1})
    assert keyring.load("rt-profile") == {"refresh_token": "rt-secret-value", "n": 1}
    assert keyring.delete("rt-profile") is True
    assert keyring.load("rt-profile") == {}
    assert keyring.delete("rt-profile") is False


@pytest.mark.keyring
@pytest.mark.usefixtures("use_secret_service")
def test_login_status_logout_with_the_secret_service(ts):
    import secretstorage

    access, refresh = ts.issue()
    login = run_cli("auth", "login", "ts", "--with-token", input=json.dumps(
        {"access_token": access, "refresh_token": refresh, "client_secret": DEMO_CLIENT_SECRET}))
    assert login.returncode == 0, login.stderr
    assert SECRET_SERVICE_BACKEND in login.stderr
    # one item, service balancecli, username = profile, the fields as one JSON object
    connection = secretstorage.dbus_init()
    try:
        items = list(secretstorage.search_items(connection,
                                                {"service": "balancecli", "username": "ts"}))
        assert len(items) == 1
        stored = json.loads(items[0].get_secret())
    finally:
        connection.close()
    assert stored["access_token"] == access and stored["refresh_token"] == refresh
    status = run_cli("auth", "status", "ts", "-f", "json")
    assert status.returncode == 0, status.stderr
    doc = json.loads(status.stdout)
    assert doc["keyring_backend"] == SECRET_SERVICE_BACKEND
    assert {f["field"]: f["source"] for f in doc["profiles"][0]["fields"]}["REFRESH_TOKEN"] \
        == "keyring"
    data = run_cli("balance", "-p", "ts", "-f", "json")
    assert data.returncode == 0, data.stderr
    logout = run_cli("auth", "logout", "ts")
    assert logout.returncode == 0 and "keyring item deleted" in logout.stderr
    after = run_cli("accounts", "-p", "ts")
    assert after.returncode == 4 and "missing credential" in after.stderr


@pytest.mark.keyring
@pytest.mark.usefixtures("use_secret_service")
def test_env_overrides_the_keyring_field_by_field(ts):
    from balancecli.credentials import Keyring

    access, refresh = ts.issue()
    Keyring().save("ts", {"access_token": "stale-token-in-keyring", "refresh_token": refresh,
                          "client_secret": DEMO_CLIENT_SECRET})
    result = run_cli("accounts", "-p", "ts", "-f", "json",
                     env={"BALANCECLI_TS_ACCESS_TOKEN": access})
    assert result.returncode == 0, result.stderr
    assert ts.refresh_count == 0  # the env token was used, not the keyring's
    status = run_cli("auth", "status", "ts", "-f", "json",
                     env={"BALANCECLI_TS_ACCESS_TOKEN": access})
    sources = {f["field"]: f["source"] for f in json.loads(status.stdout)["profiles"][0]["fields"]}
    assert sources["ACCESS_TOKEN"] == "env" and sources["REFRESH_TOKEN"] == "keyring"


# -- overlapping cron runs ------------------------------------------------------------------


@pytest.mark.parametrize("backend", [
    pytest.param("secretservice", marks=pytest.mark.keyring),
    "plaintext",
])
def test_two_runs_needing_a_refresh_spend_the_refresh_token_once(backend, request, ts,
                                                                 monkeypatch):
    """Both processes find an expired access token; rotation is on, so a second refresh with
    the same refresh token would fail. The profile lock + re-read make it one refresh."""
    import keyring.core

    from balancecli.credentials import Keyring

    if backend == "secretservice":
        request.getfixturevalue("use_secret_service")
    else:
        monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyrings.alt.file.PlaintextKeyring")
        keyring.core._keyring_backend = None
    ts.rotate = True
    ts.latency = 0.3  # the first refresh is still running when the second process wants one
    _, refresh = ts.issue()
    Keyring().save("ts", {"access_token": "expired-access-token", "refresh_token": refresh,
                          "access_token_expires_at": int(time.time()) - 10,
                          "client_secret": DEMO_CLIENT_SECRET})
    procs = [subprocess.Popen([balancecli_exe(), "balance", "-p", "ts", "-f", "json"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    results = [(p.wait(60), *p.communicate()) for p in procs]
    for code, out, err in results:
        assert code == 0, err
        doc = json.loads(out)
        assert doc["errors"] == []
        assert len(doc["balances"]) == len(ts.v3["balances"])
    assert results[0][1].split('"generated_at"')[0] == results[1][1].split('"generated_at"')[0]
    assert ts.refresh_count == 1
    stored = Keyring().load("ts")
    assert stored["refresh_token"] in ts.refresh_tokens and stored["refresh_token"] != refresh


# -- failures: exit 4, the options, fast ----------------------------------------------------


def test_failing_backend_fails_fast_with_the_options(ts):
    # conftest selects keyring's failing backend (what keyring picks with no Secret Service)
    started = time.monotonic()
    result = run_cli("balance", "-p", "ts")
    assert time.monotonic() - started < 5
    assert_keyring_message(result, "no usable keyring backend")
    login = run_cli("auth", "login", "ts", "--with-token", input='{"refresh_token": "abcdefgh"}')
    assert_keyring_message(login, "no usable keyring backend")
    status = run_cli("auth", "status", "ts")
    assert status.returncode == 4 and "keyring         unusable" in status.stdout


def test_environment_alone_needs_no_keyring(ts):
    access, refresh = ts.issue()
    env = {"BALANCECLI_TS_ACCESS_TOKEN": access, "BALANCECLI_TS_REFRESH_TOKEN": refresh,
           "BALANCECLI_TS_CLIENT_ID": DEMO_CLIENT_ID,
           "BALANCECLI_TS_CLIENT_SECRET": DEMO_CLIENT_SECRET}
    result = run_cli("balance", "-p", "ts", "-f", "json", env=env)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    status = run_cli("auth", "status", "ts", env=env)
    assert status.returncode == 0, status.stdout + status.stderr


def test_no_session_bus(ts):
    started = time.monotonic()
    result = run_cli("balance", "-p", "ts", env={
        "PYTHON_KEYRING_BACKEND": SECRET_SERVICE_BACKEND,
        "DBUS_SESSION_BUS_ADDRESS": "unix:path=/nonexistent/balancecli-test-bus"})
    assert time.monotonic() - started < 5
    assert_keyring_message(result, "cannot reach the Secret Service on the D-Bus session bus")


def test_a_bus_that_never_answers_is_time_boxed(ts, tmp_path):
    path = str(tmp_path / "silent-bus")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(8)
    held: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                held.append(server.accept()[0])  # accept, then never say a word
            except OSError:
                return

    threading.Thread(target=accept, daemon=True).start()
    try:
        started = time.monotonic()
        result = run_cli("balance", "-p", "ts", env={
            "PYTHON_KEYRING_BACKEND": SECRET_SERVICE_BACKEND,
            "DBUS_SESSION_BUS_ADDRESS": f"unix:path={path}",
            "BALANCECLI_KEYRING_TIMEOUT": "1"}, timeout=30)
        elapsed = time.monotonic() - started
    finally:
        server.close()
        for conn in held:
            conn.close()
    assert elapsed < 5
    assert_keyring_message(result, "did not answer within 1 s")


def test_no_silent_plaintext_fallback(ts, monkeypatch, tmp_path):
    """keyrings.alt is installed (test extra): with no backend chosen and no Secret Service,
    keyring itself would pick its plaintext file. balancecli must refuse instead."""
    import keyring
    import keyring.core

    monkeypatch.delenv("PYTHON_KEYRING_BACKEND")
    monkeypatch.delenv("DBUS_SESSION_BUS_ADDRESS", raising=False)
    keyring.core._keyring_backend = None
    chosen = keyring.get_keyring()
    keyring.core._keyring_backend = None
    assert "keyrings.alt" in type(chosen).__module__ or "chainer" in type(chosen).__module__
    result = run_cli("auth", "login", "ts", "--with-token",
                     input=json.dumps({"refresh_token": "abcdefgh-refresh",
                                       "client_secret": DEMO_CLIENT_SECRET}))
    assert_keyring_message(result, "no usable keyring backend")
    data_home = os.environ["XDG_DATA_HOME"]
    written = [os.path.join(d, f) for d, _, files in os.walk(data_home) for f in files]
    assert written == []


@pytest.mark.keyring
def test_locked_keyring(tmp_path, monkeypatch, ts):
    try:
        service = SecretService.start(tmp_path / "locked")
    except ServiceMissing as exc:
        if os.environ.get("CI"):
            pytest.fail(str(exc))
        pytest.skip(str(exc))
    try:
        for name, value in service.env.items():
            monkeypatch.setenv(name, value)
        service.lock()
        started = time.monotonic()
        result = run_cli("balance", "-p", "ts", env={"BALANCECLI_KEYRING_TIMEOUT": "3"})
        assert time.monotonic() - started < 6
        assert_keyring_message(result, "the keyring is locked and cannot be unlocked")
        login = run_cli("auth", "login", "ts", "--with-token", input='{"refresh_token": "x"}',
                        env={"BALANCECLI_KEYRING_TIMEOUT": "3"})
        assert login.returncode == 4
    finally:
        service.stop()


@pytest.mark.keyring
def test_wrong_keyring_password(tmp_path, monkeypatch, ts):
    """The login keyring exists with one password; the daemon is started with another, so the
    collection stays locked and cannot be unlocked without a prompt."""
    root = tmp_path / "wrong"
    try:
        first = SecretService.start(root)
    except ServiceMissing as exc:
        if os.environ.get("CI"):
            pytest.fail(str(exc))
        pytest.skip(str(exc))
    for name, value in first.env.items():
        monkeypatch.setenv(name, value)
    import keyring.core

    from balancecli.credentials import Keyring

    keyring.core._keyring_backend = None
    Keyring().save("ts", {"refresh_token": "kept-in-the-first-session"})
    first.stop()
    second = SecretService.start(root, password="not-the-password")
    try:
        for name, value in second.env.items():
            monkeypatch.setenv(name, value)
        started = time.monotonic()
        result = run_cli("balance", "-p", "ts", env={"BALANCECLI_KEYRING_TIMEOUT": "3"})
        assert time.monotonic() - started < 6
        assert_keyring_message(result, "the keyring is locked and cannot be unlocked")
        assert "kept-in-the-first-session" not in result.stdout + result.stderr
    finally:
        second.stop()
