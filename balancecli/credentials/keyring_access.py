"""The OS keyring: one JSON item per profile, every call time-boxed, never a plaintext
fallback chosen behind the user's back.

Every failure becomes ``KeyringUnavailable`` (exit 4) with the ways out spelled out; a call
that hangs (a locked collection waiting for a prompt nobody sees, a D-Bus that never answers)
gives up after ``BALANCECLI_KEYRING_TIMEOUT`` seconds and marks the keyring broken for the rest
of the process, so the next profile fails at once. The ``keyring`` package is imported only
when a call is made.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from balancecli.core.errors import AuthError, BalanceCliError
from balancecli.core.redact import REDACTOR
from balancecli.credentials.environment import env_name, keyring_timeout

SERVICE = "balancecli"


class KeyringUnavailable(AuthError):
    """The keyring backend failed, is locked, or did not answer in time. ``unset``: the
    environment variables that would have made the keyring unnecessary."""

    reason: str = ""
    unset: Sequence[str] = ()


def listed(names: Sequence[str], most: int = 3) -> str:
    """``A``, ``A and B``, ``A, B and C``, ``A, B, C and 2 more``."""
    if len(names) > most:
        return f"{', '.join(names[:most])} and {len(names) - most} more"
    return " and ".join([", ".join(names[:-1]), names[-1]]) if len(names) > 1 else \
        "".join(names)


def keyring_help(reason: str, profiles: Sequence[str]) -> str:
    """The keyring-unusable message with the ways out, for one or several profiles."""
    variables = ", ".join(f"{env_name(p, '')}*" for p in profiles)
    return (
        f"the OS keyring is not usable ({reason}). Options: unlock the keyring or point "
        "DBUS_SESSION_BUS_ADDRESS at your session bus (cron has none); or set the "
        f"{variables} variables from a file only you can read; or choose a backend with "
        "PYTHON_KEYRING_BACKEND"
    )


def merge_keyring_errors(errors: Sequence[BalanceCliError]) -> list[BalanceCliError]:
    """The errors to print: every profile that failed on the same unusable keyring in one line
    (``error: ts, lp: the OS keyring is not usable ...``) instead of one long line each; the
    details per profile are in ``auth status``. The others unchanged, in order."""
    groups: dict[str, list[KeyringUnavailable]] = {}
    for error in errors:
        if isinstance(error, KeyringUnavailable) and error.reason and error.profile:
            groups.setdefault(error.reason, []).append(error)
    out: list[BalanceCliError] = []
    for error in errors:
        group = groups.get(getattr(error, "reason", ""), [])
        if error not in group or len(group) == 1:
            out.append(error)
        elif error is group[0]:
            names = list(dict.fromkeys(e.profile for e in group if e.profile))
            unset = list(dict.fromkeys(v for e in group for v in e.unset))
            first = f"{listed(unset)} {'is' if len(unset) == 1 else 'are'} not set, and " \
                if unset else ""
            out.append(KeyringUnavailable(
                first + keyring_help(error.reason, names), profile=", ".join(names),
                next_step="details per profile: balancecli auth status"))
    return out


_BROKEN: dict[tuple[str, str], str] = {}  # (backend env, bus) -> why the keyring hung


def _broken_key() -> tuple[str, str]:
    return (os.environ.get("PYTHON_KEYRING_BACKEND", ""),
            os.environ.get("DBUS_SESSION_BUS_ADDRESS", ""))


def _timeboxed(fn: Any, *args: Any, what: str, timeout: float) -> Any:
    """Run a keyring call in a thread; give up after ``timeout`` seconds.

    A call that hung (a locked collection waiting for a password prompt nobody will see)
    marks the keyring broken for the rest of the process, so that the next profile fails at
    once instead of waiting again."""
    key = _broken_key()
    if key in _BROKEN:
        raise KeyringUnavailable(_BROKEN[key])
    box: dict[str, Any] = {}

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
    """The keyring backend, never silently a plaintext store.

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
        return (f"cannot reach the Secret Service on the D-Bus session bus ({bus})"
                + (f": {detail}" if detail else ""))
    if name == "RuntimeError" and "SecretService" in detail:
        bus = os.environ.get("DBUS_SESSION_BUS_ADDRESS") or "unset"
        return f"cannot reach the Secret Service on the D-Bus session bus ({bus}): {detail}"
    if name == "KeyringLocked":
        return "the keyring is locked and cannot be unlocked without a password prompt"
    if name == "ValueError" and "password" in detail.lower():
        return "wrong keyring password (" + detail + ")"
    if name == "EOFError":
        return "the keyring asked for a password but there is no terminal"
    return f"the keyring backend failed: {detail}" if detail else "the keyring backend failed"


class Keyring:
    """The profile items in the OS keyring; every failure becomes KeyringUnavailable."""

    def backend_name(self) -> str:
        """The backend in use, e.g. ``keyring.backends.SecretService.Keyring``."""
        try:
            backend = _timeboxed(_backend, what="the keyring", timeout=keyring_timeout())
            # not a message: the backend's name, as PYTHON_KEYRING_BACKEND takes it
            return f"{type(backend).__module__}.{type(backend).__name__}"
        except KeyringUnavailable:
            return "unavailable (did not answer)"
        except Exception:  # noqa: BLE001 - the calls themselves say why
            return "unavailable"

    def _call(self, profile: str, op: str, *args: Any) -> Any:
        def call() -> Any:
            return getattr(_backend(), op)(*args)

        timeout = keyring_timeout()  # a bad BALANCECLI_KEYRING_TIMEOUT is exit 3, not "unusable"
        try:
            return _timeboxed(call, what="the keyring", timeout=timeout)
        except KeyringUnavailable as exc:
            raise self._unusable(profile, exc.message) from None
        except Exception as exc:  # noqa: BLE001 - any backend failure is "unusable"
            if type(exc).__name__ == "PasswordDeleteError":
                raise
            raise self._unusable(profile, _reason(exc)) from None

    @staticmethod
    def _unusable(profile: str, reason: str) -> KeyringUnavailable:
        error = KeyringUnavailable(
            keyring_help(REDACTOR.redact(reason), [profile]),
            profile=profile,
            next_step=f"run: balancecli auth status {profile}",
        )
        error.reason = REDACTOR.redact(reason)
        return error

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
