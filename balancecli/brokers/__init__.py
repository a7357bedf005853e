"""The broker registry: the one list of brokers (no entry points, no import magic).

Everything that needs the brokers asks here: config validation, completion, the JSON Schemas
(``broker`` is one of ``NAMES``), ``profile add --broker``, ledger account names (``title``).
A broker module is imported only when it is used, so ``--help`` stays fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from balancecli.core.errors import ConfigError

if TYPE_CHECKING:
    from balancecli.brokers.base import Broker

# name -> "module:Class", in the order brokers are listed. Adding a broker is one line here,
# its module or package and its tests (see balancecli/README.md, "Adding a broker").
_REGISTRY: dict[str, str] = {
    "tradestation": "balancecli.brokers.tradestation.broker:TradeStation",
    "longport": "balancecli.brokers.longport.broker:LongPort",
    "etna": "balancecli.brokers.etna:Etna",
    "quantower": "balancecli.brokers.quantower.broker:Quantower",
}

NAMES: tuple[str, ...] = tuple(_REGISTRY)


def broker_class(name: str, *, profile: str | None = None) -> type[Broker]:
    """The broker class for ``name``; an unknown name is a config error listing the valid ones."""
    target = _REGISTRY.get(name)
    if target is None:
        raise ConfigError(
            f"unknown broker {name!r}; valid brokers: {', '.join(NAMES)}",
            profile=profile,
            next_step="fix 'broker' in the config file",
        )
    module_name, _, attr = target.partition(":")
    found: type[Broker] = getattr(importlib.import_module(module_name), attr)
    return found


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
