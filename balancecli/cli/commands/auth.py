"""``balancecli auth login|status|refresh|logout``: credentials in the OS keyring.

Secrets are read from prompts (``credentials/prompts.py``: Ctrl-D cancels, an empty answer asks
again, only identifiers echo, each field says where the broker shows it) or stdin
(``--with-token``), never from arguments; they are checked with one real request before they
are stored, as one keyring item per profile. Without a usable keyring (a server, WSL, cron),
``--print-env`` / ``--output FILE`` give them as ``export`` lines instead
(``credentials/envfile.py``), and at a terminal ``auth login`` offers that itself.
Only typer is imported at the top: the rest is loaded by the command that runs.
"""

from __future__ import annotations

import contextlib
import enum
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from balancecli.cli import complete
from balancecli.cli.commands.examples import EXAMPLES
from balancecli.cli.commands.options import (
    ConfigOpt,
    DebugOpt,
    NoColorOpt,
    ProfileArg,
    RequestTimeoutOpt,
    VerboseOpt,
    runtime,
    usage,
)
from balancecli.core.clock import MAX_SECONDS
from balancecli.service.credential_status import env_value, fields_of, spec_of

if TYPE_CHECKING:
    from balancecli.cli.runtime import Runtime
    from balancecli.config import Profile
    from balancecli.core.errors import BalanceCliError
    from balancecli.credentials.oauth_client import OAuthClient

app = typer.Typer(help="Credentials in the OS keyring: login, status, refresh, logout.",
                  epilog=EXAMPLES["auth"], no_args_is_help=True)


class StatusFormat(enum.StrEnum):
    table = "table"
    json = "json"


@contextlib.contextmanager
def about(profile: str) -> Iterator[None]:
    """Errors raised inside name the profile (every failure names it); Ctrl-D at a
    prompt cancels: one line, exit 130, nothing stored."""
    from balancecli.core.errors import BalanceCliError
    from balancecli.credentials.prompts import Cancelled

    try:
        yield
    except BalanceCliError as exc:
        exc.bind(profile=profile)
        raise
    except Cancelled:
        typer.echo("cancelled", err=True)
        raise typer.Exit(130) from None


def one_profile(rt: Runtime, name: str) -> Profile:
    """The named profile from the config file (never a demo profile: nothing to store)."""
    if rt.demo:
        usage(rt, "the auth commands work on the profiles of the config file, not --demo")
    profiles, errors, _ = rt.select([name])
    if errors:
        raise errors[0]
    profile: Profile = profiles[0]
    return profile


def options(rt: Runtime, timeout: float = 15.0) -> Any:
    from balancecli.credentials.prompts import ask_secret
    from balancecli.service.fetch import Options, Relay

    return Options(command="accounts", timeout=timeout, verbose=rt.verbose,
                   listener=Relay(warn=rt.warn, log_line=rt.log, ask=ask_secret),
                   interactive=sys.stdin.isatty() and sys.stderr.isatty(), debug=rt.debug)


# -- login ---------------------------------------------------------------------------------


def read_stdin_fields(rt: Runtime, allowed: tuple[str, ...],
                      single: str | None) -> dict[str, Any]:
    """``--with-token``: a JSON object of fields, or one bare token, from stdin. A value no
    secret can have (a line break, a control character; for a token also whitespace or a
    character outside ASCII) is refused here, exit 4, without showing any of it."""
    import json

    from balancecli.core.redact import REDACTOR

    text = sys.stdin.read().strip()
    if not text:
        usage(rt, "--with-token: nothing on stdin (pipe a JSON object of fields, or a token)")
    if not text.startswith("{"):
        REDACTOR.register(text)
        if single is not None:
            _check_given(single, text)
            return {single.lower(): text}
        usage(rt, "--with-token: this profile needs several fields; pipe a JSON object "
                  f"with {', '.join(f.lower() for f in allowed)}")
    try:
        data = json.loads(text)
    except ValueError:
        usage(rt, "--with-token: stdin is not a valid JSON object")
    if not isinstance(data, dict):
        usage(rt, "--with-token: stdin must be a JSON object")
    fields: dict[str, Any] = {}
    for key, value in data.items():
        REDACTOR.register(value, str(key))
        if str(key).upper() not in allowed:
            usage(rt, f"--with-token: unknown field {key!r}; this profile takes "
                      f"{', '.join(f.lower() for f in allowed)}")
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            usage(rt, f"--with-token: field {key!r} must be a string")
        _check_given(str(key), value)
        if value != "":
            fields[str(key).lower()] = value
    return fields


def _check_given(field: str, value: Any) -> None:
    from balancecli.core.errors import AuthError
    from balancecli.credentials.tokens import field_problem

    problem = field_problem(field, value)
    if problem:
        raise AuthError(f"--with-token: the {field.lower()} on stdin has {problem}; nothing "
                        "was sent or stored",
                        next_step="pipe the bare value (a JSON string escape such as \\n "
                                  "is a line break too)")


@app.command(epilog=EXAMPLES["auth login"])
def login(
    ctx: typer.Context,
    profile: ProfileArg,
    with_token: Annotated[bool, typer.Option(
        "--with-token", help="Read the fields from stdin: a JSON object "
        '({"refresh_token": "...", ...}) or one token (never from arguments).')
    ] = False,
    no_browser: Annotated[bool, typer.Option(
        "--no-browser", help="OAuth: do not open a browser (over SSH): open the printed "
        "URL elsewhere.")] = False,
    port: Annotated[int | None, typer.Option(
        "--port", metavar="PORT", help="OAuth: the local callback port, 0 to 65535 (0: any "
        "free one; default: the broker's registered one).")] = None,
    timeout: Annotated[float, typer.Option(
        "--browser-timeout", min=0.1, max=MAX_SECONDS, metavar="SECONDS",
        help="OAuth: how long to wait for the browser login (default 300).",
        show_default=False)] = 300.0,
    print_env: Annotated[bool, typer.Option(
        "--print-env", help="No keyring: print the credentials as export lines on stdout, "
        "for a file only you can read.")] = False,
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", metavar="FILE", help="No keyring: write the export lines to FILE "
        "(mode 0600; its other lines are kept).")] = None,
    request_timeout: RequestTimeoutOpt = 15.0,
    config: ConfigOpt = None, verbose: VerboseOpt = False, debug: DebugOpt = False,
    no_color: NoColorOpt = False,
) -> None:
    """Log in: ask for a profile's credentials, check them, store them."""
    from balancecli.cli.runtime import boundary

    rt = runtime(ctx, config=config, verbose=verbose, debug=debug, no_color=no_color)
    with boundary(rt), about(profile):
        _in_range(port, "--port", 0, 65535)
        _in_range(timeout, "--browser-timeout", 0.1, None, " seconds")
        store = Store(print_env or output is not None, output)
        _login(rt, profile, with_token=with_token, browser=not no_browser, port=port,
               timeout=timeout, request_timeout=request_timeout, store=store)


def _in_range(value: float | None, option: str, low: float, high: float | None,
              unit: str = "") -> None:
    """A usage error, in the words Typer uses for its own ranges."""
    from balancecli.cli.boundary import UsageError

    if value is None:
        return
    if value < low:
        raise UsageError(f"must be at least {low:g}{unit}, got {value:g}", option=option)
    if high is not None and value > high:
        raise UsageError(f"must be at most {high:g}{unit}, got {value:g}", option=option)


@dataclass
class Store:
    """Where ``auth login`` puts what it checked: the keyring, or export lines (``env``) on
    stdout or in the file ``output``."""

    env: bool = False
    output: Path | None = None


def _login(rt: Runtime, name: str, *, with_token: bool, browser: bool, port: int | None,
           timeout: float, request_timeout: float, store: Store) -> None:
    from balancecli.credentials import prompts

    profile = one_profile(rt, name)
    required, optional = fields_of(profile)
    if not required:
        rt.err(f"{name}: this profile needs no credentials ({profile.broker}); nothing to "
               "store")
        _next(rt, name)
        return
    existing = _keyring_item(rt, name, store)  # fails fast (exit 4) before anything is typed
    allowed = tuple(dict.fromkeys(required + optional))
    client = profile.broker_class.oauth_client(profile.settings, lambda field: None)
    base, to_ask, single = _what_to_ask(profile, client, existing, required, allowed)
    given = read_stdin_fields(rt, allowed, single) if with_token else {}
    to_ask = [f for f in to_ask if f.lower() not in given]
    if to_ask:
        if with_token or not sys.stdin.isatty():
            usage(rt, f"{name}: missing {', '.join(to_ask)}; pipe them as a JSON object with "
                      f"--with-token, or set the BALANCECLI_{_env_profile(name)}_* variables "
                      "(secrets are never taken from arguments)")
        given.update(prompts.ask_fields(name, to_ask, spec_of(profile).found_at))
    # A rejected login asks again for this field only, if it was typed here (a password).
    again = profile.broker_class.asked_again
    by_browser = client is not None and not ({"refresh_token", "access_token"} & set(given))
    item, accounts = _check(rt, profile, required, {**base, **given},
                            again=again if again in to_ask else None,
                            browser=dict(open_browser=browser, port=port, timeout=timeout)
                            if by_browser else None, request_timeout=request_timeout)
    checked = f"{name}: logged in ({profile.broker}, {accounts} account(s))"
    if store.env:
        _export(rt, profile, item, store.output, checked)
    else:
        from balancecli.credentials import Keyring

        keyring = Keyring()
        keyring.save(name, item)
        rt.err(f"{checked}; stored {', '.join(sorted(k for k in item if not k.endswith('_at')))}"
               f" in the keyring ({keyring.backend_name()})")
    _next(rt, name)


def _next(rt: Runtime, name: str) -> None:
    rt.err(f"next: balancecli balance -p {name}")


def _keyring_item(rt: Runtime, name: str, store: Store) -> dict[str, Any]:
    """The profile's keyring item (the client credentials a browser login keeps). Without a
    usable keyring: at a terminal, the offer to write export lines to a file instead
    (``store`` is changed then); elsewhere exit 4 with the command that does it."""
    from balancecli.credentials import Keyring, KeyringUnavailable

    if store.env:
        return {}
    try:
        return Keyring().load(name)
    except KeyringUnavailable as exc:
        path = default_env_file(name)
        reason = exc.reason or "it did not answer"
        if not (sys.stdin.isatty() and sys.stderr.isatty()):
            from balancecli.credentials import keyring_help

            raise KeyringUnavailable(
                f"{keyring_help(reason, [name])}; nothing was asked or stored", profile=name,
                next_step=f"run: balancecli auth login {name} --output {_quoted(path)} (export "
                          "lines in a file only you can read)") from None
        from balancecli.credentials import prompts

        rt.err(f"{name}: the OS keyring is not usable ({reason}).")
        answer = prompts.ask(f"Write the credentials to {path} instead, as export lines only "
                             "you can read? [y/N] ", secret=False, optional=True)
        if answer.lower() not in ("y", "yes"):
            raise KeyringUnavailable(
                "the OS keyring is not usable and no file was chosen; nothing was stored",
                profile=name, next_step=f"run: balancecli auth login {name} --output FILE") \
                from None
        store.env, store.output = True, path
        return {}


def default_env_file(name: str) -> Path:
    """Where the export lines of a profile go by default: beside the config file."""
    import platformdirs

    return Path(platformdirs.user_config_dir("balancecli")) / f"{name}.env"


def _quoted(path: Path | str) -> str:
    import shlex

    return shlex.quote(str(path))


def _export(rt: Runtime, profile: Profile, item: dict[str, Any], output: Path | None,
            checked: str) -> None:
    """The checked credentials as export lines: on stdout, or into ``output`` (mode 0600)."""
    from balancecli.credentials import envfile

    spec = spec_of(profile)
    lines = envfile.export_lines(profile.name, spec, item)
    names = ", ".join(line.split("=", 1)[0].removeprefix("export ") for line in lines)
    if output is None:
        rt.console.write("".join(f"{line}\n" for line in lines))  # asked for: not masked
        rt.err(f"{checked}; printed {names} on stdout, nothing stored: keep them in a file "
               "only you can read (chmod 600) and source it before balancecli runs")
        return
    path = output.expanduser()
    envfile.write(path, profile.name, spec, lines)
    rt.err(f"{checked}; wrote {names} to {path} (mode 0600), nothing in the keyring: source "
           f"it before balancecli runs (. {_quoted(path)}); if a run warns that the broker "
           "replaced a token, log in again")


def _what_to_ask(profile: Profile, client: OAuthClient | None, existing: dict[str, Any],
                 required: tuple[str, ...], allowed: tuple[str, ...]
                 ) -> tuple[dict[str, Any], list[str], str | None]:
    """(what the keyring item keeps, the fields to ask for, the field a bare token on stdin
    is). A browser login asks only for the client credentials, kept across logins."""
    name = profile.name
    if client is None:
        missing = [f for f in required if not env_value(name, f)]
        return {}, missing, missing[0] if len(missing) == 1 else None
    base = {k: v for k, v in existing.items() if k in ("client_id", "client_secret")}
    wanted = ("CLIENT_ID", "CLIENT_SECRET") if client.has_client_secret else ("CLIENT_ID",)
    to_ask = [f for f in wanted
              if f in allowed and not env_value(name, f) and f.lower() not in base
              and not (f == "CLIENT_ID" and client.client_id)]
    return base, to_ask, "REFRESH_TOKEN" if "REFRESH_TOKEN" in allowed else None


def _check(rt: Runtime, profile: Profile, required: tuple[str, ...], item: dict[str, Any], *,
           again: str | None, browser: dict[str, Any] | None,
           request_timeout: float) -> tuple[dict[str, Any], int]:
    """The browser login when there is one, then one real request (the account list) with
    the fields, asking ``again`` for a refused one. (The item to store, accounts found.)"""
    from balancecli.core.errors import AuthError
    from balancecli.credentials import Secrets, prompts
    from balancecli.service.fetch import make_context

    name = profile.name
    item_secrets = Secrets(name, required, preset=item, warn=rt.warn)
    opts = options(rt, request_timeout)
    ctx = make_context(profile, opts, item_secrets)
    ctx.prompt = factor = prompts.SecondFactor()  # asked: the password passed, a code failed
    try:
        if browser is not None:
            item.update(_browser_tokens(rt, profile, item_secrets, request_timeout, opts.log,
                                        **browser))
            item_secrets = ctx.secrets = Secrets(name, required, preset=item, warn=rt.warn)
        for attempt in range(1, prompts.TRIES + 1):
            factor.asked = False
            try:
                accounts = profile.broker_class(ctx).accounts()
                break
            except AuthError as exc:
                if not again or factor.asked or exc.http_status != 401 or attempt == prompts.TRIES:
                    raise
                rt.err(f"{name}: {exc.message}; enter the {again} again (try {attempt + 1} "
                       f"of {prompts.TRIES}; Ctrl-D cancels)")
                item[again.lower()] = prompts.ask_field(name, again)
                item_secrets = ctx.secrets = Secrets(name, required, preset=item, warn=rt.warn)
    finally:
        ctx.http.close()
    item.update(item_secrets.written())
    return {k: v for k, v in item.items() if v not in (None, "")}, len(accounts)


def _browser_tokens(rt: Runtime, profile: Profile, secrets: Any, request_timeout: float,
                    log: Any, **login: Any) -> dict[str, Any]:
    """The tokens of a browser login with the profile's OAuth client (``oauth.py``)."""
    from balancecli.credentials import oauth, prompts

    client = profile.broker_class.oauth_client(profile.settings, secrets.get)
    assert client is not None
    http = _single_shot(profile.name, request_timeout, log)
    paste = prompts.read_line if sys.stdin.isatty() else None  # the address the browser shows
    try:
        return oauth.browser_login(client, http, say=rt.err, paste=paste, **login)
    finally:
        http.close()


def _single_shot(profile: str, timeout: float, log: Any) -> Any:
    """An HTTP client without retries: an authorization code or a revocation is one-shot."""
    from balancecli.net.http import HttpClient

    return HttpClient(profile, timeout=timeout, max_retries=0, log=log)


def _env_profile(name: str) -> str:
    import re

    return re.sub(r"[^A-Za-z0-9]", "_", name).upper()


# -- status --------------------------------------------------------------------------------


@app.command(epilog=EXAMPLES["auth status"])
def status(
    ctx: typer.Context,
    profile: Annotated[list[str] | None, typer.Argument(
        metavar="PROFILE", help="Profile names; default: every profile.",
        autocompletion=complete.complete_profile)] = None,
    fmt: Annotated[StatusFormat, typer.Option(
        "--format", "-f", metavar="FORMAT", help="Output format: table or json.")] =
    StatusFormat.table,
    config: ConfigOpt = None, verbose: VerboseOpt = False, debug: DebugOpt = False,
    no_color: NoColorOpt = False,
) -> None:
    """Each profile's fields, where from, token expiry (never a secret)."""
    from balancecli.cli.runtime import boundary
    from balancecli.core.errors import AuthError
    from balancecli.credentials import Keyring
    from balancecli.service.credential_status import profile_status, status_text

    rt = runtime(ctx, config=config, verbose=verbose, debug=debug, no_color=no_color)
    with boundary(rt):
        if rt.demo:
            usage(rt, "the auth commands work on the profiles of the config file, not --demo")
        profiles, errors, _ = rt.select(profile)
        backend = Keyring().backend_name()
        rows = [profile_status(p) for p in profiles]
        for row in rows:
            if not row["ok"]:
                errors.append(AuthError(row.pop("message"), profile=row["profile"],
                                        broker=row["broker"]))
            else:
                row.pop("message")
        if fmt is StatusFormat.json:
            from balancecli.core.exactjson import dumps_exact

            rt.out(dumps_exact({"schema": "balancecli.auth_status/1", "keyring_backend": backend,
                                "profiles": rows}, indent=rt.json_indent) + "\n")
        else:
            rt.out(status_text(rows, backend))
        code = rt.exit_code(errors, anything_succeeded=False)
    raise typer.Exit(code)


# -- refresh and logout --------------------------------------------------------------------


@app.command(epilog=EXAMPLES["auth refresh"])
def refresh(
    ctx: typer.Context, profile: ProfileArg, request_timeout: RequestTimeoutOpt = 15.0,
    config: ConfigOpt = None, verbose: VerboseOpt = False, debug: DebugOpt = False,
    no_color: NoColorOpt = False,
) -> None:
    """Force a token refresh and store the new token(s)."""
    from balancecli.cli.runtime import boundary
    from balancecli.core.errors import AuthError
    from balancecli.service.fetch import make_context, make_secrets

    rt = runtime(ctx, config=config, verbose=verbose, debug=debug, no_color=no_color)
    with boundary(rt), about(profile):
        prof = one_profile(rt, profile)
        from balancecli.brokers.base import Broker

        if prof.broker_class.refresh is Broker.refresh:
            usage(rt, f"{profile}: {prof.broker_class.title} profiles have no token to "
                      "refresh")
        opts = options(rt, request_timeout)
        secrets = make_secrets(prof, opts)
        context = make_context(prof, opts, secrets)
        try:
            prof.broker_class(context).refresh()
        finally:
            context.http.close()
        if secrets.unsaved:
            raise AuthError(
                "refreshed, but the new token could not be stored in the keyring",
                profile=profile, next_step=f"run: balancecli auth status {profile}")
        from balancecli.service.credential_status import expiry_epoch, iso

        expires = expiry_epoch(secrets.get("ACCESS_TOKEN_EXPIRES_AT")
                          or secrets.get("TOKEN_EXPIRES_AT"))
        until = f"; valid until {iso(expires)}" if expires else ""
        rt.err(f"{profile}: token refreshed and stored{until}")


@app.command(epilog=EXAMPLES["auth logout"])
def logout(
    ctx: typer.Context, profile: ProfileArg,
    revoke: Annotated[bool, typer.Option(
        "--revoke", help="Also revoke the refresh token at the broker, where it offers that "
        "(a broker that revokes every token of the API key with it asks first).")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    request_timeout: RequestTimeoutOpt = 15.0,
    config: ConfigOpt = None, verbose: VerboseOpt = False, debug: DebugOpt = False,
    no_color: NoColorOpt = False,
) -> None:
    """Delete a profile's keyring item (--revoke: its refresh token too)."""
    from balancecli.cli.runtime import boundary

    rt = runtime(ctx, config=config, verbose=verbose, debug=debug, no_color=no_color)
    with boundary(rt), about(profile):
        _logout(rt, profile, revoke=revoke, yes=yes, request_timeout=request_timeout)


def _logout(rt: Runtime, name: str, *, revoke: bool, yes: bool, request_timeout: float) -> None:
    """Revoke (if asked), then delete the keyring item. A name that is no profile any more
    (``profile remove`` without ``--logout``) still has its item deleted."""
    known, profile = _configured(rt, name)
    failure = None
    if revoke:
        if profile is None:
            usage(rt, f"{name}: no such profile in the config file, so its broker (and where "
                      "to revoke) is unknown; run without --revoke to delete its keyring item")
        failure = _revoke(rt, profile, yes=yes, request_timeout=request_timeout)
    deleted = forget(rt, name, then="nothing was deleted")
    if not deleted and not known:
        raise _unknown(rt, name)
    rt.err(f"{name}: keyring item {'deleted' if deleted else 'not found (nothing to delete)'}")
    if failure is not None:
        if hasattr(failure, "message"):
            failure.message = f"the keyring item was deleted, but {failure.message}"
        raise failure


def _configured(rt: Runtime, name: str) -> tuple[bool, Profile | None]:
    """(whether the config file names the profile, the profile when it is valid). A config
    file that is missing or unreadable names none: an item can be deleted without it."""
    from balancecli import config as cfg
    from balancecli.core.errors import ConfigError

    if rt.demo:
        usage(rt, "the auth commands work on the profiles of the config file, not --demo")
    try:
        raw = cfg.load_profiles(cfg.config_path(rt.config))
    except ConfigError:
        return False, None
    if name not in raw:
        return False, None
    try:
        return True, cfg.validate_profile(name, raw[name])
    except ConfigError:
        return True, None


def _unknown(rt: Runtime, name: str) -> BalanceCliError:
    """Neither a profile nor a keyring item of that name: the close profile name, if any."""
    from balancecli import config as cfg
    from balancecli.core.errors import ConfigError

    path = cfg.config_path(rt.config)
    try:
        known = list(cfg.load_profiles(path))
    except ConfigError:
        known = []
    error = cfg.unknown_profile(name, known, path)
    error.message = error.message.replace("unknown profile", "no profile and no keyring item "
                                          "of that name", 1)
    return error


def _revoke(rt: Runtime, profile: Profile, *, yes: bool,
            request_timeout: float) -> Exception | None:
    """Revoke the refresh token at the broker (confirmed first where it revokes them all);
    the failure, if any, to report once the item is deleted."""
    from balancecli.credentials import Keyring, Secrets, oauth

    name = profile.name
    required, _ = fields_of(profile)
    secrets = Secrets(name, required, keyring=Keyring())
    client = profile.broker_class.oauth_client(profile.settings, secrets.get)
    if client is None or not client.revoke_url:
        usage(rt, f"{name}: {profile.broker} profiles have no token revocation; "
                  "run without --revoke")
    token = secrets.get("REFRESH_TOKEN")
    if not token:
        secrets.require("REFRESH_TOKEN")  # the keyring error, or "missing"
    if client.revoke_warning and not yes:
        rt.warn(client.revoke_warning)
        if not (sys.stdin.isatty() and sys.stderr.isatty()):
            usage(rt, "confirm with --yes to revoke (no terminal to ask on)")
        if not typer.confirm("Revoke them all?", default=False, err=True):
            rt.err("not revoked; nothing was deleted")
            raise typer.Exit(1)
    http = _single_shot(name, request_timeout, rt.log if rt.verbose else None)
    try:
        oauth.revoke(client, http, str(token))
        rt.err(f"{name}: refresh token revoked at {profile.broker}")
    except Exception as exc:  # noqa: BLE001 - reported once the item is deleted
        return exc
    finally:
        http.close()
    return None


def forget(rt: Runtime, name: str, *, then: str) -> bool:
    """Delete the profile's keyring item (True) or find none (False), and warn when its
    variables are still in the environment. An unusable keyring: exit 4, ``then`` said."""
    import os

    from balancecli.core.errors import AuthError
    from balancecli.credentials import Keyring

    try:
        deleted = Keyring().delete(name)
    except AuthError as exc:
        exc.message = f"{exc.message}; {then}"
        raise
    prefix = f"BALANCECLI_{_env_profile(name)}_"
    if any(key.startswith(prefix) for key in os.environ):
        rt.warn(f"{prefix}* variables are still set in the environment and still used")
    return deleted


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="auth")
