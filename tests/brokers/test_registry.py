"""The registry (``brokers/__init__.py``) is the one list of brokers: every other place that
needs the brokers (config messages, ``profile add --help``, the JSON Schemas, completion,
ledger account names, the broker's own commands) asks it."""

from __future__ import annotations

import pytest

from balancecli import brokers
from balancecli.config import validate_profile
from balancecli.core.errors import ConfigError
from tests.support.cli import run_cli


def test_each_name_leads_to_its_class_and_title():
    assert brokers.NAMES == ("tradestation", "longport", "etna", "quantower")
    for name in brokers.NAMES:
        cls = brokers.broker_class(name)
        assert cls.name == name and brokers.known(name) is cls
    assert [brokers.title(n) for n in brokers.NAMES] == [
        "TradeStation", "LongPort", "ETNA", "Quantower"]


def test_an_unknown_broker():
    with pytest.raises(ConfigError, match="unknown broker 'ibkr'; valid brokers: "
                                          "tradestation, longport, etna, quantower"):
        brokers.broker_class("ibkr", profile="x")
    assert brokers.known("ibkr") is None
    assert brokers.title("ibkr") == "ibkr"  # a row of an old history store keeps its name


def test_a_profile_without_a_broker_is_told_every_choice():
    with pytest.raises(ConfigError) as info:
        validate_profile("x", {"base_url": "https://example.org"})
    assert info.value.message == (
        "missing setting 'broker' (one of tradestation, longport, etna or quantower)")
    assert info.value.next_step == "run: balancecli profile set x broker=BROKER"


def test_profile_add_lists_the_brokers():
    proc = run_cli("profile", "add", "--help", env={"COLUMNS": "200"})
    assert proc.returncode == 0
    assert "tradestation, longport, etna or quantower." in proc.stdout


def test_brokers_that_ship_files_get_their_commands():
    (name, declared), = brokers.commands()
    assert name == "quantower" and [f.name for f in declared.files] == ["bridge"]
    proc = run_cli("--help", env={"COLUMNS": "200"})
    assert f"{name}  {declared.help}" in proc.stdout


def test_only_tradestation_rates_are_kept_in_extra():
    assert brokers.extra_for_rates() == ("tradestation",)
