"""Which profiles a run uses: those of the config file, or with ``--demo`` the bundled fake
brokers (started here, stopped when the run ends), selected by ``-p`` names.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from balancecli.config import Profile
    from balancecli.core.errors import BalanceCliError


@dataclass
class Selection:
    profiles: list[Profile] = field(default_factory=list)
    errors: list[BalanceCliError] = field(default_factory=list)  # unknown or invalid profiles
    presets: dict[str, Any] | None = None  # --demo: each profile's secrets, no keyring


def open_demo(stack: contextlib.ExitStack, latency: float = 0.0) -> dict[str, Any]:
    """Start the demo brokers (stopped when ``stack`` closes): name -> its demo profile."""
    from balancecli.demo import start_demo

    return start_demo(stack, latency=latency)


def select(names: list[str] | None, *, demo: bool, config: Path | None,
           stack: contextlib.ExitStack) -> Selection:
    """The profiles named (all when ``names`` is empty), and an error for each name that is
    unknown or invalid. A bad ``BALANCECLI_*`` tuning variable is exit 3 before any profile."""
    from balancecli import config as cfg
    from balancecli.credentials import check_environment

    check_environment()
    if demo:
        demos = open_demo(stack)
        raw = {name: d.settings for name, d in demos.items()}
        profiles, errors = cfg.select(raw, names, Path("<demo>"), demo=True)
        return Selection(profiles, list(errors), {name: d.secrets for name, d in demos.items()})
    path = cfg.config_path(config)
    profiles, errors = cfg.select(cfg.load_profiles(path), names, path)
    return Selection(profiles, list(errors), None)


def no_match_error(account_ids: list[str]) -> BalanceCliError:
    """``-a`` named no account of the selected profiles (exit 3: a typo, not an outage)."""
    from balancecli.core.errors import ConfigError

    return ConfigError(
        f"no account matches --account {', '.join(account_ids)}",
        next_step="run: balancecli accounts (to list the account ids)",
    )
