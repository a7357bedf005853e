"""Profiles from the TOML config file, validated with clear messages.

Secrets never go in this file. Location: ``--config``, else ``BALANCECLI_CONFIG``, else
``platformdirs.user_config_dir("balancecli")/config.toml``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from balancecli.core.errors import ConfigError
from balancecli.core.paths import MAX_CONFIG_BYTES as MAX_CONFIG_BYTES
from balancecli.core.paths import config_path as config_path
from balancecli.net.urls import check_url

PROFILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


@dataclass(frozen=True)
class Profile:
    name: str
    broker: str
    settings: dict[str, Any]

    @property
    def broker_class(self) -> Any:
        from balancecli.brokers import broker_class

        return broker_class(self.broker, profile=self.name)




def read_toml(path: Path) -> dict[str, Any]:
    """The config file, parsed. Only a regular file of at most 1 MiB is read, and on POSIX only
    one no other user can write (``core.files``): whoever can write it decides where tokens
    are sent. Each refusal is a ConfigError (exit 3), at once."""
    import tomllib

    from balancecli.core.files import read_private

    try:
        text = read_private(path, what="the config file", cap=MAX_CONFIG_BYTES,
                            next_step="point --config or BALANCECLI_CONFIG at the config file")
    except ValueError:  # a NUL byte in the path
        raise ConfigError(f"the config file path {str(path)!r} is not a valid path",
                          next_step="fix --config or BALANCECLI_CONFIG") from None
    except FileNotFoundError:
        raise ConfigError(
            f"no config file at {path}",
            next_step=(
                "run: balancecli profile add NAME --broker BROKER "
                "(or try: balancecli --demo balance)"
            ),
        ) from None
    except OSError as exc:
        raise ConfigError(f"cannot read the config file {path}: {exc.strerror}") from None
    try:
        return tomllib.loads(text.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"the config file {path} is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        # tomllib says "... (at line 3, column 7)": keep it, it is the useful part.
        raise ConfigError(
            f"the config file {path} is not valid TOML: {exc}",
            next_step=f"fix the file (run: balancecli profile list --config {path})",
        ) from None


def validate_profile(name: str, raw: Any) -> Profile:
    if not PROFILE_NAME.match(name):
        raise ConfigError(
            f"invalid profile name {name!r} (letters, digits, '_', '-', '.')",
            next_step="rename the [profiles.NAME] table in the config file",
        )
    if not isinstance(raw, dict):
        raise ConfigError(f"[profiles.{name}] must be a table", profile=name)
    broker = raw.get("broker")
    from balancecli.brokers import NAMES, broker_class

    if not isinstance(broker, str):
        raise ConfigError(
            "missing setting 'broker'",
            profile=name,
            next_step=(
                f'add broker = "{NAMES[0]}" (or {", ".join(NAMES[1:])}) '
                f"to [profiles.{name}]"
            ),
        )

    cls = broker_class(broker, profile=name)
    settings = cls.validate(name, raw)
    if settings.get("accounts") is not None:
        _check_account_filter(name, settings["accounts"])
    if settings.get("ledger_account") is not None:
        from balancecli.core.ledgernames import check_ledger_account

        check_ledger_account(name, settings["ledger_account"])
    for key, value in settings.items():
        if isinstance(value, str) and (key.endswith("_url") or key == "base_url"):
            check_url(name, key, value)
    return Profile(name, broker, settings)


def _check_account_filter(profile: str, ids: list[Any]) -> None:
    """``accounts = [...]``: ids are text. ``accounts = [111]`` (TOML integers) would match no
    id, ever, and every run would print nothing without a word."""
    fix = f"fix accounts in [profiles.{profile}] of the config file"
    for value in ids:
        if isinstance(value, int | float) and not isinstance(value, bool):
            quoted = ", ".join(f'"{v}"' if isinstance(v, int | float) else repr(v) for v in ids)
            raise ConfigError(
                f"setting 'accounts' lists the number {value!r}; account ids are text",
                profile=profile, next_step=f"quote the ids: accounts = [{quoted}]")
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(f"setting 'accounts' must list account ids as text, got {value!r}",
                              profile=profile, next_step=fix)


def load_profiles(path: Path) -> dict[str, dict[str, Any]]:
    """The raw ``[profiles.*]`` tables of the config, in file order (not yet validated)."""
    data = read_toml(path)
    profiles = data.get("profiles", {})
    if not isinstance(profiles, dict):
        raise ConfigError(f"'profiles' in {path} must be a table of [profiles.NAME] tables")
    return profiles


def select(
    raw_profiles: dict[str, dict[str, Any]], names: list[str] | None, path: Path
) -> tuple[list[Profile], list[ConfigError]]:
    """Validate the selected profiles. Unknown names and bad profiles become errors so the
    other profiles still run."""
    errors: list[ConfigError] = []
    selected = names or list(raw_profiles)
    if not selected:
        raise ConfigError(
            f"no profiles in {path}",
            next_step="run: balancecli profile add NAME --broker BROKER",
        )
    profiles: list[Profile] = []
    seen: set[str] = set()
    for name in selected:
        if name in seen:
            continue
        seen.add(name)
        if name not in raw_profiles:
            known = ", ".join(raw_profiles) or "none"
            errors.append(
                ConfigError(
                    f"unknown profile (profiles in {path}: {known})",
                    profile=name,
                    next_step="run: balancecli profile list",
                )
            )
            continue
        try:
            profiles.append(validate_profile(name, raw_profiles[name]))
        except ConfigError as exc:
            exc.profile = exc.profile or name
            errors.append(exc)
    return profiles, errors
