"""``balancecli profile add|list|remove|show``: edit the TOML config without an editor.

Edits keep the rest of the file as it was (other profiles, comments, order): a new profile is
appended as a ``[profiles.NAME]`` table and a removed one is cut out; the result is parsed again
and must hold exactly the expected profiles, else the whole file is rewritten from its data.
The file is written atomically (temporary file, fsync, rename) with mode 0600. Secrets never go
in it: they belong to ``balancecli auth login``.
"""

from __future__ import annotations

import enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from balancecli import brokers
from balancecli.cli import complete
from balancecli.cli.commands.examples import EXAMPLES
from balancecli.cli.commands.options import ConfigOpt, DebugOpt, NoColorOpt, VerboseOpt, runtime

if TYPE_CHECKING:
    from balancecli.cli.runtime import Runtime

app = typer.Typer(help="Add, list, show and remove profiles in the config file.",
                  epilog=EXAMPLES["profile"],
                  no_args_is_help=True)

NameArg = Annotated[str, typer.Argument(metavar="NAME", help="Profile name.")]
ExistingNameArg = Annotated[str, typer.Argument(
    metavar="NAME", help="Profile name.", autocompletion=complete.complete_profile_arg)]


class ListFormat(enum.StrEnum):
    table = "table"
    json = "json"


# -- TOML writing (tomllib reads; the standard library has no writer) -----------------------


def toml_key(key: str) -> str:
    import json
    import re

    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else json.dumps(key, ensure_ascii=False)


def toml_value(value: Any) -> str:
    import json
    import math

    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{value!r} cannot be written to the config")
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # JSON escapes are valid TOML escapes
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{toml_key(str(k))} = {toml_value(v)}"
                               for k, v in value.items()) + "}"
    if hasattr(value, "isoformat"):
        return str(value.isoformat())
    raise ValueError(f"{type(value).__name__} cannot be written to the config")


def dump(data: dict[str, Any], prefix: tuple[str, ...] = ()) -> str:
    """A TOML document from plain data: scalars first, then one [table] per dict."""
    lines = [f"{toml_key(k)} = {toml_value(v)}" for k, v in data.items()
             if not isinstance(v, dict)]
    out = "\n".join(lines) + ("\n" if lines else "")
    for key, value in data.items():
        if isinstance(value, dict):
            path = (*prefix, key)
            body = dump(value, path)
            has_scalars = any(not isinstance(v, dict) for v in value.values())
            if has_scalars or not value:
                header = "[" + ".".join(toml_key(p) for p in path) + "]\n"
                out += ("\n" if out else "") + header + body
            else:
                out += body
    return out


def table_text(name: str, settings: dict[str, Any]) -> str:
    return f"[profiles.{toml_key(name)}]\n" + "".join(
        f"{toml_key(k)} = {toml_value(v)}\n" for k, v in settings.items())


def _header_of(line: str) -> list[str] | None:
    """The dotted key of a ``[table]`` header line, or None."""
    import re
    import tomllib

    match = re.match(r"\s*\[(?!\[)(.*)\]\s*(#.*)?$", line)
    if not match:
        return None
    try:
        doc = tomllib.loads(f"[{match.group(1)}]\n")
    except tomllib.TOMLDecodeError:
        return None
    keys: list[str] = []
    while isinstance(doc, dict) and len(doc) == 1:
        key = next(iter(doc))
        keys.append(key)
        doc = doc[key]
    return keys


def without_table(text: str, name: str) -> str:
    """``text`` without ``[profiles.NAME]`` (and its sub-tables and the comment right above)."""
    lines = text.splitlines(keepends=True)
    out: list[str] = []
    skipped: list[str] = []
    skipping = False
    for line in lines:
        header = _header_of(line)
        if header is not None:
            if skipping:  # the comment right above the next table belongs to that table
                keep = len(skipped)
                while keep and skipped[keep - 1].lstrip().startswith("#"):
                    keep -= 1
                out.extend(skipped[keep:])
                skipped = []
            skipping = header[:2] == ["profiles", name]
            if skipping:
                while out and out[-1].lstrip().startswith("#"):
                    out.pop()  # the comment that introduces the removed table
        if skipping:
            skipped.append(line)
        else:
            out.append(line)
    return "".join(out)


def write_atomic(path: Path, text: str) -> None:
    import os
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


def save(path: Path, old_text: str, new_text: str, expected: dict[str, Any]) -> None:
    """Write ``new_text`` if it parses to ``expected``; else the data itself, re-serialized."""
    import tomllib

    try:
        ok = tomllib.loads(new_text) == expected
    except tomllib.TOMLDecodeError:
        ok = False
    write_atomic(path, new_text if ok else dump(expected))


def _load(path: Path, *, missing_ok: bool = False) -> tuple[str, dict[str, Any]]:
    from balancecli import config

    if missing_ok and not path.exists():
        return "", {}
    data = config.read_toml(path)
    return path.read_text(encoding="utf-8"), data


# -- --set parsing --------------------------------------------------------------------------


def parse_sets(name: str, broker: str, pairs: list[str]) -> dict[str, Any]:
    """``key=value`` pairs typed by the broker's declared setting types."""
    import tomllib

    from balancecli.brokers import broker_class
    from balancecli.brokers.base import COMMON_SETTINGS
    from balancecli.core.errors import ConfigError

    cls = broker_class(broker, profile=name)
    spec = {**COMMON_SETTINGS, **cls.settings}
    secret = {f.lower() for f in cls.secret_fields({}) + cls.optional_secret_fields({})}
    secret |= {f.lower() for f in ("ACCESS_TOKEN", "REFRESH_TOKEN", "CLIENT_SECRET",
                                    "APP_SECRET", "PASSWORD", "TOKEN", "APP_KEY")}
    result: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"--set {key!r}: expected key=value", profile=name)
        if key.lower() in secret and key not in spec:
            raise ConfigError(
                f"{key} is a secret: secrets never go in the config file", profile=name,
                next_step=f"run: balancecli auth login {name}")
        setting = spec.get(key)
        kinds = () if setting is None else (
            setting.type if isinstance(setting.type, tuple) else (setting.type,))
        value: Any = raw
        try:
            if list in kinds:
                value = (tomllib.loads(f"v = {raw}")["v"] if raw.strip().startswith("[")
                         else [p.strip() for p in raw.split(",") if p.strip()])
            elif bool in kinds:
                value = {"true": True, "false": False}[raw.strip().lower()]
            elif int in kinds and float in kinds:
                value = float(raw) if any(c in raw for c in ".eE") else int(raw)
            elif int in kinds:
                value = int(raw)
            elif float in kinds:
                value = float(raw)
        except (ValueError, KeyError, tomllib.TOMLDecodeError):
            wanted = " or ".join(k.__name__ for k in kinds)
            raise ConfigError(f"setting {key!r} must be {wanted}, got {raw!r}",
                              profile=name) from None
        result[key] = value
    return result


# -- commands -------------------------------------------------------------------------------


def _path(rt: Runtime) -> Path:
    from balancecli import config

    if rt.demo:
        from balancecli.cli.boundary import UsageError

        raise UsageError("the profile commands edit the config file; they do not apply to "
                         "--demo")
    return config.config_path(rt.config)


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
                                          "name.")] = False,
    config: ConfigOpt = None, verbose: VerboseOpt = False, debug: DebugOpt = False,
    no_color: NoColorOpt = False,
) -> None:
    """Add a profile (validated before it is written)."""
    from balancecli import config as cfg
    from balancecli.cli.boundary import guarded
    from balancecli.core.errors import ConfigError

    rt = runtime(ctx, config=config, verbose=verbose, debug=debug, no_color=no_color)
    with guarded(rt):
        path = _path(rt)
        raw = {"broker": broker, **parse_sets(name, broker, set_ or [])}
        cfg.validate_profile(name, raw)
        text, data = _load(path, missing_ok=True)
        profiles = data.get("profiles", {})
        if not isinstance(profiles, dict):
            raise ConfigError(f"'profiles' in {path} must be a table")
        if name in profiles and not replace:
            raise ConfigError(f"a profile named {name!r} exists in {path}", profile=name,
                              next_step="pass --replace, or choose another name")
        base = without_table(text, name) if name in profiles else text
        if base and not base.endswith("\n"):
            base += "\n"
        new_text = base + ("\n" if base.strip() else "") + table_text(name, raw)
        expected = {**data, "profiles": {**profiles, name: raw}}
        save(path, text, new_text, expected)
        rt.err(f"{'replaced' if name in profiles else 'added'} profile {name} in {path}")
        if cfg.validate_profile(name, raw).broker_class.secret_fields(raw):
            rt.err(f"next: balancecli auth login {name}")


@app.command(epilog=EXAMPLES["profile remove"])
def remove(
    ctx: typer.Context, name: ExistingNameArg,
    config: ConfigOpt = None, verbose: VerboseOpt = False, debug: DebugOpt = False,
    no_color: NoColorOpt = False,
) -> None:
    """Remove a profile from the config file (its keyring item stays: auth logout)."""
    from balancecli.cli.boundary import guarded
    from balancecli.core.errors import ConfigError

    rt = runtime(ctx, config=config, verbose=verbose, debug=debug, no_color=no_color)
    with guarded(rt):
        path = _path(rt)
        text, data = _load(path)
        profiles = data.get("profiles", {})
        if not isinstance(profiles, dict) or name not in profiles:
            raise ConfigError(f"no profile named {name!r} in {path}", profile=name,
                              next_step="run: balancecli profile list")
        expected = {**data, "profiles": {k: v for k, v in profiles.items() if k != name}}
        save(path, text, without_table(text, name), expected)
        rt.err(f"removed profile {name} from {path}; its credentials stay in the keyring "
               f"(run: balancecli auth logout {name})")


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
    """Show one profile's settings (as written, and with defaults)."""
    import json

    from balancecli import config as cfg
    from balancecli.cli.boundary import guarded
    from balancecli.core.errors import ConfigError

    rt = runtime(ctx, config=config, verbose=verbose, debug=debug, no_color=no_color)
    with guarded(rt):
        path = _path(rt)
        profiles = cfg.load_profiles(path)
        if name not in profiles:
            raise ConfigError(f"no profile named {name!r} in {path}", profile=name,
                              next_step="run: balancecli profile list")
        raw = profiles[name]
        effective = cfg.validate_profile(name, raw).settings
        if fmt is ListFormat.json:
            rt.out(json.dumps({"schema": "balancecli.profile/1", "profile": name,
                               "config": str(path), "settings": raw,
                               "effective": effective}, indent=rt.json_indent,
                              default=str) + "\n")
        else:
            defaults = "".join(f"# {k} = {toml_value(v)}  (default)\n"
                               for k, v in effective.items() if k not in raw and v is not None)
            rt.out(f"# {path}\n" + table_text(name, raw) + defaults)


def register(root: typer.Typer) -> None:
    from balancecli.cli.commands.profile_path import path

    app.command("path", epilog=EXAMPLES["profile path"])(path)
    root.add_typer(app, name="profile")
