"""The commands, one module per group; each module's ``register(app)`` adds its commands to
the root app. ``cli/app.py`` only calls ``register_all``.

A command module imports typer and ``commands.options`` at the top and everything else inside
the command that runs, so ``--help`` and ``--version`` stay fast (tests/e2e/test_startup.py).
"""

from __future__ import annotations

import typer

from balancecli.cli.commands import (
    auth,
    broker_files,
    data,
    doctor,
    help,
    history,
    profile,
    rates,
    schema,
)

# The order of `balancecli --help`.
GROUPS = (data, history, auth, profile, broker_files, rates, doctor, schema, help)


def register_all(app: typer.Typer) -> None:
    for group in GROUPS:
        group.register(app)
