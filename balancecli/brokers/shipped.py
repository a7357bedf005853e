"""Files a broker ships for the user to install on the broker's side, as data.

Quantower has no network API, so balancecli ships a C# Strategy that runs inside Quantower
(``brokers/quantower/bridge.py``). A broker declares such files here (``Commands``), and the
registry points at the declaration; the command line turns each into ``balancecli BROKER NAME
[-o PATH]`` (print the file, or write it, with its install steps on stderr) without naming any
broker. A declaring module stays light: ``balancecli --help`` lists these commands.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class ShippedFile:
    """One file: ``name`` is its command, ``help`` its one-line help, ``what`` names it in the
    ``--output`` help ("the C# source"); ``content()`` is its text, ``steps(path)`` the install
    steps for people (``path``: where it was written, None for stdout)."""

    name: str
    help: str
    what: str
    examples: tuple[str, ...]
    content: Callable[[], str]
    steps: Callable[[str | None], str]


@dataclass(frozen=True)
class Commands:
    """A broker's own command group: its help line and examples, and the files it ships."""

    help: str
    examples: tuple[str, ...]
    files: tuple[ShippedFile, ...]
