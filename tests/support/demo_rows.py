"""The demo's sample rows as a ``--demo`` fetch returns them (balances and assets of the four
fake brokers), fetched once per process over real sockets: the input of ``demo.past``."""

from __future__ import annotations

import contextlib
from functools import cache
from pathlib import Path

from balancecli.core.models import Asset, Balance


@cache
def sample_rows() -> tuple[tuple[Balance, ...], tuple[Asset, ...]]:
    from balancecli import config
    from balancecli.demo import start_demo
    from balancecli.service import fetch

    with contextlib.ExitStack() as stack:
        demos = start_demo(stack)
        profiles, errors = config.select({n: d.settings for n, d in demos.items()}, None,
                                         Path("<demo>"))
        assert not errors, errors
        outcome = fetch.run(profiles, fetch.Options(
            command="snapshot", presets={n: d.secrets for n, d in demos.items()}))
    assert not outcome.errors, outcome.errors
    return tuple(outcome.rows), tuple(outcome.assets)
