"""Names in plain-text accounting: which account names and commodities beancount, ledger and
hledger accept, written so that nothing a broker sends can break a journal line, and the check
of the ``ledger_account`` profile setting made before any fetch.

Account names follow beancount's rule, the strictest of the three
(``beancount/core/account.py``: a root, then components ``[\\p{Lu}\\p{Nd}][\\p{L}\\p{Nd}-]*``),
so one name serves every tool: Unicode letters are kept (bean-check 3 accepts
``Assets:Ünï:ÜMLAUT-ñ``), anything else (spaces, ``:``, control and bidi characters) becomes
``-``. Commodities: beancount's are capitals (``beancount/parser/lexer.l``), so a code is
upper-cased there; ledger and hledger take any symbol, double-quoted unless it is letters
only (``"HK$"``, ``"1INCH"``, ``"USDC.e"``), so a code is written exactly as the broker sent
it, never renamed. A code no tool can spell (a double quote, ``;`` in hledger's quoted form, a
control character) gets a comment, never a made-up name.
"""

from __future__ import annotations

import re
import string
import unicodedata
from typing import Any

from balancecli.core.errors import ConfigError

# beancount's default root accounts, valid for ledger and hledger too.
ROOTS = ("Assets", "Liabilities", "Equity", "Income", "Expenses")
# beancount's currency rule (lexer.l): a capital first, capitals/digits/'._- inside, a capital
# or digit last; at most 24 characters (beancount 2 refuses longer ones).
COMMODITY = re.compile(r"[A-Z](?:[A-Z0-9'._-]{0,22}[A-Z0-9])?")
PLACEHOLDERS = ("broker", "account", "profile")
# Characters a comment line shows escaped: controls (a line break would end the comment and
# start a forged entry), format and bidi controls, surrogates, private use, unassigned, and
# the Unicode line and paragraph separators.
_HIDDEN = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\\": "\\\\"}


def _inner(char: str) -> bool:
    """A character allowed after the first of a component: a letter, a digit or ``-``."""
    return char == "-" or unicodedata.category(char)[0] == "L" or \
        unicodedata.category(char) == "Nd"


def _first(char: str) -> bool:
    """A character allowed first in a component: an upper-case letter or a digit."""
    return unicodedata.category(char) in ("Lu", "Nd")


def component(text: str) -> str:
    """``text`` as one valid account component: letters (Unicode ones kept), digits and ``-``,
    an upper-case letter or a digit first (``rithmic-demo:PAPER-7`` -> ``Rithmic-demo-PAPER-7``,
    ``ünï`` -> ``Ünï``, ``中文`` -> ``X中文``)."""
    text = unicodedata.normalize("NFC", text)
    cleaned = "".join(c if _inner(c) else "-" for c in text).strip("-") or "X"
    if not _first(cleaned[0]):
        upper = cleaned[0].upper()
        fits = bool(upper) and _first(upper[0]) and all(_inner(c) for c in upper)
        cleaned = upper + cleaned[1:] if fits else "X" + cleaned
    return cleaned


def valid_component(text: str) -> bool:
    return bool(text) and _first(text[0]) and all(_inner(c) for c in text[1:])


def valid_account(name: str) -> bool:
    root, _, rest = name.partition(":")
    return root in ROOTS and bool(rest) and all(valid_component(c) for c in rest.split(":"))


def commodity(code: str | None) -> str | None:
    """The beancount commodity for a currency/asset code (upper-cased: beancount has no lower
    case), or None when it has no valid spelling (``1INCH`` starts with a digit)."""
    if not code or not code.isascii():  # "ß".upper() is "SS": no guessing beyond ASCII
        return None
    upper = code.strip().upper()
    return upper if COMMODITY.fullmatch(upper) else None


def ledger_commodity(code: str | None) -> str | None:
    """The code as ledger and hledger read it, exactly as sent: bare when it is letters only,
    else double-quoted (``"HK$"``); None when no quoting can hold it (a double quote, a ``;``,
    which ends hledger's quoted symbol, or a character that is not printable)."""
    if not code:
        return None
    if code.isalpha():
        return code
    if '"' in code or ";" in code or not code.isprintable():
        return None
    return f'"{code}"'


def comment_text(text: str) -> str:
    """Broker text for a ``;`` comment line: whatever could end the line, hide text or fail to
    encode is shown as an escape (``\\n``, ``\\x1b``, ``\\u202e``, ``\\ud800``), so a comment
    stays one comment."""
    out = []
    for char in text:
        if char in _NAMED:
            out.append(_NAMED[char])
        elif unicodedata.category(char) in _HIDDEN:
            code = ord(char)
            out.append(f"\\x{code:02x}" if code < 0x100 else
                       f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}")
        else:
            out.append(char)
    return "".join(out)


def check_ledger_account(profile: str, setting: Any) -> None:
    """Raise ConfigError when ``setting`` cannot make valid names (before any fetch)."""
    if setting is None:
        return
    templates = setting.values() if isinstance(setting, dict) else [setting]
    for template in templates:
        if not isinstance(template, str):
            raise ConfigError(
                f"setting 'ledger_account' must be a string or a table of strings by "
                f"account id, got {template!r}", profile=profile,
                next_step=f"fix ledger_account in [profiles.{profile}] of the config file")
        try:
            fields = {f for _, f, _, _ in string.Formatter().parse(template) if f is not None}
        except ValueError:
            fields = {"?"}
        unknown = sorted(fields - set(PLACEHOLDERS))
        sample = None if unknown else template.format(broker="B", account="A", profile="P")
        if sample is None or not valid_account(sample):
            what = (f"unknown placeholder {{{unknown[0]}}}" if unknown else
                    "not a valid account name")
            raise ConfigError(
                f"ledger_account {template!r}: {what} (Assets|Liabilities|...:Component "
                "with components of letters, digits and '-', each starting with a capital "
                "or a digit; placeholders {broker}, {account}, {profile})", profile=profile,
                next_step=f"fix ledger_account in [profiles.{profile}] of the config file")
