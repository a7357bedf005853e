"""Browser login: the OAuth 2.0 authorization-code flow with PKCE and a loopback listener.

What differs between brokers (URLs, audience, scope, callback port, the token answer) is
declared by each broker class as an ``OAuthClient`` (``oauth_client.py``); nothing here names a
broker. Sources: RFC 6749 §4.1 (the code grant), RFC 7636 (PKCE), RFC 8252 §7.3 (loopback
redirect), RFC 7009 (revocation); each broker module cites its own authentication pages.

The flow: a random ``state`` and PKCE verifier; a listener on 127.0.0.1 and ::1 (the registered
port, or any free one: the redirect says ``localhost``, which a browser may resolve to either);
the authorization URL is printed on stderr (and opened in a browser unless asked not to); the
listener waits for the redirect that carries this login's ``state`` and the code is exchanged once
(no retries: a code is single-use). Any other request (another local process, a web page's
``<img src=http://localhost:PORT/?code=x>``, a stale tab) is answered 400 and the wait goes on
until the timeout: it cannot end, or fail, a pending login. Nothing here prints a token.

When the browser cannot reach the listener (it runs on another machine than balancecli: SSH,
a container), it ends on an error page whose address holds the code. At a terminal that address
may be pasted instead, as rclone and gcloud allow: it must be an address of the redirect (the
loopback host, the port and path listened on) and carry this login's state and a code, else it
is refused with the reason and another may be pasted; the redirect itself still counts.
"""

from __future__ import annotations

import base64
import errno
import hashlib
import os
import secrets
import socket
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from socketserver import TCPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from balancecli.core.errors import AuthError, BalanceCliError, ConfigError
from balancecli.credentials.oauth_client import OAuthClient
from balancecli.credentials.tokens import read_answer


def pkce_pair() -> tuple[str, str]:
    """(verifier, S256 challenge), RFC 7636 §4.1-4.2."""
    verifier = secrets.token_urlsafe(64)[:96]
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def authorization_url(client: OAuthClient, redirect_uri: str, state: str,
                      challenge: str | None) -> str:
    params = {
        "response_type": "code",
        "client_id": client.client_id or "",
        "redirect_uri": redirect_uri,
        "scope": client.scope,
        "state": state,
    }
    if challenge is not None:
        params |= {"code_challenge": challenge, "code_challenge_method": "S256"}
    if client.audience:
        params["audience"] = client.audience
    sep = "&" if "?" in client.authorize_url else "?"
    return client.authorize_url + sep + urlencode(params)


PAGE = (
    "<!doctype html><html><head><meta charset='utf-8'><title>balancecli</title></head>"
    "<body style='font-family:sans-serif'><h2>{title}</h2><p>{text}</p></body></html>"
)


def _same(given: str, expected: str) -> bool:
    """Constant-time comparison; bytes, since compare_digest refuses non-ASCII text."""
    return secrets.compare_digest(given.encode("utf-8", "replace"), expected.encode("utf-8"))


LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1"})


class _Listener:
    """The loopback listener for the redirect (RFC 8252 §7.3, §8.3).

    It serves 127.0.0.1 and, when the host has an IPv6 loopback, ::1 on the same port, one
    thread each. Only the request that carries this login's ``state`` (with a ``code`` or an
    ``error``) is taken; everything else is answered 400 (404 off the callback path) and
    counted, and the wait goes on.
    """

    ATTEMPTS = 20  # ephemeral ports tried until one is free on both addresses

    def __init__(self, port: int, path: str, state: str) -> None:
        self.path = path
        self.state = state
        self.result: dict[str, str] | None = None
        self.refused = 0
        self.done = threading.Event()
        self._lock = threading.Lock()
        self.servers = self._bind(port)
        self.port: int = self.servers[0].server_address[1]

    def _bind(self, port: int) -> list[Any]:
        handler = _handler(self)
        for _ in range(self.ATTEMPTS if port == 0 else 1):
            try:
                v4 = _Server(("127.0.0.1", port), handler)
            except OSError as exc:
                raise _cannot_listen("127.0.0.1", port, exc) from None
            try:
                v6 = _Server6(("::1", v4.server_address[1]), handler)
            except OSError as exc:
                if exc.errno != errno.EADDRINUSE:
                    return [v4]  # no IPv6 loopback on this host: 127.0.0.1 serves alone
                v4.server_close()
                if port == 0:
                    continue  # that ephemeral port is taken on ::1: another one
                raise _cannot_listen("[::1]", port, exc) from None
            return [v4, v6]
        raise ConfigError("cannot find a port free on both 127.0.0.1 and ::1 for the login "
                          "redirect", next_step="pass --port with a free port")

    def offer(self, params: dict[str, str]) -> tuple[int, str, str]:
        """Judge one request to the callback path: (status, title, text) of its page. The
        request that carries the state is kept in ``result``; the caller then sets ``done``."""
        with self._lock:
            if not _same(params.get("state", ""), self.state):
                self.refused += 1
                return 400, "Wrong state", ("This request does not belong to the login in "
                                            "progress (a stale tab?). Use the URL printed in "
                                            "the terminal.")
            if self.result is not None:
                return 400, "Already done", "This login has already received its redirect."
            if "code" not in params and "error" not in params:
                self.refused += 1
                return 400, "Missing code", "The redirect has no authorization code."
            self.result = params
        if "error" in params:
            return 400, "Login failed", "Return to the terminal for details."
        return 200, "Logged in", "balancecli received the authorization; you can close this tab."

    def pasted(self, address: str) -> str | None:
        """Take an address pasted from the browser as if the browser had been redirected to
        this listener: None when it was taken (or the redirect came first), else why not."""
        parts = urlsplit(address.strip())
        try:
            port = parts.port
        except ValueError:
            port = None
        if parts.scheme not in ("http", "https") or port != self.port or (
                parts.hostname or "") not in LOOPBACK or (parts.path or "/") != self.path:
            return "that is not an address of the redirect"
        _, title, _ = self.offer({k: v[-1] for k, v in parse_qs(parts.query).items()})
        if title == "Wrong state":
            return "that address is of another login (its state is not this one's)"
        if title == "Missing code":
            return "that address has no authorization code"
        self.done.set()
        return None

    def read_pastes(self, paste: Callable[[], str | None], redirect_uri: str,
                    say: Callable[[str], None]) -> None:
        """Read pasted addresses (``paste``: a line, None at the end of input) in a thread
        of its own while the listener waits; the end of input only ends the pasting."""
        def read() -> None:
            while not self.done.is_set():
                line = paste()
                if line is None or self.done.is_set():
                    return
                if not line.strip():
                    continue
                problem = self.pasted(line)
                if problem is None:
                    return
                say(f"{problem}: paste the whole address the browser shows, starting with "
                    f"{redirect_uri}")

        threading.Thread(target=read, daemon=True, name="balancecli-paste").start()

    def wait(self, timeout: float) -> dict[str, str] | None:
        """The redirect's parameters, or None when none came within ``timeout`` seconds."""
        started = []
        try:
            for server in self.servers:
                threading.Thread(target=server.serve_forever, args=(0.1,), daemon=True,
                                 name="balancecli-login").start()
                started.append(server)
            self.done.wait(timeout)
        finally:
            for server in started:
                server.shutdown()
        with self._lock:
            return self.result

    def close(self) -> None:
        for server in self.servers:
            server.server_close()


def _handler(listener: _Listener) -> type:
    class Handler(BaseHTTPRequestHandler):
        timeout = 5  # a connection that sends nothing holds one thread for 5 s, no more

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass  # the query holds the code: never log it

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            parts = urlsplit(self.path)
            if parts.path != listener.path:
                self._page(404, "Not found", "This is balancecli's login listener.")
                return
            params = {k: v[-1] for k, v in parse_qs(parts.query).items()}
            page = listener.offer(params)
            try:
                self._page(*page)
            finally:
                if listener.result is params:
                    listener.done.set()  # after the page, so that the browser gets it

        def _page(self, status: int, title: str, text: str) -> None:
            body = PAGE.format(title=title, text=text).encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body)

    return Handler


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # Windows' SO_REUSEADDR lets another process bind the same port: only elsewhere.
    allow_reuse_address = os.name != "nt"

    def server_bind(self) -> None:
        # HTTPServer would look up the host's name (getfqdn: a DNS query that can hang).
        TCPServer.server_bind(self)
        self.server_name, self.server_port = "localhost", self.server_address[1]

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that hangs up or sends garbage: no traceback on the terminal


class _Server6(_Server):
    address_family = socket.AF_INET6


def _cannot_listen(host: str, port: int, exc: OSError) -> ConfigError:
    return ConfigError(
        f"cannot listen on {host}:{port} for the login redirect ({exc.strerror})",
        next_step="free that port, or pass --port with the port registered for your OAuth "
                  "client",
    )


def browser_login(client: OAuthClient, http: Any, *, say: Callable[[str], None],
                  open_browser: bool = True, timeout: float = 300.0,
                  port: int | None = None,
                  paste: Callable[[], str | None] | None = None) -> dict[str, Any]:
    """Run the whole flow; returns the fields to store (lower-case names). ``paste``: read a
    line from the terminal, to take the address the browser ended on (None: no terminal)."""
    if not client.client_id:
        raise AuthError("no OAuth client id (CLIENT_ID)",
                        next_step="give CLIENT_ID when asked, with --with-token, or set "
                                  "client_id in the profile")
    state = secrets.token_urlsafe(24)
    verifier, challenge = pkce_pair() if client.pkce else (None, None)
    listener = _Listener(client.redirect_port if port is None else port, client.redirect_path,
                         state)
    try:
        path = "" if client.redirect_path == "/" else client.redirect_path
        redirect_uri = f"http://localhost:{listener.port}{path}"
        url = authorization_url(client, redirect_uri, state, challenge)
        # One call per line: a line break inside one would show as an escape (console.err).
        say("Log in in your browser. If it does not open, visit:" if open_browser
            else "Open this URL in a browser and log in:")
        say(f"  {url}")
        say(f"Waiting up to {timeout:g} s for the redirect to {redirect_uri} …")
        if paste is not None:
            say("If the browser cannot reach this machine (over SSH), paste here the address "
                "it ends on:")
            listener.read_pastes(paste, redirect_uri, say)
        if open_browser:
            _open(url)
        params = listener.wait(timeout)
    finally:
        listener.close()
    if params is None:
        refused = listener.refused
        why = (f"{refused} request(s) to {redirect_uri} without this login's state were "
               "refused" if refused else f"no redirect reached {redirect_uri}")
        raise AuthError(
            f"no login completed within {timeout:g} s ({why}); nothing was stored",
            next_step="run the login again and finish it in the browser with the newly "
                      "printed URL (--browser-timeout SECONDS for more time)",
        )
    if "error" in params:
        detail = params.get("error_description") or params["error"]
        raise AuthError(f"the authorization server refused the login: {detail[:200]}",
                        next_step="check the client id and the allowed callback URLs")
    return exchange_code(client, http, params["code"], redirect_uri, verifier)


def _open(url: str) -> None:
    try:
        import webbrowser

        webbrowser.open(url, new=1)
    except Exception:  # noqa: BLE001 - no browser: the URL is already on stderr
        pass


def exchange_code(client: OAuthClient, http: Any, code: str, redirect_uri: str,
                  verifier: str | None) -> dict[str, Any]:
    """The one exchange of the code (single-use: never retried); the fields to store.

    The answer is read by the same reader as every refresh (``tokens.read_answer``): an
    unusable ``expires_in`` keeps the tokens with the broker's default lifetime, since the
    code is spent and a lost answer means logging in again."""
    form = {"grant_type": "authorization_code", "client_id": client.client_id or "",
            "code": code, "redirect_uri": redirect_uri}
    if verifier is not None:
        form["code_verifier"] = verifier
    if client.client_secret:
        form["client_secret"] = client.client_secret
    response = http.request("POST", client.token_url, data=form,
                            headers={"Accept": "application/json",
                                     "Content-Type": "application/x-www-form-urlencoded"})
    if response.status != 200:
        detail = _detail(_json(response)) or f"HTTP {response.status}"
        if response.status in (400, 401, 403):
            raise AuthError(f"the token endpoint refused the authorization code ({detail})",
                            http_status=response.status,
                            next_step="check the client id/secret and run the login again")
        raise _status_error(response, detail)
    fields, problem = read_answer(response.content, client.answer, client.slot)
    if problem is not None:
        raise problem
    return fields


def revoke(client: OAuthClient, http: Any, token: str) -> None:
    """RFC 7009 revocation of a refresh token."""
    if not client.revoke_url:
        raise ConfigError("no revocation endpoint is known for this broker")
    form = {"token": token, "token_type_hint": "refresh_token",
            "client_id": client.client_id or ""}
    if client.client_secret:
        form["client_secret"] = client.client_secret
    response = http.request("POST", client.revoke_url, data=form,
                            headers={"Accept": "application/json",
                                     "Content-Type": "application/x-www-form-urlencoded"})
    if response.status not in (200, 204):
        detail = _detail(_json(response)) or f"HTTP {response.status}"
        if response.status in (400, 401, 403):
            raise AuthError(f"the revocation was refused ({detail})",
                            http_status=response.status)
        raise _status_error(response, detail)


def _status_error(response: Any, detail: str) -> BalanceCliError:
    from balancecli.net.http import status_error

    return status_error(response, detail)


def _json(response: Any) -> Any:
    try:
        return response.json()
    except Exception:  # noqa: BLE001 - a non-JSON body: reported by status
        return None


def _detail(body: Any) -> str | None:
    if isinstance(body, dict):
        for key in ("error_description", "error", "message", "Message"):
            value = body.get(key)
            if isinstance(value, str) and value:
                return value.splitlines()[0][:160]
    return None
