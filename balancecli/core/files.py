"""Files a user points balancecli at (the config file, the history database): only regular
files are opened, with a size cap, and on POSIX only files no other user can write.

A FIFO blocks ``open`` or the first read until someone writes to it, ``/dev/zero`` never ends,
and whoever can write the config file decides where the tokens are sent: each is refused
before it is read, as a ``ConfigError`` (exit 3) naming the file and the fix.

Files balancecli writes for the user (the config file, an env file of credentials) are
written whole or not at all, readable by the user only (``write_private``).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from balancecli.core.errors import ConfigError


def kind_of(mode: int) -> str:
    """What a file that is not a regular file is, for a message."""
    for test, name in ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "not a regular file"


def not_regular(path: Path, what: str, mode: int, next_step: str) -> ConfigError:
    return ConfigError(f"{what} {path} is {kind_of(mode)}, not a regular file",
                       next_step=next_step)


def who_else_writes(st: os.stat_result) -> str | None:
    """Who besides this process's user (and root) can write a file with ``st``, or None
    (POSIX; always None elsewhere)."""
    if os.name != "posix":
        return None
    if st.st_mode & stat.S_IWOTH:
        return "every user"
    if st.st_mode & stat.S_IWGRP and st.st_gid != st.st_uid:
        # Debian and Ubuntu give each user a group of their own, with the user's id, and then
        # a umask of 002 (login.defs, USERGROUPS_ENAB): group write on such a file lets nobody
        # else in.
        return "its group"
    if st.st_uid not in (os.getuid(), 0):
        return f"its owner (user id {st.st_uid})"
    return None


def read_private(path: Path, *, what: str, cap: int, next_step: str) -> bytes:
    """The bytes of the regular file ``path``, at most ``cap``; refused (ConfigError) when it
    is not a regular file, is larger, or (POSIX) another user can write it or replace it (its
    directory, unless sticky like /tmp). FileNotFoundError and other OSErrors pass through."""
    st = os.stat(path)
    if not stat.S_ISREG(st.st_mode):
        raise not_regular(path, what, st.st_mode, next_step)
    # O_NONBLOCK: should a FIFO be swapped in after the stat, opening it does not block.
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    with os.fdopen(fd, "rb") as file:
        st = os.fstat(file.fileno())
        if not stat.S_ISREG(st.st_mode):
            raise not_regular(path, what, st.st_mode, next_step)
        _check_writers(path, st, what)
        data = file.read(cap + 1)
    if len(data) > cap:
        size = f"{cap / 1048576:g} MiB" if cap >= 1048576 else f"{cap} bytes"
        raise ConfigError(f"{what} {path} is larger than {size}",
                          next_step=f"check that {path} is the right file")
    return data


def _check_writers(path: Path, st: os.stat_result, what: str) -> None:
    checks = [(f"{what} {path}", ", so it cannot be trusted", path, st)]
    try:
        parent = os.stat(path.parent)
        if not parent.st_mode & stat.S_ISVTX:
            checks.append((f"the directory {path.parent} of {what}",
                           ", who could replace the file", path.parent, parent))
    except OSError:
        pass
    for subject, why, target, found in checks:
        who = who_else_writes(found)
        if who is not None:
            fix = (f"make it yours (run: sudo chown $USER {target}), then: chmod go-w {target}"
                   if who.startswith("its owner") else f"run: chmod go-w {target}")
            raise ConfigError(f"{subject} can be written by {who}{why}", next_step=fix)


def write_private(path: Path, text: str) -> None:
    """``text`` as the file ``path``, mode 0600, atomically: a temporary file in the same
    directory (created 0700 if missing), synced, then renamed over ``path``; removed again
    if anything fails. An OSError of the directory or the disk propagates."""
    import tempfile

    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
