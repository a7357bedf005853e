"""Where the config file and the history store live: ``--config``/``--db``, else the
environment, else the user's platform directories.

Kept apart from ``config`` and ``history`` (which re-export these) because shell completion
needs both paths on every Tab press and must not pay for importing either package.
"""

from __future__ import annotations

import os
from pathlib import Path

ENV_CONFIG = "BALANCECLI_CONFIG"
ENV_DB = "BALANCECLI_DB"
MAX_CONFIG_BYTES = 1024 * 1024  # a config of many profiles is a few KiB


def default_config_path() -> Path:
    import platformdirs

    return Path(platformdirs.user_config_dir("balancecli")) / "config.toml"


def config_path(explicit: str | os.PathLike[str] | None = None) -> Path:
    """``--config``, else ``BALANCECLI_CONFIG``, else ``<user config dir>/config.toml``."""
    if explicit:
        return Path(explicit).expanduser()
    env = os.environ.get(ENV_CONFIG)
    if env:
        return Path(env).expanduser()
    return default_config_path()


def db_path(explicit: str | os.PathLike[str] | None = None, *, demo: bool = False) -> Path:
    """``--db``, else ``BALANCECLI_DB``, else the user data dir's ``history.sqlite3``; with
    ``--demo`` the default is ``history-demo.sqlite3`` so demo data never mixes with yours."""
    if explicit:
        return Path(explicit).expanduser()
    env = os.environ.get(ENV_DB)
    if env:
        return Path(env).expanduser()
    import platformdirs

    name = "history-demo.sqlite3" if demo else "history.sqlite3"
    return Path(platformdirs.user_data_dir("balancecli")) / name
