"""One token lifecycle for every broker, one reader of token answers, one check of tokens.

**The lifecycle** (``TokenLifecycle``): a request is sent with the token in use; the stored one
while it is fresh, else a new one. A new one is obtained under the profile's lock (two cron
runs must not both spend a rotating refresh token): re-read the stored token (another thread or
process may have renewed it meanwhile), else run the broker's grant (a refresh grant, a login),
read the answer, store what it gives before anything else (a rotated refresh token that is
lost breaks every later run), and use it. A request whose token the broker refuses (HTTP 401
or the broker's own code: ``Rejected``) is sent once more with a renewed token.

At most one grant per profile and fetch: after it, a refused token is the profile's ``auth``
error (exit 4, one line), and every other request of the profile fails with the same error at
once instead of spending another grant (200 TradeStation accounts used to cost 3 refresh
grants, 60 ETNA accounts 6 logins). A grant that fails (refused, unreachable, a broken answer)
counts too. Each ``--watch`` round is a fetch of its own, so a token that expires during a long
watch is still renewed.

A broker declares only what is its own (``TokenRules``): where the token is kept among its
secrets (``TokenSlot``), how its answers name their fields and the lifetime when they name none
(``TokenAnswer``), how close to the expiry it renews, and the grant itself (URL and body), a
function the broker passes in.

**The answer** (``read_answer``): access token, rotated refresh token and expiry, from
``expires_in`` or an absolute ``expires_at``; an unusable value (``1e400`` as a number or as
text, ``-50``, a time already past) keeps the tokens with the declared default lifetime: the
answer to a spent one-time code or refresh token must never be lost over a number, and an
expired time is never stored.

**The check** (``token_problem``): a token goes into an HTTP header, so one with a line break,
another control character, whitespace or a character outside ASCII is refused where it enters
(a token endpoint, ``auth login --with-token``, the keyring; the environment has its own check
in ``environment.py``), naming where it came from and never showing any part of it.
"""

from __future__ import annotations

import copy
import re
import threading
import time
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from typing import Any, NamedTuple, Protocol, TypeVar

from balancecli.core.errors import AuthError, BadResponseError, BalanceCliError
from balancecli.core.jsonread import loads
from balancecli.credentials.expiry import expired, expiry_epoch, lifetime, seconds_left

R = TypeVar("R")

# Fields whose values go into an HTTP header as a token (Bearer or the raw value).
TOKEN_FIELDS = frozenset({"access_token", "refresh_token", "token"})
_LINE_BREAK = re.compile(r"[\r\n\u0085\u2028\u2029]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
ATTEMPTS = 3  # sends of one request at most: the token, a re-read or renewed one, one more


def token_problem(value: str) -> str | None:
    """What makes ``value`` unusable as a token ("a line break", ...), or None when it is one
    (visible ASCII: RFC 6750's b64token and every broker's tokens are)."""
    if _LINE_BREAK.search(value):
        return "a line break"
    if _CONTROL.search(value):
        return "a control character"
    if any(c.isspace() for c in value):
        return "whitespace"
    if not value.isascii():
        return "a character outside ASCII"
    return None


def secret_problem(value: str) -> str | None:
    """What makes ``value`` unusable as any other secret (a password may hold spaces, but
    a line break or a control character would end up in a header), or None."""
    if _LINE_BREAK.search(value):
        return "a line break"
    if _CONTROL.search(value):
        return "a control character"
    return None


def field_problem(name: str, value: Any) -> str | None:
    """``token_problem`` for a token field, ``secret_problem`` for any other text."""
    if not isinstance(value, str):
        return None
    return (token_problem if name.lower() in TOKEN_FIELDS else secret_problem)(value)


def spoken(name: str) -> str:
    """A field as a message names it: ``access_token`` -> "an access token"."""
    words = name.lower().replace("_", " ")
    return ("an " if words[:1] in "aeiou" else "a ") + words


class Rejected(AuthError):
    """The broker refused the token of a request (HTTP 401 or its own code): the lifecycle
    renews it once and the request is sent again. The message is the profile's error when the
    renewed token is refused too."""


# -- what a broker declares (named tuples: a broker module declares them at import, and a
# frozen dataclass costs ten times as much to define, on every run) ---------------------------

class TokenSlot(NamedTuple):
    """Where a profile keeps its token among its secrets (lower-case field names)."""

    token: str = "access_token"
    expires_at: str = "access_token_expires_at"
    refresh: str | None = "refresh_token"  # None: the answer has no refresh token to keep


class TokenAnswer(NamedTuple):
    """How a broker's token answer names its fields, and the lifetime when it names none."""

    default_lifetime: float  # seconds, when the answer gives no usable expiry
    access: tuple[str, ...] = ("access_token",)  # the first one present is the token
    refresh: tuple[str, ...] = ("refresh_token",)
    expires_in: tuple[str, ...] = ("expires_in",)  # seconds from now
    expires_at: tuple[str, ...] = ()  # an absolute time (epoch or ISO 8601)
    extra: tuple[tuple[str, str], ...] = ()  # (answer field, stored field) kept as text


class TokenRules(NamedTuple):
    """A broker's token, declared: where it is kept, how answers read, when to renew."""

    answer: TokenAnswer
    slot: TokenSlot = TokenSlot()
    margin: float = 60.0  # seconds: renew when less is left
    unreadable_expiry_is_expired: bool = False  # True where a renewal is cheap (a login)
    renew_on_reject: bool = True  # False: nothing can renew a refused token (an API key's)
    spends_current: bool = False  # the grant is made with the current token, which it kills


# -- the answer -------------------------------------------------------------------------------

def read_answer(body: bytes | str | Mapping[str, Any] | Any, answer: TokenAnswer,
                slot: TokenSlot, *, now: float | None = None
                ) -> tuple[dict[str, Any], BalanceCliError | None]:
    """(fields to store, the error to raise once they are stored) of a token answer.

    ``body`` is the raw answer (parsed here, numbers out of range read as null) or an object
    already parsed. A rotated refresh token is stored even when the access token is unusable;
    nothing is stored when the refresh token itself is unusable."""
    if isinstance(body, bytes | str):
        try:
            body = loads(body, tolerant=True)
        except BadResponseError as exc:
            return {}, BadResponseError(f"the token answer: {exc.message}")
    if not isinstance(body, Mapping):
        return {}, BadResponseError("the token answer is not a JSON object")
    fields: dict[str, Any] = {}
    if slot.refresh is not None:
        rotated = _first(body, answer.refresh)
        if isinstance(rotated, str) and rotated:
            problem = token_problem(rotated)
            if problem:
                return {}, _refused("a refresh token", problem)
            fields[slot.refresh] = rotated
    access = _first(body, answer.access)
    if not isinstance(access, str) or not access:
        return fields, BadResponseError(f"the token response has no {answer.access[0]}")
    problem = token_problem(access)
    if problem:
        return fields, _refused(spoken(slot.token), problem)
    when = time.time() if now is None else now
    fields[slot.token] = access
    fields[slot.expires_at] = _expiry(body, answer, when)
    for source, target in answer.extra:
        value = body.get(source)
        if isinstance(value, str | int) and not isinstance(value, bool) and value != "":
            text = str(value)[:100]
            if secret_problem(text) is None:
                fields[target] = text
    return fields, None


def _first(body: Mapping[str, Any], names: tuple[str, ...]) -> Any:
    for name in names:
        value = body.get(name)
        if value not in (None, ""):
            return value
    return None


def _expiry(body: Mapping[str, Any], answer: TokenAnswer, now: float) -> int:
    """Epoch seconds: ``expires_in``, else ``expires_at`` when still ahead, else the default."""
    for name in answer.expires_in:
        seconds = lifetime(body.get(name))
        if seconds is not None:
            return int(now + seconds)
    for name in answer.expires_at:
        when = expiry_epoch(body.get(name))
        if when is not None and when > now:
            return int(when)
    return int(now + answer.default_lifetime)


def _refused(what: str, problem: str) -> AuthError:
    return AuthError(
        f"the token endpoint answered {what} with {problem}; nothing of it was used or stored",
        next_step="try again; if it persists, check any proxy between this machine and the "
                  "broker, or report it to the broker")


# -- the lifecycle ----------------------------------------------------------------------------

Grant = Callable[[str | None], Any]  # the current token (or None) -> the raw answer


class SecretStore(Protocol):
    """What the lifecycle needs of a profile's secrets (``credentials.Secrets``)."""

    def get(self, field: str) -> Any: ...

    def require(self, field: str) -> str: ...

    def source(self, field: str) -> str | None: ...

    def save(self, **fields: Any) -> bool: ...

    def locked(self) -> AbstractContextManager[None]: ...


class TokenLifecycle:
    """One profile's token during one fetch; safe to use from the broker's worker threads."""

    def __init__(self, secrets: SecretStore, rules: TokenRules, grant: Grant, *, profile: str,
                 warn: Callable[[str], None] | None = None) -> None:
        self.secrets = secrets
        self.rules = rules
        self.profile = profile
        self._grant = grant
        self._warn = warn or (lambda message: None)
        self._lock = threading.RLock()
        self._token: str | None = None  # the token in use
        self._renewed = False  # the one grant of this fetch was made
        self._failed: BalanceCliError | None = None  # the profile's error, raised again

    def call(self, send: Callable[[str], R]) -> R:
        """``send(token)``; when it raises ``Rejected``, once more with a renewed token."""
        token = self.token()
        for attempt in range(ATTEMPTS):
            try:
                return send(token)
            except Rejected as exc:
                if attempt == ATTEMPTS - 1:
                    raise self._fail(exc) from None
                token = self.rejected(token, exc)
        raise AssertionError("unreachable")

    def token(self) -> str:
        """The token to send: the one in use, else the stored one while fresh, else a new one."""
        with self._lock:
            self._raise_if_failed()
            if self._token:
                return self._token
            stored = self._stored()
            if stored is not None and not self._stale():
                self._token = stored
                return stored
            return self._renew(rejected=stored)

    def rejected(self, token: str, error: AuthError) -> str:
        """``token`` was refused: the token to send instead (renewed by another thread or
        process, else by one grant); ``error`` once this fetch's grant was made."""
        if not self.rules.renew_on_reject:
            raise error
        with self._lock:
            self._raise_if_failed()
            if self._renewed and token == self._token:
                raise self._fail(error)
            return self._renew(rejected=token)

    def renew(self) -> str:
        """A grant now, whatever the stored token and an earlier failure (``auth refresh``:
        one explicit request, one grant)."""
        with self._lock:
            self._failed = None
            return self._renew(rejected=None, force=True)

    # -- inside
    def _renew(self, rejected: str | None, force: bool = False) -> str:
        slot = self.rules.slot
        with self._lock, self.secrets.locked():
            self._raise_if_failed()
            if not force:
                other = self._renewed_elsewhere(rejected)
                if other is not None:
                    return other
            self._renewed = True
            try:
                fields, problem = read_answer(self._grant(self._token or self._stored()),
                                              self.rules.answer, slot)
            except BalanceCliError as exc:
                raise self._fail(exc) from None
            if fields:
                self.secrets.save(**fields)
            if problem is not None:
                raise self._fail(problem)
            self._token = str(fields[slot.token])
            return self._token

    def _renewed_elsewhere(self, rejected: str | None) -> str | None:
        """A token other than ``rejected`` that another thread (in memory) or process (the
        re-read keyring item) obtained while this one waited for the lock."""
        if self._token and self._token != rejected:
            return self._token
        stored = self._stored()
        if stored is not None and stored != rejected and not self._stale():
            self._token = stored
            return stored
        return None

    def _stored(self) -> str | None:
        value = self.secrets.get(self.rules.slot.token)
        if not value:
            if self.rules.spends_current:
                self.secrets.require(self.rules.slot.token)  # "missing", with the next step
            return None
        return str(value)

    def _stale(self) -> bool:
        rules = self.rules
        expires_at = self.secrets.get(rules.slot.expires_at)
        if not expired(expires_at, rules.margin, unusable=rules.unreadable_expiry_is_expired):
            return False
        if rules.spends_current and self.secrets.source(rules.slot.token) == "env":
            # Renewing kills the old token at once, and the variable would go on shadowing
            # the new one in every later run: say so instead, and use it while it works.
            left = max(0.0, seconds_left(expires_at) or 0.0)
            self._warn(f"{self.profile}: the {rules.slot.token.replace('_', ' ')} expires in "
                       f"{left / 86400:.1f} days; run: balancecli auth refresh "
                       f"{self.profile}, then update the environment")
            return False
        return True

    def _fail(self, error: BalanceCliError) -> BalanceCliError:
        """Remember the profile's error (a clean copy: callers bind accounts to theirs)."""
        from balancecli.net.limiter import Interrupted

        if not isinstance(error, Interrupted):
            with self._lock:
                self._failed = self._failed or _copy(error)
        return error

    def _raise_if_failed(self) -> None:
        if self._failed is not None:
            raise _copy(self._failed)


def _copy(error: BalanceCliError) -> BalanceCliError:
    try:
        return copy.copy(error)
    except TypeError:  # pragma: no cover - a subclass with another constructor
        return error
