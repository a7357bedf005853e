"""A real Secret Service for the keyring tests: gnome-keyring on a private D-Bus session.

``SecretService.start(tmp)`` sets up a throw-away XDG_DATA_HOME / XDG_RUNTIME_DIR (before the
bus starts, so the keyring files land there), starts a private session bus with
``dbus-daemon --session --fork``, then ``gnome-keyring-daemon --unlock --components=secrets``
with the password on stdin (which creates and unlocks the ``login`` collection), and waits until
``org.freedesktop.secrets`` is owned on the bus. ``stop()`` kills the daemon and the bus by PID.

``env`` is what a subprocess (or monkeypatch) needs to use it. ``lock()`` locks every collection
through ``org.freedesktop.Secret.Service.Lock``, the state a desktop session is in before login.

Test modules import the fixtures: ``from tests.support.keyring_service import secret_service,
use_secret_service  # noqa: F401``.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

SECRET_SERVICE_BACKEND = "keyring.backends.SecretService.Keyring"
PASSWORD = "balancecli-test-keyring-password"


class ServiceMissing(RuntimeError):
    """gnome-keyring or dbus is not installed or did not start."""


class SecretService:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.env: dict[str, str] = {}
        self.pids: list[int] = []

    # -- lifecycle
    @classmethod
    def start(cls, root: Path, *, unlock: bool = True,
              password: str = PASSWORD) -> SecretService:
        for tool in ("dbus-daemon", "gnome-keyring-daemon", "dbus-send"):
            if shutil.which(tool) is None:
                raise ServiceMissing(f"{tool} is not installed (apt install dbus gnome-keyring)")
        service = cls(root)
        try:
            service._start(unlock, password)
        except BaseException:
            service.stop()
            raise
        return service

    def _start(self, unlock: bool, password: str) -> None:
        data, runtime = self.root / "data", self.root / "runtime"
        for path in (data, runtime):
            path.mkdir(parents=True, exist_ok=True)
            path.chmod(0o700)
        env = {
            **os.environ,
            "XDG_DATA_HOME": str(data),
            "XDG_RUNTIME_DIR": str(runtime),
            "HOME": str(self.root),
        }
        env.pop("DBUS_SESSION_BUS_ADDRESS", None)
        bus = subprocess.run(
            ["dbus-daemon", "--session", "--fork", "--print-address=1", "--print-pid=1"],
            capture_output=True, text=True, env=env, timeout=10,
        )
        lines = bus.stdout.split()
        if bus.returncode != 0 or len(lines) < 2:
            raise ServiceMissing(f"dbus-daemon did not start: {bus.stderr.strip()[:200]}")
        address, pid = lines[0], int(lines[1])
        self.pids.append(pid)
        env["DBUS_SESSION_BUS_ADDRESS"] = address
        args = ["gnome-keyring-daemon", "--components=secrets", "--daemonize"]
        if unlock:
            args.insert(1, "--unlock")
        daemon = subprocess.run(
            args, input=password if unlock else "", capture_output=True, text=True, env=env,
            timeout=15,
        )
        if daemon.returncode != 0:
            raise ServiceMissing(f"gnome-keyring-daemon failed: {daemon.stderr.strip()[:200]}")
        match = re.search(r"GNOME_KEYRING_PID=(\d+)", daemon.stdout)
        if match:
            self.pids.append(int(match.group(1)))
        self.env = {
            "DBUS_SESSION_BUS_ADDRESS": address,
            "XDG_RUNTIME_DIR": str(runtime),
            "PYTHON_KEYRING_BACKEND": SECRET_SERVICE_BACKEND,
        }
        self._wait_for_name(env)
        if not match:
            pid_of = self._owner_pid(env)
            if pid_of:
                self.pids.append(pid_of)

    def _wait_for_name(self, env: dict[str, str]) -> None:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            reply = subprocess.run(
                ["dbus-send", "--session", "--dest=org.freedesktop.DBus",
                 "--type=method_call", "--print-reply", "/org/freedesktop/DBus",
                 "org.freedesktop.DBus.NameHasOwner", "string:org.freedesktop.secrets"],
                capture_output=True, text=True, env=env, timeout=5,
            )
            if "boolean true" in reply.stdout:
                return
            time.sleep(0.05)
        raise ServiceMissing("org.freedesktop.secrets did not appear on the private bus")

    @staticmethod
    def _owner_pid(env: dict[str, str]) -> int | None:
        reply = subprocess.run(
            ["dbus-send", "--session", "--dest=org.freedesktop.DBus", "--type=method_call",
             "--print-reply", "/org/freedesktop/DBus",
             "org.freedesktop.DBus.GetConnectionUnixProcessID",
             "string:org.freedesktop.secrets"],
            capture_output=True, text=True, env=env, timeout=5,
        )
        match = re.search(r"uint32 (\d+)", reply.stdout)
        return int(match.group(1)) if match else None

    def stop(self) -> None:
        for pid in reversed(self.pids):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                continue
            for _ in range(50):
                try:
                    if os.waitpid(pid, os.WNOHANG)[0] == pid:
                        break
                except ChildProcessError:
                    pass
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    break
                time.sleep(0.02)
            else:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            try:  # reap it if it is our child (dbus-daemon --fork may leave a zombie)
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pass
        self.pids.clear()

    # -- states
    def _bus_env(self) -> dict[str, str]:
        return {**os.environ, **self.env}

    def lock(self) -> None:
        """Lock every collection (Secret.Service.Lock), as before a desktop login."""
        self._call_service("Lock")

    def _call_service(self, method: str) -> None:
        from contextlib import closing

        import secretstorage

        old = os.environ.get("DBUS_SESSION_BUS_ADDRESS")
        os.environ["DBUS_SESSION_BUS_ADDRESS"] = self.env["DBUS_SESSION_BUS_ADDRESS"]
        try:
            with closing(secretstorage.dbus_init()) as connection:
                collections = [c.collection_path for c in
                               secretstorage.get_all_collections(connection)]
                from jeepney import DBusAddress, new_method_call

                service = DBusAddress("/org/freedesktop/secrets",
                                      bus_name="org.freedesktop.secrets",
                                      interface="org.freedesktop.Secret.Service")
                message = new_method_call(service, method, "ao", (collections,))
                connection.send_and_get_reply(message, timeout=5)
        finally:
            if old is None:
                os.environ.pop("DBUS_SESSION_BUS_ADDRESS", None)
            else:
                os.environ["DBUS_SESSION_BUS_ADDRESS"] = old


@pytest.fixture(scope="session")
def secret_service(tmp_path_factory):
    """One gnome-keyring for the session; FAILS when missing in CI, skips elsewhere."""
    try:
        service = SecretService.start(tmp_path_factory.mktemp("secret-service"))
    except (ServiceMissing, OSError, subprocess.SubprocessError) as exc:
        if os.environ.get("CI"):
            pytest.fail(f"the keyring tests need gnome-keyring and dbus in CI: {exc}")
        pytest.skip(f"no Secret Service (install gnome-keyring and dbus): {exc}")
    yield service
    service.stop()


@pytest.fixture
def use_secret_service(secret_service, monkeypatch):
    """Point this test (and its subprocesses) at the private Secret Service."""
    import keyring.core

    from balancecli import credentials as secrets

    for name, value in secret_service.env.items():
        monkeypatch.setenv(name, value)
    keyring.core._keyring_backend = None
    secrets._BROKEN.clear()
    yield secret_service
    keyring.core._keyring_backend = None
