"""``balancecli doctor``: per profile, whether it will work and why not.

The checks live in ``service/doctor.py``; this module runs them for the selected profiles in
parallel, prints the table or the ``balancecli.doctor/1`` document and exits with the code of the
worst failure (as ``auth status`` does: a diagnosis never reports "partial").
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Annotated, Any

import typer

from balancecli.cli.commands.options import (
    ConfigOpt,
    DebugOpt,
    DemoOpt,
    MaxTimeOpt,
    NoColorOpt,
    ProfileOpt,
    TimeoutOpt,
    VerboseOpt,
    runtime,
    start_clock,
)

if TYPE_CHECKING:
    from balancecli.cli.boundary import Ending
    from balancecli.cli.runtime import Runtime
    from balancecli.core.errors import BalanceCliError
    from balancecli.output.table import Table
    from balancecli.service.doctor import Report



class DoctorFormat(enum.StrEnum):
    table = "table"
    json = "json"


def doctor(
    ctx: typer.Context, profile: ProfileOpt = None,
    fmt: Annotated[DoctorFormat, typer.Option(
        "--format", "-f", help="Output format.")] = DoctorFormat.table,
    timeout: TimeoutOpt = 15.0, max_time: MaxTimeOpt = None,
    config: ConfigOpt = None, demo: DemoOpt = False, verbose: VerboseOpt = False,
    debug: DebugOpt = False, no_color: NoColorOpt = False,
) -> None:
    """Check each profile: will it work, and if not, why.

    Config, secrets and where they come from, keyring, token expiry, clock skew, one light
    request and its latency, Quantower export age."""
    from balancecli.cli.boundary import run

    rt = runtime(ctx, config=config, demo=demo, verbose=verbose, debug=debug, no_color=no_color)
    start_clock(max_time)
    run(rt, lambda: _doctor(rt, profile, fmt, timeout))


def _doctor(rt: Runtime, names: list[str] | None, fmt: DoctorFormat, timeout: float) -> Ending:
    from balancecli.cli.boundary import Ending

    selected, selection_errors, presets = rt.select(names)
    with rt.console.spinner(f"Checking {len(selected)} profile(s)…"):
        reports = diagnose_all(selected, selection_errors, timeout=timeout, presets=presets,
                               log=rt.log if rt.verbose else None, warn=rt.warn,
                               order=list(dict.fromkeys(names or [p.name for p in selected])))
    if fmt is DoctorFormat.json:
        rt.out(to_json(reports, indent=rt.console.is_terminal))
    else:
        rt.console.print_tables(table(reports, width=rt.console.width), show_with="-f json")
    return Ending(errors(reports), anything_succeeded=False)


def register(app: typer.Typer) -> None:
    from balancecli.cli.commands.examples import EXAMPLES

    app.command(epilog=EXAMPLES["doctor"])(doctor)


# -- every profile -----------------------------------------------------------------------------


def diagnose_all(profiles: list[Any], selection_errors: list[BalanceCliError], *,
                 timeout: float = 15.0, presets: Mapping[str, Any] | None = None,
                 log: Callable[[str], None] | None = None,
                 warn: Callable[[str], None] = lambda message: None,
                 order: list[str] | None = None) -> list[Report]:
    """Profiles in parallel (like a data command); selection errors become failed reports, and
    so does each profile still running when the run's --max-time passes."""
    from balancecli.core.errors import BalanceCliError
    from balancecli.net.deadline import OutOfTime
    from balancecli.service.doctor import Check, Report, diagnose
    from balancecli.service.fetch import by_deadline, in_threads

    reports = [
        Report(e.profile or "?", None, [Check("config", False, e.message, e.kind, e.next_step)])
        for e in selection_errors]

    def one(profile: Any) -> Report:
        try:
            return diagnose(profile, timeout=timeout, log=log, warn=warn,
                            preset=None if presets is None else presets.get(profile.name, {}))
        except BalanceCliError as exc:  # outside any one check: still a line of the report
            report = Report(profile.name, profile.broker)
            report.add("doctor", False, exc.message, exc.kind, exc.next_step)
            return report

    for profile, future in zip(profiles, in_threads(one, profiles, workers=16, name="bc-doc"),
                               strict=True):
        done, report = by_deadline(future)
        if not done:
            stopped = OutOfTime()
            report = Report(profile.name, profile.broker, [Check(
                "doctor", False, stopped.message, stopped.kind, stopped.next_step)])
        reports.append(report)
    if order:
        rank = {name: i for i, name in enumerate(order)}
        reports.sort(key=lambda r: rank.get(r.profile, len(rank)))
    return reports


def errors(reports: list[Report]) -> list[BalanceCliError]:
    """One error per failed profile, its worst check: the stderr line and the exit code."""
    from balancecli.core.errors import SEVERITY, BrokerError
    from balancecli.service.doctor import ERROR_CLASSES

    def severity(check: Any) -> int:
        code = ERROR_CLASSES.get(check.kind or "", BrokerError).exit_code
        return SEVERITY.index(code) if code in SEVERITY else len(SEVERITY)

    found: list[BalanceCliError] = []
    for report in reports:
        failed = [c for c in report.checks if not c.ok]
        if not failed:
            continue
        worst = min(failed, key=severity)
        more = f" ({len(failed) - 1} more failed check(s) above)" if len(failed) > 1 else ""
        cls = ERROR_CLASSES.get(worst.kind or "", BrokerError)
        found.append(cls(f"{worst.name}: {worst.detail}{more}", profile=report.profile,
                         broker=report.broker, next_step=worst.next_step))
    return found


# -- output ------------------------------------------------------------------------------------


def to_json(reports: list[Report], *, indent: bool = False) -> str:
    """``balancecli.doctor/1``: indented on a terminal, compact in a pipe."""
    import json

    from balancecli.service.doctor import SCHEMA

    document = {"schema": SCHEMA, "profiles": [r.as_dict() for r in reports]}
    if indent:
        return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")) + "\n"


def table(reports: list[Report], *, width: int | None = None) -> Table:
    """One line per check (an ``output.table.Table``). The detail is the diagnosis: never
    cut, it is wrapped onto continuation lines to fit ``width`` (the terminal's); the broker
    column goes first when even that does not fit."""
    import textwrap

    from balancecli.output.table import GREEN, RED, Column, Table, width_of

    columns = [Column("profile", "Profile"), Column("broker", "Broker", priority=1),
               Column("check", "Check"), Column("result", "Result"), Column("detail", "Detail")]
    lines = [(r.profile if i == 0 else "", (r.broker or "") if i == 0 else "", c.name,
              ("ok", GREEN) if c.ok else ("FAIL", RED), c.detail)
             for r in reports for i, c in enumerate(r.checks)]
    room = None
    if width is not None:
        texts = [(p, b, name, result[0]) for p, b, name, result, _ in lines]
        others = [max([width_of(col.title)] + [width_of(line[i]) for line in texts])
                  for i, col in enumerate(columns[:4])]
        room = width - sum(others) - 3 * 4
        if room < 30:  # too narrow beside the broker: the renderer drops it, and says so
            room = width - sum(others) + others[1] - 3 * 3
        room = max(24, room)
    t = Table(columns)
    for profile, broker, check, result, detail in lines:
        parts = (textwrap.wrap(detail, room, break_on_hyphens=False) or [""]) if room else [detail]
        t.rows.append([profile, broker, check, result, parts[0]])
        t.rows += [["", "", "", "", more] for more in parts[1:]]
    return t
