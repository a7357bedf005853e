"""Validating a JSON document against the schema its own ``schema`` field names, read through
the installed ``balancecli schema NAME`` (as a user's script would)."""

from __future__ import annotations

import json

from jsonschema import Draft202012Validator

from tests.support.cli import run_cli

_CACHE: dict[str, dict] = {}


def valid(doc: dict) -> dict:
    """``doc`` when it validates (AssertionError listing what does not); returns it."""
    name = doc["schema"]
    if name not in _CACHE:
        proc = run_cli("schema", name)
        assert proc.returncode == 0, proc.stderr
        _CACHE[name] = json.loads(proc.stdout)
    errors = [f"{list(e.absolute_path)}: {e.message}"
              for e in Draft202012Validator(_CACHE[name]).iter_errors(doc)]
    assert errors == [], name
    return doc
