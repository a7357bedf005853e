"""Is a profile's set of secrets complete? The one rule, over what each broker declares.

Each broker class declares its secret fields as data (``SecretFields``, returned by
``Broker.secret_spec(settings)``): the fields a profile needs, those used when present, which
required field another one can stand in for (an access token is fetched with the refresh
token), which may be absent and why (a PKCE API key has no client secret), and which field
holds the token's expiry. ``unmet`` applies the rule, and every question about completeness
asks it, so that they never disagree:

- a run: does the environment alone suffice, so that the keyring is not opened
  (``credentials.env_suffices``)? Only excuses that hold whatever the keyring holds count
  there (``Unmet.settled``): an access token without its refresh token works until it expires,
  and then the keyring may hold the refresh token;
- ``auth status``: can this profile authenticate, offline?
- ``doctor``: one line per field, present or not and why that is fine.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class StandIn:
    """A required field that may be missing while the field ``by`` is present."""

    by: str
    reason: str  # for people, as doctor shows it
    until_expiry: bool = False  # only while the access token has not expired


@dataclass(frozen=True)
class SecretFields:
    """A profile's secret fields, upper case, as the broker declares them."""

    required: tuple[str, ...] = ()
    optional: tuple[str, ...] = ()  # used when present: cached tokens, their expiry, ids
    stand_ins: Mapping[str, StandIn] = field(default_factory=dict)
    may_be_absent: Mapping[str, str] = field(default_factory=dict)  # field -> why
    token: str | None = None  # the field holding the access (or session) token
    expiry: str | None = None  # the field holding that token's expiry time
    renewed_by: tuple[str, ...] = ()  # fields that get a new token once it expired
    not_secret: tuple[str, ...] = ()  # times and identifiers: kept with the secrets, not secret
    # field -> where the broker shows it to its user, said by ``auth login`` before it asks
    found_at: Mapping[str, str] = field(default_factory=dict)

    @property
    def fields(self) -> tuple[str, ...]:
        """Every field, required first, each once."""
        return tuple(dict.fromkeys((*self.required, *self.optional)))


# An OAuth client's pair: each run may get an access token with the refresh token, and an
# access token works without its refresh token until it expires.
REFRESHED = StandIn("REFRESH_TOKEN", "not stored yet: the next run gets one with the refresh token")
UNTIL_EXPIRY = StandIn("ACCESS_TOKEN", "not set: the access token works until it expires",
                       until_expiry=True)
OAUTH_STAND_INS: Mapping[str, StandIn] = {"ACCESS_TOKEN": REFRESHED,
                                          "REFRESH_TOKEN": UNTIL_EXPIRY}


@dataclass(frozen=True)
class Unmet:
    """A required field that is not present, and why that may be fine (``excuse``: None when
    it is not). ``settled``: the excuse holds whatever else the keyring may hold."""

    field: str
    excuse: str | None
    settled: bool = False


def unmet(fields: SecretFields, present: Collection[str], *,
          expired: bool | None = None) -> list[Unmet]:
    """The required fields of ``fields`` that are not in ``present``, each with its excuse.

    ``expired``: whether the access token has expired (None: unknown, which counts as valid,
    as a run tries such a token). The profile can authenticate when every entry has an excuse.
    """
    have = {name.upper() for name in present}
    found: list[Unmet] = []
    for name in fields.required:
        if name in have:
            continue
        stand_in = fields.stand_ins.get(name)
        if stand_in is not None and stand_in.by in have and not (
                stand_in.until_expiry and expired):
            found.append(Unmet(name, stand_in.reason, settled=not stand_in.until_expiry))
        elif name in fields.may_be_absent:
            found.append(Unmet(name, f"not set ({fields.may_be_absent[name]})"))
        else:
            found.append(Unmet(name, None))
    return found


def missing(fields: SecretFields, present: Collection[str], *,
            expired: bool | None = None) -> list[str]:
    """The required fields that are missing with nothing standing in for them."""
    return [u.field for u in unmet(fields, present, expired=expired) if u.excuse is None]


def settled(fields: SecretFields, present: Collection[str]) -> bool:
    """True when ``present`` suffices whatever the keyring holds (see ``Unmet.settled``)."""
    return all(u.settled for u in unmet(fields, present))


def renewable(fields: SecretFields, present: Collection[str]) -> bool:
    """True when an expired token can be replaced (a refresh token, a password)."""
    have = {name.upper() for name in present}
    return any(name in have for name in fields.renewed_by)


def as_fields(required: SecretFields | Collection[str]) -> SecretFields:
    """A declaration as it is, or a bare list of required fields (nothing stands in)."""
    if isinstance(required, SecretFields):
        return required
    return SecretFields(required=tuple(name.upper() for name in required))
