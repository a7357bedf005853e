"""``balancecli profile add|set|unset|list|show|remove|path``: edit the config without an editor.

Edits keep the rest of the file as it was (other profiles, settings, comments, order;
``profile_toml``), are checked before anything is written (the broker's declared settings),
and write the file atomically with mode 0600. Secrets never go in it: they belong to
``balancecli auth login``. A setting that cannot be used is one line whose next step is the
command to run, worded for where the setting came from: ``profile add ... --set KEY=VALUE``
for one typed on the command line, ``profile set|unset`` for one in the file.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from balancecli import brokers
from balancecli.cli import complete
from balancecli.cli.commands.examples import EXAMPLES
from balancecli.cli.commands.options import ConfigOpt, DebugOpt, NoColorOpt, VerboseOpt, runtime
from balancecli.cli.commands.profile_toml import (
    dump,
    table_text,
    toml_value,
)

__all__ = ["app", "dump", "parse_sets", "register"]

if TYPE_CHECKING:
    from balancecli.cli.runtime import Runtime
    from balancecli.config import Fix
    from balancecli.core.errors import ConfigError, SettingError

app = typer.Typer(help="Add, change, list, show and remove profiles in the config file.",
                  epilog=EXAMPLES["profile"],
                  no_args_is_help=True)

NameArg = Annotated[str, typer.Argument(metavar="NAME", help="Profile name.")]
ExistingNameArg = Annotated[str, typer.Argument(
    metavar="NAME", help="Profile name.", autocompletion=complete.complete_profile_arg)]


class ListFormat(enum.StrEnum):
    table = "table"
    json = "json"


# -- what was typed, to repeat it with a fix -------------------------------------------------


@dataclass
class Typed:
    """The settings typed on the command line (``profile add``: with ``broker``; ``profile
    set``: without), so that a next step is the same command with the fix applied."""

    name: str
    pairs: list[str] = field(default_factory=list)
    broker: str | None = None
    replace: bool = False

    def given(self) -> dict[str, str]:
        found = {key.strip(): value for key, _, value in (p.partition("=") for p in self.pairs)}
        return {**found, **({"broker": self.broker} if self.broker is not None else {})}

    def keys(self) -> set[str]:
        return set(self.given())

    def command(self, fix: Fix) -> str:
        """``run: balancecli profile add|set ...`` as typed, with ``fix`` applied."""
        import shlex

        keys = {fix.drop, fix.key}
        pairs = [p for p in self.pairs if p.partition("=")[0].strip() not in keys]
        broker = self.broker
        if fix.key == "broker" and broker is not None:
            broker = fix.value or "BROKER"
        elif fix.key is not None:
            pairs.append(fix.pair())
        if broker is None:
            words = ["profile", "set", self.name, *pairs] if pairs else (
                ["profile", "show", self.name])
        else:
            words = ["profile", "add", self.name, "--broker", broker,
                     *[w for p in pairs for w in ("--set", p)]]
            words += ["--replace"] if self.replace else []
        step = "run: " + shlex.join(["balancecli", *words])
        return step + (f" && balancecli auth login {self.name}" if fix.login else "")


def reworded(exc: SettingError, typed: Typed) -> SettingError:
    """``exc`` with its next step worded for the command line ``typed``."""
    from balancecli.config import fix_for

    exc.next_step = typed.command(fix_for(exc, typed.given()))
    return exc


# -- --set parsing --------------------------------------------------------------------------


def parse_sets(name: str, broker: str, pairs: list[str], typed: Typed | None = None,
               ) -> dict[str, Any]:
    """``key=value`` pairs typed by the broker's declared setting types."""
    from balancecli.brokers import broker_class
    from balancecli.brokers.base import COMMON_SETTINGS
    from balancecli.cli.boundary import UsageError
    from balancecli.config import SECRET_WORDS, Fix
    from balancecli.core.errors import ConfigError

    typed = typed or Typed(name, pairs, broker=broker)
    cls = broker_class(broker, profile=name)
    spec = {**COMMON_SETTINGS, **cls.settings}
    secret = {f.lower() for f in cls.secret_spec({}).fields + SECRET_WORDS}
    result: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise UsageError(f"{pair!r}: expected KEY=VALUE (e.g. environment=sim)")
        if key.lower() in secret and key not in spec:
            raise ConfigError(
                f"{key} is a secret: secrets never go in the config file", profile=name,
                next_step=typed.command(Fix(drop=key, login=True)))
        setting = spec.get(key)
        result[key] = raw if setting is None else _typed_value(name, key, raw, setting, typed)
    return result


def _typed_value(name: str, key: str, raw: str, setting: Any, typed: Typed) -> Any:
    """The text after ``KEY=`` as the value the setting declares (a list, a bool, a number)."""
    import tomllib

    from balancecli.brokers.base import in_words
    from balancecli.core.errors import SettingError

    kinds = setting.type if isinstance(setting.type, tuple) else (setting.type,)
    try:
        if list in kinds:
            return (tomllib.loads(f"v = {raw}")["v"] if raw.strip().startswith("[")
                    else [p.strip() for p in raw.split(",") if p.strip()])
        if bool in kinds:
            return {"true": True, "false": False}[raw.strip().lower()]
        if int in kinds and float in kinds:
            return float(raw) if any(c in raw for c in ".eE") else int(raw)
        if int in kinds:
            return int(raw)
        if float in kinds:
            return float(raw)
    except (ValueError, KeyError, tomllib.TOMLDecodeError):
        error = SettingError(f"setting {key!r} must be {in_words(kinds)}, got {raw!r}",
                             profile=name, setting=key)
        raise reworded(error, typed) from None
    return raw


# -- the file -------------------------------------------------------------------------------


def _path(rt: Runtime) -> Path:
    from balancecli import config

    if rt.demo:
        from balancecli.cli.boundary import UsageError

        raise UsageError("the profile commands edit the config file; they do not apply to "
                         "--demo")
    return config.config_path(rt.config)


def _load(path: Path, *, missing_ok: bool = False) -> tuple[str, dict[str, Any],
                                                            dict[str, Any]]:
    """(the file's text, its data, its profiles)."""
    from balancecli import config
    from balancecli.core.errors import ConfigError

    if missing_ok and not path.exists():
        return "", {}, {}
    data = config.read_toml(path)
    profiles = data.get("profiles", {})
    if not isinstance(profiles, dict):
        raise ConfigError(f"'profiles' in {path} must be a table of [profiles.NAME] tables",
                          next_step="fix it in an editor: one [profiles.NAME] table per "
                                    "profile")
    return path.read_text(encoding="utf-8"), data, profiles


def _existing(profiles: dict[str, Any], name: str, path: Path) -> dict[str, Any]:
    """The raw settings of the profile ``name``; unknown: exit 3 with the close name."""
    from balancecli.config import unknown_profile
    from balancecli.core.errors import ConfigError

    raw = profiles.get(name)
    if raw is None:
        raise unknown_profile(name, list(profiles), path)
    if not isinstance(raw, dict):
        raise ConfigError(f"[profiles.{name}] must be a table", profile=name,
                          next_step=f"fix it in an editor ({path})")
    return raw


def _saved(rt: Runtime, path: Path, new_text: str, expected: dict[str, Any]) -> None:
    from balancecli.cli.commands.profile_toml import save

    if not save(path, new_text, expected):
        rt.warn(f"{path} was written from its data: its comments and layout could not be kept")


# -- add ------------------------------------------------------------------------------------


@app.command(epilog=EXAMPLES["profile add"])
def add(
    ctx: typer.Context,
    name: NameArg,
    broker: Annotated[str, typer.Option("--broker", "-b", metavar="BROKER",
                                        help=f"{brokers.listed()}.",
                                        autocompletion=complete.complete_broker)],
    set_: Annotated[list[str] | None, typer.Option(
        "--set", "-s", metavar="KEY=VALUE", help="A setting, key=value (repeatable), e.g. "
        "--set environment=sim. Never a secret: use `balancecli auth login`.")] = None,
    replace: Annotated[bool, typer.Option("--replace", help="Replace a profile of that "
                                          "name (every setting: see profile set).")] = False,
    config: ConfigOpt = None, verbose: VerboseOpt = False, debug: DebugOpt = False,
    no_color: NoColorOpt = False,
) -> None:
    """Add a profile (validated before it is written)."""
    from balancecli.cli.boundary import guarded

    rt = runtime(ctx, config=config, verbose=verbose, debug=debug, no_color=no_color)
    with guarded(rt):
        _add(rt, Typed(name, list(set_ or []), broker=broker, replace=replace))


def _add(rt: Runtime, typed: Typed) -> None:
    from balancecli.cli.commands.profile_toml import without_table
    from balancecli.core.errors import ConfigError

    name = typed.name
    path = _path(rt)
    raw, profile = _checked_new(typed)
    text, data, profiles = _load(path, missing_ok=True)
    if name in profiles and not typed.replace:
        raise ConfigError(f"a profile named {name!r} exists in {path}", profile=name,
                          next_step="pass --replace to replace all of its settings, change "
                                    f"some with: balancecli profile set {name} KEY=VALUE")
    base = without_table(text, name) if name in profiles else text
    if base and not base.endswith("\n"):
        base += "\n"
    new_text = base + ("\n" if base.strip() else "") + table_text(name, raw)
    _saved(rt, path, new_text, {**data, "profiles": {**profiles, name: raw}})
    if name in profiles:
        rt.err(f"replaced profile {name} in {path}{_changes(profiles[name], raw)}")
    else:
        rt.err(f"added profile {name} in {path}")
    if profile.broker_class.secret_fields(profile.settings):
        rt.err(f"next: balancecli auth login {name}")
    else:
        rt.err(f"next: balancecli balance -p {name}")


def _checked_new(typed: Typed) -> tuple[dict[str, Any], Any]:
    """(the raw settings, the checked Profile) of ``profile add``, every problem worded for
    its command line: ``--broker`` and ``--set`` are not blamed on the config file."""
    from balancecli import config as cfg
    from balancecli.cli.boundary import UsageError
    from balancecli.core.errors import SettingError

    name, broker = typed.name, str(typed.broker)
    if not cfg.PROFILE_NAME.match(name):
        raise UsageError(f"invalid profile name {name!r}: letters, digits, '_', '-' and '.', "
                         "starting with a letter or a digit, at most 64")
    try:
        cfg.check_broker(name, broker)
        raw = {"broker": broker, **parse_sets(name, broker, typed.pairs, typed)}
        return raw, cfg.check_profile(name, raw)
    except SettingError as exc:
        raise reworded(exc, typed) from None


def _changes(old: dict[str, Any], new: dict[str, Any]) -> str:
    """What a replaced profile lost or changed: ``; removed environment = "sim"; changed api
    from "v3" to "v2"`` (nothing when it is the same)."""
    removed = [f"{k} = {_value_shown(old, k, v)}" for k, v in old.items() if k not in new]
    changed = [f"{k} from {_value_shown(old, k, v)} to {_value_shown(new, k, new[k])}"
               for k, v in old.items() if k in new and new[k] != v]
    parts = ([f"removed {', '.join(removed)}"] if removed else []) + (
        [f"changed {', '.join(changed)}"] if changed else [])
    return "; " + "; ".join(parts) if parts else " (no setting changed)"


# -- set and unset --------------------------------------------------------------------------


@app.command("set", epilog=EXAMPLES["profile set"])
def set_(
    ctx: typer.Context, name: ExistingNameArg,
    pairs: Annotated[list[str], typer.Argument(
        metavar="KEY=VALUE...", help="Settings to give the profile, e.g. environment=sim.")],
    config: ConfigOpt = None, verbose: VerboseOpt = False, debug: DebugOpt = False,
    no_color: NoColorOpt = False,
) -> None:
    """Change settings of a profile in place (each checked first)."""
    from balancecli.cli.boundary import guarded

    rt = runtime(ctx, config=config, verbose=verbose, debug=debug, no_color=no_color)
    with guarded(rt):
        _set(rt, Typed(name, list(pairs)))


def _set(rt: Runtime, typed: Typed) -> None:
    from balancecli import config as cfg
    from balancecli.cli.commands.profile_toml import set_key
    from balancecli.core.errors import SettingError

    name, path = typed.name, _path(rt)
    text, data, profiles = _load(path)
    raw = _existing(profiles, name, path)
    broker = typed.given().get("broker", raw.get("broker"))
    try:
        cfg.check_broker(name, str(broker))
        given = parse_sets(name, str(broker), typed.pairs, typed)
    except SettingError as exc:
        raise reworded(exc, typed) from None
    new = {**raw, **given}
    still = _checked_change(name, raw, new, typed)
    new_text = text
    for key, value in given.items():
        new_text = set_key(new_text, name, key, value)
    _saved(rt, path, new_text, {**data, "profiles": {**profiles, name: new}})
    said = [f"{k} = {toml_value(v)}" + (f" (was {toml_value(raw[k])})" if k in raw else "")
            for k, v in given.items()]
    rt.err(f"{name}: {'; '.join(said)} — written to {path}")
    if still is not None:
        rt.warn(f"{name} is still not usable: {still.message} — {still.next_step}")


def _checked_change(name: str, old: dict[str, Any], new: dict[str, Any],
                    typed: Typed) -> ConfigError | None:
    """None when the changed profile is valid. A problem the change made is raised (nothing
    is written), worded for the command line when it is about a setting typed there; one the
    profile had before, about a setting left alone, is returned (the change is written)."""
    from balancecli import config as cfg
    from balancecli.core.errors import ConfigError, SettingError

    try:
        cfg.check_profile(name, new)
        return None
    except SettingError as exc:
        if exc.setting in typed.keys():
            raise reworded(exc, typed) from None
        exc.next_step = cfg.file_fix(name, cfg.fix_for(exc, new))
        before = _problem(name, old)
        if isinstance(before, SettingError) and before.setting == exc.setting:
            return exc
        if (exc.unknown and old.get("broker") == new.get("broker") and exc.setting in old
                and old[exc.setting] == new.get(exc.setting)):
            return exc  # a key left alone that was never a setting: the next fix, not this one
        raise
    except ConfigError as exc:
        if _problem(name, old) is not None:
            return exc
        raise


def _problem(name: str, raw: dict[str, Any]) -> ConfigError | None:
    from balancecli import config as cfg
    from balancecli.core.errors import ConfigError

    try:
        cfg.check_profile(name, raw)
    except ConfigError as exc:
        return exc
    return None


@app.command(epilog=EXAMPLES["profile unset"])
def unset(
    ctx: typer.Context, name: ExistingNameArg,
    keys: Annotated[list[str], typer.Argument(
        metavar="KEY...", help="Settings to remove (each goes back to its default).")],
    config: ConfigOpt = None, verbose: VerboseOpt = False, debug: DebugOpt = False,
    no_color: NoColorOpt = False,
) -> None:
    """Remove settings of a profile (each goes back to its default)."""
    from balancecli.cli.boundary import guarded

    rt = runtime(ctx, config=config, verbose=verbose, debug=debug, no_color=no_color)
    with guarded(rt):
        _unset(rt, name, list(dict.fromkeys(keys)))


def _unset(rt: Runtime, name: str, keys: list[str]) -> None:
    from balancecli.cli.boundary import UsageError
    from balancecli.cli.commands.profile_toml import unset_key
    from balancecli.core.errors import SettingError

    path = _path(rt)
    text, data, profiles = _load(path)
    raw = _existing(profiles, name, path)
    if "broker" in keys:
        raise UsageError(f"every profile has a broker; to change it: balancecli profile set "
                         f"{name} broker=BROKER")
    for key in keys:
        if key not in raw:
            raise _not_set(name, key, raw)
    new = {k: v for k, v in raw.items() if k not in keys}
    try:
        still = _checked_change(name, raw, new, Typed(name, [f"{k}=" for k in keys]))
    except SettingError as exc:
        if exc.missing and exc.setting in keys:  # a required setting: change it instead
            exc.message = (f"{exc.setting} cannot be removed: every {raw.get('broker')} "
                           "profile needs one; nothing was removed")
        raise
    new_text = text
    for key in keys:
        new_text = unset_key(new_text, name, key)
    _saved(rt, path, new_text, {**data, "profiles": {**profiles, name: new}})
    rt.err(f"{name}: removed {'; '.join(_removed(name, raw, new, keys))} — written to {path}")
    if still is not None:
        rt.warn(f"{name} is still not usable: {still.message} — {still.next_step}")


def _not_set(name: str, key: str, raw: dict[str, Any]) -> ConfigError:
    from balancecli.core.errors import ConfigError
    from balancecli.core.suggest import closest, did_you_mean

    error = ConfigError(f"no setting {key!r} in this profile{did_you_mean(key, raw)} (it has: "
                        f"{', '.join(raw)})", profile=name,
                        next_step=f"run: balancecli profile show {name}")
    near = closest(key, raw)
    error.retry_with = (key, near) if near else None
    return error


def _removed(name: str, old: dict[str, Any], new: dict[str, Any], keys: list[str]) -> list[str]:
    """``environment = "sim" (now the default, "live")`` for each key removed."""
    from balancecli import config as cfg

    try:
        effective = cfg.check_profile(name, new).settings
    except Exception:  # noqa: BLE001 - still invalid (said apart): no defaults to show
        effective = {}
    said = []
    for key in keys:
        default = effective.get(key)
        now = f" (now the default, {toml_value(default)})" if default is not None else ""
        said.append(f"{key} = {_value_shown(old, key, old[key])}{now}")
    return said


def _value_shown(raw: dict[str, Any], key: str, value: Any) -> str:
    """A setting's value as TOML; a key that is no setting of the profile's broker shows none:
    it is often a secret or a login put in the file by mistake (``password = "..."``)."""
    from balancecli.brokers import broker_class
    from balancecli.brokers.base import COMMON_SETTINGS

    known = {"broker", *COMMON_SETTINGS}
    try:
        known |= set(broker_class(str(raw.get("broker"))).settings)
    except Exception:  # noqa: BLE001 - an unknown broker: only the common settings are known
        pass
    return toml_value(value) if key in known else "(value not shown)"


# -- remove ---------------------------------------------------------------------------------


@app.command(epilog=EXAMPLES["profile remove"])
def remove(
    ctx: typer.Context, name: ExistingNameArg,
    logout: Annotated[bool, typer.Option(
        "--logout", help="Also delete its keyring item (the stored credentials).")] = False,
    config: ConfigOpt = None, verbose: VerboseOpt = False, debug: DebugOpt = False,
    no_color: NoColorOpt = False,
) -> None:
    """Remove a profile (with --logout: its keyring item too)."""
    from balancecli.cli.boundary import guarded

    rt = runtime(ctx, config=config, verbose=verbose, debug=debug, no_color=no_color)
    with guarded(rt):
        _remove(rt, name, logout=logout)


def _remove(rt: Runtime, name: str, *, logout: bool) -> None:
    from balancecli.cli.commands.auth import forget
    from balancecli.cli.commands.profile_toml import without_table

    path = _path(rt)
    text, data, profiles = _load(path)
    _existing(profiles, name, path)
    deleted = forget(rt, name, then="nothing was removed") if logout else None
    expected = {**data, "profiles": {k: v for k, v in profiles.items() if k != name}}
    _saved(rt, path, without_table(text, name), expected)
    if deleted is None:
        rt.err(f"removed profile {name} from {path}; its keyring item, if any, stays (run: "
               f"balancecli auth logout {name})")
    else:
        rt.err(f"removed profile {name} from {path} and "
               + ("deleted its keyring item" if deleted else "it had no keyring item"))


# -- list and show --------------------------------------------------------------------------


@app.command("list", epilog=EXAMPLES["profile list"])
def list_(
    ctx: typer.Context,
    fmt: Annotated[ListFormat, typer.Option(
        "--format", "-f", metavar="FORMAT", help="Output format: table or json.")] =
    ListFormat.table,
    config: ConfigOpt = None, verbose: VerboseOpt = False, debug: DebugOpt = False,
    no_color: NoColorOpt = False,
) -> None:
    """List the profiles of the config file."""
    import json

    from balancecli import config as cfg
    from balancecli.cli.boundary import guarded
    from balancecli.core.errors import ConfigError

    rt = runtime(ctx, config=config, verbose=verbose, debug=debug, no_color=no_color)
    with guarded(rt):
        path = _path(rt)
        rows = []
        for name, raw in cfg.load_profiles(path).items():
            problem = None
            try:
                cfg.validate_profile(name, raw)
            except ConfigError as exc:
                problem = exc.message
            broker = raw.get("broker") if isinstance(raw, dict) else None
            rows.append({"profile": str(name), "broker": broker, "valid": problem is None,
                         "problem": problem})
        if fmt is ListFormat.json:
            rt.out(json.dumps({"schema": "balancecli.profiles/1", "config": str(path),
                               "profiles": rows}, indent=rt.json_indent) + "\n")
        else:
            from balancecli.output.table import Column, Table

            rt.console.print_tables(Table(
                [Column("profile", "Profile"), Column("broker", "Broker"),
                 Column("status", "Status")],
                [[str(r["profile"]), None if r["broker"] is None else str(r["broker"]),
                  "ok" if r["valid"] else f"invalid: {r['problem']}"] for r in rows]))


@app.command(epilog=EXAMPLES["profile show"])
def show(
    ctx: typer.Context, name: ExistingNameArg,
    fmt: Annotated[ListFormat, typer.Option(
        "--format", "-f", metavar="FORMAT", help="Output format: table or json.")] =
    ListFormat.table,
    config: ConfigOpt = None, verbose: VerboseOpt = False, debug: DebugOpt = False,
    no_color: NoColorOpt = False,
) -> None:
    """Show a profile's settings and defaults (an invalid one too)."""
    from balancecli.cli.boundary import guarded

    rt = runtime(ctx, config=config, verbose=verbose, debug=debug, no_color=no_color)
    with guarded(rt):
        _show(rt, name, fmt)


def _show(rt: Runtime, name: str, fmt: ListFormat) -> None:
    """The settings as written, then (valid) the defaults, or (invalid) the problem: exit 3,
    its next step the command that fixes it."""
    import json

    from balancecli import config as cfg
    from balancecli.core.errors import ConfigError

    path = _path(rt)
    raw = _existing(_load(path)[2], name, path)
    problem: ConfigError | None = None
    effective: dict[str, Any] | None = None
    try:
        effective = cfg.validate_profile(name, raw).settings
    except ConfigError as exc:
        problem = exc
    if fmt is ListFormat.json:
        rt.out(json.dumps({"schema": "balancecli.profile/1", "profile": name,
                           "config": str(path), "settings": raw, "effective": effective,
                           "problem": problem.message if problem else None},
                          indent=rt.json_indent, default=str) + "\n")
    else:
        defaults = "".join(f"# {k} = {toml_value(v)}  (default)\n"
                           for k, v in (effective or {}).items()
                           if k not in raw and v is not None)
        rt.out(f"# {path}\n" + table_text(name, raw) + defaults)
    if problem is not None:
        raise problem


def register(root: typer.Typer) -> None:
    from balancecli.cli.commands.profile_path import path

    app.command("path", epilog=EXAMPLES["profile path"])(path)
    root.add_typer(app, name="profile")
