"""Regenerate the README's Reference section from the code: python tests/tools/make_reference.py"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.support.reference import README, updated  # noqa: E402

if __name__ == "__main__":
    README.write_text(updated(README.read_text()))
    print("wrote the Reference section of README.md")
