"""Secrets: resolved field by field from the environment, then the OS keyring (DESIGN.md §6).

- ``BALANCECLI_<PROFILE>_<FIELD>`` wins (profile upper-cased, non-alphanumerics -> ``_``).
- Otherwise the keyring item: service ``balancecli``, username = profile name, password = one
  JSON object of the fields in lower case, plus cached access tokens and their expiry.
- The keyring is touched only when a needed field is not in the environment, and every keyring
  call is time-boxed: a locked collection or a missing D-Bus fails fast (exit 4) with the options
  spelled out instead of hanging a cron job.
- Written values (refreshed tokens) always go to the keyring, under a per-profile lock.
- Every secret value seen is registered with ``REDACTOR``, which the logger and the error
  boundary apply to every line they print.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import threading
from collections.abc import Iterator, Mapping
from typing import Any

from balancecli.errors import AuthError

SERVICE = "balancecli"
ENV_PREFIX = "BALANCECLI_"
KEYRING_TIMEOUT = float(os.environ.get("BALANCECLI_KEYRING_TIMEOUT", "10"))


def env_name(profile: str, field: str) -> str:
    """``BALANCECLI_<PROFILE>_<FIELD>`` for a profile and an upper-case field name."""
    return ENV_PREFIX + re.sub(r"[^A-Za-z0-9]", "_", profile).upper() + "_" + field.upper()


NOT_SECRET = frozenset({
    "username", "client_id", "user_id", "account_id", "access_token_expires_at",
    "token_expires_at", "refresh_token_expires_at",
})


class Redactor:
    """Replaces every registered secret value with ``***`` (and its last 4 characters)."""

    def __init__(self) -> None:
        self._values: set[str] = set()
        self._lock = threading.Lock()

    def register(self, value: Any, field: str | None = None) -> None:
        """Remember a secret value. Identifiers that are not secret (user names, client ids,
        expiry times) are skipped so that ordinary words are not masked in output."""
        if field is not None and field.lower() in NOT_SECRET:
            return
        if isinstance(value, str) and len(value) >= 6:
            # Also as JSON and CSV write it (\" and ""): text already encoded elsewhere is
            # masked too (the renderers also mask values before encoding).
            forms = {value, value.replace('"', '""'), json.dumps(value)[1:-1],
                     json.dumps(value, ensure_ascii=False)[1:-1]}
            with self._lock:
                self._values.update(forms)

    def redact(self, text: str) -> str:
        with self._lock:
            values = sorted(self._values, key=len, reverse=True)
        for value in values:
            if value in text:
                text = text.replace(value, "***")
        return text


REDACTOR = Redactor()


def mask(value: str | None) -> str | None:
    """At most the last 4 characters of a secret, for `auth status`."""
    if not value:
        return None
    return "…" + value[-4:] if len(value) > 8 else "***"


KEYRING_HELP = (
    "the OS keyring is not usable ({reason}). Options: unlock the keyring or point "
    "DBUS_SESSION_BUS_ADDRESS at your session bus (cron has none); or set the "
    "BALANCECLI_{profile_env}_* variables from a root-only file; or choose a backend with "
    "PYTHON_KEYRING_BACKEND"
)


class KeyringUnavailable(AuthError):
    """The keyring backend failed, is locked, or did not answer in time."""


_BROKEN: dict[tuple[str, str], str] = {}  # (backend env, bus) -> why the keyring hung


def _broken_key() -> tuple[str, str]:
    return (os.environ.get("PYTHON_KEYRING_BACKEND", ""),
            os.environ.get("DBUS_SESSION_BUS_ADDRESS", ""))


def _timeboxed(fn: Any, *args: Any, what: str) -> Any:
    """Run a keyring call in a thread; give up after KEYRING_TIMEOUT seconds.

    A call that hung (a locked collection waiting for a password prompt nobody will see)
    marks the keyring broken for the rest of the process, so that the next profile fails at
    once instead of waiting again."""
    key = _broken_key()
    if key in _BROKEN:
        raise KeyringUnavailable(_BROKEN[key])
    box: dict[str, Any] = {}
    timeout = float(os.environ.get("BALANCECLI_KEYRING_TIMEOUT") or KEYRING_TIMEOUT)

    def run() -> None:
        try:
            box["value"] = fn(*args)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            box["error"] = exc

    thread = threading.Thread(target=run, name="bc-keyring", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        reason = (f"{what} did not answer within {timeout:g} s (a locked keyring waiting "
                  "for a password prompt?)")
        _BROKEN[key] = reason
        raise KeyringUnavailable(reason)
    if "error" in box:
        raise box["error"]
    return box.get("value")


def _explicit_backend() -> bool:
    """True when the user chose the backend (PYTHON_KEYRING_BACKEND or keyringrc.cfg)."""
    if os.environ.get("PYTHON_KEYRING_BACKEND"):
        return True
    try:
        import keyring.core

        return keyring.core.load_config() is not None
    except Exception:  # noqa: BLE001 - a broken config file is reported by the backend call
        return False


def _insecure(backend: Any) -> bool:
    """A backend keyring itself does not recommend (keyrings.alt's plaintext file, ...), or a
    chain that includes one."""
    from keyring.backends.chainer import ChainerBackend
    from keyring.core import recommended

    if isinstance(backend, ChainerBackend):
        return any(not recommended(b) for b in backend.backends)
    return not recommended(backend) and type(backend).__module__ != "keyring.backends.fail"


def _backend() -> Any:
    """The keyring backend, never silently a plaintext store (DESIGN.md §6).

    keyring picks the best backend it finds; with keyrings.alt installed and no Secret Service
    (cron: no D-Bus) that would be a plaintext file. Unless the user chose a backend
    explicitly, only recommended backends are allowed: else keyring's failing backend, which
    ends in the "keyring not usable" message."""
    import keyring
    import keyring.core

    backend = keyring.get_keyring()
    if not _explicit_backend() and _insecure(backend):
        keyring.core.init_backend(limit=keyring.core.recommended)
        backend = keyring.get_keyring()
    return backend


def _reason(exc: BaseException) -> str:
    """A short, useful description of a keyring failure (never a secret)."""
    name = type(exc).__name__
    detail = str(exc).split("\n", 1)[0][:160]
    if name == "NoKeyringError" or "No recommended backend" in detail:
        bus = "" if os.environ.get("DBUS_SESSION_BUS_ADDRESS") else \
            "; DBUS_SESSION_BUS_ADDRESS is not set"
        return f"no usable keyring backend{bus}"
    if isinstance(exc, OSError) or name in ("SecretServiceNotAvailableException",
                                            "DBusErrorResponse"):
        bus = os.environ.get("DBUS_SESSION_BUS_ADDRESS") or "unset"
        return (f"cannot reach the Secret Service on the D-Bus session bus ({bus}): "
                f"{name}: {detail}")
    if name == "RuntimeError" and "SecretService" in detail:
        bus = os.environ.get("DBUS_SESSION_BUS_ADDRESS") or "unset"
        return f"cannot reach the Secret Service on the D-Bus session bus ({bus}): {detail}"
    if name == "KeyringLocked":
        return "the keyring is locked and cannot be unlocked without a password prompt"
    if name == "ValueError" and "password" in detail.lower():
        return "wrong keyring password (" + detail + ")"
    if name == "EOFError":
        return "the keyring asked for a password but there is no terminal"
    return f"{name}: {detail}" if detail else name


class Keyring:
    """The profile items in the OS keyring; every failure becomes KeyringUnavailable."""

    def backend_name(self) -> str:
        """The backend in use, e.g. ``keyring.backends.SecretService.Keyring``."""
        try:
            backend = _timeboxed(_backend, what="the keyring")
            return f"{type(backend).__module__}.{type(backend).__name__}"
        except KeyringUnavailable:
            return "unavailable (did not answer)"
        except Exception as exc:  # noqa: BLE001
            return f"unavailable ({type(exc).__name__})"

    def _call(self, profile: str, op: str, *args: Any) -> Any:
        def call() -> Any:
            return getattr(_backend(), op)(*args)

        try:
            return _timeboxed(call, what="the keyring")
        except KeyringUnavailable as exc:
            raise self._unusable(profile, exc.message) from None
        except Exception as exc:  # noqa: BLE001 - any backend failure is "unusable"
            if type(exc).__name__ == "PasswordDeleteError":
                raise
            raise self._unusable(profile, _reason(exc)) from None

    @staticmethod
    def _unusable(profile: str, reason: str) -> KeyringUnavailable:
        profile_env = re.sub(r"[^A-Za-z0-9]", "_", profile).upper()
        return KeyringUnavailable(
            KEYRING_HELP.format(reason=REDACTOR.redact(reason), profile_env=profile_env),
            profile=profile,
            next_step=f"run: balancecli auth status {profile}",
        )

    def load(self, profile: str) -> dict[str, Any]:
        raw = self._call(profile, "get_password", SERVICE, profile)
        if not raw:
            return {}
        try:
            data = json.loads(raw)
        except ValueError:
            data = None
        if not isinstance(data, dict):
            raise AuthError(
                "the keyring item is not a JSON object",
                profile=profile,
                next_step=f"run: balancecli auth login {profile}",
            )
        for key, value in data.items():
            REDACTOR.register(value, key)
        return data

    def save(self, profile: str, data: Mapping[str, Any]) -> None:
        """Replace the profile's item in one call (the backend's write is the atomic unit)."""
        for key, value in data.items():
            REDACTOR.register(value, key)
        self._call(profile, "set_password", SERVICE, profile, json.dumps(dict(data)))

    def delete(self, profile: str) -> bool:
        """Delete the profile's item; False when there was none."""
        try:
            self._call(profile, "delete_password", SERVICE, profile)
        except Exception as exc:  # noqa: BLE001
            if type(exc).__name__ == "PasswordDeleteError":
                return False
            raise
        return True


def lock_dir() -> str:
    import platformdirs

    path = os.path.join(platformdirs.user_cache_dir("balancecli"), "locks")
    os.makedirs(path, mode=0o700, exist_ok=True)
    return path


@contextlib.contextmanager
def profile_lock(profile: str) -> Iterator[None]:
    """An exclusive lock per profile across processes (two cron runs refreshing at once)."""
    import fcntl

    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", profile)
    fd = os.open(os.path.join(lock_dir(), f"{safe}.lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


class Secrets:
    """The secrets of one profile: env first, keyring second, writes to the keyring."""

    def __init__(
        self,
        profile: str,
        required: tuple[str, ...] = (),
        *,
        env: Mapping[str, str] | None = None,
        keyring: Keyring | None = None,
        preset: Mapping[str, Any] | None = None,
        warn: Any = None,
    ) -> None:
        self.profile = profile
        self.required = tuple(f.upper() for f in required)
        self._env = os.environ if env is None else env
        self._keyring = keyring
        self._item: dict[str, Any] | None = None
        self._overlay: dict[str, Any] = {}
        self._preset = {k.lower(): v for k, v in (preset or {}).items()}
        self._warn = warn or (lambda message: None)
        self._lock = threading.RLock()
        self.keyring_error: AuthError | None = None
        self.unsaved: set[str] = set()  # fields a failed write-back kept for this run only
        for key, value in self._preset.items():
            REDACTOR.register(value, key)

    def _from_env(self, field: str) -> str | None:
        value = self._env.get(env_name(self.profile, field))
        if value:
            REDACTOR.register(value, field)
            return value
        return None

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
        return None if value in (None, "") else value

    def require(self, field: str) -> str:
        value = self.get(field)
        if not value:
            if self.keyring_error is not None:
                raise self.keyring_error
            raise AuthError(
                f"missing credential {field.upper()}",
                profile=self.profile,
                next_step=(
                    f"run: balancecli auth login {self.profile} "
                    f"(or set {env_name(self.profile, field)})"
                ),
            )
        return str(value)

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
        """Hold the profile lock and re-read the keyring: for refreshes that spend a token."""
        if self._keyring is None:
            with self._lock:
                yield
            return
        with profile_lock(self.profile):
            self.reload()
            yield

    def save(self, **fields: Any) -> bool:
        """Use new values at once and write them to the keyring; False (and a warning) when
        they could not be stored."""
        values = {k.lower(): v for k, v in fields.items()}
        for key, value in values.items():
            REDACTOR.register(value, key)
        with self._lock:
            self._overlay.update(values)
            if self._keyring is None:
                if self._item is not None:
                    self._item.update(values)
                return True
        try:
            current = self._keyring.load(self.profile)
            current.update({k: v for k, v in values.items() if v is not None})
            for key, value in values.items():
                if value is None:
                    current.pop(key, None)
            self._keyring.save(self.profile, current)
            with self._lock:
                self._item = current
                self.unsaved -= set(values)
            return True
        except AuthError as exc:
            with self._lock:
                self.unsaved |= set(values)
            names = ", ".join(sorted(k for k in values if not k.endswith("_at")))
            self._warn(
                f"{self.profile}: could not store the new {names} in the keyring; it is used "
                f"for this run only ({exc.message.split(' Options:')[0]})"
            )
            return False
