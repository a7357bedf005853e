"""What balancecli reads from the environment, checked before it is used.

Secrets come as ``BALANCECLI_<PROFILE>_<FIELD>``; a value with a line break or another control
character (for a token also whitespace or a character outside ASCII) cannot be sent (it would
end up in an HTTP header) and is a configuration error (exit 3) naming the variable, never its
value. Tuning variables (``BALANCECLI_KEYRING_TIMEOUT``,
``BALANCECLI_LOCK_TIMEOUT``) must be a number of seconds above 0; anything else is exit 3 too.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping

from balancecli.core.errors import ConfigError
from balancecli.credentials.tokens import field_problem

ENV_PREFIX = "BALANCECLI_"
KEYRING_TIMEOUT_ENV = "BALANCECLI_KEYRING_TIMEOUT"
LOCK_TIMEOUT_ENV = "BALANCECLI_LOCK_TIMEOUT"
DEFAULT_KEYRING_TIMEOUT = 10.0
# Long enough for a refresh by a slow broker (one request with its retries), short enough that
# a cron run stuck behind a hung one gives up well before the next run starts.
DEFAULT_LOCK_TIMEOUT = 60.0


def env_name(profile: str, field: str) -> str:
    """``BALANCECLI_<PROFILE>_<FIELD>`` for a profile and an upper-case field name."""
    return ENV_PREFIX + re.sub(r"[^A-Za-z0-9]", "_", profile).upper() + "_" + field.upper()


def secret_from_env(env: Mapping[str, str], profile: str, field: str) -> str | None:
    """The field's value from the environment, or None; ConfigError for a value no token can
    have (a line break from an env file written with CRLF or a trailing newline, ...)."""
    name = env_name(profile, field)
    value = env.get(name)
    if not value:
        return None
    what = field_problem(field, value)
    if what:
        raise ConfigError(
            f"the environment variable {name} contains {what}",
            profile=profile,
            next_step=f"set {name} to the bare value (an env file with CRLF line ends or a "
                      "trailing newline does this)",
        )
    return value


def seconds(name: str, default: float, env: Mapping[str, str] | None = None) -> float:
    """A positive, finite number of seconds from the environment variable ``name``."""
    text = (os.environ if env is None else env).get(name)
    if text is None or text.strip() == "":
        return default
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0 or value > 86400:
        shown = text if len(text) <= 20 and text.isprintable() else text[:20].encode(
            "unicode_escape").decode() + "…"
        raise ConfigError(
            f"{name} must be a number of seconds above 0 (at most 86400), not {shown!r}",
            next_step=f"fix or unset {name} (default {default:g})",
        )
    return value


def keyring_timeout() -> float:
    return seconds(KEYRING_TIMEOUT_ENV, DEFAULT_KEYRING_TIMEOUT)


def lock_timeout() -> float:
    return seconds(LOCK_TIMEOUT_ENV, DEFAULT_LOCK_TIMEOUT)


def check_environment() -> None:
    """Fail fast (exit 3) on a bad tuning variable, before any profile runs."""
    keyring_timeout()
    lock_timeout()
