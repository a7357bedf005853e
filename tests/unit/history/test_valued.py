"""Runs read back for valuation (``history.valued``): one run at a time, and ``extra`` only
for the brokers whose rates are read from it (the caller names them)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from balancecli.core.models import Balance
from balancecli.history import Store

T0 = datetime(2026, 11, 19, 12, tzinfo=UTC)


def test_extra_is_read_back_only_for_the_brokers_asked(tmp_path):
    db = tmp_path / "history.sqlite3"
    rows = [Balance("a", "one", "1", currency="JPY", equity=Decimal("5"),
                    extra={"Details": [{"Rate": "150"}]}),
            Balance("b", "two", "2", currency="USD", cash=Decimal("7"), extra={"Big": "x" * 50})]
    with Store.open(db) as store:
        store.record_run(started_at=T0, finished_at=T0 + timedelta(seconds=1),
                         profiles=["a", "b"], balances=rows, assets=[], errors=[], rates=[])
    with Store.open(db, readonly=True) as store:
        run, = store.iter_run_rows(extra_of=("one",))
        assert [(b.broker, b.extra) for b in run.balances] == [
            ("one", {"Details": [{"Rate": "150"}]}), ("two", {})]
        assert [b.equity for b in run.balances] == [Decimal("5"), None]
        run, = store.iter_run_rows(profiles=["b"])
        assert [(b.broker, b.extra, b.cash) for b in run.balances] == [("two", {}, Decimal("7"))]
        chosen, = store.iter_rows_of_runs(store.iter_run_stamps(), extra_of=("one",))
        assert chosen == store_run(store, ("one",))
        assert [b.extra for b in chosen.balances] == [{"Details": [{"Rate": "150"}]}, {}]


def store_run(store, extra_of):
    run, = store.iter_run_rows(extra_of=extra_of)
    return run
