"""cli/typer_internals.py: option values without pydantic give exactly what Typer's coercion
gives."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import typer
from typer._click import Context
from typer._click.exceptions import BadParameter
from typer.core import _TyperParameter

from balancecli.cli.app import app
from balancecli.cli.typer_internals import install_coercion as install
from balancecli.cli.typer_internals import value_kind as _kind
from tests.support.cli import balancecli_exe

SAMPLES = {
    "str": ["ts", "", " spaced ", "ü", "-"],
    "list": [["ts"], ("a", "b"), [], ["x", ""]],
    "bool": [True, False],
    "int": [0, 80, "80", "+80", "-1", " 80 ", "80.0", "1_000", "70000", "65535", "abc", "", "٣"],
    "float": [15.0, 3, "2", "2.5", ".5", "5.", "1e3", "-1", "0", "0.05", "0.1", " 2 ", "1_0",
              "inf", "nan", "soon", "", "1e", "١"],
    "path": ["x.toml", "/nonexistent/dir/c.toml", "-", "", ".", "file", "a//b", "./file",
             Path("p.sqlite3")],
    "choice": ["json", "table", "JSON", "xml", ""],
}


def params(command):
    stack = [command]
    while stack:
        current = stack.pop()
        stack.extend(getattr(current, "commands", {}).values())
        for param in current.params:
            if isinstance(param, _TyperParameter):
                yield current, param


def outcome(command, param, value):
    ctx = Context(command)
    try:
        return "ok", repr(param.get_runtime_param().coerce(value, param=param, ctx=ctx))
    except BadParameter as exc:
        return "error", exc.message, repr(exc.__cause__.errors()[0] if hasattr(
            exc.__cause__, "errors") else exc.__cause__)


def test_every_option_of_ours_gets_the_fast_converter():
    command = typer.main.get_command(app)
    kinds = {_kind(param.type_descriptor) for _, param in params(command)}
    assert None not in kinds, "an option type value_kind does not know: it would load pydantic"
    assert install(command) == sum(1 for _ in params(command))


def test_fast_converter_agrees_with_typer_on_every_option_and_sample_value(tmp_path,
                                                                          monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "file").write_text("")  # exists: a file where a directory is wanted, and so on
    fast, typer_own = typer.main.get_command(app), typer.main.get_command(app)
    install(fast)
    pairs = list(zip(params(fast), params(typer_own), strict=True))
    checked = 0
    for (fast_cmd, fast_param), (own_cmd, own_param) in pairs:
        assert fast_param.name == own_param.name
        kind = _kind(fast_param.type_descriptor)
        values = [None, *SAMPLES[kind]]
        if kind == "choice":
            values += list(fast_param.type_descriptor.annotation)
        for value in values:
            if kind == "list" and isinstance(value, str):
                continue
            assert outcome(fast_cmd, fast_param, value) == outcome(own_cmd, own_param, value), (
                fast_cmd.name, fast_param.name, value)
            checked += 1
    assert checked > 500


def test_a_data_command_does_not_import_pydantic(tmp_path):
    env = dict(os.environ, PYTHONPROFILEIMPORTTIME="1", BALANCECLI_CONFIG=str(tmp_path / "no"))
    proc = subprocess.run([balancecli_exe(), "--demo", "balance", "-f", "json", "--timeout", "9"],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    imported = {line.split("|")[-1].strip() for line in proc.stderr.splitlines()
                if line.startswith("import time:")}
    assert "balancecli.net.http" in imported and "typer" in imported
    assert not {name for name in imported if name.split(".")[0] == "pydantic"}


@pytest.mark.parametrize("args", [["balance", "--timeout", "2.5", "-f", "json"],
                                  ["accounts", "--timeout", " 3 ", "-f", "csv"]])
def test_values_still_reach_the_command(args, tmp_path):
    env = dict(os.environ, BALANCECLI_CONFIG=str(tmp_path / "no"))
    proc = subprocess.run([balancecli_exe(), "--demo", *args], capture_output=True, text=True,
                          env=env, timeout=120)
    assert proc.returncode == 0 and proc.stdout and proc.stderr == "", proc.stderr


# -- only the invoked command is built (commands/usage.py: only_invoked)

def names(app):
    return sorted([typer.main.get_command_name(c.callback.__name__) if c.name is None else c.name
                   for c in app.registered_commands] + [g.name for g in app.registered_groups])


@pytest.mark.parametrize("args,kept", [
    (["balance", "-f", "json"], ["balance"]),
    (["--config", "balance", "accounts"], ["accounts"]),  # a value, not a command
    (["-v", "--demo", "auth", "status"], ["auth"]),
    (["--config=x.toml", "history", "--help"], ["history"]),
])
def test_a_run_builds_only_the_command_it_names(args, kept):
    from balancecli.cli.usage import only_invoked

    pruned = only_invoked(app, args)
    assert names(pruned) == kept and pruned is not app
    assert len(names(app)) == 12  # the app itself is untouched


@pytest.mark.parametrize("args", [[], ["--help"], ["-h", "balance"], ["--version"], ["balanse"],
                                  ["--", "balance"], ["--show-completion", "bash"]])
def test_anything_unusual_gets_the_whole_app(args):
    from balancecli.cli.usage import only_invoked

    assert only_invoked(app, args) is app


def test_a_completion_request_gets_the_whole_app(monkeypatch):
    from balancecli.cli.usage import only_invoked

    monkeypatch.setenv("_BALANCECLI_COMPLETE", "complete_bash")
    assert only_invoked(app, ["balance"]) is app


def test_a_typo_in_a_command_name_still_suggests_the_right_one(tmp_path):
    env = dict(os.environ, BALANCECLI_CONFIG=str(tmp_path / "no"))
    proc = subprocess.run([balancecli_exe(), "balanse"], capture_output=True, text=True, env=env,
                          timeout=60)
    assert proc.returncode == 2 and "balance" in proc.stderr and proc.stdout == ""
