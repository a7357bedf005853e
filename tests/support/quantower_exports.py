"""Quantower bridge exports for tests: the recorded fixtures with ``GeneratedAt`` set to a time
relative to the test's own clock, written only-the-owner-writable (the reader refuses an export
that another user can write, whatever the machine's umask)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tests.support import FIXTURES as ALL_FIXTURES

FIXTURES = ALL_FIXTURES / "quantower"
FIXTURE_TIME = '"GeneratedAt": "2026-11-21T19:00:00Z"'


def stamp(when: datetime | None = None) -> str:
    return (when or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")


def write_export(tmp_path: Path, name: str, generated_at: str | None = None) -> tuple[Path, str]:
    """A fixture export with GeneratedAt set (default: now); returns its path and the time."""
    when = generated_at or stamp()
    text = (FIXTURES / name).read_text()
    assert FIXTURE_TIME in text
    path = tmp_path / f"export-{name}"
    path.write_text(text.replace(FIXTURE_TIME, f'"GeneratedAt": "{when}"'))
    path.chmod(0o600)
    return path, when


def load_fixture(name: str) -> dict[str, Any]:
    """A fixture as an object to change (numbers as floats: their repr keeps the digits)."""
    return json.loads((FIXTURES / name).read_text())


def write_document(path: Path, document: dict[str, Any] | str) -> Path:
    """``document`` (JSON text, or an object to dump) as an export file."""
    path.write_text(document if isinstance(document, str) else json.dumps(document))
    path.chmod(0o600)
    return path
