"""Dynamic completion: Tab completes profile names from the config, broker names, balance
fields, currencies and account ids from the history store, without the network or the keyring,
and completes nothing (quietly) when the config or the store is broken.

The tests drive the shipped bash script (completions/balancecli.bash) the way bash does: it
calls back into the installed command with ``_BALANCECLI_COMPLETE=complete_bash``,
``COMP_WORDS`` and ``COMP_CWORD``.
"""

from __future__ import annotations

import os
import shlex
import subprocess
from pathlib import Path

import pytest

from tests.support import REPO
from tests.support.cli import balancecli_exe, run_cli
from tests.support.config import FAST, write_config

ROOT = REPO
BASH_SCRIPT = ROOT / "completions" / "balancecli.bash"
FIELDS = ["cash", "available", "withdrawable", "buying_power", "equity", "market_value",
          "initial_margin", "maintenance_margin", "unrealized_pnl", "realized_pnl"]


def complete(line: str, env: dict[str, str] | None = None) -> list[str]:
    """The candidates bash gets for ``line`` (a trailing space: completing a new word)."""
    words = shlex.split(line) + ([""] if line.endswith(" ") else [])
    script = (f"source {shlex.quote(str(BASH_SCRIPT))}\n"
              f"COMP_WORDS=({' '.join(shlex.quote(w) for w in words)})\n"
              f"COMP_CWORD={len(words) - 1}\n"
              "_balancecli_completion balancecli\n"
              'printf "%s\\n" "${COMPREPLY[@]}"\n')
    bin_dir = str(Path(balancecli_exe()).parent)
    proc = subprocess.run(
        ["bash", "--norc", "--noprofile", "-c", script], capture_output=True, text=True,
        timeout=30, env={**os.environ, "PATH": bin_dir + os.pathsep + os.environ["PATH"],
                         **(env or {})})
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    return [w for w in proc.stdout.splitlines() if w]


@pytest.fixture
def config(tmp_path, monkeypatch):
    path = write_config(tmp_path / "config.toml", {
        "ts-live": {"broker": "tradestation"},
        "lp": {"broker": "longport"},
        "qt": {"broker": "quantower", "source": "/nowhere/export.json"},
    })
    monkeypatch.setenv("BALANCECLI_CONFIG", str(path))
    return path


# -- profiles ----------------------------------------------------------------------------------


def test_profile_option_completes_the_config_profiles(config):
    assert complete("balancecli balance -p ") == ["ts-live", "lp", "qt"]
    assert complete("balancecli balance --profile t") == ["ts-live"]
    assert complete("balancecli accounts -p lp -p ") == ["ts-live", "qt"]  # not twice
    assert complete("balancecli snapshot -p q") == ["qt"]
    assert complete("balancecli history -p l") == ["lp"]
    assert complete("balancecli doctor -p ") == ["ts-live", "lp", "qt"]


def test_profile_arguments_complete_the_config_profiles(config):
    for command in ("auth login", "auth logout", "auth refresh", "auth status"):
        assert complete(f"balancecli {command} ") == ["ts-live", "lp", "qt"], command
    assert complete("balancecli auth status lp ") == ["ts-live", "qt"]
    assert complete("balancecli profile show l") == ["lp"]
    assert complete("balancecli profile remove ") == ["ts-live", "lp", "qt"]


def test_the_config_of_the_command_line_wins(config, tmp_path):
    other = write_config(tmp_path / "other.toml", {"etna-x": {"broker": "etna"}})
    assert complete(f"balancecli --config {other} balance -p ") == ["etna-x"]
    assert complete(f"balancecli balance --config {other} -p ") == ["etna-x"]


def test_demo_completes_the_demo_profiles(config):
    demo = ["demo-ts", "demo-lp", "demo-etna", "demo-qt"]
    assert complete("balancecli --demo balance -p ") == demo
    assert complete("balancecli assets --demo -p demo-e") == ["demo-etna"]


@pytest.mark.parametrize("text", ["[profiles.a\nbroker = ", "\xff\xfe", "profiles = 3\n"])
def test_a_broken_config_completes_nothing(tmp_path, text):
    path = tmp_path / "broken.toml"
    path.write_bytes(text.encode("latin-1"))
    env = {"BALANCECLI_CONFIG": str(path)}
    assert complete("balancecli balance -p ", env) == []
    assert complete("balancecli auth login ", env) == []


def test_no_config_completes_nothing(tmp_path):
    assert complete("balancecli balance -p ",
                    {"BALANCECLI_CONFIG": str(tmp_path / "missing.toml")}) == []


# -- brokers, fields, currencies ---------------------------------------------------------------


def test_profile_add_completes_broker_names():
    assert complete("balancecli profile add new --broker ") == [
        "tradestation", "longport", "etna", "quantower"]
    assert complete("balancecli profile add new -b l") == ["longport"]


def test_history_field_completes_balance_amounts():
    assert complete("balancecli history --field ") == FIELDS
    assert complete("balancecli history --field m") == ["market_value", "maintenance_margin"]


def test_periods_and_groups_complete():
    assert complete("balancecli history --every ") == ["1h", "1d", "1w", "1mo", "1y"]
    assert complete("balancecli history --every 1m") == ["1mo"]
    assert complete("balancecli balance --in USD --by a") == ["account"]
    assert complete("balancecli assets --in USD --by a") == ["asset", "account"]
    from balancecli.cli.complete import GROUPS
    from balancecli.output.specs import DATA

    assert GROUPS == {name: DATA[name].groups for name in GROUPS}  # one list, said twice


def test_currency_completes_iso_codes_in_the_case_typed():
    assert complete("balancecli balance --currency HK") == ["HKD"]
    assert complete("balancecli assets --currency us") == ["usd"]
    assert complete("balancecli history --currency EU") == ["EUR"]
    assert "JPY" in complete("balancecli balance --currency ")


# -- the history store -------------------------------------------------------------------------


@pytest.fixture
def demo_store():
    """The demo's history store, filled by one real snapshot."""
    proc = run_cli("--demo", "snapshot")
    assert proc.returncode == 0, proc.stderr


DEMO_ACCOUNTS = ["11827391", "11827392", "210FUT01", "83267", "83268", "83269", "BN-SPOT-01",
                 "LP-DEMO", "cqg-demo:RITHMIC-PAPER-7", "rithmic-demo:RITHMIC-PAPER-7"]


def test_account_completes_the_stored_account_ids(demo_store):
    assert complete("balancecli --demo balance -a ") == DEMO_ACCOUNTS
    assert complete("balancecli --demo assets -a 8326") == ["83267", "83268", "83269"]
    assert complete("balancecli --demo balance -a 83267 -a 8326") == ["83268", "83269"]
    assert complete("balancecli --demo history -p demo-lp -a ") == ["LP-DEMO"]


def test_currency_completes_what_the_store_has_seen_first(demo_store):
    candidates = complete("balancecli --demo assets --currency ")
    assert candidates[:7] == ["BTC", "ETH", "EUR", "HKD", "JPY", "USD", "USDT"]
    assert candidates.count("USD") == 1 and "ZAR" in candidates
    assert complete("balancecli --demo assets --currency BT") == ["BTC", "BTN"]  # stored first
    assert complete("balancecli --demo assets --currency usdt") == ["usdt"]


def test_the_store_given_by_the_environment_is_used(demo_store, isolated, tmp_path):
    import platformdirs

    db = Path(platformdirs.user_data_dir("balancecli")) / "history-demo.sqlite3"
    assert db.is_file()
    assert complete("balancecli balance -a LP", {"BALANCECLI_DB": str(db)}) == ["LP-DEMO"]
    assert complete("balancecli history -a LP", {"BALANCECLI_DB": str(db)}) == ["LP-DEMO"]


def test_a_missing_or_broken_store_completes_nothing(tmp_path):
    assert complete("balancecli balance -a ", {"BALANCECLI_DB": str(tmp_path / "no.db")}) == []
    junk = tmp_path / "junk.sqlite3"
    junk.write_bytes(b"not a database at all" * 100)
    assert complete("balancecli balance -a ", {"BALANCECLI_DB": str(junk)}) == []
    assert complete("balancecli balance --currency GB", {"BALANCECLI_DB": str(junk)}) == ["GBP"]


# -- no network, no keyring --------------------------------------------------------------------

TRIPWIRE = '''
"""A keyring backend that leaves a mark when keyring so much as loads it."""
import os
from pathlib import Path

Path(os.environ["TRIPWIRE_MARK"]).write_text("keyring backend loaded")

from keyring.backend import KeyringBackend


class Keyring(KeyringBackend):
    priority = 1

    def get_password(self, service, username):
        raise RuntimeError("keyring used")

    def set_password(self, service, username, password):
        raise RuntimeError("keyring used")

    def delete_password(self, service, username):
        raise RuntimeError("keyring used")
'''


def test_completion_never_touches_the_network_or_the_keyring(tmp_path, ts_fake, demo_store):
    import platformdirs

    (tmp_path / "tripwire_keyring.py").write_text(TRIPWIRE)
    mark = tmp_path / "mark"
    path = write_config(tmp_path / "config.toml", {"ts": {
        "broker": "tradestation", "base_url": ts_fake.url,
        "token_url": ts_fake.url + "/oauth/token", **FAST}})
    db = Path(platformdirs.user_data_dir("balancecli")) / "history-demo.sqlite3"
    env = {"PYTHONPATH": str(tmp_path), "PYTHON_KEYRING_BACKEND": "tripwire_keyring.Keyring",
           "TRIPWIRE_MARK": str(mark), "BALANCECLI_CONFIG": str(path),
           "BALANCECLI_DB": str(db), "BALANCECLI_TS_REFRESH_TOKEN": "rt-0123456789"}
    assert complete("balancecli balance -p ", env) == ["ts"]
    assert complete("balancecli auth login ", env) == ["ts"]
    assert complete("balancecli auth status ", env) == ["ts"]
    assert complete("balancecli balance -a 1182739", env) == ["11827391", "11827392"]
    assert complete("balancecli balance --currency US", env) == ["USD", "USDT"]
    assert not mark.exists()
    assert ts_fake.requests == []
    # The tripwire works: a command that reads the keyring sets it off.
    run_cli("auth", "status", "ts", env=env)
    assert mark.exists()


def test_columns_and_schema_names_complete():
    assert complete("balancecli balance --columns account_id,c") == [
        "account_id,currency", "account_id,cash"]
    assert complete("balancecli assets --columns asset,total,value_") == [
        "asset,total,value_in_account_currency", "asset,total,value_usd",
        "asset,total,value_btc", "asset,total,value_in"]
    assert complete("balancecli accounts --columns st") == ["status"]
    assert complete("balancecli schema bal") == ["balance"]
    assert complete("balancecli schema balancecli.pro") == [
        "balancecli.profiles/1", "balancecli.profile/1", "balancecli.profile_path/1"]


def other_shell(shell: str, line: str, action: str = "") -> subprocess.CompletedProcess:
    env = {**os.environ, "_TYPER_COMPLETE_ARGS": line,
           "_BALANCECLI_COMPLETE": f"complete_{shell}", "_TYPER_COMPLETE_FISH_ACTION": action}
    return subprocess.run([balancecli_exe()], capture_output=True, text=True, env=env,
                          timeout=30)


@pytest.mark.parametrize("line,files", [
    ("balancecli history --since ", False), ("balancecli balance -a ", False),
    ("balancecli profile add ", False), ("balancecli --config ", True),
    ("balancecli snapshot --db ", True), ("balancecli quantower bridge --output ", True)])
def test_zsh_and_fish_offer_file_names_only_where_a_path_is_asked_for(tmp_path, line, files):
    env_db = tmp_path / "nothing.sqlite3"  # no store: -a has no candidate
    os.environ["BALANCECLI_DB"] = str(env_db)
    try:
        zsh = other_shell("zsh", line)
        fish = other_shell("fish", line, "is-args")
    finally:
        del os.environ["BALANCECLI_DB"]
    assert (zsh.returncode, zsh.stderr) == (0, "")
    assert zsh.stdout.strip() == ("_files" if files else "")
    # fish: exit 1 lets fish offer files; exit 0 with no candidate offers nothing.
    assert (fish.returncode, fish.stdout) == (1 if files else 0, "")


def test_tab_in_bash_offers_no_file_names_without_candidates(tmp_path):
    (tmp_path / "config.toml").write_text("")
    (tmp_path / "zz-only-file.txt").write_text("")
    assert tab_in_bash("balancecli history --since z", tmp_path) == \
        "balancecli history --since z"
    assert tab_in_bash("balancecli --demo balance -a z", tmp_path) == \
        "balancecli --demo balance -a z"
    assert tab_in_bash("balancecli schema z", tmp_path) == "balancecli schema z"
    # Where a file is asked for, bash's own file names.
    assert tab_in_bash("balancecli --config con", tmp_path) == "balancecli --config config.toml "
    assert tab_in_bash("balancecli snapshot --db zz", tmp_path) == \
        "balancecli snapshot --db zz-only-file.txt "


def test_zsh_gets_the_same_candidates(config):
    env = {**os.environ, "_TYPER_COMPLETE_ARGS": "balancecli balance -p l",
           "_BALANCECLI_COMPLETE": "complete_zsh"}
    proc = subprocess.run([balancecli_exe()], capture_output=True, text=True, env=env,
                          timeout=30)
    assert proc.returncode == 0 and proc.stderr == ""
    assert '"lp"' in proc.stdout and "ts-live" not in proc.stdout


# -- a real, interactive bash: readline cuts words at ":" -------------------------------------

def tab_in_bash(typed: str, cwd: Path | None = None) -> str:
    """Type ``typed`` in an interactive bash on a pty (in ``cwd``), press Tab, and return the
    line bash then holds (read back by turning it into an ``echo``)."""
    import pty
    import select
    import time

    master, slave = pty.openpty()
    bin_dir = str(Path(balancecli_exe()).parent)
    env = {**os.environ, "PATH": bin_dir + os.pathsep + os.environ["PATH"], "TERM": "dumb",
           "PS1": "$ ", "INPUTRC": "/dev/null"}
    proc = subprocess.Popen(["bash", "--norc", "--noprofile", "-i"], stdin=slave, stdout=slave,
                            stderr=slave, env=env, start_new_session=True, cwd=cwd)
    os.close(slave)
    seen = b""

    def wait_for(marker: bytes, seconds: float = 30) -> None:
        nonlocal seen
        deadline = time.monotonic() + seconds
        while marker not in seen and time.monotonic() < deadline:
            if select.select([master], [], [], 0.1)[0]:
                seen += os.read(master, 65536)
        assert marker in seen, seen.decode(errors="replace")[-2000:]

    try:
        os.write(master, f"source {shlex.quote(str(BASH_SCRIPT))}; echo READY\n".encode())
        wait_for(b"READY\r\n")
        seen = b""
        os.write(master, typed.encode() + b"\t")
        time.sleep(1.5)  # the completion calls back into balancecli
        os.write(master, b"\x01echo 'LINE<'\x05'>'\n")  # Ctrl-A, Ctrl-E: wrap the line in echo
        wait_for(b">\r\n")
        text = seen.decode(errors="replace").replace("\r", "")
        return text.rsplit("LINE<", 1)[1].split(">\n", 1)[0]
    finally:
        os.write(master, b"exit\n")
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        os.close(master)


@pytest.mark.parametrize("typed,line", [
    ("balancecli --demo balance -a cqg-demo:R", "balancecli --demo balance -a "
                                                "cqg-demo:RITHMIC-PAPER-7 "),
    ("balancecli --demo balance -a rithmic-demo:", "balancecli --demo balance -a "
                                                   "rithmic-demo:RITHMIC-PAPER-7 "),
    ("balancecli --demo assets -a 8326", "balancecli --demo assets -a 8326"),  # 3 candidates
    ("balancecli --demo balance -a LP", "balancecli --demo balance -a LP-DEMO "),
])
def test_tab_in_bash_completes_ids_that_contain_a_colon(demo_store, typed, line):
    assert tab_in_bash(typed) == line


def test_the_installed_bash_script_is_the_one_that_handles_colons(tmp_path):
    env = {**os.environ, "HOME": str(tmp_path), "SHELL": "/bin/bash",
           "_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION": "1"}
    proc = subprocess.run([balancecli_exe(), "--install-completion", "bash"], env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    installed = list(tmp_path.rglob("balancecli.sh"))
    assert installed and "_BALANCECLI_COMP_LINE" in installed[0].read_text()
    assert installed[0].read_text().strip() == BASH_SCRIPT.read_text().strip()
