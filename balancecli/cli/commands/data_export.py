"""What ``balance``/``assets`` (and ``snapshot --textfile``) add to their output: the beancount,
ledger and prometheus formats, and the ``--hide-amounts`` guard.

The text itself comes from ``balancecli.exports`` and ``balancecli.privacy`` (pure functions);
this module only joins them to the run: the profiles' ``ledger_account`` settings, which
profiles were up, the fetch's wall time, and the atomic write of the textfile.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from balancecli.cli.runtime import Runtime

FORMATS = ("beancount", "ledger", "prometheus")
TEXTFILE = "balancecli.prom"


def refuse_masked(rt: Runtime, fmt: str, *, hide_amounts: bool, force: bool) -> None:
    """--hide-amounts with a machine format: a usage error (exit 2) unless --force."""
    from balancecli.output.privacy import refusal

    message = refusal(str(fmt)) if hide_amounts and not force else None
    if message:
        rt.err(f"error: {message}")
        raise typer.Exit(2)


def text(fmt: str, command: str, rows: Sequence[Any], errors: Sequence[Any],
         profiles: Sequence[Any], seconds: float, generated_at: str) -> str:
    """The export of ``rows`` (balance or assets rows) in ``fmt``."""
    from balancecli.output import exports

    if fmt == "prometheus":
        up = exports.profiles_up([p.name for p in profiles], errors)
        balances = rows if command == "balance" else []
        assets = rows if command == "assets" else []
        return exports.openmetrics(balances, assets, up=up, seconds=seconds)
    names = exports.AccountNames({p.name: p.settings.get("ledger_account") for p in profiles})
    write = exports.beancount if fmt == "beancount" else exports.ledger
    return write(command, rows, names, generated_at)


def write_textfile(directory: Path, balances: Sequence[Any], assets: Sequence[Any],
                   profiles: Sequence[str], errors: Sequence[Any], seconds: float) -> Path:
    """``DIR/balancecli.prom`` for node_exporter's textfile collector: a temporary file in
    DIR, then ``os.replace``, so the collector never reads half a file; mode 0644."""
    import tempfile

    from balancecli.core.errors import ConfigError
    from balancecli.output import exports

    content = exports.openmetrics(balances, assets, up=exports.profiles_up(profiles, errors),
                                  seconds=seconds)
    target = directory / TEXTFILE
    tmp = None
    try:
        with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=directory,
                                         prefix=f".{TEXTFILE}.", delete=False) as handle:
            tmp = handle.name
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except OSError as exc:
        if tmp is not None:
            with _ignored():
                os.unlink(tmp)
        raise ConfigError(f"cannot write {target}: {exc.strerror or exc}",
                          next_step="check the --textfile directory and its permissions"
                          ) from None
    return target


def _ignored() -> Any:
    import contextlib

    return contextlib.suppress(OSError)
