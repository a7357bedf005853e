"""``balancecli doctor``: per profile, will it work, and if not, why.

The checks, in the order a run depends on them:

- ``config``: the profile validates (broker known, settings typed, URLs https or loopback);
- ``keyring``: reachable, and how long it took (time-boxed by ``secrets``); not opened when the
  environment supplies every required field, as in a run (``credentials.env_suffices``);
- ``secret FIELD``: each secret field the broker declares, present or not and where from (the
  environment variable's name, the keyring, the config, the demo), and why a missing one is
  fine when it is (``core.secretfields``, the rule ``auth status`` applies) - never the value,
  not even a part of it;
- ``token expiry``: the stored token's expiry, and whether it can be renewed (brokers that
  declare an expiry field);
- ``request``: the broker's light request (``Broker.probe``: the account list, or one balance
  call for an API without one), with its latency, through the real broker code and HTTP stack;
- ``clock``: this machine's clock against the broker's ``Date`` header (brokers with a clock of
  their own, ``Broker.remote_clock``). Signed requests carry the local timestamp, and every
  broker's token expiry is judged by the local clock;
- then what the broker adds about its own data (``Probe.findings``: the age of an export).

Nothing here names a broker: each check asks the broker class.

A failed check carries the error kind of its failure (``config``, ``auth``, ``unavailable``,
...), so that the exit code is that of the worst failure, as for ``auth status``: a doctor that
says "partial" would hide which failure it was.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from balancecli.brokers.base import Finding
from balancecli.brokers.payload import expiry_epoch
from balancecli.core.clock import span
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
from balancecli.core.secretfields import SecretFields, renewable, unmet

SCHEMA = "balancecli.doctor/1"
SKEW_LIMIT = 30.0  # seconds: LongPort does not document its window; tokens
#                    are renewed 60 s (TradeStation) to 300 s (LongPort OAuth) before expiry.
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
    spec: SecretFields = cls.secret_spec(profile.settings)
    report.add("config", True, _config_detail(profile))
    sources = Sources(profile.name, {} if preset is not None else env,
                      settings=profile.settings)
    keyring_ok = _check_keyring(report, profile, spec, sources, preset)
    expiry_before = _token_expiry(sources, spec)
    _check_secrets(report, profile, spec, sources, keyring_ok,
                   None if expiry_before is None else expiry_before <= time.time())
    at = len(report.checks)
    if any(not c.ok for c in report.checks):
        # The request would only repeat the keyring's or the missing field's message.
        report.add("request", False, "not tried: credentials are missing (see above)", "auth",
                   f"run: balancecli auth login {profile.name}")
        responses = _Seen()
    else:
        responses = _check_request(report, profile, timeout, preset, log, warn)
    if spec.expiry:
        # Listed before the request it may have renewed, judged with what it renewed.
        _check_expiry(report, profile, spec, sources, expiry_before, responses.written)
        report.checks.insert(at, report.checks.pop())
    if cls.remote_clock:
        _check_clock(report, responses.dates)
    for found in responses.findings:
        report.add(found.name, found.ok, found.detail, found.kind, found.next_step)
    return report


def _config_detail(profile: Any) -> str:
    """``valid (api v3, auth oauth); https://...``: what the broker declares worth showing."""
    s = profile.settings
    declared = profile.broker_class.settings
    where = next((str(s[k]) for k, d in declared.items() if d.where and s.get(k)), "")
    parts = [f"{k} {s[k]}" for k, d in declared.items()
             if d.shown and s.get(k) and not (d.overridden_by and s.get(d.overridden_by))]
    return "valid" + (f" ({', '.join(parts)})" if parts else "") + (f"; {where}" if where else "")


def _check_keyring(report: Report, profile: Any, spec: SecretFields, sources: Sources,
                   preset: Mapping[str, Any] | None) -> bool:
    from balancecli.credentials import env_suffices

    if preset is not None:
        sources.item, sources.item_source = {k.lower(): v for k, v in preset.items()}, "demo"
        report.add("keyring", True, "not used: --demo brings its own secrets")
        return True
    if not spec.required:
        report.add("keyring", True, "not needed: this profile has no secrets")
        return True
    try:  # the rule runs use: what works from cron is not reported as failing here
        suffices = env_suffices(profile.name, spec, sources.env)
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


def _check_secrets(report: Report, profile: Any, spec: SecretFields, sources: Sources,
                   keyring_ok: bool, expired: bool | None) -> None:
    """One line per field: where it comes from, or why its absence is fine (the one rule,
    ``core.secretfields.unmet``), or that it is missing."""
    from balancecli.credentials import env_name

    present = [f for f in spec.fields if sources.where(f)]
    excuses = {u.field: u.excuse for u in unmet(spec, present, expired=expired)}
    login = f"run: balancecli auth login {profile.name}"
    for name in spec.fields:
        if name in spec.not_secret:
            continue
        where = sources.where(name)
        check = f"secret {name}"
        if where:
            report.add(check, True, f"from {where}")
        elif name not in spec.required:
            report.add(check, True, "not set (optional)")
        elif excuses.get(name):
            report.add(check, True, str(excuses[name]))
        else:
            why = "" if keyring_ok else ", and the keyring is not usable"
            report.add(check, False, f"missing: not in {env_name(profile.name, name)}{why}",
                       "auth", f"{login} (or set {env_name(profile.name, name)})")


def _token_expiry(sources: Sources, spec: SecretFields) -> float | None:
    return expiry_epoch(sources.value(spec.expiry)) if spec.expiry else None


def _check_expiry(report: Report, profile: Any, spec: SecretFields, sources: Sources,
                  before: float | None, written: Mapping[str, Any]) -> None:
    renewed = expiry_epoch(written.get(str(spec.expiry).lower()))
    after = f"; this check got a new one, valid until {iso(renewed)}" if renewed else ""
    token = sources.value(spec.token) if spec.token else None
    if before is None:
        what = "no expiry recorded" if token else "no token stored yet"
        report.add("token expiry", True, what + after)
        return
    left = before - time.time()
    if left > 0:
        report.add("token expiry", True, f"valid for {span(left)} (until {iso(before)}){after}")
    elif renewable(spec, [f for f in spec.renewed_by if sources.value(f)]) or renewed:
        report.add("token expiry", True, f"expired {span(left)} ago ({iso(before)}); renewed at "
                   f"the next request{after}")
    else:
        report.add("token expiry", False, f"expired {span(left)} ago ({iso(before)}) and "
                   "cannot be renewed", "auth", f"run: balancecli auth login {profile.name}")


@dataclass
class _Seen:
    dates: list[tuple[float, str]] = field(default_factory=list)  # (local time, Date header)
    written: dict[str, Any] = field(default_factory=dict)  # tokens renewed during the request
    findings: list[Finding] = field(default_factory=list)  # the broker's own checks


def _check_request(report: Report, profile: Any, timeout: float,
                   preset: Mapping[str, Any] | None, log: Callable[[str], None] | None,
                   warn: Callable[[str], None]) -> _Seen:
    from balancecli.service.fetch import Options, Relay, make_context, make_secrets

    seen = _Seen()
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
        probe = profile.broker_class(ctx).probe()
        if probe.errors:
            raise probe.errors[0]
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
    via = probe.via or (f"{count} HTTP request(s)" if count else "no HTTP request")
    report.add("request", True, f"{len(probe.accounts)} account(s) in {ms:.0f} ms ({via})")
    seen.findings = probe.findings
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
