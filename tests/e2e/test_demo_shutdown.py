"""``--demo`` stops its servers all at once: each demo's ExitStack closes in a thread of its
own, and a failure in one is raised only after every other one was closed."""

from __future__ import annotations

import time
from contextlib import ExitStack

import pytest

from balancecli.demo import close_in_parallel, start_demo


def test_demo_stacks_close_in_parallel():
    closed: list[int] = []
    stacks = []
    for i in range(4):
        stack = ExitStack()
        stack.callback(lambda i=i: (time.sleep(0.4), closed.append(i)))
        stacks.append(stack)
    started = time.monotonic()
    close_in_parallel(stacks)
    assert sorted(closed) == [0, 1, 2, 3]
    assert time.monotonic() - started < 1.2  # one after another: 1.6 s


def test_a_failing_close_is_raised_after_the_others_closed():
    closed: list[str] = []
    bad, good = ExitStack(), ExitStack()
    bad.callback(lambda: 1 / 0)
    good.callback(lambda: closed.append("good"))
    with pytest.raises(ZeroDivisionError):
        close_in_parallel([bad, good])
    assert closed == ["good"]


def test_the_demo_servers_stop_when_the_run_ends():
    import socket

    with ExitStack() as stack:
        profiles = start_demo(stack)
        ports = [int(p.settings.get("base_url", p.settings.get("source", ""))
                     .split(":")[2].split("/")[0]) for p in profiles.values()]
        assert len(ports) == 4
    for port in ports:
        with pytest.raises(ConnectionRefusedError), socket.create_connection(("127.0.0.1", port),
                                                                             timeout=2):
            pass
