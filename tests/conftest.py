"""Hermetic tests: every test gets its own HOME, XDG dirs and keyring backend.

By default the keyring is keyring's failing backend, so no test touches a real keyring by
accident; tests that need one select it explicitly (see test_keyring.py).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from balancecli.brokers.base import Context
from balancecli.config import validate_profile
from balancecli.fetch import Options, make_context
from balancecli.secrets import Secrets

FAIL_BACKEND = "keyring.backends.fail.Keyring"


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for var, sub in (("XDG_CONFIG_HOME", "config"), ("XDG_DATA_HOME", "data"),
                     ("XDG_CACHE_HOME", "cache"), ("XDG_STATE_HOME", "state")):
        (home / sub).mkdir()
        monkeypatch.setenv(var, str(home / sub))
    for name in list(os.environ):
        if name.startswith("BALANCECLI_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", FAIL_BACKEND)
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.delenv("NO_COLOR", raising=False)
    import keyring.core

    from balancecli import secrets

    keyring.core._keyring_backend = None  # re-resolve the backend from the environment
    secrets._REPLACED.clear()  # a token replaced in one test is not the next test's
    yield home
    keyring.core._keyring_backend = None


def make_ctx(profile: str, settings: dict, secrets: dict | None = None,
             **options) -> Context:
    """A broker Context over real sockets, with secrets given directly (no keyring)."""
    prof = validate_profile(profile, settings)
    opts = Options(**options)
    sec = Secrets(profile, prof.broker_class.secret_fields(prof.settings), env={},
                  preset=secrets or {})
    return make_context(prof, opts, sec)


@pytest.fixture
def ctx_factory():
    return make_ctx


def balancecli_exe() -> str:
    """The installed console script (the venv's), never `python -m`."""
    exe = Path(sys.executable).with_name("balancecli")
    if exe.exists():
        return str(exe)
    found = shutil.which("balancecli")
    if not found:
        pytest.fail("the balancecli command is not installed (pip install -e '.[test]')")
    return found


def run_cli(*args: str, env: dict | None = None, input: str | None = None,
            timeout: float = 60) -> subprocess.CompletedProcess:
    """Run the installed command as a subprocess; returns stdout/stderr as text."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.run(
        [balancecli_exe(), *args], capture_output=True, text=True, env=full_env,
        input=input, timeout=timeout,
    )


def on_terminal(args: list[str], cols: int, env: dict | None = None,
                timeout: float = 60) -> tuple[str, str, int]:
    """Run the installed command with stdout on a pty of ``cols`` columns (stderr piped apart,
    stdin empty); returns (screen text with "\n" line ends, stderr, exit code)."""
    import fcntl
    import pty
    import struct
    import termios

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, cols, 0, 0))
    child_env = {**os.environ, **(env or {}), "TERM": "xterm-256color"}
    child_env.pop("COLUMNS", None)  # the terminal's own size, as for a person
    proc = subprocess.Popen([balancecli_exe(), *args], stdout=slave, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, env=child_env)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    _, err = proc.communicate(timeout=timeout)
    os.close(master)
    out = b"".join(chunks).decode().replace("\r\n", "\n")
    return out, err.decode(), proc.returncode


def toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def write_config(path: Path, profiles: dict[str, dict]) -> Path:
    """A config file with the given [profiles.NAME] tables."""
    lines = []
    for name, settings in profiles.items():
        lines.append(f"[profiles.{name}]")
        lines += [f"{k} = {toml_value(v)}" for k, v in settings.items()]
        lines.append("")
    path.write_text("\n".join(lines))
    return path


FAST = {"max_retries": 0, "retry_backoff": 0.01}


@pytest.fixture
def ts_fake():
    from balancecli.demo.tradestation import FakeTradeStation

    fake = FakeTradeStation().start()
    yield fake
    fake.stop()


@pytest.fixture
def ts_profile(ts_fake):
    """(settings, env secrets) of a v3 profile named 'ts' at the fake, with a live token."""
    from balancecli.demo.tradestation import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET

    access, refresh = ts_fake.issue()
    settings = {"broker": "tradestation", "base_url": ts_fake.url,
                "token_url": ts_fake.url + "/oauth/token", **FAST}
    env = {"BALANCECLI_TS_ACCESS_TOKEN": access, "BALANCECLI_TS_REFRESH_TOKEN": refresh,
           "BALANCECLI_TS_CLIENT_ID": DEMO_CLIENT_ID,
           "BALANCECLI_TS_CLIENT_SECRET": DEMO_CLIENT_SECRET}
    return settings, env
