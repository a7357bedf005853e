"""Next steps worded once: the boundary's ``with_flags`` (a suggested command repeats the run's
global flags), the did-you-mean helper, and the fixes of a bad setting."""

from __future__ import annotations

import pytest
import typer

from balancecli.cli.boundary import COMMANDS, Flags, with_flags
from balancecli.core.suggest import closest, did_you_mean
from tests.support.steps import step_of


def test_the_command_list_is_the_apps():
    from balancecli import brokers
    from balancecli.cli.app import app

    top = set(typer.main.get_command(app).commands)
    assert top - {name for name, _ in brokers.commands()} == COMMANDS


@pytest.mark.parametrize("text,flags,expected", [
    ("run: balancecli snapshot (or pass --db PATH)", Flags(demo=True),
     "run: balancecli --demo snapshot (or pass --db PATH)"),
    ("run: balancecli auth status work", Flags(config="other.toml"),
     "run: balancecli --config other.toml auth status work"),
    ("run: balancecli auth status work", Flags(config="my dir/c.toml"),
     "run: balancecli --config 'my dir/c.toml' auth status work"),
    ("run: balancecli profile unset ts x && balancecli profile set ts y=1",
     Flags(config="c.toml"),
     "run: balancecli --config c.toml profile unset ts x && "
     "balancecli --config c.toml profile set ts y=1"),
    # already there: not twice; the demo ignores a config; help is the same page anyway
    ("run: balancecli profile add NAME --broker BROKER (or try: balancecli --demo balance)",
     Flags(config="c.toml"),
     "run: balancecli --config c.toml profile add NAME --broker BROKER (or try: "
     "balancecli --demo balance)"),
    ("run: balancecli --demo balance -p x", Flags(demo=True),
     "run: balancecli --demo balance -p x"),
    ("error: --at: bad (run: balancecli history --help)", Flags(demo=True),
     "error: --at: bad (run: balancecli history --help)"),
    # not a command, or one that reads no config: as it is
    ("check that the balancecli bridge Strategy is running", Flags(demo=True),
     "check that the balancecli bridge Strategy is running"),
    ("x.db is not a balancecli history database", Flags(demo=True),
     "x.db is not a balancecli history database"),
    ("run: balancecli quantower bridge", Flags(config="c.toml"),
     "run: balancecli quantower bridge"),
    ("run: balancecli schema balance", Flags(demo=True), "run: balancecli schema balance"),
    ("run: balancecli snapshot", Flags(), "run: balancecli snapshot"),
])
def test_with_flags(text, flags, expected):
    assert with_flags(text, flags) == expected


def test_a_step_reads_back_as_the_commands_it_names():
    line = ("error: ts: x — run: balancecli --config 'my dir/c.toml' profile unset ts k && "
            "balancecli profile set ts 'source=~/a b.json' (back to its default)\n")
    assert step_of(line) == [
        ["balancecli", "--config", "my dir/c.toml", "profile", "unset", "ts", "k"],
        ["balancecli", "profile", "set", "ts", "source=~/a b.json"]]
    assert step_of("error: x: y — fix that line in an editor\n") == []


@pytest.mark.parametrize("word,candidates,found", [
    ("tss", ["ts", "lp"], "ts"), ("quantowr", ["tradestation", "quantower"], "quantower"),
    ("environmnet", ["environment", "api"], "environment"), ("TS", ["ts"], "ts"),
    ("xyz", ["ts", "lp"], None), ("ts", ["ts"], None),
])
def test_closest(word, candidates, found):
    assert closest(word, candidates) == found


def test_did_you_mean():
    assert did_you_mean("tss", ["ts"]) == "; did you mean 'ts'?"
    assert did_you_mean("tss", ["ts"], quote=False) == "; did you mean ts?"
    assert did_you_mean("zzz", ["ts"]) == ""


@pytest.mark.parametrize("raw,message,step", [
    ({"broker": "tradestation", "environmnet": "sim"},
     "unknown setting 'environmnet' for broker tradestation; did you mean 'environment'?",
     "run: balancecli profile unset ts environmnet && balancecli profile set ts "
     "environment=sim"),
    ({"broker": "tradestation", "api": "v4"},
     "setting 'api' must be one of v3, v2, got 'v4'", "run: balancecli profile set ts api=v3"),
    ({"broker": "tradestation", "timeout": -1},
     "setting 'timeout' must be more than 0, got -1 (seconds per request)",
     "run: balancecli profile unset ts timeout (back to its default)"),
    ({"broker": "tradestaton"}, "unknown broker 'tradestaton'; did you mean 'tradestation'?",
     "run: balancecli profile set ts broker=tradestation"),
    ({"broker": "etna"}, "missing setting 'base_url' (broker etna)",
     "run: balancecli profile set ts base_url=https://HOST/api"),
    ({"broker": "tradestation", "client_secert": "x"},
     "'client_secert' is not a setting: CLIENT_SECRET is a secret, and secrets never go in "
     "the config file", "run: balancecli profile unset ts client_secert && balancecli auth "
     "login ts"),
    ({"broker": "tradestation", "api": 3}, "setting 'api' must be text, got 3",
     "run: balancecli profile unset ts api (back to its default)"),
])
def test_a_bad_setting_in_the_file_says_the_command_that_fixes_it(raw, message, step):
    from balancecli.config import validate_profile
    from balancecli.core.errors import ConfigError

    with pytest.raises(ConfigError) as caught:
        validate_profile("ts", raw)
    assert (caught.value.message, caught.value.next_step) == (message, step)
