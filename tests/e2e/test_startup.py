"""Start-up: --help and --version load neither requests, keyring nor sqlite3."""

from __future__ import annotations

import os
import subprocess
import sys

HEAVY = ("requests", "keyring", "sqlite3", "rich.table", "balancecli.net.http")


def test_cli_import_is_light():
    code = ("import sys, balancecli.cli; "
            f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_version_does_not_import_heavy_modules():
    code = ("import sys\nfrom balancecli.cli.app import app\n"
            "try:\n    app(['--version'])\nexcept SystemExit:\n    pass\n"
            f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.splitlines() == ["balancecli 0.1.0", ""]


def test_a_run_leaves_the_modules_to_the_os_at_exit(tmp_path):
    """usage.run freezes the collector's generations: the interpreter's exit does not walk
    every module's objects again (30-40 ms of a short run, tests/bench_cli.py scale)."""
    code = ("import atexit, gc, sys\n"
            "atexit.register(lambda: sys.stderr.write(f'frozen {gc.get_freeze_count()}\\n'))\n"
            "sys.argv = ['balancecli', '--demo', 'accounts', '-f', 'json']\n"
            "from balancecli.cli.app import main\nmain()\n")
    env = {**os.environ, "BALANCECLI_CONFIG": str(tmp_path / "none.toml")}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                          timeout=120)
    assert proc.returncode == 0 and proc.stdout.startswith("{")
    frozen = int(proc.stderr.rsplit("frozen ", 1)[1])
    assert frozen > 20_000  # the modules and the command tree (0 without the freeze)
