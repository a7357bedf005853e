"""The shells' side of a Tab answered without Typer: the words each completion script sends,
and the reply in each shell's format, byte for byte as Typer 0.29 writes it.

bash gets the candidates one per line (``complete.bash_reply``: only what follows a ``:`` in the
word); zsh an ``_arguments`` spec with help texts; fish ``value<TAB>help`` lines; PowerShell
``value:::help`` lines. With no candidate, the shell's own file names are offered only where a
path is asked for (``complete.path_mark`` for bash, ``_files`` for zsh, exit 1 of fish's
``is-args``), and nothing anywhere else.

Help texts (of commands and options) are shown as Typer shows them: through Rich, which wraps
them at the console width. ``rendered`` does that for plain ASCII text (Rich's word wrap, width
from ``TERMINAL_WIDTH``, ``COLUMNS``/``LINES``, a dumb terminal or the terminal's size); a text
with Rich markup or emoji codes, non-ASCII text, or Windows (where Rich detects legacy
consoles) is left to Typer (``Fallback``).
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Mapping

from balancecli.cli.fastcomplete import Fallback, Item, answer

TYPE_CHECKING = False  # typing costs ~2 ms to import, and every Tab press pays for it
if TYPE_CHECKING:
    from typing import IO, Any

SHELLS = ("bash", "zsh", "fish", "powershell", "pwsh")
_ANSI = re.compile(r"\033\[[;?0-9]*[a-zA-Z]")  # what Click's echo strips off a terminal
_WORD = re.compile(r"\s*\S+\s*")
_TRAILING_SPACE = re.compile(r"\s+$")
_SPACE = re.compile(r"\s")


def run(table: dict[str, Any], environ: Mapping[str, str], out: IO[str]) -> int:
    """Answer the request in ``_BALANCECLI_COMPLETE``: write the reply, return the exit code.
    Raises Fallback for anything Typer should answer (``source_bash``, an unknown shell, ...).
    """
    instruction = environ.get("_BALANCECLI_COMPLETE", "")
    action, _, shell = instruction.partition("_")
    if action != "complete" or shell not in SHELLS:
        raise Fallback
    if shell == "bash":
        args, incomplete = _bash_args(environ)
        from balancecli.cli.complete import bash_reply, path_mark

        found, files = answer(table["root"], args, incomplete, environ)
        if not found:
            return _echo(path_mark(files), out)
        text = bash_reply((value for value, _ in found), incomplete,
                          environ.get("_BALANCECLI_COMP_WORDBREAKS", ""))
        return _echo(text, out)
    from balancecli.cli.complete import zsh_empty

    args, incomplete = _typer_args(shell, environ)
    items, files = answer(table["root"], args, incomplete, environ)
    render = _renderer(table, environ, out)
    if shell == "zsh":
        lines = [_zsh(item, render) for item in items]
        return _echo(f"_arguments '*: :(({chr(10).join(lines)}))'" if lines else
                     zsh_empty(files), out)
    if shell == "fish":
        lines = [_fish(item, render) for item in items]
        action = environ.get("_TYPER_COMPLETE_FISH_ACTION", "")
        if action == "is-args":  # exit 1 lets fish offer its own file names
            return 0 if lines or files is None else 1
        return _echo("\n".join(lines) if action == "get-args" and lines else "", out)
    return _echo("\n".join(f"{value}:::{render(help) if help else ' '}" for value, help in items),
                 out)


def _bash_args(environ: Mapping[str, str]) -> tuple[list[str], str]:
    from balancecli.cli.complete import bash_words, split_arg_string

    found = bash_words(environ)
    if found is not None:
        return found
    try:
        words = split_arg_string(environ["COMP_WORDS"])
        cword = int(environ["COMP_CWORD"])
    except (KeyError, ValueError):
        raise Fallback from None
    try:
        incomplete = words[cword]
    except IndexError:
        incomplete = ""
    return words[1:cword], incomplete


def _typer_args(shell: str, environ: Mapping[str, str]) -> tuple[list[str], str]:
    from balancecli.cli.complete import split_arg_string

    line = environ.get("_TYPER_COMPLETE_ARGS", "")
    words = split_arg_string(line)
    if shell in ("powershell", "pwsh"):
        incomplete = environ.get("_TYPER_COMPLETE_WORD_TO_COMPLETE", "")
        return (words[1:-1] if incomplete else words[1:]), incomplete
    args = words[1:]
    if args and not line.endswith(" "):
        return args[:-1], args[-1]
    return args, ""


def _zsh(item: Item, render: Callable[[str], str]) -> str:
    def escape(s: str) -> str:
        return (s.replace('"', '""').replace("'", "''").replace("$", "\\$")
                .replace("`", "\\`").replace(":", r"\\:"))

    value, help = item
    if help:
        return f'"{escape(value)}":"{render(escape(help))}"'
    return f'"{escape(value)}"'


def _fish(item: Item, render: Callable[[str], str]) -> str:
    value, help = item
    return f"{value}\t{render(_SPACE.sub(' ', help))}" if help else value


def _echo(text: str, out: IO[str]) -> int:
    """Click's ``echo``: the text and a newline, ANSI codes stripped off a terminal."""
    text += "\n"
    if "\x1b" in text and not _isatty(out):
        text = _ANSI.sub("", text)
    encoding = (getattr(out, "encoding", None) or "ascii").lower().replace("-", "")
    if not text.isascii() and encoding != "utf8":
        raise Fallback  # Click rewraps a misconfigured stream; let it
    try:
        out.write(text)
        out.flush()
    except BrokenPipeError:
        return 141
    return 0


def _isatty(out: IO[str]) -> bool:
    try:
        return out.isatty()
    except ValueError:
        return False


def _renderer(table: dict[str, Any], environ: Mapping[str, str],
              out: IO[str]) -> Callable[[str], str]:
    not_plain = set(table["rich"])
    width: list[int] = []

    def render(text: str) -> str:
        if text in not_plain or not (text.isascii() and text.isprintable()) or os.name == "nt":
            raise Fallback
        if not width:
            width.append(console_width(environ, out))
        return rendered(text, width[0])

    return render


def console_width(environ: Mapping[str, str], out: IO[str]) -> int:
    """The width of the Rich console Typer renders help texts with (``rich_utils.
    _get_rich_console``: ``width=TERMINAL_WIDTH``; Rich's ``Console.size`` otherwise)."""
    fixed = environ.get("TERMINAL_WIDTH")
    try:
        width = int(fixed) if fixed else None
    except ValueError:
        raise Fallback from None
    columns, lines = environ.get("COLUMNS"), environ.get("LINES")
    if width is None and columns is not None and columns.isdigit():
        width = int(columns)
    if width is not None and lines is not None and lines.isdigit():
        return width
    if _is_terminal(environ, out) and environ.get("TERM", "").lower() in ("dumb", "unknown"):
        return 80
    found = None
    for fd in (0, 1, 2):
        try:
            found = os.get_terminal_size(fd)[0]
        except (AttributeError, ValueError, OSError):
            continue
        break
    if columns is not None and columns.isdigit():
        found = int(columns)
    return (found or 80) if width is None else width


def _is_terminal(environ: Mapping[str, str], out: IO[str]) -> bool:
    """Rich's ``Console.is_terminal`` with Typer's ``force_terminal``."""
    force = None
    if environ.get("GITHUB_ACTIONS") or environ.get("FORCE_COLOR") or environ.get("PY_COLORS"):
        force = True
    if environ.get("_TYPER_FORCE_DISABLE_TERMINAL"):
        force = False
    if force is not None:
        return force
    if getattr(sys.stdin, "__module__", "").startswith("idlelib"):
        return False
    compatible = environ.get("TTY_COMPATIBLE", "")
    if compatible in ("0", "1"):
        return compatible == "1"
    force_color = environ.get("FORCE_COLOR")
    if force_color is not None:
        return force_color != ""
    return _isatty(out)


def rendered(text: str, width: int) -> str:
    """Plain one-line ASCII ``text`` as Rich renders it at ``width``: words wrapped (a word
    longer than the line folded), a line's trailing space kept unless it overflows."""
    if width < 1:
        return ""
    breaks: list[int] = []
    offset = 0
    position = 0
    while (match := _WORD.match(text, position)) is not None:
        start, position = match.span()
        word = match.group(0)
        length = len(word.rstrip())
        if width - offset >= length:
            offset += len(word)
        elif length > width:
            pieces = [word[i:i + width] for i in range(0, len(word), width)]
            for n, piece in enumerate(pieces):
                if start:
                    breaks.append(start)
                if n == len(pieces) - 1:
                    offset = len(piece)
                else:
                    start += len(piece)
        elif offset and start:
            breaks.append(start)
            offset = len(word)
    lines = []
    for a, b in zip([0, *breaks], [*breaks, len(text)], strict=True):
        line = text[a:b]
        if len(line) > width:
            space = _TRAILING_SPACE.search(line)
            if space is not None:
                line = line[:len(line) - min(len(space.group(0)), len(line) - width)]
            line = line[:width]
        lines.append(line)
    return "\n".join(lines).rstrip("\n")
