"""Build and run the C# bridge under mono against the Quantower API stub (tests/quantower_stub).

Shared by test_quantower.py and test_bridge.py; the build runs once per test session (each
module's ``harness`` fixture calls the cached ``build_harness``).
"""

from __future__ import annotations

import atexit
import functools
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

HERE = Path(__file__).parent
STUB = HERE / "quantower_stub"
BRIDGE_CS = HERE.parents[1] / "balancecli" / "brokers" / "quantower" / "BalanceCliBridge.cs"


def need_mono() -> None:
    missing = [tool for tool in ("mcs", "mono") if shutil.which(tool) is None]
    if missing:
        reason = f"{' and '.join(missing)} not installed (apt-get install mono-mcs mono-runtime)"
        if os.environ.get("CI"):
            pytest.fail(f"CI: {reason}")
        pytest.skip(reason)


@functools.cache
def build_harness() -> Path:
    """The stub DLL, the bridge compiled against it (no warnings allowed) and the harness."""
    need_mono()
    out = Path(tempfile.mkdtemp(prefix="balancecli-mono-"))
    atexit.register(shutil.rmtree, out, ignore_errors=True)

    def mcs(*args: str) -> str:
        done = subprocess.run(["mcs", *args], cwd=out, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout + done.stderr

    mcs("-target:library", "-out:TradingPlatform.BusinessLayer.dll",
        str(STUB / "TradingPlatform.cs"))
    # -langversion:5: conservative C# that any Quantower and mcs version compiles.
    warnings = mcs("-target:library", "-langversion:5", "-warn:4",
                   "-r:TradingPlatform.BusinessLayer.dll",
                   "-r:System.dll", "-out:BalanceCliBridge.dll", str(BRIDGE_CS))
    assert "warning" not in warnings, warnings
    mcs("-r:TradingPlatform.BusinessLayer.dll", "-r:BalanceCliBridge.dll", "-out:Harness.exe",
        str(STUB / "Harness.cs"))
    return out / "Harness.exe"


# Signs that the mono runtime itself fell over (seen on a loaded 2-core machine: a
# ThreadAbortException at shutdown, a native crash report), not the bridge failing a check.
RUNTIME_CRASH = ("ThreadAbortException", "Native Crash Reporting", "Got a SIGSEGV",
                 "Got a SIGABRT")


def mono(harness: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    """Run the harness; a crash of the mono runtime itself is retried once (the second run's
    result stands), any other failure is returned as it is."""
    need_mono()
    env = {**os.environ, "MONO_CRASH_NOFILE": "1"}  # no mono_crash.*.json in the work tree
    for attempt in range(2):
        done = subprocess.run(["mono", str(harness), *args], capture_output=True, text=True,
                              timeout=timeout, env=env)
        crashed = done.returncode != 0 and any(m in done.stdout + done.stderr
                                                for m in RUNTIME_CRASH)
        if not crashed or attempt:
            return done
    return done
