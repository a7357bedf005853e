"""``snapshot --textfile DIR``: the run's balances and assets as ``DIR/balancecli.prom`` for
node_exporter's textfile collector, written so that the collector never reads half a file.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

TEXTFILE = "balancecli.prom"


def write_textfile(directory: Path, balances: Sequence[Any], assets: Sequence[Any],
                   profiles: Sequence[str], errors: Sequence[Any], seconds: float) -> Path:
    """``DIR/balancecli.prom``: a temporary file in DIR, then ``os.replace``; mode 0644."""
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
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        raise ConfigError(f"cannot write {target}: {exc.strerror or exc}",
                          next_step="check the --textfile directory and its permissions"
                          ) from None
    return target
