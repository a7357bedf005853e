"""Tab without Typer answers exactly what Typer's own completion answers.

Every request of a corpus goes through Typer (the app's command, as ``usage.run`` builds it,
our bash class installed) and through ``fastshells.run`` on the generated table, for every
shell the scripts in ``completions/`` speak: bash (both the COMP_LINE script and an older
COMP_WORDS one), zsh, fish (``get-args`` and ``is-args``) and PowerShell. Output and exit code
must be identical, and the fast path must answer itself (no ``Fallback``).

The corpus: every command and group with a new word, ``-``, ``--``, each option's values
(also as ``--opt=``), partial words, a flag already given, ``--`` before an option, unknown
words and options, ``--demo`` and ``--config`` before and after the command, ids with ``:``;
then command lines made at random from the same words.
"""

from __future__ import annotations

import contextlib
import io
import os
import shlex
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from balancecli.cli import fastshells
from balancecli.cli.completion_table import TABLE
from tests.support.completion_table import declared_order
from tests.support.config import write_config

WORDBREAKS = "\"'><=;|&(:"  # bash's default COMP_WORDBREAKS
REQUEST_VARS = ("_BALANCECLI_COMPLETE", "COMP_WORDS", "COMP_CWORD", "_BALANCECLI_COMP_LINE",
                "_BALANCECLI_COMP_WORDBREAKS", "_TYPER_COMPLETE_ARGS",
                "_TYPER_COMPLETE_FISH_ACTION", "_TYPER_COMPLETE_WORD_TO_COMPLETE", "LINES")
ACCOUNTS = ["11827391", "11827392", "83267", "LP-DEMO", "cqg-demo:RITHMIC-PAPER-7",
            "rithmic-demo:RITHMIC-PAPER-7"]


@pytest.fixture(scope="module")
def typer_command() -> Any:
    """The app's command as the console script builds it for a completion request."""
    import typer

    from balancecli.cli.app import app
    from balancecli.cli.complete import use_bash_script
    from balancecli.cli.typer_internals import install_coercion

    command = typer.main.get_command(app)
    install_coercion(command)
    use_bash_script()
    # Click names the help option from a set (Command.get_help_option_names), so whether Tab
    # offers "--help" before "-h" changes from one process to the next; the table holds the
    # declared order, and so, here, does Typer.
    stack = [(command, command.make_context("balancecli", [], resilient_parsing=True))]
    while stack:
        current, ctx = stack.pop()
        option = current.get_help_option(ctx)
        option.opts = declared_order(option.opts, ctx)
        for name, sub in getattr(current, "commands", {}).items():
            stack.append((sub, sub.make_context(name, [], parent=ctx, resilient_parsing=True)))
    return command


@pytest.fixture
def world(tmp_path, monkeypatch) -> Path:
    """A config with profiles (one with a ':'), another config, and a history store."""
    from balancecli.core.models import Asset, Balance
    from balancecli.history import Store

    config = write_config(tmp_path / "config.toml", {
        "ts-live": {"broker": "tradestation"}, "lp": {"broker": "longport"},
        "qt": {"broker": "quantower", "source": "/nowhere/export.json"}})
    config.write_text(config.read_text() + '\n[profiles."odd:name"]\nbroker = "etna"\n')
    write_config(tmp_path / "other.toml", {"etna-x": {"broker": "etna"}})
    db = tmp_path / "history.sqlite3"
    when = datetime(2026, 11, 21, 19, 0, tzinfo=UTC)
    balances = [Balance(profile="lp" if a == "LP-DEMO" else "ts-live", broker="tradestation",
                        account_id=a, currency="USD" if a[0].isdigit() else "HKD",
                        cash=Decimal("1.5")) for a in ACCOUNTS]
    assets = [Asset(profile="ts-live", broker="tradestation", account_id="83267", asset=x)
              for x in ("BTC", "usdt", "EUR")]
    with Store.open(db) as store:
        store.record_run(started_at=when, finished_at=when, profiles=["ts-live", "lp"],
                         balances=balances, assets=assets, errors=[])
    monkeypatch.setenv("BALANCECLI_CONFIG", str(config))
    monkeypatch.setenv("BALANCECLI_DB", str(db))
    monkeypatch.chdir(tmp_path)  # so that "other.toml" is a relative --config
    return tmp_path


@contextlib.contextmanager
def request_env(values: dict[str, str]) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in (*REQUEST_VARS, *values)}
    for name in REQUEST_VARS:
        os.environ.pop(name, None)
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def requests(words: list[str], new_word: bool) -> dict[str, dict[str, str]]:
    """The environment each shell's script sets for the line ``balancecli WORDS`` (a trailing
    space when ``new_word``), keyed by a name for the report."""
    typed = ["balancecli", *words]
    line = " ".join(shlex.quote(w) if w else "''" for w in typed) + (" " if new_word else "")
    incomplete = "" if new_word else typed[-1]
    cword = len(typed) if new_word else len(typed) - 1
    return {
        "bash": {"_BALANCECLI_COMPLETE": "complete_bash", "_BALANCECLI_COMP_LINE": line,
                 "_BALANCECLI_COMP_WORDBREAKS": WORDBREAKS, "COMP_CWORD": str(cword),
                 "COMP_WORDS": line},
        "bash (COMP_WORDS only)": {"_BALANCECLI_COMPLETE": "complete_bash",
                                   "COMP_WORDS": line, "COMP_CWORD": str(cword)},
        "zsh": {"_BALANCECLI_COMPLETE": "complete_zsh", "_TYPER_COMPLETE_ARGS": line},
        "fish": {"_BALANCECLI_COMPLETE": "complete_fish", "_TYPER_COMPLETE_ARGS": line,
                 "_TYPER_COMPLETE_FISH_ACTION": "get-args"},
        "fish is-args": {"_BALANCECLI_COMPLETE": "complete_fish", "_TYPER_COMPLETE_ARGS": line,
                         "_TYPER_COMPLETE_FISH_ACTION": "is-args"},
        "powershell": {"_BALANCECLI_COMPLETE": "complete_powershell",
                       "_TYPER_COMPLETE_ARGS": line,
                       "_TYPER_COMPLETE_WORD_TO_COMPLETE": incomplete},
    }


def stream() -> io.TextIOWrapper:
    return io.TextIOWrapper(io.BytesIO(), encoding="utf-8")


def output(out: io.TextIOWrapper) -> str:
    out.flush()
    return out.buffer.getvalue().decode()  # type: ignore[attr-defined]


def typer_answer(command: Any) -> tuple[Any, str]:
    out = stream()
    code: Any = None
    with contextlib.redirect_stdout(out):
        try:
            command.main(prog_name="balancecli", standalone_mode=False)
        except SystemExit as exc:
            code = exc.code
    return code, output(out)


def fast_answer() -> tuple[Any, str]:
    out = stream()
    code = fastshells.run(TABLE, os.environ, out)
    return code, output(out)


def assert_same(command: Any, words: list[str], new_word: bool,
                extra: dict[str, str] | None = None) -> None:
    for shell, env in requests(words, new_word).items():
        with request_env({**env, **(extra or {})}):
            theirs = typer_answer(command)
            ours = fast_answer()
        assert ours == theirs, f"{shell}: balancecli {' '.join(words)}{' ' if new_word else ''}"


# -- the corpus -------------------------------------------------------------------------------


def command_paths(node: dict[str, Any] = TABLE["root"], path: tuple[str, ...] = ()
                  ) -> Iterator[tuple[tuple[str, ...], dict[str, Any]]]:
    yield path, node
    for name, sub in node.get("commands", ()):
        yield from command_paths(sub, (*path, name))


def corpus() -> Iterator[tuple[list[str], bool]]:
    """(words, new word?) for each line of the corpus."""
    for path, node in command_paths():
        words = list(path)
        yield words, True
        yield [*words, "-"], False
        yield [*words, "--"], False
        yield [*words, "--", ""], False
        yield [*words, "--", "-"], False
        yield [*words, "bogus"], True
        yield [*words, "--bogus", "-"], False
        yield [*words, "-Z", "-"], False
        for name, _ in node.get("commands", ()):
            yield [*words, name[:1]], False
            yield [*words, name[:2]], False
        for param in node["params"]:
            opts = param.get("opts", [])
            if not opts:
                continue
            if param.get("flag"):
                yield [*words, opts[0], "-"], False
                yield [*words, opts[0], "--"], False
                continue
            for opt in opts:
                yield [*words, opt], True
                yield [*words, opt, "x"], False
                yield [*words, opt, "a", "-"], False
            yield [*words, f"{opts[0]}="], False
            yield [*words, f"{opts[0]}=t"], False
            yield [*words, f"{opts[0]}=t"], True
        for before in (["--demo"], ["--config", "other.toml"], ["-v", "--demo"]):
            if path:
                yield [*before, *words, "-p"], True
                yield [*before, *words, "-a"], True
                yield [*before, *words], True
        yield [*words, "--demo", "-p"], True
        yield [*words, "--config", "other.toml", "-p"], True
        yield [*words, "--config", "other.toml", "--demo", "-p", "demo-"], False
        yield [*words, "-p", "lp", "-p"], True
        yield [*words, "-h", "--"], False
        yield [*words, "-vq", "-"], False
        yield [*words, "-pts-live", "-p"], True
        yield [*words, "--watch", "-p"], True
        yield [*words, "--watch", "5", "-"], False
        yield [*words, "-a", "cqg-demo:R"], False
        yield [*words, "-a", "rithmic-demo:"], False
        yield [*words, "-a", "cqg-demo:RITHMIC-PAPER-7", "-a"], True
        yield [*words, "-p", "odd:"], False
        yield [*words, "--currency", "us"], False
        yield [*words, "--in", "EU"], False
        yield [*words, "--field", "m"], False


CORPUS = list(corpus())


def test_the_corpus_covers_every_command_and_option():
    paths = [" ".join(path) for path, _ in command_paths()]
    assert {"", "balance", "auth", "auth login", "profile add", "rates update"} <= set(paths)
    assert len(CORPUS) > 1000


@pytest.mark.parametrize("start", range(0, len(CORPUS), 100))
def test_the_fast_path_answers_the_corpus_as_typer_does(typer_command, world, start):
    for words, new_word in CORPUS[start:start + 100]:
        assert_same(typer_command, words, new_word)


@pytest.mark.parametrize("columns", [None, "40", "61", "9", "1"])
def test_help_texts_wrap_as_typer_wraps_them(typer_command, world, monkeypatch, columns):
    if columns is None:
        monkeypatch.delenv("COLUMNS")
    else:
        monkeypatch.setenv("COLUMNS", columns)
    for words in (["balance"], ["auth"], ["history"], ["profile", "add", "x"], []):
        assert_same(typer_command, [*words, "-"], False)
        assert_same(typer_command, [*words, "--"], False, {"LINES": "24"})
        assert_same(typer_command, words, True)


def test_a_dumb_terminal_is_80_columns_as_for_rich(typer_command, world, monkeypatch):
    monkeypatch.setenv("TERM", "dumb")
    monkeypatch.setenv("TTY_COMPATIBLE", "1")
    assert_same(typer_command, ["balance", "--f"], False)


VOCABULARY = sorted({"", "-", "--", "=", "x", "1", "5", "ts-live", "lp", "odd:", "cqg-demo:R",
                     "-pfoo", "-vq", "-qv", "--format=json", "--watch=3", "--bogus", "-Z",
                     "other.toml", "json", "table", "USD", "us"}
                    | {name for path, _ in command_paths() for name in path}
                    | {opt for _, node in command_paths() for p in node["params"]
                       for opt in [*p.get("opts", []), *p.get("secondary", [])]})


@settings(max_examples=400, derandomize=True, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(words=st.lists(st.sampled_from(VOCABULARY), max_size=7), new_word=st.booleans())
def test_random_command_lines_get_the_same_answer(typer_command, world, words, new_word):
    assert_same(typer_command, words, new_word or not words)


# -- what the fast path leaves to Typer -------------------------------------------------------


@pytest.mark.parametrize("instruction", ["source_bash", "complete_tcsh", "bash", "complete"])
def test_requests_it_does_not_model_fall_back(instruction, monkeypatch):
    monkeypatch.setenv("_BALANCECLI_COMPLETE", instruction)
    with pytest.raises(fastshells.Fallback):
        fastshells.run(TABLE, os.environ, stream())


def test_help_with_rich_markup_falls_back(monkeypatch):
    table = {**TABLE, "rich": ["Show this message and exit."]}
    monkeypatch.setenv("_BALANCECLI_COMPLETE", "complete_zsh")
    monkeypatch.setenv("_TYPER_COMPLETE_ARGS", "balancecli --he")
    with pytest.raises(fastshells.Fallback):
        fastshells.run(table, os.environ, stream())
    monkeypatch.setenv("_BALANCECLI_COMPLETE", "complete_bash")  # bash shows no help
    monkeypatch.setenv("COMP_WORDS", "balancecli --he")
    monkeypatch.setenv("COMP_CWORD", "1")
    out = stream()
    assert fastshells.run(table, os.environ, out) == 0 and output(out) == "--help\n"


def test_rendered_matches_rich_at_every_width():
    from rich.console import Console

    texts = [option.get("help") or "" for _, node in command_paths()
             for option in node["params"]] + ["a " * 30, "word" * 30, " lead  and  two  spaces "]
    for text in filter(None, texts):
        for width in (1, 2, 7, 20, 33, 40, 79, 80, 200):
            console = Console(width=width, height=25)
            expected = "".join(s.text for s in console.render(text)).rstrip("\n")
            assert fastshells.rendered(text, width) == expected, (text, width)
