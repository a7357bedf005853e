"""URLs from the config: one parser decides what is checked and where a request goes.

Remote URLs must be ``https://``; plain ``http://`` only on loopback (tests, the Quantower
bridge). User info (``https://user:pass@host``) is refused: the password would end up in
messages and logs, and the HTTP client would send Basic auth instead of our token.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any
from urllib.parse import urlsplit

from balancecli.core.errors import ConfigError


def is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


_AUTHORITY = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*:)?//([^/?#]*)(.*)$", re.S)


def without_userinfo(url: str) -> str:
    """``url`` with any ``user:password@`` removed: the only form of a URL we print."""
    match = _AUTHORITY.match(url)
    if not match or "@" not in match.group(2):
        return url
    scheme, authority, rest = match.groups()
    return f"{scheme or ''}//{authority.rpartition('@')[2]}{rest}"


def parse_url(profile: str, key: str, value: str) -> Any:
    """``urlsplit(value)``, refusing user info (``https://user:pass@host``: the password would
    end up in messages and logs, and requests would send Basic auth instead of our token) and
    URLs that do not parse (a bad port, a broken IPv6 literal)."""
    fix = f"fix {key} in [profiles.{profile}] of the config file"
    shown = without_userinfo(value)
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        raise ConfigError(f"setting {key!r} is not a valid URL: {shown!r}", profile=profile,
                          next_step=fix) from None
    if "@" in parts.netloc:
        raise ConfigError(
            f"setting {key!r} must not contain a user name or password ({shown!r}); "
            "credentials belong in the keyring", profile=profile,
            next_step=f"{fix}, then: balancecli auth login {profile}")
    return parts


def check_url(profile: str, key: str, value: str, *, allow_file: bool = False) -> None:
    """Remote URLs must be https; plain http only on loopback (tests, the Quantower bridge).
    User info is refused in every URL."""
    parts = parse_url(profile, key, value)
    if parts.scheme == "https" and parts.netloc:
        return
    if parts.scheme == "http" and is_loopback(parts.hostname):
        return
    if allow_file and parts.scheme in ("", "file"):
        return
    raise ConfigError(
        f"setting {key!r} must be an https:// URL (plain http only on 127.0.0.1), got "
        f"{without_userinfo(value)!r}",
        profile=profile,
        next_step=f"fix {key} in [profiles.{profile}] of the config file",
    )
