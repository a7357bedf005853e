"""Broker registry: a plain tuple of built-in classes (no entry points, no import magic).

Broker modules are imported only when a profile uses them, so ``--help`` stays fast.
"""

from __future__ import annotations

import importlib

from balancecli.core.errors import ConfigError

# name -> "module:Class". Adding a broker is one line here, one module and one test file.
_REGISTRY = {
    "tradestation": "balancecli.brokers.tradestation.broker:TradeStation",
    "longport": "balancecli.brokers.longport.broker:LongPort",
    "etna": "balancecli.brokers.etna:Etna",
    "quantower": "balancecli.brokers.quantower.broker:Quantower",
}

NAMES = tuple(_REGISTRY)


def broker_class(name: str, *, profile: str | None = None):
    """The broker class for ``name``; an unknown name is a config error listing the valid ones."""
    target = _REGISTRY.get(name)
    if target is None:
        raise ConfigError(
            f"unknown broker {name!r}; valid brokers: {', '.join(NAMES)}",
            profile=profile,
            next_step="fix 'broker' in the config file",
        )
    module_name, _, attr = target.partition(":")
    return getattr(importlib.import_module(module_name), attr)
