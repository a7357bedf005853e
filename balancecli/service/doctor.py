"""``balancecli doctor``: per profile, will it work, and if not, why.

The checks, in the order a run depends on them:

- ``config``: the profile validates (broker known, settings typed, URLs https or loopback);
- ``keyring``: reachable, and how long it took (time-boxed by ``secrets``); not opened when the
  environment supplies every required field, as in a real run;
- ``secret FIELD``: each secret field, present or not and where from (the environment variable's
  name, the keyring, the config, the demo) - never the value, not even a part of it;
- ``token expiry``: the stored access/session token's expiry, and whether it can be renewed;
- ``request``: one light request (the account list; LongPort has none, so its one balance call),
  with its latency, through the real broker code and HTTP stack;
- ``clock``: this machine's clock against the broker's ``Date`` header. LongPort signs each
  request with the local timestamp, and every broker's token expiry is judged by the local clock;
- ``export age`` (Quantower): how old the bridge's export is, against the profile's ``max_age``.

A failed check carries the error kind of its failure (``config``, ``auth``, ``unavailable``,
...), so that the exit code is that of the worst failure, as for ``auth status``: a doctor that
says "partial" would hide which failure it was.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from balancecli.brokers.payload import expiry_epoch
from balancecli.core.errors import (
    AuthError,
    BadResponseError,
    BalanceCliError,
    BrokerError,
    ConfigError,
    RateLimitedError,
    StaleError,
    UnavailableError,
)

SCHEMA = "balancecli.doctor/1"
SKEW_LIMIT = 30.0  # seconds: LongPort does not document its window; tokens
#                    are renewed 60 s (TradeStation) to 300 s (LongPort OAuth) before expiry.
EXPIRY_FIELDS = ("ACCESS_TOKEN_EXPIRES_AT", "TOKEN_EXPIRES_AT")
NOT_SECRETS = frozenset({*EXPIRY_FIELDS, "USER_ID"})
ERROR_CLASSES: dict[str, type[BalanceCliError]] = {cls.kind: cls for cls in (
    ConfigError, AuthError, UnavailableError, RateLimitedError, StaleError, BadResponseError,
    BrokerError)}


@dataclass
class Check:
    """One line of the report. ``kind`` (an error kind) is set when the check failed."""

    name: str
    ok: bool
    detail: str
    kind: str | None = None
    next_step: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "ok": self.ok, "detail": self.detail}


@dataclass
class Report:
    profile: str
    broker: str | None
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    def add(self, name: str, ok: bool, detail: str, kind: str | None = None,
            next_step: str | None = None) -> Check:
        check = Check(name, ok, detail, None if ok else (kind or "broker_error"), next_step)
        self.checks.append(check)
        return check

    def as_dict(self) -> dict[str, Any]:
        return {"profile": self.profile, "broker": self.broker, "ok": self.ok,
                "checks": [c.as_dict() for c in self.checks]}


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def span(seconds: float) -> str:
    """A duration for people: 45 s, 12 min, 5 h 3 min, 12.5 days."""
    s = abs(seconds)
    if s < 120:
        return f"{s:.0f} s"
    if s < 7200:
        return f"{round(s / 60)} min"
    if s < 172800:
        minutes = round(s / 60)
        return f"{minutes // 60} h {minutes % 60} min"
    return f"{s / 86400:.1f} days"


# -- one profile -------------------------------------------------------------------------------


@dataclass
class Sources:
    """Where each secret field comes from; values are kept only to judge expiry, never shown."""

    profile: str
    env: Mapping[str, str]
    item: dict[str, Any] = field(default_factory=dict)  # keyring item or demo preset
    item_source: str = "keyring"
    settings: Mapping[str, Any] = field(default_factory=dict)

    def where(self, name: str) -> str | None:
        from balancecli.credentials import env_name

        var = env_name(self.profile, name)
        if self.env.get(var):
            return f"env {var}"
        if self.item.get(name.lower()) not in (None, ""):
            return self.item_source
        if self.settings.get(name.lower()):
            return "config"
        return None

    def value(self, name: str) -> Any:
        from balancecli.credentials import env_name

        return self.env.get(env_name(self.profile, name)) or self.item.get(name.lower())


def diagnose(profile: Any, *, timeout: float = 15.0, preset: Mapping[str, Any] | None = None,
             env: Mapping[str, str] | None = None, log: Callable[[str], None] | None = None,
             warn: Callable[[str], None] = lambda message: None) -> Report:
    """Every check for one validated profile. ``preset``: the demo's secrets (no keyring)."""
    env = os.environ if env is None else env
    report = Report(profile.name, profile.broker)
    cls = profile.broker_class
    required = tuple(cls.secret_fields(profile.settings))
    optional = tuple(cls.optional_secret_fields(profile.settings))
    report.add("config", True, _config_detail(profile))
    sources = Sources(profile.name, {} if preset is not None else env,
                      settings=profile.settings)
    keyring_ok = _check_keyring(report, profile, required, sources, preset)
    _check_secrets(report, profile, required, optional, sources, keyring_ok)
    expiry_before = _token_expiry(sources)
    at = len(report.checks)
    if any(not c.ok for c in report.checks):
        # The request would only repeat the keyring's or the missing field's message.
        report.add("request", False, "not tried: credentials are missing (see above)", "auth",
                   f"run: balancecli auth login {profile.name}")
        responses = _Seen()
    else:
        responses = _check_request(report, profile, timeout, preset, log, warn)
    if required and profile.broker != "quantower":
        # Listed before the request it may have renewed, judged with what it renewed.
        _check_expiry(report, profile, sources, expiry_before, responses.written)
        report.checks.insert(at, report.checks.pop())
    if profile.broker != "quantower":  # the bridge runs on this machine: no clock to compare
        _check_clock(report, responses.dates)
    if profile.broker == "quantower" and responses.as_of is not None:
        _check_export_age(report, profile, responses.as_of)
    return report


def _config_detail(profile: Any) -> str:
    s = profile.settings
    where = s.get("base_url") or s.get("source") or ""
    keys = ("api", "auth") if where else ("environment", "api", "auth", "region")
    parts = [f"{k} {s[k]}" for k in keys if s.get(k)]
    return "valid" + (f" ({', '.join(parts)})" if parts else "") + (f"; {where}" if where else "")


def _check_keyring(report: Report, profile: Any, required: tuple[str, ...], sources: Sources,
                   preset: Mapping[str, Any] | None) -> bool:
    from balancecli.credentials import env_suffices

    if preset is not None:
        sources.item, sources.item_source = {k.lower(): v for k, v in preset.items()}, "demo"
        report.add("keyring", True, "not used: --demo brings its own secrets")
        return True
    if not required:
        report.add("keyring", True, "not needed: this profile has no secrets")
        return True
    try:  # the rule runs use: what works from cron is not reported as failing here
        suffices = env_suffices(profile.name, required, sources.env)
    except ConfigError as exc:
        report.add("keyring", False, exc.message, "config", exc.next_step)
        return False
    if suffices:
        report.add("keyring", True, "not needed: the environment supplies every required field")
        return True
    from balancecli.credentials import Keyring

    keyring = Keyring()
    started = time.monotonic()
    try:
        sources.item = keyring.load(profile.name)
    except AuthError as exc:
        ms = (time.monotonic() - started) * 1000
        report.add("keyring", False, f"{exc.message} (after {ms:.0f} ms)", "auth",
                   exc.next_step or f"run: balancecli auth status {profile.name}")
        return False
    ms = (time.monotonic() - started) * 1000
    item = "an item for this profile" if sources.item else "no item for this profile"
    report.add("keyring", True, f"reachable in {ms:.0f} ms ({keyring.backend_name()}); {item}")
    return True


def _check_secrets(report: Report, profile: Any, required: tuple[str, ...],
                   optional: tuple[str, ...], sources: Sources, keyring_ok: bool) -> None:
    from balancecli.credentials import env_name

    present = {f for f in (*required, *optional) if sources.where(f)}
    login = f"run: balancecli auth login {profile.name}"
    for name in dict.fromkeys((*required, *optional)):
        if name in NOT_SECRETS:
            continue
        where = sources.where(name)
        check = f"secret {name}"
        if where:
            report.add(check, True, f"from {where}")
        elif name not in required:
            report.add(check, True, "not set (optional)")
        elif name == "ACCESS_TOKEN" and "REFRESH_TOKEN" in present:
            report.add(check, True, "not stored yet: the next run gets one with the refresh token")
        elif name == "REFRESH_TOKEN" and "ACCESS_TOKEN" in present:
            report.add(check, True, "not set: the access token works until it expires")
        elif name == "CLIENT_SECRET" and profile.broker == "tradestation":
            report.add(check, True, "not set (a PKCE API key has none)")
        else:
            why = "" if keyring_ok else ", and the keyring is not usable"
            report.add(check, False, f"missing: not in {env_name(profile.name, name)}{why}",
                       "auth", f"{login} (or set {env_name(profile.name, name)})")


def _token_expiry(sources: Sources) -> float | None:
    for name in EXPIRY_FIELDS:
        when = expiry_epoch(sources.value(name))
        if when is not None:
            return when
    return None


def _check_expiry(report: Report, profile: Any, sources: Sources, before: float | None,
                  written: Mapping[str, Any]) -> None:
    renewed = next((expiry_epoch(written[k.lower()]) for k in EXPIRY_FIELDS
                    if expiry_epoch(written.get(k.lower())) is not None), None)
    after = f"; this check got a new one, valid until {iso(renewed)}" if renewed else ""
    token = sources.value("ACCESS_TOKEN") or sources.value("TOKEN")
    can_renew = bool(sources.value("REFRESH_TOKEN") or sources.value("PASSWORD"))
    if before is None:
        what = "no expiry recorded" if token else "no token stored yet"
        report.add("token expiry", True, what + after)
        return
    left = before - time.time()
    if left > 0:
        report.add("token expiry", True, f"valid for {span(left)} (until {iso(before)}){after}")
    elif can_renew or renewed:
        report.add("token expiry", True, f"expired {span(left)} ago ({iso(before)}); renewed at "
                   f"the next request{after}")
    else:
        report.add("token expiry", False, f"expired {span(left)} ago ({iso(before)}) and "
                   "cannot be renewed", "auth", f"run: balancecli auth login {profile.name}")


@dataclass
class _Seen:
    dates: list[tuple[float, str]] = field(default_factory=list)  # (local time, Date header)
    written: dict[str, Any] = field(default_factory=dict)  # tokens renewed during the request
    as_of: str | None = None  # Quantower: the export's GeneratedAt


def _check_request(report: Report, profile: Any, timeout: float,
                   preset: Mapping[str, Any] | None, log: Callable[[str], None] | None,
                   warn: Callable[[str], None]) -> _Seen:
    from balancecli.service.fetch import Options, Relay, make_context, make_secrets

    seen = _Seen()
    if profile.broker == "quantower":
        # Judge the export's age here, against max_age, rather than fail the read on it.
        profile = replace(profile, settings={**profile.settings, "max_age": 0})
    options = Options(command="accounts", timeout=timeout, verbose=log is not None,
                      listener=Relay(warn=warn, log_line=log),
                      presets=None if preset is None else {profile.name: dict(preset)})
    secrets = make_secrets(profile, options)
    ctx = make_context(profile, options, secrets)
    send = ctx.http.request

    def recorded(*args: Any, **kwargs: Any) -> Any:
        sent = time.time()
        response = send(*args, **kwargs)
        date = response.headers.get("Date")
        if date:  # the server wrote it between sending and receiving: take the middle
            seen.dates.append(((sent + time.time()) / 2, date))
        return response

    ctx.http.request = recorded  # type: ignore[method-assign]
    started = time.monotonic()
    try:
        broker = profile.broker_class(ctx)
        accounts = broker.accounts()
        result = None
        if ctx.http.request_count == 0 and profile.broker != "quantower" and accounts:
            result = broker.balances(accounts[:1])  # LongPort: no account list to ask for
        elif profile.broker == "quantower" and accounts:
            result = broker.balances(accounts[:1])  # no request: the export is read once
            seen.as_of = result.rows[0].as_of if result.rows else None
        if result is not None and result.errors:
            raise result.errors[0]
    except BalanceCliError as exc:
        ms = (time.monotonic() - started) * 1000
        status = f" (HTTP {exc.http_status})" if exc.http_status and \
            f"HTTP {exc.http_status}" not in exc.message else ""
        report.add("request", False, f"{exc.message}{status} after {ms:.0f} ms", exc.kind,
                   exc.next_step)
        return seen
    finally:
        ctx.http.close()
        seen.written = secrets.written()
    ms = (time.monotonic() - started) * 1000
    count = ctx.http.request_count
    via = f"{count} HTTP request(s)" if count else "no HTTP request"
    if profile.broker == "quantower" and not str(profile.settings["source"]).startswith("http"):
        via = "read from the export file"
    report.add("request", True, f"{len(accounts)} account(s) in {ms:.0f} ms ({via})")
    return seen


def _check_clock(report: Report, dates: list[tuple[float, str]]) -> None:
    if not dates:
        return
    local, header = dates[-1]
    try:
        server = parsedate_to_datetime(header).timestamp()
    except (TypeError, ValueError):
        report.add("clock", True, f"not measured: the Date header {header[:40]!r} is not a date")
        return
    # Date has a resolution of one second and is truncated: half a second is the best guess.
    skew = server + 0.5 - local
    if abs(skew) <= 2:
        report.add("clock", True, "this machine's clock agrees with the broker's (within 2 s)")
        return
    side = "behind" if skew > 0 else "ahead of"
    detail = f"this machine's clock is {span(skew)} {side} the broker's (Date: {header})"
    if abs(skew) <= SKEW_LIMIT:
        report.add("clock", True, detail)
    else:
        report.add("clock", False, detail + f"; more than {SKEW_LIMIT:.0f} s breaks signed "
                   "requests and token expiry", "auth",
                   "synchronise the clock (e.g. enable NTP: timedatectl set-ntp true)")


def _check_export_age(report: Report, profile: Any, as_of: str) -> None:
    age = time.time() - expiry_epoch(as_of)  # type: ignore[operator]
    max_age = profile.settings.get("max_age")
    detail = f"written {span(age)} ago (GeneratedAt {as_of}"
    if not max_age:
        report.add("export age", True, detail + "; max_age 0: not checked)")
    elif age <= max_age:
        report.add("export age", True, detail + f"; max_age {max_age:g} s)")
    else:
        report.add("export age", False, detail + f", older than max_age {max_age:g} s): the "
                   "BalanceCliBridge Strategy may not be running", "stale",
                   "start BalanceCliBridge in Quantower's Strategies manager")
