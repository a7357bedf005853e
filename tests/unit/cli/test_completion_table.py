"""The checked-in completion table is the one the app generates, and the generator refuses
what the fast path does not model rather than writing a table that answers wrongly."""


import difflib
from typing import Annotated

import pytest
import typer

from tests.support.completion_table import COMMAND, TABLE_FILE, build, source


def test_the_completion_table_matches_the_app():
    expected, current = source(), TABLE_FILE.read_text()
    if expected != current:
        diff = difflib.unified_diff(current.splitlines(), expected.splitlines(),
                                    "checked in", "from the app", lineterm="", n=0)
        pytest.fail(f"balancecli/cli/completion_table.py is stale: run {COMMAND}\n"
                    + "\n".join(list(diff)[:40]))


def test_the_table_is_importable_without_typer():
    import subprocess
    import sys

    code = ("import sys; from balancecli.cli import completion_table, fastshells; "
            "print(sorted(m for m in ('typer', 'click', 'rich', 'requests', 'keyring', "
            "'sqlite3', 'pydantic') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"


def tiny_app(**option: object) -> typer.Typer:
    name_option = Annotated[str, typer.Option("--name", **option)]
    app = typer.Typer()

    @app.command()
    def run(name: name_option = "x") -> None:
        """Run."""

    @app.command()
    def other() -> None:
        """Other."""

    return app


def test_a_callback_outside_complete_py_is_refused():
    with pytest.raises(TypeError, match="must be a function of balancecli/cli/complete.py"):
        build(tiny_app(autocompletion=lambda incomplete: ["a"]))


def test_a_command_class_it_does_not_model_is_refused():
    from typer.core import TyperCommand

    class Custom(TyperCommand):
        pass

    app = tiny_app()
    app.command("custom", cls=Custom)(lambda: None)
    with pytest.raises(TypeError, match="command class Custom is not modelled"):
        build(app)


def test_a_table_of_a_plain_app_is_built():
    table = build(tiny_app(help="The name."))
    assert [name for name, _ in table["root"]["commands"]] == ["run", "other"]
    run = dict(table["root"]["commands"])["run"]
    assert {"name": "name", "opts": ["--name"], "help": "The name.", "value": "str",
            "default": "x"} in run["params"]
