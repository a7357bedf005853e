"""The config file as text, for the profile commands: TOML written, and edited in place.

``tomllib`` reads TOML; the standard library has no writer, and a writer would lose the user's
comments and order anyway. So an edit changes the text itself: a profile is appended as a
``[profiles.NAME]`` table or cut out (with the comment right above it), and one setting is
replaced, added at the end of its table or removed, keeping the table's place, its other
settings and every comment (``set_key``, ``unset_key``). Every edit is parsed again and must
give exactly the expected data; if it does not (a profile written as an inline table or with
dotted keys), the file is written from its data instead and ``save`` says so. Files are
written atomically (temporary file, fsync, rename) with mode 0600.
"""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any


def toml_key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else json.dumps(key, ensure_ascii=False)


def toml_value(value: Any) -> str:
    import math

    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{value!r} cannot be written to the config")
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # JSON escapes are valid TOML escapes
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{toml_key(str(k))} = {toml_value(v)}"
                               for k, v in value.items()) + "}"
    if hasattr(value, "isoformat"):
        return str(value.isoformat())
    raise ValueError(f"{value!r} cannot be written to the config")


def dump(data: dict[str, Any], prefix: tuple[str, ...] = ()) -> str:
    """A TOML document from plain data: scalars first, then one [table] per dict."""
    lines = [f"{toml_key(k)} = {toml_value(v)}" for k, v in data.items()
             if not isinstance(v, dict)]
    out = "\n".join(lines) + ("\n" if lines else "")
    for key, value in data.items():
        if isinstance(value, dict):
            path = (*prefix, key)
            body = dump(value, path)
            has_scalars = any(not isinstance(v, dict) for v in value.values())
            if has_scalars or not value:
                header = "[" + ".".join(toml_key(p) for p in path) + "]\n"
                out += ("\n" if out else "") + header + body
            else:
                out += body
    return out


def table_text(name: str, settings: dict[str, Any]) -> str:
    return f"[profiles.{toml_key(name)}]\n" + "".join(
        f"{toml_key(k)} = {toml_value(v)}\n" for k, v in settings.items())


def header_of(line: str) -> list[str] | None:
    """The dotted key of a ``[table]`` header line, or None."""
    match = re.match(r"\s*\[(?!\[)(.*)\]\s*(#.*)?$", line)
    if not match:
        return None
    try:
        doc = tomllib.loads(f"[{match.group(1)}]\n")
    except tomllib.TOMLDecodeError:
        return None
    keys: list[str] = []
    while isinstance(doc, dict) and len(doc) == 1:
        key = next(iter(doc))
        keys.append(key)
        doc = doc[key]
    return keys


def _is_header(line: str) -> bool:
    return header_of(line) is not None or line.lstrip().startswith("[[")


def without_table(text: str, name: str) -> str:
    """``text`` without ``[profiles.NAME]`` (and its sub-tables and the comment right above)."""
    lines = text.splitlines(keepends=True)
    out: list[str] = []
    skipped: list[str] = []
    skipping = False
    for line in lines:
        header = header_of(line)
        if header is not None:
            if skipping:  # the comment right above the next table belongs to that table
                keep = len(skipped)
                while keep and skipped[keep - 1].lstrip().startswith("#"):
                    keep -= 1
                out.extend(skipped[keep:])
                skipped = []
            skipping = header[:2] == ["profiles", name]
            if skipping:
                while out and out[-1].lstrip().startswith("#"):
                    out.pop()  # the comment that introduces the removed table
        if skipping:
            skipped.append(line)
        else:
            out.append(line)
    return "".join(out)


# -- one setting, edited in place ------------------------------------------------------------

_KEY_LINE = re.compile(r"""\s*([A-Za-z0-9_-]+|"(?:[^"\\]|\\.)*"|'[^']*')\s*=""")


def _table_body(lines: list[str], name: str) -> tuple[int, int] | None:
    """(first line after the ``[profiles.NAME]`` header, the line of the next header)."""
    for i, line in enumerate(lines):
        if header_of(line) == ["profiles", name]:
            end = next((j for j in range(i + 1, len(lines)) if _is_header(lines[j])),
                       len(lines))
            return i + 1, end
    return None


def _key_lines(lines: list[str], start: int, end: int, key: str) -> tuple[int, int] | None:
    """The lines ``[i, j)`` that hold ``key = value`` in the body (a value may span lines)."""
    for i in range(start, end):
        if not _KEY_LINE.match(lines[i]):
            continue
        for j in range(i + 1, end + 1):
            try:
                doc = tomllib.loads("".join(lines[i:j]))
            except tomllib.TOMLDecodeError:
                continue
            if list(doc) == [key]:
                return i, j
            break
    return None


def _comment_of(line: str) -> str:
    """The inline comment of a one-line ``key = value  # ...`` (with its spacing), or ""."""
    for match in re.finditer(r"\s*#", line):
        try:
            doc = tomllib.loads(line[:match.start()] + "\n")
        except tomllib.TOMLDecodeError:
            continue
        if doc == tomllib.loads(line if line.endswith("\n") else line + "\n"):
            return line[match.start():].rstrip("\n")
    return ""


def set_key(text: str, name: str, key: str, value: Any) -> str:
    """``text`` with ``key = value`` in ``[profiles.NAME]``: replaced where it stands (its
    inline comment kept), else added after the table's last setting."""
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    body = _table_body(lines, name)
    new = f"{toml_key(key)} = {toml_value(value)}"
    if body is None:
        return text  # not a [profiles.NAME] table: ``save`` writes the data instead
    found = _key_lines(lines, *body, key)
    if found is not None:
        i, j = found
        comment = _comment_of(lines[i]) if j == i + 1 else ""
        lines[i:j] = [new + comment + "\n"]
        return "".join(lines)
    start, end = body
    last = max((k for k in range(start, end) if lines[k].strip()
                and not lines[k].lstrip().startswith("#")), default=start - 1)
    lines.insert(last + 1, new + "\n")
    return "".join(lines)


def unset_key(text: str, name: str, key: str) -> str:
    """``text`` without the ``key`` setting of ``[profiles.NAME]``."""
    lines = text.splitlines(keepends=True)
    body = _table_body(lines, name)
    found = _key_lines(lines, *body, key) if body is not None else None
    if found is None:
        return text
    del lines[found[0]:found[1]]
    return "".join(lines)


# -- writing --------------------------------------------------------------------------------


def write_atomic(path: Path, text: str) -> None:
    from balancecli.core.files import write_private

    write_private(path, text)


def save(path: Path, new_text: str, expected: dict[str, Any]) -> bool:
    """Write ``new_text`` if it parses to ``expected``, else the data itself, re-serialized
    (its comments lost): False then."""
    try:
        ok = tomllib.loads(new_text) == expected
    except tomllib.TOMLDecodeError:
        ok = False
    write_atomic(path, new_text if ok else dump(expected))
    return ok
