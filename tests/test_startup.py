"""DESIGN §10: --help and --version load neither requests, keyring nor sqlite3."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("requests", "keyring", "sqlite3", "rich.table", "balancecli.http")


def test_cli_import_is_light():
    code = ("import sys, balancecli.cli; "
            f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_version_does_not_import_heavy_modules():
    code = ("import sys\nfrom balancecli.cli import app\n"
            "try:\n    app(['--version'])\nexcept SystemExit:\n    pass\n"
            f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.splitlines() == ["balancecli 0.1.0", ""]
