"""The broker registry: the one list of brokers (no entry points, no import magic).

Everything that needs the brokers asks here: config validation, completion, the JSON Schemas
(``broker`` is one of ``NAMES``), ``profile add --broker``, ledger account names (``title``).
A broker module is imported only when it is used, so ``--help`` stays fast.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from balancecli.core.errors import ConfigError

if TYPE_CHECKING:
    from balancecli.brokers.base import Broker
    from balancecli.brokers.shipped import Commands


@dataclass(frozen=True)
class Entry:
    """Where a broker lives: its class (``"module:Class"``, imported when a profile uses it)
    and, if it has commands of its own, their declaration (``"module:NAME"``, a light module:
    ``--help`` lists them)."""

    cls: str
    commands: str | None = None


# In the order brokers are listed. Adding a broker is one line here, its module or package and
# its tests (see balancecli/README.md, "Adding a broker").
_REGISTRY: dict[str, Entry] = {
    "tradestation": Entry("balancecli.brokers.tradestation.broker:TradeStation"),
    "longport": Entry("balancecli.brokers.longport.broker:LongPort"),
    "etna": Entry("balancecli.brokers.etna:Etna"),
    "quantower": Entry("balancecli.brokers.quantower.broker:Quantower",
                       commands="balancecli.brokers.quantower.bridge:COMMANDS"),
}

NAMES: tuple[str, ...] = tuple(_REGISTRY)


def broker_class(name: str, *, profile: str | None = None) -> type[Broker]:
    """The broker class for ``name``; an unknown name is a config error listing the valid ones."""
    entry = _REGISTRY.get(name)
    if entry is None:
        raise ConfigError(
            f"unknown broker {name!r}; valid brokers: {', '.join(NAMES)}",
            profile=profile,
            next_step="fix 'broker' in the config file",
        )
    found: type[Broker] = _load(entry.cls)
    return found


def commands() -> list[tuple[str, Commands]]:
    """(broker name, its own commands) of each broker that declares some."""
    return [(name, _load(entry.commands)) for name, entry in _REGISTRY.items()
            if entry.commands is not None]


def _load(target: str) -> Any:
    module_name, _, attr = target.partition(":")
    return getattr(importlib.import_module(module_name), attr)


def known(name: str) -> type[Broker] | None:
    """The broker class for ``name``, or None for a name no longer registered (a row of an
    old history store)."""
    return broker_class(name) if name in _REGISTRY else None


def title(name: str) -> str:
    """The broker's name for people (``TradeStation``); an unregistered name as it is."""
    cls = known(name)
    return cls.title if cls is not None else name


def listed(conjunction: str = "or") -> str:
    """The broker names for a message: ``tradestation, longport, etna or quantower``."""
    return f"{', '.join(NAMES[:-1])} {conjunction} {NAMES[-1]}" if len(NAMES) > 1 else NAMES[0]


def extra_for_rates() -> tuple[str, ...]:
    """The brokers whose reported rates are read from the balance rows' ``extra``: a stored
    run read back for valuation keeps it for their rows only."""
    return tuple(name for name in NAMES if broker_class(name).rates_need_extra)
