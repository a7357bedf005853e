"""``balance --in CUR`` and ``assets --in CUR``: every account valued in one currency.
``commands/data.py`` hands over here once the rows are fetched.

What the run needs beyond its own rows: ``balance`` values a Quantower crypto account by its
assets' ``TotalInUSD``, so those accounts' assets are fetched too (the bridge's export: a local
file or loopback request); ``assets`` needs each account's equity, so it fetches balances.

Output: JSON gains the ``converted`` block; JSONL and CSV rows gain ``value_in`` (the currency)
and ``value`` (balance: the valued view of each account, other views null; assets: the asset's
``total`` in that currency, or its broker USD value); tables gain a ``Value (CUR)`` column and a
footer with the total and each rate's source and date. Accounts left out of the total are named
on stderr in one line; an ECB file older than ``[ecb] max_age_days`` is one warning line.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from balancecli.cli.commands.options import usage

OFF = ("none", "off", "-")


def target_currency(rt: Any, given: str | None, *,
                    applies: bool = True) -> tuple[str | None, Any]:
    """(target currency or None, rate settings): ``--in``, else the config's ``in``.

    ``applies`` is False where valuing has no place (``--watch``, ``--hide-amounts``, the
    beancount/ledger/prometheus formats): the config default is then not used, and an explicit
    ``--in`` is a usage error."""
    from balancecli import config

    if given is not None and given.strip().lower() in OFF:
        return None, None
    if not applies:
        if given is not None:
            usage(rt, "--in works with -f table, json, jsonl and csv, without --watch and "
                      "--hide-amounts")
        return None, None
    if given is None and rt.demo:
        return None, None  # --demo reads no config file
    from balancecli.core.errors import ConfigError

    if given is None:
        # No default without a readable config (history works without one); the common case,
        # no `in` key, parses no rate settings at all.
        try:
            if "in" not in config.read_toml(config.config_path(rt.config)):
                return None, None
        except ConfigError:
            return None, None
    from balancecli.money.rates import currency_code, load_settings  # only runs that convert

    settings = load_settings(rt.config, demo=rt.demo)
    if given is None:
        return settings.target, settings
    try:
        return currency_code(given, "--in"), settings
    except ConfigError as exc:
        usage(rt, exc.message)
        raise  # not reached: usage() exits


def make_rates(settings: Any, quotes: dict[Any, Any], day: Any = None) -> Any:
    from balancecli.money.ecb import load_ecb
    from balancecli.money.rates import Rates, today

    return Rates(day=day or today(), config=settings.table, ecb=load_ecb, broker=quotes,
                 max_age_days=settings.max_age_days)


def complete_rows(command: str, rows: list[Any], selected: Sequence[Any], options: Any,
                  errors: list[Any]) -> tuple[list[Any], list[Any]]:
    """(balances, assets) for valuation: the command's own rows plus what the rule needs."""
    from balancecli.service.fetch import run

    if command == "balance":
        classes = {p.name: p.broker_class for p in selected}
        crypto = {r.account_id for r in rows
                  if r.profile in classes and classes[r.profile].valued_by_assets(r)}
        wanted = [p for p in selected if any(r.profile == p.name and r.account_id in crypto
                                             for r in rows)]
        if not crypto or not wanted:
            return rows, []
        extra = run(wanted, dataclasses.replace(options, command="assets", currency=None,
                                                account_ids=sorted(crypto)))
        errors += _new(extra.errors, errors)
        return rows, extra.rows
    failed = {e.profile for e in errors if e.account_id is None}
    wanted = [p for p in selected if p.name not in failed]
    if not wanted:
        return [], rows
    extra = run(wanted, dataclasses.replace(options, command="balance", currency=None))
    errors += _new(extra.errors, errors)
    return extra.rows, rows


def _new(found: Sequence[Any], seen: Sequence[Any]) -> list[Any]:
    keys = {(e.profile, e.account_id, e.kind, e.message) for e in seen}
    return [e for e in found if (e.profile, e.account_id, e.kind, e.message) not in keys]


def show(rt: Any, command: str, fmt: str, rows: list[Any], errors: list[Any],
         selected: Sequence[Any], options: Any, target: str, settings: Any) -> None:
    """Value the accounts, print the rows with their values, and warn about what is missing."""
    from balancecli.core.clock import utc_now
    from balancecli.money.valuation import broker_quotes, value_accounts, value_asset
    from balancecli.output import render

    balances, assets = complete_rows(command, rows, selected, options, errors)
    rates = make_rates(settings, broker_quotes(balances, assets))
    converted = value_accounts(balances, assets, rates, target, failed=bool(errors))
    used = converted.rates_used()
    if command == "assets":
        values = [value_asset(r, rates, target) for r in rows]
        cells = [v[0] if v else None for v in values]
        used = _unique(used + [v[1] for v in values if v and v[1].source != "identity"])
    else:
        cells = [converted.value_of(r) for r in rows]
    if fmt == "json":
        rt.out(render.to_json(command, rows, errors, utc_now(), converted=converted.as_dict()))
    elif fmt == "jsonl":
        rt.out("".join(render.dumps_exact({**_row(r), "value_in": target, "value": v}) + "\n"
                       for r, v in zip(rows, cells, strict=True)))
    elif fmt == "csv":
        rt.out(_csv(command, rows, cells, target))
    elif rows or converted.accounts:
        from balancecli.cli.commands.networth_table import print_table

        print_table(rt, command, rows, cells, converted, used)
    warn_missing(rt, converted, used)


def _row(row: Any) -> dict[str, Any]:
    from balancecli.core.models import row_dict

    return row_dict(row)


def _csv(command: str, rows: Sequence[Any], cells: Sequence[Decimal | None], target: str) -> str:
    import csv
    import io

    from balancecli.output.render import SCHEMAS, number_text

    names = [f.name for f in dataclasses.fields(SCHEMAS[command][2]) if f.name != "extra"]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*names, "value_in", "value"])
    for row, value in zip(rows, cells, strict=True):
        line = [getattr(row, n) for n in names] + [target, value]
        writer.writerow("" if v is None else number_text(v) if isinstance(v, Decimal) else v
                        for v in line)
    return out.getvalue()


def _unique(rates: Sequence[Any]) -> list[Any]:
    seen: dict[tuple[Any, ...], Any] = {}
    for r in rates:
        seen.setdefault((r.base, r.quote, r.source, r.day, r.how), r)
    return list(seen.values())


def warn_missing(rt: Any, converted: Any, used: Sequence[Any]) -> None:
    """One stderr line for the accounts left out of the total, one for an old ECB file."""
    if converted.unconverted:
        names = ", ".join(f"{u.profile} {u.account_id} ({u.currency or 'no currency'}: "
                          f"{u.reason})" for u in converted.unconverted)
        pairs = sorted({u.currency for u in converted.unconverted
                        if u.reason == "no rate" and u.currency})
        hint = (f' — add e.g. "{pairs[0]}/{converted.currency}" = "..." under [rates] in the '
                "config file" if pairs else "")
        rt.warn(f"not in the {converted.currency} total (incomplete): {names}{hint}")
    stale = sorted({r.day for r in used if r.stale and r.day})
    if stale:
        from balancecli.money.rates import today

        age = (today() - stale[0]).days
        rt.warn(f"ECB rates from {stale[0]} used ({age} days old; "
                "run: balancecli rates update)")
