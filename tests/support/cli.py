"""Running the installed ``balancecli`` command as a user does: as a subprocess with its output
piped, or on a pseudo-terminal of a given width (stdout only, or as the controlling terminal so
that ^C is a real Ctrl-C)."""

from __future__ import annotations

import fcntl
import os
import re
import select
import shutil
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

SHORT = {"_BALANCECLI_WATCH_MIN_SECONDS": "0.1"}  # --watch below 10 s, for the pty tests only


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
            timeout: float = 60, cwd: str | os.PathLike | None = None,
            ) -> subprocess.CompletedProcess:
    """Run the installed command as a subprocess; returns stdout/stderr as text."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.run(
        [balancecli_exe(), *args], capture_output=True, text=True, env=full_env,
        input=input, timeout=timeout, cwd=cwd,
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
    for var in ("COLUMNS", "LINES"):  # the terminal's own size, as for a person
        child_env.pop(var, None)
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


ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def table_lines(out: str) -> list[str]:
    return [ANSI.sub("", line) for line in out.splitlines()]


class Terminal:
    """The installed command on a pseudo-terminal that is its controlling terminal, so that
    writing ^C to the master sends SIGINT as a user's Ctrl-C does."""

    def __init__(self, args: list[str], env: dict[str, str], cols: int = 160) -> None:
        import pty
        import struct

        self.master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, cols, 0, 0))

        def controlling() -> None:
            os.setsid()
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)

        self.proc = subprocess.Popen(
            [balancecli_exe(), *args], stdin=slave, stdout=slave, stderr=slave,
            env={**os.environ, "TERM": "xterm-256color", **env}, preexec_fn=controlling)
        os.close(slave)
        self.output = b""

    def wait_for(self, text: str, timeout: float = 20.0) -> str:
        deadline = time.monotonic() + timeout
        while text.encode() not in self.output:
            left = deadline - time.monotonic()
            if left <= 0 or self.proc.poll() is not None and not self._read(0.1):
                raise AssertionError(f"{text!r} not seen; output so far:\n"
                                     f"{self.output.decode(errors='replace')[-3000:]}")
            self._read(min(left, 0.2))
        return self.output.decode(errors="replace")

    def _read(self, timeout: float) -> bool:
        ready, _, _ = select.select([self.master], [], [], timeout)
        if not ready:
            return False
        try:
            data = os.read(self.master, 65536)
        except OSError:
            return False
        self.output += data
        return bool(data)

    def type(self, text: str) -> None:
        """Keys typed at the terminal (a line ends with "\r", as the Enter key sends)."""
        os.write(self.master, text.encode())

    def finish(self, timeout: float = 30.0) -> tuple[int, str]:
        """(exit code, everything the terminal showed) once the command ends by itself."""
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None and time.monotonic() < deadline:
            self._read(0.1)
        while self._read(0.1):
            pass
        code = self.proc.wait(timeout=5)
        os.close(self.master)
        return code, self.output.decode(errors="replace").replace("\r\n", "\n")

    def ctrl_c(self, timeout: float = 5.0) -> int:
        os.write(self.master, b"\x03")
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None and time.monotonic() < deadline:
            self._read(0.05)
        while self._read(0.05):
            pass
        code = self.proc.wait(timeout=1)
        os.close(self.master)
        return code

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


# A child's peak RSS as the kernel counts it includes what it inherited when it was forked, and
# pytest itself grows to hundreds of MB over a whole run: so a small launcher process forks the
# command and reports the command's own peak.
_LAUNCHER = r"""
import os, subprocess, sys, threading
child = subprocess.Popen(sys.argv[2:])
timer = threading.Timer(float(sys.argv[1]), child.kill)
timer.start()
_, status, usage = os.wait4(child.pid, 0)
timer.cancel()
sys.stderr.write(f"\n@@ {os.waitstatus_to_exitcode(status)} {usage.ru_maxrss}\n")
"""


def run_measured(*args: str, env: dict | None = None,
                 timeout: float = 60) -> tuple[subprocess.CompletedProcess, float, float]:
    """Run the installed command; returns (process, seconds, the command's peak RSS in MB)."""
    started = time.monotonic()
    launcher = subprocess.run([sys.executable, "-c", _LAUNCHER, str(timeout), balancecli_exe(),
                               *args], capture_output=True, text=True,
                              env={**os.environ, **(env or {})}, timeout=timeout + 30)
    seconds = time.monotonic() - started
    err, _, tail = launcher.stderr.rpartition("\n@@ ")
    code, rss = tail.split()
    proc = subprocess.CompletedProcess(list(args), int(code), launcher.stdout, err)
    return proc, seconds, int(rss) / 1024

