"""Every message's next step works when run as printed: the installed command, a fresh HOME,
the global flags the user gave (``--demo``, ``--config PATH``) repeated, no circles.

Each test reads the step back from the error line (``tests/support/steps.py``) and runs it.
"""

from __future__ import annotations

import json
import os
import subprocess
import tomllib

from tests.support.cli import balancecli_exe, run_cli
from tests.support.config import write_config
from tests.support.steps import run_step, step_of, step_text

QT_EXPORT = ('{"Format": "balancecli.quantower/1", "GeneratedAt": "2026-11-21T19:00:00Z", '
             '"Connections": [], "Accounts": []}')


def one_error(proc) -> str:
    [line] = [x for x in proc.stderr.splitlines() if x.startswith("error:")]
    return line


def test_demo_history_on_a_fresh_home_suggests_the_demo_snapshot():
    first = run_cli("--demo", "history")
    assert first.returncode == 3
    assert step_of(first.stderr) == [["balancecli", "--demo", "snapshot"]]
    assert run_step(first.stderr).returncode == 0
    assert run_cli("--demo", "history", "-f", "json").returncode == 0


def test_a_config_given_on_the_line_is_in_the_suggested_command(tmp_path, isolated):
    write_config(tmp_path / "other.toml", {"work": {
        "broker": "etna", "base_url": "https://etna.example/api"}})
    proc = run_cli("--config", "other.toml", "balance", cwd=tmp_path)
    assert proc.returncode == 4
    assert step_of(proc.stderr) == [["balancecli", "--config", "other.toml", "auth", "status",
                                     "work"]]
    status = run_step(proc.stderr, cwd=str(tmp_path))
    assert status.returncode == 4 and "work (etna): CANNOT AUTHENTICATE" in status.stdout
    assert "unknown profile" not in status.stderr
    # ... and its own step, auth login, is one for this config too (and no circle back).
    assert step_of(status.stderr) == [["balancecli", "--config", "other.toml", "auth", "login",
                                       "work"]]
    login = run_step(status.stderr, cwd=str(tmp_path))
    assert login.returncode == 4
    assert step_of(login.stderr) == [["balancecli", "--config", "other.toml", "auth", "login",
                                      "work", "--output",
                                      str(isolated / "config" / "balancecli" / "work.env")]]


def test_a_path_with_a_space_is_quoted(tmp_path):
    (tmp_path / "my dir").mkdir()
    proc = run_cli("balance", "--config", "my dir/c.toml", cwd=tmp_path)
    assert proc.returncode == 3
    assert "run: balancecli --config 'my dir/c.toml' profile add NAME --broker BROKER" \
        in proc.stderr
    assert step_of(proc.stderr)[0][:3] == ["balancecli", "--config", "my dir/c.toml"]


def test_a_config_from_the_environment_is_not_repeated(tmp_path):
    config = tmp_path / "c.toml"
    proc = run_cli("balance", env={"BALANCECLI_CONFIG": str(config)})
    assert "run: balancecli profile add NAME --broker BROKER" in proc.stderr


def test_invalid_toml_suggests_an_editor_not_a_command_that_fails_the_same(tmp_path):
    config = tmp_path / "c.toml"
    config.write_text('[profiles.ts]\nbroker = "tradestation"\napi = v3\n')
    proc = run_cli("--config", str(config), "balance")
    assert proc.returncode == 3
    assert "(at line 3, column 7)" in proc.stderr
    assert step_text(proc.stderr) == "fix that line in an editor (TOML syntax: https://toml.io)"


def test_a_directory_as_config_names_the_file_to_give(tmp_path):
    proc = run_cli("--config", str(tmp_path), "balance")
    assert (proc.returncode, proc.stdout) == (3, "")
    assert one_error(proc) == (f"error: balancecli: the config file {tmp_path} is a directory "
                               f"— name the file itself, e.g. {tmp_path}/config.toml")
    assert "PROFILE" not in proc.stderr


def test_a_profile_typo_suggests_the_same_command_corrected(tmp_path, ts_profile):
    settings, env = ts_profile
    config = write_config(tmp_path / "c.toml", {"ts": settings, "lp": {"broker": "longport"}})
    proc = run_cli("--config", str(config), "balance", "-p", "tss", "-f", "json", env=env)
    assert proc.returncode == 3
    line = one_error(proc)
    assert line.startswith("error: tss: unknown profile; did you mean 'ts'? (profiles in ")
    assert step_of(proc.stderr) == [["balancecli", "--config", str(config), "balance", "-p",
                                     "ts", "-f", "json"]]
    fixed = run_step(proc.stderr, env=env)
    assert fixed.returncode == 0, fixed.stderr
    assert json.loads(fixed.stdout)["balances"]


def test_a_demo_profile_typo_suggests_the_demo_name():
    proc = run_cli("--demo", "accounts", "-p", "demo-tss")
    assert proc.returncode == 3
    assert "unknown profile; did you mean 'demo-ts'? (the demo profiles: " in proc.stderr
    assert step_of(proc.stderr) == [["balancecli", "--demo", "accounts", "-p", "demo-ts"]]
    assert run_step(proc.stderr).returncode == 0
    far = run_cli("--demo", "accounts", "-p", "zzz")
    assert step_text(far.stderr) == "pass one of those names to -p"


def test_a_broker_typo_in_the_file_is_fixed_by_the_suggested_command(tmp_path):
    export = tmp_path / "export.json"
    export.write_text(QT_EXPORT)
    config = write_config(tmp_path / "c.toml", {"qt": {"broker": "quantowr", "max_age": 0,
                                                       "source": str(export)}})
    proc = run_cli("--config", str(config), "accounts")
    assert proc.returncode == 3
    assert one_error(proc) == (
        "error: qt: unknown broker 'quantowr'; did you mean 'quantower'? — run: balancecli "
        f"--config {config} profile set qt broker=quantower")
    fixed = run_step(proc.stderr)
    assert fixed.returncode == 0, fixed.stderr
    assert tomllib.loads(config.read_text())["profiles"]["qt"]["broker"] == "quantower"
    assert run_cli("--config", str(config), "accounts", "-f", "json").returncode == 0


def test_a_setting_typo_in_the_file_is_renamed_by_the_suggested_commands(tmp_path):
    config = tmp_path / "c.toml"
    config.write_text('# mine\n[profiles.ts]  # sim\nbroker = "tradestation"\n'
                      'environmnet = "sim"  # typo\ntimeout = 5\n')
    proc = run_cli("--config", str(config), "balance")
    assert proc.returncode == 3
    assert step_of(proc.stderr) == [
        ["balancecli", "--config", str(config), "profile", "unset", "ts", "environmnet"],
        ["balancecli", "--config", str(config), "profile", "set", "ts", "environment=sim"]]
    fixed = run_step(proc.stderr)
    assert fixed.returncode == 0, fixed.stderr
    assert config.read_text() == ('# mine\n[profiles.ts]  # sim\nbroker = "tradestation"\n'
                                  'timeout = 5\nenvironment = "sim"\n')


def test_a_bad_choice_suggests_a_value_it_takes(tmp_path):
    config = write_config(tmp_path / "c.toml", {"ts": {"broker": "tradestation",
                                                       "environment": "simm"}})
    proc = run_cli("--config", str(config), "accounts")
    assert step_of(proc.stderr) == [["balancecli", "--config", str(config), "profile", "set",
                                     "ts", "environment=sim"]]
    assert run_step(proc.stderr).returncode == 0
    shown = run_cli("--config", str(config), "profile", "show", "ts", "-f", "json")
    assert json.loads(shown.stdout)["settings"]["environment"] == "sim"


def test_profile_add_words_its_hints_as_set_options_and_they_work(tmp_path):
    config = tmp_path / "c.toml"
    proc = run_cli("--config", str(config), "profile", "add", "ts", "-b", "tradestation",
                   "--set", "environmnet=sim")
    assert (proc.returncode, config.exists()) == (3, False)
    line = one_error(proc)
    assert "config file" not in line
    assert step_of(proc.stderr) == [["balancecli", "--config", str(config), "profile", "add",
                                     "ts", "--broker", "tradestation", "--set",
                                     "environment=sim"]]
    assert run_step(proc.stderr).returncode == 0
    assert tomllib.loads(config.read_text())["profiles"]["ts"] == {
        "broker": "tradestation", "environment": "sim"}


def test_profile_add_with_a_broker_typo_suggests_the_broker(tmp_path):
    config = tmp_path / "c.toml"
    proc = run_cli("--config", str(config), "profile", "add", "qt", "-b", "quantowr",
                   "--set", "source=~/qt/export.json")
    assert proc.returncode == 3
    assert one_error(proc).startswith("error: qt: unknown broker 'quantowr'; did you mean "
                                      "'quantower'? — run: balancecli --config ")
    assert run_step(proc.stderr).returncode == 0
    assert tomllib.loads(config.read_text())["profiles"]["qt"] == {
        "broker": "quantower", "source": "~/qt/export.json"}


def test_profile_add_with_a_secret_suggests_adding_without_it_then_auth_login(tmp_path):
    config = tmp_path / "c.toml"
    proc = run_cli("--config", str(config), "profile", "add", "ts", "-b", "tradestation",
                   "--set", "client_secret=hunter22")
    assert proc.returncode == 3 and "hunter22" not in proc.stderr
    assert step_of(proc.stderr) == [
        ["balancecli", "--config", str(config), "profile", "add", "ts", "--broker",
         "tradestation"],
        ["balancecli", "--config", str(config), "auth", "login", "ts"]]


def test_profile_set_with_a_key_typo_suggests_the_key(tmp_path):
    config = write_config(tmp_path / "c.toml", {"ts": {"broker": "tradestation"}})
    proc = run_cli("--config", str(config), "profile", "set", "ts", "environmnet=sim")
    assert proc.returncode == 3
    assert step_of(proc.stderr) == [["balancecli", "--config", str(config), "profile", "set",
                                     "ts", "environment=sim"]]
    assert run_step(proc.stderr).returncode == 0
    unset = run_cli("--config", str(config), "profile", "unset", "ts", "environmnt")
    assert unset.returncode == 3 and "did you mean 'environment'?" in unset.stderr
    assert run_step(unset.stderr).returncode == 0
    assert tomllib.loads(config.read_text())["profiles"]["ts"] == {"broker": "tradestation"}


def test_a_missing_secret_under_cron_names_the_variable_first(tmp_path):
    config = write_config(tmp_path / "c.toml", {"etna": {
        "broker": "etna", "base_url": "https://etna.example/api"}})
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "BALANCECLI_CONFIG": str(config),
           "BALANCECLI_ETNA_APP_KEY": "k", "BALANCECLI_ETNA_USERNAME": "u"}  # as env -i
    proc = subprocess.run([balancecli_exe(), "balance"], capture_output=True, text=True,
                          env=env, timeout=60)
    assert (proc.returncode, proc.stdout) == (4, "")
    assert one_error(proc).startswith(
        "error: etna: BALANCECLI_ETNA_PASSWORD is not set, and the OS keyring is not usable (")
