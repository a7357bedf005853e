"""Shared helpers of the test suite (not tests): running the installed command, config
files, the real Secret Service, the ECB file, the mono harness, recorded payloads.

Fake brokers live in ``balancecli.demo`` (they are also the demo).
"""

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]  # the repository's top level
FIXTURES = Path(__file__).resolve().parent / "fixtures"  # recorded payloads, tokens scrubbed
