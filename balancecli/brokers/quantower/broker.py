"""Quantower: the accounts exported by the BalanceCliBridge Strategy.

Sources: the Quantower KB page "Access to crypto account and balances"
(``quantower-algo/access-to-crypto-account-and-balances.md`` in ``Quantower/QuantowerKB``:
Account Id/Name/AccountCurrency/Balance "available balance"/ConnectionId/AdditionalInfo,
CryptoAccount.Balances of CryptoAssetBalances); the API reference,
https://api.quantower.com/docs/; the decompiled business layer
(``McNultyyy/Quantower.TradingPlatform.BusinessLayer``: ``Core.Accounts``, ``Account``).

- No network API: Quantower has only its in-process C# API. The user runs our C# Strategy
  (``balancecli quantower bridge`` prints it), which writes the ``balancecli.quantower/1``
  document to a file and/or serves it on ``http://127.0.0.1:PORT/``. ``Revision`` 2 (absent:
  1) adds ``Connections`` and an account's ``Error``; the Format text stays the same, so a
  reader of revision 1 still reads it, and this one reads both.
- Auth: none for a file; for an http source ``Authorization: Bearer <TOKEN>`` (the token the user
  generated and gave the Strategy). The bridge listens on loopback only, so only loopback URLs
  are accepted.
- Rate limits: none; the export is read once per run and cached in the instance.
- Quirks: numbers are C# doubles written with round-trip precision ("R": ``0.30000000000000004``,
  ``1E-08``, ``double.MaxValue`` = ``1.7976931348623157E+308``) and kept digit for digit, so
  exponents up to a double's ±324 are accepted here (other brokers: ±100); NaN/Infinity
  arrive as null. ``Id`` is unique only per connection: an Id that repeats in one export
  becomes ``ConnectionId:Id``. An export older than ``max_age`` means the Strategy stopped
  (Quantower closed): the profile fails as stale, unless the run allows stale data
  (``--allow-stale``: its accounts are then ``Broker.stale``, with the export's age, and one
  warning says so); one dated more than ``FUTURE_SKEW`` ahead is a bad response (a wrong
  clock or a forged file could otherwise never go stale).
- Connections: ``Core.Instance.Accounts`` lists only the accounts of connected connections
  (``Core.cs``: ``Connections.Connected.SelectMany(...)``), so a connection that drops takes its
  accounts out of a fresh export. Each connection that is not connected is one ``unavailable``
  error naming it and the accounts the bridge last saw on it. The bridge remembers those while
  it runs (it sees every export; a reader run from cron sees one in many, and the history store
  is not a broker's to read); after a restart of the Strategy they are not known until the
  connection comes back. A connection the bridge saw connected without accounts (market data
  only) is not an error.
- AccountCurrency may be null (Quantower's HitBTC integration never sets it, nor Balance:
  ``Quantower/Examples``, ``Integrations/HitBTCVendor/TradingVendor.cs``). A row has a null
  currency only when it carries no amount: such an account's balance row has none, and it has
  no asset row unless it lists ``Balances``. A Balance of 0 without a currency is that unset
  property (revision 1 bridges wrote it) and is read as null; another amount without a currency
  is that account's bad response, never a number in an unknown unit.
- An account the bridge could not read (``Error``: its ``Balances`` kept changing while being
  copied) is an ``unavailable`` error of that account. E-mail addresses in names are masked.
- A file source that another user can write is refused (POSIX), as is one not a regular file.

The field mapping is the ``FieldMap`` declarations below; the reader takes the export's field
names from them. ``doctor`` reports the export's age as a finding of its own (``probe``).
"""

from __future__ import annotations

import os
import stat
import threading
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from balancecli.brokers.base import Broker, Finding, Probe, ReportedRate, Result, Setting
from balancecli.brokers.mapping import FieldMap, From
from balancecli.brokers.payload import expiry_epoch, kind
from balancecli.brokers.quantower.export import (
    CONNECTED,
    NOT_BROKERS,
    Connection,
    check_writers,
    future_error,
    mask_emails,
    masked_extra,
    number,
    numeric_info,
    parse_connections,
    parse_time,
    text,
)
from balancecli.core.clock import span
from balancecli.core.errors import (
    AuthError,
    BadResponseError,
    BalanceCliError,
    BrokerError,
    ConfigError,
    StaleError,
    UnavailableError,
)
from balancecli.core.jsonread import loads
from balancecli.core.models import Account, Asset, Balance, extra_from
from balancecli.core.numbers import DOUBLE_EXPONENT
from balancecli.core.secretfields import SecretFields
from balancecli.net.http import status_error
from balancecli.net.limiter import RateLimit
from balancecli.net.urls import is_loopback, parse_url, without_userinfo

FORMAT = "balancecli.quantower/1"
FUTURE_SKEW = 300  # seconds an export may be dated ahead of this machine's clock
DEFAULT_CAP = 16 * 1024 * 1024  # bytes; the profile's max_response_bytes overrides
EXPORT = ("the BalanceCliBridge export (balancecli.quantower/1): a file, or "
          "GET http://127.0.0.1:PORT/")
KB_PAGE = "Quantower/QuantowerKB:quantower-algo/access-to-crypto-account-and-balances.md"
ACCOUNTS = FieldMap(Account, EXPORT, KB_PAGE, each="Accounts", fields={
    "account_id": From("Id", note="ConnectionId:Id when the Id repeats within one export"),
    "name": "Name",
    "type": From(value="crypto", note="when the account has Balances, else null"),
    "currency": "AccountCurrency",
})
BALANCES = FieldMap(
    Balance, EXPORT, "https://api.quantower.com/docs/TradingPlatform.BusinessLayer.Account.html",
    each="Accounts", rows="one per account", fields={
        "currency": From(note="the account's AccountCurrency"),
        "as_of": From("GeneratedAt", note="of the export document"),
        "available": From("Balance", note="documented as the available balance"),
    })
COINS = FieldMap(
    Asset, EXPORT,
    "https://api.quantower.com/docs/TradingPlatform.BusinessLayer.CryptoAssetBalances.html",
    each="Balances", rows="one per Balances item of a crypto account", fields={
        "asset": "AssetId",
        "total": "TotalBalance",
        "available": "AvailableBalance",
        "reserved": "ReservedBalance",
        "value_usd": "TotalInUSD",
        "value_btc": "TotalInBTC",
    })
PLAIN = FieldMap(Asset, EXPORT, KB_PAGE, rows="one per account without Balances", fields={
    "asset": "AccountCurrency",
    "available": "Balance",
})
# The broker fields the reader below takes, by their declarations above.
ID, NAME, CURRENCY = ACCOUNTS.key("account_id"), ACCOUNTS.key("name"), ACCOUNTS.key("currency")
BALANCE, BALANCES_LIST, ASSET_ID = BALANCES.key("available"), str(COINS.each), COINS.key("asset")
ASSET_FIELDS = COINS.amount_keys()
ASSET_KEYS = COINS.used
ACCOUNT_KEYS = ACCOUNTS.used | {BALANCE, BALANCES_LIST, "AdditionalInfo"}
NOT_RUNNING = "the BalanceCliBridge Strategy may not be running in Quantower"
START = ("start BalanceCliBridge in Quantower's Strategies manager; to install it, run: "
         "balancecli quantower bridge")


def _export_age(as_of: str, max_age: float | None) -> Finding:
    age = time.time() - (expiry_epoch(as_of) or 0.0)
    detail = f"written {span(age)} ago (GeneratedAt {as_of}"
    if not max_age:
        return Finding("export age", True, detail + "; max_age 0: not checked)")
    if age <= max_age:
        return Finding("export age", True, detail + f"; max_age {max_age:g} s)")
    return Finding("export age", False, detail + f", older than max_age {max_age:g} s): the "
                   "BalanceCliBridge Strategy may not be running", "stale",
                   "start BalanceCliBridge in Quantower's Strategies manager")


def _is_url(source: Any) -> bool:
    return isinstance(source, str) and source.strip().lower().startswith(("http://", "https://"))


@dataclass
class _Entry:
    account: Account
    balance: Decimal | None  # Account.Balance: "available balance" (Quantower KB)
    coins: list[dict[str, Any]] | None  # CryptoAccount.Balances
    problem: str | None = None  # why its Balance cannot be reported


@dataclass
class _Export:
    as_of: str
    entries: dict[str, _Entry]
    failed: list[tuple[str, BalanceCliError]]  # (account id, error): accounts the bridge lost
    connections: list[Connection]


# Where a user finds what ``auth login`` asks for: the token typed into the bridge Strategy's
# settings in Quantower (the bridge's install steps, ``balancecli quantower bridge``).
FOUND_AT = {"TOKEN": "the Token you set in the balancecli bridge Strategy's settings in "
                     "Quantower"}


class Quantower(Broker):
    name = "quantower"
    # One request per profile to a loopback bridge (or none: a file).
    limits = RateLimit(start=2, ceiling=4)
    settings = {
        "source": Setting(str, required=True, where=True,
                          help="export file path, or http://127.0.0.1:PORT/ of the bridge",
                          example="~/quantower/balancecli-export.json"),
        "max_age": Setting((int, float), 600, help="seconds; older exports are stale; 0: off"),
    }

    # -- declarations: secrets, field mappings, the values it reports ----------------------
    title = "Quantower"
    field_maps = (ACCOUNTS, BALANCES, COINS, PLAIN)
    remote_clock = False  # the bridge runs on this machine: no clock of its own to compare
    # Amounts are C# doubles written with round-trip precision ("R": 2.3000000000000003): a
    # double carries 15 significant decimal digits (IEEE 754 binary64, DBL_DIG).
    significant_digits = 15

    @classmethod
    def secret_spec(cls, settings: dict[str, Any]) -> SecretFields:
        # An http source: the bearer token the user gave the Strategy (it does not expire).
        return SecretFields(required=("TOKEN",) if _is_url(settings.get("source")) else (),
                            found_at=FOUND_AT)

    @classmethod
    def reported_rates(cls, balances: Sequence[Balance],
                       assets: Sequence[Asset]) -> list[ReportedRate]:
        """Each coin's USD rate: TotalInUSD / TotalBalance of its asset row."""
        return [ReportedRate(a.profile, a.account_id, a.asset.upper(), "USD", a.value_usd,
                             a.total, field=COINS.key("value_usd"))
                for a in assets if a.value_usd is not None and a.total]

    @classmethod
    def valued_by_assets(cls, balance: Balance) -> bool:
        """A crypto account: its coins' USD values make its value (it has no equity)."""
        return balance.equity is None and balance.account_type == ACCOUNTS.source("type").value

    @classmethod
    def validate(cls, profile: str, raw: dict[str, Any]) -> dict[str, Any]:
        result = super().validate(profile, raw)
        source = result["source"] = result["source"].strip()
        url_ok = is_loopback(parse_url(profile, "source", source).hostname) if _is_url(
            source) else (source != "" and ("://" not in source
                                             or source.lower().startswith("file://")))
        if not url_ok:
            raise ConfigError(
                "setting 'source' must be a file path or a URL on 127.0.0.1 (the bridge "
                f"listens on loopback only), got {without_userinfo(source)!r}", profile=profile,
                next_step=f"fix source in [profiles.{profile}] of the config file")
        if result["max_age"] < 0:
            raise ConfigError("setting 'max_age' must be 0 (off) or a number of seconds",
                              profile=profile, next_step=f"fix max_age in [profiles.{profile}]")
        return result

    def __init__(self, ctx: Any) -> None:
        super().__init__(ctx)
        self.source: str = ctx.settings["source"]
        self.max_age = ctx.settings.get("max_age")
        self._lock = threading.Lock()
        self._export: _Export | None = None
        self._repeated: list[Account] = []
        self._stale_age: float | None = None  # --allow-stale: the age of a stale export

    def probe(self) -> Probe:
        """``doctor``'s request: the export read once (no request for a file), its accounts,
        and how old it is, judged here against ``max_age`` rather than failing the read."""
        max_age, self.max_age = self.max_age, 0
        accounts = self.accounts()
        probe = Probe(accounts, via=None if _is_url(self.source) else "read from the export file")
        if accounts:
            result = self.balances(accounts[:1])
            probe.errors = result.errors
            as_of = result.rows[0].as_of if result.rows else None
            if as_of is not None:
                probe.findings.append(_export_age(as_of, max_age))
        return probe

    def accounts(self) -> list[Account]:
        entries = self._load().entries
        return [entry.account for entry in entries.values()] + self._repeated

    def checked_accounts(self) -> tuple[list[Account], list[BalanceCliError]]:
        """Also the accounts the bridge could not read and the connections that are down:
        errors of this run, whatever the command (``accounts`` included)."""
        accounts, errors = super().checked_accounts()
        export = self._load()
        errors += [self.fail(error, account_id) for account_id, error in export.failed]
        errors += [self.fail(error) for error in self._connection_errors(export.connections)]
        return accounts, errors

    def balances(self, accounts: Iterable[Account]) -> Result:
        export = self._load()
        result = Result()
        for account in accounts:
            entry = export.entries[account.account_id]
            if entry.problem is not None:
                result.errors.append(self.fail(BadResponseError(
                    entry.problem, next_step=_NO_CURRENCY), account.account_id))
                continue
            result.rows.append(self.balance(entry.account, as_of=export.as_of,
                                            available=entry.balance,
                                            extra=dict(entry.account.extra)))
        return result

    def assets(self, accounts: Iterable[Account]) -> Result:
        entries = self._load().entries
        result = Result()
        for account in accounts:
            entry = entries[account.account_id]
            if not entry.coins:
                # A plain Account (or no coins): its currency and Balance; without a
                # currency there is no asset to name, and no amount (else: its problem).
                if entry.problem is not None:
                    result.errors.append(self.fail(BadResponseError(
                        entry.problem, next_step=_NO_CURRENCY), account.account_id))
                elif entry.account.currency is not None:
                    result.rows.append(self.asset(entry.account, entry.account.currency,
                                                  available=entry.balance))
                continue
            for coin in entry.coins:
                values = {k: coin.get(v) for k, v in ASSET_FIELDS.items()}
                result.rows.append(self.asset(entry.account, coin[ASSET_ID],
                                              extra=extra_from(coin, ASSET_KEYS), **values))
        return result

    def _connection_errors(self, connections: list[Connection]) -> list[BalanceCliError]:
        """One ``unavailable`` error per connection that is not connected and may hold
        accounts; with the profile's ``accounts`` filter, only those that held one of them."""
        wanted = self.ctx.settings.get("accounts")
        errors: list[BalanceCliError] = []
        for conn in connections:
            if conn.state == CONNECTED or conn.type in NOT_BROKERS or conn.accounts == ():
                continue
            if wanted and conn.accounts is not None and not any(
                    a in wanted or f"{conn.id}:{a}" in wanted for a in conn.accounts):
                continue
            errors.append(UnavailableError(
                f"Quantower connection {conn.label} is {conn.state}: {_held(conn.accounts)}",
                next_step="connect it again in Quantower (Connections), or remove it there "
                          "if it is no longer used"))
        return errors

    # -- reading the export (once per run)
    def _load(self) -> _Export:
        with self._lock:
            if self._export is None:
                raw = self._read_http() if _is_url(self.source) else self._read_file()
                try:
                    document = loads(raw, max_exponent=DOUBLE_EXPONENT)
                except BadResponseError as exc:
                    raise BadResponseError(
                        f"the Quantower export {self._where()} is not valid: {exc.message}"
                    ) from None
                self._export = self._parse(document)
            return self._export

    def _allowed_stale(self, age: float, where: str, as_of: str) -> None:
        """``--allow-stale``: the export is read; its accounts are marked with its age."""
        self._stale_age = age
        self.ctx.warn(f"{where} is {span(age)} old (GeneratedAt {as_of}, max_age "
                      f"{self.max_age:g} s): shown as it is (--allow-stale), marked stale")

    def _where(self) -> str:
        return self.source if _is_url(self.source) else str(self._path())

    def _path(self) -> Path:
        file_url = self.source.lower().startswith("file://")
        return Path(unquote(urlsplit(self.source).path) if file_url else self.source).expanduser()

    def _read_file(self) -> bytes:
        """The export file, at most ``max_response_bytes``. Only a regular file is read:
        ``/dev/zero`` never ends, and opening a FIFO blocks until someone writes to it."""
        path = self._path()
        try:
            if not stat.S_ISREG(path.stat().st_mode):
                raise ConfigError(
                    f"the Quantower source {path} is not a regular file",
                    next_step=f"point source in [profiles.{self.profile}] at the export file "
                              "the BalanceCliBridge Strategy writes")
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)
                         | getattr(os, "O_BINARY", 0))
            with os.fdopen(fd, "rb") as file:
                if not stat.S_ISREG(os.fstat(file.fileno()).st_mode):  # swapped meanwhile
                    raise ConfigError(f"the Quantower source {path} is not a regular file")
                check_writers(path, file.fileno(), self.profile)
                data = file.read(self._cap() + 1)
            if len(data) > self._cap():
                raise BadResponseError(
                    f"the Quantower export {path} is larger than {self._cap()} bytes",
                    next_step=f"raise max_response_bytes in [profiles.{self.profile}] if the "
                              "export is really that large")
            return data
        except ValueError:  # a NUL byte in the path
            raise ConfigError("the Quantower source is not a valid path",
                              next_step=f"fix source in [profiles.{self.profile}]") from None
        except FileNotFoundError:
            raise UnavailableError(f"no Quantower export at {path}: {NOT_RUNNING} (or writes "
                                   "to another path)", next_step=START) from None
        except OSError as exc:
            raise UnavailableError(f"cannot read the Quantower export {path}: {exc.strerror}",
                                   next_step=f"check the file and the source setting of "
                                             f"profile {self.profile}") from None

    def _cap(self) -> int:
        return self.ctx.settings.get("max_response_bytes") or DEFAULT_CAP

    def _read_http(self) -> bytes:
        token = self.ctx.secrets.require("TOKEN")
        try:
            response = self.ctx.http.request(
                "GET", self.source,
                headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            )
        except UnavailableError as exc:
            exc.message += f": {NOT_RUNNING} (or has no HTTP port)"
            exc.next_step = exc.next_step or START
            raise
        if response.status == 200:
            if len(response.content) > self._cap():
                raise BadResponseError(
                    f"the Quantower export at {self.source} is larger than {self._cap()} bytes")
            return response.content
        if response.status in (401, 403):
            raise AuthError(
                f"the Quantower bridge rejected the token (HTTP {response.status})",
                http_status=response.status,
                next_step=f"run: balancecli auth login {self.profile} (TOKEN must equal the "
                          "Strategy's 'HTTP bearer token' input)",
            )
        if response.status == 404:
            raise BrokerError(f"no export at {self.source} (HTTP 404)", http_status=404,
                              next_step=f"fix source in [profiles.{self.profile}]")
        raise status_error(response)

    # -- the document (balancecli.quantower/1)
    def _parse(self, document: Any) -> _Export:
        where = f"the Quantower export {self._where()}"
        if not isinstance(document, dict):
            raise BadResponseError(f"{where} is {kind(document)}, expected an object")
        fmt = document.get("Format")
        if fmt != FORMAT:
            raise BadResponseError(
                f"{where} has Format {fmt!r}; this balancecli reads {FORMAT!r}",
                next_step="update balancecli, or install the matching bridge: "
                          "balancecli quantower bridge")
        revision = _revision(document.get("Revision"), where)
        as_of = self._check_age(parse_time(document.get(BALANCES.key("as_of")), where), where)
        if revision >= 2 and "Connections" not in document:
            raise BadResponseError(f"{where}: Connections is missing (Revision {revision})")
        connections = (parse_connections(document["Connections"], where)
                       if revision >= 2 else [])
        accounts = document.get(ACCOUNTS.each)
        if not isinstance(accounts, list):
            raise BadResponseError(f"{where}: Accounts is {kind(accounts)}, expected a list")
        for i, item in enumerate(accounts):
            if not isinstance(item, dict):
                raise BadResponseError(f"{where}: Accounts[{i}] is {kind(item)}, "
                                       "expected an object")
            text(item, ID, f"{where}: Accounts[{i}]", required=True)
        counts = Counter(item[ID].strip() for item in accounts)
        export = _Export(as_of, {}, [], connections)
        for i, item in enumerate(accounts):
            at = f"{where}: Accounts[{i}]"
            if item.get("Error") is not None:
                export.failed.append(_failed(item, at, counts))
                continue
            entry = self._parse_account(item, at, counts)
            if entry.account.account_id in export.entries:
                # Even ConnectionId:Id repeats: which one is right cannot be known, so the
                # account fails as a bad response (Broker.checked_accounts), not first-wins.
                self._repeated.append(entry.account)
            else:
                export.entries[entry.account.account_id] = entry
        if self._stale_age is not None:
            self.stale = {account_id: self._stale_age for account_id in export.entries}
        return export

    def _check_age(self, generated: datetime, where: str) -> str:
        as_of = generated.strftime("%Y-%m-%dT%H:%M:%SZ")
        now = datetime.now(UTC)
        age = (now - generated).total_seconds()
        if age < -FUTURE_SKEW:
            raise future_error(generated, now, where)
        if self.max_age and age > self.max_age:
            if self.ctx.allow_stale:
                self._allowed_stale(age, where, as_of)
                return as_of
            anyway = "; to see this export as it is: --allow-stale" \
                if self.ctx.allow_stale is False else ""
            raise StaleError(f"{where} is {span(age)} old (GeneratedAt {as_of}, max_age "
                             f"{self.max_age:g} s): {NOT_RUNNING}", next_step=START + anyway)
        return as_of

    def _parse_account(self, item: dict[str, Any], where: str, counts: Counter[str]) -> _Entry:
        raw_id = item[ID].strip()
        where = f"{where} (Id {raw_id!r})"
        account_id = _account_id(item, where, counts)
        text(item, "ConnectionName", where)
        balance = number(item, BALANCE, where, required=True)
        coins = item.get(BALANCES_LIST)
        if coins is not None:
            if not isinstance(coins, list):
                raise BadResponseError(f"{where}: Balances is {kind(coins)}, expected a list")
            for j, coin in enumerate(coins):
                at = f"{where}: Balances[{j}]"
                if not isinstance(coin, dict):
                    raise BadResponseError(f"{at} is {kind(coin)}, expected an object")
                coin[ASSET_ID] = text(coin, ASSET_ID, at, required=True)
                for key in ASSET_FIELDS.values():
                    coin[key] = number(coin, key, at)
        extra = extra_from(item, ACCOUNT_KEYS)
        extra.update(
            (k, v) for k, v in numeric_info(item.get("AdditionalInfo"), where).items()
            if k not in extra
        )
        currency = text(item, CURRENCY, where)
        problem = None
        if currency is None and balance is not None:
            if balance == 0:
                balance = None  # the property nobody set (see the module docstring)
            else:
                problem = (f"Quantower reports a Balance of {balance} without an account "
                           "currency, so its unit is not known")
        account = self.account(
            account_id, name=mask_emails(text(item, NAME, where)), status=None,
            extra=masked_extra(extra),
            type=ACCOUNTS.source("type").value if coins is not None else None, currency=currency,
        )
        return _Entry(account, balance, coins, problem)


_NO_CURRENCY = ("its connection in Quantower does not say the account's currency (nothing to "
                "change in balancecli); the other accounts are not affected")


def _revision(value: Any, where: str) -> int:
    if value is None:
        return 1
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise BadResponseError(f"{where}: Revision is {value!r}, expected a positive integer")
    return value  # a later revision only adds to this one: read what is known


def _account_id(item: dict[str, Any], where: str, counts: Counter[str]) -> str:
    raw_id: str = item[ID].strip()
    connection = text(item, "ConnectionId", where)
    return f"{connection or ''}:{raw_id}" if counts[raw_id] > 1 else raw_id


def _failed(item: dict[str, Any], where: str, counts: Counter[str]) -> tuple[str, BalanceCliError]:
    """An account the bridge exported with ``Error`` instead of its balances."""
    where = f"{where} (Id {item[ID].strip()!r})"
    account_id = _account_id(item, where, counts)
    reason = mask_emails(text(item, "Error", where, required=True))
    return account_id, UnavailableError(
        f"the Quantower bridge could not read this account: {reason}",
        next_step="run again: the bridge exports every few seconds (if it keeps failing, see "
                  "the Strategy's log in Quantower)")


def _held(accounts: tuple[str, ...] | None, most: int = 5) -> str:
    if accounts is None:
        return ("its accounts are not in the export (which ones is not known: the bridge has not "
                "seen it connected since it started)")
    shown = ", ".join(accounts[:most]) + (f" and {len(accounts) - most} more"
                                          if len(accounts) > most else "")
    return (f"accounts {shown} are" if len(accounts) > 1 else f"account {shown} is") + \
        " not in the export"
