"""Hostile input on the network side, through the installed command against fakes on
127.0.0.1: URLs that two parsers read apart, proxies and loopback, the run's deadline
(--max-time), rates update, answers that are not HTTP, repeated JSON keys and account ids that
are path steps. Each case: its exit code, its one stderr line, the other profiles printed (and
stored), nothing sent to the "other host" (a listener on ::1) and no secret anywhere."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from tests.support.cli import run_cli, run_measured
from tests.support.ecb_zip import sample_zip, serve
from tests.support.hostile import (
    HEALTHY,
    NOT_HTTP,
    Profiles,
    assert_no_secret,
    db_text,
    errors_of,
    stored,
)
from tests.support.sink import Sink


@pytest.fixture
def profiles(tmp_path):
    found = Profiles(tmp_path)
    yield found
    found.close()


@pytest.fixture
def other():
    """The other host: a listener on ::1 that must receive nothing."""
    sink = Sink()
    yield sink
    sink.close()


def balances_of(proc: subprocess.CompletedProcess) -> list[tuple[str, str]]:
    return [(b["profile"], b["account_id"]) for b in json.loads(proc.stdout)["balances"]]


# -- 1. one URL parser: a URL that says loopback but could connect elsewhere ---------------

CRAFTED = {
    "fragment": ("{base}#@{other}", "it has a fragment ('#')"),
    "fragment after a path": ("{base}/api#@{other}/", "it has a fragment ('#')"),
    "backslash": ("http://{other}\\@{host}", "it has a backslash"),
    "space": ("{base} @{other}", "it has whitespace or a control character"),
    "tab": ("{base}\t@{other}", "it has whitespace or a control character"),
    "percent-encoded host": ("http://%31%32%37.0.0.1:{port}", "its host has a '%'"),
    "empty host": ("http://:{port}/", "its host is empty"),
    "hex host": ("http://0x7f.1:{port}", "its host '0x7f.1' is a number but not a dotted IPv4 "
                 "address"),
}


@pytest.mark.parametrize("key", ["base_url", "token_url"])
@pytest.mark.parametrize("form", CRAFTED)
def test_a_url_the_parsers_read_apart_is_a_config_error_and_reaches_nothing(
        profiles, other, key, form):
    fake = profiles.tradestation("ts")
    profiles.tradestation("ok")
    template, reason = CRAFTED[form]
    host = f"127.0.0.1:{fake.port}"
    value = template.format(base=fake.url, host=host, port=fake.port, other=other.netloc)
    profiles.settings["ts"][key] = value
    env = profiles.write()
    proc = run_cli("balance", "-f", "json", "-v", env=env)
    assert proc.returncode == 7, proc.stderr
    assert balances_of(proc) == [("ok", a) for a in HEALTHY]
    [line] = [e for e in errors_of(proc) if e.startswith("error:")]
    assert line.startswith(f"error: ts: setting '{key}' is not a valid URL: {reason}: ")
    assert line.endswith(f"— run: balancecli profile unset ts {key} (back to its default)")
    assert other.received == [] and fake.requests == []
    assert_no_secret(profiles.secrets(), proc.stdout, proc.stderr)


def test_the_refused_url_is_stored_as_the_profiles_error_beside_the_others_rows(
        profiles, other):
    fake = profiles.tradestation("ts")
    profiles.tradestation("ok")
    profiles.settings["ts"]["token_url"] = f"{fake.url}/oauth/token#@{other.netloc}/steal"
    env = profiles.write()
    proc = run_cli("snapshot", "-q", env=env)
    assert proc.returncode == 7 and proc.stdout == ""
    [line] = errors_of(proc)
    assert line.startswith("error: ts: setting 'token_url' is not a valid URL: it has a fragment")
    db = profiles.tmp / "history.sqlite3"
    rows, errors = stored(db)
    assert rows == [("ok", a) for a in HEALTHY]
    assert [(p, k) for p, k, _ in errors] == [("ts", "config")]
    assert other.received == []
    assert_no_secret(profiles.secrets(), proc.stderr, db_text(db))


def test_a_quantower_source_with_a_fragment_never_sends_the_bridge_token(profiles, other):
    bridge = profiles.quantower_bridge("qt")
    profiles.tradestation("ok")
    profiles.settings["qt"]["source"] = f"{bridge.url}/balancecli-export.json#@{other.netloc}/"
    env = profiles.write()
    alone = run_cli("balance", "-p", "qt", env=env)
    assert alone.returncode == 3
    [line] = errors_of(alone)
    assert line.startswith("error: qt: setting 'source' is not a valid URL: it has a fragment")
    both = run_cli("balance", "-f", "json", env=env)
    assert both.returncode == 7 and balances_of(both) == [("ok", a) for a in HEALTHY]
    assert other.received == [] and bridge.requests == []
    assert_no_secret(profiles.secrets(), alone.stdout + alone.stderr, both.stdout + both.stderr)


def test_an_ecb_url_with_a_fragment_downloads_nothing(tmp_path, other):
    with serve(sample_zip()) as served:
        config = tmp_path / "config.toml"
        config.write_text(f'[ecb]\nurl = "{served.url}#@{other.netloc}/x.zip"\n')
        proc = run_cli("rates", "update", env={"BALANCECLI_CONFIG": str(config)})
    assert (proc.returncode, proc.stdout) == (3, "")
    [line] = errors_of(proc)
    assert line.startswith(f"error: balancecli: [ecb] url in {config} is not a valid URL: it "
                           "has a fragment ('#')")
    assert served.hits == 0 and other.received == []


# -- 5. loopback is never proxied ------------------------------------------------------------


def test_a_proxy_in_the_environment_gets_nothing_for_loopback(profiles, other):
    bridge = profiles.quantower_bridge("qt")
    profiles.tradestation("ts")
    env = profiles.write()
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy",
                 "all_proxy"):
        env[name] = other.url
    env |= {"NO_PROXY": "", "no_proxy": ""}
    proc = run_cli("balance", "-f", "json", env=env)
    assert proc.returncode == 0, proc.stderr
    assert {p for p, _ in balances_of(proc)} == {"qt", "ts"}
    snap = run_cli("snapshot", "-q", env=env)
    assert (snap.returncode, snap.stdout, snap.stderr) == (0, "", "")
    assert other.received == []  # the bridge token stayed on loopback
    assert [r.bearer() for r in bridge.requests] == [profiles.env["BALANCECLI_QT_TOKEN"]] * 2
    rows, errors = stored(profiles.tmp / "history.sqlite3")
    assert {p for p, _ in rows} == {"qt", "ts"} and errors == []


# -- 10. --max-time: a deadline for the whole run --------------------------------------------


def test_max_time_stops_a_trickling_broker_and_prints_the_others(profiles):
    slow = profiles.tradestation("slow", max_retries=3)
    profiles.tradestation("ok")
    slow.inject("trickle_body", "/balances$", seconds=0.5, times=10)
    env = profiles.write()
    proc, seconds, _ = run_measured("balance", "-f", "json", "--timeout", "60", "--max-time",
                                    "2", env=env)
    assert proc.returncode == 7, proc.stderr
    assert 1.8 < seconds < 8, seconds
    assert balances_of(proc) == [("ok", a) for a in HEALTHY]
    [line] = errors_of(proc)
    assert line == ("error: slow: did not finish within --max-time 2 s — raise --max-time, or "
                    "see which requests are slow with -v")
    [error] = json.loads(proc.stdout)["errors"]
    assert (error["profile"], error["kind"], error["account_id"]) == ("slow", "unavailable",
                                                                      None)
    assert len(slow.calls("/balances$")) == 1  # no retry started after the deadline
    assert_no_secret(profiles.secrets(), proc.stdout, proc.stderr)


def test_max_time_from_the_environment_bounds_a_snapshot_which_stores_what_finished(profiles):
    slow = profiles.tradestation("slow")
    profiles.tradestation("ok")
    slow.inject("trickle_headers", "/accounts$", seconds=0.5, times=10)
    env = {**profiles.write(), "BALANCECLI_MAX_TIME": "1.5"}
    proc, seconds, _ = run_measured("snapshot", "-q", "--timeout", "60", env=env)
    assert proc.returncode == 7 and seconds < 8, (proc.stderr, seconds)
    assert errors_of(proc) == ["error: slow: did not finish within --max-time 1.5 s — raise "
                               "--max-time, or see which requests are slow with -v"]
    db = profiles.tmp / "history.sqlite3"
    rows, errors = stored(db)
    assert rows == [("ok", a) for a in HEALTHY]
    assert errors == [("slow", "unavailable", "did not finish within --max-time 1.5 s")]
    assert_no_secret(profiles.secrets(), proc.stderr, db_text(db))


HOLDER = r"""
import sys, time
from balancecli.credentials import profile_lock
with profile_lock(sys.argv[1]):
    print("holding", flush=True)
    time.sleep(60)
"""


def test_max_time_ends_the_run_even_while_a_profile_waits_for_its_lock(profiles, monkeypatch):
    import keyring
    from keyrings.alt.file import PlaintextKeyring

    from balancecli.credentials import Keyring

    profiles.tradestation("stuck")
    profiles.tradestation("ok")
    env = profiles.write()
    # The stuck profile's tokens are in a keyring, so its refresh takes the profile lock.
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyrings.alt.file.PlaintextKeyring")
    keyring.set_keyring(PlaintextKeyring())
    stored_fields = {k.removeprefix("BALANCECLI_STUCK_").lower(): env.pop(k)
                     for k in list(env) if k.startswith("BALANCECLI_STUCK_")}
    del stored_fields["access_token"]
    Keyring().save("stuck", stored_fields)
    env |= {"BALANCECLI_LOCK_TIMEOUT": "40",
            "PYTHON_KEYRING_BACKEND": "keyrings.alt.file.PlaintextKeyring"}
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, "stuck"], stdout=subprocess.PIPE,
                              text=True, env={**os.environ, **env})
    try:
        assert holder.stdout.readline() == "holding\n"
        started = time.monotonic()
        proc = run_cli("balance", "-f", "json", "--max-time", "2", env=env)
        seconds = time.monotonic() - started
    finally:
        holder.kill()
        holder.wait()
    assert proc.returncode == 7, proc.stderr
    assert seconds < 10, seconds  # the lock would have held it for 40 s
    assert balances_of(proc) == [("ok", a) for a in HEALTHY]
    assert [e.split(" — ")[0] for e in errors_of(proc)] == [
        "error: stuck: did not finish within --max-time 2 s"]


def test_max_time_bounds_doctor(profiles):
    slow = profiles.tradestation("slow")
    slow.inject("trickle_body", "/accounts$", seconds=0.5, times=10)
    profiles.tradestation("ok")
    env = profiles.write()
    proc, seconds, _ = run_measured("doctor", "--timeout", "60", "--max-time", "1.5", env=env)
    assert proc.returncode == 5 and seconds < 8, (proc.stderr, seconds)
    [line] = errors_of(proc)
    assert line.startswith("error: slow: request: did not finish within --max-time 1.5 s")


def test_the_readme_recipes_bound_a_cron_run_with_max_time():
    from tests.support import REPO

    readme = (REPO / "README.md").read_text(encoding="utf-8")
    # three crontab lines (the env file, the session's keyring, the textfile), two ExecStart
    lines = [line for line in readme.splitlines()
             if line.lstrip("# ").startswith(("*/15 ", "ExecStart="))]
    assert len(lines) == 5, lines
    assert all("balancecli snapshot -q --max-time 300" in line for line in lines), lines
    proc = run_cli("--demo", "snapshot", "-q", "--max-time", "300")
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "", "")


@pytest.mark.parametrize(("args", "message"), [
    (["--max-time", "inf"], "--max-time: must be at most 86400.0 seconds, got inf"),
    (["--max-time", "0"], "--max-time: must be at least 0.1 seconds, got 0"),
    (["--timeout", "inf"], "--timeout: must be at most 86400.0 seconds, got inf"),
    (["--timeout", "1e300"], "--timeout: must be at most 86400.0 seconds, got 1e300"),
])
def test_unbounded_times_are_usage_errors(args, message):
    proc = run_cli("--demo", "balance", *args)
    assert (proc.returncode, proc.stdout) == (2, "")
    assert proc.stderr == f"error: {message} (run: balancecli balance --help)\n"


# -- 11. rates update: the deadline, the size cap and the URL rule of broker requests


class EcbServer:
    """The ECB file from a fake on 127.0.0.1 (a FakeBroker, so faults can be injected)."""

    def __init__(self) -> None:
        from balancecli.demo.server import FakeBroker, Reply

        class Fake(FakeBroker):
            def handle(self, request):
                if request.path == "/moved":
                    return Reply(302, b"", {"Location": "/eurofxref-hist.zip"})
                return Reply(200, sample_zip(), {"Content-Type": "application/zip"})

        self.fake = Fake().start()
        self.url = self.fake.url + "/eurofxref-hist.zip"

    def run(self, tmp_path, url: str, *args: str):
        config = tmp_path / "rates.toml"
        config.write_text(f'[ecb]\nurl = "{url}"\n')
        return run_measured("rates", "update", *args, env={"BALANCECLI_CONFIG": str(config)})


@pytest.fixture
def ecb_server():
    server = EcbServer()
    yield server
    server.fake.stop()


def test_rates_update_stops_at_max_time(tmp_path, ecb_server):
    from balancecli.money import ecb

    ecb_server.fake.inject("trickle_body", seconds=0.2, times=5)
    proc, seconds, _ = ecb_server.run(tmp_path, ecb_server.url, "--timeout", "60",
                                      "--max-time", "1")
    assert (proc.returncode, proc.stdout) == (5, "") and seconds < 6, (proc.stderr, seconds)
    assert errors_of(proc) == [
        f"error: balancecli: cannot download the ECB rates from '{ecb_server.url}': did not "
        "finish within --max-time 1 s — raise --max-time, or see which requests are slow "
        "with -v"]
    assert len(ecb_server.fake.requests) == 1 and not ecb.cache_path().exists()


def test_rates_update_refuses_a_file_over_the_size_cap(tmp_path, ecb_server):
    ecb_server.fake.inject("huge", size=40 << 20)
    proc, seconds, peak = ecb_server.run(tmp_path, ecb_server.url)
    assert proc.returncode == 6 and seconds < 10 and peak < 150, (proc.stderr, seconds, peak)
    assert errors_of(proc) == [f"error: balancecli: 127.0.0.1:{ecb_server.fake.port} sent a "
                               "response larger than 32 MiB (not an ECB rates file) — check "
                               "[ecb] url: it names the ECB's file"]


def test_rates_update_follows_a_redirect_only_on_the_same_origin(tmp_path, ecb_server, other):
    from balancecli.money import ecb

    moved = ecb_server.fake.url + "/moved"
    proc, _, _ = ecb_server.run(tmp_path, moved)
    assert proc.returncode == 0, proc.stderr
    assert ecb.cache_path().read_bytes() == sample_zip()
    ecb.cache_path().unlink()
    for target in (f"{other.url}/eurofxref-hist.zip", "http://example.org/eurofxref-hist.zip",
                   f"http://127.0.0.1:{other.port}/x.zip"):
        ecb_server.fake.inject("status", "/moved", status=301, headers={"Location": target})
        proc, _, _ = ecb_server.run(tmp_path, moved)
        assert (proc.returncode, proc.stdout) == (6, ""), proc.stderr
        assert errors_of(proc) == [
            f"error: balancecli: the ECB server at '{moved}' redirects to '{target}': not "
            "followed, it is another host or plain http — set [ecb] url in the config file to "
            "the file's address, if you trust it"]
    assert other.received == [] and not ecb.cache_path().exists()


# -- 16. answers that are not HTTP -----------------------------------------------------------


@pytest.mark.parametrize("case", NOT_HTTP)
def test_an_answer_that_is_not_http_is_a_bad_response_and_not_retried(profiles, case):
    hostile = profiles.tradestation("ts", max_retries=3, retry_backoff=0.2)
    profiles.tradestation("ok")
    raw, reason = NOT_HTTP[case]
    hostile.inject("raw", "/accounts$", body=raw, times=5)
    env = profiles.write()
    proc, seconds, _ = run_measured("balance", "-f", "json", env=env)
    assert proc.returncode == 7, proc.stderr
    assert seconds < 10
    assert balances_of(proc) == [("ok", a) for a in HEALTHY]
    [line] = errors_of(proc)
    assert line == (f"error: ts: 127.0.0.1:{hostile.port} sent an answer that is not valid "
                    f"HTTP ({reason}) — check that the profile's URL points at the broker's API")
    assert [e["kind"] for e in json.loads(proc.stdout)["errors"]] == ["bad_response"]
    assert len(hostile.calls("/accounts$")) == 1
    alone = run_cli("balance", "-p", "ts", env=env)
    assert alone.returncode == 6 and alone.stdout == ""
    assert_no_secret(profiles.secrets(), proc.stdout, proc.stderr)


# -- 17. a key named twice in one object -----------------------------------------------------


def test_a_repeated_key_is_a_bad_response_naming_it_for_every_broker(profiles):
    ts = profiles.tradestation("ts")
    lp = profiles.longport("lp")
    etna = profiles.etna("etna")
    profiles.quantower_file("qt", '{"Format": "balancecli.quantower/1", "GeneratedAt": '
                                  '"2026-01-01T00:00:00Z", "Accounts": [], "Accounts": []}')
    profiles.tradestation("ok")
    ts.inject("body", "/v3/brokerage/accounts$", body='{"Accounts": [{"AccountID": "1", '
                                                      '"AccountID": "2"}]}')
    lp.inject("body", "/v1/asset/account", body='{"code": 0, "data": {"list": [], "list": []}}')
    etna.inject("body", "/accounts/83268/info", body='{"cash": 1, "cash": 1000000}')
    env = profiles.write()
    proc = run_cli("balance", "-f", "json", env=env)
    assert proc.returncode == 7, proc.stderr
    lines = errors_of(proc)
    assert lines[0].startswith(
        "error: ts: the response names the key 'AccountID' twice in one object — ")
    assert lines[1].startswith(
        "error: lp account LP-1: the response names the key 'list' twice in one object — ")
    assert lines[2].startswith(
        "error: etna account 83268: the response names the key 'cash' twice in one object")
    assert lines[3].startswith("error: qt: the Quantower export ")
    assert "is not valid: the response names the key 'Accounts' twice in one object" in lines[3]
    assert len(lines) == 4
    doc = json.loads(proc.stdout)
    assert {(e["profile"], e["kind"]) for e in doc["errors"]} == {
        ("ts", "bad_response"), ("lp", "bad_response"), ("etna", "bad_response"),
        ("qt", "bad_response")}
    got = balances_of(proc)
    assert ("etna", "83268") not in got and ("etna", "83267") in got
    assert [a for p, a in got if p == "ok"] == HEALTHY
    assert_no_secret(profiles.secrets(), proc.stdout, proc.stderr)


# -- 18. account ids that are path steps -----------------------------------------------------


def test_dot_ids_are_bad_responses_and_every_id_is_one_path_segment(profiles):
    etna = profiles.etna("etna")
    ts = profiles.tradestation("ts")
    for account, new in zip(etna.accounts, ["..", "A/B", "."], strict=True):
        etna.infos[new] = etna.infos.pop(str(account["Id"]))
        account["Id"] = new
    ts.v3["accounts"][1]["AccountID"] = "x/y"
    ts.v3["balances"]["x/y"] = {**ts.v3["balances"].pop("11827392"), "AccountID": "x/y"}
    env = profiles.write()
    proc = run_cli("balance", "-f", "json", env=env)
    assert proc.returncode == 7, proc.stderr
    got = balances_of(proc)
    assert ("etna", "A/B") in got and ("ts", "x/y") in got
    errors = {(e["profile"], e["account_id"]): (e["kind"], e["message"])
              for e in json.loads(proc.stdout)["errors"]}
    assert errors == {
        ("etna", ".."): ("bad_response", "the account id '..' cannot be used in a URL path"),
        ("etna", "."): ("bad_response", "the account id '.' cannot be used in a URL path")}
    targets = [r.target for r in etna.requests]
    assert "/api/v1.0/accounts/A%2FB/info" in targets
    assert not [t for t in targets if "/./" in t or "/../" in t or t.endswith("/..")]
    assert any("/accounts/11827391,x%2Fy,210FUT01/balances" in r.target for r in ts.requests)
    assert_no_secret(profiles.secrets(), proc.stdout, proc.stderr)
