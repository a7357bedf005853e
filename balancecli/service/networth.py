"""Net worth over stored runs (``history --in CUR``), and the rates ``snapshot`` stores so that
a run can be valued later, offline.

A run's rates, in order: the broker rates it stored (and, for runs stored before schema 3, the
ones its stored rows carry: TradeStation CurrencyDetails, Quantower TotalInUSD), the config
``[rates]`` it stored (then today's config for the pairs it did not store), then the ECB rate of
the run's UTC day (the last published day at or before it). Each run is valued with its own rows
only: a run in which a profile failed is ``incomplete`` rather than topped up with older rows.

Per run: ``run_id, taken_at, currency, total, incomplete, accounts, unconverted, change`` (from
the previous run with a total); the summary of a range: ``first, last, change, change_pct,
sparkline``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

FIELDS = ("run_id", "taken_at", "currency", "total", "incomplete", "accounts", "unconverted",
          "change")


def snapshot_rates(balances: list[Any], assets: list[Any], *, config: Path | None, demo: bool,
                   warn: Callable[[str], None]) -> list[tuple[Any, ...]]:
    """What ``snapshot`` stores: every broker rate of the run, and the config ``[rates]``."""
    from balancecli.core.errors import BalanceCliError
    from balancecli.money.rates import Rate, load_settings
    from balancecli.money.valuation import broker_quotes

    stored: list[tuple[Any, ...]] = [
        (profile, account_id, rate)
        for (profile, account_id), quotes in broker_quotes(balances, assets).items()
        for rate in quotes]
    if not demo:
        try:
            table = load_settings(config).table
        except BalanceCliError as exc:  # a bad [rates] table must not cost the snapshot
            warn(f"config rates not stored: {exc.message}")
            table = {}
        stored += [(None, None, Rate(base, quote, value, Decimal(1), "config"))
                   for (base, quote), value in table.items()]
    return stored


def _run_rates(run: Any, settings: Any, ecb: Any, day: date) -> Any:
    from balancecli.money.rates import DIVIDE, Rate, Rates
    from balancecli.money.valuation import broker_quotes

    broker: dict[Any, list[Any]] = {}
    config = dict(settings.table)
    for r in run.rates:
        if r.source == "config":  # stored as num / 1
            config[(r.base, r.quote)] = r.num if r.den == 1 else DIVIDE.divide(r.num, r.den)
            continue
        how = f"broker {r.profile} (stored)"
        broker.setdefault((r.profile, r.account_id), []).append(
            Rate(r.base, r.quote, r.num, r.den, "broker", r.day, how))
    for key, quotes in broker_quotes(run.balances, run.assets, day).items():
        broker.setdefault(key, []).extend(quotes)
    return Rates(day=day, config=config, ecb=ecb, broker=broker,
                 max_age_days=settings.max_age_days)


def valued_runs(store: Any, target: str, settings: Any, *, since: datetime | None,
                until: datetime | None, profiles: list[str] | None,
                accounts: list[str] | None, stamps: Iterable[Any] | None = None,
                ) -> Iterator[tuple[dict[str, Any], Any]]:
    """(the run's fields, its Converted) for each run, oldest first; ``stamps``: only these
    runs (closes, ``--last``), whose rows alone are read. ``change`` is from the previous
    run shown with a total."""
    from balancecli.money.ecb import load_ecb
    from balancecli.money.rates import EXACT
    from balancecli.money.valuation import value_accounts

    ecb: Any = None
    loaded = False

    def lazy_ecb() -> Any:
        nonlocal ecb, loaded
        if not loaded:
            ecb, loaded = load_ecb(), True
        return ecb

    previous = None
    from balancecli.brokers import extra_for_rates

    runs = (store.iter_run_rows(since=since, until=until, profiles=profiles,
                                account_ids=accounts, extra_of=extra_for_rates())
            if stamps is None else
            store.iter_rows_of_runs(stamps, profiles=profiles, account_ids=accounts,
                                    extra_of=extra_for_rates()))
    for run in runs:
        if not run.balances and not run.assets:
            continue  # a run that stored nothing for these accounts
        day = date.fromisoformat(run.taken_at[:10])
        rates = _run_rates(run, settings, lazy_ecb, day)
        converted = value_accounts(run.balances, run.assets, rates, target, failed=not run.ok)
        total = converted.total
        change = (EXACT.subtract(total, previous)
                  if total is not None and previous is not None else None)
        if total is not None:
            previous = total
        yield ({"run_id": run.run_id, "taken_at": run.taken_at, "currency": target,
                "total": total, "incomplete": converted.incomplete,
                "accounts": len(converted.accounts), "unconverted": len(converted.unconverted),
                "change": change}, converted)


def summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The first and last run with a total, the change between them (also in percent of the
    first) and a sparkline of every run's total."""
    from balancecli.history import sparkline
    from balancecli.money.rates import DIVIDE, EXACT

    known = [r for r in rows if r["total"] is not None]
    first, last = (known[0], known[-1]) if known else (None, None)
    change = pct = None
    if first and last:
        change = EXACT.subtract(last["total"], first["total"])
        if first["total"] != 0:
            pct = DIVIDE.divide(EXACT.multiply(change, 100), first["total"])

    def point(r: dict[str, Any] | None) -> dict[str, Any] | None:
        return None if r is None else {k: r[k] for k in ("run_id", "taken_at", "total",
                                                         "incomplete")}

    return {"first": point(first), "last": point(last), "change": change, "change_pct": pct,
            "sparkline": sparkline([r["total"] for r in rows])}
