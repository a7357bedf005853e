"""``--in CUR`` of ``balance``, ``assets`` and ``history``: which currency (``--in``, else the
config's ``in``), the rates of the run, and what the valuation needs beyond a command's rows.

What a run needs beyond its own rows: ``balance`` values a Quantower crypto account by its
assets' ``TotalInUSD``, so those accounts' assets are fetched too (the bridge's export: a local
file or loopback request); ``assets`` needs each account's equity, so its rows are fetched as
``snapshot`` fetches them: balances and assets from the same responses, no request more.
How the values are shown is ``output.networth``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from balancecli.cli.boundary import UsageError

if TYPE_CHECKING:
    from balancecli.money.rates import Rates, Settings
    from balancecli.output.networth import Valuing
    from balancecli.service.fetch import Batch, Options

OFF = ("none", "off", "-")


def target_currency(rt: Any, given: str | None, *,
                    applies: bool = True) -> tuple[str | None, Settings | None]:
    """(target currency or None, rate settings): ``--in``, else the config's ``in``.

    ``applies`` is False where valuing has no place (``--watch``, ``--hide-amounts``, the
    beancount/ledger/prometheus formats): the config default is then not used, and an explicit
    ``--in`` is a usage error."""
    from balancecli import config

    if given is not None and given.strip().lower() in OFF:
        return None, None
    if not applies:
        if given is not None:
            raise UsageError("--in works with -f table, json, jsonl and csv, without --watch "
                             "and --hide-amounts")
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
        code = currency_code(given, "--in")
    except ConfigError as exc:
        raise UsageError(exc.message) from None
    return known_target(code, settings), settings


def known_target(code: str, settings: Settings) -> str:
    """``code`` when ``--in`` can value in it (``money.rates.known_code``), else a usage
    error saying where the known ones are listed."""
    from balancecli.money.rates import known_code

    if known_code(code, settings):
        return code
    raise UsageError(f"--in: {code} is not a currency balancecli knows (ISO 4217 codes, the "
                     "ECB file's and the config's [rates]; list them: balancecli rates show; "
                     f'for a crypto asset add e.g. "{code}/USD" = "..." under [rates])')


def make_rates(settings: Settings, quotes: dict[Any, Any], day: Any = None) -> Rates:
    from balancecli.money.ecb import load_ecb
    from balancecli.money.rates import Rates, today

    return Rates(day=day or today(), config=settings.table, ecb=load_ecb, broker=quotes,
                 max_age_days=settings.max_age_days)


def valuing(target: str, settings: Settings, *, holdings: bool,
            by: str | None = None) -> Valuing:
    """The valuation of a run in ``target`` (its broker quotes learnt as profiles finish);
    ``by``: also grouped (``--by``)."""
    from balancecli.output.networth import Valuing

    return Valuing(target, make_rates(settings, {}), holdings=holdings, by=by,
                   demo=settings.demo)


def complete_rows(rows: list[Any], selected: Sequence[Any], options: Options,
                  errors: list[Any]) -> tuple[list[Any], list[Any]]:
    """(balances, assets) for valuing balance rows: the rows plus what the rule needs."""
    from balancecli.service.fetch import run

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


def completer(options: Options) -> Any:
    """``Presenter.complete`` for balances: the asset rows one profile's accounts are valued
    by, fetched as that profile finishes (its errors join the profile's)."""
    from balancecli.service.fetch import Relay

    listener = options.listener  # its warnings, -v lines and questions; not its rows
    extra = dataclasses.replace(options, listener=Relay(
        warn=listener.warning, log_line=listener.log, ask=listener.prompt))

    def complete(batch: Batch, rows: list[Any]) -> list[Any]:
        return complete_rows(rows, [batch.profile], extra, batch.errors)[1]

    return complete


def _new(found: Sequence[Any], seen: Sequence[Any]) -> list[Any]:
    keys = {(e.profile, e.account_id, e.kind, e.message) for e in seen}
    return [e for e in found if (e.profile, e.account_id, e.kind, e.message) not in keys]
