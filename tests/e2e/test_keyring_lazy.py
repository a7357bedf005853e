"""The keyring is not even imported when the environment supplies every field a profile needs:
cron without D-Bus must not pay for it nor hear about it."""

from __future__ import annotations

from balancecli.demo.etna import DEMO_APP_KEY, DEMO_PASSWORD, DEMO_USERNAME, FakeEtna
from tests.support.cli import run_cli
from tests.support.config import write_config


def imported_modules(stderr: str) -> set[str]:
    """Module names from PYTHONPROFILEIMPORTTIME's lines on stderr."""
    return {line.split("|")[-1].strip() for line in stderr.splitlines()
            if line.startswith("import time:") and "|" in line}


def test_env_secrets_only_never_import_keyring(tmp_path, ts_profile):
    settings, env = ts_profile
    with FakeEtna() as etna:
        config = write_config(tmp_path / "config.toml", {
            "ts": settings, "etna": {"broker": "etna", "base_url": etna.url + "/api"}})
        env = {**env, "BALANCECLI_CONFIG": str(config), "PYTHONPROFILEIMPORTTIME": "1",
               "BALANCECLI_ETNA_APP_KEY": DEMO_APP_KEY, "BALANCECLI_ETNA_USERNAME": DEMO_USERNAME,
               "BALANCECLI_ETNA_PASSWORD": DEMO_PASSWORD, "BALANCECLI_ETNA_TOKEN": etna.issue()}
        result = run_cli("balance", "-f", "json", env=env)
    assert result.returncode == 0, result.stderr
    modules = imported_modules(result.stderr)
    assert "requests" in modules  # the probe works: it sees what the run imported
    assert not {m for m in modules if m == "keyring" or m.startswith("keyring.")}
