"""`auth` and `profile` commands, run as the installed command against fake brokers.

The keyring here is keyrings.alt's PlaintextKeyring selected explicitly (test-only), so that the
CLI subprocesses and the test share one store; the real Secret Service is in test_keyring.py.
OAuth logins are driven end to end: the test reads the URL the CLI prints, GETs it from the
fake authorization server (302) and follows the Location to the CLI's loopback listener.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
import tomllib

import pytest
import requests

from balancecli.demo.longport import DEMO_CLIENT_ID as LP_CLIENT_ID
from balancecli.demo.longport import FakeLongPort
from balancecli.demo.server import Reply
from balancecli.demo.tradestation import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, FakeTradeStation
from tests.support.cli import run_cli
from tests.support.login_helpers import (
    FAST,
    PLAINTEXT,
    Cli,
    follow,
    item,
    use_plaintext_keyring,
    write_config,
)


@pytest.fixture
def store(monkeypatch, tmp_path):
    return use_plaintext_keyring(monkeypatch, tmp_path)


# -- TradeStation browser login -------------------------------------------------------------


@pytest.fixture
def ts(store):
    fake = FakeTradeStation().start()
    write_config(store, {"ts": {
        "broker": "tradestation", "base_url": fake.url, "token_url": fake.url + "/oauth/token",
        "auth_url": fake.url + "/authorize", "client_id": DEMO_CLIENT_ID,
        "redirect_port": 0, **FAST}})
    yield fake
    fake.stop()


def test_tradestation_browser_login_stores_tokens_and_they_work(ts):
    cli = Cli("auth", "login", "ts", "--no-browser", "--browser-timeout", "20", "--with-token",
              stdin=json.dumps({"client_secret": DEMO_CLIENT_SECRET}))
    url = cli.url()
    params = dict(p.split("=", 1) for p in url.split("?", 1)[1].split("&"))
    assert params["audience"] == "https%3A%2F%2Fapi.tradestation.com"
    assert params["scope"] == "openid+offline_access+ReadAccount"
    assert params["code_challenge_method"] == "S256" and len(params["code_challenge"]) == 43
    page = follow(url)
    assert page.status_code == 200 and "close this tab" in page.text
    code, out, err = cli.finish()
    assert code == 0, err
    assert f"ts: logged in (tradestation, {len(ts.v3['accounts'])} account(s))" in err
    stored = item("ts")
    assert stored["access_token"] in ts.access_tokens
    assert stored["refresh_token"] in ts.refresh_tokens
    assert stored["client_secret"] == DEMO_CLIENT_SECRET
    assert stored["access_token_expires_at"] > time.time() + 1000
    for secret in (stored["access_token"], stored["refresh_token"], DEMO_CLIENT_SECRET):
        assert secret not in out + err
    # The stored tokens are used by the data commands (no environment variables).
    result = run_cli("accounts", "-p", "ts", "-f", "json")
    assert result.returncode == 0, result.stderr
    assert [a["account_id"] for a in json.loads(result.stdout)["accounts"]] == \
        [a["AccountID"] for a in ts.v3["accounts"]]
    # the PKCE verifier was checked by the fake: its code exchange had a verifier
    exchange = ts.calls("/oauth/token")[0].form()
    assert exchange["grant_type"] == "authorization_code" and exchange["code_verifier"]


@pytest.mark.parametrize("expires_in", ['"1e400"', "1e400", "-50", '"-50"', "null"])
def test_browser_login_keeps_the_login_on_an_odd_expires_in(ts, expires_in):
    # The one-time code is spent: the tokens are stored with the documented 20 minutes.
    access, refresh = ts.issue()
    ts.inject("body", "/oauth/token$", method="POST",
              body=f'{{"access_token": "{access}", "refresh_token": "{refresh}", '
                   f'"expires_in": {expires_in}, "token_type": "Bearer"}}')
    cli = Cli("auth", "login", "ts", "--no-browser", "--browser-timeout", "20", "--with-token",
              stdin=json.dumps({"client_secret": DEMO_CLIENT_SECRET}))
    before = time.time()
    assert follow(cli.url()).status_code == 200
    code, out, err = cli.finish()
    assert code == 0, err
    assert "logged in (tradestation" in err and "Traceback" not in err
    stored = item("ts")
    assert (stored["access_token"], stored["refresh_token"]) == (access, refresh)
    assert before + 1199 <= stored["access_token_expires_at"] <= time.time() + 1201


def test_browser_login_answer_with_a_folded_token_is_refused(ts):
    ts.inject("body", "/oauth/token$", method="POST", body=json.dumps(
        {"access_token": "ts-at-folded\r\n X-Injected: yes", "expires_in": 1200}))
    cli = Cli("auth", "login", "ts", "--no-browser", "--browser-timeout", "20", "--with-token",
              stdin=json.dumps({"client_secret": DEMO_CLIENT_SECRET}))
    follow(cli.url())
    code, out, err = cli.finish()
    assert code == 4, err
    [line] = [x for x in err.splitlines() if x.startswith("error:")]
    assert line.startswith("error: ts: the token endpoint answered an access token with a line "
                           "break; nothing of it was used or stored")
    assert "folded" not in err and "Injected" not in err and out == ""
    assert ts.calls("/v3/") == [] and item("ts") == {}


def test_browser_login_wrong_state_is_refused_and_the_login_goes_on(ts):
    # A stale tab's redirect used to end the login (exit 4); now it is refused and the login
    # still completes with the right one (more cases in test_oauth_loopback.py).
    cli = Cli("auth", "login", "ts", "--no-browser", "--browser-timeout", "20", "--with-token",
              stdin=json.dumps({"client_secret": DEMO_CLIENT_SECRET}))
    url = cli.url()
    page = follow(url, tamper_state=True)
    assert page.status_code == 400 and "state" in page.text
    assert ts.calls("/oauth/token") == []  # the forged code was never exchanged
    assert cli.proc.poll() is None
    assert follow(url).status_code == 200
    code, out, err = cli.finish()
    assert code == 0, err
    assert len(ts.calls("/oauth/token")) == 1
    assert item("ts")["access_token"] in ts.access_tokens


def test_browser_login_times_out(ts):
    started = time.monotonic()
    result = run_cli("auth", "login", "ts", "--no-browser", "--browser-timeout", "0.5",
                     "--with-token", input=json.dumps({"client_secret": DEMO_CLIENT_SECRET}))
    assert result.returncode == 4, result.stderr
    assert "no login completed within 0.5 s" in result.stderr
    # The hint names auth login's own option (--timeout is the per-request one elsewhere).
    assert "(--browser-timeout SECONDS for more time)" in result.stderr
    # The URL on a line of its own (a "\n" inside one stderr line would show as an escape).
    # --no-browser opens none: nothing about one that "does not open".
    lines = result.stderr.splitlines()
    assert "If it does not open" not in result.stderr
    at = lines.index("Open this URL in a browser and log in:")
    assert lines[at + 1].startswith("  http://") and "/authorize?" in lines[at + 1]
    assert "\\n" not in result.stderr
    assert "(--timeout" not in result.stderr
    assert time.monotonic() - started < 10
    assert item("ts") == {}


def test_browser_login_without_client_secret_needs_a_terminal_or_stdin(ts):
    result = run_cli("auth", "login", "ts", "--no-browser", "--browser-timeout", "1", input="")
    assert result.returncode == 2
    assert "missing CLIENT_SECRET" in result.stderr and "--with-token" in result.stderr


# -- LongPort OAuth browser login -----------------------------------------------------------


@pytest.fixture
def lp_oauth(store):
    fake = FakeLongPort(mode="oauth").start()
    write_config(store, {"lp": {"broker": "longport", "auth": "oauth", "base_url": fake.url,
                                "client_id": LP_CLIENT_ID, **FAST}})
    yield fake
    fake.stop()


def test_longport_browser_login_with_pkce(lp_oauth):
    cli = Cli("auth", "login", "lp", "--no-browser", "--port", "0", "--browser-timeout", "20")
    url = cli.url()
    assert url.startswith(lp_oauth.url + "/oauth2/authorize?")
    assert "scope=3" in url and "code_challenge_method=S256" in url
    first = requests.get(url, allow_redirects=False, timeout=5)
    assert re.match(r"http://localhost:\d+/callback\?code=", first.headers["Location"])
    assert requests.get(first.headers["Location"], timeout=5).status_code == 200
    code, out, err = cli.finish()
    assert code == 0, err
    stored = item("lp")
    assert stored["access_token"] in lp_oauth.tokens
    assert stored["refresh_token"] in lp_oauth.refresh_tokens
    result = run_cli("balance", "-p", "lp", "-f", "json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["balances"][0]["profile"] == "lp"


def test_longport_logout_revokes(lp_oauth, monkeypatch):
    from balancecli.credentials import Keyring

    revoked = []
    original = lp_oauth.handle

    def handle(request):
        if request.path == "/oauth2/revoke":
            revoked.append(request.form())
            return Reply(200, b"")
        return original(request)

    monkeypatch.setattr(lp_oauth, "handle", handle)
    refresh = lp_oauth.issue_refresh_token()
    Keyring().save("lp", {"refresh_token": refresh, "access_token": lp_oauth.issue()})
    result = run_cli("auth", "logout", "lp", "--revoke")
    assert result.returncode == 0, result.stderr
    assert revoked == [{"token": refresh, "token_type_hint": "refresh_token",
                        "client_id": LP_CLIENT_ID}]
    assert "lp: refresh token revoked" in result.stderr
    assert "lp: keyring item deleted" in result.stderr
    assert item("lp") == {}
    again = run_cli("auth", "logout", "lp")
    assert again.returncode == 0 and "not found" in again.stderr


def test_tradestation_revoke_requires_confirmation(ts):
    from balancecli.credentials import Keyring

    Keyring().save("ts", {"refresh_token": ts.issue()[1], "client_secret": DEMO_CLIENT_SECRET})
    result = run_cli("auth", "logout", "ts", "--revoke")
    assert result.returncode == 2
    assert "ALL refresh tokens" in result.stderr and "--yes" in result.stderr
    assert item("ts") != {}  # nothing deleted without the confirmation
    # Confirmed: the fake has no revocation endpoint (404): the item is still deleted locally
    result = run_cli("auth", "logout", "ts", "--revoke", "--yes")
    assert result.returncode == 4, result.stderr
    assert "error: ts: the keyring item was deleted, but the revocation was refused" \
        in result.stderr
    revokes = ts.calls("/oauth/revoke")
    assert len(revokes) == 1 and revokes[0].form()["client_secret"] == DEMO_CLIENT_SECRET
    assert item("ts") == {}


# -- --with-token, status, refresh ----------------------------------------------------------


def test_with_token_json_validates_with_one_request_and_stores(ts):
    access, refresh = ts.issue()
    payload = {"refresh_token": refresh, "client_secret": DEMO_CLIENT_SECRET}
    result = run_cli("auth", "login", "ts", "--with-token", input=json.dumps(payload))
    assert result.returncode == 0, result.stderr
    stored = item("ts")
    # no access token was given: the check refreshed once and cached the new token
    assert ts.refresh_count == 1
    assert stored["refresh_token"] == refresh and stored["access_token"] in ts.access_tokens
    assert len(ts.calls("/v3/brokerage/accounts")) == 1


def test_with_token_rejected_credentials_are_not_stored(ts):
    payload = {"refresh_token": "not-a-real-refresh-token", "client_secret": DEMO_CLIENT_SECRET}
    result = run_cli("auth", "login", "ts", "--with-token", input=json.dumps(payload))
    assert result.returncode == 4, result.stderr
    assert "the refresh token was rejected" in result.stderr
    assert "not-a-real-refresh-token" not in result.stderr
    assert item("ts") == {}


@pytest.mark.parametrize(("payload", "problem"), [
    ({"refresh_token": "rt-1\r\n X: y"}, "a line break"),
    ({"refresh_token": "rt-2 with blank"}, "whitespace"),
    ({"refresh_token": "rt-3", "client_secret": "cs-4\u0007bell"}, "a control character"),
])
def test_with_token_refuses_a_value_no_secret_can_have(ts, payload, problem):
    payload = {"client_secret": DEMO_CLIENT_SECRET, **payload}
    result = run_cli("auth", "login", "ts", "--with-token", input=json.dumps(payload))
    assert result.returncode == 4, result.stderr
    [line] = result.stderr.splitlines()
    assert line.startswith("error: ts: --with-token: the ")
    assert f"on stdin has {problem}; nothing was sent or stored" in line
    for value in payload.values():
        assert value[:5] not in line and value[-5:] not in line
    assert ts.calls() == [] and item("ts") == {}


def test_a_bare_token_on_stdin_with_a_line_break_inside_is_refused(store):
    from balancecli.demo.etna import DEMO_APP_KEY, DEMO_USERNAME, FakeEtna

    with FakeEtna() as fake:
        write_config(store, {"etna": {"broker": "etna", "base_url": fake.url + "/api", **FAST}})
        env = {"BALANCECLI_ETNA_APP_KEY": DEMO_APP_KEY, "BALANCECLI_ETNA_USERNAME": DEMO_USERNAME}
        result = run_cli("auth", "login", "etna", "--with-token", input="pass\rword\n",
                         env=env)
        assert result.returncode == 4, result.stderr
        assert result.stderr == ("error: etna: --with-token: the password on stdin has a line "
                                 "break; nothing was sent or stored — pipe the bare value (a "
                                 "JSON string escape such as \\n is a line break too)\n")
        assert fake.requests == [] and item("etna") == {}


def test_a_keyring_token_with_a_line_break_is_refused_before_the_wire(ts):
    from balancecli.credentials import Keyring

    access, refresh = ts.issue()
    Keyring().save("ts", {"access_token": access + "\r\n X-Injected: yes",
                          "refresh_token": refresh, "client_secret": DEMO_CLIENT_SECRET,
                          "access_token_expires_at": int(time.time()) + 1000})
    result = run_cli("balance", "-f", "json")
    assert result.returncode == 4, result.stderr
    assert result.stderr == ("error: ts: the keyring item holds an access token with a line "
                             "break — run: balancecli auth login ts\n")
    errors = json.loads(result.stdout)["errors"]
    assert [e["kind"] for e in errors] == ["auth"] and access not in result.stdout
    assert ts.calls() == []
    status = run_cli("auth", "status", "ts", "-f", "json")
    fields = {f["field"]: f["last4"] for f in json.loads(status.stdout)["profiles"][0]["fields"]}
    assert fields["ACCESS_TOKEN"] is None  # no hint of a token that cannot be used
    assert fields["REFRESH_TOKEN"] == refresh[-4:]


def test_status_never_shows_a_password_or_secret_only_long_tokens_ends(store):
    from balancecli.credentials import Keyring

    write_config(store, {
        "etna": {"broker": "etna", "base_url": "https://etna.example/api"},
        "lp": {"broker": "longport", "auth": "apikey", "base_url": "https://lp.example"}})
    Keyring().save("etna", {"app_key": "app-key-1234567890", "username": "someone@example.com",
                            "password": "password-0000", "token": "t" * 30 + "WXYZ"})
    Keyring().save("lp", {"app_key": "lp-app-key-abcdef", "app_secret": "app-secret-0000",
                          "access_token": "m_" + "a" * 30 + "9876"})
    text = run_cli("auth", "status").stdout
    assert "PASSWORD        keyring ***" in text
    assert "APP_SECRET      keyring ***" in text
    assert "ACCESS_TOKEN    keyring …9876" in text
    for hidden in ("0000", "7890", "cdef", ".com", "WXYZ"):
        assert hidden not in text
    doc = json.loads(run_cli("auth", "status", "-f", "json").stdout)
    hints = {(p["profile"], f["field"]): f["last4"] for p in doc["profiles"] for f in p["fields"]}
    assert hints == {("etna", "APP_KEY"): None, ("etna", "USERNAME"): None,
                     ("etna", "PASSWORD"): None, ("etna", "TOKEN"): None,
                     ("lp", "APP_KEY"): None, ("lp", "APP_SECRET"): None,
                     ("lp", "ACCESS_TOKEN"): "9876"}


def test_with_token_rejects_unknown_fields_and_bad_json(ts):
    bad = run_cli("auth", "login", "ts", "--with-token", input='{"pasword": "x"}')
    assert bad.returncode == 2 and "unknown field 'pasword'" in bad.stderr
    broken = run_cli("auth", "login", "ts", "--with-token", input="{not json")
    assert broken.returncode == 2 and "not a valid JSON object" in broken.stderr


def test_etna_single_fields_and_status(store):
    from balancecli.demo.etna import DEMO_APP_KEY, DEMO_PASSWORD, DEMO_USERNAME, FakeEtna

    fake = FakeEtna().start()
    try:
        write_config(store, {"etna": {"broker": "etna", "base_url": fake.url + "/api",
                                      **FAST}})
        env = {"BALANCECLI_ETNA_APP_KEY": DEMO_APP_KEY, "BALANCECLI_ETNA_USERNAME": DEMO_USERNAME}
        # two fields come from the environment: a single token on stdin is the password
        result = run_cli("auth", "login", "etna", "--with-token", input=DEMO_PASSWORD + "\n",
                         env=env)
        assert result.returncode == 0, result.stderr
        stored = item("etna")
        assert stored["password"] == DEMO_PASSWORD and "app_key" not in stored
        status = run_cli("auth", "status", "etna", "-f", "json", env=env)
        assert status.returncode == 0, status.stderr
        doc = json.loads(status.stdout)
        assert doc["keyring_backend"] == PLAINTEXT
        fields = {f["field"]: f for f in doc["profiles"][0]["fields"]}
        assert fields["APP_KEY"]["source"] == "env"
        assert fields["PASSWORD"]["source"] == "keyring"
        # No part of a password is ever shown: last4 is null, the text says ***
        assert fields["PASSWORD"]["last4"] is None
        assert DEMO_PASSWORD not in status.stdout + status.stderr
        # without the env variables, the profile cannot authenticate: exit 4
        missing = run_cli("auth", "status", "etna")
        assert missing.returncode == 4
        assert "CANNOT AUTHENTICATE: missing APP_KEY, USERNAME" in missing.stdout
        assert "run: balancecli auth login etna" in missing.stderr
    finally:
        fake.stop()


def test_status_shows_expiry_and_refresh_token_presence(ts):
    from balancecli.credentials import Keyring

    access, refresh = ts.issue()
    Keyring().save("ts", {"access_token": access, "refresh_token": refresh,
                          "client_secret": DEMO_CLIENT_SECRET,
                          "access_token_expires_at": 1_900_000_000})
    result = run_cli("auth", "status", "-f", "json")
    assert result.returncode == 0, result.stderr
    row = json.loads(result.stdout)["profiles"][0]
    assert row["ok"] is True and row["refresh_token"] is True
    assert row["access_token_expires_at"] == "2030-03-17T17:46:40Z"
    assert row["access_token_expired"] is False
    fields = {f["field"]: (f["source"], f["last4"]) for f in row["fields"]}
    # A last-four hint only for the long tokens, never for a client id or secret.
    assert fields["CLIENT_ID"] == ("config", None)
    assert fields["CLIENT_SECRET"] == ("keyring", None)
    assert fields["ACCESS_TOKEN"] == ("keyring", access[-4:])
    assert fields["REFRESH_TOKEN"] == ("keyring", refresh[-4:])
    assert "\\u2026" not in result.stdout  # JSON keeps Unicode as it is
    for secret in (access, refresh, DEMO_CLIENT_SECRET):
        assert secret not in result.stdout + result.stderr
    text = run_cli("auth", "status", "ts")
    assert "access token    expires 2030-03-17T17:46:40Z" in text.stdout
    assert f"keyring …{access[-4:]}" in text.stdout
    assert "keyring backend: " + PLAINTEXT in text.stdout


def test_refresh_forces_a_refresh_and_stores_the_rotated_token(ts):
    from balancecli.credentials import Keyring

    ts.rotate = True
    access, refresh = ts.issue()
    Keyring().save("ts", {"access_token": access, "refresh_token": refresh,
                          "client_secret": DEMO_CLIENT_SECRET,
                          "access_token_expires_at": int(time.time()) + 1000})
    result = run_cli("auth", "refresh", "ts")
    assert result.returncode == 0, result.stderr
    assert ts.refresh_count == 1
    stored = item("ts")
    assert stored["refresh_token"] != refresh and stored["refresh_token"] in ts.refresh_tokens
    assert stored["access_token"] != access
    assert "ts: token refreshed and stored; valid until" in result.stderr


def test_refresh_on_a_broker_without_refresh_is_a_usage_error(store):
    write_config(store, {"qt": {"broker": "quantower", "source": "http://127.0.0.1:9/x"}})
    result = run_cli("auth", "refresh", "qt", env={"BALANCECLI_QT_TOKEN": "t" * 12})
    assert (result.returncode, result.stdout, result.stderr) == (
        2, "", "error: qt: Quantower profiles have no token to refresh "
               "(run: balancecli auth refresh --help)\n")


def test_unknown_profile_is_a_config_error(ts):
    result = run_cli("auth", "login", "nope", "--with-token", input="x")
    assert result.returncode == 3 and "unknown profile" in result.stderr


# -- profile commands -----------------------------------------------------------------------


def test_profile_add_list_show_remove_preserves_the_rest(store):
    store.write_text(
        "# my brokers\n\n"
        "# the ETNA demo\n"
        "[profiles.etna]  # inline comment\n"
        'broker = "etna"\n'
        'base_url = "https://etna.example/api"\n\n'
        "# LongPort, OAuth\n"
        "[profiles.lp]\n"
        'broker = "longport"\n'
    )
    add = run_cli("profile", "add", "ts", "--broker", "tradestation", "--set",
                  "environment=sim", "--set", "accounts=A1, A2", "--set", "timeout=2.5")
    assert add.returncode == 0, add.stderr
    assert "next: balancecli auth login ts" in add.stderr
    assert oct(store.stat().st_mode & 0o777) == "0o600"
    text = store.read_text()
    assert text.startswith("# my brokers\n\n# the ETNA demo\n[profiles.etna]  # inline comment")
    data = tomllib.loads(text)
    assert data["profiles"]["ts"] == {"broker": "tradestation", "environment": "sim",
                                      "accounts": ["A1", "A2"], "timeout": 2.5}
    listed = run_cli("profile", "list", "-f", "json")
    assert [(p["profile"], p["broker"], p["valid"]) for p in
            json.loads(listed.stdout)["profiles"]] == [
        ("etna", "etna", True), ("lp", "longport", True), ("ts", "tradestation", True)]
    shown = run_cli("profile", "show", "ts", "-f", "json")
    doc = json.loads(shown.stdout)
    assert doc["settings"]["environment"] == "sim" and doc["effective"]["api"] == "v3"
    removed = run_cli("profile", "remove", "etna")
    assert removed.returncode == 0, removed.stderr
    text = store.read_text()
    assert "etna" not in text and "# the ETNA demo" not in text
    assert "# LongPort, OAuth\n[profiles.lp]" in text and text.startswith("# my brokers")
    assert set(tomllib.loads(text)["profiles"]) == {"lp", "ts"}


def test_profile_add_validates_and_refuses_secrets(store):
    secret = run_cli("profile", "add", "ts", "--broker", "tradestation", "--set",
                     "refresh_token=abcdefgh")
    assert secret.returncode == 3 and "secrets never go in the config file" in secret.stderr
    assert "abcdefgh" not in secret.stderr
    assert not store.exists()
    bad = run_cli("profile", "add", "ts", "--broker", "tradestation", "--set", "api=v9")
    assert bad.returncode == 3 and "must be one of v3, v2" in bad.stderr
    http = run_cli("profile", "add", "e", "--broker", "etna", "--set",
                   "base_url=http://etna.example/api")
    assert http.returncode == 3 and "https://" in http.stderr
    assert run_cli("profile", "add", "e", "--broker", "etna", "--set",
                   "base_url=https://etna.example/api").returncode == 0
    again = run_cli("profile", "add", "e", "--broker", "etna", "--set",
                    "base_url=https://other.example/api")
    assert again.returncode == 3 and "--replace" in again.stderr
    replaced = run_cli("profile", "add", "e", "--broker", "etna", "--replace", "--set",
                       "base_url=https://other.example/api")
    assert replaced.returncode == 0
    assert tomllib.loads(store.read_text())["profiles"]["e"]["base_url"] == \
        "https://other.example/api"


def test_profile_remove_unknown(store):
    store.write_text('[profiles.a]\nbroker = "etna"\nbase_url = "https://e.example/api"\n')
    result = run_cli("profile", "remove", "b")
    assert result.returncode == 3
    assert result.stderr.startswith("error: b: unknown profile (profiles in "), result.stderr
    close = run_cli("profile", "remove", "aa")
    assert close.returncode == 3 and "unknown profile; did you mean 'a'?" in close.stderr


def test_dump_round_trips():
    from balancecli.cli.commands.profile import dump

    data = {"top": 1, "profiles": {"a b": {"broker": "etna", "x": [1, 2], "q": 'say "hi"\n',
                                           "f": 0.5, "t": True}}}
    assert tomllib.loads(dump(data)) == data


def test_tradestation_revoke_url_is_derived_from_the_token_url():
    from balancecli.brokers.longport.broker import LongPort
    from balancecli.brokers.tradestation.broker import TradeStation

    p = TradeStation.oauth_client({}, lambda f: None)
    assert (p.authorize_url, p.token_url, p.revoke_url, p.redirect_port) == (
        "https://signin.tradestation.com/authorize",
        "https://signin.tradestation.com/oauth/token",
        "https://signin.tradestation.com/oauth/revoke", 31022)
    assert p.has_client_secret and p.revoke_warning and "ALL refresh tokens" in p.revoke_warning
    lp = LongPort.oauth_client({"auth": "oauth", "region": "cn"}, lambda f: None)
    assert lp is not None
    assert lp.authorize_url == "https://openapi.longbridge.cn/oauth2/authorize"
    assert (lp.revoke_url, lp.redirect_port, lp.redirect_path, lp.has_client_secret) == (
        "https://openapi.longbridge.cn/oauth2/revoke", 60355, "/callback", False)
    assert LongPort.oauth_client({"auth": "apikey"}, lambda f: None) is None


# -- no keyring: export lines ---------------------------------------------------------------


@pytest.fixture
def etna(store):
    from balancecli.demo.etna import FakeEtna

    fake = FakeEtna().start()
    write_config(store, {"etna": {"broker": "etna", "base_url": fake.url + "/api", **FAST}})
    yield fake
    fake.stop()


def _etna_fields() -> str:
    from balancecli.demo.etna import DEMO_APP_KEY, DEMO_PASSWORD, DEMO_USERNAME

    return json.dumps({"app_key": DEMO_APP_KEY, "username": DEMO_USERNAME,
                       "password": DEMO_PASSWORD})


def test_without_a_keyring_login_says_how_to_write_the_file_instead(etna, monkeypatch,
                                                                     isolated):
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    result = run_cli("auth", "login", "etna", "--with-token", input=_etna_fields())
    assert (result.returncode, result.stdout) == (4, "")
    path = isolated / "config" / "balancecli" / "etna.env"
    assert result.stderr.endswith(
        f"; nothing was asked or stored — run: balancecli auth login etna --output {path} "
        "(export lines in a file only you can read)\n")
    assert etna.calls("/api/token") == []


def test_print_env_prints_the_lines_on_stdout_only_and_stores_nothing(etna):
    from balancecli.demo.etna import DEMO_PASSWORD

    result = run_cli("auth", "login", "etna", "--with-token", "--print-env",
                     input=_etna_fields())
    assert result.returncode == 0, result.stderr
    names = ["BALANCECLI_ETNA_APP_KEY", "BALANCECLI_ETNA_USERNAME", "BALANCECLI_ETNA_PASSWORD"]
    assert [line.split("=", 1)[0] for line in result.stdout.splitlines()] == [
        f"export {name}" for name in names]
    assert DEMO_PASSWORD in result.stdout and DEMO_PASSWORD not in result.stderr
    assert item("etna") == {}


def test_output_writes_a_private_file_that_a_cron_job_can_source(etna, tmp_path):
    from balancecli.demo.etna import DEMO_PASSWORD
    from tests.support.cli import balancecli_exe

    path = tmp_path / "secrets" / "balancecli.env"
    result = run_cli("auth", "login", "etna", "--with-token", "--output", str(path),
                     input=_etna_fields())
    assert result.returncode == 0, result.stderr
    assert result.stdout == "" and DEMO_PASSWORD not in result.stderr
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert item("etna") == {}
    cron = subprocess.run(["sh", "-c", f". {path} && exec {balancecli_exe()} accounts -q"],
                          capture_output=True, text=True, timeout=60,
                          env={"PATH": os.environ["PATH"], "HOME": str(tmp_path),
                               "BALANCECLI_CONFIG": os.environ["BALANCECLI_CONFIG"]})
    assert cron.returncode == 0, cron.stderr
    assert "83267" in cron.stdout
