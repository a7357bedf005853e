"""Profiles from the TOML config file, validated with clear messages.

Secrets never go in this file. Location: ``--config``, else ``BALANCECLI_CONFIG``, else
``platformdirs.user_config_dir("balancecli")/config.toml``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from balancecli.core.errors import ConfigError, SettingError
from balancecli.core.paths import MAX_CONFIG_BYTES as MAX_CONFIG_BYTES
from balancecli.core.paths import config_path as config_path
from balancecli.core.suggest import closest, did_you_mean
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

    if path.is_dir():  # the commonest slip: --config naming the folder
        raise ConfigError(f"the config file {path} is a directory",
                          next_step=f"name the file itself, e.g. {path / 'config.toml'}")
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
        raise ConfigError(f"cannot read the config file {path}: {exc.strerror}",
                          next_step=f"check its permissions: ls -l {_quoted(path)}") from None
    try:
        return tomllib.loads(text.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"the config file {path} is not UTF-8 text",
                          next_step="save it as UTF-8 in an editor") from None
    except tomllib.TOMLDecodeError as exc:
        # tomllib says "... (at line 3, column 7)": keep it, it is the useful part. The next
        # step is an editor: no command of ours reads a file that does not parse.
        raise ConfigError(
            f"the config file {path} is not valid TOML: {exc}",
            next_step="fix that line in an editor (TOML syntax: https://toml.io)",
        ) from None


def _quoted(path: Path | str) -> str:
    import shlex

    return shlex.quote(str(path))


def validate_profile(name: str, raw: Any) -> Profile:
    """The profile ``name`` of the config file, checked; a ConfigError says what to run to fix
    it (``balancecli profile set|unset``). A bad setting is a ``SettingError`` naming the
    setting, so that a command taking settings from its arguments can word the fix its way
    (``check_profile``)."""
    try:
        return check_profile(name, raw)
    except SettingError as exc:
        exc.next_step = file_fix(name, fix_for(exc, raw if isinstance(raw, dict) else {}))
        raise


def check_profile(name: str, raw: Any) -> Profile:
    """``validate_profile`` without the wording of the fix: a bad setting is a SettingError
    with its ``next_step`` still to be written by the caller."""
    if not PROFILE_NAME.match(name):
        raise ConfigError(
            f"invalid profile name {name!r} (letters, digits, '_', '-', '.')",
            next_step="rename the [profiles.NAME] table in the config file",
        )
    if not isinstance(raw, dict):
        raise ConfigError(f"[profiles.{name}] must be a table", profile=name)
    broker = raw.get("broker")
    from balancecli.brokers import broker_class, listed

    if not isinstance(broker, str):
        raise SettingError(f"missing setting 'broker' (one of {listed()})", profile=name,
                           setting="broker", missing=True, suggestion="BROKER")
    check_broker(name, broker)
    cls = broker_class(broker, profile=name)
    try:
        settings = cls.validate(name, raw)
        if settings.get("ledger_account") is not None:
            from balancecli.core.ledgernames import check_ledger_account

            check_ledger_account(name, settings["ledger_account"])
        for key, value in settings.items():
            if isinstance(value, str) and (key.endswith("_url") or key == "base_url"):
                check_url(name, key, value)
    except SettingError as exc:
        raise _secret_named(exc, cls, raw) from None
    except ConfigError as exc:
        named = _setting_named(exc)
        if named is None:
            raise
        raise SettingError(exc.message, profile=name, setting=named,
                           suggestion=_example(cls, named)) from None
    if settings.get("accounts") is not None:  # its own next step: quote the ids
        _check_account_filter(name, settings["accounts"])
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


def check_broker(profile: str, broker: str) -> None:
    """A SettingError for a broker name that is not registered (with the close one)."""
    from balancecli.brokers import NAMES

    if broker not in NAMES:
        near = closest(broker, NAMES)
        raise SettingError(
            f"unknown broker {broker!r}; " + (f"did you mean {near!r}?" if near else
                                              f"valid brokers: {', '.join(NAMES)}"),
            profile=profile, setting="broker", suggestion=near or "BROKER")


# -- how to fix a setting ---------------------------------------------------------------------


@dataclass(frozen=True)
class Fix:
    """What fixes one bad setting: give ``key`` the ``value`` (``None``: a placeholder the user
    fills in), and/or remove the key ``drop`` (an unknown key, or a bad value whose default
    is fine). ``login``: the key was a secret, which belongs to ``auth login``."""

    key: str | None = None
    value: str | None = None
    drop: str | None = None
    login: bool = False
    default: bool = False  # ``drop`` takes a bad value away: the setting's default applies

    def pair(self) -> str:
        """``key=value`` as typed after ``--set`` (``VALUE`` when the value is not known)."""
        return f"{self.key}={self.value if self.value is not None else 'VALUE'}"


def fix_for(error: SettingError, raw: dict[str, Any]) -> Fix:
    """The fix of a bad setting, whatever the wording (``file_fix``, ``profile add``)."""
    key = error.setting
    if error.unknown:
        if error.secret:
            return Fix(drop=key, login=True)
        if error.suggestion is None:
            return Fix(drop=key)
        return Fix(key=error.suggestion, value=_typed(raw.get(key)), drop=key)
    if error.suggestion is not None or error.missing:
        return Fix(key=key, value=error.suggestion)
    return Fix(drop=key, default=True)


def file_fix(profile: str, fix: Fix) -> str:
    """The next step of a bad setting in the config file: the profile command to run."""
    steps = []
    if fix.drop is not None:
        steps.append(f"balancecli profile unset {profile} {_quoted(fix.drop)}")
    if fix.key is not None:
        steps.append(f"balancecli profile set {profile} {_quoted(fix.pair())}")
    if fix.login:
        steps.append(f"balancecli auth login {profile}")
    default = " (back to its default)" if fix.default else ""
    return "run: " + " && ".join(steps) + default


def _typed(value: Any) -> str | None:
    """A value from the file as it would be typed after ``--set KEY=`` (None when it cannot be
    typed plainly or is long: a placeholder is shown instead)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str) and 0 < len(value) <= 80 and value.isprintable():
        return value
    return None


def _secret_named(error: SettingError, cls: Any, raw: dict[str, Any]) -> SettingError:
    """An unknown key that names (or nearly names) a secret field: say where secrets go."""
    if not error.unknown:
        return error
    secrets = [f.lower() for f in cls.secret_spec(raw).fields]
    secrets += [f.lower() for f in SECRET_WORDS]
    near = error.setting.lower() if error.setting.lower() in secrets else closest(
        error.setting.lower(), secrets)
    if near is None:
        return error
    return SettingError(
        f"{error.setting!r} is not a setting: {near.upper()} is a secret, and secrets never go "
        "in the config file", profile=error.profile, setting=error.setting, unknown=True,
        secret=True)


# Secret field names of any broker (a profile of another mode may name them too).
SECRET_WORDS = ("ACCESS_TOKEN", "REFRESH_TOKEN", "CLIENT_SECRET", "APP_SECRET", "PASSWORD",
                "TOKEN", "APP_KEY")


def _setting_named(error: ConfigError) -> str | None:
    """The setting a broker's own check blamed (its message names it: ``setting 'source'``)."""
    match = re.match(r"(?:setting )?'?([a-z_]+)'? ", error.message)
    if match and (error.message.startswith("setting ") or match.group(1) == "ledger_account"):
        return match.group(1)
    return None


def _example(cls: Any, key: str) -> str | None:
    """A value of the documented form for a required setting (else None: back to default)."""
    from balancecli.brokers.base import COMMON_SETTINGS

    setting = {**COMMON_SETTINGS, **cls.settings}.get(key)
    if setting is None or not setting.required:
        return None
    return setting.example or "VALUE"


def load_profiles(path: Path) -> dict[str, dict[str, Any]]:
    """The raw ``[profiles.*]`` tables of the config, in file order (not yet validated)."""
    data = read_toml(path)
    profiles = data.get("profiles", {})
    if not isinstance(profiles, dict):
        raise ConfigError(f"'profiles' in {path} must be a table of [profiles.NAME] tables",
                          next_step="fix it in an editor: [profiles.NAME] tables, one per "
                                    "profile")
    return profiles


def select(
    raw_profiles: dict[str, dict[str, Any]], names: list[str] | None, path: Path, *,
    demo: bool = False,
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
            errors.append(unknown_profile(name, list(raw_profiles), path, demo=demo))
            continue
        try:
            profiles.append(validate_profile(name, raw_profiles[name]))
        except ConfigError as exc:
            exc.profile = exc.profile or name
            errors.append(exc)
    return profiles, errors


def unknown_profile(name: str, known: list[str], path: Path | str, *,
                    demo: bool = False) -> ConfigError:
    """``-p NAME`` names no profile: the close one, and where the names are."""
    where = "the demo profiles" if demo else f"profiles in {path}"
    near = closest(name, known)
    error = ConfigError(
        f"unknown profile{did_you_mean(name, known)} ({where}: {', '.join(known) or 'none'})",
        profile=name,
        next_step="pass one of those names to -p" if demo else "run: balancecli profile list",
    )
    error.retry_with = (name, near) if near else None
    return error
