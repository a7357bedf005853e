"""Typer held steady: every internal ``cli/typer_internals.py`` relies on is where it was and
has the shape it had (typer is pinned to the tested range, ``>=0.29,<0.30``). A failure names
the internal, so an upgrade of Typer says at once what to look at."""

from __future__ import annotations

import dataclasses
import importlib
import inspect
from importlib.metadata import version

import pytest
import typer

from balancecli.cli import typer_internals
from balancecli.cli.app import app


def _attribute(path: str):
    module, _, name = path.rpartition(":")
    found = importlib.import_module(module)
    for part in name.split("."):
        found = getattr(found, part)
    return found


def test_typer_is_in_the_tested_range():
    major, minor = (int(x) for x in version("typer").split(".")[:2])
    assert (major, minor) == (0, 29), f"typer {version('typer')}: tested with 0.29 only"


# (internal, the parameters it must take, by name, in order) — None: only that it exists.
CALLABLES = [
    ("typer._coercion:build_runtime_param", ["descriptor"]),
    ("typer._coercion:RuntimeParam._coerce_value", ["self", "value", "param", "ctx"]),
    ("typer._param_types:coerce_cli_choice", ["value", "choices", "case_sensitive", "ctx"]),
    ("typer._param_types:coerce_cli_path",
     ["value", "parameter_info", "path_type", "param", "ctx"]),
    ("typer.core:TyperCommand.parse_args", ["self", "ctx", "args"]),
    ("typer.core:TyperOption.display_type_rich", ["self", "ctx"]),
    ("typer.core:TyperArgument.display_type_rich", ["self", "ctx"]),
    ("typer.core:TyperArgument._usage_display_name", ["self"]),
    ("typer.core:TyperOption._get_number_range_help_str", ["self"]),
    ("typer.core:TyperArgument._get_number_range_help_str", ["self"]),
    ("typer.main:get_command", ["typer_instance"]),
    ("typer.main:get_command_name", ["name"]),
    ("typer._click.shell_completion:add_completion_class", ["cls", "name"]),
    ("typer._click.shell_completion:split_arg_string", ["string"]),
    ("typer._click.core:Context.get_parameter_source", ["self", "name"]),
    ("typer._completion_classes:BashComplete.get_completion_args", ["self"]),
    ("typer._completion_classes:BashComplete.get_completions", ["self", "args", "incomplete"]),
    ("typer._completion_classes:BashComplete.format_completion", ["self", "item"]),
]
CLASSES = [
    ("typer._click.exceptions:NoArgsIsHelpError", "typer.exceptions:TyperException"),
    ("typer._click.exceptions:MissingParameter", "typer._click.exceptions:BadParameter"),
    ("typer._click.exceptions:BadParameter", "typer.exceptions:TyperException"),
    ("typer._click.exceptions:NoSuchOption", "typer.exceptions:TyperException"),
    ("typer.core:_TyperParameter", "typer._click.core:Parameter"),
    ("typer.core:TyperOption", "typer.core:_TyperParameter"),
    ("typer.core:TyperArgument", "typer.core:_TyperParameter"),
]


@pytest.mark.parametrize(("path", "parameters"), CALLABLES, ids=[c[0] for c in CALLABLES])
def test_each_internal_callable_has_its_shape(path, parameters):
    try:
        found = _attribute(path)
    except (ImportError, AttributeError) as exc:
        pytest.fail(f"Typer internal {path} is gone ({exc}): see cli/typer_internals.py")
    names = list(inspect.signature(found).parameters)
    assert names[:len(parameters)] == parameters, \
        f"Typer internal {path} now takes {names}: see cli/typer_internals.py"


@pytest.mark.parametrize(("path", "base"), CLASSES, ids=[c[0] for c in CLASSES])
def test_each_internal_class_is_what_it_was(path, base):
    try:
        cls, parent = _attribute(path), _attribute(base)
    except (ImportError, AttributeError) as exc:
        pytest.fail(f"Typer internal {path} is gone ({exc}): see cli/typer_internals.py")
    assert issubclass(cls, parent), f"Typer internal {path} is no longer a {base}"


def test_the_runtime_param_is_a_dataclass_of_parameter_info_and_annotation():
    from typer._coercion import RuntimeParam

    assert dataclasses.is_dataclass(RuntimeParam), "typer._coercion.RuntimeParam: no dataclass"
    names = [f.name for f in dataclasses.fields(RuntimeParam)]
    assert names[:2] == ["parameter_info", "annotation"], \
        f"typer._coercion.RuntimeParam fields are now {names}"


def test_the_parameter_source_names_are_those_compared():
    from typer._click.core import ParameterSource

    assert {"COMMANDLINE", "ENVIRONMENT", "DEFAULT"} <= set(ParameterSource.__members__), \
        "typer._click.core.ParameterSource lost a member parameter_source() compares to"


def test_the_completion_scripts_are_a_dict_by_shell():
    from typer._completion_shared import _completion_scripts

    assert isinstance(_completion_scripts, dict) and "bash" in _completion_scripts, \
        "typer._completion_shared._completion_scripts is no longer a dict with bash"
    assert typer_internals.bash_completion() is not None


def test_the_command_tree_internals_hold_our_commands():
    infos = list(typer_internals.command_infos(app))
    assert infos and all(hasattr(i, "callback") and hasattr(i, "name") for i in infos), \
        "Typer.registered_commands no longer holds CommandInfo(name, callback)"
    assert {g.name for g in app.registered_groups} >= {"auth", "profile", "rates"}, \
        "Typer.registered_groups no longer holds TyperInfo(name)"
    pruned = typer_internals.only_named(app, "balance")
    assert pruned is not None and len(pruned.registered_commands) == 1
    assert typer_internals.only_named(app, "nope") is None


def test_every_option_gets_the_fast_converter():
    """The converter reaches every option: Typer's descriptors are as ``value_kind`` reads
    them (a change here would bring pydantic back on every run, slowly, not loudly)."""
    command = typer.main.get_command(app)
    assert typer_internals.install_coercion(command) > 50


def test_the_typer_parameters_carry_their_descriptor():
    command = typer.main.get_command(app)
    balance = command.commands["balance"]
    watch = next(p for p in balance.params if p.name == "watch")
    assert hasattr(watch, "type_descriptor") and hasattr(watch, "_runtime_param"), \
        "typer.core._TyperParameter lost type_descriptor or _runtime_param"
    fmt = next(p for p in balance.params if p.name == "fmt")
    assert typer_internals.choices_of(fmt)[:2] == ["table", "json"], \
        "TypeDescriptor.choices no longer lists an Enum option's values"


def test_no_module_but_typer_internals_imports_typer_internals():
    import ast
    from pathlib import Path

    package = Path(typer_internals.__file__).resolve().parent.parent
    wrong = []
    for path in sorted(package.rglob("*.py")):
        if path.name == "typer_internals.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            wrong += [f"{path.name}: {n}" for n in names
                      if n.startswith(("typer._", "typer.core", "typer.main"))]
    assert wrong == []
