"""One setting edited in place in the config text: the table's place, its other settings and
every comment stay; the result parses to exactly the expected data."""

from __future__ import annotations

import tomllib

from balancecli.cli.commands.profile_toml import save, set_key, unset_key

TEXT = """# my brokers

# the ETNA one
[profiles.etna]  # mine
broker = "etna"
base_url = "https://etna.example/api"  # the demo host
accounts = [
  "A1",  # first
  "A2",
]

# TradeStation, sim
[profiles.ts]
broker = "tradestation"
"""


def test_a_value_is_replaced_where_it_stands_with_its_comment():
    text = set_key(TEXT, "etna", "base_url", "https://other.example/api")
    assert 'base_url = "https://other.example/api"  # the demo host\n' in text
    assert text.replace("other", "etna") == TEXT


def test_a_value_over_several_lines_is_replaced_whole():
    text = set_key(TEXT, "etna", "accounts", ["B1"])
    assert 'accounts = ["B1"]\n\n# TradeStation, sim\n' in text
    assert tomllib.loads(text)["profiles"]["etna"]["accounts"] == ["B1"]


def test_a_new_key_goes_after_the_tables_last_setting_not_into_the_next_tables_comment():
    text = set_key(TEXT, "etna", "currency", "EUR")
    assert '  "A2",\n]\ncurrency = "EUR"\n\n# TradeStation, sim\n[profiles.ts]' in text
    last = set_key(TEXT, "ts", "environment", "sim")
    assert last == TEXT + 'environment = "sim"\n'


def test_a_key_is_removed_with_its_lines_only():
    text = unset_key(TEXT, "etna", "accounts")
    assert text == TEXT.replace('accounts = [\n  "A1",  # first\n  "A2",\n]\n', "")
    assert unset_key(TEXT, "etna", "nope") == TEXT


def test_keys_of_another_table_are_never_touched():
    text = set_key(TEXT, "ts", "base_url", "https://x.example")
    assert tomllib.loads(text)["profiles"]["etna"]["base_url"] == "https://etna.example/api"
    assert tomllib.loads(text)["profiles"]["ts"]["base_url"] == "https://x.example"


def test_a_profile_that_is_no_table_is_written_from_its_data(tmp_path):
    path = tmp_path / "c.toml"
    inline = '[profiles]\nts = {broker = "tradestation"}  # inline\n'
    text = set_key(inline, "ts", "api", "v2")
    assert text == inline  # nothing to edit in place
    expected = {"profiles": {"ts": {"broker": "tradestation", "api": "v2"}}}
    assert save(path, text, expected) is False
    assert tomllib.loads(path.read_text()) == expected
    assert oct(path.stat().st_mode & 0o777) == "0o600"
