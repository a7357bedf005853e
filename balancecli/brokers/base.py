"""The broker contract: what a broker class declares, what each method returns and raises.

A broker is one ``Broker`` subclass in ``brokers/<name>`` and one line of the registry
(``brokers/__init__.py``). Code outside ``brokers/`` asks the class; it never names a broker.

Declared as data (class attributes and class methods, read without an instance or a request):

- ``name`` (the registry's), ``title`` (for people: ``TradeStation``; ledger account names);
- ``settings``: the profile settings beyond ``COMMON_SETTINGS``, typed (``Setting``);
- ``secret_spec(settings) -> SecretFields``: the secret fields, which are required, which
  another field stands in for, which may be absent and why (``core.secretfields``);
- ``limits``: the documented request limits, kept per host by ``net.limiter``;
- ``field_maps``: normalized field ← broker field, per response (``brokers.mapping``);
- ``reported_rates(balances, assets) -> list[ReportedRate]``: the exchange rates the broker's
  own rows carry (each broker reads its own raw fields); ``rates_need_extra``: those rates are
  read from ``extra``, so a stored run must keep it;
- ``valued_by_assets(balance) -> bool``: the account's value is the sum of its asset rows'
  values, so the assets must be fetched to value it;
- ``remote_clock``: the broker answers from a clock of its own (``doctor`` compares it);
- ``significant_digits``: how many significant digits the broker's amounts carry when it
  sends binary floating point (a C# double: 15); accounting exports round to it, JSON never;
- ``asked_again`` and ``oauth_client(settings, secret)``: what ``auth login`` asks for again
  after a refused login, and the browser login's client (``credentials.oauth_client``). A
  broker with tokens declares its ``TokenRules`` and hands its grant to the one token
  lifecycle (``credentials.tokens``).

Implemented per broker (instance methods, given a ``Context``):

- ``accounts() -> list[Account]``: every account the credentials give access to.
- ``balances(accounts) -> Result``: a ``Balance`` per account (or per currency view of one).
- ``assets(accounts) -> Result``: an ``Asset`` per asset or currency an account holds.
- Either may leave out an account whose balances the broker's API does not serve (an account
  type its balances endpoint refuses): a ``Skipped`` entry in ``Result.skipped``, not an error.
- ``snapshot(accounts) -> (Result, Result)``: both from one set of responses where the API
  allows it (it must not fetch twice); the default calls ``balances`` then ``assets``.
- ``stale``: after a fetch, the accounts whose data is older than the profile allows, with
  its age, when ``Context.allow_stale`` let them through (otherwise that is a ``StaleError``).
- ``probe() -> Probe``: ``doctor``'s one light request (default: the account list, and one
  balance when the list cost no request).
- ``refresh()``: a forced token refresh or login (``auth refresh``).

Errors: a method returns models or raises a ``core.errors`` class, nothing else, whatever the
broker sent (``brokers.payload`` turns a bad shape into ``BadResponseError``). Raised, it fails
the whole profile: ``AuthError`` (credentials missing or refused; exit 4), ``ConfigError``
(a setting the API cannot use; 3), ``UnavailableError`` and ``RateLimitedError`` (network,
5xx, 429 after the HTTP client's retries; 5), ``StaleError`` (5), ``BadResponseError`` (not
the documented shape; 6), ``BrokerError`` (the broker refused; 6). A failure of one account
goes into ``Result.errors`` instead, bound to that account (``fail``), and the other accounts
still print (exit 7); an error that is the same for every account (a refused token) is
raised once rather than repeated per account.

Threads: the fetch layer runs each profile in a worker thread, concurrently with the other
profiles (other instances, possibly of the same class), and ``Context.parallel`` runs the
per-account or per-batch calls of one instance in more threads. So what several calls share
(a cached token, an export read once) lives in the instance behind a lock; nothing mutable
lives at module or class level; nothing blocks except through ``ctx.http`` (each request is
bounded in time, and Ctrl-C stops it) or the profile lock of ``ctx.secrets``.

A broker gets everything through ``Context``: the profile's validated settings, its secrets
(environment then keyring, resolved elsewhere), one HTTP client (one connection pool per
profile) and the run's options. It never prints, reads the environment or touches the keyring
itself.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar

from balancecli.brokers.mapping import FieldMap
from balancecli.core.clock import MAX_SECONDS
from balancecli.core.errors import BadResponseError, BalanceCliError, ConfigError, SettingError
from balancecli.core.models import Account, Asset, Balance
from balancecli.core.secretfields import SecretFields
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
    # How ``doctor`` sums up a valid profile: ``where`` is the place the data comes from (a
    # base URL, an export file); ``shown`` settings are listed unless ``overridden_by`` is set.
    where: bool = False
    shown: bool = False
    overridden_by: str | None = None
    # A value of the documented form, for a message about a missing one (``https://HOST/api``).
    example: str | None = None


COMMON_SETTINGS: dict[str, Setting] = {
    "broker": Setting(str, required=True),
    "accounts": Setting(list, None, help="only these account ids"),
    "timeout": Setting((int, float), None, help="seconds per request", minimum=0, above=True,
                       maximum=MAX_SECONDS),
    "max_retries": Setting(int, 3, help="retries on 429/5xx/network errors", minimum=0,
                           maximum=100),
    "retry_backoff": Setting((int, float), 0.5, help="first backoff in seconds, doubled",
                             minimum=0, maximum=MAX_SECONDS),
    "retry_budget": Setting((int, float), 30, help="most seconds spent waiting between retries",
                            minimum=0, maximum=MAX_SECONDS),
    "max_response_bytes": Setting(int, None, help="largest response accepted, in bytes "
                                                  "(default 16 MiB)", minimum=1),
    "max_concurrency": Setting(int, None, help="most requests in flight per host "
                                               "(default: the broker's own)", minimum=1),
    "ledger_account": Setting((str, dict), None,
                              help="beancount/ledger account name: a template or a table by "
                                   "account id (-f beancount|ledger)"),
}


@dataclass(frozen=True)
class Skipped:
    """An account the broker lists but whose balances its API does not serve (an account type
    its balances endpoint refuses): left out of balance, assets and snapshot, never an error;
    ``-v`` says so and JSON lists it under ``skipped``."""

    profile: str
    broker: str
    account_id: str
    reason: str

    def as_dict(self) -> dict[str, str]:
        return {"profile": self.profile, "broker": self.broker, "account_id": self.account_id,
                "reason": self.reason}


@dataclass
class Result:
    """Rows fetched plus the errors of the accounts that failed (and the accounts left out)."""

    rows: list[Any] = field(default_factory=list)
    errors: list[BalanceCliError] = field(default_factory=list)
    assets: list[Any] = field(default_factory=list)  # snapshot: asset rows fetched alongside
    skipped: list[Skipped] = field(default_factory=list)
    stale: dict[str, float] = field(default_factory=dict)  # the fetch: ``Broker.stale``

    def extend(self, other: Result) -> None:
        self.rows.extend(other.rows)
        self.errors.extend(other.errors)
        self.assets.extend(other.assets)
        self.skipped.extend(other.skipped)


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
    # Data older than the profile allows (a stale export): True, shown and marked
    # (``--allow-stale``, see ``Broker.stale``); False, an error whose next step may name
    # --allow-stale; None, an error (the command cannot show stale data: snapshot, doctor).
    allow_stale: bool | None = None

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


@dataclass(frozen=True)
class ReportedRate:
    """An exchange rate that a broker's own rows carry: 1 ``base`` = ``num / den`` ``quote``,
    for the account ``(profile, account_id)``, read from the broker field ``field`` (which
    says where it came from: "broker ts AccountConversionRate")."""

    profile: str
    account_id: str
    base: str
    quote: str
    num: Decimal
    den: Decimal = Decimal(1)
    field: str = ""


@dataclass(frozen=True)
class Finding:
    """One line of ``doctor`` that a broker adds about its own data (Quantower: the age of
    the export). ``kind`` is the error kind when it failed."""

    name: str
    ok: bool
    detail: str
    kind: str | None = None
    next_step: str | None = None


@dataclass
class Probe:
    """What ``doctor``'s request found: the accounts, the errors of the balance it asked for
    (if any), how the data was read when not over HTTP, and the broker's own findings."""

    accounts: list[Account]
    errors: list[BalanceCliError] = field(default_factory=list)
    via: str | None = None
    findings: list[Finding] = field(default_factory=list)


class Broker:
    """Base class of a broker module. Keep it thin: helpers live in the broker modules."""

    name: ClassVar[str]
    title: ClassVar[str]  # the broker's name for people (tables, ledger account names)
    settings: ClassVar[dict[str, Setting]] = {}
    # The API's documented limits (requests in flight per host, rate), enforced per host and
    # process by balancecli.limiter; each module sets its own from its API documents.
    limits: ClassVar[RateLimit] = RateLimit()

    # -- declarations read without an instance ------------------------------------------------

    # Normalized field <- broker field, one map per kind of row and response (the README's
    # Reference is generated from these).
    field_maps: ClassVar[tuple[FieldMap, ...]] = ()
    # The rates of ``reported_rates`` are read from the balance rows' ``extra``.
    rates_need_extra: ClassVar[bool] = False
    # The broker's answers carry its own clock (a Date header worth comparing with ours).
    remote_clock: ClassVar[bool] = True
    # The significant digits its amounts really carry, when they are binary floating point
    # written out in full (None: every digit sent is the broker's).
    significant_digits: ClassVar[int | None] = None

    @classmethod
    def secret_spec(cls, settings: dict[str, Any]) -> SecretFields:
        """The secret fields a profile of this broker has (upper case), as data."""
        return SecretFields()

    @classmethod
    def secret_fields(cls, settings: dict[str, Any]) -> tuple[str, ...]:
        """The upper-case secret fields this profile needs."""
        return cls.secret_spec(settings).required

    @classmethod
    def optional_secret_fields(cls, settings: dict[str, Any]) -> tuple[str, ...]:
        """Fields used when present (cached tokens) but not required."""
        return cls.secret_spec(settings).optional

    @classmethod
    def reported_rates(cls, balances: Sequence[Balance],
                       assets: Sequence[Asset]) -> list[ReportedRate]:
        """The exchange rates this broker's rows carry (rows of this broker only), in the
        order found. None by default: most brokers report amounts, not rates."""
        return []

    @classmethod
    def valued_by_assets(cls, balance: Balance) -> bool:
        """True when this balance row's account is valued by the sum of its asset rows'
        values (Quantower's crypto accounts: their USD values), so that valuing it needs its
        assets fetched too."""
        return False

    @classmethod
    def source_of(cls, model: type[Account] | type[Balance] | type[Asset],
                  name: str) -> str | None:
        """The broker field that ``model.name`` is read from, or None."""
        from balancecli.brokers.mapping import source_of

        return source_of(cls.field_maps, model, name)

    @classmethod
    def validate(cls, profile: str, raw: dict[str, Any]) -> dict[str, Any]:
        """Check ``raw`` against COMMON_SETTINGS + ``settings``; return it with defaults."""
        spec = {**COMMON_SETTINGS, **cls.settings}
        unknown = sorted(set(raw) - set(spec))
        if unknown:
            from balancecli.core.suggest import closest

            near = closest(unknown[0], spec)
            known = f"did you mean {near!r}?" if near else f"valid: {', '.join(sorted(spec))}"
            raise SettingError(
                f"unknown setting {unknown[0]!r} for broker {cls.name}; {known}",
                profile=profile, setting=unknown[0], suggestion=near, unknown=True,
                next_step=f"edit profile {profile!r} in the config file",
            )
        result: dict[str, Any] = {}
        for key, setting in spec.items():
            if key not in raw:
                if setting.required:
                    raise SettingError(
                        f"missing setting {key!r} (broker {cls.name})",
                        profile=profile, setting=key, missing=True,
                        suggestion=setting.example or (setting.choices or (None,))[0],
                        next_step=f"add {key} = ... to [profiles.{profile}] in the config file",
                    )
                result[key] = setting.default
                continue
            result[key] = _checked(profile, key, raw[key], setting)
        return result

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.profile = ctx.profile
        # account id -> age in seconds of data older than the profile allows, read because
        # the run allows stale data (``Context.allow_stale``); the output marks those rows.
        self.stale: dict[str, float] = {}

    def accounts(self) -> list[Account]:
        """Every account the credentials give access to (``checked_accounts`` enforces that
        ids are unique). Raises a ``core.errors`` class for the whole profile."""
        raise NotImplementedError

    def balances(self, accounts: Iterable[Account]) -> Result:
        """A ``Balance`` per account (or per currency view of one). An account that fails is
        an error of that account in ``Result.errors``; the others are still returned."""
        raise NotImplementedError

    def assets(self, accounts: Iterable[Account]) -> Result:
        """An ``Asset`` per asset or currency each account holds; failures as ``balances``."""
        raise NotImplementedError

    def snapshot(self, accounts: Iterable[Account]) -> tuple[Result, Result]:
        """Balances and assets of ``accounts``. Override it when one set of responses carries
        both, so that ``snapshot`` asks the broker once."""
        accounts = list(accounts)
        return self.balances(accounts), self.assets(accounts)

    def checked_accounts(self) -> tuple[list[Account], list[BalanceCliError]]:
        """``accounts()`` with the contract enforced for every broker: an id that occurs more
        than once in one response is a bad_response of that account (which row would be right
        cannot be known), never "last one wins"; so is an id of ``.`` or ``..``, which no
        percent-encoding keeps a server from reading as a step of the URL path
        (``/accounts/../info``)."""
        accounts = self.accounts()
        counts = Counter(a.account_id for a in accounts)
        if all(n == 1 and i not in (".", "..") for i, n in counts.items()):
            return accounts, []
        errors = [self.fail(BadResponseError(
            f"the account list names this account {n} times"), account_id)
            for account_id, n in counts.items() if n > 1]
        errors += [self.fail(BadResponseError(
            f"the account id {account_id!r} cannot be used in a URL path"), account_id)
            for account_id, n in counts.items() if n == 1 and account_id in (".", "..")]
        return [a for a in accounts if counts[a.account_id] == 1
                and a.account_id not in (".", "..")], errors

    def probe(self) -> Probe:
        """``doctor``'s request: the account list; when that cost no request (an API without
        one), the balance of the first account, so that the credentials meet the broker."""
        accounts = self.accounts()
        probe = Probe(accounts)
        if self.ctx.http.request_count == 0 and accounts:
            probe.errors = self.balances(accounts[:1]).errors
        return probe

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

    def skip(self, account: Account, reason: str) -> Skipped:
        return Skipped(self.profile, self.name, account.account_id, reason)


def _checked(profile: str, key: str, value: Any, setting: Setting) -> Any:
    """``value`` when ``setting`` takes it; else a SettingError saying what it takes."""
    if not isinstance(value, setting.type) or isinstance(value, bool) and setting.type in (
        int, (int, float)
    ):
        kinds = setting.type if isinstance(setting.type, tuple) else (setting.type,)
        raise SettingError(
            f"setting {key!r} must be {in_words(kinds)}, got {value!r}",
            profile=profile, setting=key,
            next_step=f"fix {key} in [profiles.{profile}] of the config file",
        )
    _check_range(profile, key, value, setting)
    if setting.choices and value not in setting.choices:
        from balancecli.core.suggest import closest

        raise SettingError(
            f"setting {key!r} must be one of {', '.join(setting.choices)}, got {value!r}",
            profile=profile, setting=key,
            suggestion=closest(str(value), setting.choices) or setting.choices[0],
            next_step=f"fix {key} in [profiles.{profile}] of the config file",
        )
    return value


# The types of settings, in words: a message never names a Python class.
_KINDS: dict[type, str] = {str: "text", int: "a whole number", float: "a number",
                           bool: "true or false", list: "a list", dict: "a table"}


def in_words(kinds: tuple[type, ...]) -> str:
    """``a whole number or a number`` for the types a setting takes (``(int, float)``: "a
    number")."""
    if set(kinds) == {int, float}:
        return "a number"
    return " or ".join(_KINDS.get(kind, "a value") for kind in kinds)


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
        raise SettingError(
            f"setting {key!r} must be {problem}, got {value!r}"
            + (f" ({setting.help})" if setting.help else ""),
            profile=profile, setting=key,
            next_step=f"fix {key} in [profiles.{profile}] of the config file",
        )
