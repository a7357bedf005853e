"""Display precision of amounts in tables: rounding happens here and only here.

- Fiat (an ISO 4217 code with minor units): exactly that many decimals (JPY 0, USD 2, BHD 3),
  from the ISO 4217 list shipped by the ``iso4217`` package (the maintenance agency's own
  XML, republished with each amendment), not a hand-kept table.
- Anything else (BTC, ETH, USDT, USDC, an unknown code, no currency, the ISO codes without
  minor units such as XAU): up to 8 decimals, trailing zeros dropped.
- Rounding is half up on the exact Decimal (``ROUND_HALF_UP``), never through a float.
- ``exact=True`` shows every digit the broker sent.

Values are never converted with ``int()``: a 10,000-digit value formats (wide, but whole)
instead of tripping Python's integer-string limit; a value whose plain form would be absurdly
long (an exponent of a million) is shown in scientific notation rather than exhausting memory.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Context, Decimal

CRYPTO_PLACES = 8
# Longest plain form we write: 10,000-digit values must render, 10**999999 must not be tried.
MAX_DIGITS = 100_000
_CTX = Context(prec=MAX_DIGITS + 2 * CRYPTO_PLACES, Emax=999_999_999_999_999_999,
               Emin=-999_999_999_999_999_999, rounding=ROUND_HALF_UP)
_QUANTUM = [Decimal(1).scaleb(-p) for p in range(CRYPTO_PLACES + 1)]

_minor_units: dict[str, int] | None = None


def _load_minor_units() -> dict[str, int]:
    """ISO 4217 minor units per code; codes marked "N.A." (XAU, XDR, XXX...) are left out.

    Reads the package's bundled XML with one regex (about 1 ms) rather than importing the
    package, whose import builds an Enum of every code (about 30 ms); falls back to the
    package's public ``raw_table`` if its file layout ever changes.
    """
    import importlib.util
    from pathlib import Path

    table: dict[str, int] = {}
    spec = importlib.util.find_spec("iso4217")
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        path = Path(location) / "table.xml"
        if path.is_file():
            text = path.read_text(encoding="utf-8")
            for code, units in re.findall(
                    r"<Ccy>\s*([A-Z]{3})\s*</Ccy>\s*(?:<CcyNbr>[^<]*</CcyNbr>\s*)?"
                    r"<CcyMnrUnts>\s*([^<]*?)\s*</CcyMnrUnts>", text):
                if units.isdigit():
                    table[code] = int(units)
            if table:
                return table
    import iso4217

    for code, entry in iso4217.raw_table.items():
        units = entry.get("CcyMnrUnts") or ""
        if code and isinstance(units, str) and units.isdigit():
            table[code] = int(units)
    return table


def minor_units(currency: str | None) -> int | None:
    """ISO 4217 minor units of a fiat currency, or None for crypto, unknown or no currency."""
    global _minor_units
    if not currency:
        return None
    if _minor_units is None:
        _minor_units = _load_minor_units()
    return _minor_units.get(currency.strip().upper())


def _plain_too_long(value: Decimal) -> bool:
    """Would the plain digits of ``value`` exceed MAX_DIGITS (1E+999999, 1E-999999)?"""
    exponent = value.as_tuple().exponent
    return value.adjusted() > MAX_DIGITS or -exponent > MAX_DIGITS  # type: ignore[operator]


def _rule(currency: str | None, places: int | None) -> tuple[Decimal, int, bool]:
    """(quantum, decimals, trim trailing zeros) for a currency, or for fixed ``places``."""
    fixed = places if places is not None else minor_units(currency)
    if fixed is None:
        return _QUANTUM[CRYPTO_PLACES], CRYPTO_PLACES, True
    quantum = _QUANTUM[fixed] if fixed <= CRYPTO_PLACES else Decimal(1).scaleb(-fixed)
    return quantum, fixed, False


def formatter(*, exact: bool = False, places: int | None = None,
              ) -> Callable[[Decimal, str | None], str]:
    """``fmt(value, currency)`` as ``display`` does, with the per-currency rule looked up once
    (a table formats 100,000 cells)."""
    rules: dict[str | None, tuple[Decimal, int, bool]] = {}
    quantize = Decimal.quantize
    context = _CTX

    def fmt(value: Decimal, currency: str | None = None) -> str:
        if exact:
            return _exact(value)
        rule = rules.get(currency)
        if rule is None:
            rule = rules[currency] = _rule(currency, places)
        quantum, want, trim = rule
        if not value.is_finite():
            return str(value)
        adjusted = value.adjusted()
        if adjusted > MAX_DIGITS:
            return format(value, ".12E")  # ~10**100000: not a balance; no memory blow-up
        if adjusted >= -MAX_DIGITS:
            # Most broker values already have few decimals: no rounding needed.
            text = format(value, ",f")
            dot = text.find(".")
            frac = 0 if dot < 0 else len(text) - dot - 1
            if frac <= want:
                if not value and text[0] == "-":
                    text = text[1:]  # no "-0.00"
                if trim:
                    return text.rstrip("0").rstrip(".") if dot >= 0 else text
                if frac == want:
                    return text
                return text + ("." if dot < 0 else "") + "0" * (want - frac)
        rounded = quantize(value, quantum, context=context)
        if not rounded:
            rounded = rounded.copy_abs()  # no "-0.00"
        text = format(rounded, ",f")
        if trim and "." in text:
            text = text.rstrip("0").rstrip(".")
        return text

    return fmt


def _exact(value: Decimal) -> str:
    if not value.is_finite() or _plain_too_long(value):
        return str(value)
    text = format(value, ",f")
    return text[1:] if text.startswith("-") and not value else text  # no "-0"


def display(value: Decimal, currency: str | None = None, *, exact: bool = False,
            places: int | None = None) -> str:
    """An amount as shown in a table: thousands separators, the currency's precision.

    ``places`` overrides the currency's (e.g. a rate or a percentage); with neither, up to 8
    decimals with trailing zeros dropped. ``exact``: every digit.
    """
    return formatter(exact=exact, places=places)(value, currency)
