"""URLs: one parser decides what is checked and where a request goes.

Every URL balancecli connects to (a profile's ``base_url`` and ``token_url``, a Quantower
``source``, the ``[ecb] url``, and each request URL built from them) is read by ``split``, and
the HTTP client connects to the host ``split`` returned: the host that was checked is the host
that is reached. ``split`` accepts only what every URL parser reads alike, and refuses the rest
as ``BadUrl`` (a config error where it comes from the config):

- a fragment: ``http://127.0.0.1#@evil.example`` is host 127.0.0.1 for ``urllib.parse`` but
  ``evil.example`` for urllib3, which ``requests`` uses (it takes the last ``@`` of everything
  before the first ``/``, ``?`` or ``#``, RFC 3986 §3.2 notwithstanding);
- user info (``https://user:pass@host``): the password would end up in messages and logs, and
  the HTTP client would send Basic auth instead of the broker's token;
- backslashes (WHATWG URL parsers, as in browsers, read ``\\`` as ``/``; urllib3 ends the host
  there, ``urllib.parse`` does not), whitespace, control and non-ASCII characters (some parsers
  strip them, others encode them);
- a ``%`` in the host, a ``%`` not followed by two hex digits, an empty host, an empty or
  non-numeric port, an IPv6 zone, a host whose last label is a number but that is no plain
  dotted IPv4 address (``0x7f.1``: WHATWG reads hex and octal there), and ``.``/``..`` path
  segments (a server or proxy may resolve them).

Remote URLs of the config must be ``https://``; plain ``http://`` only on loopback (tests,
the Quantower bridge). Loopback is 127.0.0.0/8, ::1 and ``localhost``.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import quote

from balancecli.core.errors import BadResponseError, ConfigError


def is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class BadUrl(ValueError):
    """A URL that ``split`` refuses; ``reason`` says why, for a message."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Url:
    """A URL as ``split`` read it: scheme and host in lower case, the port (None: the
    scheme's), the path and the query exactly as given."""

    scheme: str
    host: str  # an IPv6 address without its brackets
    port: int | None
    path: str
    query: str

    @property
    def hostname(self) -> str:
        return self.host

    @property
    def netloc(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port is None else f"{host}:{self.port}"

    @property
    def origin(self) -> str:
        """``scheme://host[:port]``: where the request goes (and the limiter's key)."""
        return f"{self.scheme}://{self.netloc}"

    @property
    def target(self) -> str:
        """The request line's target: the path ("/" at least) and the query."""
        path = self.path or "/"
        return f"{path}?{self.query}" if self.query else path

    def geturl(self) -> str:
        return self.origin + self.target

    @property
    def is_loopback(self) -> bool:
        return is_loopback(self.host)


# RFC 3986 unreserved, sub-delims, ":", "@", "/", "?", "%" (checked below) and brackets (for
# an IPv6 host only). Anything else (``#``, ``\``, spaces, controls, non-ASCII) is refused.
_OUTSIDE = re.compile(r"[^A-Za-z0-9\-._~!$&'()*+,;=:@/?%\[\]]")
_URL = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*)://([^/?]*)([^?]*)(?:\?(.*))?\Z", re.S)
_BAD_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
_HOST = re.compile(r"(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9._\-]+))(?::([0-9]*))?\Z")
_DOT_SEGMENT = re.compile(r"(?:^|/)(?:\.|%2[eE]){1,2}(?:/|$)")
_NUMERIC_LABEL = re.compile(r"(?:0[xX][0-9A-Fa-f]*|[0-9]+)\Z")


@lru_cache(maxsize=1024)
def split(url: str) -> Url:
    """``url`` read the one way every parser reads it, or ``BadUrl``. Cached: a run requests
    the same URLs again and again (the account list, a batch of balances)."""
    bad = _OUTSIDE.search(url)
    if bad is not None:
        raise BadUrl(_why_character(bad.group()))
    match = _URL.match(url)
    if match is None:
        raise BadUrl("it is not of the form scheme://host/path")
    scheme, authority, path, query = match.groups()
    if "%" in url and _BAD_PERCENT.search(url):
        raise BadUrl("it has a '%' that is not followed by two hex digits")
    if "[" in path or "]" in path or (query and ("[" in query or "]" in query)):
        raise BadUrl("it has '[' or ']' outside an IPv6 host")
    if _DOT_SEGMENT.search(path):
        raise BadUrl("its path has a '.' or '..' segment")
    host, port = _authority(authority)
    return Url(scheme.lower(), host, port, path, query or "")


@lru_cache(maxsize=256)
def _authority(authority: str) -> tuple[str, int | None]:
    """(host, port) of ``host[:port]``; cached: every request of a host has the same."""
    if "@" in authority:
        raise BadUrl("it has a user name or password (user info before an '@')")
    if "%" in authority:
        raise BadUrl("its host has a '%'")
    if authority == "" or authority.startswith(":"):
        raise BadUrl("its host is empty")
    match = _HOST.match(authority)
    if match is None:
        raise BadUrl("its host is not a host name, an IPv4 or a bracketed IPv6 address")
    v6, name, port_text = match.groups()
    if v6 is not None:
        try:
            host = str(ipaddress.IPv6Address(v6))
        except ValueError:
            raise BadUrl(f"[{v6}] is not an IPv6 address") from None
    else:
        host = name.lower()
        labels = host.rstrip(".").split(".")
        if not all(labels) or host.startswith("-"):
            raise BadUrl("its host has an empty label or starts with '-'")
        if _NUMERIC_LABEL.match(labels[-1]):
            try:
                host = str(ipaddress.IPv4Address(host))
            except ValueError:
                raise BadUrl(f"its host {host!r} is a number but not a dotted IPv4 "
                             "address") from None
    if port_text is None:
        return host, None
    if not port_text or int(port_text) > 65535:
        raise BadUrl("its port is empty or above 65535")
    return host, int(port_text)


def _why_character(char: str) -> str:
    if char == "#":
        return "it has a fragment ('#')"
    if char == "\\":
        return "it has a backslash"
    if char.isspace() or not char.isprintable():
        return "it has whitespace or a control character"
    if not char.isascii():
        return "it has a character outside ASCII (write the host in its xn-- form and " \
               "percent-encode the path)"
    return f"it has the character {char!r}, which a URL cannot carry unencoded"


_AUTHORITY = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*:)?//([^/?#\\]*)(.*)$", re.S)


def without_userinfo(url: str) -> str:
    """``url`` with any ``user:password@`` removed: the only form of a URL we print."""
    match = _AUTHORITY.match(url)
    if not match or "@" not in match.group(2):
        return url
    scheme, authority, rest = match.groups()
    return f"{scheme or ''}//{authority.rpartition('@')[2]}{rest}"


def shown(url: str) -> str:
    """``url`` as a message may quote it: without user info, control characters escaped."""
    return repr(without_userinfo(url))


def parse_url(profile: str, key: str, value: str) -> Url:
    """``split(value)`` for the setting ``key`` of ``profile``; ConfigError (exit 3) naming the
    setting and the reason, never a password."""
    fix = f"fix {key} in [profiles.{profile}] of the config file"
    try:
        return split(value)
    except BadUrl as exc:
        if exc.reason.startswith("it has a user name"):
            raise ConfigError(
                f"setting {key!r} must not contain a user name or password "
                f"({shown(value)}); credentials belong in the keyring", profile=profile,
                next_step=f"{fix}, then: balancecli auth login {profile}") from None
        raise ConfigError(f"setting {key!r} is not a valid URL: {exc.reason}: {shown(value)}",
                          profile=profile, next_step=fix) from None


def secure(url: Url) -> bool:
    """https anywhere, plain http only on loopback."""
    return url.scheme == "https" or (url.scheme == "http" and url.is_loopback)


def check_url(profile: str, key: str, value: str) -> Url:
    """A URL setting: parsed by ``split``, https (plain http only on loopback); a base URL,
    to which paths are appended, has no query."""
    parts = parse_url(profile, key, value)
    fix = f"fix {key} in [profiles.{profile}] of the config file"
    if not secure(parts):
        raise ConfigError(
            f"setting {key!r} must be an https:// URL (plain http only on 127.0.0.1), got "
            f"{shown(value)}", profile=profile, next_step=fix)
    if key == "base_url" and parts.query:
        raise ConfigError(f"setting {key!r} must not have a query ('?'): paths are appended "
                          f"to it, got {shown(value)}", profile=profile, next_step=fix)
    return parts


def segment(value: str, what: str = "account id") -> str:
    """``value`` percent-encoded as one path segment (``/`` too); ``.``, ``..`` and empty are a
    BadResponseError: no encoding keeps a server from reading them as a path step."""
    if value in ("", ".", ".."):
        raise BadResponseError(f"the {what} {value!r} cannot be used in a URL path")
    return quote(value, safe="")
