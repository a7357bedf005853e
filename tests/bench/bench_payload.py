"""Benchmark: the cost of bounded JSON parsing (models.loads) against plain json.loads.

Usage: python tests/bench/bench_payload.py

Prints microseconds per parse for a typical TradeStation balances answer (3 and 25 accounts),
a 1.4 MB answer of 20,000 objects, and the time to refuse hostile inputs (100,000 levels of
nesting, the 15-byte 1e-999999999, a 10,000-digit integer).
"""

from __future__ import annotations

import json
import sys
import timeit
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from balancecli.core.errors import BadResponseError  # noqa: E402
from balancecli.core.exactjson import dumps_exact  # noqa: E402
from balancecli.core.jsonread import loads  # noqa: E402
from balancecli.demo.server import load_fixture  # noqa: E402


def per_call_us(fn, number: int) -> float:
    return min(timeit.repeat(fn, number=number, repeat=5)) / number * 1e6


def refused_us(body: bytes, number: int = 20) -> float:
    def attempt() -> None:
        try:
            loads(body)
        except BadResponseError:
            return
        raise AssertionError("accepted")

    return per_call_us(attempt, number)


def main() -> None:
    v3 = load_fixture("tradestation_v3.json")
    items = list(v3["balances"].values())
    small = dumps_exact({"Balances": items, "Errors": []}).encode()
    batch = dumps_exact({"Balances": [dict(items[1], AccountID=str(i)) for i in range(25)],
                         "Errors": []}).encode()
    large = json.dumps({"Balances": [{"AccountID": str(i), "CashBalance": "123.45",
                                      "X": {"y": [1, 2, 3]}} for i in range(20000)]}).encode()
    print(f"{'input':40} {'bytes':>9} {'loads µs':>10} {'json.loads µs':>14}")
    for name, body, number in (("TradeStation balances, 3 accounts", small, 2000),
                               ("TradeStation balances, 25 accounts", batch, 300),
                               ("20,000 objects", large, 3)):
        ours = per_call_us(lambda b=body: loads(b), number)
        plain = per_call_us(lambda b=body: json.loads(b, parse_float=Decimal), number)
        print(f"{name:40} {len(body):>9} {ours:>10.1f} {plain:>14.1f}")
    for name, body in (("refuse 100,000 levels of nesting", b"[" * 100_000 + b"]" * 100_000),
                       ("refuse {\"CashBalance\": 1e-999999999}",
                        b'{"CashBalance": 1e-999999999}'),
                       ("refuse a 10,000-digit integer", b'{"x": 1' + b"0" * 9999 + b"}")):
        print(f"{name:40} {len(body):>9} {refused_us(body):>10.1f} {'-':>14}")


if __name__ == "__main__":
    main()
