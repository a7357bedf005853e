"""The next step an error line suggests, read back and run as a user would paste it.

An error line ends with `` — run: balancecli ...``; the command may be a chain (``A && B``)
and may be followed by a remark in parentheses. ``step_of`` returns the commands as argv
lists; ``run_step`` runs them with the installed command, one after the other as a shell's
``&&`` does, and returns the last result.
"""

from __future__ import annotations

import shlex
import subprocess

from tests.support.cli import run_cli


def step_text(stderr: str) -> str:
    """The next step of the (one) error line of ``stderr``: what follows its last " — "."""
    lines = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, stderr
    assert " — " in lines[0], f"no next step: {lines[0]}"
    return lines[0].rsplit(" — ", 1)[1]


def step_of(stderr: str) -> list[list[str]]:
    """The commands of the next step (``run: A && B (remark)``), each as argv; [] when the
    step names no command to run."""
    text = step_text(stderr)
    if not text.startswith("run: "):
        return []
    lexer = shlex.shlex(text[len("run: "):], posix=True, punctuation_chars="();&")
    lexer.whitespace_split = True
    chain: list[list[str]] = [[]]
    for token in lexer:
        if token == "(" or token.endswith(","):  # a remark, or ", or ..." an alternative
            if token.endswith(",") and token != ",":
                chain[-1].append(token[:-1])
            break
        if token == "&&":
            chain.append([])
        else:
            chain[-1].append(token)
    for argv in chain:
        assert argv and argv[0] == "balancecli", text
    return chain


def run_step(stderr: str, *, env: dict | None = None, input: str | None = None,
             cwd: str | None = None) -> subprocess.CompletedProcess:
    """Run the next step of ``stderr`` as printed; the result of its last command (a chain
    stops at the first command that fails, as ``&&`` does)."""
    chain = step_of(stderr)
    assert chain, f"the next step runs nothing: {step_text(stderr)}"
    result = None
    for argv in chain:
        result = run_cli(*argv[1:], env=env, input=input, cwd=cwd)
        if result.returncode != 0:
            break
    assert result is not None
    return result
