"""`auth login` at a terminal, like `gh auth login`: the installed command on a real pty (its
controlling terminal, so getpass reads it as it would a user's), stdout on a pipe.

Identifiers echo while typed, secrets do not; an empty answer asks again; Ctrl-D cancels (exit
130, one line "cancelled", nothing stored); a rejected ETNA password asks for the password only,
up to three tries. The keyring is the explicit plaintext test backend (login_helpers).
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time

import pytest

from balancecli.demo.etna import DEMO_APP_KEY, DEMO_PASSWORD, DEMO_USERNAME, FakeEtna
from balancecli.demo.tradestation import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, FakeTradeStation
from tests.support.cli import balancecli_exe
from tests.support.login_helpers import FAST, item, use_plaintext_keyring, write_config

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX pseudo-terminals")

CTRL_C, CTRL_D = b"\x03", b"\x04"
WRONG = "not-the-password-5150"


class Terminal:
    """The CLI with a pty as its controlling terminal, stdin and stderr; stdout on a pipe."""

    def __init__(self, *args: str) -> None:
        import fcntl
        import termios

        master, slave = os.openpty()

        def controlling_tty() -> None:  # runs in the child, after setsid
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)

        self.proc = subprocess.Popen(
            [balancecli_exe(), *args], stdin=slave, stdout=subprocess.PIPE, stderr=slave,
            start_new_session=True, preexec_fn=controlling_tty)
        os.close(slave)
        self.master = master
        self.screen = b""  # everything the terminal showed
        self.seen = 0  # how much of it expect() has consumed

    def _read(self, timeout: float) -> bool:
        ready, _, _ = select.select([self.master], [], [], timeout)
        if not ready:
            return True
        try:
            chunk = os.read(self.master, 65536)
        except OSError:  # EIO: the child closed the terminal
            return False
        self.screen += chunk
        return bool(chunk)

    def expect(self, text: str, timeout: float = 20) -> str:
        """Wait until ``text`` shows after what was already seen; returns what came between."""
        wanted = text.encode()
        deadline = time.monotonic() + timeout
        while wanted not in self.screen[self.seen:]:
            if time.monotonic() > deadline or not self._read(0.1):
                raise AssertionError(f"{text!r} not shown; the terminal shows:\n"
                                     + self.screen.decode(errors="replace"))
        end = self.screen.index(wanted, self.seen) + len(wanted)
        shown, self.seen = self.screen[self.seen:end].decode(), end
        return shown

    def type(self, data: str | bytes) -> None:
        os.write(self.master, data.encode() if isinstance(data, str) else data)

    def finish(self, timeout: float = 30) -> tuple[int, str, str]:
        """(exit code, stdout, what the terminal showed after the last expect())."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self._read(0.1):
            if self.proc.poll() is not None and not select.select([self.master], [], [], 0)[0]:
                break
        code = self.proc.wait(max(0.1, deadline - time.monotonic()))
        out = self.proc.stdout.read().decode()
        os.close(self.master)
        return code, out, self.screen[self.seen:].decode(errors="replace")


@pytest.fixture
def etna(monkeypatch, tmp_path):
    config = use_plaintext_keyring(monkeypatch, tmp_path)
    fake = FakeEtna().start()
    write_config(config, {"etna": {"broker": "etna", "base_url": fake.url + "/api", **FAST}})
    yield fake
    fake.stop()


def logins(fake: FakeEtna) -> int:
    return len(fake.calls("/api/token"))


def start_etna_login(username: str = DEMO_USERNAME) -> Terminal:
    term = Terminal("auth", "login", "etna")
    term.expect("etna APP_KEY: ")
    term.type(DEMO_APP_KEY + "\r")
    term.expect("etna USERNAME: ")
    term.type(username + "\r")
    term.expect("etna PASSWORD: ")
    return term


def test_identifiers_echo_secrets_do_not(etna):
    term = start_etna_login()
    term.type(DEMO_PASSWORD + "\r")
    code, out, shown = term.finish()
    assert code == 0, shown
    assert "etna: logged in (etna, " in shown
    screen = term.screen.decode()
    assert DEMO_APP_KEY in screen and f"USERNAME: {DEMO_USERNAME}" in screen  # typed, echoed
    assert DEMO_PASSWORD not in screen + out
    assert out == ""
    stored = item("etna")
    assert (stored["app_key"], stored["username"], stored["password"]) == (
        DEMO_APP_KEY, DEMO_USERNAME, DEMO_PASSWORD)


def test_an_answer_with_a_control_character_asks_again_without_showing_it(etna):
    term = Terminal("auth", "login", "etna")
    term.expect("etna APP_KEY: ")
    term.type("\x1b[200~pasted-key\x1b[201~\r")  # a bracketed paste: escape sequences
    shown = term.expect("etna APP_KEY: ")
    assert "that APP_KEY has a control character; type or paste the bare value" in shown
    term.type(DEMO_APP_KEY + "\r")
    term.expect("etna USERNAME: ")
    term.type(DEMO_USERNAME + "\r")
    term.expect("etna PASSWORD: ")
    term.type(DEMO_PASSWORD + "\r")
    code, out, shown = term.finish()
    assert code == 0, shown
    assert item("etna")["app_key"] == DEMO_APP_KEY and logins(etna) == 1


def test_an_empty_answer_asks_again(etna):
    term = Terminal("auth", "login", "etna")
    term.expect("etna APP_KEY: ")
    term.type("\r")
    term.expect("etna APP_KEY: ")
    term.type("   \r")
    term.expect("etna APP_KEY: ")
    term.type(DEMO_APP_KEY + "\r")
    term.expect("etna USERNAME: ")
    term.type(DEMO_USERNAME + "\r")
    term.expect("etna PASSWORD: ")
    term.type("\r")  # hidden prompts too
    term.expect("etna PASSWORD: ")
    term.type(DEMO_PASSWORD + "\r")
    code, out, shown = term.finish()
    assert code == 0, shown
    assert item("etna")["password"] == DEMO_PASSWORD
    assert logins(etna) == 1  # nothing was sent before every field had an answer


@pytest.mark.parametrize("at", ["APP_KEY", "USERNAME", "PASSWORD"])
def test_ctrl_d_cancels_and_stores_nothing(etna, at):
    term = Terminal("auth", "login", "etna")
    answers = {"APP_KEY": DEMO_APP_KEY, "USERNAME": DEMO_USERNAME}
    for field in ("APP_KEY", "USERNAME", "PASSWORD"):
        term.expect(f"etna {field}: ")
        if field == at:
            term.type(CTRL_D)
            break
        term.type(answers[field] + "\r")
    started = time.monotonic()
    code, out, shown = term.finish()
    assert code == 130, shown
    assert time.monotonic() - started < 5
    assert [line.strip() for line in shown.splitlines() if line.strip()] == ["cancelled"]
    assert out == ""
    assert item("etna") == {}
    assert logins(etna) == 0


def test_a_rejected_password_asks_for_the_password_only(etna):
    term = start_etna_login()
    term.type(WRONG + "\r")
    between = term.expect("etna PASSWORD: ")
    assert "etna: ETNA login failed: Invalid credentials; enter the PASSWORD again (try 2 of 3; " \
           "Ctrl-D cancels)" in between
    assert "APP_KEY" not in between and "USERNAME" not in between
    term.type(DEMO_PASSWORD + "\r")
    code, out, shown = term.finish()
    assert code == 0, shown
    assert item("etna")["password"] == DEMO_PASSWORD
    assert logins(etna) == 2
    assert WRONG not in term.screen.decode() + out


def test_three_rejected_passwords_exit_4(etna):
    term = start_etna_login()
    term.type(WRONG + "\r")
    term.expect("(try 2 of 3; Ctrl-D cancels)")
    term.expect("etna PASSWORD: ")
    term.type(WRONG + "2\r")
    term.expect("(try 3 of 3; Ctrl-D cancels)")
    term.expect("etna PASSWORD: ")
    term.type(WRONG + "3\r")
    code, out, shown = term.finish()
    assert code == 4, shown
    lines = [line.strip() for line in shown.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: etna: ETNA login failed"), shown
    assert "auth login etna" in lines[0]
    assert logins(etna) == 3
    assert item("etna") == {}
    assert WRONG not in term.screen.decode() + out


def test_a_wrong_second_factor_is_not_a_wrong_password(etna):
    term = start_etna_login(username="demo2fa")
    term.type("demo-2fa-password-1111\r")
    term.expect("etna: ETNA verification code")
    term.expect(": ")
    term.type("000000\r")
    code, out, shown = term.finish()
    assert code == 4, shown
    assert "PASSWORD again" not in shown and "etna PASSWORD: " not in shown
    assert "Invalid verification code" in shown
    assert item("etna") == {}


def test_ctrl_d_at_the_second_factor_cancels(etna):
    term = start_etna_login(username="demo2fa")
    term.type("demo-2fa-password-1111\r")
    term.expect("etna: ETNA verification code")
    term.expect(": ")
    term.type(CTRL_D)
    code, out, shown = term.finish()
    assert code == 130, shown
    assert [line.strip() for line in shown.splitlines() if line.strip()] == ["cancelled"]
    assert item("etna") == {}


def test_an_empty_client_secret_is_an_answer_and_ctrl_c_stops_the_wait(monkeypatch, tmp_path):
    config = use_plaintext_keyring(monkeypatch, tmp_path)
    fake = FakeTradeStation().start()
    try:
        write_config(config, {"ts": {
            "broker": "tradestation", "base_url": fake.url, "auth_url": fake.url + "/authorize",
            "token_url": fake.url + "/oauth/token", "client_id": DEMO_CLIENT_ID,
            "redirect_port": 0, **FAST}})
        term = Terminal("auth", "login", "ts", "--no-browser", "--browser-timeout", "60")
        term.expect("ts CLIENT_SECRET (empty for a PKCE key): ")
        term.type("\r")
        term.expect("/authorize?")  # no second question: on to the browser login
        term.expect("Waiting up to 60 s")
        started = time.monotonic()
        term.type(CTRL_C)
        code, out, shown = term.finish()
        assert code == 130, shown
        assert time.monotonic() - started < 3
        assert "interrupted" in shown and "Traceback" not in shown
        assert item("ts") == {}
    finally:
        fake.stop()


def test_ctrl_d_at_a_data_commands_second_factor_cancels(etna, monkeypatch):
    # balance at a terminal logs in itself when it has no token; ETNA then asks for a second
    # factor. Ctrl-D there is a cancel (exit 130, one line), as at auth login's prompts, not
    # an internal error.
    monkeypatch.setenv("BALANCECLI_ETNA_APP_KEY", DEMO_APP_KEY)
    monkeypatch.setenv("BALANCECLI_ETNA_USERNAME", "demo2fa")
    monkeypatch.setenv("BALANCECLI_ETNA_PASSWORD", "demo-2fa-password-1111")
    term = Terminal("balance", "-p", "etna")
    term.expect("etna: ETNA verification code")
    term.expect(": ")
    term.type(CTRL_D)
    started = time.monotonic()
    code, out, shown = term.finish()
    assert code == 130, shown
    assert time.monotonic() - started < 5
    assert [line.strip() for line in shown.splitlines() if line.strip()] == ["cancelled"]
    assert out == ""
    assert "internal error" not in term.screen.decode()


def test_a_data_commands_second_factor_is_asked_once_and_used(etna, monkeypatch):
    monkeypatch.setenv("BALANCECLI_ETNA_APP_KEY", DEMO_APP_KEY)
    monkeypatch.setenv("BALANCECLI_ETNA_USERNAME", "demo2fa")
    monkeypatch.setenv("BALANCECLI_ETNA_PASSWORD", "demo-2fa-password-1111")
    term = Terminal("balance", "-p", "etna", "-f", "json")
    term.expect("etna: ETNA verification code")
    term.expect(": ")
    term.type("424242\r")
    code, out, shown = term.finish()
    assert code == 0, shown
    assert {row["profile"] for row in json.loads(out)["balances"]} == {"etna"}
    assert term.screen.decode().count("ETNA verification code") == 1
    assert "424242" not in term.screen.decode() + out  # hidden while typed


# -- where each field is, the next command, no keyring, the pasted address ------------------


def test_each_prompt_says_where_the_broker_shows_the_field_and_success_says_what_next(etna):
    term = Terminal("auth", "login", "etna")
    before = term.expect("etna APP_KEY: ")
    assert "APP_KEY: the API key your broker issued for its ETNA Trader API" in before
    term.type(DEMO_APP_KEY + "\r")
    assert "USERNAME: your login at the broker's ETNA trading platform" in term.expect(
        "etna USERNAME: ")
    term.type(DEMO_USERNAME + "\r")
    term.expect("etna PASSWORD: ")
    term.type(DEMO_PASSWORD + "\r")
    code, out, shown = term.finish()
    assert code == 0, shown
    assert shown.strip().splitlines()[-1] == "next: balancecli balance -p etna"


def test_without_a_keyring_login_offers_an_environment_file(etna, monkeypatch, tmp_path,
                                                            isolated):
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    path = isolated / "config" / "balancecli" / "etna.env"
    term = Terminal("auth", "login", "etna")
    shown = term.expect("[y/N] ")
    assert "etna: the OS keyring is not usable (no usable keyring backend" in shown
    assert f"Write the credentials to {path} instead, as export lines only you can read?" \
        in shown
    term.type("y\r")
    term.expect("etna APP_KEY: ")
    term.type(DEMO_APP_KEY + "\r")
    term.expect("etna USERNAME: ")
    term.type(DEMO_USERNAME + "\r")
    term.expect("etna PASSWORD: ")
    term.type(DEMO_PASSWORD + "\r")
    code, out, shown = term.finish()
    assert code == 0, shown
    assert f"wrote BALANCECLI_ETNA_APP_KEY, BALANCECLI_ETNA_USERNAME, BALANCECLI_ETNA_PASSWORD " \
           f"to {path} (mode 0600), nothing in the keyring" in shown
    assert DEMO_PASSWORD not in term.screen.decode() + out
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    cron = subprocess.run(
        ["sh", "-c", f". {path} && exec {balancecli_exe()} balance -f json"],
        capture_output=True, text=True, timeout=60,
        env={"PATH": os.environ["PATH"], "HOME": str(isolated),
             "BALANCECLI_CONFIG": os.environ["BALANCECLI_CONFIG"]})
    assert cron.returncode == 0, cron.stderr
    assert {row["profile"] for row in json.loads(cron.stdout)["balances"]} == {"etna"}


def test_no_to_the_offer_stores_nothing(etna, monkeypatch):
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    term = Terminal("auth", "login", "etna")
    term.expect("[y/N] ")
    term.type("\r")
    code, out, shown = term.finish()
    assert code == 4, shown
    assert "error: etna: the OS keyring is not usable and no file was chosen; nothing was " \
           "stored — run: balancecli auth login etna --output FILE" in shown
    assert logins(etna) == 0


@pytest.fixture
def ts(monkeypatch, tmp_path):
    config = use_plaintext_keyring(monkeypatch, tmp_path)
    fake = FakeTradeStation().start()
    write_config(config, {"ts": {
        "broker": "tradestation", "base_url": fake.url, "auth_url": fake.url + "/authorize",
        "token_url": fake.url + "/oauth/token", "client_id": DEMO_CLIENT_ID,
        "redirect_port": 0, **FAST}})
    monkeypatch.setenv("BALANCECLI_TS_CLIENT_SECRET", DEMO_CLIENT_SECRET)
    yield fake
    fake.stop()


def test_the_address_the_browser_ends_on_can_be_pasted(ts):
    import re

    import requests

    term = Terminal("auth", "login", "ts", "--no-browser", "--browser-timeout", "60")
    shown = term.expect("paste here the address it ends on:")
    assert "If it does not open" not in shown
    assert "Open this URL in a browser and log in:" in shown
    url = re.search(r"(http://127\.0\.0\.1:\d+/authorize\?\S+)", shown).group(1)
    redirect = re.search(r"the redirect to (http://localhost:\d+)", shown).group(1)
    # The browser is elsewhere (SSH): it ends on a page that cannot be reached.
    location = requests.get(url, allow_redirects=False, timeout=5).headers["Location"]
    assert location.startswith(redirect + "?")
    term.type("https://example.com/?code=x\r")
    assert "that is not an address of the redirect: paste the whole address the browser " \
           f"shows, starting with {redirect}" in term.expect(f"starting with {redirect}")
    term.type(re.sub(r"state=[^&]+", "state=forged", location) + "\r")
    assert "that address is of another login" in term.expect(f"starting with {redirect}")
    assert ts.calls("/oauth/token") == []  # nothing refused was exchanged
    term.type(location + "\r")
    code, out, shown = term.finish()
    assert code == 0, shown
    assert "ts: logged in (tradestation, " in shown
    assert len(ts.calls("/oauth/token")) == 1
    assert item("ts")["refresh_token"] in ts.refresh_tokens
