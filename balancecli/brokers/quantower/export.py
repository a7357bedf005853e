"""The fields of the ``balancecli.quantower/1`` export: typed getters whose
messages say where in the document a value is wrong (``Accounts[2] (Id 'A1'): Balance is a
string, expected a number``), the bridge's AdditionalInfo filter, ``GeneratedAt``, the
``Connections`` list (revision 2), e-mail masking and who may write an export file.

Numbers are C# doubles, so exponents up to a double's ±324 are accepted (other brokers: ±100).
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal, overload

from balancecli.brokers.payload import kind
from balancecli.core.clock import span
from balancecli.core.errors import BadResponseError, ConfigError
from balancecli.core.models import is_personal
from balancecli.core.numbers import DOUBLE_EXPONENT, to_decimal


@overload
def text(obj: dict[str, Any], key: str, where: str, *, required: Literal[True]) -> str: ...
@overload
def text(obj: dict[str, Any], key: str, where: str, *, required: bool = False) -> str | None: ...
def text(obj: dict[str, Any], key: str, where: str, *, required: bool = False) -> str | None:
    value = obj.get(key)
    if isinstance(value, str) and value.strip():
        return value.strip()
    if value is not None and not isinstance(value, str):
        raise BadResponseError(f"{where}: {key} is {kind(value)}, expected a string")
    if required:
        raise BadResponseError(f"{where}: {key} is missing")
    return None


def number(obj: dict[str, Any], key: str, where: str, *, required: bool = False) -> Decimal | None:
    if required and key not in obj:
        raise BadResponseError(f"{where}: {key} is missing")
    value = obj.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, Decimal)):
        raise BadResponseError(f"{where}: {key} is {kind(value)}, expected a number")
    return to_decimal(value, name=key, max_exponent=DOUBLE_EXPONENT)


def numeric_info(items: Any, where: str) -> dict[str, Any]:
    """The numeric AdditionalInfo items by Id; text items are not exported."""
    if items is None:
        return {}
    if not isinstance(items, list):
        raise BadResponseError(f"{where}: AdditionalInfo is {kind(items)}, expected a list")
    found: dict[str, Any] = {}
    for j, info in enumerate(items):
        if not isinstance(info, dict):
            raise BadResponseError(f"{where}: AdditionalInfo[{j}] is {kind(info)}, "
                                   "expected an object")
        key = text(info, "Id", f"{where}: AdditionalInfo[{j}]", required=True)
        value = info.get("Value")
        if is_personal(key):  # the bridge filters these too; a hand-edited export may not
            continue
        if isinstance(value, (int, Decimal)) and not isinstance(value, bool):
            found.setdefault(key, to_decimal(value, name=key, max_exponent=DOUBLE_EXPONENT))
    return found


def parse_time(value: Any, where: str) -> datetime:
    stamp = text({"GeneratedAt": value}, "GeneratedAt", where, required=True)
    try:
        parsed = datetime.fromisoformat(stamp)
        # The bridge writes UTC with a Z; a time without an offset is read as UTC.
        return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)
    except (ValueError, OverflowError):  # OverflowError: year 1 with a positive offset
        raise BadResponseError(f"{where}: GeneratedAt is not an ISO 8601 time: {stamp[:40]!r}") \
            from None


# An e-mail address inside a name (``jane.roe@example.org - EXCHANGE``): text on both sides of
# an ``@``, up to a space or a bracket. Chat handles (``@jroe``) have nothing before the ``@``
# and are left alone.
_EMAIL = re.compile(r"[^\s@<>()\[\]{},;:\"']+@[^\s@<>()\[\]{},;:\"']+")
MASK = "***"


def mask_emails(value: str | None) -> str | None:
    """``value`` with every e-mail address replaced by ``***`` (names reach the output and the
    history store; an e-mail address is personal data)."""
    if value is None or "@" not in value:
        return value
    return _EMAIL.sub(MASK, value)


def masked_extra(extra: dict[str, Any]) -> dict[str, Any]:
    return {k: mask_emails(v) if isinstance(v, str) else v for k, v in extra.items()}


@dataclass(frozen=True)
class Connection:
    """One entry of ``Connections``: a Quantower connection and, when it is not connected, the
    ids of the accounts the bridge saw on it while it was (None: not known)."""

    id: str
    name: str | None
    state: str
    type: str | None
    accounts: tuple[str, ...] | None

    @property
    def label(self) -> str:
        return f"{self.name!r} ({self.id})" if self.name and self.name != self.id \
            else repr(self.id)


CONNECTED = "Connected"
# Connection types that are not the user's brokers: Quantower's own history playback,
# back-testing and internal connections (``ConnectionType`` of the decompiled
# TradingPlatform.BusinessLayer, McNultyyy/Quantower.TradingPlatform.BusinessLayer:
# TradingPlatform/BusinessLayer/ConnectionType.cs). They are connected only while they are used,
# and their accounts, if any, are simulations: one that is not connected is no error.
NOT_BROKERS = frozenset({"HistoryPlayer", "Backtester", "Technical"})


def parse_connections(items: Any, where: str) -> list[Connection]:
    """The ``Connections`` list of a revision 2 export."""
    if not isinstance(items, list):
        raise BadResponseError(f"{where}: Connections is {kind(items)}, expected a list")
    found = []
    for i, item in enumerate(items):
        at = f"{where}: Connections[{i}]"
        if not isinstance(item, dict):
            raise BadResponseError(f"{at} is {kind(item)}, expected an object")
        ident = text(item, "Id", at, required=True)
        at = f"{at} (Id {ident!r})"
        listed = item.get("Accounts")
        held = None
        if listed is not None:
            if not isinstance(listed, list):
                raise BadResponseError(f"{at}: Accounts is {kind(listed)}, expected a list")
            held = tuple(text({"Accounts": a}, "Accounts", at, required=True) for a in listed)
        found.append(Connection(ident, mask_emails(text(item, "Name", at)),
                                text(item, "State", at, required=True),
                                text(item, "Type", at), held))
    return found


def future_error(generated: datetime, now: datetime, where: str) -> BadResponseError:
    as_of = generated.strftime("%Y-%m-%dT%H:%M:%SZ")
    ahead = span(round((generated - now).total_seconds()))
    return BadResponseError(
        f"{where} is dated {ahead} in the future (GeneratedAt {as_of}, this machine's clock "
        f"says {now.strftime('%Y-%m-%dT%H:%M:%SZ')})",
        next_step="set the clocks of this machine and of the one running Quantower right "
                  "(for example with NTP); an export from the future cannot be checked for age")


def check_writers(path: Path, fd: int, profile: str) -> None:
    """Refuse an export that a user other than its owner can write (POSIX): whoever can write
    it decides the balances balancecli reports and stores. Its directory counts too unless it
    is sticky (``/tmp``), since there anyone who may write can replace the file."""
    if os.name != "posix":
        return
    checks = [("file", path, os.fstat(fd))]
    try:
        parent = os.stat(path.parent)
        if not parent.st_mode & stat.S_ISVTX:
            checks.append(("directory", path.parent, parent))
    except OSError:
        pass
    for what, target, st in checks:
        who = "every user" if st.st_mode & stat.S_IWOTH else "its group" if (
            st.st_mode & stat.S_IWGRP and _shared_group(st)) else None
        if who is not None:
            raise ConfigError(
                f"the Quantower export {what} {target} can be written by {who}, so the "
                "balances in it cannot be trusted", profile=profile,
                next_step=f"run: chmod go-w {target}")


def _shared_group(st: os.stat_result) -> bool:
    """Whether the file's group may hold users other than its owner. Debian and Ubuntu give
    each user a group of their own, with the user's id, and then a umask of 002 (login.defs,
    ``USERGROUPS_ENAB``: only when the uid equals the gid): group write on such a file lets
    nobody else in."""
    return st.st_gid != st.st_uid
