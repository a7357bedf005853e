"""The HTTP client over real sockets: total deadline, size cap, per-host environment, retries,
Ctrl-C, and the adaptive per-host limiter (balancecli.http, balancecli.limiter)."""

from __future__ import annotations

import base64
import threading
import time

import pytest

from balancecli.core import interrupt
from balancecli.core.errors import BadResponseError, RateLimitedError, UnavailableError
from balancecli.demo.server import FakeBroker, Reply, json_reply
from balancecli.net import limiter
from balancecli.net.http import HttpClient
from balancecli.net.limiter import CONGESTED, OK, HostLimiter, Interrupted, RateLimit
from tests.support.hostile import NOT_HTTP


class Echo(FakeBroker):
    """Answers every request with what it received (method, path, a few headers, body)."""

    def handle(self, request):
        return json_reply({"method": request.method, "path": request.path,
                           "query": request.query, "body": request.body.decode(),
                           "authorization": request.header("authorization"),
                           "content_type": request.header("content-type")})


@pytest.fixture(autouse=True)
def fresh_limiters():
    limiter.reset()
    yield
    interrupt.CANCEL.clear()
    limiter.reset()


@pytest.fixture
def echo():
    with Echo() as server:
        yield server


def client(**kwargs) -> HttpClient:
    options = {"timeout": 2.0, "max_retries": 0, "retry_backoff": 0.01, **kwargs}
    return HttpClient("p", **options)


def timed(fn):
    started = time.monotonic()
    try:
        return fn(), time.monotonic() - started
    except Exception as exc:  # noqa: BLE001 - the test inspects it
        return exc, time.monotonic() - started


# -- the total deadline

def test_headers_trickled_one_byte_at_a_time_fail_at_the_deadline(echo):
    echo.inject("trickle_headers", seconds=0.1)  # every read succeeds, the whole never ends
    error, elapsed = timed(lambda: client(timeout=1).request("GET", echo.url + "/slow"))
    assert isinstance(error, UnavailableError)
    assert error.message == f"127.0.0.1:{echo.port} did not answer within 1 s"
    assert 0.9 < elapsed < 2.0


def test_body_trickled_one_byte_at_a_time_fails_at_the_deadline(echo):
    echo.inject("trickle_body", seconds=0.1)
    error, elapsed = timed(lambda: client(timeout=1).request("GET", echo.url + "/slow"))
    assert isinstance(error, UnavailableError)
    assert "did not answer within 1 s" in error.message
    assert 0.9 < elapsed < 2.0


def test_the_deadline_bounds_every_attempt_and_retries_stay_within_their_budget(echo):
    echo.inject("trickle_headers", seconds=0.1, times=3)
    http = client(timeout=0.5, max_retries=2, retry_backoff=0.1)
    error, elapsed = timed(lambda: http.request("GET", echo.url + "/slow"))
    assert isinstance(error, UnavailableError)
    assert error.message.endswith("did not answer within 0.5 s after 3 attempts")
    assert 1.5 < elapsed < 3.0  # 3 x 0.5 s + backoff 0.1 + 0.2


def test_after_a_timeout_the_next_request_gets_a_working_connection(echo):
    http = client(timeout=0.5)
    echo.inject("trickle_body", seconds=0.1)
    assert isinstance(timed(lambda: http.request("GET", echo.url + "/a"))[0], UnavailableError)
    assert http.request("GET", echo.url + "/b").json()["path"] == "/b"


# -- the size cap

def test_a_gzip_bomb_fails_as_bad_response_without_inflating_it(echo):
    echo.inject("gzip_bomb", size=1 << 30)  # 1 MB on the wire, 1 GiB inflated
    error, elapsed = timed(lambda: client(timeout=30).request("GET", echo.url + "/bomb"))
    assert isinstance(error, BadResponseError)
    assert error.message == (f"127.0.0.1:{echo.port} sent a response larger than 16 MiB "
                             "(setting max_response_bytes)")
    assert elapsed < 10


def test_a_small_gzip_body_is_inflated(echo):
    echo.inject("gzip_bomb", size=2 << 20)
    response = client(timeout=10).request("GET", echo.url + "/zipped")
    assert response.json() == {} and len(response.content) == 2 << 20


def test_a_body_without_length_is_cut_at_the_cap(echo):
    echo.inject("huge", size=50 << 20)
    error = timed(lambda: client(timeout=30).request("GET", echo.url + "/huge"))[0]
    assert isinstance(error, BadResponseError) and "larger than 16 MiB" in error.message


def test_a_declared_length_over_the_cap_is_refused_before_reading(echo):
    echo.inject("body", body=b'{"pad": "' + b"x" * 5000 + b'"}')
    error = timed(lambda: client(max_response_bytes=4096).request("GET", echo.url + "/x"))[0]
    assert isinstance(error, BadResponseError)
    assert error.message.endswith("larger than 4096 bytes (setting max_response_bytes)")


def test_a_corrupt_gzip_body_is_a_bad_response(echo):
    echo.inject("body", body=b"\x1f\x8b\x08\x00garbage-not-deflate",
                headers={"Content-Encoding": "gzip"})
    error = timed(lambda: client().request("GET", echo.url + "/x"))[0]
    assert isinstance(error, BadResponseError)
    assert error.message == f"127.0.0.1:{echo.port} sent a body that does not decode as gzip"


# -- what is sent

def test_form_bodies_and_empty_posts_are_sent_as_requests_would(echo):
    http = client()
    form = http.request("POST", echo.url + "/token", data={"grant_type": "x y", "a": "1"}).json()
    assert form["body"] == "grant_type=x+y&a=1"
    assert form["content_type"] == "application/x-www-form-urlencoded"
    empty = http.request("POST", echo.url + "/token", data=b"").json()
    assert empty["body"] == "" and empty["method"] == "POST"
    assert echo.calls("/token")[-1].header("content-length") == "0"


def test_the_query_is_sent_exactly_as_given(echo):
    got = client().request("GET", echo.url + "/v1/a", query="t=2026-01-01T00%3A00%3A00.000Z")
    assert got.json()["query"] == "t=2026-01-01T00%3A00%3A00.000Z"
    client().request("GET", echo.url, query="a=1")
    client().request("GET", echo.url + "/x%2Fy")
    assert [r.target for r in echo.requests] == [
        "/v1/a?t=2026-01-01T00%3A00%3A00.000Z", "/?a=1", "/x%2Fy"]


def test_headers_merge_case_insensitively_and_the_connection_is_reused(echo):
    http = client()
    for _ in range(3):
        http.request("GET", echo.url + "/h", headers={"user-agent": "mine", "ACCEPT": "x/y"})
    sent = echo.requests[-1].headers
    assert sent["user-agent"] == "mine" and sent["accept"] == "x/y"
    assert sent["accept-encoding"] == "gzip, deflate"
    manager = http.wire.adapter.poolmanager
    assert [manager.pools[key].num_connections for key in manager.pools.keys()] == [1]


def test_one_connection_serves_sequential_requests(echo):
    http = client()
    for i in range(20):
        http.request("GET", echo.url + f"/n{i}")
    manager = http.wire.adapter.poolmanager
    pools = [manager.pools[key] for key in manager.pools.keys()]
    assert [pool.num_connections for pool in pools] == [1]


def test_proxies_come_from_the_environment_once_per_host(monkeypatch):
    proxy, second = Echo().start(), Echo().start()
    remote = "http://broker.example:8080"  # never resolved: the proxy answers for it
    try:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        monkeypatch.setenv("NO_PROXY", "")
        http = client()
        http.request("GET", remote + "/via-proxy")
        assert [r.path for r in proxy.requests] == ["/via-proxy"]
        assert proxy.requests[0].target == remote + "/via-proxy"  # absolute, as proxies need
        monkeypatch.setenv("HTTP_PROXY", second.url)  # read once per host: no effect now
        http.request("GET", remote + "/again")
        assert len(proxy.requests) == 2 and not second.requests
        client().request("GET", remote + "/new")  # a new client reads the environment again
        assert [r.path for r in second.requests] == ["/new"]
    finally:
        proxy.stop()
        second.stop()


@pytest.mark.parametrize("variable", ["HTTP_PROXY", "ALL_PROXY"])
def test_loopback_is_never_proxied(echo, monkeypatch, variable):
    proxy = Echo().start()
    try:
        monkeypatch.setenv(variable, proxy.url)
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        for host in ("127.0.0.1", "localhost"):
            url = echo.url.replace("127.0.0.1", host)
            client().request("GET", url + "/direct", headers={"Authorization": "Bearer t"})
        assert [r.path for r in echo.requests] == ["/direct", "/direct"]
        assert proxy.requests == []
    finally:
        proxy.stop()


def test_netrc_credentials_apply_only_without_the_brokers_own(echo, isolated):
    (isolated / ".netrc").write_text("machine 127.0.0.1 login user password pw\n")
    (isolated / ".netrc").chmod(0o600)
    http = client()
    plain = http.request("GET", echo.url + "/plain").json()["authorization"]
    assert plain == "Basic " + base64.b64encode(b"user:pw").decode()
    bearer = http.request("GET", echo.url + "/token", headers={"Authorization": "Bearer t"})
    assert bearer.json()["authorization"] == "Bearer t"


def test_user_info_in_a_url_is_refused_neither_sent_nor_shown(echo):
    from balancecli.core.errors import ConfigError

    url = echo.url.replace("http://", "http://user:s3cr3t-pw@") + "/x"
    error = timed(lambda: client().request("GET", url, headers={"Authorization": "Bearer t"}))[0]
    assert isinstance(error, ConfigError)
    assert error.message == (f"cannot request 'http://127.0.0.1:{echo.port}/x': it has a user "
                             "name or password (user info before an '@')")
    assert echo.requests == []


@pytest.mark.parametrize("tail", ["#@[::1]:9/x", "\\@[::1]:9/x", "/a b", "/%zz", "/x/../y"])
def test_a_url_two_parsers_could_read_apart_is_never_requested(echo, tail):
    from balancecli.core.errors import ConfigError

    error = timed(lambda: client().request("GET", echo.url + tail))[0]
    assert isinstance(error, ConfigError) and error.message.startswith("cannot request ")
    assert echo.requests == []


# -- retries and Ctrl-C

def test_retry_after_is_honoured_and_the_retry_succeeds(echo):
    echo.inject("status", status=429, headers={"Retry-After": "0.3"}, body={"e": 1})
    response, elapsed = timed(lambda: client(max_retries=1).request("GET", echo.url + "/r"))
    assert response.status == 200 and 0.3 <= elapsed < 1.5


def test_after_ctrl_c_no_request_starts(echo):
    interrupt.CANCEL.set()
    error = timed(lambda: client().request("GET", echo.url + "/x"))[0]
    assert isinstance(error, Interrupted) and not echo.requests


def test_ctrl_c_wakes_a_backoff_sleep_and_stops_the_retries(echo):
    echo.inject("status", status=503, times=5)
    http = client(max_retries=3, retry_backoff=20, retry_budget=100)
    threading.Timer(0.3, interrupt.cancel).start()
    error, elapsed = timed(lambda: http.request("GET", echo.url + "/x"))
    assert isinstance(error, Interrupted) and elapsed < 1.5
    assert len(echo.requests) == 1


def test_ctrl_c_shuts_a_request_in_flight(echo):
    echo.inject("timeout", seconds=20)
    threading.Timer(0.3, interrupt.cancel).start()
    error, elapsed = timed(lambda: client(timeout=30).request("GET", echo.url + "/x"))
    assert isinstance(error, Interrupted) and elapsed < 1.5


# -- the limiter

def test_the_window_doubles_while_answers_are_fine_and_stops_at_the_ceiling():
    host = HostLimiter("h", RateLimit(start=2, ceiling=10))
    for expected in (4, 8, 10):
        epochs = [host.acquire(1) for _ in range(int(host.limit))]
        for epoch in epochs:
            host.release(epoch, OK)
        assert host.limit == expected


def test_congestion_halves_once_per_window():
    host = HostLimiter("h", RateLimit(start=8, ceiling=16))
    epochs = [host.acquire(1) for _ in range(8)]
    for epoch in epochs[:3]:  # three 429s from the same burst
        host.release(epoch, CONGESTED)
    assert host.limit == 4 and host.decreases == 1
    for epoch in epochs[3:]:
        host.release(epoch, OK)  # after a decrease: +1/limit per answer, not slow start
    assert 5 < host.limit < 6


def test_the_rate_window_waits_and_gives_up_beyond_the_budget():
    host = HostLimiter("h", RateLimit(start=5, ceiling=5, calls=3, period=0.5, gap=0.05))
    started = time.monotonic()
    for _ in range(3):
        host.release(host.acquire(5), OK)
    assert 0.1 <= time.monotonic() - started < 0.4  # 0.05 s apart
    host.release(host.acquire(5), OK)  # the 4th waits for the first to leave the window
    assert time.monotonic() - started >= 0.5
    for _ in range(2):
        host.release(host.acquire(5), OK)
    with pytest.raises(RateLimitedError, match="its limit is 3 requests per 0.5 s"):
        host.acquire(0.1)


def test_retry_after_pauses_the_whole_host():
    host = HostLimiter("h", RateLimit(start=4, ceiling=4))
    host.release(host.acquire(1), CONGESTED, retry_after=0.4)
    started = time.monotonic()
    host.release(host.acquire(2), OK)
    assert time.monotonic() - started >= 0.35
    host.release(host.acquire(1), CONGESTED, retry_after=30)
    with pytest.raises(RateLimitedError, match="it asked to wait"):
        host.acquire(1)


def test_profiles_on_one_host_share_one_limiter_and_the_lower_ceiling():
    first = limiter.limiter_for("https://h", RateLimit(start=4, ceiling=16))
    second = limiter.limiter_for("https://h", RateLimit(start=4, ceiling=6))
    assert first is second and first.ceiling == 6


class Gate(FakeBroker):
    """At most ``max_concurrent`` requests at once, 429 beyond; 40 ms per answer."""

    def handle(self, request):
        return Reply(200, {"ok": True})


def test_the_limiter_converges_below_a_servers_concurrency_without_failing_requests():
    server = Gate(latency=0.04).start()
    server.max_concurrent = 6
    try:
        http = client(timeout=5, max_retries=3, retry_backoff=0.05,
                      limits=RateLimit(start=8, ceiling=32))
        results: list[object] = []

        def worker(n: int) -> None:
            for i in range(n):
                try:
                    results.append(http.request("GET", server.url + f"/{i}").status)
                except Exception as exc:  # noqa: BLE001 - counted below
                    results.append(exc)

        threads = [threading.Thread(target=worker, args=(12,)) for _ in range(24)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        host = limiter.limiters()[server.url]
        assert results == [200] * 288  # every request succeeded, none ran out of retries
        assert server.rejected < 0.15 * 288  # 429s were the exception, not the rule
        assert host.decreases >= 1 and host.limit <= 12
    finally:
        server.stop()


# -- the last guard on header values

@pytest.mark.parametrize("value", ["Bearer at\r\n X-Injected: 1", "Bearer at\n", "a\x00b",
                                   "Bearer €uro"])
def test_a_header_value_that_could_fold_or_split_the_headers_is_never_sent(echo, value):
    from balancecli.core.errors import AuthError

    http = client()
    for headers in ({"Authorization": value}, lambda: {"Authorization": value}):
        with pytest.raises(AuthError) as info:
            http.request("GET", echo.url + "/x", headers=headers)
        assert info.value.message.startswith("refused to send the Authorization header")
        assert "Bearer" not in info.value.message  # the header is named, its value never
    assert echo.requests == []
    assert http.request("GET", echo.url + "/x",
                        headers={"Authorization": "Bearer ok\tok"}).status == 200


@pytest.mark.parametrize("headers, pause", [
    ({}, None),
    ({"Retry-After": "7"}, 7.0),
    ({"Retry-After": "nan"}, None),
    ({"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "42"}, 42.0),
    ({"X-RateLimit-Remaining": "3", "X-RateLimit-Reset": "42"}, None),  # quota left
    ({"X-RateLimit-Remaining": "0"}, None),  # no reset: nothing to wait for
    ({"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "inf"}, None),
    ({"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "-5"}, 0.0),
    ({"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "30", "Retry-After": "60"}, 60.0),
    ({"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "1e12"}, limiter.LONGEST_PAUSE),
])
def test_what_an_answer_asks_to_wait(headers, pause):
    assert limiter.pause_seconds(headers) == pause


def test_a_quota_reset_given_as_an_epoch_time_is_read_as_one():
    ahead = time.time() + 90
    wait = limiter.pause_seconds({"X-RateLimit-Remaining": "0",
                                  "X-RateLimit-Reset": f"{ahead:.0f}"})
    assert wait is not None and 88 <= wait <= 91


def test_an_exhausted_quota_on_a_200_pauses_the_whole_host(echo):
    echo.inject("status", "/quota", status=200, body={"ok": True},
                headers={"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "600"})
    client = HttpClient("p", retry_budget=2, max_retries=0)
    assert client.request("GET", echo.url + "/quota").status == 200
    started = time.monotonic()
    with pytest.raises(RateLimitedError) as caught:
        client.request("GET", echo.url + "/next")
    assert time.monotonic() - started < 1
    assert "it asked to wait" in caught.value.message


# -- answers that are not HTTP: the connection worked, so bad_response, never retried


@pytest.mark.parametrize("case", NOT_HTTP)
def test_an_answer_that_is_not_http_is_a_bad_response_without_retries(echo, case):
    raw, reason = NOT_HTTP[case]
    echo.inject("raw", body=raw, times=5)
    error, elapsed = timed(lambda: client(max_retries=3).request("GET", echo.url + "/x"))
    assert isinstance(error, BadResponseError), error
    assert error.message == (f"127.0.0.1:{echo.port} sent an answer that is not valid HTTP "
                             f"({reason})")
    assert len(echo.requests) == 1 and elapsed < 2


def test_a_connection_closed_without_an_answer_is_still_retried(echo):
    echo.inject("raw", body=b"", times=1)
    assert client(max_retries=1).request("GET", echo.url + "/x").status == 200
    assert len(echo.requests) == 2


# -- the run's deadline (--max-time)

@pytest.fixture
def run_deadline():
    from balancecli.net.deadline import RUN

    yield RUN
    RUN.start(None)


def test_the_run_deadline_stops_a_request_in_flight_and_no_retry_starts(echo, run_deadline):
    from balancecli.net.deadline import OutOfTime

    echo.inject("trickle_body", seconds=0.1, times=5)
    run_deadline.start(1.0)
    error, elapsed = timed(lambda: client(timeout=10, max_retries=3).request("GET", echo.url))
    assert isinstance(error, OutOfTime) and error.kind == "unavailable"
    assert error.message == "did not finish within --max-time 1 s"
    assert 0.9 < elapsed < 1.6 and len(echo.requests) == 1
    error, elapsed = timed(lambda: client().request("GET", echo.url + "/later"))
    assert isinstance(error, OutOfTime) and elapsed < 0.1
    assert len(echo.requests) == 1  # nothing is sent once it passed


def test_no_backoff_sleep_runs_past_the_run_deadline(echo, run_deadline):
    echo.inject("status", status=503, times=5)
    run_deadline.start(1.0)
    http = client(max_retries=3, retry_backoff=5, retry_budget=100)
    error, elapsed = timed(lambda: http.request("GET", echo.url + "/x"))
    assert isinstance(error, UnavailableError) and elapsed < 0.5
    assert error.message == (f"127.0.0.1:{echo.port} answered HTTP 503; no time left for a "
                             "retry within --max-time 1 s")
