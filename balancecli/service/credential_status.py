"""Where each secret field of a profile comes from, and whether it can authenticate, offline.

Used by ``auth status`` (and anything else that reports on credentials); reads the environment
and the keyring item, never prints a secret (at most the last four characters of a long access
or refresh token). Whether the fields suffice is the one rule of ``core.secretfields``, over
what the broker declares (``Broker.secret_spec``); ``doctor`` and the runs apply it too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from balancecli.config import Profile
    from balancecli.core.secretfields import SecretFields


def spec_of(profile: Profile) -> SecretFields:
    """The secret fields the profile's broker declares for its settings."""
    spec: SecretFields = profile.broker_class.secret_spec(profile.settings)
    return spec


def fields_of(profile: Profile) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(required, optional) secret fields of a profile, upper case."""
    spec = spec_of(profile)
    return spec.required, spec.optional


def env_value(profile: str, field: str) -> str | None:
    import os

    from balancecli.credentials import env_name

    return os.environ.get(env_name(profile, field)) or None

# -- status --------------------------------------------------------------------------------


def expiry_epoch(value: Any) -> float | None:
    """Epoch seconds from epoch seconds, epoch milliseconds or ISO 8601 text: the one parser
    the fetchers use too (``brokers.payload``), so ``auth status`` reads what they read."""
    from balancecli.brokers.payload import expiry_epoch as parse

    return parse(value)


def iso(epoch: float) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


HINTED = ("ACCESS_TOKEN", "REFRESH_TOKEN")  # the only fields whose end is ever shown
LONG_TOKEN = 20


def last4(field: str, value: str | None) -> str | None:
    """The last four characters of a long access or refresh token (20 or more, a usable
    token), as a hint of which one is stored; None for every other field (no part of a
    password, app secret or client secret is ever shown). The text output shows ``…abcd``,
    else ``***``."""
    from balancecli.credentials.tokens import token_problem

    if field not in HINTED or not value or len(value) < LONG_TOKEN or token_problem(value):
        return None
    return value[-4:]


def profile_status(profile: Profile) -> dict[str, Any]:
    """Where each field comes from and whether the profile can authenticate (offline)."""
    import time

    from balancecli.core.errors import AuthError, ConfigError
    from balancecli.core.secretfields import missing as missing_fields
    from balancecli.core.secretfields import renewable
    from balancecli.credentials import Keyring, env_suffices

    spec = spec_of(profile)
    keyring_error: str | None = None
    try:
        needs_keyring = not env_suffices(profile.name, spec)
    except ConfigError:  # a variable with a line break: reported by the runs themselves
        needs_keyring = True
    item: dict[str, Any] = {}
    if needs_keyring:  # as in a run: not opened when the environment suffices
        try:
            item = Keyring().load(profile.name)
        except AuthError as exc:
            keyring_error = exc.message
    fields, present = _fields(profile, spec, item)
    expires_at = expiry_epoch(env_value(profile.name, spec.expiry) or item.get(
        spec.expiry.lower())) if spec.expiry else None
    expired = None if expires_at is None else expires_at <= time.time()
    missing = missing_fields(spec, present, expired=expired)
    problem = message = None
    if missing:
        problem = message = f"missing {', '.join(missing)}"
        if keyring_error and needs_keyring:
            from balancecli.credentials import env_name, listed, unset_fields

            env = [f["field"] for f in fields if f["source"] == "env"]
            unset = [env_name(profile.name, f) for f in unset_fields(spec, env)]
            names = f"{listed(unset)} {'is' if len(unset) == 1 else 'are'} not set"
            problem = f"{names} and the keyring is not usable"
            message = f"{names}, and {keyring_error}"
    elif expired and not renewable(spec, present):
        problem = message = "the access token has expired and there is no refresh token"
    return {
        "profile": profile.name, "broker": profile.broker, "ok": problem is None,
        "problem": problem, "message": message, "fields": fields,
        "access_token_expires_at": None if expires_at is None else iso(expires_at),
        "access_token_expired": expired,
        "refresh_token": "REFRESH_TOKEN" in present,
        "keyring": "not needed" if not needs_keyring else ("unusable" if keyring_error
                                                           else "used"),
    }


def _fields(profile: Profile, spec: SecretFields,
            item: dict[str, Any]) -> tuple[list[dict[str, Any]], set[str]]:
    """One entry per field (expiry times left out), and the fields present anywhere."""
    fields = []
    present: set[str] = set()
    for field in spec.fields:
        if field == spec.expiry:
            continue
        value = env_value(profile.name, field)
        source = "env" if value else None
        if not value and item.get(field.lower()) not in (None, ""):
            value, source = str(item[field.lower()]), "keyring"
        if not value and profile.settings.get(field.lower()):
            value, source = str(profile.settings[field.lower()]), "config"
        if value:
            present.add(field)
        fields.append({"field": field, "required": field in spec.required,
                       "present": bool(value), "source": source,
                       "last4": last4(field, value)})
    return fields, present


def status_text(rows: list[dict[str, Any]], backend: str) -> str:
    lines = [f"keyring backend: {backend}"]
    for row in rows:
        state = "ok" if row["ok"] else f"CANNOT AUTHENTICATE: {row['problem']}"
        lines.append(f"\n{row['profile']} ({row['broker']}): {state}")
        for f in row["fields"]:
            where = f["source"] or "missing"
            shown = f" …{f['last4']}" if f["last4"] else " ***" if f["present"] else ""
            optional = "" if f["required"] else " (optional)"
            lines.append(f"  {f['field']:<15} {where}{shown}{optional}")
        if row["access_token_expires_at"]:
            when = "expired" if row["access_token_expired"] else "expires"
            lines.append(f"  access token    {when} {row['access_token_expires_at']}")
        lines.append(f"  refresh token   {'present' if row['refresh_token'] else 'none'}")
        lines.append(f"  keyring         {row['keyring']}")
    return "\n".join(lines) + "\n"
