"""The demo's own history store, with a past: ``--demo history`` and ``--demo snapshot`` find
about 90 days of generated snapshots there (``demo.past``), and each new demo snapshot
continues them.

Only the demo's default store (``history-demo.sqlite3``) is given a past, never a ``--db`` or
``BALANCECLI_DB`` file: the user's own history never holds generated runs. When it has no run,
the past is generated from the sample rows of one demo fetch (the rows as the fakes send them,
before motion) and written in one transaction; when its newest run is older than the past's
step (4 hours), the gap up to now is filled the same way, so the history has no hole. The
runs carry the broker rates their rows hold, as ``snapshot`` stores them. With the demo
clock ``still`` (tests of the sample data) nothing is generated.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from balancecli.cli.runtime import Runtime

Sample = tuple[list[Any], list[Any]]


def is_default(rt: Runtime, explicit: Path | None) -> bool:
    """The demo's default store: ``--demo`` without ``--db`` or ``BALANCECLI_DB``."""
    from balancecli.history import ENV_DB

    return rt.demo and explicit is None and not os.environ.get(ENV_DB)


def sample_rows(rt: Runtime) -> Sample:
    """Every demo profile's balances and assets as the fakes send them (no motion)."""
    from balancecli.service.fetch import Options, Relay, run

    selection = rt.selection(None)
    fetched = run(selection.profiles, Options(
        command="snapshot", presets=selection.presets, listener=Relay(warn=rt.warn)))
    return fetched.rows, fetched.assets


def with_past(rt: Runtime, path: Path, *, explicit: Path | None,
              sample: Sample | None = None, end: datetime | None = None) -> int:
    """Give the demo's default store its past up to ``end`` (the demo's clock): the whole
    past when it has no run, the missing runs after its newest one otherwise. Returns how
    many runs were written (``sample``: the rows to move, else fetched here)."""
    from balancecli import history
    from balancecli.demo.past import DAYS, EVERY, demo_clock, past_runs

    if not is_default(rt, explicit):
        return 0
    now = demo_clock()
    if now is None:
        return 0
    end = end or now
    with history.Store.open(path) as store:
        _, _, last = store.run_span()
        newest = datetime.fromisoformat(last.replace("Z", "+00:00")) if last else None
        if newest is not None and end - newest < EVERY:
            return 0
        rows = sample or sample_rows(rt)
        ids = store.record_runs(_recorded(run) for run in past_runs(*rows, end=end,
                                                                    after=newest))
    if ids and newest is None:
        rt.note(f"note: the demo's history starts with {len(ids)} generated snapshots "
                f"({DAYS} days, one every {EVERY // timedelta(hours=1)} hours) in {path}")
    return len(ids)


def _recorded(run: Any) -> dict[str, Any]:
    """A generated run as ``Store.record_runs`` takes it, with the rates its rows carry."""
    from balancecli.service.networth import snapshot_rates

    return {**run._asdict(), "errors": [], "rates": snapshot_rates(
        run.balances, run.assets, config=None, demo=True, warn=lambda message: None)}
