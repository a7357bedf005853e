"""Quantower: the accounts exported by the BalanceCliBridge Strategy (DESIGN.md §3 and §7).

Sources: seed ``000_ef36f2bc59536189.txt`` (Quantower KB "Access to crypto account and balances":
Account Id/Name/AccountCurrency/Balance "available balance"/ConnectionId/AdditionalInfo,
CryptoAccount.Balances of CryptoAssetBalances); ``shared/reference/brokers.md`` §4.

- No network API: Quantower has only its in-process C# API (brokers.md §4.1). The user runs our
  C# Strategy (``balancecli quantower bridge`` prints it), which writes the
  ``balancecli.quantower/1`` document to a file and/or serves it on ``http://127.0.0.1:PORT/``.
- Auth: none for a file; for an http source ``Authorization: Bearer <TOKEN>`` (the token the user
  generated and gave the Strategy). The bridge listens on loopback only, so only loopback URLs
  are accepted.
- Rate limits: none; the export is read once per run and cached in the instance.
- Quirks: numbers are C# doubles written with round-trip precision ("R": ``0.30000000000000004``,
  ``1E-08``) and kept digit for digit; NaN/Infinity arrive as null. ``Id`` is unique only per
  connection (brokers.md §4.2): an Id that repeats in one export becomes ``ConnectionId:Id``.
  AccountCurrency may be null (§4.4). An export older than ``max_age`` means the Strategy stopped
  (Quantower closed, or the connection dropped): the profile fails as stale.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from balancecli.brokers.base import Broker, Result, Setting
from balancecli.brokers.payload import kind
from balancecli.config import is_loopback
from balancecli.errors import (
    AuthError,
    BadResponseError,
    BrokerError,
    ConfigError,
    StaleError,
    UnavailableError,
)
from balancecli.http import status_error
from balancecli.limiter import RateLimit
from balancecli.models import Account, extra_from, loads, to_decimal

FORMAT = "balancecli.quantower/1"
ACCOUNT_KEYS = frozenset({"Id", "Name", "AccountCurrency", "Balance", "AdditionalInfo", "Balances"})
ASSET_FIELDS = {
    "total": "TotalBalance", "available": "AvailableBalance", "reserved": "ReservedBalance",
    "value_usd": "TotalInUSD", "value_btc": "TotalInBTC",
}
ASSET_KEYS = frozenset({"AssetId", *ASSET_FIELDS.values()})
NOT_RUNNING = "the BalanceCliBridge Strategy may not be running in Quantower"
START = ("start BalanceCliBridge in Quantower's Strategies manager; to install it, run: "
         "balancecli quantower bridge")


def _is_url(source: Any) -> bool:
    return isinstance(source, str) and source.strip().lower().startswith(("http://", "https://"))


@dataclass
class _Entry:
    account: Account
    balance: Decimal | None  # Account.Balance: "available balance" (seed 000)
    coins: list[dict[str, Any]] | None  # CryptoAccount.Balances


class Quantower(Broker):
    name = "quantower"
    # One request per profile to a loopback bridge (or none: a file).
    limits = RateLimit(start=2, ceiling=4)
    settings = {
        "source": Setting(str, required=True,
                          help="export file path, or http://127.0.0.1:PORT/ of the bridge"),
        "max_age": Setting((int, float), 600, help="seconds; older exports are stale; 0: off"),
    }

    @classmethod
    def secret_fields(cls, settings: dict[str, Any]) -> tuple[str, ...]:
        return ("TOKEN",) if _is_url(settings.get("source")) else ()

    @classmethod
    def validate(cls, profile: str, raw: dict[str, Any]) -> dict[str, Any]:
        result = super().validate(profile, raw)
        source = result["source"] = result["source"].strip()
        url_ok = is_loopback(urlsplit(source).hostname) if _is_url(source) else (
            source != "" and ("://" not in source or source.lower().startswith("file://")))
        if not url_ok:
            raise ConfigError(
                "setting 'source' must be a file path or a URL on 127.0.0.1 (the bridge "
                f"listens on loopback only), got {source!r}", profile=profile,
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
        self._export: tuple[str, dict[str, _Entry]] | None = None

    def accounts(self) -> list[Account]:
        _, entries = self._load()
        return [entry.account for entry in entries.values()]

    def balances(self, accounts: Iterable[Account]) -> Result:
        as_of, entries = self._load()
        result = Result()
        for account in accounts:
            entry = entries[account.account_id]
            result.rows.append(self.balance(entry.account, as_of=as_of, available=entry.balance,
                                            extra=dict(entry.account.extra)))
        return result

    def assets(self, accounts: Iterable[Account]) -> Result:
        _, entries = self._load()
        result = Result()
        for account in accounts:
            entry = entries[account.account_id]
            if not entry.coins:
                # A plain Account: its currency and Balance (the available balance).
                result.rows.append(self.asset(entry.account, entry.account.currency,
                                              available=entry.balance))
                continue
            for coin in entry.coins:
                values = {k: coin.get(v) for k, v in ASSET_FIELDS.items()}
                result.rows.append(self.asset(entry.account, coin["AssetId"],
                                              extra=extra_from(coin, ASSET_KEYS), **values))
        return result

    # -- reading the export (once per run)
    def _load(self) -> tuple[str, dict[str, _Entry]]:
        with self._lock:
            if self._export is None:
                raw = self._read_http() if _is_url(self.source) else self._read_file()
                try:
                    document = loads(raw)
                except BadResponseError as exc:
                    raise BadResponseError(
                        f"the Quantower export {self._where()} is not valid: {exc.message}"
                    ) from None
                self._export = self._parse(document)
            return self._export

    def _where(self) -> str:
        return self.source if _is_url(self.source) else str(self._path())

    def _path(self) -> Path:
        file_url = self.source.lower().startswith("file://")
        return Path(unquote(urlsplit(self.source).path) if file_url else self.source).expanduser()

    def _read_file(self) -> bytes:
        path = self._path()
        try:
            return path.read_bytes()
        except FileNotFoundError:
            raise UnavailableError(f"no Quantower export at {path}: {NOT_RUNNING} (or writes "
                                   "to another path)", next_step=START) from None
        except OSError as exc:
            raise UnavailableError(f"cannot read the Quantower export {path}: {exc.strerror}",
                                   next_step=f"check the file and the source setting of "
                                             f"profile {self.profile}") from None

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

    # -- the document (DESIGN.md §7)
    def _parse(self, document: Any) -> tuple[str, dict[str, _Entry]]:
        where = f"the Quantower export {self._where()}"
        if not isinstance(document, dict):
            raise BadResponseError(f"{where} is {kind(document)}, expected an object")
        fmt = document.get("Format")
        if fmt != FORMAT:
            raise BadResponseError(
                f"{where} has Format {fmt!r}; this balancecli reads {FORMAT!r}",
                next_step="update balancecli, or install the matching bridge: "
                          "balancecli quantower bridge")
        as_of = self._check_age(_parse_time(document.get("GeneratedAt"), where), where)
        accounts = document.get("Accounts")
        if not isinstance(accounts, list):
            raise BadResponseError(f"{where}: Accounts is {kind(accounts)}, expected a list")
        for i, item in enumerate(accounts):
            if not isinstance(item, dict):
                raise BadResponseError(f"{where}: Accounts[{i}] is {kind(item)}, "
                                       "expected an object")
            _text(item, "Id", f"{where}: Accounts[{i}]", required=True)
        counts = Counter(item["Id"].strip() for item in accounts)
        entries: dict[str, _Entry] = {}
        for i, item in enumerate(accounts):
            entry = self._parse_account(item, f"{where}: Accounts[{i}]", counts)
            entries.setdefault(entry.account.account_id, entry)
        return as_of, entries

    def _check_age(self, generated: datetime, where: str) -> str:
        as_of = generated.strftime("%Y-%m-%dT%H:%M:%SZ")
        age = (datetime.now(UTC) - generated).total_seconds()
        if self.max_age and age > self.max_age:
            raise StaleError(f"{where} is {_age_text(age)} old (GeneratedAt {as_of}, max_age "
                             f"{self.max_age:g} s): {NOT_RUNNING}", next_step=START)
        return as_of

    def _parse_account(self, item: dict[str, Any], where: str, counts: Counter) -> _Entry:
        raw_id = item["Id"].strip()
        where = f"{where} (Id {raw_id!r})"
        connection = _text(item, "ConnectionId", where)
        account_id = f"{connection or ''}:{raw_id}" if counts[raw_id] > 1 else raw_id
        _text(item, "ConnectionName", where)
        balance = _number(item, "Balance", where, required=True)
        coins = item.get("Balances")
        if coins is not None:
            if not isinstance(coins, list):
                raise BadResponseError(f"{where}: Balances is {kind(coins)}, expected a list")
            for j, coin in enumerate(coins):
                at = f"{where}: Balances[{j}]"
                if not isinstance(coin, dict):
                    raise BadResponseError(f"{at} is {kind(coin)}, expected an object")
                coin["AssetId"] = _text(coin, "AssetId", at, required=True)
                for key in ASSET_FIELDS.values():
                    coin[key] = _number(coin, key, at)
        extra = extra_from(item, ACCOUNT_KEYS)
        extra.update(
            (k, v) for k, v in _numeric_info(item.get("AdditionalInfo"), where).items()
            if k not in extra
        )
        account = self.account(
            account_id, name=_text(item, "Name", where), status=None, extra=extra,
            type="crypto" if coins is not None else None,
            currency=_text(item, "AccountCurrency", where),
        )
        return _Entry(account, balance, coins)


def _text(obj: dict[str, Any], key: str, where: str, *, required: bool = False) -> str | None:
    value = obj.get(key)
    if isinstance(value, str) and value.strip():
        return value.strip()
    if value is not None and not isinstance(value, str):
        raise BadResponseError(f"{where}: {key} is {kind(value)}, expected a string")
    if required:
        raise BadResponseError(f"{where}: {key} is missing")
    return None


def _number(obj: dict[str, Any], key: str, where: str, *, required: bool = False) -> Decimal | None:
    if required and key not in obj:
        raise BadResponseError(f"{where}: {key} is missing")
    value = obj.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, Decimal)):
        raise BadResponseError(f"{where}: {key} is {kind(value)}, expected a number")
    return to_decimal(value, name=key)


def _numeric_info(items: Any, where: str) -> dict[str, Any]:
    """The numeric AdditionalInfo items by Id (DESIGN.md §7); text items are not exported."""
    if items is None:
        return {}
    if not isinstance(items, list):
        raise BadResponseError(f"{where}: AdditionalInfo is {kind(items)}, expected a list")
    found: dict[str, Any] = {}
    for j, info in enumerate(items):
        if not isinstance(info, dict):
            raise BadResponseError(f"{where}: AdditionalInfo[{j}] is {kind(info)}, "
                                   "expected an object")
        key = _text(info, "Id", f"{where}: AdditionalInfo[{j}]", required=True)
        value = info.get("Value")
        if isinstance(value, (int, Decimal)) and not isinstance(value, bool):
            found.setdefault(key, to_decimal(value, name=key))
    return found


def _parse_time(value: Any, where: str) -> datetime:
    text = _text({"GeneratedAt": value}, "GeneratedAt", where, required=True)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise BadResponseError(f"{where}: GeneratedAt is not an ISO 8601 time: {text[:40]!r}") \
            from None
    # The bridge writes UTC with a Z; a time without an offset is read as UTC.
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)


def _age_text(seconds: float) -> str:
    s = int(seconds)
    if s < 120:
        return f"{s} s"
    return f"{s // 60} min" if s < 7200 else f"{s // 3600} h {s % 3600 // 60} min"
