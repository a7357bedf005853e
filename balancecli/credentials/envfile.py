"""Credentials as ``export BALANCECLI_<PROFILE>_<FIELD>=...`` lines: the way without a keyring.

A server, WSL, a container or cron has no usable keyring; the environment is then the store
(``credentials.Secrets`` reads it first, and does not open the keyring when it suffices). So
``auth login --print-env`` gives the lines of the fields that make the profile complete, and
``--output FILE`` writes them to a file only its owner can read, for the shell or the cron job
to source. Secrets never go through argv: the lines are printed on stdout only when asked,
else written to the file.

What is written: the fields the broker declares that were checked at login, except an access
(or session) token that a refresh token or a password renews on every run anyway, and its
expiry. Writing the file: other lines are kept (other profiles, the user's own), this profile's
lines are replaced; a temporary file created with mode 0600 in the same directory, flushed and
renamed over the old one, so the file is never readable by others, never half written, and a
symbolic link is never followed. Anything but a regular file at that path is refused.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from balancecli.core.errors import ConfigError
from balancecli.core.secretfields import SecretFields
from balancecli.credentials.environment import ENV_PREFIX, env_name

MAX_BYTES = 1 << 20  # an environment file is a few lines


def fields_to_write(spec: SecretFields, item: Mapping[str, Any]) -> list[str]:
    """The upper-case fields of ``item`` that go to the file, in the broker's order."""
    present = {k.upper() for k, v in item.items() if v not in (None, "")}
    renewed = any(field in present for field in spec.renewed_by)
    skipped = {spec.token, spec.expiry} if renewed else set()
    return [f for f in spec.fields if f in present and f not in skipped]


def export_lines(profile: str, spec: SecretFields, item: Mapping[str, Any]) -> list[str]:
    """``export BALANCECLI_TS_REFRESH_TOKEN='...'`` for each field to write (quoted for sh)."""
    values = {k.upper(): v for k, v in item.items()}
    return [f"export {env_name(profile, field)}={shlex.quote(str(values[field]))}"
            for field in fields_to_write(spec, item)]


def prefix(profile: str) -> str:
    """``BALANCECLI_TS_``: what every variable of the profile starts with."""
    return env_name(profile, "")


def write(path: Path, profile: str, spec: SecretFields, lines: list[str]) -> None:
    """Put the profile's ``lines`` in the file at ``path`` (mode 0600), in place of the lines
    that set any of its fields, keeping every other line; ConfigError (exit 3) for a path
    that is not a regular file or cannot be written."""
    names = {env_name(profile, field) for field in spec.fields}
    kept = [line for line in _read(path) if _assigned(line) not in names]
    text = "".join(f"{line}\n" for line in [*kept, *lines])
    from balancecli.core.files import write_private

    try:
        write_private(path, text)
    except OSError as exc:
        raise ConfigError(f"cannot write {path}: {exc.strerror}",
                          next_step="choose another --output FILE") from None


def _read(path: Path) -> list[str]:
    """The lines of the file there (none when there is none); refused: anything else."""
    try:
        info = path.lstat()
    except FileNotFoundError:
        return []
    import stat

    if not stat.S_ISREG(info.st_mode):
        what = "a symbolic link" if stat.S_ISLNK(info.st_mode) else "not a regular file"
        raise ConfigError(f"--output {path} is {what}; nothing was written",
                          next_step="name a regular file (or a new one)")
    if info.st_size > MAX_BYTES:
        raise ConfigError(f"--output {path} is larger than 1 MiB: not an environment file",
                          next_step="name another file")
    try:
        return path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "it is not UTF-8 text"
        raise ConfigError(f"cannot read --output {path} ({reason}); nothing was written",
                          next_step="name another file") from None


def _assigned(line: str) -> str | None:
    """The variable a line sets (``export NAME=...`` or ``NAME=...``), or None."""
    match = re.match(r"\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=", line)
    return match.group(1) if match else None


__all__ = ["ENV_PREFIX", "export_lines", "fields_to_write", "prefix", "write"]
