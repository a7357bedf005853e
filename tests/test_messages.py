"""Messages are for people: an error never names a Python class (``KeyError``, ``str``).

A static check over the package (the demo's fake brokers and Typer's internals aside), and the
words the fetch layer uses for a payload its parser tripped on."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "balancecli"
# Where a class name is an identifier, not a message: Typer's command names, the fakes.
EXEMPT = {"cli/typer_internals.py", "cli/commands/broker_files.py", "brokers/mapping.py"}
CLASS_NAME = re.compile(r"""\{[^{}]*\.__name__[^{}]*\}|__name__\s+for\s""")


def test_no_message_interpolates_a_class_name():
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE).as_posix()
        if relative.startswith("demo/") or relative in EXEMPT:
            continue
        lines = path.read_text().splitlines()
        for number, line in enumerate(lines, 1):
            if CLASS_NAME.search(line) and "# not a message" not in lines[number - 2]:
                found.append(f"{relative}:{number}: {line.strip()}")
    assert found == []


@pytest.mark.parametrize("exc,words", [
    (KeyError("CashBalance"), "no field 'CashBalance'"),
    (KeyError(3), "a field is missing"),
    (IndexError("list index out of range"), "a list is too short"),
    (TypeError("'NoneType' object is not subscriptable"), "a value of an unexpected kind"),
    (AttributeError("'list' object has no attribute 'get'"), "a value of an unexpected kind"),
    (ValueError("invalid literal"), "a value that cannot be read"),
    (ZeroDivisionError("division by zero"), "a number out of range"),
    (RecursionError(), "nested too deeply"),
])
def test_a_payload_a_parser_tripped_on_is_said_in_words(exc, words):
    from balancecli.service.fetch import _shape_problem

    assert _shape_problem(exc) == words


def test_setting_types_are_said_in_words():
    from balancecli.config import validate_profile
    from balancecli.core.errors import ConfigError

    for raw, said in (({"api": 3}, "setting 'api' must be text, got 3"),
                      ({"max_retries": "3"}, "setting 'max_retries' must be a whole number"),
                      ({"timeout": "x"}, "setting 'timeout' must be a number, got 'x'"),
                      ({"accounts": "A1"}, "setting 'accounts' must be a list")):
        with pytest.raises(ConfigError) as caught:
            validate_profile("ts", {"broker": "tradestation", **raw})
        assert caught.value.message.startswith(said), caught.value.message
