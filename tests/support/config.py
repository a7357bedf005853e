"""Config files and broker contexts for tests: hermetic, over real sockets."""

from __future__ import annotations

from pathlib import Path

from balancecli.brokers.base import Context
from balancecli.config import validate_profile
from balancecli.credentials import Secrets
from balancecli.service.fetch import Options, Relay, make_context

FAST = {"max_retries": 0, "retry_backoff": 0.01}


def fetch_options(*, log=None, warn=None, prompt=None, **options) -> Options:
    """``fetch.Options`` with the listener made of plain functions: ``log`` (each request,
    as with -v), ``warn``, ``prompt`` (a question to the user)."""
    return Options(listener=Relay(warn=warn, log_line=log, ask=prompt),
                   verbose=log is not None, **options)


def make_ctx(profile: str, settings: dict, secrets: dict | None = None,
             **options) -> Context:
    """A broker Context over real sockets, with secrets given directly (no keyring);
    ``options`` as ``fetch_options`` takes them."""
    prof = validate_profile(profile, settings)
    opts = fetch_options(**options)
    sec = Secrets(profile, prof.broker_class.secret_fields(prof.settings), env={},
                  preset=secrets or {})
    return make_context(prof, opts, sec)


def toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def write_config(path: Path, profiles: dict[str, dict]) -> Path:
    """A config file with the given [profiles.NAME] tables."""
    lines = []
    for name, settings in profiles.items():
        lines.append(f"[profiles.{name}]")
        lines += [f"{k} = {toml_value(v)}" for k, v in settings.items()]
        lines.append("")
    path.write_text("\n".join(lines))
    return path
