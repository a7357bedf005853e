"""Secrets: resolved field by field from the environment, then the OS keyring.

- ``BALANCECLI_<PROFILE>_<FIELD>`` wins (profile upper-cased, non-alphanumerics -> ``_``).
- Otherwise the keyring item: service ``balancecli``, username = profile name, password = one
  JSON object of the fields in lower case, plus cached access tokens and their expiry.
- When the environment supplies every field a profile needs, the keyring is not opened (not
  even imported): cached tokens and refreshed ones live for this run only.
- Otherwise the keyring is touched only when a needed field is not in the environment, and
  every keyring call is time-boxed: a locked collection or a missing D-Bus fails fast (exit 4)
  with the options spelled out instead of hanging a cron job.
- Refreshed tokens go to the keyring, under the per-profile lock (``lock.py``). One that cannot
  be stored is used for this run without a word, unless losing it breaks the next run (a
  rotated refresh token): that warns, once per profile and run, also under ``-q``.
- Every secret value seen is registered with ``REDACTOR``, which the logger and the error
  boundary apply to every line they print.

- Every value is checked where it enters: a token (access, refresh or session token) must be
  visible ASCII, any other secret free of line breaks and control characters, or it is refused
  without being shown (``tokens.field_problem``): exit 3 from the environment, exit 4 from the
  keyring, ``auth login --with-token`` and token endpoints.

Modules: ``environment`` (variable names, checked values), ``keyring_access`` (the keyring),
``lock`` (the per-profile lock), ``tokens`` (the token lifecycle, token answers, the checks),
``expiry`` (expiry times), ``oauth`` (browser login) and ``oauth_client`` (what a broker
declares for it), ``prompts``. Import the public names of the first three from here.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator, Mapping
from typing import Any

from balancecli.core.errors import AuthError
from balancecli.core.redact import NOT_SECRET, REDACTOR, Redactor, mask
from balancecli.core.secretfields import SecretFields, as_fields, settled
from balancecli.credentials.environment import (
    ENV_PREFIX,
    check_environment,
    env_name,
    secret_from_env,
)
from balancecli.credentials.keyring_access import (
    _BROKEN,
    SERVICE,
    Keyring,
    KeyringUnavailable,
    keyring_help,
    listed,
    merge_keyring_errors,
)
from balancecli.credentials.lock import lock_dir, profile_lock
from balancecli.credentials.tokens import field_problem, spoken

__all__ = [
    "ENV_PREFIX", "NOT_SECRET", "REDACTOR", "SERVICE", "_BROKEN", "_REPLACED", "Keyring",
    "KeyringUnavailable", "Redactor", "Secrets", "Urgent", "check_environment", "env_name",
    "env_suffices", "keyring_help", "listed", "lock_dir", "mask", "merge_keyring_errors",
    "profile_lock", "unset_fields",
]


def env_suffices(profile: str, required: SecretFields | tuple[str, ...],
                 env: Mapping[str, str] | None = None) -> bool:
    """True when the environment supplies every field the profile needs, so that the keyring
    is not opened. ``required``: the broker's declaration (``Broker.secret_spec``), or a bare
    tuple of required fields. The rule is ``core.secretfields.unmet``, the one that ``auth status``
    and ``doctor`` apply too; here only excuses that hold whatever the keyring holds count (an
    access token beside a refresh token: the first request refreshes it).
    ConfigError for a variable no secret can hold (a line break)."""
    source = os.environ if env is None else env
    fields = as_fields(required)
    asked = dict.fromkeys((*fields.required, *(s.by for s in fields.stand_ins.values())))
    return settled(fields, [f for f in asked if secret_from_env(source, profile, f)])


def unset_fields(fields: SecretFields, present: list[str], needed: str | None = None,
                 ) -> list[str]:
    """The fields the environment must add to make the profile complete (an access token is
    left out when the refresh token that replaces it is listed), and ``needed``."""
    from balancecli.core.secretfields import unmet

    wanted = [u.field for u in unmet(fields, present) if u.excuse is None]
    wanted = [f for f in wanted if not (
        f in fields.stand_ins and fields.stand_ins[f].by in wanted
        and not fields.stand_ins[f].until_expiry)]
    if needed and needed.upper() not in present and needed.upper() not in wanted:
        wanted.append(needed.upper())
    return wanted


class Urgent(str):
    """A warning that ``-q`` does not silence: without action the next run fails. ``key``
    names what it is about, so that a run says it once (``Runtime.warn``)."""

    key: str = ""


# (profile, field, spent value) -> what replaced it, for this process only: a later fetch in
# the same run (snapshot's second pass, --watch) must not present a spent token again when the
# replacement could not be stored or an environment variable shadows it.
_REPLACED: dict[tuple[str, str, str], dict[str, Any]] = {}
_REPLACED_LOCK = threading.Lock()


class Secrets:
    """The secrets of one profile: env first, keyring second, writes to the keyring."""

    def __init__(
        self,
        profile: str,
        required: SecretFields | tuple[str, ...] = (),
        *,
        env: Mapping[str, str] | None = None,
        keyring: Keyring | None = None,
        preset: Mapping[str, Any] | None = None,
        warn: Any = None,
    ) -> None:
        self.profile = profile
        self.fields = as_fields(required)  # the broker's declaration (Broker.secret_spec)
        self.required = self.fields.required
        self._env = os.environ if env is None else env
        self._item: dict[str, Any] | None = None
        self._overlay: dict[str, Any] = {}
        self._preset = {k.lower(): v for k, v in (preset or {}).items()}
        self._warn = warn or (lambda message: None)
        self._lock = threading.RLock()
        self.keyring_error: AuthError | None = None
        self.unsaved: set[str] = set()  # fields a failed write-back kept for this run only
        self._warned = False
        for key, value in self._preset.items():
            REDACTOR.register(value, key)
        for field in self.required:  # checked now: a value with a line break is exit 3
            self._from_env(field)
        self.env_complete = keyring is not None and env_suffices(profile, self.fields,
                                                                 self._env)
        # Reads use the keyring only when the environment is not enough; a replaced lasting
        # credential is still offered to it (``save``), as the only way to keep it.
        self._keyring = None if self.env_complete else keyring
        self._store = keyring
        for field in ("refresh_token", "access_token"):
            spent = self._from_env(field) if self._lasting(field) else None
            with _REPLACED_LOCK:
                while spent and (self.profile, field, spent) in _REPLACED:
                    self._overlay.update(_REPLACED[(self.profile, field, spent)])
                    spent = self._overlay.get(field)

    def _from_env(self, field: str) -> str | None:
        value = secret_from_env(self._env, self.profile, field)
        if value:
            REDACTOR.register(value, field)
        return value

    def _keyring_item(self) -> dict[str, Any]:
        with self._lock:
            if self._item is None:
                if self._keyring is None:
                    self._item = dict(self._preset)
                else:
                    self._item = self._keyring.load(self.profile)
            return self._item

    def source(self, field: str) -> str | None:
        """'env', 'keyring' or None: where a field would come from (never the value)."""
        if self._from_env(field):
            return "env"
        try:
            return "keyring" if self._keyring_item().get(field.lower()) not in (None, "") else None
        except AuthError:
            return None

    def get(self, field: str) -> Any:
        """A field's value, or None. An unusable keyring reads as "missing" here and is
        reported by ``require`` (so an env-only run never fails on a cached-token lookup)."""
        field = field.upper()
        with self._lock:
            if field.lower() in self._overlay:
                return self._overlay[field.lower()]
        value = self._from_env(field)
        if value:
            return value
        try:
            value = self._keyring_item().get(field.lower())
        except AuthError as exc:
            self.keyring_error = exc
            return None
        if value in (None, ""):
            return None
        problem = field_problem(field, value) if self._keyring is not None else None
        if problem:  # refused where it enters: it would go into a header (never shown)
            raise AuthError(f"the keyring item holds {spoken(field)} with {problem}",
                            profile=self.profile,
                            next_step=f"run: balancecli auth login {self.profile}")
        return value

    def require(self, field: str) -> str:
        value = self.get(field)
        if not value:
            if self.keyring_error is not None:
                raise self._not_set(field, self.keyring_error)
            raise AuthError(
                f"missing credential {field.upper()}",
                profile=self.profile,
                next_step=(
                    f"run: balancecli auth login {self.profile} "
                    f"(or set {env_name(self.profile, field)})"
                ),
            )
        return str(value)

    def _not_set(self, field: str, error: AuthError) -> AuthError:
        """The keyring is unusable and the environment lacks fields: the variables first
        (what a cron job's environment file is missing), then the keyring's options."""
        present = [f for f in self.fields.fields if self._from_env(f)]
        names = [env_name(self.profile, f) for f in unset_fields(self.fields, present, field)]
        found = KeyringUnavailable(
            f"{listed(names)} {'is' if len(names) == 1 else 'are'} not set, and "
            f"{error.message}", profile=self.profile, next_step=error.next_step)
        found.reason = getattr(error, "reason", "")
        found.unset = names
        return found

    def reload(self) -> None:
        """Forget the cached keyring item (another process may have refreshed a token)."""
        with self._lock:
            if self._keyring is not None:
                self._item = None
            self._overlay.clear()

    def written(self) -> dict[str, Any]:
        """The values saved during this run (refreshed tokens), lower-case names."""
        with self._lock:
            return dict(self._overlay)

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the profile lock and re-read the keyring: for refreshes that spend a token.
        Without a keyring there is nothing shared to re-read: the thread lock suffices."""
        if self._keyring is None:
            with self._lock:
                yield
            return
        with profile_lock(self.profile):
            self.reload()
            yield

    def save(self, **fields: Any) -> bool:
        """Use new values at once and write them to the keyring; False when they could not be
        stored (kept for this run; a warning only when that breaks the next run)."""
        values = {k.lower(): v for k, v in fields.items()}
        for key, value in values.items():
            REDACTOR.register(value, key)
        with self._lock:
            previous = {key: self.get(key) for key in values if self._lasting(key)}
            self._overlay.update(values)
            if self._store is None:  # demo and tests: the preset is the store
                if self._item is not None:
                    self._item.update(values)
                return True
        replaced = self._replaced(values, previous)
        with _REPLACED_LOCK:
            for key in replaced:
                _REPLACED[(self.profile, key, str(previous[key]))] = dict(values)
        store = self._keyring or (self._store if replaced else None)
        reason = "the environment supplies this profile's credentials"
        if store is not None:
            try:
                current = store.load(self.profile)
                current.update({k: v for k, v in values.items() if v is not None})
                for key, value in values.items():
                    if value is None:
                        current.pop(key, None)
                store.save(self.profile, current)
                with self._lock:
                    if self._keyring is not None:
                        self._item = current
                    self.unsaved -= set(values)
                shadowed = [env_name(self.profile, k) for k in replaced if self._from_env(k)]
                if shadowed:  # the environment wins over the keyring: the next run fails
                    self._warn_once(
                        f"{self.profile}: the broker replaced the {self._names(replaced)}; the "
                        f"new one is stored in the keyring, but {', '.join(shadowed)} still "
                        "holds the spent one and wins over the keyring: unset it")
                return True
            except AuthError as exc:
                reason = exc.message.split(" Options:")[0].rstrip(".")
        with self._lock:
            self.unsaved |= set(values)
        if replaced:
            from_env = [env_name(self.profile, f) for f in replaced if self._from_env(f)]
            spent = f"; {', '.join(from_env)} now holds a spent one" if from_env else ""
            self._warn_once(
                f"{self.profile}: the broker replaced the {self._names(replaced)} and the new "
                f"one could not be stored ({reason}){spent}; the next run will fail: make the "
                f"keyring usable, then run: balancecli auth login {self.profile}")
        return False

    @staticmethod
    def _replaced(values: Mapping[str, Any], previous: Mapping[str, Any]) -> list[str]:
        return sorted(k for k, v in values.items()
                      if k in previous and v not in (None, "") and v != previous[k])

    @staticmethod
    def _names(fields: list[str]) -> str:
        return " and ".join(f.replace("_", " ") for f in fields)

    def _lasting(self, field: str) -> bool:
        """A field whose old value stops working once the broker replaced it: losing the new
        one breaks the next run. A refresh token; and an access token that has no refresh
        token behind it (LongPort API-key mode, where the token is the credential)."""
        return field == "refresh_token" or (
            field == "access_token" and "ACCESS_TOKEN" in self.required
            and "REFRESH_TOKEN" not in self.required)

    def _warn_once(self, message: str) -> None:
        with self._lock:
            if self._warned:
                return
            self._warned = True
        urgent = Urgent(message)
        urgent.key = f"lost-token:{self.profile}"
        self._warn(urgent)
