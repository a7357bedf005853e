"""Options with an optional value (``--watch [SECONDS]``), read the one way both the Typer
app (``cli.watch``) and Tab without Typer (``cli.fastcomplete``) read them.

Typer 0.29's parser has no options with an optional value, so the word after the option is
looked at here: a number is its value, anything else (another option, nothing) is not, and
the option then stands for ``OPTION=<default>``. Imports nothing: Tab pays for no more.
"""

from __future__ import annotations


def optional_value(args: list[str], option: str, default: str) -> list[str]:
    """``args`` with a bare ``option`` (not followed by a number) as ``option=default``."""
    out: list[str] = []
    for i, arg in enumerate(args):
        if arg == "--":
            return out + args[i:]
        following = args[i + 1] if i + 1 < len(args) else None
        if arg == option and not is_number(following):
            out.append(f"{option}={default}")
        else:
            out.append(arg)
    return out


def is_number(text: str | None) -> bool:
    if text is None:
        return False
    try:
        float(text)
    except ValueError:
        return False
    return True
