"""``balancecli doctor``: per profile, whether it will work and why not, against the demo and
against fake brokers with faults, through the installed command.
"""

from __future__ import annotations

import json
import socket
import time
from datetime import UTC, datetime, timedelta
from email.utils import formatdate

import pytest

from balancecli.demo.longport import DEMO_ACCESS_TOKEN, DEMO_APP_KEY, DEMO_APP_SECRET, FakeLongPort
from balancecli.demo.tradestation import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET
from tests.support.cli import run_cli
from tests.support.config import FAST, write_config

DEMO_CHECKS = {
    "demo-ts": ["config", "keyring", "secret ACCESS_TOKEN", "secret REFRESH_TOKEN",
                "secret CLIENT_ID", "secret CLIENT_SECRET", "token expiry", "request", "clock"],
    "demo-lp": ["config", "keyring", "secret APP_KEY", "secret APP_SECRET",
                "secret ACCESS_TOKEN", "token expiry", "request", "clock"],
    "demo-etna": ["config", "keyring", "secret APP_KEY", "secret USERNAME", "secret PASSWORD",
                  "secret TOKEN", "token expiry", "request", "clock"],
    "demo-qt": ["config", "keyring", "secret TOKEN", "request", "export age"],
}


def doc(proc) -> dict:
    return json.loads(proc.stdout)


def checks(profile: dict) -> dict[str, dict]:
    return {c["name"]: c for c in profile["checks"]}


def config_env(tmp_path, profiles: dict, **env: str) -> dict[str, str]:
    path = write_config(tmp_path / "config.toml", profiles)
    return {"BALANCECLI_CONFIG": str(path), **env}


# -- the demo ----------------------------------------------------------------------------------


def test_demo_every_check_passes():
    proc = run_cli("--demo", "doctor", "-f", "json")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    document = doc(proc)
    assert document["schema"] == "balancecli.doctor/1"
    assert set(document) == {"schema", "profiles"}
    assert [p["profile"] for p in document["profiles"]] == list(DEMO_CHECKS)
    for profile in document["profiles"]:
        assert set(profile) == {"profile", "broker", "ok", "checks"}
        assert profile["ok"] is True
        assert [c["name"] for c in profile["checks"]] == DEMO_CHECKS[profile["profile"]]
        for check in profile["checks"]:
            assert set(check) == {"name", "ok", "detail"} and check["ok"] is True
        found = checks(profile)
        assert found["keyring"]["detail"] == "not used: --demo brings its own secrets"
    lp = checks(document["profiles"][1])
    assert lp["secret APP_SECRET"]["detail"] == "from demo"
    assert lp["request"]["detail"].startswith("1 account(s) in ")
    assert lp["request"]["detail"].endswith(" ms (1 HTTP request(s))")
    assert lp["clock"]["detail"] == "this machine's clock agrees with the broker's (within 2 s)"
    ts = checks(document["profiles"][0])
    assert ts["secret ACCESS_TOKEN"]["detail"] == (
        "not stored yet: the next run gets one with the refresh token")
    assert ts["token expiry"]["detail"].startswith("no token stored yet; this check got a new "
                                                   "one, valid until 20")
    qt = checks(document["profiles"][3])
    assert qt["export age"]["detail"].endswith("max_age 600 s)")
    for secret in (DEMO_APP_SECRET, DEMO_ACCESS_TOKEN, DEMO_CLIENT_SECRET):
        assert secret not in proc.stdout


def test_demo_table_one_line_per_check():
    proc = run_cli("--demo", "doctor", "-p", "demo-qt", "-p", "demo-lp")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].split() == ["Profile", "Broker", "Check", "Result", "Detail"]
    rows = [line for line in lines[2:] if line.strip()]
    assert rows[0].split()[:5] == ["demo-qt", "quantower", "config", "ok", "valid;"]
    assert len(rows) == len(DEMO_CHECKS["demo-qt"]) + len(DEMO_CHECKS["demo-lp"])
    assert all(" ok " in row for row in rows) and "FAIL" not in proc.stdout
    assert rows[5].split()[:3] == ["demo-lp", "longport", "config"]  # the order asked for


# -- fakes, working and broken -----------------------------------------------------------------


def ts_settings(fake) -> dict:
    return {"broker": "tradestation", "base_url": fake.url,
            "token_url": fake.url + "/oauth/token", **FAST}


def test_secrets_from_the_environment_need_no_keyring(tmp_path, ts_fake, ts_profile):
    settings, env = ts_profile
    proc = run_cli("doctor", "-f", "json", env=config_env(tmp_path, {"ts": settings}, **env))
    assert proc.returncode == 0, proc.stderr
    found = checks(doc(proc)["profiles"][0])
    assert found["keyring"] == {"name": "keyring", "ok": True, "detail":
                                "not needed: the environment supplies every required field"}
    assert found["secret ACCESS_TOKEN"]["detail"] == "from env BALANCECLI_TS_ACCESS_TOKEN"
    assert found["secret CLIENT_SECRET"]["detail"] == "from env BALANCECLI_TS_CLIENT_SECRET"
    assert found["request"]["detail"].startswith("3 account(s) in ")
    assert found["request"]["detail"].endswith("(1 HTTP request(s))")  # the token was valid
    for value in env.values():
        assert value not in proc.stdout and value not in proc.stderr


def test_a_refresh_token_in_the_environment_needs_no_keyring(tmp_path, ts_fake, ts_profile):
    # The cron setup: the environment holds the refresh token, no access token, and the
    # keyring is not usable (conftest's failing backend). Runs work (the first request
    # refreshes), so doctor must not call the keyring a failure: one rule, env_suffices.
    settings, env = ts_profile
    del env["BALANCECLI_TS_ACCESS_TOKEN"]
    env = config_env(tmp_path, {"ts": settings}, **env)
    assert run_cli("balance", "-f", "json", env=env).returncode == 0
    proc = run_cli("doctor", "-f", "json", env=env)
    assert proc.returncode == 0, proc.stderr
    found = checks(doc(proc)["profiles"][0])
    assert found["keyring"] == {"name": "keyring", "ok": True, "detail":
                                "not needed: the environment supplies every required field"}
    assert found["secret ACCESS_TOKEN"]["ok"] is True
    assert found["secret REFRESH_TOKEN"]["detail"] == "from env BALANCECLI_TS_REFRESH_TOKEN"
    assert found["request"]["ok"] is True


def test_a_rejected_token_is_an_auth_failure(tmp_path, ts_fake):
    env = config_env(tmp_path, {"ts": ts_settings(ts_fake)},
                     BALANCECLI_TS_ACCESS_TOKEN="ts-at-not-issued-0001",
                     BALANCECLI_TS_REFRESH_TOKEN="ts-rt-not-issued-0002",
                     BALANCECLI_TS_CLIENT_ID=DEMO_CLIENT_ID,
                     BALANCECLI_TS_CLIENT_SECRET=DEMO_CLIENT_SECRET)
    proc = run_cli("doctor", "-f", "json", env=env)
    assert proc.returncode == 4
    profile = doc(proc)["profiles"][0]
    assert profile["ok"] is False
    request = checks(profile)["request"]
    assert request["ok"] is False
    assert "refresh" in request["detail"].lower()
    assert [c["name"] for c in profile["checks"] if not c["ok"]] == ["request"]
    line, = proc.stderr.splitlines()
    assert line.startswith("error: ts: request: ")
    assert line.endswith("run: balancecli auth login ts")
    assert "not-issued" not in proc.stdout + proc.stderr


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_an_unreachable_broker_is_temporary(tmp_path):
    url = f"http://127.0.0.1:{free_port()}"
    env = config_env(tmp_path, {"lp": {"broker": "longport", "auth": "apikey", "base_url": url,
                                       **FAST}},
                     BALANCECLI_LP_APP_KEY=DEMO_APP_KEY, BALANCECLI_LP_APP_SECRET=DEMO_APP_SECRET,
                     BALANCECLI_LP_ACCESS_TOKEN=DEMO_ACCESS_TOKEN)
    started = time.monotonic()
    proc = run_cli("doctor", "-f", "json", env=env)
    assert time.monotonic() - started < 10
    assert proc.returncode == 5
    found = checks(doc(proc)["profiles"][0])
    assert found["request"]["ok"] is False
    assert found["request"]["detail"].startswith(
        f"could not connect to 127.0.0.1:{url.rsplit(':', 1)[1]} (connection refused)")
    assert "clock" not in found  # nothing answered: no clock to compare
    assert proc.stderr.startswith("error: lp: request: could not connect")


class SkewedLongPort(FakeLongPort):
    """LongPort whose clock is ``skew`` seconds ahead of this machine's."""

    skew = 0.0

    def _dispatch(self, h):
        h.date_time_string = lambda timestamp=None: formatdate(time.time() + self.skew,
                                                                usegmt=True)
        super()._dispatch(h)


@pytest.fixture
def skewed_lp():
    fake = SkewedLongPort().start()
    yield fake
    fake.stop()


def lp_env(tmp_path, fake) -> dict[str, str]:
    return config_env(tmp_path, {"lp": {"broker": "longport", "auth": "apikey",
                                        "base_url": fake.url, **FAST}},
                      BALANCECLI_LP_APP_KEY=DEMO_APP_KEY,
                      BALANCECLI_LP_APP_SECRET=DEMO_APP_SECRET,
                      BALANCECLI_LP_ACCESS_TOKEN=DEMO_ACCESS_TOKEN)


def test_a_skewed_broker_clock_is_reported(tmp_path, skewed_lp):
    skewed_lp.skew = 300.0
    proc = run_cli("doctor", "-f", "json", env=lp_env(tmp_path, skewed_lp))
    assert proc.returncode == 4
    profile = doc(proc)["profiles"][0]
    clock = checks(profile)["clock"]
    assert clock["ok"] is False
    assert clock["detail"].startswith("this machine's clock is 5 min behind the broker's (Date: ")
    assert clock["detail"].endswith("; more than 30 s breaks signed requests and token expiry")
    assert checks(profile)["request"]["ok"] is True
    assert proc.stderr.startswith("error: lp: clock: this machine's clock is 5 min behind")
    assert "synchronise the clock" in proc.stderr


def test_a_small_skew_is_shown_but_passes(tmp_path, skewed_lp):
    skewed_lp.skew = -12.0
    proc = run_cli("doctor", "-f", "json", env=lp_env(tmp_path, skewed_lp))
    assert proc.returncode == 0, proc.stderr
    clock = checks(doc(proc)["profiles"][0])["clock"]
    assert clock["ok"] is True
    assert clock["detail"].startswith("this machine's clock is 1") and "s ahead of the broker's" \
        in clock["detail"]


def test_an_expired_token_that_cannot_be_renewed(tmp_path, skewed_lp):
    env = {**lp_env(tmp_path, skewed_lp),
           "BALANCECLI_LP_ACCESS_TOKEN_EXPIRES_AT": "2020-01-02T03:04:05Z"}
    proc = run_cli("doctor", "-f", "json", env=env)
    assert proc.returncode == 4
    expiry = checks(doc(proc)["profiles"][0])["token expiry"]
    assert expiry["ok"] is False
    assert expiry["detail"].endswith("(2020-01-02T03:04:05Z) and cannot be renewed")
    assert "run: balancecli auth login lp" in proc.stderr


def stale_export(tmp_path, minutes: float) -> str:
    from balancecli.core.exactjson import dumps_exact
    from balancecli.demo.server import load_fixture

    export = load_fixture("quantower_export.json")
    when = datetime.now(UTC) - timedelta(minutes=minutes)
    export["GeneratedAt"] = when.strftime("%Y-%m-%dT%H:%M:%SZ")
    path = tmp_path / "export.json"
    path.write_text(dumps_exact(export))
    return str(path)


def test_a_stale_quantower_export(tmp_path):
    source = stale_export(tmp_path, 20)
    env = config_env(tmp_path, {"qt": {"broker": "quantower", "source": source,
                                       "max_age": 600}})
    proc = run_cli("doctor", "-f", "json", env=env)
    assert proc.returncode == 5
    found = checks(doc(proc)["profiles"][0])
    assert found["request"]["ok"] is True
    assert found["request"]["detail"].endswith("(read from the export file)")
    assert found["keyring"]["detail"] == "not needed: this profile has no secrets"
    assert found["export age"]["ok"] is False
    assert found["export age"]["detail"].startswith("written 20 min ago (GeneratedAt ")
    assert "older than max_age 600 s" in found["export age"]["detail"]
    assert proc.stderr.startswith("error: qt: export age: written 20 min ago")


def test_max_age_zero_reports_the_age_without_judging_it(tmp_path):
    env = config_env(tmp_path, {"qt": {"broker": "quantower",
                                       "source": stale_export(tmp_path, 90), "max_age": 0}})
    proc = run_cli("doctor", "-f", "json", env=env)
    assert proc.returncode == 0, proc.stderr
    age = checks(doc(proc)["profiles"][0])["export age"]
    assert age["detail"].startswith("written 90 min ago")
    assert age["detail"].endswith("; max_age 0: not checked)")


# -- keyring -----------------------------------------------------------------------------------


def test_missing_secrets_and_an_unusable_keyring(tmp_path, ts_fake):
    # conftest selects keyring's failing backend: the keyring is not usable.
    proc = run_cli("doctor", "-f", "json", env=config_env(tmp_path, {"ts": ts_settings(ts_fake)}))
    assert proc.returncode == 4
    found = checks(doc(proc)["profiles"][0])
    assert found["keyring"]["ok"] is False
    assert found["keyring"]["detail"].startswith("the OS keyring is not usable (")
    assert found["secret REFRESH_TOKEN"] == {
        "name": "secret REFRESH_TOKEN", "ok": False,
        "detail": "missing: not in BALANCECLI_TS_REFRESH_TOKEN, and the keyring is not usable"}
    assert ts_fake.requests == []
    line, = proc.stderr.splitlines()
    assert line.startswith("error: ts: keyring: the OS keyring is not usable")


SLOW_BACKEND = '''
import time
from keyring.backend import KeyringBackend


class Keyring(KeyringBackend):
    priority = 1

    def get_password(self, service, username):
        time.sleep(30)

    def set_password(self, service, username, password):
        time.sleep(30)

    def delete_password(self, service, username):
        time.sleep(30)
'''


def test_a_keyring_that_never_answers_is_time_boxed(tmp_path, ts_fake):
    (tmp_path / "slow_keyring.py").write_text(SLOW_BACKEND)
    env = config_env(tmp_path, {"ts": ts_settings(ts_fake)}, PYTHONPATH=str(tmp_path),
                     PYTHON_KEYRING_BACKEND="slow_keyring.Keyring",
                     BALANCECLI_KEYRING_TIMEOUT="0.5")
    started = time.monotonic()
    proc = run_cli("doctor", "-f", "json", env=env)
    assert time.monotonic() - started < 10
    assert proc.returncode == 4
    keyring = checks(doc(proc)["profiles"][0])["keyring"]
    assert "did not answer within 0.5 s" in keyring["detail"]


def test_a_reachable_keyring_and_its_latency(tmp_path, ts_fake, monkeypatch):
    import keyring.core

    backend = "keyrings.alt.file.PlaintextKeyring"  # explicit: no D-Bus needed in the test
    access, refresh = ts_fake.issue()
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", backend)
    keyring.core._keyring_backend = None
    keyring.get_keyring().set_password("balancecli", "ts", json.dumps(
        {"access_token": access, "refresh_token": refresh, "client_id": DEMO_CLIENT_ID,
         "client_secret": DEMO_CLIENT_SECRET,
         "access_token_expires_at": int(time.time()) + 1200}))
    proc = run_cli("doctor", "-f", "json", env=config_env(tmp_path, {"ts": ts_settings(ts_fake)}))
    assert proc.returncode == 0, proc.stderr
    found = checks(doc(proc)["profiles"][0])
    assert found["keyring"]["detail"].startswith("reachable in ")
    assert found["keyring"]["detail"].endswith(f" ms ({backend}); an item for this profile")
    assert found["secret REFRESH_TOKEN"]["detail"] == "from keyring"
    assert found["token expiry"]["detail"].startswith("valid for 20 min (until ")
    assert access not in proc.stdout and refresh not in proc.stdout


def plaintext_keyring(monkeypatch, profile: str, item: dict) -> str:
    """A file keyring (no D-Bus needed) holding ``item`` for ``profile``."""
    import keyring.core

    backend = "keyrings.alt.file.PlaintextKeyring"
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", backend)
    keyring.core._keyring_backend = None
    keyring.get_keyring().set_password("balancecli", profile, json.dumps(item))
    return backend


def test_a_pkce_key_has_no_client_secret_and_doctor_and_auth_status_agree(
        tmp_path, ts_fake, monkeypatch):
    access, refresh = ts_fake.issue()
    plaintext_keyring(monkeypatch, "ts", {
        "access_token": access, "refresh_token": refresh, "client_id": DEMO_CLIENT_ID,
        "access_token_expires_at": int(time.time()) + 1200})
    env = config_env(tmp_path, {"ts": ts_settings(ts_fake)})
    proc = run_cli("doctor", "-f", "json", env=env)
    assert proc.returncode == 0, proc.stderr
    found = checks(doc(proc)["profiles"][0])
    assert found["secret CLIENT_SECRET"] == {"name": "secret CLIENT_SECRET", "ok": True,
                                             "detail": "not set (a PKCE API key has none)"}
    assert found["request"]["ok"] is True
    status = run_cli("auth", "status", "ts", "-f", "json", env=env)
    assert status.returncode == 0, status.stderr
    profile, = json.loads(status.stdout)["profiles"]
    assert (profile["ok"], profile["problem"]) == (True, None)


def test_an_expired_access_token_without_a_refresh_token_is_missing_it_for_both(
        tmp_path, ts_fake, monkeypatch):
    access, _ = ts_fake.issue()
    plaintext_keyring(monkeypatch, "ts", {
        "access_token": access, "client_id": DEMO_CLIENT_ID,
        "client_secret": DEMO_CLIENT_SECRET,
        "access_token_expires_at": int(time.time()) - 3600})  # an hour ago
    env = config_env(tmp_path, {"ts": ts_settings(ts_fake)})
    proc = run_cli("doctor", "-f", "json", env=env)
    assert proc.returncode == 4
    found = checks(doc(proc)["profiles"][0])
    assert found["secret REFRESH_TOKEN"]["ok"] is False
    assert found["secret REFRESH_TOKEN"]["detail"] == "missing: not in BALANCECLI_TS_REFRESH_TOKEN"
    assert found["request"]["detail"] == "not tried: credentials are missing (see above)"
    assert found["token expiry"]["detail"].startswith("expired 60 min ago (")
    assert found["token expiry"]["detail"].endswith(") and cannot be renewed")
    assert ts_fake.requests == []
    status = run_cli("auth", "status", "ts", "-f", "json", env=env)
    assert status.returncode == 4
    assert json.loads(status.stdout)["profiles"][0]["problem"] == "missing REFRESH_TOKEN"


# -- selection and exit codes ------------------------------------------------------------------


def test_an_unknown_profile_is_a_config_failure(tmp_path, ts_fake, ts_profile):
    settings, env = ts_profile
    proc = run_cli("doctor", "-p", "ts", "-p", "nope", "-f", "json",
                   env=config_env(tmp_path, {"ts": settings}, **env))
    assert proc.returncode == 3  # the worst failure, never "partial" (7)
    ts, nope = doc(proc)["profiles"]
    assert ts["ok"] is True and ts["profile"] == "ts"
    assert nope["profile"] == "nope" and nope["broker"] is None and nope["ok"] is False
    assert nope["checks"][0]["name"] == "config"
    assert nope["checks"][0]["detail"].startswith("unknown profile (profiles in ")
    assert proc.stderr.startswith("error: nope: config: unknown profile")


def test_an_invalid_profile_is_reported_and_the_others_still_checked(tmp_path, ts_fake,
                                                                     ts_profile):
    settings, env = ts_profile
    profiles = {"ts": settings, "bad": {"broker": "etna"}}  # etna needs base_url
    proc = run_cli("doctor", "-f", "json", env=config_env(tmp_path, profiles, **env))
    assert proc.returncode == 3
    by_name = {p["profile"]: p for p in doc(proc)["profiles"]}
    assert by_name["ts"]["ok"] is True
    assert by_name["bad"]["checks"] == [{"name": "config", "ok": False,
                                         "detail": "missing setting 'base_url' (broker etna)"}]


def test_json_is_compact_when_piped():
    proc = run_cli("--demo", "doctor", "-p", "demo-qt", "-f", "json")
    assert proc.stdout.count("\n") == 1 and proc.stdout.startswith('{"schema":')
