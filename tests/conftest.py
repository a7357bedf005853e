"""Hermetic tests: every test gets its own HOME, XDG dirs and keyring backend.

By default the keyring is keyring's failing backend, so no test touches a real keyring by
accident; tests that need one select it explicitly (see e2e/test_keyring.py).

Where a test goes: ``unit/<layer>/`` for one layer's code in process, ``brokers/<broker>/`` for
a broker against its fake over real sockets, ``e2e/`` for the installed command run as a user
runs it. Helpers shared by tests live in ``tests/support/`` (no test file imports another);
the fake brokers are ``balancecli.demo``. Every test that runs the installed command, wherever
it stands, carries the ``e2e`` marker (``pytest -m "not e2e"`` runs the in-process tests only).
"""

from __future__ import annotations

import inspect
import os
import types

import pytest

from tests.support.config import FAST, make_ctx

FAIL_BACKEND = "keyring.backends.fail.Keyring"
# The demo as its sample data (no motion, no generated past), so that tests of --demo output
# stay exact, module-scoped fixtures included; the tests of the demo's motion and past fix
# its clock instead (a time in _BALANCECLI_DEMO_CLOCK), or unset it to see the real clock.
DEMO_STILL = {"_BALANCECLI_DEMO_CLOCK": "still"}
os.environ.update(DEMO_STILL)


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for var, sub in (("XDG_CONFIG_HOME", "config"), ("XDG_DATA_HOME", "data"),
                     ("XDG_CACHE_HOME", "cache"), ("XDG_STATE_HOME", "state")):
        (home / sub).mkdir()
        monkeypatch.setenv(var, str(home / sub))
    for name in list(os.environ):
        if name.startswith("BALANCECLI_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", FAIL_BACKEND)
    for name, value in DEMO_STILL.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.delenv("NO_COLOR", raising=False)
    import keyring.core

    from balancecli import credentials as secrets

    keyring.core._keyring_backend = None  # re-resolve the backend from the environment
    secrets._REPLACED.clear()  # a token replaced in one test is not the next test's
    yield home
    keyring.core._keyring_backend = None


@pytest.fixture
def ctx_factory():
    return make_ctx


@pytest.fixture
def ts_fake():
    from balancecli.demo.tradestation import FakeTradeStation

    fake = FakeTradeStation().start()
    yield fake
    fake.stop()


@pytest.fixture
def ts_profile(ts_fake):
    """(settings, env secrets) of a v3 profile named 'ts' at the fake, with a live token."""
    from balancecli.demo.tradestation import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET

    access, refresh = ts_fake.issue()
    settings = {"broker": "tradestation", "base_url": ts_fake.url,
                "token_url": ts_fake.url + "/oauth/token", **FAST}
    env = {"BALANCECLI_TS_ACCESS_TOKEN": access, "BALANCECLI_TS_REFRESH_TOKEN": refresh,
           "BALANCECLI_TS_CLIENT_ID": DEMO_CLIENT_ID,
           "BALANCECLI_TS_CLIENT_SECRET": DEMO_CLIENT_SECRET}
    return settings, env


# The helpers that start the installed command: a test calling one of them (directly or through
# a function of its module) is an end-to-end test.
_RUNNERS = {"run_cli", "on_terminal", "balancecli_exe", "Terminal", "Cli", "shell"}


def _runs_the_command(function: types.FunctionType, module: types.ModuleType,
                      seen: set[str] | None = None) -> bool:
    seen = seen if seen is not None else set()
    names = set(function.__code__.co_names)
    for const in function.__code__.co_consts:  # nested functions and lambdas
        if isinstance(const, types.CodeType):
            names |= set(const.co_names)
    if names & _RUNNERS:
        return True
    for name in names - seen:
        seen.add(name)
        helper = getattr(module, name, None)
        if inspect.isfunction(helper) and helper.__module__ == module.__name__ and \
                _runs_the_command(helper, module, seen):
            return True
    return False


def pytest_collection_modifyitems(config, items):
    for item in items:
        function = getattr(item, "function", None)
        in_e2e = "/e2e/" in str(item.path).replace(os.sep, "/")
        fixtures = set(getattr(item, "fixturenames", ()))
        if in_e2e or (function is not None and _runs_the_command(function, item.module)) \
                or fixtures & {"cli_run"}:
            item.add_marker(pytest.mark.e2e)
