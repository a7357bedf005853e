"""Regenerate balancecli/cli/completion_table.py from the Typer app (what Tab answers from
without importing Typer): python tests/tools/make_completion_table.py

Run it after adding or changing a command, an option, a choice or a completion callback;
tests/unit/cli/test_completion_table.py fails until the checked-in table matches the app.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.support.completion_table import TABLE_FILE, write  # noqa: E402

if __name__ == "__main__":
    changed = write()
    print(f"{'wrote' if changed else 'unchanged:'} {TABLE_FILE.relative_to(TABLE_FILE.parents[2])}")
