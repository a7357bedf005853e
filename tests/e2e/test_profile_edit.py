"""``profile set``, ``profile unset``, ``profile add --replace``, ``profile remove --logout``,
``profile show`` of an invalid profile and ``auth logout`` of a removed one, run as the
installed command. The keyring is the explicit plaintext test backend (login_helpers)."""

from __future__ import annotations

import json
import tomllib

import pytest

from tests.support.cli import run_cli
from tests.support.login_helpers import item, use_plaintext_keyring
from tests.support.steps import step_of

FILE = """# my brokers

# the ETNA one
[profiles.etna]  # mine
broker = "etna"
base_url = "https://etna.example/api"  # the demo host
accounts = [
  "A1",
  "A2",
]

# TradeStation
[profiles.ts]
broker = "tradestation"
environment = "sim"
"""


@pytest.fixture
def store(monkeypatch, tmp_path):
    config = use_plaintext_keyring(monkeypatch, tmp_path)
    config.write_text(FILE)
    return config


def test_set_changes_values_in_place_and_says_what_they_were(store):
    proc = run_cli("profile", "set", "etna", "base_url=https://other.example/api",
                   "accounts=B1,B2", "currency=EUR")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == (
        'etna: base_url = "https://other.example/api" (was "https://etna.example/api"); '
        'accounts = ["B1", "B2"] (was ["A1", "A2"]); currency = "EUR" — written to '
        f"{store}\n")
    assert store.read_text() == FILE.replace(
        "https://etna.example/api", "https://other.example/api").replace(
        'accounts = [\n  "A1",\n  "A2",\n]\n', 'accounts = ["B1", "B2"]\ncurrency = "EUR"\n')
    assert oct(store.stat().st_mode & 0o777) == "0o600"


def test_unset_removes_keys_and_says_which_default_applies(store):
    proc = run_cli("profile", "unset", "ts", "environment")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == (f'ts: removed environment = "sim" (now the default, "live") — '
                           f"written to {store}\n")
    assert store.read_text() == FILE.replace('environment = "sim"\n', "")


def test_a_bad_value_is_refused_and_nothing_is_written(store):
    proc = run_cli("profile", "set", "ts", "environment=simm")
    assert (proc.returncode, proc.stdout) == (3, "")
    assert proc.stderr == ("error: ts: setting 'environment' must be one of live, sim, got "
                           "'simm' — run: balancecli profile set ts environment=sim\n")
    assert store.read_text() == FILE


def test_a_required_setting_cannot_be_unset_nor_the_broker(store):
    required = run_cli("profile", "unset", "etna", "base_url")
    assert required.returncode == 3
    assert required.stderr.startswith("error: etna: base_url cannot be removed: every etna "
                                      "profile needs one; nothing was removed — run: ")
    broker = run_cli("profile", "unset", "etna", "broker")
    assert broker.returncode == 2
    assert store.read_text() == FILE


def test_a_change_that_breaks_another_setting_is_refused(store):
    proc = run_cli("profile", "set", "ts", "broker=etna")
    assert proc.returncode == 3
    assert "unknown setting 'environment' for broker etna" in proc.stderr
    assert store.read_text() == FILE


def test_a_change_is_written_beside_a_problem_it_does_not_touch_and_says_so(store):
    store.write_text(FILE + "timeout = -1\n")
    proc = run_cli("profile", "set", "ts", "environment=live")
    assert proc.returncode == 0, proc.stderr
    assert tomllib.loads(store.read_text())["profiles"]["ts"]["environment"] == "live"
    assert "warning: ts is still not usable: setting 'timeout' must be more than 0" \
        in proc.stderr
    assert proc.stderr.rstrip().endswith("run: balancecli profile unset ts timeout (back to "
                                         "its default)")


def test_show_of_an_invalid_profile_shows_it_and_the_command_that_fixes_it(store):
    store.write_text(FILE.replace('environment = "sim"', 'environment = "simm"'))
    proc = run_cli("profile", "show", "ts")
    assert proc.returncode == 3
    assert 'environment = "simm"' in proc.stdout
    assert step_of(proc.stderr) == [["balancecli", "profile", "set", "ts", "environment=sim"]]
    doc = json.loads(run_cli("profile", "show", "ts", "-f", "json").stdout)
    assert doc["effective"] is None and doc["problem"].startswith("setting 'environment'")


def test_add_replace_says_what_it_removed(store):
    proc = run_cli("profile", "add", "ts", "-b", "tradestation", "--set", "api=v2",
                   "--replace")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.splitlines()[0] == (
        f'replaced profile ts in {store}; removed environment = "sim"')
    same = run_cli("profile", "add", "ts", "-b", "tradestation", "--set", "api=v2",
                   "--replace")
    assert same.stderr.splitlines()[0].endswith("(no setting changed)")
    assert store.read_text().startswith(FILE.split("# TradeStation")[0])


def test_remove_logout_deletes_the_keyring_item_too(store):
    from balancecli.credentials import Keyring

    Keyring().save("ts", {"refresh_token": "rt-1234567890abcdefghij"})
    proc = run_cli("profile", "remove", "ts", "--logout")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == f"removed profile ts from {store} and deleted its keyring item\n"
    assert item("ts") == {} and "ts" not in tomllib.loads(store.read_text())["profiles"]


def test_remove_logout_without_a_usable_keyring_removes_nothing(store, monkeypatch):
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    proc = run_cli("profile", "remove", "ts", "--logout")
    assert proc.returncode == 4
    assert "nothing was removed" in proc.stderr
    assert store.read_text() == FILE


def test_logout_of_a_removed_profile_deletes_its_item(store):
    from balancecli.credentials import Keyring

    Keyring().save("ts", {"refresh_token": "rt-1234567890abcdefghij"})
    removed = run_cli("profile", "remove", "ts")
    assert removed.returncode == 0
    assert "its keyring item, if any, stays (run: balancecli auth logout ts)" in removed.stderr
    proc = run_cli("auth", "logout", "ts")
    assert (proc.returncode, proc.stderr) == (0, "ts: keyring item deleted\n")
    assert item("ts") == {}
    typo = run_cli("auth", "logout", "etn")
    assert typo.returncode == 3
    assert typo.stderr.startswith("error: etn: no profile and no keyring item of that name; "
                                  "did you mean 'etna'? (profiles in ")
    assert step_of(typo.stderr) == [["balancecli", "auth", "logout", "etna"]]
    revoke = run_cli("auth", "logout", "ts", "--revoke")
    assert revoke.returncode == 2 and "run without --revoke" in revoke.stderr


def test_unset_of_one_misplaced_secret_is_written_though_another_is_still_there(tmp_path):
    """Two secrets typed into the file: the first error's own fix works (it is written, and
    the warning names the next one), and no value of a key that is no setting is echoed."""
    config = tmp_path / "config.toml"
    config.write_text('[profiles.e]\nbroker = "etna"\nbase_url = "https://etna.example/api"\n'
                      'username = "jane.doe@example.com"\napp_key = "k-0123456789"\n')
    first = run_cli("--config", str(config), "balance")
    assert first.returncode == 3
    [unset, _login] = step_of(first.stderr)
    done = run_cli(*unset[1:])
    assert done.returncode == 0, done.stderr
    [written, still] = done.stderr.splitlines()
    assert written.endswith("removed app_key = (value not shown) — written to " + str(config))
    assert still.startswith("warning: e is still not usable: 'username' is not a setting")
    [unset, _login] = step_of(still.replace("warning:", "error:", 1))
    assert run_cli(*unset[1:]).returncode == 0
    assert tomllib.loads(config.read_text())["profiles"]["e"] == {
        "broker": "etna", "base_url": "https://etna.example/api"}
    for text in (first.stderr, done.stderr):
        assert "jane.doe" not in text and "k-0123456789" not in text
