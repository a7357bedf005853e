"""The broker contract.

A broker module declares its settings and secret fields as data and implements three calls:

- ``accounts() -> list[Account]``
- ``balances(accounts) -> Result`` (rows: Balance)
- ``assets(accounts) -> Result`` (rows: Asset)
- ``snapshot(accounts) -> (Result, Result)``: both, from one set of responses where the API
  allows it (``snapshot`` must not fetch twice); the default calls the two above.

It receives everything through ``Context``: the profile's validated settings, its secrets (env
then keyring, resolved elsewhere), one HTTP client (one connection pool per profile) and the
run's options. It returns models or raises ``balancecli.errors`` classes; a failure of one account
goes into ``Result.errors`` so the other accounts still print. It never prints, reads the
environment or touches the keyring itself.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from balancecli.core.errors import BadResponseError, BalanceCliError, ConfigError
from balancecli.core.models import Account, Asset, Balance
from balancecli.net.limiter import RateLimit

if TYPE_CHECKING:
    from balancecli.credentials import Secrets
    from balancecli.credentials.oauth_client import OAuthClient
    from balancecli.net.http import HttpClient


@dataclass(frozen=True)
class Setting:
    """One profile setting: its type, default and whether it must be given."""

    type: type | tuple[type, ...] = str
    default: Any = None
    required: bool = False
    choices: tuple[str, ...] = ()
    help: str = ""
    minimum: float | None = None  # numbers: the smallest value allowed
    above: bool = False  # numbers: the value must be greater than ``minimum``
    maximum: float | None = None


COMMON_SETTINGS: dict[str, Setting] = {
    "broker": Setting(str, required=True),
    "accounts": Setting(list, None, help="only these account ids"),
    "timeout": Setting((int, float), None, help="seconds per request", minimum=0, above=True),
    "max_retries": Setting(int, 3, help="retries on 429/5xx/network errors", minimum=0),
    "retry_backoff": Setting((int, float), 0.5, help="first backoff in seconds, doubled",
                             minimum=0),
    "retry_budget": Setting((int, float), 30, help="most seconds spent waiting between retries",
                            minimum=0),
    "max_response_bytes": Setting(int, None, help="largest response accepted, in bytes "
                                                  "(default 16 MiB)", minimum=1),
    "max_concurrency": Setting(int, None, help="most requests in flight per host "
                                               "(default: the broker's own)", minimum=1),
    "ledger_account": Setting((str, dict), None,
                              help="beancount/ledger account name: a template or a table by "
                                   "account id (-f beancount|ledger)"),
}


@dataclass
class Result:
    """Rows fetched plus the errors of the accounts that failed."""

    rows: list[Any] = field(default_factory=list)
    errors: list[BalanceCliError] = field(default_factory=list)
    assets: list[Any] = field(default_factory=list)  # snapshot: asset rows fetched alongside

    def extend(self, other: Result) -> None:
        self.rows.extend(other.rows)
        self.errors.extend(other.errors)
        self.assets.extend(other.assets)


@dataclass
class Context:
    """What a broker gets: settings, secrets, the HTTP client and the run's options."""

    profile: str
    settings: dict[str, Any]
    secrets: Secrets
    http: HttpClient
    currency: str | None = None
    interactive: bool = False
    prompt: Callable[[str], str] | None = None  # hidden input on a terminal (2FA codes)
    warn: Callable[[str], None] = lambda message: None
    max_workers: int = 16  # the broker's concurrency ceiling (``Broker.limits``)

    def parallel(self, fn: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
        """``[fn(x) for x in items]`` run concurrently; exceptions are returned, not raised.

        As many threads as the host may ever take; the HTTP client's per-host limiter decides
        how many requests are really in flight. After Ctrl-C no new item starts."""
        from balancecli.core.interrupt import CANCEL
        from balancecli.net.limiter import Interrupted

        def call(item: Any) -> Any:
            if CANCEL.is_set():
                return Interrupted()
            try:
                return fn(item)
            except BalanceCliError as exc:
                return exc

        if len(items) <= 1:
            return [call(item) for item in items]
        workers = min(self.max_workers, len(items))
        pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="bc-acct")
        try:
            return list(pool.map(call, items))
        finally:
            pool.shutdown(wait=False, cancel_futures=True)


class Broker:
    """Base class of a broker module. Keep it thin: helpers live in the broker modules."""

    name: ClassVar[str]
    settings: ClassVar[dict[str, Setting]] = {}
    # The API's documented limits (requests in flight per host, rate), enforced per host and
    # process by balancecli.limiter; each module sets its own from its API documents.
    limits: ClassVar[RateLimit] = RateLimit()

    @classmethod
    def secret_fields(cls, settings: dict[str, Any]) -> tuple[str, ...]:
        """The upper-case secret fields this profile needs."""
        return ()

    @classmethod
    def optional_secret_fields(cls, settings: dict[str, Any]) -> tuple[str, ...]:
        """Fields used when present (cached tokens) but not required."""
        return ()

    @classmethod
    def validate(cls, profile: str, raw: dict[str, Any]) -> dict[str, Any]:
        """Check ``raw`` against COMMON_SETTINGS + ``settings``; return it with defaults."""
        spec = {**COMMON_SETTINGS, **cls.settings}
        unknown = sorted(set(raw) - set(spec))
        if unknown:
            raise ConfigError(
                f"unknown setting {unknown[0]!r} for broker {cls.name}; "
                f"valid: {', '.join(sorted(spec))}",
                profile=profile,
                next_step=f"edit profile {profile!r} in the config file",
            )
        result: dict[str, Any] = {}
        for key, setting in spec.items():
            if key not in raw:
                if setting.required:
                    raise ConfigError(
                        f"missing setting {key!r} (broker {cls.name})",
                        profile=profile,
                        next_step=f"add {key} = ... to [profiles.{profile}] in the config file",
                    )
                result[key] = setting.default
                continue
            value = raw[key]
            if not isinstance(value, setting.type) or isinstance(value, bool) and setting.type in (
                int, (int, float)
            ):
                kind = (
                    setting.type.__name__
                    if isinstance(setting.type, type)
                    else " or ".join(t.__name__ for t in setting.type)
                )
                raise ConfigError(
                    f"setting {key!r} must be a {kind}, got {value!r}",
                    profile=profile,
                    next_step=f"fix {key} in [profiles.{profile}] of the config file",
                )
            _check_range(profile, key, value, setting)
            if setting.choices and value not in setting.choices:
                raise ConfigError(
                    f"setting {key!r} must be one of {', '.join(setting.choices)}, got {value!r}",
                    profile=profile,
                    next_step=f"fix {key} in [profiles.{profile}] of the config file",
                )
            result[key] = value
        return result

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.profile = ctx.profile

    def accounts(self) -> list[Account]:
        raise NotImplementedError

    def balances(self, accounts: Iterable[Account]) -> Result:
        raise NotImplementedError

    def assets(self, accounts: Iterable[Account]) -> Result:
        raise NotImplementedError

    def snapshot(self, accounts: Iterable[Account]) -> tuple[Result, Result]:
        """Balances and assets of ``accounts``. Override it when one set of responses carries
        both, so that ``snapshot`` asks the broker once."""
        accounts = list(accounts)
        return self.balances(accounts), self.assets(accounts)

    def checked_accounts(self) -> tuple[list[Account], list[BalanceCliError]]:
        """``accounts()`` with the contract enforced for every broker: an id that occurs more
        than once in one response is a bad_response of that account (which row would be right
        cannot be known), never "last one wins"."""
        accounts = self.accounts()
        counts = Counter(a.account_id for a in accounts)
        if all(n == 1 for n in counts.values()):
            return accounts, []
        errors = [self.fail(BadResponseError(
            f"the account list names this account {n} times"), account_id)
            for account_id, n in counts.items() if n > 1]
        return [a for a in accounts if counts[a.account_id] == 1], errors

    # -- logins and tokens. ``credentials.tokens`` runs one token lifecycle for every broker
    # and ``credentials.oauth`` the browser login; a broker declares what is its own: its
    # ``TokenRules`` and grant (passed to the ``TokenLifecycle`` it keeps as ``self.tokens``),
    # its OAuth client, the field asked again after a refused login.

    # The secret field ``auth login`` asks for again when the broker refuses a login typed
    # there (a mistyped password), or None.
    asked_again: ClassVar[str | None] = None

    @classmethod
    def oauth_client(cls, settings: dict[str, Any],
                     secret: Callable[[str], Any]) -> OAuthClient | None:
        """The profile's OAuth client for ``auth login`` in a browser (``secret`` reads a
        secret field: the environment, what was typed, the keyring), or None when the broker,
        or this profile's mode, does not log in that way."""
        return None

    def refresh(self) -> None:
        """Force a token refresh or login now and store its tokens (``auth refresh``), in
        the calling thread; AuthError when the broker refuses it, ConfigError for a broker
        without one (this default)."""
        raise ConfigError(
            f"broker {self.name} has no token refresh",
            profile=self.profile,
            next_step=f"run: balancecli auth login {self.profile}",
        )

    # Helpers shared by every broker: small and about the contract, not about any one API.

    def account(self, account_id: str, **fields: Any) -> Account:
        return Account(profile=self.profile, broker=self.name, account_id=account_id, **fields)

    def balance(self, account: Account, **fields: Any) -> Balance:
        fields.setdefault("currency", account.currency)
        return Balance(
            profile=self.profile,
            broker=self.name,
            account_id=account.account_id,
            account_name=account.name,
            account_type=account.type,
            **fields,
        )

    def asset(self, account: Account, asset: str, **fields: Any) -> Asset:
        return Asset(
            profile=self.profile, broker=self.name, account_id=account.account_id, asset=asset,
            **fields,
        )

    def fail(self, exc: BalanceCliError, account_id: str | None = None) -> BalanceCliError:
        return exc.bind(profile=self.profile, broker=self.name, account_id=account_id)


def _check_range(profile: str, key: str, value: Any, setting: Setting) -> None:
    """Numbers must be finite and within the setting's range (``timeout = -1``, ``nan`` and
    ``inf`` are TOML numbers, and each breaks the run in its own obscure way)."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return
    problem = None
    if isinstance(value, float) and not math.isfinite(value):
        problem = "a finite number"
    elif setting.minimum is not None and (value <= setting.minimum if setting.above
                                          else value < setting.minimum):
        problem = f"{'more than' if setting.above else 'at least'} {setting.minimum:g}"
    elif setting.maximum is not None and value > setting.maximum:
        problem = f"at most {setting.maximum:g}"
    if problem:
        raise ConfigError(
            f"setting {key!r} must be {problem}, got {value!r}"
            + (f" ({setting.help})" if setting.help else ""),
            profile=profile,
            next_step=f"fix {key} in [profiles.{profile}] of the config file",
        )
