"""Every use of Typer's (and its vendored Click's) internals, in one place.

balancecli is tested against typer 0.29 (``pyproject.toml`` pins ``>=0.29,<0.30``). What is
used below is not Typer's documented API: each function says what it relies on, and
``tests/unit/cli/test_typer_internals.py`` fails, naming the internal, when one of them is
missing or changed shape. The rest of the package calls these functions and never imports
``typer._*``, ``typer.core`` or ``typer.main`` itself.

What is used, and for what:

- option values without pydantic (``install_coercion``, called by ``usage.run``):
  ``typer._coercion.RuntimeParam`` and ``build_runtime_param``, ``typer._param_types``'
  ``coerce_cli_choice`` and ``coerce_cli_path``, ``typer.core._TyperParameter``'s
  ``_runtime_param`` and ``type_descriptor``, ``Command.get_help_option``;
- ``--watch`` with or without a value (``command_rewriting_args``, for ``cli.watch``):
  ``typer.core.TyperCommand.parse_args``;
- no ``<bool>`` after flags in ``--help`` (``plain_flags_in_help``, for ``commands.options``):
  ``typer.core.TyperOption`` / ``TyperArgument.display_type_rich``; arguments in usage lines
  as ``PROFILE`` and ``[NAME]``, not ``{PROFILE}`` and ``[[NAME]]``, and no ``[x>=0.1]``
  column of ranges that squeezes the descriptions at 80 columns (the same function):
  ``TyperArgument._usage_display_name`` and ``display_name_raw``,
  ``TyperOption`` / ``TyperArgument._get_number_range_help_str``;
- usage errors in our words (``usage_error_kind``, ``choices_of``, for ``cli.boundary``): the
  classes of ``typer._click.exceptions``, ``TypeDescriptor.choices``;
- where an option's value came from (``parameter_source``, for ``cli.runtime``,
  ``cli.boundary``, ``commands.profile_path``, ``cli.complete``):
  ``Context.get_parameter_source`` and the names of ``typer._click.core.ParameterSource``;
- building only the invoked command, ``-q`` after every command (``only_named``,
  ``command_infos``, for ``usage.only_invoked`` and ``app``): ``Typer.registered_commands``
  and ``registered_groups``, ``CommandInfo.name`` and ``callback``,
  ``TyperInfo.typer_instance``, ``typer.main.get_command_name``;
- the bash script that completes ids with ``:`` (``bash_completion``, for ``cli.complete``):
  ``typer._completion_classes.BashComplete``, ``typer._click.shell_completion``'s
  ``add_completion_class`` and ``split_arg_string``, ``typer._completion_shared``'s
  ``_completion_scripts``;
- file names offered only where a path is asked for (``other_shells``, ``path_kind``, for
  ``cli.complete``): ``typer._completion_classes.ZshComplete`` and ``FishComplete``,
  ``typer._click.shell_completion._resolve_context`` and ``_resolve_incomplete``,
  ``_TyperParameter.type_descriptor``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from enum import Enum
from pathlib import Path
from typing import Any

# -- where a value came from -------------------------------------------------------------------


def parameter_source(ctx: Any, name: str) -> str:
    """``COMMANDLINE``, ``ENVIRONMENT``, ``DEFAULT``, ``DEFAULT_MAP`` or ``PROMPT`` for the
    option ``name`` of ``ctx`` ("" when unknown). Relies on Click's
    ``Context.get_parameter_source`` returning a ``ParameterSource`` member; compared by name
    because Typer vendors its own Click (``typer._click``), whose enum no other code imports."""
    getter = getattr(ctx, "get_parameter_source", None)
    if getter is None:
        return ""
    try:
        source = getter(name)
    except Exception:  # noqa: BLE001 - a context of an older shape: nothing is known
        return ""
    return str(getattr(source, "name", "") or "")


# -- usage errors ------------------------------------------------------------------------------


def usage_error_kind(exc: Any) -> str:
    """What a Typer/Click usage error is: ``missing``, ``bad_parameter``, ``no_such_option``,
    ``no_args_help`` (the help was printed instead) or ``other``. Relies on the classes of
    ``typer._click.exceptions`` (``MissingParameter`` is a ``BadParameter``)."""
    from typer._click import exceptions as click

    if isinstance(exc, click.NoArgsIsHelpError):
        return "no_args_help"
    if isinstance(exc, click.MissingParameter):
        return "missing"
    if isinstance(exc, click.BadParameter):
        return "bad_parameter"
    if isinstance(exc, click.NoSuchOption):
        return "no_such_option"
    return "other"


def choices_of(param: Any) -> list[str]:
    """The values an Enum option takes. Relies on ``_TyperParameter.type_descriptor.choices``
    (a tuple of Enum members, or None)."""
    descriptor = getattr(param, "type_descriptor", None)
    choices = getattr(descriptor, "choices", None) if descriptor is not None else None
    if not choices:
        return []
    return [str(getattr(c, "value", c)) for c in choices]


# -- the command tree --------------------------------------------------------------------------


def command_infos(app: Any) -> Iterator[Any]:
    """Every ``CommandInfo`` of ``app`` and its groups (``callback`` may be replaced). Relies on
    ``Typer.registered_commands``, ``Typer.registered_groups`` and
    ``TyperInfo.typer_instance``."""
    yield from app.registered_commands
    for group in app.registered_groups:
        if group.typer_instance is not None:
            yield from command_infos(group.typer_instance)


def only_named(app: Any, name: str) -> Any | None:
    """A shallow copy of ``app`` holding only the command or group called ``name``, or None
    when not exactly one has that name. Relies on ``Typer.registered_commands`` /
    ``registered_groups``, ``CommandInfo.name`` / ``.callback``, ``TyperInfo.name`` and
    ``typer.main.get_command_name`` (how Typer names a command after its function)."""
    import copy

    from typer.main import get_command_name

    commands = [info for info in app.registered_commands if info.callback is not None and (
        info.name or get_command_name(info.callback.__name__)) == name]
    groups = [info for info in app.registered_groups if info.name == name]
    if len(commands) + len(groups) != 1:
        return None
    pruned = copy.copy(app)
    pruned.registered_commands, pruned.registered_groups = commands, groups
    return pruned


def command_rewriting_args(rewrite: Callable[[list[str]], list[str]]) -> type:
    """A command class (``cls=`` of ``app.command``) whose arguments pass through ``rewrite``
    before Typer parses them. Relies on ``typer.core.TyperCommand.parse_args(ctx, args)``."""
    from typer.core import TyperCommand

    class Rewriting(TyperCommand):
        def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
            return super().parse_args(ctx, rewrite(list(args)))

    return Rewriting


def plain_flags_in_help() -> None:
    """Flags show no ``<bool>`` in help (``--demo``, not ``--demo <bool>``), and an argument
    with a placeholder no ``<str>`` after it. Relies on ``typer.core.TyperOption`` and
    ``TyperArgument`` having ``display_type_rich(self, ctx)``, which labels every parameter
    with its type; replaced once (idempotent)."""
    from typer import core

    for cls, plain in ((core.TyperOption, lambda p: getattr(p, "is_flag", False)
                        and p.metavar is None),
                       (core.TyperArgument, lambda p: p.metavar is not None)):
        original = getattr(cls, "display_type_rich", None)
        if original is None or getattr(original, "_balancecli", False):
            continue

        def display_type_rich(self: Any, ctx: Any, _original: Any = original,
                              _plain: Any = plain) -> Any:
            return "" if _plain(self) else _original(self, ctx)

        display_type_rich._balancecli = True  # type: ignore[attr-defined]
        cls.display_type_rich = display_type_rich  # type: ignore[method-assign]
    _plain_usage_names(core.TyperArgument)
    for parameter in (core.TyperArgument, core.TyperOption):
        _no_range_column(parameter)


def _no_range_column(cls: Any) -> None:
    """No ``[x>=0.1]`` after an option's placeholder in help: it takes a column of its own
    at the cost of every description, and a value out of range is a usage error that says
    the range. Relies on ``_get_number_range_help_str(self)`` of the class."""
    original = getattr(cls, "_get_number_range_help_str", None)
    if original is None or getattr(original, "_balancecli", False):
        return

    def _get_number_range_help_str(self: Any) -> None:
        return None

    _get_number_range_help_str._balancecli = True  # type: ignore[attr-defined]
    cls._get_number_range_help_str = _get_number_range_help_str


def _plain_usage_names(cls: Any) -> None:
    """Usage lines show a required argument as ``PROFILE`` (Typer 0.29: ``{PROFILE}``), an
    optional one as ``[NAME]``, repeated ones with ``...``; a placeholder that already says it
    (``[COMMAND]...``, ``KEY=VALUE...``) as it is. Relies on
    ``TyperArgument._usage_display_name(self)`` and ``display_name_raw``."""
    original = getattr(cls, "_usage_display_name", None)
    if original is None or getattr(original, "_balancecli", False):
        return

    def _usage_display_name(self: Any) -> str:
        name = str(self.display_name_raw)
        if name.startswith("[") or name.endswith("..."):
            return name
        name = name if self.required else f"[{name}]"
        return name + ("..." if self.nargs != 1 else "")

    _usage_display_name._balancecli = True  # type: ignore[attr-defined]
    cls._usage_display_name = _usage_display_name


# -- option values without pydantic ------------------------------------------------------------
#
# Typer 0.29 coerces every option value, defaults included, through a pydantic ``TypeAdapter``
# built on first use: a plain ``balancecli balance`` imported pydantic and compiled a dozen
# schemas, about 70 ms of a 0.4 s run against ten accounts. ``install_coercion`` gives each
# option whose type is one of ours (str, int, float, bool, Path, an Enum of choices, list[str])
# a converter that takes the values that are plainly valid as Typer would, and hands anything
# else to Typer's own coercion, so every error (and so every usage message) is still Typer's.
# If these internals change shape, nothing is installed and Typer coerces everything, only
# slower (tests/e2e/test_startup.py notices).

_INT = re.compile(r"[+-]?[0-9]+\Z")
_FLOAT = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?\Z")


class _Fallback(Exception):
    """Not plainly valid: Typer's own coercion decides (and words any error)."""


def value_kind(descriptor: Any) -> str | None:
    """Which fast converter fits an option, or None to leave it to Typer. Relies on Typer's
    ``TypeDescriptor`` (``parameter_info``, ``annotation``, ``file_annotation``) and
    ``ParameterInfo`` (``parser``, ``clamp``, ``click_type``, ``path_type``)."""
    from typing import get_args, get_origin

    info, annotation = descriptor.parameter_info, descriptor.annotation
    if descriptor.file_annotation is not None or getattr(info, "parser", None) is not None:
        return None
    if getattr(info, "clamp", False) or getattr(info, "click_type", None) is not None:
        return None
    if get_origin(annotation) is list:
        return "list" if get_args(annotation) == (str,) else None
    if annotation in (str, bool, int, float):
        return str(annotation.__name__)
    if annotation is Path and getattr(info, "path_type", None) is None:
        return "path"  # Typer's own checks (exists, dir_okay, ...) still run on the Path
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return "choice"
    return None


def _number(value: Any, kind: str, info: Any) -> int | float:
    """A plainly valid number within ``ParameterInfo.min``/``max``, else ``_Fallback``."""
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
        raise _Fallback  # Typer words the bound (the boundary turns it into ours)
    return number


def _plain_value(converter: Any, value: Any, param: Any, ctx: Any) -> Any:
    """``value`` converted as Typer would, when plainly valid; else ``_Fallback``. Relies on
    ``typer._param_types.coerce_cli_path(path, parameter_info, path_type=, param=, ctx=)`` and
    ``coerce_cli_choice(value, choices=, case_sensitive=, ctx=)``."""
    from typer._param_types import coerce_cli_choice, coerce_cli_path

    kind = converter.kind
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
        return _number(value, kind, converter.parameter_info)
    if kind == "path":
        if not isinstance(value, (str, Path)):
            raise _Fallback
        path = Path(value)
        if str(path) != str(value):
            raise _Fallback  # "" or "a//b": Typer's messages quote what was typed
        return coerce_cli_path(path, converter.parameter_info, path_type=Path, param=param,
                               ctx=ctx)
    try:
        return coerce_cli_choice(value, choices=tuple(converter.descriptor.annotation),
                                 case_sensitive=converter.parameter_info.case_sensitive,
                                 ctx=ctx)
    except ValueError:
        raise _Fallback from None


def _converter_class() -> type:
    """A ``typer._coercion.RuntimeParam`` (a frozen dataclass with ``parameter_info`` and
    ``annotation``, whose ``_coerce_value(value, param, ctx)`` converts) that tries the plain
    path first and ``build_runtime_param(descriptor)``'s converter, Typer's own, otherwise."""
    from dataclasses import dataclass  # here: Tab imports this module (complete._typed)

    from typer._coercion import RuntimeParam, build_runtime_param

    @dataclass(frozen=True)
    class Plain(RuntimeParam):
        descriptor: Any
        kind: str

        def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
            try:
                return _plain_value(self, value, param, ctx)
            except _Fallback:
                typer_own = build_runtime_param(self.descriptor)
                return typer_own._coerce_value(value, param=param, ctx=ctx)

    return Plain


def install_coercion(command: Any) -> int:
    """Give every option of ``command`` and its subcommands (their help options included) the
    fast converter that fits it; returns how many got one (0 if Typer is not as expected).
    Relies on ``typer.core._TyperParameter`` with ``_runtime_param`` (None until Typer builds
    its converter) and ``type_descriptor``, and on ``Command.get_help_option(ctx)``."""
    try:
        from typer.core import _TyperParameter

        plain = _converter_class()
    except (ImportError, AttributeError, TypeError):
        return 0

    def give(param: Any) -> int:
        if not isinstance(param, _TyperParameter) or param._runtime_param is not None:
            return 0
        descriptor = getattr(param, "type_descriptor", None)
        kind = value_kind(descriptor) if descriptor is not None else None
        if kind is None or descriptor is None:
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


# -- shell completion --------------------------------------------------------------------------


def bash_completion() -> tuple[type, Callable[..., Any], Callable[[str], list[str]],
                               dict[str, str]] | None:
    """(``BashComplete``, ``add_completion_class``, ``split_arg_string``, the scripts Typer
    writes by shell), or None when this Typer has them elsewhere. Relies on
    ``typer._completion_classes.BashComplete`` (``source_template``,
    ``get_completion_args``, ``get_completions``, ``format_completion``),
    ``typer._click.shell_completion.add_completion_class(cls, name)`` /
    ``split_arg_string`` and the dict ``typer._completion_shared._completion_scripts``."""
    try:
        from typer._click.shell_completion import add_completion_class, split_arg_string
        from typer._completion_classes import BashComplete
        from typer._completion_shared import _completion_scripts
    except ImportError:
        return None
    return BashComplete, add_completion_class, split_arg_string, _completion_scripts


def other_shells() -> tuple[type, type] | None:
    """(``ZshComplete``, ``FishComplete``) of ``typer._completion_classes``, whose
    ``complete()`` (zsh: ``_files`` when nothing matched; fish: exit 1 of ``is-args`` to let
    the shell offer files) is what ``cli.complete`` replaces; None when this Typer has them
    elsewhere."""
    try:
        from typer._completion_classes import FishComplete, ZshComplete
    except ImportError:
        return None
    return ZshComplete, FishComplete


def path_kind(completer: Any, args: list[str], incomplete: str) -> str | None:
    """``"file"`` or ``"dir"`` when the word being completed is the value of a path option or
    argument, else None. Relies on ``typer._click.shell_completion._resolve_context(cli,
    ctx_args, prog_name, args)`` and ``_resolve_incomplete(ctx, args, incomplete)`` (what
    ``ShellComplete.get_completions`` does first), on a ``ShellComplete``'s ``cli``,
    ``ctx_args`` and ``prog_name``, and on ``_TyperParameter.type_descriptor`` (``is_path``,
    ``is_file``, ``parameter_info.file_okay``/``dir_okay``)."""
    try:
        from typer._click.shell_completion import _resolve_context, _resolve_incomplete

        ctx = _resolve_context(completer.cli, completer.ctx_args, completer.prog_name, args)
        param, _ = _resolve_incomplete(ctx, list(args), incomplete)
        descriptor = getattr(param, "type_descriptor", None)
    except Exception:  # noqa: BLE001 - completion must never fail loudly
        return None
    if descriptor is None or not (descriptor.is_path or descriptor.is_file):
        return None
    info = descriptor.parameter_info
    return "dir" if getattr(info, "dir_okay", True) and not getattr(info, "file_okay", True) \
        else "file"
