"""Runs the brokers' calls concurrently and collects rows and errors.

Profiles run in parallel threads; inside a profile the broker parallelises its independent
requests (``Context.parallel``). Wall time is the longest chain of dependent requests of one
profile, not the sum. A failing profile or account becomes an error entry; the rest still print.

What happens during a fetch is told to one ``Listener`` (the presenter of the command, or a
``Relay`` of plain functions): each profile's rows as soon as it and those before it are done,
which profiles are still running, warnings, ``-v`` lines, and questions to the user.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from typing import Any, Protocol

from balancecli.brokers.base import Context, Result, Skipped
from balancecli.config import Profile
from balancecli.core import interrupt
from balancecli.core.errors import AuthError, BadResponseError, BalanceCliError, ConfigError
from balancecli.credentials import Keyring, Secrets
from balancecli.net.deadline import RUN, OutOfTime
from balancecli.net.http import HttpClient
from balancecli.net.limiter import RateLimit
from balancecli.net.wire import MAX_RESPONSE_BYTES

COMMANDS = ("accounts", "balance", "assets", "snapshot")


@dataclass
class Batch:
    """One profile's part of a fetch: the rows of the command (accounts, balances or assets;
    ``snapshot``: balances) and, for ``snapshot``, the asset rows from the same responses."""

    profile: Profile
    rows: list[Any] = field(default_factory=list)
    assets: list[Any] = field(default_factory=list)
    errors: list[BalanceCliError] = field(default_factory=list)
    ok: bool = True  # no error at all
    skipped: list[Skipped] = field(default_factory=list)  # accounts the broker serves no data for
    stale: dict[str, float] = field(default_factory=dict)  # account id -> age (--allow-stale)


class Listener(Protocol):
    """Who is told what a fetch does. ``profile_done`` is called in the calling thread, in
    profile order; the others from the worker threads, at any time."""

    def profile_done(self, batch: Batch) -> None:
        """A profile finished (and every profile before it): its rows, assets and errors."""

    def pending(self, names: Sequence[str]) -> None:
        """The profiles still running, after one finished."""

    def warning(self, message: str) -> None:
        """Something the user should know (an urgent one is a ``str`` with a ``key``)."""

    def log(self, line: str) -> None:
        """One ``-v`` line (an HTTP request); only called with ``Options.verbose``."""

    def prompt(self, question: str) -> str:
        """Ask the user (ETNA's second factor); only called with ``Options.interactive`` and
        ``can_ask``."""

    @property
    def can_ask(self) -> bool:
        """Whether ``prompt`` can put a question to someone."""


@dataclass
class Relay:
    """A ``Listener`` made of plain functions, each optional (doctor, ``auth``, tests)."""

    warn: Callable[[str], None] | None = None
    log_line: Callable[[str], None] | None = None
    ask: Callable[[str], str] | None = None
    done: Callable[[Batch], None] | None = None
    waiting: Callable[[Sequence[str]], None] | None = None

    def profile_done(self, batch: Batch) -> None:
        if self.done is not None:
            self.done(batch)

    def pending(self, names: Sequence[str]) -> None:
        if self.waiting is not None:
            self.waiting(names)

    def warning(self, message: str) -> None:
        if self.warn is not None:
            self.warn(message)

    def log(self, line: str) -> None:
        if self.log_line is not None:
            self.log_line(line)

    def prompt(self, question: str) -> str:
        if self.ask is None:
            raise AuthError("a question to answer, and no terminal to ask on")
        return self.ask(question)

    @property
    def can_ask(self) -> bool:
        return self.ask is not None


@dataclass
class Options:
    command: str = "balance"
    account_ids: list[str] = field(default_factory=list)
    currency: str | None = None
    timeout: float = 15.0
    listener: Listener = field(default_factory=Relay)
    verbose: bool = False  # tell the listener each HTTP request
    interactive: bool = False  # the listener may ask the user
    presets: dict[str, dict[str, Any]] | None = None  # demo mode: secrets without a keyring
    debug: bool = False
    # --demo: (balances-or-rows, assets) as fetched -> as shown, the demo's amounts moved to
    # this moment (demo.past.Motion); it needs an account's balances and assets together.
    moved: Callable[[list[Any], list[Any]], tuple[list[Any], list[Any]]] | None = None
    allow_stale: bool | None = None  # Context.allow_stale

    @property
    def log(self) -> Callable[[str], None] | None:
        """What an ``HttpClient`` takes as ``log``: the listener's, or None without -v."""
        return self.listener.log if self.verbose else None


@dataclass
class Outcome:
    rows: list[Any] = field(default_factory=list)
    errors: list[BalanceCliError] = field(default_factory=list)
    profiles_ok: int = 0
    matched_accounts: set[str] = field(default_factory=set)
    assets: list[Any] = field(default_factory=list)  # command "snapshot": the asset rows
    skipped: list[Skipped] = field(default_factory=list)  # accounts the broker serves no data for

    @property
    def anything_succeeded(self) -> bool:
        return bool(self.rows) or self.profiles_ok > 0


def make_secrets(profile: Profile, options: Options) -> Secrets:
    required = profile.broker_class.secret_spec(profile.settings)
    warn = options.listener.warning
    if options.presets is not None:
        return Secrets(profile.name, required, env={},
                       preset=options.presets.get(profile.name, {}), warn=warn)
    return Secrets(profile.name, required, keyring=Keyring(), warn=warn)


def limits_of(profile: Profile) -> RateLimit:
    """The broker's documented limits, with the profile's ``max_concurrency`` as ceiling."""
    limits: RateLimit = profile.broker_class.limits
    ceiling = profile.settings.get("max_concurrency")
    if ceiling is None:  # validated (>= 1) with the config
        return limits
    return dataclasses.replace(limits, ceiling=ceiling, start=min(limits.start, ceiling))


def make_context(profile: Profile, options: Options, secrets: Secrets | None = None) -> Context:
    s = profile.settings
    limits = limits_of(profile)
    http = HttpClient(
        profile.name,
        timeout=s.get("timeout") or options.timeout,
        max_retries=s.get("max_retries", 3),
        retry_backoff=s.get("retry_backoff", 0.5),
        retry_budget=s.get("retry_budget", 30),
        log=options.log,
        limits=limits,
        max_response_bytes=s.get("max_response_bytes") or MAX_RESPONSE_BYTES,
    )
    return Context(
        profile=profile.name,
        settings=s,
        secrets=secrets or make_secrets(profile, options),
        http=http,
        currency=options.currency,
        interactive=options.interactive,
        prompt=(options.listener.prompt if options.interactive and options.listener.can_ask
                else None),
        warn=options.listener.warning,
        max_workers=limits.ceiling,
        allow_stale=options.allow_stale,
    )


def wanted(profile: Profile, account_id: str, options: Options) -> bool:
    allowed = profile.settings.get("accounts")
    if allowed and account_id not in allowed:
        return False
    return not options.account_ids or account_id in options.account_ids


def _check_filter_matches(profile: Profile, found: list[Any]) -> None:
    """The profile's ``accounts`` setting names no account the broker lists: a config error
    naming the ids there are (a silent empty run would look like an empty account)."""
    allowed = profile.settings.get("accounts")
    if not allowed or any(a.account_id in allowed for a in found):
        return
    ids = [a.account_id for a in found]
    listed = ", ".join(ids[:20]) + (f" and {len(ids) - 20} more" if len(ids) > 20 else "")
    raise ConfigError(
        f"no account matches setting 'accounts' ({', '.join(map(str, allowed))}); the "
        f"broker lists: {listed or 'none'}",
        next_step=f"fix accounts in [profiles.{profile.name}] of the config file")


def fetch_profile(profile: Profile, options: Options) -> tuple[Result, bool, set[str]]:
    """One profile: accounts, filtered, then balances or assets (or both, from one set of
    responses, for ``snapshot``). Returns (result, ok, ids)."""
    ctx = make_context(profile, options)
    broker = profile.broker_class(ctx)
    try:
        found, rejected = broker.checked_accounts()
        accounts = [a for a in found if wanted(profile, a.account_id, options)]
        # An error without an account id is about the profile's source as a whole (part of
        # it is down), as when accounts() raises: no account filter can drop it.
        rejected = [e for e in rejected
                    if e.account_id is None or wanted(profile, e.account_id, options)]
        if not accounts and not rejected:
            _check_filter_matches(profile, found)
        ids = {a.account_id for a in accounts} | {e.account_id for e in rejected if e.account_id}
        if options.command == "accounts":
            result = Result(rows=list(accounts))
        elif not accounts:
            result = Result()
        elif options.moved is not None:
            result = _moved(broker, accounts, options)
        elif options.command == "balance":
            result = broker.balances(accounts)
        elif options.command == "snapshot":
            result = _snapshot(broker, accounts)
        else:
            result = broker.assets(accounts)
        _log_skipped(profile.name, result.skipped, options)
        result.errors[:0] = rejected
        for error in result.errors:
            error.bind(profile=profile.name, broker=profile.broker)
        result.stale = {k: v for k, v in broker.stale.items() if k in ids}
        return result, not result.errors, ids
    finally:
        ctx.http.close()


def _snapshot(broker: Any, accounts: list[Any]) -> Result:
    """Balances (``rows``) and assets from one set of responses, each error once."""
    balances, assets = broker.snapshot(accounts)
    seen = {(e.account_id, e.kind, e.message) for e in balances.errors}
    return Result(rows=balances.rows, assets=assets.rows, errors=balances.errors + [
        e for e in assets.errors if (e.account_id, e.kind, e.message) not in seen],
        skipped=balances.skipped)


def _moved(broker: Any, accounts: list[Any], options: Options) -> Result:
    """A demo fetch: balances and assets fetched and moved together (a cash account stays
    still only when its balance is seen), then the command's part of them."""
    both = _snapshot(broker, accounts)
    assert options.moved is not None
    rows, held = options.moved(both.rows, both.assets)
    if options.command == "snapshot":
        return Result(rows=rows, assets=held, errors=both.errors, skipped=both.skipped)
    return Result(rows=held if options.command == "assets" else rows, errors=both.errors,
                  skipped=both.skipped)


def _log_skipped(profile: str, skipped: list[Skipped], options: Options) -> None:
    """One ``-v`` line per reason: the accounts left out (they are no error)."""
    if options.log is None or not skipped:
        return
    reasons: dict[str, list[str]] = {}
    for entry in skipped:
        reasons.setdefault(entry.reason, []).append(entry.account_id)
    for reason, ids in reasons.items():
        options.log(f"{profile}: left out {', '.join(ids)}: {reason}")


# After --max-time passes, how long a profile's requests (stopped at that moment) have to
# report what they fetched before the profile counts as unfinished.
GRACE = 1.0


def in_threads(fn: Callable[[Any], Any], items: Sequence[Any], *, workers: int,
               name: str) -> list[Future[Any]]:
    """``fn(item)`` for each item, at most ``workers`` at once, in daemon threads: a run whose
    ``--max-time`` passed ends without waiting for a thread blocked outside HTTP (a keyring
    call, the profile lock, both bounded but long), which a ThreadPoolExecutor would join at
    exit."""
    futures: list[Future[Any]] = [Future() for _ in items]
    queue = iter(list(zip(items, futures, strict=True)))
    lock = threading.Lock()

    def work() -> None:
        while True:
            with lock:
                item, future = next(queue, (None, None))
            if future is None:
                return
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fn(item))
            except BaseException as exc:  # noqa: BLE001 - handed to the waiting thread
                future.set_exception(exc)

    for _ in range(min(workers, len(items))):
        threading.Thread(target=work, name=name, daemon=True).start()
    return futures


def by_deadline(future: Future[Any]) -> tuple[bool, Any]:
    """(True, its result) once ``future`` is done, or (False, None) when the run's
    ``--max-time`` (and ``GRACE``) passed first; a pending one is cancelled then."""
    left = RUN.left()
    try:
        return True, future.result(timeout=None if left == float("inf") else left + GRACE)
    except FutureTimeout:
        future.cancel()
        return False, None


def run(profiles: list[Profile], options: Options) -> Outcome:
    """Fetch every profile concurrently; the listener gets each profile's ``Batch`` as soon as
    that profile and those before it are done (profile order), so output can stream. When the
    run's ``--max-time`` passes, each profile not done by then is one ``unavailable`` error."""
    outcome = Outcome()
    if not profiles:
        return outcome
    listener = options.listener
    waiting = [p.name for p in profiles]
    waiting_lock = threading.Lock()
    gave_up = threading.Event()

    def one(profile: Profile) -> tuple[Result, bool, set[str]]:
        try:
            return _one(profile, options)
        finally:
            with waiting_lock:
                waiting.remove(profile.name)
                left = list(waiting)
            if not gave_up.is_set():
                listener.pending(left)

    futures = in_threads(one, profiles, workers=16, name="bc-prof")
    try:
        for profile, future in zip(profiles, futures, strict=True):
            done, found = by_deadline(future)
            result, ok, ids = found if done else (Result(errors=[OutOfTime()]), False, set())
            if RUN.passed():
                result = _one_line_for_the_deadline(result)
                gave_up.set()
            for error in result.errors:
                error.bind(profile=profile.name, broker=profile.broker)
            outcome.rows.extend(result.rows)
            outcome.assets.extend(result.assets)
            outcome.skipped.extend(result.skipped)
            outcome.errors.extend(result.errors)
            outcome.profiles_ok += int(ok)
            outcome.matched_accounts |= ids
            listener.profile_done(Batch(profile, result.rows, result.assets, result.errors, ok,
                                        result.skipped, result.stale))
    except BaseException as exc:
        # Ctrl-C, a reader gone (`| head`), --debug re-raising: never wait for requests in
        # flight; for the first two, stop them too (the process ends now).
        gave_up.set()
        if isinstance(exc, (KeyboardInterrupt, BrokenPipeError)):
            interrupt.cancel()
        for future in futures:
            future.cancel()
        raise
    return outcome


def _one_line_for_the_deadline(result: Result) -> Result:
    """A profile's result after --max-time: its requests that the deadline stopped (each
    account's, each batch's) make one error of the profile; its rows stay."""
    stopped = [e for e in result.errors if isinstance(e, OutOfTime)]
    if not stopped:
        return result
    others = [e for e in result.errors if not isinstance(e, OutOfTime)]
    return dataclasses.replace(result, errors=[*others, OutOfTime()])


def _one(profile: Profile, options: Options) -> tuple[Result, bool, set[str]]:
    """``fetch_profile``, its failure an error of the profile rather than of the run."""
    try:
        return fetch_profile(profile, options)
    except BalanceCliError as exc:
        exc.bind(profile=profile.name, broker=profile.broker)
        return Result(errors=[exc]), False, set()
    except (KeyError, TypeError, AttributeError, IndexError, ValueError, ArithmeticError,
            RecursionError) as exc:
        # A payload of an unexpected shape that a parser did not anticipate.
        if options.debug:
            raise
        error = BadResponseError(f"unexpected response shape ({_shape_problem(exc)})")
        error.bind(profile=profile.name, broker=profile.broker)
        return Result(errors=[error]), False, set()


def _shape_problem(exc: Exception) -> str:
    """What a parser tripped on, in words: an error never names a Python class (nor quotes
    one: a TypeError's text does)."""
    if isinstance(exc, KeyError) and exc.args and isinstance(exc.args[0], str):
        return f"no field {exc.args[0][:60]!r}"
    for kind, words in ((KeyError, "a field is missing"), (IndexError, "a list is too short"),
                        (RecursionError, "nested too deeply"),
                        (ArithmeticError, "a number out of range"),
                        (ValueError, "a value that cannot be read")):
        if isinstance(exc, kind):
            return words
    return "a value of an unexpected kind"
