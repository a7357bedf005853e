"""The README as the tests read it: its sections, the crontab lines and the troubleshooting
entries (a ``console`` block: ``$ COMMAND`` and the lines it prints), and a user's machine to
run them on: a HOME with the command where pipx puts it and an environment as cron or a fresh
SSH login has it (``env -i``: no D-Bus, so no keyring, and none of the test's variables)."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from tests.support import REPO
from tests.support.cli import balancecli_exe

README = REPO / "README.md"
USER_HOME = "/home/me"  # the HOME the README's samples were printed in
SYSTEM_PATH = "/usr/bin:/bin"  # cron's PATH


def text() -> str:
    return README.read_text(encoding="utf-8")


def section(title: str) -> str:
    """The ``## title`` section, up to the next ``## `` heading outside a code block."""
    lines, inside, fence = [], False, False
    for line in text().splitlines():
        if line.startswith("```"):
            fence = not fence
        if not fence and line.startswith("## "):
            if inside:
                break
            inside = line == f"## {title}"
        if inside:
            lines.append(line)
    assert lines, f"README.md has no '## {title}' section"
    return "\n".join(lines) + "\n"


def crontab_lines(title: str) -> list[str]:
    """The crontab lines (five time fields, then the command) in the section's code blocks."""
    return re.findall(r"^(?:\S+ ){5}(.+)$", "\n".join(
        block for block in re.findall(r"```\n(.*?)```", section(title), re.S)), re.M)


def console_blocks(title: str) -> list[tuple[str, list[str]]]:
    """Each ``console`` block of the section: its ``$ command`` and the lines that follow."""
    found = []
    for block in re.findall(r"```console\n(.*?)```", section(title), re.S):
        first, *rest = block.rstrip("\n").split("\n")
        assert first.startswith("$ "), f"a console block starts with '$ ': {first!r}"
        found.append((first[2:], rest))
    return found


def pipx_home(home: Path) -> Path:
    """``home`` with the installed command where ``pipx install`` puts it."""
    bin_dir = home / ".local" / "bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    target = bin_dir / "balancecli"
    if not target.exists():
        target.symlink_to(balancecli_exe())
    return home


def machine_clock() -> dict[str, str]:
    """The variables of a ``faketime`` run (CI runs these tests a year ahead): they move the
    clock of the whole machine, a cron job's too, so ``env -i`` keeps them."""
    return {k: v for k, v in os.environ.items() if k == "LD_PRELOAD" or k.startswith("FAKETIME")}


def user_shell(command: str, home: Path, env: dict[str, str] | None = None,
               timeout: float = 120, input: str | None = None) -> subprocess.CompletedProcess:
    """``command`` run by /bin/sh as a user's login runs it: HOME, a PATH with balancecli in
    ~/.local/bin (as pipx leaves it) and nothing else of the test's environment; ``input``
    on its stdin (a secret goes there, never into the command line)."""
    variables = {"HOME": str(home), "PATH": f"{home}/.local/bin:{SYSTEM_PATH}",
                 **machine_clock(), **(env or {})}
    return subprocess.run(["env", "-i", *(f"{k}={v}" for k, v in variables.items()),
                           "/bin/sh", "-c", command], capture_output=True, text=True,
                          input=input, stdin=None if input is not None else subprocess.DEVNULL,
                          timeout=timeout)


def as_printed(output: str, home: Path) -> list[str]:
    """The output's lines with the test's HOME written as the README's."""
    return output.replace(str(home), USER_HOME).splitlines()
