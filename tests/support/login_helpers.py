"""Helpers of the login tests (test_auth.py, test_oauth_loopback.py, test_login_prompts.py):
the plaintext test keyring shared with the CLI subprocesses, a running CLI whose stderr is read
while it runs, and the browser's part of an OAuth login.
"""

from __future__ import annotations

import os
import queue
import re
import subprocess
import threading
import time

import requests

from tests.support.cli import balancecli_exe

PLAINTEXT = "keyrings.alt.file.PlaintextKeyring"
FAST = {"max_retries": 0, "retry_backoff": 0.01}


def write_config(path, profiles: dict) -> None:
    from balancecli.cli.commands.profile import dump

    path.write_text(dump({"profiles": profiles}))


def use_plaintext_keyring(monkeypatch, tmp_path):
    """The explicit plaintext test keyring, shared with the subprocesses via the env; returns
    the config path (BALANCECLI_CONFIG)."""
    import keyring.core

    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", PLAINTEXT)
    keyring.core._keyring_backend = None
    cfg = tmp_path / "config.toml"
    monkeypatch.setenv("BALANCECLI_CONFIG", str(cfg))
    return cfg


def item(profile: str) -> dict:
    from balancecli.credentials import Keyring

    return Keyring().load(profile)


class Cli:
    """A running `balancecli` whose stderr is read line by line while it runs."""

    def __init__(self, *args: str, stdin: str | None = None, env: dict | None = None):
        self.proc = subprocess.Popen(
            [balancecli_exe(), *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True, env={**os.environ, **(env or {})})
        self.lines: queue.Queue[str] = queue.Queue()
        self.err: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()
        self.proc.stdin.write(stdin or "")
        self.proc.stdin.close()

    def _read(self) -> None:
        for line in self.proc.stderr:
            self.err.append(line)
            self.lines.put(line)

    def url(self, timeout: float = 20) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.2)
            except queue.Empty:
                assert self.proc.poll() is None, "".join(self.err)
                continue
            match = re.search(r"(https?://\S+/(?:oauth2/)?authorize\?\S+)", line)
            if match:
                return match.group(1)
        raise AssertionError("no URL printed: " + "".join(self.err))

    def finish(self, timeout: float = 30) -> tuple[int, str, str]:
        out = self.proc.stdout.read()
        code = self.proc.wait(timeout)
        time.sleep(0.05)
        return code, out, "".join(self.err)


def follow(url: str, *, tamper_state: bool = False) -> requests.Response:
    """What the browser does: the authorize URL answers 302 to our listener; follow it."""
    first = requests.get(url, allow_redirects=False, timeout=5)
    assert first.status_code == 302, first.text
    location = first.headers["Location"]
    assert re.match(r"http://localhost:\d+[/?]", location), location
    if tamper_state:
        location = re.sub(r"state=[^&]+", "state=forged", location)
    return requests.get(location, timeout=5)
