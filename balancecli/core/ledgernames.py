"""Names in plain-text accounting: which account names and commodities beancount, ledger and
hledger accept, and the check of the ``ledger_account`` profile setting made before any fetch.
"""

from __future__ import annotations

import re
import string
from typing import Any

from balancecli.core.errors import ConfigError

# beancount's default root accounts and its component rule (ASCII subset of its lexer's
# ``[\p{Lu}\p{Nd}][\p{L}\p{Nd}-]*``), valid for ledger and hledger too.
ROOTS = ("Assets", "Liabilities", "Equity", "Income", "Expenses")
COMPONENT = re.compile(r"[A-Z0-9][A-Za-z0-9-]*")
# beancount's currency rule (lexer.l): a capital first, capitals/digits/'._- inside, a capital
# or digit last; at most 24 characters (beancount 2 refuses longer ones).
COMMODITY = re.compile(r"[A-Z](?:[A-Z0-9'._-]{0,22}[A-Z0-9])?")
PLACEHOLDERS = ("broker", "account", "profile")


def component(text: str) -> str:
    """``text`` as one valid account component: ASCII letters, digits and ``-`` only, upper
    case or digit first (``rithmic-demo:PAPER-7`` -> ``Rithmic-demo-PAPER-7``)."""
    cleaned = re.sub(r"[^A-Za-z0-9-]", "-", text).strip("-") or "X"
    if not cleaned[0].isdigit():
        cleaned = cleaned[0].upper() + cleaned[1:]
    return cleaned


def valid_account(name: str) -> bool:
    root, _, rest = name.partition(":")
    return root in ROOTS and bool(rest) and all(COMPONENT.fullmatch(c) for c in rest.split(":"))


def commodity(code: str | None) -> str | None:
    """The beancount commodity for a currency/asset code (upper-cased), or None if it has no
    valid spelling (``1INCH`` starts with a digit): such rows get a comment, not a made-up
    name."""
    if not code:
        return None
    upper = code.strip().upper()
    return upper if COMMODITY.fullmatch(upper) else None


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
