"""Exchange rates for ``--in CUR``: the config's rate settings and the lookup that picks a rate
with its provenance. The ECB file itself is read by ``balancecli.ecb``.

Rates are exact: each is a fraction ``num / den`` of Decimals parsed from the text of the CSV,
the config or the broker. A cross rate through EUR is ``(EUR→T) / (EUR→F)`` kept as a fraction,
so a value is ``amount × num / den``: one exact product, then one division, rounded at ``PREC``
significant digits only when it does not terminate. Rounding for display happens in renderers.

Order of preference for F→T (the first that gives a rate wins):
identity (F == T); the broker's own rates for that account; the config ``[rates]``; the ECB
(through EUR); a rate another account's broker reported in the same run (a rate known for a
currency is used for every account in it: Quantower's USDT quote values a USDT account that
has no assets, with the quote's provenance); two of these chained through one intermediate
currency (``"USDT/USD" = "1"`` then USD→EUR: source ``config`` when a config rate made it
possible, else ``broker``; its date the ECB day). Nothing else: a rate is never guessed.

``known_code`` is what ``--in`` accepts: an ISO 4217 code, a currency of the ECB file, or one
of the config's ``[rates]``.
"""

from __future__ import annotations

import decimal
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from balancecli.core.errors import ConfigError
from balancecli.money.ecb import DEFAULT_URL as DEFAULT_ECB_URL

if TYPE_CHECKING:
    from balancecli.money.ecb import EcbTable

DEFAULT_MAX_AGE_DAYS = 7
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
    demo: bool = False  # --demo: the bundled ECB file only (``rates update`` downloads nothing)


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


def known_code(code: str, settings: Settings) -> bool:
    """A currency ``--in`` can name: ISO 4217, the ECB file's, or the config ``[rates]``'s
    (a crypto code needs a config rate: its rate is never guessed)."""
    from balancecli.core.precision import minor_units

    if minor_units(code) is not None or any(code in pair for pair in settings.table):
        return True
    from balancecli.money.ecb import load_ecb

    table = load_ecb()
    return table is not None and code in table.known()


def load_settings(explicit: str | Path | None = None, *, demo: bool = False) -> Settings:
    """The rate settings of the config file (``--config``, ``BALANCECLI_CONFIG`` or the
    default path); ``--demo`` reads no config file, so it gets the defaults."""
    if demo:
        return Settings(demo=True)
    from balancecli.config import config_path, read_toml

    path = config_path(explicit)
    if not path.exists():  # history and rates work without a config file
        return Settings()
    return settings_from(read_toml(path), path)


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
    """The ``[ecb] url`` read by the one URL parser the download uses (``net.urls.split``)."""
    from balancecli.net.urls import BadUrl, secure, shown, split

    fix = f"fix [ecb] url in {path}"
    try:
        parts = split(url)
    except BadUrl as exc:
        raise ConfigError(f"[ecb] url in {path} is not a valid URL: {exc.reason}: {shown(url)}",
                          next_step=fix) from None
    if not secure(parts):
        raise ConfigError(f"[ecb] url in {path} must be an https:// URL (plain http only on "
                          f"127.0.0.1), got {shown(url)}", next_step=fix)


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
    """Finds F→T on one day, in the order of preference given in the module docstring.

    ``broker`` maps an account key (profile, account_id) to the quotes that account's broker
    response carried; ``config`` is the ``[rates]`` table; ``ecb`` is the ECB table, None (no
    file), or a function that loads it on first use (a run that needs no ECB rate reads no file).
    """

    def __init__(self, *, day: date, config: Mapping[tuple[str, str], Decimal] | None = None,
                 ecb: EcbTable | Callable[[], EcbTable | None] | None = None,
                 broker: Mapping[Any, Iterable[Rate]] | None = None,
                 max_age_days: int = DEFAULT_MAX_AGE_DAYS) -> None:
        self.day = day
        self._ecb = ecb
        self.max_age = timedelta(days=max_age_days)
        self.config = {pair: Rate(pair[0], pair[1], value, Decimal(1), "config", None,
                                  f"config {pair[0]}/{pair[1]}")
                       for pair, value in (config or {}).items()}
        self.broker = {key: list(quotes) for key, quotes in (broker or {}).items()}

    @property
    def ecb(self) -> EcbTable | None:
        if callable(self._ecb):
            self._ecb = self._ecb()
        return self._ecb

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
        found = _pair(self._reported(), base, target)
        if found:
            return found
        return self._chain(base, target)

    def _reported(self) -> list[Rate]:
        """Every broker rate of the run, whichever account reported it (first one first)."""
        return [rate for quotes in self.broker.values() for rate in quotes]

    def ecb_rate(self, base: str, target: str) -> Rate | None:
        if self.ecb is None:
            return None
        have = self.ecb.per_eur(base, self.day)
        want = self.ecb.per_eur(target, self.day)
        if have is None or want is None:
            return None
        days = [d for ccy, (_, d) in ((base, have), (target, want)) if ccy != "EUR"]
        day = min(days) if days else self.day
        return Rate(base, target, want[0], have[0], "ecb", day, "ecb",
                    self.day - day > self.max_age)

    def _chain(self, base: str, target: str) -> Rate | None:
        """A config (or reported broker) pair then another such pair or an ECB rate
        (BTC→USDT→USD, USDT→USD→EUR), or an ECB rate then such a pair (HKD→USD→USDT): one
        intermediate currency; config pairs are tried before broker ones."""
        legs = [*self.config.values(), *self._reported()]
        for rate in legs:
            for leg in (rate, rate.inverse()):
                if leg.base == base:
                    rest = _pair(legs, leg.quote, target) or self.ecb_rate(leg.quote, target)
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
    """Two legs as one fraction; the source is ``config`` when a config leg made it possible,
    else ``broker``; the day that of the ECB leg if there is one, else the broker's."""
    ecb = first if first.source == "ecb" else second if second.source == "ecb" else None
    sources = {first.source, second.source}
    source = "config" if "config" in sources else "broker" if "broker" in sources else "ecb"
    dated = ecb or (first if first.day else second)
    return Rate(first.base, second.quote, EXACT.multiply(first.num, second.num),
                EXACT.multiply(first.den, second.den), source, dated.day,
                f"{first.how} × {second.how}", bool(ecb and ecb.stale))


def today() -> date:
    return datetime.now(UTC).date()
