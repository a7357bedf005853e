"""The token lifecycle, the reader of token answers and the token check (credentials.tokens),
in process: the lifecycle with real ``Secrets`` and a grant that counts its calls (the brokers'
grants over real sockets are in tests/brokers/)."""

from __future__ import annotations

import threading
import time

import pytest

from balancecli.core.errors import AuthError, BadResponseError, UnavailableError
from balancecli.credentials import Secrets
from balancecli.credentials.tokens import (
    Rejected,
    TokenAnswer,
    TokenLifecycle,
    TokenRules,
    TokenSlot,
    field_problem,
    read_answer,
    token_problem,
)

ANSWER = TokenAnswer(1200)
SLOT = TokenSlot()
GOOD = "at-" + "x" * 30


# -- the check

@pytest.mark.parametrize(("value", "problem"), [
    ("abc\r\ndef", "a line break"), ("abc\n", "a line break"), ("a\u2028b", "a line break"),
    ("a\x00b", "a control character"), ("a\x7fb", "a control character"),
    ("a\x85b", "a line break"), ("a\x9bb", "a control character"),
    ("abc def", "whitespace"), ("abc\u00a0def", "whitespace"),
    ("jeton-é", "a character outside ASCII"), ("t\ud800", "a character outside ASCII"),
])
def test_a_token_that_cannot_go_into_a_header_is_named_by_its_problem(value, problem):
    assert token_problem(value) == problem


def test_real_tokens_pass():
    for token in ("eyJhbGciOi.eyJzdWIi.SflKxw-_", "m_abc+/=", "ts-at-" + "A" * 40, "~.-_"):
        assert token_problem(token) is None


def test_other_secrets_may_hold_spaces_but_no_line_break():
    assert field_problem("password", "correct horse battery") is None
    assert field_problem("password", "pass\r\nword") == "a line break"
    assert field_problem("app_secret", "s\x1bcret") == "a control character"
    assert field_problem("token", "a b") == "whitespace"
    assert field_problem("access_token_expires_at", 12) is None


# -- the answer

@pytest.mark.parametrize("expires_in", [
    b"1e400", b'"1e400"', b"-50", b'"-50"', b"0", b"null", b"true", b'"soon"', b"1" + b"0" * 400,
    b"[1]", b'{"s": 1}', b'"NaN"', b'"inf"'])
def test_an_unusable_expires_in_keeps_the_tokens_with_the_default_lifetime(expires_in):
    body = b'{"access_token": "%s", "refresh_token": "rt-1", "expires_in": %s}' % (
        GOOD.encode(), expires_in)
    fields, problem = read_answer(body, ANSWER, SLOT, now=1_000_000.0)
    assert problem is None
    assert fields == {"access_token": GOOD, "refresh_token": "rt-1",
                      "access_token_expires_at": 1_001_200}


def test_a_usable_expires_in_and_expires_at():
    fields, _ = read_answer({"access_token": GOOD, "expires_in": "3600"}, ANSWER, SLOT, now=10.0)
    assert fields["access_token_expires_at"] == 3610
    absolute = TokenAnswer(90 * 86400, access=("token",), expires_in=(),
                           expires_at=("expired_at",))
    fields, _ = read_answer({"token": GOOD, "expired_at": "2030-01-01T00:00:00Z"}, absolute,
                            SLOT, now=1_700_000_000.0)
    assert fields["access_token_expires_at"] == 1893456000


@pytest.mark.parametrize("expired_at", ["2001-01-01T00:00:00Z", "whenever", 1e400, -5, None])
def test_an_expires_at_already_past_or_unreadable_is_never_stored(expired_at):
    absolute = TokenAnswer(90 * 86400, access=("token",), expires_in=(),
                           expires_at=("expired_at",))
    fields, problem = read_answer({"token": GOOD, "expired_at": expired_at}, absolute, SLOT,
                                  now=1_700_000_000.0)
    assert problem is None and fields["access_token_expires_at"] == 1_700_000_000 + 90 * 86400


def test_field_names_and_extras_come_from_the_declaration():
    v2 = TokenAnswer(1200, access=("access_token", "token"),
                     refresh=("refresh_token", "RefreshToken"), extra=(("userid", "user_id"),))
    fields, problem = read_answer({"token": GOOD, "RefreshToken": "rt-2", "userid": 42}, v2,
                                  SLOT, now=0.0)
    assert problem is None
    assert fields == {"access_token": GOOD, "refresh_token": "rt-2", "user_id": "42",
                      "access_token_expires_at": 1200}
    etna = TokenSlot(token="token", expires_at="token_expires_at", refresh=None)
    fields, _ = read_answer({"Token": GOOD, "refresh_token": "ignored"},
                            TokenAnswer(86400, access=("Token",), refresh=()), etna, now=0.0)
    assert fields == {"token": GOOD, "token_expires_at": 86400}


@pytest.mark.parametrize("body", [b"[1]", b"1e400", b"null", b"not json", b'"x"'])
def test_an_answer_that_is_no_object_is_a_bad_response(body):
    fields, problem = read_answer(body, ANSWER, SLOT)
    assert fields == {} and isinstance(problem, BadResponseError)


def test_a_rotated_refresh_token_is_kept_when_the_access_token_is_missing_or_broken():
    for access in ("", 12, None, "a\r\n b"):
        fields, problem = read_answer({"access_token": access, "refresh_token": "rt-3"},
                                      ANSWER, SLOT)
        assert fields == {"refresh_token": "rt-3"}
        assert problem is not None
    _, problem = read_answer({"access_token": "a\r\n b"}, ANSWER, SLOT)
    assert isinstance(problem, AuthError) and problem.exit_code == 4
    assert problem.message == ("the token endpoint answered an access token with a line "
                               "break; nothing of it was used or stored")


def test_a_broken_refresh_token_stores_nothing_and_shows_nothing():
    fields, problem = read_answer({"access_token": GOOD, "refresh_token": "rt-SECRET\tx"},
                                  ANSWER, SLOT)
    assert fields == {} and isinstance(problem, AuthError)
    assert "SECRET" not in problem.message and "whitespace" not in problem.message
    assert "a control character" in problem.message


# -- the lifecycle

class Grant:
    """A grant that issues numbered tokens, optionally failing or answering a given body."""

    def __init__(self, answer=None, error=None, delay: float = 0.0):
        self.calls = 0
        self.answer, self.error, self.delay = answer, error, delay
        self.lock = threading.Lock()

    def __call__(self, current):
        with self.lock:
            self.calls += 1
            n = self.calls
        time.sleep(self.delay)
        if self.error is not None:
            raise self.error
        return self.answer or {"access_token": f"new-{n}-" + "y" * 20, "expires_in": 1200}


def lifecycle(grant, secrets=None, **rules):
    store = Secrets("p", ("ACCESS_TOKEN", "REFRESH_TOKEN"), env={},
                    preset=secrets if secrets is not None else {"refresh_token": "rt"})
    return TokenLifecycle(store, TokenRules(ANSWER, **rules), grant, profile="p")


def refused(token):
    raise Rejected("the access token was rejected after a refresh", http_status=401)


def test_a_fresh_stored_token_is_used_without_a_grant():
    grant = Grant()
    tokens = lifecycle(grant, {"access_token": GOOD,
                               "access_token_expires_at": time.time() + 3600})
    assert tokens.call(lambda t: t) == GOOD and grant.calls == 0


def test_an_expired_token_is_renewed_once_and_stored():
    grant = Grant()
    tokens = lifecycle(grant, {"access_token": GOOD, "refresh_token": "rt",
                               "access_token_expires_at": time.time() - 5})
    assert tokens.call(lambda t: t).startswith("new-1-")
    assert tokens.token().startswith("new-1-") and grant.calls == 1
    assert tokens.secrets.get("ACCESS_TOKEN").startswith("new-1-")


def test_a_refused_token_is_renewed_once_and_the_request_sent_again():
    grant = Grant()
    tokens = lifecycle(grant, {"access_token": GOOD, "refresh_token": "rt"})
    sent = []

    def send(token):
        sent.append(token)
        if token == GOOD:
            refused(token)
        return "ok"

    assert tokens.call(send) == "ok"
    assert sent[0] == GOOD and sent[1].startswith("new-1-") and grant.calls == 1


def test_a_storm_of_refusals_costs_one_grant_and_fails_every_request_with_one_error():
    grant = Grant(delay=0.05)
    tokens = lifecycle(grant, {"access_token": GOOD, "refresh_token": "rt"})
    sent: list[str] = []
    errors: list[BaseException] = []

    def one():
        try:
            tokens.call(lambda t: sent.append(t) or refused(t))
        except AuthError as exc:
            errors.append(exc)

    threads = [threading.Thread(target=one) for _ in range(64)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert grant.calls == 1
    assert len(errors) == 64
    assert {e.message for e in errors} == {"the access token was rejected after a refresh"}
    assert len({id(e) for e in errors}) == 64  # each thread raises its own copy
    # Once failed, a request is not even sent.
    assert len(sent) <= 2 * 64
    before = len(sent)
    with pytest.raises(AuthError):
        tokens.call(lambda t: sent.append(t))
    assert len(sent) == before


def test_after_the_fetchs_grant_a_refused_token_is_the_profiles_error():
    grant = Grant()
    tokens = lifecycle(grant, {"refresh_token": "rt"})  # no access token: a grant first
    with pytest.raises(AuthError, match="rejected after a refresh"):
        tokens.call(refused)
    assert grant.calls == 1


def test_a_failed_grant_is_not_repeated_by_the_other_requests():
    grant = Grant(error=UnavailableError("could not connect"))
    tokens = lifecycle(grant, {"refresh_token": "rt"})
    for _ in range(5):
        with pytest.raises(UnavailableError, match="could not connect"):
            tokens.token()
    assert grant.calls == 1
    # An explicit refresh (auth refresh) is a new request: one more grant.
    grant.error = None
    assert tokens.renew().startswith("new-2-") and grant.calls == 2


def test_a_token_renewed_by_another_process_is_used_without_a_grant():
    grant = Grant()
    store = Secrets("p", ("ACCESS_TOKEN", "REFRESH_TOKEN"), env={},
                    preset={"access_token": GOOD, "refresh_token": "rt"})
    tokens = TokenLifecycle(store, TokenRules(ANSWER), grant, profile="p")
    other = "other-" + "z" * 20

    def send(token):
        if token == GOOD:
            store.save(access_token=other, access_token_expires_at=time.time() + 600)
            refused(token)
        return token

    assert tokens.call(send) == other and grant.calls == 0


def test_a_token_that_is_the_credential_is_not_renewed_on_a_refusal():
    grant = Grant()
    tokens = lifecycle(grant, {"access_token": GOOD}, renew_on_reject=False,
                       spends_current=True, slot=TokenSlot(refresh=None))
    with pytest.raises(Rejected):
        tokens.call(refused)
    assert grant.calls == 0


def test_a_broken_token_in_the_answer_is_refused_and_never_sent():
    grant = Grant(answer=b'{"access_token": "at-1\\r\\n X-Injected: 1", "expires_in": 60}')
    tokens = lifecycle(grant, {"refresh_token": "rt"})
    sent: list[str] = []
    with pytest.raises(AuthError) as info:
        tokens.call(sent.append)
    assert sent == [] and "line break" in info.value.message
    assert "Injected" not in info.value.message and "at-1" not in info.value.message
    assert tokens.secrets.get("ACCESS_TOKEN") is None


def test_a_keyring_token_with_a_line_break_is_refused_where_it_is_read(monkeypatch):
    class Item:
        def load(self, profile):
            return {"access_token": "at-5\r\n", "refresh_token": "rt"}

    store = Secrets("p", ("ACCESS_TOKEN", "REFRESH_TOKEN"), env={}, keyring=Item())
    with pytest.raises(AuthError) as info:
        store.get("ACCESS_TOKEN")
    assert info.value.message == "the keyring item holds an access token with a line break"
    assert info.value.next_step == "run: balancecli auth login p"
    assert store.get("REFRESH_TOKEN") == "rt"
