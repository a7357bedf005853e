"""``balancecli profile path``: the config file in use and where it came from."""

from __future__ import annotations

import json

from tests.support.cli import run_cli


def test_default_location(isolated):
    proc = run_cli("profile", "path")
    assert proc.returncode == 0
    assert proc.stdout == f"{isolated / 'config' / 'balancecli' / 'config.toml'}\n"
    assert proc.stderr == ("from the default location; the file does not exist yet "
                           "(run: balancecli profile add NAME --broker BROKER)\n")


def test_environment(tmp_path):
    config = tmp_path / "env.toml"
    config.write_text("")
    proc = run_cli("profile", "path", env={"BALANCECLI_CONFIG": str(config)})
    assert (proc.returncode, proc.stdout, proc.stderr) == (
        0, f"{config}\n", "from BALANCECLI_CONFIG\n")


def test_flag_before_or_after_the_command_beats_the_environment(tmp_path):
    env = {"BALANCECLI_CONFIG": str(tmp_path / "env.toml")}
    flag = str(tmp_path / "flag.toml")
    for args in (("--config", flag, "profile", "path"), ("profile", "path", "--config", flag)):
        proc = run_cli(*args, env=env)
        assert (proc.returncode, proc.stdout) == (0, f"{flag}\n")
        assert proc.stderr.startswith("from --config;")


def test_json(tmp_path):
    proc = run_cli("profile", "path", "-f", "json", "--config", str(tmp_path / "c.toml"))
    assert proc.returncode == 0
    assert json.loads(proc.stdout) == {"schema": "balancecli.profile_path/1",
                                       "config": str(tmp_path / "c.toml"), "source": "flag",
                                       "exists": False}


def test_demo_and_bad_format_are_usage_errors():
    demo = run_cli("--demo", "profile", "path")
    assert (demo.returncode, demo.stdout) == (2, "")
    assert demo.stderr == ("error: --demo uses no config file (its profiles are built in) "
                           "(run: balancecli profile path --help)\n")
    assert run_cli("profile", "path", "-f", "csv").returncode == 2
