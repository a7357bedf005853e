"""Terminal prompts of ``auth login``, behaving like ``gh auth login``'s.

- The question goes to stderr (stdout is for data).
- Identifiers (user name, client id, app key) are echoed while typed, so that a typo shows;
  secrets (passwords, client and app secrets, tokens, one-time codes) are not.
- An empty answer asks again, unless the field may be empty (``MAY_BE_EMPTY``); so does one
  that the field cannot hold (``tokens.field_problem``: it would end up in a header).
- Ctrl-D (end of input) cancels: ``Cancelled``, which the command turns into exit 130 and one
  line "cancelled", with nothing stored. Ctrl-C stays an interrupt (exit 130, "interrupted").
- When the broker rejects a login, only the field its broker class names (``asked_again``: a
  password) is asked again, up to ``TRIES`` times in all.
- Before a field is asked, one line says where the broker shows it (``SecretFields.found_at``,
  declared by each broker class).
- ``read_line`` reads a line that is not a question (the address pasted during a browser
  login); end of input is None there, not a cancel.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping

VISIBLE = frozenset({"USERNAME", "CLIENT_ID", "APP_KEY"})
MAY_BE_EMPTY = {"CLIENT_SECRET": " (empty for a PKCE key)"}  # TradeStation PKCE keys have none
TRIES = 3


class Cancelled(Exception):
    """The user ended the input with Ctrl-D: the login stops and nothing is stored."""


def ask(question: str, *, secret: bool, optional: bool = False) -> str:
    """The stripped answer; asks again while it is empty (unless ``optional``)."""
    while True:
        try:
            answer = (_hidden(question) if secret else _visible(question)).strip()
        except EOFError:
            sys.stderr.write("\n")  # end the line of the question: the cursor is still on it
            sys.stderr.flush()
            raise Cancelled from None
        if answer or optional:
            return answer


def ask_field(profile: str, field: str) -> str:
    """Ask for one credential field of a profile, hidden unless it is an identifier. An
    answer no such field can hold (a control character, a pasted escape sequence; for a token
    also a space inside) asks again, without showing it."""
    from balancecli.credentials.tokens import field_problem

    hint = MAY_BE_EMPTY.get(field)
    while True:
        answer = ask(f"{profile} {field}{hint or ''}: ", secret=field not in VISIBLE,
                     optional=hint is not None)
        problem = field_problem(field, answer)
        if problem is None:
            return answer
        sys.stderr.write(f"that {field} has {problem}; type or paste the bare value\n")
        sys.stderr.flush()


def ask_fields(profile: str, fields: list[str],
               found_at: Mapping[str, str] | None = None) -> dict[str, str]:
    """The answers by lower-case field name, in order; a field left empty is left out.
    ``found_at``: where the broker shows each field, said before it is asked."""
    answers = {}
    for field in fields:
        where = (found_at or {}).get(field)
        if where:
            sys.stderr.write(f"{field}: {where}\n")
            sys.stderr.flush()
        answers[field.lower()] = ask_field(profile, field)
    return {field: value for field, value in answers.items() if value}


def read_line() -> str | None:
    """One line typed (without its line end), or None at the end of input."""
    line = sys.stdin.readline()
    return line.rstrip("\r\n") if line else None


def ask_secret(question: str) -> str:
    """A hidden answer that may not be empty (a broker's one-time code during the check)."""
    return ask(question, secret=True)


class SecondFactor:
    """``ask_secret`` as a broker's prompt, remembering whether the broker used it: ETNA asks
    for a second factor only once the password has passed."""

    def __init__(self) -> None:
        self.asked = False

    def __call__(self, question: str) -> str:
        self.asked = True
        return ask_secret(question)


def _visible(question: str) -> str:
    sys.stderr.write(question)
    sys.stderr.flush()
    line = sys.stdin.readline()
    if not line:
        raise EOFError
    return line.rstrip("\r\n")


def _hidden(question: str) -> str:
    import getpass

    return getpass.getpass(question)  # the terminal, without echo; EOFError on Ctrl-D
