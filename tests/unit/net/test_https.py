"""The HTTP client over TLS: the CA bundle from the environment, verification, pooled reuse.

A real TLS server on 127.0.0.1 with a certificate from a throw-away CA (trustme)."""

from __future__ import annotations

import json
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from balancecli.core.errors import UnavailableError
from balancecli.net import limiter
from balancecli.net.http import HttpClient

trustme = pytest.importorskip("trustme")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):  # noqa: N802 - http.server's name
        body = json.dumps({"path": self.path, "port": self.client_address[1]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def tls(tmp_path):
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    cert.configure_cert(context)
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    limiter.reset()
    yield f"https://127.0.0.1:{server.server_address[1]}", bundle
    server.shutdown()
    server.server_close()
    limiter.reset()


def test_a_ca_bundle_from_the_environment_verifies_the_server(tls, monkeypatch):
    url, bundle = tls
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle))
    http = HttpClient("p", timeout=5, max_retries=0)
    first = http.request("GET", url + "/a?x=1").json()
    second = http.request("GET", url + "/b").json()
    assert (first["path"], second["path"]) == ("/a?x=1", "/b")
    assert first["port"] == second["port"]  # one TLS connection, reused


def test_an_unknown_certificate_authority_is_refused_in_one_line(tls, monkeypatch):
    url, _ = tls
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    http = HttpClient("p", timeout=5, max_retries=0)
    with pytest.raises(UnavailableError) as caught:
        http.request("GET", url + "/a")
    host = url.removeprefix("https://")
    assert caught.value.message == (
        f"could not connect to {host} (its TLS certificate is not trusted here; a private CA "
        "goes in REQUESTS_CA_BUNDLE)")
    assert "\n" not in caught.value.message
