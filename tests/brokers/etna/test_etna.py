"""ETNA Trader: mapping, token caching, 2FA and error shapes, against FakeEtna over real sockets."""

from __future__ import annotations

import json
import os
import re
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import keyring
import pytest
from keyrings.alt.file import PlaintextKeyring

from balancecli.brokers.etna import APP_KEY_REJECTED, Etna
from balancecli.config import validate_profile
from balancecli.core.errors import (
    AuthError,
    BadResponseError,
    BalanceCliError,
    BrokerError,
    UnavailableError,
)
from balancecli.credentials import Keyring, Secrets
from balancecli.demo.etna import (
    DEMO_APP_KEY,
    DEMO_PASSWORD,
    DEMO_USERNAME,
    UNAUTHORIZED,
    USERS,
    FakeEtna,
)
from balancecli.service.fetch import Options, make_context
from tests.support.config import make_ctx

CREDS = {"APP_KEY": DEMO_APP_KEY, "USERNAME": DEMO_USERNAME, "PASSWORD": DEMO_PASSWORD}
SECRET_VALUES = [DEMO_APP_KEY, DEMO_PASSWORD] + [u["password"] for u in USERS.values()]
STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


@pytest.fixture
def fake():
    with FakeEtna() as server:
        yield server


def settings(fake: FakeEtna, **extra) -> dict:
    return {"broker": "etna", "base_url": fake.url + "/api", "max_retries": 0,
            "retry_backoff": 0.01, "timeout": 5, **extra}


def broker(fake: FakeEtna, secrets: dict | None = None, **options) -> Etna:
    extra = options.pop("settings", {})
    ctx = make_ctx("etna", settings(fake, **extra), CREDS if secrets is None else secrets,
                   **options)
    return Etna(ctx)


def assert_clean(fake: FakeEtna, *texts: str) -> None:
    """No password, app key, token or interim token in anything shown to a user."""
    values = SECRET_VALUES + list(fake.tokens) + list(fake.interim)
    for text in texts:
        for value in values:
            assert value not in text


def shown(error: BalanceCliError) -> str:
    return " | ".join(str(x) for x in (error, error.message, error.next_step, error.as_dict()))


# -- mapping


def test_accounts_mapping(fake):
    accounts = broker(fake).accounts()
    # Type and status in the words every broker uses (a MarginIra account is a margin
    # account, Enabled false is inactive); ETNA's own words stay in extra.
    assert [(a.account_id, a.name, a.type, a.status, a.currency) for a in accounts] == [
        ("83267", "83267", "margin", "active", "USD"),
        ("83268", "Swing IRA", "margin", "active", "USD"),
        ("83269", "5HT05213", "cash", "inactive", "USD"),
    ]
    first, second, third = accounts
    assert (first.profile, first.broker) == ("etna", "etna")
    # Owners (names, logins, e-mails) is personal data: never in extra.
    assert first.extra == {
        "Enabled": True, "AccessType": "Owner", "OwnerType": "IndividualCustomer",
        "ClearingFirm": "PaperTrading", "MarginType": "Margin", "IsAverageAccount": False,
    }
    # The alias names it; the clearing account number stays visible in extra.
    assert second.extra == {"ClearingAccount": "5HT05212", "Enabled": True, "AccessType": "Full",
                            "ClearingFirm": "PaperTrading", "MarginType": "MarginIra"}
    # An empty alias is no name: the clearing account number is used.
    assert third.extra == {"Alias": "", "Enabled": False, "AccessType": "ReadOnly",
                           "MarginType": "Cash"}


def test_seed_example_every_field(fake):
    etna = broker(fake)
    accounts = etna.accounts()
    before = datetime.now(UTC).replace(microsecond=0)
    result = etna.balances(accounts[:1])
    after = datetime.now(UTC)
    assert result.errors == []
    [row] = result.rows
    assert (row.profile, row.broker, row.account_id, row.account_name, row.account_type,
            row.currency) == ("etna", "etna", "83267", "83267", "margin", "USD")
    assert row.cash == Decimal("100000")
    assert row.withdrawable == Decimal("100000")
    assert row.buying_power == Decimal("100000")
    assert row.equity == Decimal("100000")
    assert row.market_value == Decimal("0")
    assert row.maintenance_margin == Decimal("0")
    assert row.unrealized_pnl == Decimal("0")
    assert row.realized_pnl == Decimal("0")
    assert row.available is None and row.initial_margin is None  # ETNA sends neither
    assert STAMP.match(row.as_of)
    as_of = datetime.strptime(row.as_of, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert before <= as_of <= after
    assert row.extra == {
        "netCash": 100000, "changeAbsolute": 0, "changePercent": 0, "pendingOrdersCount": 0,
        "netLiquidity": 0, "stockLongMarketValue": 0, "stockShortMarketValue": 0,
        "optionLongMarketValue": 0, "optionShortMarketValue": 0, "forexLongMarketValue": 0,
        "forexShortMarketValue": 0, "dayTrades": 0, "optionBuyingPower": 100000,
        "forexBuyingPower": 100000, "dayTradingBuyingPower": 400000, "pendingCash": 0,
        "optionMaintenanceMargin": 0, "openPLDay": 0, "openPLPercent": 0, "totalPL": 0,
    }


def test_long_decimals_negative_cash_and_missing_keys(fake):
    etna = broker(fake)
    result = etna.balances(etna.accounts())
    assert result.errors == []
    rows = {r.account_id: r for r in result.rows}
    ira = rows["83268"]
    assert ira.cash == Decimal("-1520.37")
    assert str(ira.equity) == "1176224.18600000000000000000"
    assert str(ira.unrealized_pnl) == "19638.14545186560000000000"
    assert ira.withdrawable == Decimal("8811.02")
    assert ira.buying_power == Decimal("17622.04")
    assert ira.market_value == Decimal("1177744.556")
    assert ira.maintenance_margin == Decimal("353323.3668")
    assert ira.realized_pnl == Decimal("-125.4")
    assert str(ira.extra["changePercent"]) == "-0.05700775140829844330933239"
    assert str(ira.extra["totalPL"]) == "19512.74545186560000000000"
    cash = rows["83269"]
    assert (cash.account_name, cash.account_type) == ("5HT05213", "cash")
    assert cash.cash == Decimal("2500.5") and cash.equity == Decimal("2500.5")
    for name in ("withdrawable", "buying_power", "market_value", "maintenance_margin",
                 "unrealized_pnl", "realized_pnl", "available", "initial_margin"):
        assert getattr(cash, name) is None, name
    assert cash.extra == {"netCash": Decimal("2500.5"), "pendingOrdersCount": 0, "dayTrades": 0}


def test_assets_one_row_per_account(fake):
    etna = broker(fake)
    result = etna.assets(etna.accounts())
    assert result.errors == []
    assert [(a.account_id, a.asset, a.total) for a in result.rows] == [
        ("83267", "USD", Decimal("100000")),
        ("83268", "USD", Decimal("-1520.37")),
        ("83269", "USD", Decimal("2500.5")),
    ]
    assert all(a.available is None and a.reserved is None for a in result.rows)


def test_currency_and_api_version_settings(fake):
    etna = broker(fake, settings={"currency": "eur", "api_version": "1.0"})
    accounts = etna.accounts()
    assert {a.currency for a in accounts} == {"EUR"}
    assert {r.currency for r in etna.balances(accounts).rows} == {"EUR"}
    assert {r.asset for r in etna.assets(accounts).rows} == {"EUR"}
    # --currency USD on an EUR profile: nothing to show, nothing fetched.
    calls = len(fake.calls("/info"))
    filtered = broker(fake, currency="USD", settings={"currency": "EUR"})
    assert filtered.balances(accounts).rows == []
    assert len(fake.calls("/info")) == calls


def test_base_url_required_and_validated():
    from balancecli.core.errors import ConfigError

    with pytest.raises(ConfigError, match="missing setting 'base_url'"):
        validate_profile("e", {"broker": "etna"})
    with pytest.raises(ConfigError, match="https"):
        validate_profile("e", {"broker": "etna", "base_url": "http://etna.example.com/api"})
    prof = validate_profile("e", {"broker": "etna", "base_url": "https://h.example/api"})
    assert (prof.settings["api_version"], prof.settings["currency"]) == ("1.0", "USD")
    assert Etna.secret_fields(prof.settings) == ("APP_KEY", "USERNAME", "PASSWORD")
    assert Etna.optional_secret_fields(prof.settings) == ("TOKEN", "TOKEN_EXPIRES_AT")


def test_balances_fetched_concurrently(fake):
    etna = broker(fake)
    accounts = etna.accounts()  # logs in too
    fake.latency = 0.15
    started = time.monotonic()
    result = etna.balances(accounts)
    elapsed = time.monotonic() - started
    fake.latency = 0
    assert len(result.rows) == 3
    assert elapsed < 0.4, elapsed  # three /info calls at 0.15 s each, in parallel


# -- login and tokens


def test_login_sends_credentials_in_headers_and_app_key_everywhere(fake):
    etna = broker(fake)
    etna.balances(etna.accounts())
    [login] = fake.calls("/api/token", "POST")
    assert login.header("Et-App-Key") == DEMO_APP_KEY
    assert login.header("Username") == DEMO_USERNAME
    assert login.header("Password") == DEMO_PASSWORD
    assert login.header("Content-Length") == "0" and login.body == b""
    assert login.query == ""
    [token] = fake.tokens
    data = fake.calls("/api/v1.0/")
    assert [r.path for r in data[:1]] == ["/api/v1.0/users/@me/accounts"]
    assert len(data) == 4
    for request in data:
        assert request.header("Et-App-Key") == DEMO_APP_KEY
        assert request.header("Authorization") == f"Bearer {token}"
        assert request.header("Password") is None
    assert fake.logins == 1


def keyring_ctx(fake: FakeEtna, **options):
    prof = validate_profile("etna", settings(fake))
    secrets = Secrets("etna", Etna.secret_fields(prof.settings), env={}, keyring=Keyring())
    return make_context(prof, Options(**options), secrets)


@pytest.fixture
def plaintext_keyring(monkeypatch):
    # Chosen explicitly (a plaintext file is never picked silently); the file lives in the
    # test's XDG_DATA_HOME.
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyrings.alt.file.PlaintextKeyring")
    keyring.set_keyring(PlaintextKeyring())
    Keyring().save("etna", {k.lower(): v for k, v in CREDS.items()})
    return Keyring()


def test_token_cached_in_keyring_across_runs(fake, plaintext_keyring):
    first = Etna(keyring_ctx(fake))
    assert len(first.balances(first.accounts()).rows) == 3
    assert fake.logins == 1
    item = plaintext_keyring.load("etna")
    assert item["token"] in fake.tokens
    assert abs(item["token_expires_at"] - (time.time() + 86400)) < 60
    assert item["password"] == DEMO_PASSWORD  # the rest of the item is kept
    assert (Path(os.environ["XDG_DATA_HOME"]) / "python_keyring" / "keyring_pass.cfg").exists()

    second = Etna(keyring_ctx(fake))  # a new run: new Secrets, new HTTP client
    assert len(second.balances(second.accounts()).rows) == 3
    assert fake.logins == 1
    assert len(fake.calls("/api/token")) == 1


def test_expired_cached_token_means_one_fresh_login(fake, plaintext_keyring):
    old = fake.issue()
    plaintext_keyring.save("etna", {**plaintext_keyring.load("etna"), "token": old,
                                    "token_expires_at": int(time.time()) - 10})
    etna = Etna(keyring_ctx(fake))
    assert len(etna.balances(etna.accounts()).rows) == 3
    assert fake.logins == 1
    # The client knew the token had expired: no data call was tried with it.
    assert not [r for r in fake.requests if r.bearer() == old]
    item = plaintext_keyring.load("etna")
    assert item["token"] != old and item["token"] in fake.tokens
    assert item["token_expires_at"] > time.time() + 86000


def test_cached_token_without_expiry_is_used(fake):
    token = fake.issue()
    etna = broker(fake, {**CREDS, "TOKEN": token})
    assert len(etna.accounts()) == 3
    assert fake.logins == 0


def test_401_on_data_call_one_relogin_then_success(fake):
    etna = broker(fake, {**CREDS, "TOKEN": fake.issue()})  # a cached token: no login yet
    accounts = etna.accounts()
    assert fake.logins == 0
    fake.expire_all()  # the server forgets the token the client still believes in
    result = etna.balances(accounts)
    assert len(result.rows) == 3 and result.errors == []
    # Three accounts got 401 concurrently; they shared one fresh login.
    assert fake.logins == 1


def test_401_after_relogin_is_an_auth_error(fake):
    fake.inject("status", "/users/@me/accounts", times=2, status=401, body=UNAUTHORIZED)
    with pytest.raises(AuthError) as info:
        broker(fake, {**CREDS, "TOKEN": fake.issue()}).accounts()
    assert info.value.exit_code == 4 and info.value.http_status == 401
    assert "Authorization has been denied for this request." in info.value.message
    assert fake.logins == 1  # exactly one login
    assert_clean(fake, shown(info.value))


def test_a_401_after_the_runs_login_is_an_auth_error_without_another_login(fake):
    etna = broker(fake)
    accounts = etna.accounts()
    assert fake.logins == 1
    fake.expire_all()  # the token of this run's login is refused: no second login
    with pytest.raises(AuthError) as info:
        etna.balances(accounts)
    assert info.value.http_status == 401 and fake.logins == 1
    assert "ETNA rejected a fresh token for the balance" in info.value.message


def test_a_401_storm_over_60_accounts_costs_one_login(fake):
    info = fake.infos["83267"]
    fake.accounts = [{**fake.accounts[0], "Id": 100000 + i, "ClearingAccount": str(100000 + i)}
                     for i in range(60)]
    fake.infos = {str(100000 + i): info for i in range(60)}
    fake.inject("status", "/info$", times=10**6, status=401, body=UNAUTHORIZED)
    etna = broker(fake, {**CREDS, "TOKEN": fake.issue()})
    accounts = etna.accounts()
    assert len(accounts) == 60 and fake.logins == 0
    with pytest.raises(AuthError) as error:
        etna.balances(accounts)
    assert error.value.message == ("ETNA rejected a fresh token for the balance "
                                   "(Authorization has been denied for this request.)")
    assert fake.logins == 1 and len(fake.calls("/api/token", "POST")) == 1
    assert len(fake.calls("/info$")) <= 2 * etna.ctx.max_workers  # then nothing more was sent


@pytest.mark.parametrize("token", ["etna-1\r\nX: y", "etna-2 3", "etna-3\u0000"])
def test_a_login_answer_with_an_unsendable_token_is_refused(fake, token):
    fake.inject("body", "/api/token$", method="POST",
                body=json.dumps({"State": "Succeeded", "Token": token}))
    etna = broker(fake)
    with pytest.raises(AuthError) as error:
        etna.accounts()
    assert error.value.message.startswith("the token endpoint answered a token with ")
    assert "etna-" not in error.value.message
    assert fake.calls("/api/v1.0/") == [] and etna.ctx.secrets.get("TOKEN") is None


def test_forced_refresh_logs_in(fake):
    token = fake.issue()
    etna = broker(fake, {**CREDS, "TOKEN": token,
                         "TOKEN_EXPIRES_AT": str(int(time.time()) + 3600)})
    etna.refresh()
    assert fake.logins == 1
    assert etna.ctx.secrets.get("TOKEN") not in (None, token)


def test_wrong_password(fake):
    with pytest.raises(AuthError) as info:
        broker(fake, {**CREDS, "PASSWORD": "not-the-password-9"}).accounts()
    error = info.value
    assert error.exit_code == 4 and error.kind == "auth"
    assert error.message == "ETNA login failed: Invalid credentials"
    assert "PASSWORD" in error.next_step
    assert "not-the-password-9" not in shown(error)
    assert_clean(fake, shown(error))


def test_missing_password(fake):
    with pytest.raises(AuthError, match="missing credential PASSWORD") as info:
        broker(fake, {"APP_KEY": DEMO_APP_KEY, "USERNAME": DEMO_USERNAME}).accounts()
    assert "BALANCECLI_ETNA_PASSWORD" in info.value.next_step


@pytest.mark.parametrize("cached", [False, True])
def test_bad_app_key(fake, cached):
    creds = {**CREDS, "APP_KEY": "wrong-app-key-123"}
    if cached:  # a valid token does not help: the key is checked on every call
        creds["TOKEN"] = fake.issue()
    with pytest.raises(AuthError) as info:
        broker(fake, creds).accounts()
    assert info.value.message == APP_KEY_REJECTED
    assert info.value.http_status == 403 and info.value.exit_code == 4
    assert "wrong-app-key-123" not in shown(info.value)
    assert fake.logins == 0


# -- second factor


@pytest.mark.parametrize("interactive", [False, True])
def test_second_factor_without_terminal_fails_clearly(fake, interactive):
    creds = {"APP_KEY": DEMO_APP_KEY, "USERNAME": "demo2fa",
             "PASSWORD": USERS["demo2fa"]["password"]}
    # interactive=True without a prompt callable is no terminal either.
    with pytest.raises(AuthError) as info:
        broker(fake, creds, interactive=interactive).accounts()
    error = info.value
    assert error.exit_code == 4
    assert error.message == (
        "ETNA asks for a second factor (a verification code), which cannot be entered "
        "without a terminal (as under cron)"
    )
    assert error.next_step == ("run at a terminal: balancecli auth refresh etna "
                               "(the token it stores lasts 24 h)")
    assert fake.logins == 0 and len(fake.calls("/api/token")) == 1
    assert_clean(fake, shown(error))


@pytest.mark.parametrize("user,header", [("demo2fa", "VerificationCode"),
                                         ("demopin", "PinCode")])
def test_second_factor_prompted(fake, user, header):
    prompts: list[str] = []

    def prompt(text: str) -> str:
        prompts.append(text)
        return USERS[user]["code"]

    creds = {"APP_KEY": DEMO_APP_KEY, "USERNAME": user, "PASSWORD": USERS[user]["password"]}
    etna = broker(fake, creds, interactive=True, prompt=prompt)
    assert len(etna.balances(etna.accounts()).rows) == 3
    assert fake.logins == 1 and len(prompts) == 1
    assert ("PIN code" if header == "PinCode" else "verification code") in prompts[0]
    first, second = fake.calls("/api/token")
    assert first.header(header) is None and first.header("Authorization") is None
    assert second.header(header) == USERS[user]["code"]
    assert second.bearer() and second.bearer().startswith("etna-2fa-")
    assert second.header("Username") == user and second.header("Et-App-Key") == DEMO_APP_KEY
    assert etna.ctx.secrets.get("TOKEN") in fake.tokens


def test_second_factor_wrong_code(fake):
    creds = {"APP_KEY": DEMO_APP_KEY, "USERNAME": "demo2fa",
             "PASSWORD": USERS["demo2fa"]["password"]}
    with pytest.raises(AuthError) as info:
        broker(fake, creds, interactive=True, prompt=lambda text: "000000").accounts()
    assert info.value.message == "ETNA login failed: Invalid verification code"
    assert "auth refresh" in info.value.next_step
    assert fake.logins == 0


# -- errors


@pytest.mark.parametrize("shape,kind,message", [
    ("error", AuthError, APP_KEY_REJECTED),
    ("Message", BrokerError, "ETNA account list: No HTTP resource was found that matches the "
     "request URI 'https://pub-api-trader-demo-prod.etnasoft.us/api/v1.0/x'. (HTTP 404)"),
    ("Errors", BrokerError,
     "ETNA account list: Value cannot be null. Parameter name: user (HTTP 422)"),
    ("Reason", BrokerError, "ETNA account list: Invalid credentials (HTTP 400)"),
])
def test_error_body_shapes_become_one_line(fake, shape, kind, message):
    fake.fail_with(shape, "/users/@me/accounts")
    with pytest.raises(kind) as info:
        broker(fake).accounts()
    assert type(info.value) is kind
    assert info.value.message == message
    assert "\n" not in info.value.message and "\r" not in info.value.message
    assert_clean(fake, shown(info.value))


def test_errors_envelope_with_http_200(fake):
    fake.inject("body", "/users/@me/accounts", body={
        "Model": None, "Errors": ["Account is locked"], "StatusCode": 422, "IsSucceed": False})
    with pytest.raises(BrokerError) as info:
        broker(fake).accounts()
    assert info.value.message == "ETNA account list: Account is locked (HTTP 422)"


def test_statuses_map_to_kinds(fake):
    fake.inject("status", "/users/@me/accounts", status=503, body={"Message": "down"})
    with pytest.raises(UnavailableError) as info:
        broker(fake).accounts()
    assert info.value.exit_code == 5 and info.value.http_status == 503
    fake.inject("status", "/users/@me/accounts", status=501, body={"Message": "Not here"})
    with pytest.raises(UnavailableError, match=r"^ETNA account list: Not here \(HTTP 501\)$"):
        broker(fake).accounts()
    fake.inject("html", "/users/@me/accounts", status=404)
    with pytest.raises(BrokerError, match=r"an HTML page instead of JSON \(HTTP 404\)$"):
        broker(fake).accounts()
    fake.inject("body", "/users/@me/accounts", body="<html>proxy</html>")
    with pytest.raises(BadResponseError, match="not valid JSON"):
        broker(fake).accounts()
    fake.inject("body", "/users/@me/accounts", body='{"cash": NaN}')
    with pytest.raises(BadResponseError):
        broker(fake).accounts()
    fake.inject("body", "/users/@me/accounts", body={"Id": 1})
    with pytest.raises(BadResponseError, match="not a JSON array"):
        broker(fake).accounts()
    fake.inject("body", "/api/token", body="Succeeded")
    with pytest.raises(BadResponseError):
        broker(fake).accounts()


def test_wrong_types_in_balance_fail_that_account(fake):
    etna = broker(fake)
    accounts = etna.accounts()
    fake.inject("body", "/accounts/83268/info", body={"cash": "lots", "equityTotal": 5})
    result = etna.balances(accounts)
    assert [r.account_id for r in result.rows] == ["83267", "83269"]
    [error] = result.errors
    assert (error.kind, error.account_id, error.profile, error.broker) == (
        "bad_response", "83268", "etna", "etna")
    assert error.message == "cash is not a number: 'lots'"


@pytest.mark.parametrize("status,kind,message", [
    (500, "unavailable", r"answered HTTP 500"),
    (404, "broker_error", r"^ETNA balance: Account 83268 was not found\. \(HTTP 404\)$"),
])
def test_partial_result_one_account_failing(fake, status, kind, message):
    fake.fail_info["83268"] = status
    etna = broker(fake)
    accounts = etna.accounts()
    for result in (etna.balances(accounts), etna.assets(accounts)):
        assert [r.account_id for r in result.rows] == ["83267", "83269"]
        [error] = result.errors
        assert (error.kind, error.account_id, error.http_status) == (kind, "83268", status)
        assert re.search(message, error.message)
        assert_clean(fake, shown(error))
    assert fake.logins == 1


# -- the command line (the installed console script, as a subprocess)


def test_cli_demo_balance_json():
    from tests.support.cli import run_cli

    proc = run_cli("--demo", "balance", "-p", "demo-etna", "-f", "json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout, parse_float=Decimal)
    assert doc["schema"] == "balancecli.balance/1" and doc["errors"] == []
    rows = {r["account_id"]: r for r in doc["balances"]}
    assert list(rows) == ["83267", "83268", "83269"]
    seed = rows["83267"]
    assert {k: seed[k] for k in ("profile", "broker", "account_name", "account_type", "currency",
                                 "cash", "available", "withdrawable", "buying_power", "equity",
                                 "market_value", "initial_margin", "maintenance_margin",
                                 "unrealized_pnl", "realized_pnl")} == {
        "profile": "demo-etna", "broker": "etna", "account_name": "83267",
        "account_type": "margin", "currency": "USD", "cash": 100000, "available": None,
        "withdrawable": 100000, "buying_power": 100000, "equity": 100000, "market_value": 0,
        "initial_margin": None, "maintenance_margin": 0, "unrealized_pnl": 0, "realized_pnl": 0,
    }
    assert STAMP.match(seed["as_of"])
    ira = rows["83268"]
    assert ira["cash"] == Decimal("-1520.37")
    # Written digit for digit, as JSON numbers.
    assert '"equity": 1176224.18600000000000000000' in proc.stdout
    assert '"unrealized_pnl": 19638.14545186560000000000' in proc.stdout
    assert '"changePercent": -0.05700775140829844330933239' in proc.stdout
    assert rows["83269"]["buying_power"] is None and rows["83269"]["market_value"] is None
    assert DEMO_PASSWORD not in proc.stdout + proc.stderr
    assert DEMO_APP_KEY not in proc.stdout + proc.stderr


def cli_config(tmp_path, fake: FakeEtna, name: str = "my-etna") -> str:
    path = tmp_path / "config.toml"
    path.write_text(
        f'[profiles.{name}]\nbroker = "etna"\nbase_url = "{fake.url}/api"\n'
        'max_retries = 0\nretry_backoff = 0.01\ntimeout = 5\n'
    )
    return str(path)


def cli_env(username: str = DEMO_USERNAME, password: str = DEMO_PASSWORD) -> dict:
    return {"BALANCECLI_MY_ETNA_APP_KEY": DEMO_APP_KEY, "BALANCECLI_MY_ETNA_USERNAME": username,
            "BALANCECLI_MY_ETNA_PASSWORD": password}


def test_cli_config_profile_with_env_secrets(tmp_path, fake):
    from tests.support.cli import run_cli

    proc = run_cli("-v", "balance", "-p", "my-etna", "-f", "json",
                   "--config", cli_config(tmp_path, fake), env=cli_env())
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout, parse_float=Decimal)
    assert [(r["account_id"], r["cash"]) for r in doc["balances"]] == [
        ("83267", Decimal("100000")), ("83268", Decimal("-1520.37")),
        ("83269", Decimal("2500.5"))]
    assert fake.logins == 1
    # -v shows each request; the environment supplies every field, so the keyring is not
    # opened and the session token lives for this run, without a word.
    assert re.search(r"my-etna: POST http://127\.0\.0\.1:\d+/api/token -> 200", proc.stderr)
    assert "warning" not in proc.stderr and "keyring" not in proc.stderr
    assert_clean(fake, proc.stdout, proc.stderr)
    login = fake.calls("/api/token")[0]
    assert login.header("Password") == DEMO_PASSWORD  # the env secret was really used


def test_cli_partial_result_exit_7(tmp_path, fake):
    from tests.support.cli import run_cli

    fake.fail_info["83268"] = 404
    proc = run_cli("assets", "-p", "my-etna", "-f", "json",
                   "--config", cli_config(tmp_path, fake), env=cli_env())
    assert proc.returncode == 7, proc.stderr
    doc = json.loads(proc.stdout, parse_float=Decimal)
    assert [(a["account_id"], a["asset"], a["total"]) for a in doc["assets"]] == [
        ("83267", "USD", Decimal("100000")), ("83269", "USD", Decimal("2500.5"))]
    assert [(e["account_id"], e["kind"], e["http_status"]) for e in doc["errors"]] == [
        ("83268", "broker_error", 404)]
    assert "error: my-etna account 83268: ETNA balance: Account 83268 was not found. " \
           "(HTTP 404)" in proc.stderr
    assert_clean(fake, proc.stdout, proc.stderr)


def test_cli_second_factor_under_cron_exit_4(tmp_path, fake):
    from tests.support.cli import run_cli

    password = USERS["demo2fa"]["password"]
    config = cli_config(tmp_path, fake)
    proc = run_cli("-v", "balance", "-p", "my-etna", "--config", config,
                   env=cli_env("demo2fa", password), input="")
    assert proc.returncode == 4, proc.stderr
    assert proc.stdout == ""
    [line] = [x for x in proc.stderr.splitlines() if x.startswith("error:")]
    assert "ETNA asks for a second factor (a verification code), which cannot be entered " \
           "without a terminal" in line
    assert f"balancecli --config {config} auth refresh my-etna" in line  # as it was run
    assert fake.logins == 0
    assert_clean(fake, proc.stdout, proc.stderr)


def test_cli_wrong_password_exit_4(tmp_path, fake):
    from tests.support.cli import run_cli

    proc = run_cli("-v", "accounts", "-p", "my-etna", "--config", cli_config(tmp_path, fake),
                   env=cli_env(password="Wrong-Passw0rd!"))
    assert proc.returncode == 4, proc.stderr
    assert "ETNA login failed: Invalid credentials" in proc.stderr
    assert "Wrong-Passw0rd!" not in proc.stdout + proc.stderr
    assert_clean(fake, proc.stdout, proc.stderr)
