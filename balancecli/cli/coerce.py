"""Option values without pydantic on the common path (start-up is part of a run).

Typer 0.29 coerces every option value, defaults included, through a pydantic ``TypeAdapter``
built on first use: a plain ``balancecli balance`` imports pydantic and compiles a dozen
schemas, about 70 ms of a 0.4 s run against ten accounts. ``install(command)`` gives each
option whose type is one of ours (str, int, float, bool, Path, an Enum of choices, list[str])
a converter that takes the values that are plainly valid as Typer would, and hands anything
else to Typer's own coercion, so every error (and so every usage message) is still Typer's.
Options of any other type keep Typer's coercion untouched. If Typer's internals change shape,
nothing is installed and Typer coerces everything, only slower (tests/test_startup.py notices).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

_INT = re.compile(r"[+-]?[0-9]+\Z")
_FLOAT = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?\Z")


class _Fallback(Exception):
    """Not plainly valid: Typer's own coercion decides (and words any error)."""


def _kind(descriptor: Any) -> str | None:
    """Which fast converter fits this option, or None to leave it to Typer."""
    from typing import get_args, get_origin

    info, annotation = descriptor.parameter_info, descriptor.annotation
    if descriptor.file_annotation is not None or getattr(info, "parser", None) is not None:
        return None
    if getattr(info, "clamp", False) or getattr(info, "click_type", None) is not None:
        return None
    if get_origin(annotation) is list:
        return "list" if get_args(annotation) == (str,) else None
    if annotation in (str, bool, int, float):
        return annotation.__name__
    if annotation is Path and getattr(info, "path_type", None) is None:
        return "path"  # Typer's own checks (exists, dir_okay, ...) still run on the Path
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return "choice"
    return None


def _number(value: Any, kind: str, info: Any) -> int | float:
    if kind == "int":
        if type(value) is int:
            number: int | float = value
        elif isinstance(value, str) and _INT.match(value):
            number = int(value)
        else:
            raise _Fallback
    elif type(value) in (float, int):
        number = float(value)
    elif isinstance(value, str) and _FLOAT.match(value):
        number = float(value)
    else:
        raise _Fallback
    if number != number or number in (float("inf"), float("-inf")):
        raise _Fallback
    low, high = getattr(info, "min", None), getattr(info, "max", None)
    if (low is not None and number < low) or (high is not None and number > high):
        raise _Fallback  # Typer words the bound (usage.py turns it into ours)
    return number


def _converter_class() -> type:
    from typer._coercion import RuntimeParam, build_runtime_param
    from typer._param_types import coerce_cli_choice, coerce_cli_path

    @dataclass(frozen=True)
    class Plain(RuntimeParam):
        descriptor: Any
        kind: str

        def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
            try:
                return self._plain(value, param, ctx)
            except _Fallback:
                typer_own = build_runtime_param(self.descriptor)
                return typer_own._coerce_value(value, param=param, ctx=ctx)

        def _plain(self, value: Any, param: Any, ctx: Any) -> Any:
            kind = self.kind
            if kind == "str" and isinstance(value, str):
                return value
            if (kind == "list" and isinstance(value, (list, tuple))
                    and all(isinstance(item, str) for item in value)):
                return list(value)
            if kind == "bool" and isinstance(value, bool):
                return value
            if kind in ("str", "list", "bool"):
                raise _Fallback
            if kind in ("int", "float"):
                return _number(value, kind, self.parameter_info)
            if kind == "path":
                if not isinstance(value, (str, Path)):
                    raise _Fallback
                path = Path(value)
                if str(path) != str(value):
                    raise _Fallback  # "" or "a//b": Typer's messages quote what was typed
                return coerce_cli_path(path, self.parameter_info, path_type=Path,
                                       param=param, ctx=ctx)
            choices = tuple(self.descriptor.annotation)
            try:
                return coerce_cli_choice(value, choices=choices,
                                         case_sensitive=self.parameter_info.case_sensitive,
                                         ctx=ctx)
            except ValueError:
                raise _Fallback from None

    return Plain


def install(command: Any) -> int:
    """Give every option of ``command`` and its subcommands (their help options included) the
    fast converter that fits it; returns how many got one (0 if Typer is not as expected)."""
    try:
        from typer.core import _TyperParameter

        plain = _converter_class()
    except (ImportError, AttributeError, TypeError):
        return 0

    def give(param: Any) -> int:
        if not isinstance(param, _TyperParameter) or param._runtime_param is not None:
            return 0
        descriptor = getattr(param, "type_descriptor", None)
        kind = _kind(descriptor) if descriptor is not None else None
        if kind is None:
            return 0
        param._runtime_param = plain(parameter_info=descriptor.parameter_info,
                                     annotation=descriptor.annotation, descriptor=descriptor,
                                     kind=kind)
        return 1

    def with_help(original: Any) -> Any:
        def get_help_option(ctx: Any) -> Any:  # made on first use, so given its converter then
            option = original(ctx)
            if option is not None:
                give(option)
            return option
        return get_help_option

    count = 0
    stack = [command]
    while stack:
        current = stack.pop()
        stack.extend(getattr(current, "commands", {}).values())
        count += sum(give(param) for param in current.params)
        current.get_help_option = with_help(current.get_help_option)
    return count
