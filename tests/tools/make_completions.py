"""Regenerate completions/ from the installed command: python tests/tools/make_completions.py"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

SHELLS = {"bash": "balancecli.bash", "zsh": "_balancecli", "fish": "balancecli.fish",
          "powershell": "balancecli.ps1"}

if __name__ == "__main__":
    exe = Path(sys.executable).with_name("balancecli")
    exe = str(exe) if exe.exists() else shutil.which("balancecli")
    out = Path(__file__).resolve().parents[2] / "completions"
    env = {**os.environ, "_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION": "1"}
    for shell, name in SHELLS.items():
        text = subprocess.run([exe, "--show-completion", shell], env=env, check=True,
                              capture_output=True, text=True).stdout
        (out / name).write_text(text)
        print(f"wrote completions/{name}")
