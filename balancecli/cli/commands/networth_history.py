"""``history --in CUR``: net worth per stored run, each run valued offline with the rates of its
own day, and what ``snapshot`` stores so that this works later.

A run's rates, in order: the broker rates it stored (and, for runs stored before schema 3, the
ones its stored rows carry: TradeStation CurrencyDetails, Quantower TotalInUSD), the config
``[rates]`` it stored (then today's config for the pairs it did not store), then the ECB rate of
the run's UTC day (the last published day at or before it). Each run is valued with its own rows
only: a run in which a profile failed is ``incomplete`` rather than topped up with older rows.

Per run: ``run_id, taken_at, currency, total, incomplete, accounts, unconverted, change`` (from
the previous run with a total), the same fields in every format; JSON adds each run's
``converted`` block and the summary ``first, last, change, change_pct, sparkline``.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from typing import Any

SCHEMA = "balancecli.history.networth/1"
FIELDS = ("run_id", "taken_at", "currency", "total", "incomplete", "accounts", "unconverted",
          "change")


def snapshot_rates(rt: Any, balances: list[Any], assets: list[Any]) -> list[tuple[Any, ...]]:
    """What ``snapshot`` stores: every broker rate of the run, and the config ``[rates]``."""
    from balancecli.core.errors import BalanceCliError
    from balancecli.money.rates import Rate, load_settings
    from balancecli.money.valuation import broker_quotes

    stored: list[tuple[Any, ...]] = [
        (profile, account_id, rate)
        for (profile, account_id), quotes in broker_quotes(balances, assets).items()
        for rate in quotes]
    if not rt.demo:
        try:
            table = load_settings(rt.config).table
        except BalanceCliError as exc:  # a bad [rates] table must not cost the snapshot
            rt.warn(f"config rates not stored: {exc.message}")
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
                accounts: list[str] | None) -> Iterator[tuple[dict[str, Any], Any]]:
    """(the run's fields, its Converted) for each run, oldest first."""
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

    for run in store.iter_run_rows(since=since, until=until, profiles=profiles,
                                   account_ids=accounts, extra_of=extra_for_rates()):
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


def show(rt: Any, store: Any, target: str, settings: Any, *, since: datetime | None,
         until: datetime | None, profiles: list[str] | None, accounts: list[str] | None,
         fmt: str) -> int:
    from balancecli import history
    from balancecli.core.clock import utc_now
    from balancecli.core.exactjson import dumps_exact

    rows: list[dict[str, Any]] = []
    missing: dict[tuple[str, str], str] = {}
    stale: set[date] = set()
    runs = valued_runs(store, target, settings, since=since, until=until, profiles=profiles,
                       accounts=accounts)
    if fmt == "json":
        head = dumps_exact({"schema": SCHEMA, "generated_at": utc_now(), "currency": target,
                            "since": since and history.format_time(since),
                            "until": until and history.format_time(until)})
        rt.out(head[:-1] + ', "runs": [')
    elif fmt == "csv":
        rt.out(",".join(FIELDS) + "\n")
    for row, converted in runs:
        if fmt == "json":
            rt.out((", " if rows else "")
                   + dumps_exact({**row, "converted": converted.as_dict()}))
        elif fmt == "jsonl":
            rt.out(dumps_exact(row) + "\n")
        elif fmt == "csv":
            rt.out(_csv_line(row))
        rows.append(row)
        for u in converted.unconverted:
            missing[(u.profile, u.account_id)] = f"{u.currency or 'no currency'}: {u.reason}"
        stale |= {r.day for r in converted.rates_used() if r.stale and r.day}
    if fmt == "json":
        rt.out("], " + dumps_exact({**summary(rows), "errors": []})[1:] + "\n")
    elif fmt == "table" and rows:
        print_history(rt, rows, summary(rows), target)
    if not rows:
        rt.err("no stored runs match (run: balancecli snapshot)")
    incomplete = sum(1 for r in rows if r["incomplete"])
    if missing:
        names = ", ".join(f"{p} {a} ({why})" for (p, a), why in missing.items())
        rt.warn(f"{incomplete} of {len(rows)} runs are incomplete in {target}; not converted: "
                f"{names} — add a rate under [rates] in the config file")
    if stale:
        rt.warn(f"ECB rates more than {settings.max_age_days} days older than their run were "
                f"used (the newest from {max(stale)}; run: balancecli rates update)")
    return 0


def _csv_line(row: dict[str, Any]) -> str:
    import csv
    import io

    from balancecli.output.render import number_text

    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow(
        "" if v is None else "true" if v is True else "false" if v is False
        else number_text(v) if isinstance(v, Decimal) else v
        for v in (row[k] for k in FIELDS))
    return out.getvalue()


def print_history(rt: Any, rows: list[dict[str, Any]], summ: dict[str, Any],
                  target: str) -> None:
    """One line per run, then first / last / change / change % and the sparkline."""
    from balancecli.cli.commands.networth_table import money
    from balancecli.history import short_time

    titles = ("Time", "Run", f"Net worth ({target})", "Change", "Accounts")
    cells = [[short_time(r["taken_at"]), str(r["run_id"]),
              ("—" if r["total"] is None else money(r["total"], target))
              + ("*" if r["incomplete"] else ""),
              _signed(r["change"], target), str(r["accounts"])] for r in rows]
    from balancecli.output.table import Column, Table

    t = Table([Column(k, title, numeric=k != "time") for k, title in zip(
        ("time", "run_id", "total", "change", "accounts"), titles, strict=True)], rows=cells)
    rt.print_table(t)
    first, last = summ["first"], summ["last"]
    lines = []
    if first and last:
        pct = summ["change_pct"]
        lines.append(
            f"First {short_time(first['taken_at'])} {money(first['total'], target)}; "
            f"last {short_time(last['taken_at'])} {money(last['total'], target)}; change "
            f"{_signed(summ['change'], target)} {target}"
            + (f" ({_signed_pct(pct)})" if pct is not None else ""))
    lines.append(f"Trend {summ['sparkline']}")
    if any(r["incomplete"] for r in rows):
        lines.append("* incomplete: an account was not converted or a profile failed")
    rt.out("\n".join(lines) + "\n")


def _signed(value: Decimal | None, ccy: str) -> str:
    from balancecli.cli.commands.networth_table import money

    if value is None:
        return "—"
    return ("+" if value > 0 else "") + money(value, ccy)


def _signed_pct(value: Decimal) -> str:
    from decimal import ROUND_HALF_UP

    rounded = value.quantize(Decimal("0.01"), ROUND_HALF_UP)
    return ("+" if rounded > 0 else "") + f"{rounded}%"
