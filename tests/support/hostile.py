"""Profiles of every broker at its fake on 127.0.0.1, for the hostile-input tests: each profile's
settings and the environment variables holding its secrets, the config file written from them,
and what a test checks after a run (the error lines, what was stored, that no secret leaked)."""

from __future__ import annotations

import json
import sqlite3
import subprocess
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support.config import FAST, write_config

HEALTHY = ["11827391", "11827392", "210FUT01"]  # the TradeStation fake's accounts


@dataclass
class Profiles:
    """Named profiles (settings), their secrets as environment variables and their fakes."""

    tmp: Path
    settings: dict[str, dict[str, Any]] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    fakes: dict[str, Any] = field(default_factory=dict)
    stack: ExitStack = field(default_factory=ExitStack)

    def _secrets(self, name: str, values: dict[str, str]) -> None:
        up = "".join(c if c.isalnum() else "_" for c in name.upper())
        self.env |= {f"BALANCECLI_{up}_{field}": value for field, value in values.items()}

    def tradestation(self, name: str, **settings: Any) -> Any:
        from balancecli.demo.tradestation import (
            DEMO_CLIENT_ID,
            DEMO_CLIENT_SECRET,
            FakeTradeStation,
        )

        fake = self.stack.enter_context(FakeTradeStation())
        access, refresh = fake.issue()
        self.settings[name] = {"broker": "tradestation", "base_url": fake.url,
                               "token_url": fake.url + "/oauth/token", **FAST, **settings}
        self._secrets(name, {"ACCESS_TOKEN": access, "REFRESH_TOKEN": refresh,
                             "CLIENT_ID": DEMO_CLIENT_ID, "CLIENT_SECRET": DEMO_CLIENT_SECRET})
        self.fakes[name] = fake
        return fake

    def longport(self, name: str) -> Any:
        from balancecli.demo.longport import (
            DEMO_ACCESS_TOKEN,
            DEMO_APP_KEY,
            DEMO_APP_SECRET,
            FakeLongPort,
        )

        fake = self.stack.enter_context(FakeLongPort())
        self.settings[name] = {"broker": "longport", "auth": "apikey", "base_url": fake.url,
                               "account_id": "LP-1", **FAST}
        self._secrets(name, {"APP_KEY": DEMO_APP_KEY, "APP_SECRET": DEMO_APP_SECRET,
                             "ACCESS_TOKEN": DEMO_ACCESS_TOKEN})
        self.fakes[name] = fake
        return fake

    def etna(self, name: str) -> Any:
        from balancecli.demo.etna import DEMO_APP_KEY, DEMO_PASSWORD, DEMO_USERNAME, FakeEtna

        fake = self.stack.enter_context(FakeEtna())
        self.settings[name] = {"broker": "etna", "base_url": fake.url + "/api", **FAST}
        self._secrets(name, {"APP_KEY": DEMO_APP_KEY, "USERNAME": DEMO_USERNAME,
                             "PASSWORD": DEMO_PASSWORD})
        self.fakes[name] = fake
        return fake

    def quantower_bridge(self, name: str) -> Any:
        from balancecli.demo.quantower import DEMO_TOKEN, EXPORT_PATH, FakeQuantowerBridge

        fake = self.stack.enter_context(FakeQuantowerBridge())
        self.settings[name] = {"broker": "quantower", "source": fake.url + EXPORT_PATH,
                               "max_age": 0, **FAST}
        self._secrets(name, {"TOKEN": DEMO_TOKEN})
        self.fakes[name] = fake
        return fake

    def quantower_file(self, name: str, text: str) -> Path:
        export = self.tmp / f"{name}-export.json"
        export.write_text(text)
        self.settings[name] = {"broker": "quantower", "source": str(export), "max_age": 0}
        return export

    @property
    def config(self) -> Path:
        return self.tmp / "config.toml"

    def write(self) -> dict[str, str]:
        """The config written; the environment a run needs (secrets and BALANCECLI_CONFIG)."""
        write_config(self.config, self.settings)
        return {**self.env, "BALANCECLI_CONFIG": str(self.config),
                "BALANCECLI_DB": str(self.tmp / "history.sqlite3")}

    def secrets(self) -> list[str]:
        return [value for key, value in self.env.items() if key.startswith("BALANCECLI_")]

    def close(self) -> None:
        self.stack.close()


def errors_of(proc: subprocess.CompletedProcess) -> list[str]:
    """The lines on stderr that are not warnings or notes."""
    return [line for line in proc.stderr.splitlines()
            if not line.startswith(("warning: ", "note: "))]


def assert_no_secret(secrets: list[str], *texts: str) -> None:
    for secret in secrets:
        for text in texts:
            assert secret not in text


def stored(db: Path) -> tuple[list[tuple[str, str]], list[tuple[str, str, str]]]:
    """(profile, account_id) of every stored balance; (profile, kind, message) of every stored
    error, over all runs."""
    conn = sqlite3.connect(db)
    try:
        rows = conn.execute("SELECT profile, account_id FROM balances ORDER BY rowid").fetchall()
        errors = [(e.get("profile"), e.get("kind"), e.get("message"))
                  for (text,) in conn.execute("SELECT errors_json FROM runs ORDER BY id")
                  for e in json.loads(text or "[]")]
    finally:
        conn.close()
    return [tuple(r) for r in rows], errors


def db_text(db: Path) -> str:
    """The history file and its WAL as text, to look for secrets in."""
    parts = [p.read_bytes() for p in (db, Path(f"{db}-wal")) if p.exists()]
    return b"".join(parts).decode("latin-1")


# Answers that are not HTTP, each with the reason the error line gives (the connection
# worked: bad_response, never retried).
NOT_HTTP = {
    "a 1 MiB header line": (b"HTTP/1.1 200 OK\r\nX-Pad: " + b"a" * (1 << 20) + b"\r\n\r\n{}",
                            "got more than 65536 bytes when reading header line"),
    "10,000 headers": (b"HTTP/1.1 200 OK\r\n" + b"".join(b"X-%d: 1\r\n" % i
                                                        for i in range(10_000)) + b"\r\n{}",
                       "got more than 100 headers"),
    "an SSH banner": (b"SSH-2.0-OpenSSH_9.6\r\n", "its status line is 'SSH-2.0-OpenSSH_9.6\\r\\n'"),
    "two Content-Lengths": (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 9\r\n\r\n"
                            b'{}', "Content-Length contained multiple unmatching values (2, 9)"),
}
