"""LongPort on the wire: the API-key signature, timestamps and the envelope.

Sources: the LongPort docs (``longportapp/openapi-website``:
``docs/en/docs/api-reference/how-to-access-api.md``, and the rate limits in
``docs/en/docs/index.md``); the Rust SDK's ``rust/crates/httpclient/src/signature.rs`` and
``request.rs`` (``longportapp/openapi``).

- ``X-Api-Signature`` is HMAC-SHA256 (keyed with the app secret) over the SHA-1 of a canonical
  request: method, path, the raw wire query, the signed headers ``authorization;x-api-key;
  x-timestamp`` and the body's SHA-1. The query is signed exactly as sent
  (https://github.com/longbridge/openapi/issues/180).
- ``X-Timestamp`` must differ for every request: the service answers 403202 "duplicate request"
  to a replayed signature, also when two processes sign the same request in the same
  millisecond: a random per-process offset keeps them apart, and a 403202 is signed again.
- The trade API allows at most 30 calls per 30 s, 0.02 s apart, per credential: the broker's
  ``limits`` (``LongPort.limits``) hand that to the per-host limiter (balancecli.limiter).
- Every answer is a ``{code, message|msg, data}`` envelope; ``code != 0`` is an error
  whatever the HTTP status: 401003/401004 token, 4032xx signing, 4290xx rate limit.
"""

from __future__ import annotations

import hashlib
import hmac
import random
import threading
import time
from typing import Any

from balancecli.brokers.payload import one_line, to_int
from balancecli.core.errors import (
    AuthError,
    BadResponseError,
    BalanceCliError,
    BrokerError,
    RateLimitedError,
    UnavailableError,
)
from balancecli.core.jsonread import loads
from balancecli.core.redact import REDACTOR
from balancecli.credentials.tokens import Rejected
from balancecli.net.http import Response, status_error

SIGNED_HEADERS = "authorization;x-api-key;x-timestamp"
TOKEN_CODES = (401003, 401004)
RATE_CODES = (429001, 429002)
DUPLICATE = 403202
DUPLICATE_RETRIES = 4  # fresh timestamps after a 403202 before it counts as temporary
SIGNING_CODES = {
    403201: "signature invalid (403201): check APP_SECRET",
    403203: "app key illegal (403203): check APP_KEY",
    403205: "this IP is not allowed (403205): add this machine's public IP to the app's IP "
            "allow-list in the LongPort developer center",
}


def sign(method: str, path: str, query: str, headers: dict[str, str], app_secret: str,
         body: bytes = b"") -> str:
    """The ``X-Api-Signature`` value (how-to-access-api.md)."""
    signed = "".join(f"{name}:{headers[name]}\n" for name in SIGNED_HEADERS.split(";"))
    canonical = f"{method.upper()}|{path}|{query}|{signed}|{SIGNED_HEADERS}|"
    if body:
        canonical += hashlib.sha1(body).hexdigest()
    to_sign = "HMAC-SHA256|" + hashlib.sha1(canonical.encode()).hexdigest()
    digest = hmac.new(app_secret.encode(), to_sign.encode(), hashlib.sha256).hexdigest()
    return f"HMAC-SHA256 SignedHeaders={SIGNED_HEADERS}, Signature={digest}"


def dc_region(*credentials: str) -> str:
    """``x-dc-region``: "us" when any credential carries the ``us_`` prefix, else "ap" (the
    gateway's default); the SDK's ``DcRegion::from_credentials`` (geo/src/lib.rs)."""
    return "us" if any(c.removeprefix("Bearer ").startswith("us_") for c in credentials) \
        else "ap"


_clock_lock = threading.Lock()
_last_ms = 0
# Two processes signing the same request in the same millisecond send the same signature and
# one gets 403202. A random offset per process (under a second, well within any clock-skew
# window) keeps their timestamp sequences apart.
_OFFSET_MS = random.SystemRandom().randrange(1000)


def timestamp() -> str:
    """Milliseconds, strictly increasing within the process (403202 on a reused timestamp)."""
    global _last_ms
    with _clock_lock:
        _last_ms = max(int(time.time() * 1000) + _OFFSET_MS, _last_ms + 1)
        return str(_last_ms)


def step_aside() -> None:
    """After a 403202: another process's timestamps are in step with ours (same offset, same
    pacing, or both woken at once on a loaded machine), so a plain re-sign can collide again.
    Jump this process's clock ahead by a random amount (under 0.3 s) and wait a random moment,
    which puts the two out of step."""
    global _last_ms
    rng = random.SystemRandom()
    with _clock_lock:
        _last_ms = max(int(time.time() * 1000) + _OFFSET_MS, _last_ms) + rng.randrange(1, 300)
    time.sleep(rng.uniform(0.0, 0.05))




# -- the answer: the {code, message, data} envelope

class TokenRejected(Rejected):
    """401003/401004: an OAuth token is refreshed once and the request retried (the token
    lifecycle, ``credentials.tokens``); an API-key token is the profile's auth error."""


class DuplicateRequest(UnavailableError):
    """403202: the same signed request was seen before; signed again at once with a fresh
    timestamp. When it persists it is temporary (exit 5), never a reason to log in again."""


def read_envelope(response: Response, *, oauth: bool, profile: str,
                  tolerant: bool = False) -> dict[str, Any]:
    """The ``data`` of a ``{code, message, data}`` envelope; any other code is an error:
    ``code != 0`` fails whatever the HTTP status. ``tolerant``: see ``models.loads`` (token
    answers)."""
    body = json_or_none(response, tolerant=tolerant)
    if not isinstance(body, dict) or "code" not in body:
        if response.status == 401 or response.status >= 500:
            raise status_error(response, "not a LongPort JSON envelope")
        if body is None and response.status == 200:
            response.json()  # raises the precise BadResponseError
        raise BadResponseError("the LongPort response is not a {code, data} envelope "
                               f"(HTTP {response.status})", http_status=response.status)
    code = to_int(body.get("code"))
    if code is None:
        raise BadResponseError("the LongPort response code is not an integer")
    if code == 0:
        data = body.get("data")
        if not isinstance(data, dict):
            raise BadResponseError("the LongPort response has no data object")
        return data
    message = REDACTOR.redact(one_line(body.get("message") or body.get("msg")))
    trace = response.headers.get("x-trace-id")
    detail = f"{message or 'no message'} (code {code}" + (f", trace id {trace})" if trace
                                                          else ")")
    status = response.status
    if code in TOKEN_CODES or 401000 <= code < 402000:
        fix = ("run: balancecli auth login {p}" if oauth else
               "create a new access token in the LongPort developer center, then run: "
               "balancecli auth login {p}")
        raise TokenRejected(f"the LongPort access token was rejected: {detail}",
                             http_status=status, next_step=fix.format(p=profile))
    if code == DUPLICATE:
        raise DuplicateRequest(
            f"LongPort saw this request twice (duplicate request, code {code})",
            http_status=status,
            next_step="try again; if it persists, check that the system clock is right")
    if code in SIGNING_CODES:
        step = f"run: balancecli auth login {profile}" if code in (403201, 403203) else None
        raise AuthError(SIGNING_CODES[code], http_status=status, next_step=step)
    if code in RATE_CODES:
        raise RateLimitedError(f"LongPort rate limit: {detail}", http_status=status)
    if code == 500000 or status >= 500:
        raise UnavailableError(f"LongPort server error: {detail}", http_status=status)
    raise BrokerError(f"LongPort refused the request: {detail}", http_status=status)


def token_error(response: Response, body: Any, profile: str) -> BalanceCliError:
    """The error for a refused OAuth token refresh (an RFC 6749 ``{error, error_description}``
    body, not an envelope)."""
    if response.status >= 500 or body is None and response.status != 200:
        return status_error(response, "from the OAuth token endpoint")
    if not isinstance(body, dict):
        return BadResponseError("the LongPort token response is not a JSON object")
    reason = one_line(body.get("error_description") or body.get("error")) or "no reason"
    return AuthError(f"the LongPort OAuth token refresh was refused ({reason})",
                     http_status=response.status,
                     next_step=f"run: balancecli auth login {profile}")


def json_or_none(response: Response, *, tolerant: bool = False) -> Any:
    try:
        return loads(response.content, tolerant=True) if tolerant else response.json()
    except BalanceCliError:
        return None


def code_of(response: Response) -> int | None:
    body = json_or_none(response) if response.is_json else None
    return to_int(body.get("code")) if isinstance(body, dict) else None
