"""The per-profile token lock: cross-platform (``filelock``, no ``fcntl`` in our code) and
bounded: a run that waits behind a refresh that never ends gives up with exit 5, naming since
when the other run holds the lock.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import time

import pytest

from balancecli.core.errors import UnavailableError
from balancecli.demo.tradestation import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, FakeTradeStation
from tests.support import REPO
from tests.support.cli import balancecli_exe
from tests.support.config import write_config

PACKAGE = REPO / "balancecli"
POSIX_ONLY = {"fcntl", "termios", "tty", "pty", "pwd", "grp", "resource", "posix", "syslog",
              "crypt", "spwd", "nis", "readline"}
WINDOWS_ONLY = {"msvcrt", "winreg", "_winapi", "winsound"}


def test_no_module_of_the_package_imports_a_platform_only_module():
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name.split(".")[0] for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names = [node.module.split(".")[0]]
            found += [f"{path.relative_to(PACKAGE)}: {n}" for n in names
                      if n in POSIX_ONLY | WINDOWS_ONLY]
    assert found == []


BLOCKED = r"""
import sys
for name in {blocked!r}:
    sys.modules[name] = None  # `import fcntl` now fails, as on Windows
import pkgutil, importlib, balancecli
for module in pkgutil.walk_packages(balancecli.__path__, "balancecli."):
    if not module.name.endswith("__main__"):  # that one runs the app
        importlib.import_module(module.name)
from balancecli.credentials import profile_lock
with profile_lock("p1", timeout=1):
    print("locked")
"""


def test_everything_imports_and_locks_without_posix_modules(tmp_path):
    # (posix and pwd stay: the standard library itself needs them on a POSIX interpreter.)
    code = BLOCKED.format(blocked=sorted(POSIX_ONLY - {"posix", "pwd", "readline"}))
    result = subprocess.run([sys.executable, "-W", "ignore", "-c", code], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "locked\n"


HOLDER = r"""
import sys, time
from balancecli.credentials import profile_lock
with profile_lock(sys.argv[1]):
    print("holding", flush=True)
    time.sleep(60)
"""


def test_a_held_lock_gives_up_after_the_timeout_naming_the_holder():
    from balancecli.credentials import profile_lock

    holder = subprocess.Popen([sys.executable, "-c", HOLDER, "my profile"],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "holding\n"
        since = time.strftime("%H:%M")
        started = time.monotonic()
        with pytest.raises(UnavailableError) as info, profile_lock("my profile", timeout=0.5):
            pass
        assert 0.4 < time.monotonic() - started < 5
        error = info.value
        assert error.exit_code == 5 and error.profile == "my profile"
        assert error.message.startswith(
            "another balancecli run holds the lock of profile my profile since ")
        assert since in error.message or time.strftime("%H:%M") in error.message
        assert f"(pid {holder.pid})" in error.next_step
    finally:
        holder.kill()
        holder.wait()
    with profile_lock("my profile", timeout=5):  # the OS released it with its holder
        pass


def test_a_bad_lock_timeout_is_a_config_error(monkeypatch):
    from balancecli.core.errors import ConfigError
    from balancecli.credentials import profile_lock

    for value in ("abc", "0", "-1", "nan", "inf"):
        monkeypatch.setenv("BALANCECLI_LOCK_TIMEOUT", value)
        with pytest.raises(ConfigError, match="BALANCECLI_LOCK_TIMEOUT must be a number of "
                                              "seconds above 0") as info, profile_lock("p"):
            pass
        assert info.value.exit_code == 3


@pytest.fixture
def held_refresh(tmp_path, monkeypatch):
    """A TradeStation profile whose access token has expired, tokens in a (plaintext) keyring
    shared by the processes, and a token endpoint that holds every refresh for 30 s."""
    import keyring.core

    from balancecli.credentials import Keyring

    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyrings.alt.file.PlaintextKeyring")
    keyring.core._keyring_backend = None
    fake = FakeTradeStation().start()
    config = write_config(tmp_path / "config.toml", {"ts": {
        "broker": "tradestation", "base_url": fake.url, "token_url": fake.url + "/oauth/token",
        "client_id": DEMO_CLIENT_ID, "max_retries": 0}})
    monkeypatch.setenv("BALANCECLI_CONFIG", str(config))
    _, refresh = fake.issue()
    Keyring().save("ts", {"access_token": "expired-access-token", "refresh_token": refresh,
                          "access_token_expires_at": int(time.time()) - 10,
                          "client_secret": DEMO_CLIENT_SECRET})
    fake.inject("timeout", "/oauth/token", times=5, seconds=30)
    yield fake
    fake.stop()


def test_a_run_waiting_behind_a_hung_refresh_exits_5_in_bounded_time(held_refresh):
    first = subprocess.Popen([balancecli_exe(), "balance", "-p", "ts", "--timeout", "40"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 20
        while not held_refresh.calls("/oauth/token") and time.monotonic() < deadline:
            time.sleep(0.05)
        assert held_refresh.calls("/oauth/token"), "the first run never asked for a token"
        started = time.monotonic()
        second = subprocess.run([balancecli_exe(), "balance", "-p", "ts"],
                                capture_output=True, text=True, timeout=30,
                                env={**__import__("os").environ,
                                     "BALANCECLI_LOCK_TIMEOUT": "2"})
        elapsed = time.monotonic() - started
    finally:
        first.kill()
        first.wait()
    assert second.returncode == 5, second.stderr
    assert elapsed < 8, elapsed
    [line] = second.stderr.splitlines()
    assert line.startswith("error: ts: another balancecli run holds the lock of profile ts "
                           "since ")
    assert "(waited 2 s)" in line and "Traceback" not in second.stderr
    assert len(held_refresh.calls("/oauth/token")) == 1  # the second run never asked
