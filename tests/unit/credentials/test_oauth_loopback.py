"""The OAuth login's loopback listener under hostile or odd requests.

Only the redirect that carries the login's ``state`` ends a pending login: another local process,
a web page's ``<img src=http://localhost:PORT/?code=x>`` or a stale tab gets 400 and the wait
goes on. The redirect says ``localhost``, so the listener serves 127.0.0.1 and ::1. Driven end to
end: the installed command, the fake TradeStation / LongPort authorization servers, real sockets.
"""

from __future__ import annotations

import errno
import json
import socket
import time
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from balancecli.demo.longport import DEMO_CLIENT_ID as LP_CLIENT_ID
from balancecli.demo.longport import FakeLongPort
from balancecli.demo.tradestation import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, FakeTradeStation
from tests.support.login_helpers import FAST, Cli, item, use_plaintext_keyring, write_config


def has_ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


needs_ipv6 = pytest.mark.skipif(not has_ipv6_loopback(), reason="no IPv6 loopback (::1)")


@pytest.fixture
def ts(monkeypatch, tmp_path):
    config = use_plaintext_keyring(monkeypatch, tmp_path)
    fake = FakeTradeStation().start()
    write_config(config, {"ts": {
        "broker": "tradestation", "base_url": fake.url, "token_url": fake.url + "/oauth/token",
        "auth_url": fake.url + "/authorize", "client_id": DEMO_CLIENT_ID,
        "redirect_port": 0, **FAST}})
    yield fake
    fake.stop()


@pytest.fixture
def lp(monkeypatch, tmp_path):
    config = use_plaintext_keyring(monkeypatch, tmp_path)
    fake = FakeLongPort(mode="oauth").start()
    write_config(config, {"lp": {"broker": "longport", "auth": "oauth", "base_url": fake.url,
                                 "client_id": LP_CLIENT_ID, **FAST}})
    yield fake
    fake.stop()


def ts_login(timeout: str = "20") -> Cli:
    return Cli("auth", "login", "ts", "--no-browser", "--browser-timeout", timeout, "--with-token",
               stdin=json.dumps({"client_secret": DEMO_CLIENT_SECRET}))


def redirect(url: str) -> str:
    """The Location the authorization server sends the browser to (real code and state)."""
    first = requests.get(url, allow_redirects=False, timeout=5)
    assert first.status_code == 302, first.text
    return first.headers["Location"]


def raw(host: str, port: int, data: bytes) -> bytes:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as s:
        s.settimeout(5)
        s.connect((host, port))
        s.sendall(data)
        chunks = []
        while chunk := s.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_requests_without_the_state_do_not_end_the_login(ts):
    cli = ts_login()
    location = redirect(cli.url())
    port = urlsplit(location).port
    state = parse_qs(urlsplit(location).query)["state"][0]
    base = f"http://127.0.0.1:{port}/"
    hostile = {
        "?code=x": 400,  # a web page's <img src=http://localhost:PORT/?code=x>
        "?code=x&state=forged": 400,
        "?error=access_denied&state=forged": 400,  # a forged refusal ends nothing either
        "?code=x&state=%C3%A9": 400,  # a non-ASCII state (compare_digest refuses text)
        f"?state={state}": 400,  # the right state but no code
        "favicon.ico": 404,
    }
    for query, status in hostile.items():
        reply = requests.get(base + query, timeout=5)
        assert reply.status_code == status, (query, reply.text)
        assert cli.proc.poll() is None, query
    assert b" 400 " in raw("127.0.0.1", port, b"GARBAGE\r\n\r\n").split(b"\r\n")[0]
    # A connection that sends nothing does not hold the listener: the real redirect still
    # gets through at once.
    with socket.create_connection(("127.0.0.1", port)):
        started = time.monotonic()
        page = requests.get(location, timeout=5)
        assert time.monotonic() - started < 2
    assert page.status_code == 200 and "close this tab" in page.text
    code, out, err = cli.finish()
    assert code == 0, err
    exchanges = ts.calls("/oauth/token")
    assert [e.form()["code"] for e in exchanges] == [parse_qs(urlsplit(location).query)["code"][0]]
    assert item("ts")["access_token"] in ts.access_tokens
    assert "Traceback" not in err and "GARBAGE" not in err


def test_only_wrong_state_requests_end_in_the_timeout(ts):
    cli = ts_login(timeout="3")
    location = redirect(cli.url())
    forged = location.replace("state=", "state=x")
    assert requests.get(forged, timeout=5).status_code == 400
    assert requests.get(forged, timeout=5).status_code == 400
    started = time.monotonic()
    code, out, err = cli.finish()
    assert code == 4, err
    assert time.monotonic() - started < 6
    port = urlsplit(location).port
    assert (f"error: ts: no login completed within 3 s (2 request(s) to http://localhost:{port} "
            "without this login's state were refused); nothing was stored") in err
    assert ts.calls("/oauth/token") == []
    assert item("ts") == {}
    assert out == ""


@needs_ipv6
def test_the_redirect_reaches_the_listener_over_ipv6(lp):
    cli = Cli("auth", "login", "lp", "--no-browser", "--port", "0", "--browser-timeout", "20")
    location = redirect(cli.url())
    assert location.startswith("http://localhost:")
    port = urlsplit(location).port
    # Both loopback addresses answer on the advertised port.
    for host in ("127.0.0.1", "::1"):
        assert b" 404 " in raw(host, port, b"GET /nothing HTTP/1.0\r\n\r\n").split(b"\r\n")[0]
    page = requests.get(location.replace("localhost", "[::1]"), timeout=5)
    assert page.status_code == 200, page.text
    code, out, err = cli.finish()
    assert code == 0, err
    assert item("lp")["access_token"] in lp.tokens


@needs_ipv6
def test_a_fixed_port_taken_on_ipv6_is_a_clear_error(lp):
    with socket.socket(socket.AF_INET6) as squatter:
        squatter.bind(("::1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        started = time.monotonic()
        cli = Cli("auth", "login", "lp", "--no-browser", "--port", str(port),
                  "--browser-timeout", "20")
        code, out, err = cli.finish()
    assert code == 3, err
    assert time.monotonic() - started < 10
    assert f"error: lp: cannot listen on [::1]:{port} for the login redirect" in err
    assert "authorize?" not in err  # no URL printed for a listener that cannot work


def test_without_ipv6_loopback_127_0_0_1_serves_alone(monkeypatch):
    from balancecli.credentials import oauth

    def no_ipv6(*args, **kwargs):
        raise OSError(errno.EADDRNOTAVAIL, "Cannot assign requested address")

    monkeypatch.setattr(oauth, "_Server6", no_ipv6)
    listener = oauth._Listener(0, "/callback", "s" * 32)
    try:
        assert [s.server_address[0] for s in listener.servers] == ["127.0.0.1"]
    finally:
        listener.close()
