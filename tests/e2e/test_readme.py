"""Every recipe in the README does what the README says: the sample tables are the real output,
and each shell recipe runs (against the demo brokers) and prints what it claims.

A recipe is quoted here as it stands in the README (the test fails if the README changes it),
then run with ``--demo`` after ``balancecli``.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from pathlib import Path

import pytest

from tests.support import REPO
from tests.support.cli import balancecli_exe, on_terminal, run_cli
from tests.support.history import demo_db, pin_runs

README = (REPO / "README.md").read_text(encoding="utf-8")


def sample(command: str) -> str:
    """The fenced block of the README that starts with ``$ command``."""
    match = re.search(r"```\n\$ " + re.escape(command) + r"\n(.*?)```", README, re.S)
    assert match, f"no README sample for {command!r}"
    return match.group(1)


def shell(recipe: str) -> subprocess.CompletedProcess:
    """Run a README recipe with ``--demo`` (bash, pipefail, the installed command first)."""
    assert recipe in README, f"not in the README any more: {recipe}"
    command = recipe.replace("balancecli ", "balancecli --demo ", 1)
    env = {**os.environ, "PATH": f"{Path(balancecli_exe()).parent}:{os.environ['PATH']}"}
    return subprocess.run(["bash", "-o", "pipefail", "-c", command], capture_output=True,
                          text=True, env=env, timeout=120)


def test_accounts_sample_is_the_real_output():
    assert run_cli("--demo", "accounts").stdout == sample("balancecli --demo accounts")


def test_assets_sample_is_the_real_output():
    command = "balancecli --demo assets -p demo-ts -p demo-qt"
    assert run_cli(*command.split()[1:]).stdout == sample(command)


def test_balance_sample_is_what_a_100_column_terminal_shows():
    out, err, code = on_terminal(["--demo", "--no-color", "balance", "-p", "demo-ts"], 100, {})
    assert code == 0, err
    note = [line for line in err.splitlines() if line.startswith("note: ")]
    assert out + "\n".join(note) + "\n" == sample("balancecli --demo balance -p demo-ts")


def test_usage_error_sample():
    line = "error: --timeout: must be at least 0.1 seconds, got 0 (run: balancecli balance --help)"
    assert f"`{line}`" in README
    proc = run_cli("balance", "--timeout", "0")
    assert (proc.returncode, proc.stderr, proc.stdout) == (2, line + "\n", "")


def test_json_recipes_select_on_numbers():
    proc = shell("balancecli balance -f json | jq -r "
                 "'.balances[] | select(.equity > 50000) | .account_id'")
    assert proc.returncode == 0, proc.stderr
    # (LP-DEMO: 1,254,830.45 HKD of equity; the filter compares numbers, not currencies)
    assert proc.stdout.split() == ["11827392", "210FUT01", "LP-DEMO", "83267", "83268"]
    proc = shell("balancecli assets -f jsonl | jq -c 'select(.asset == \"BTC\")'")
    assert proc.returncode == 0, proc.stderr
    [btc] = proc.stdout.splitlines()
    assert json.loads(btc, parse_float=D)["total"] == D("0.5")


def test_the_select_recipe_works_on_json_and_on_jsonl_as_worded():
    # "`jq '.balances[] | select(.equity > 1000)'` on `-f json`, `jq 'select(.equity > 1000)'`
    # on the rows of `-f jsonl`"
    assert "`jq '.balances[] | select(.equity > 1000)'` on\n`-f json`" in README
    assert "`jq 'select(.equity > 1000)'` on the rows of `-f jsonl`" in README
    env = {**os.environ, "PATH": f"{Path(balancecli_exe()).parent}:{os.environ['PATH']}"}

    def ids(command: str) -> list[str]:
        proc = subprocess.run(["bash", "-o", "pipefail", "-c", command], capture_output=True,
                              text=True, env=env, timeout=120)
        assert proc.returncode == 0, proc.stderr
        decoder, text, found = json.JSONDecoder(), proc.stdout.strip(), []
        while text:  # a stream of pretty-printed objects
            row, end = decoder.raw_decode(text)
            found.append(row["account_id"])
            text = text[end:].strip()
        return found

    on_json = ids("balancecli --demo balance -f json | jq '.balances[] | select(.equity > 1000)'")
    on_jsonl = ids("balancecli --demo balance -f jsonl | jq 'select(.equity > 1000)'")
    assert on_json == on_jsonl and len(on_json) == 7


@pytest.fixture
def demo_history():
    """Two demo snapshots, taken by the real command and pinned three and two days back: the
    README's relative times (``--since 30d``, ``--at 1d``) hold whatever today is."""
    for _ in range(2):
        proc = run_cli("--demo", "snapshot")
        assert proc.returncode == 0, proc.stderr
    now = datetime.now(UTC)
    pin_runs(demo_db(), [now - timedelta(days=3), now - timedelta(days=2)])


@pytest.mark.parametrize("recipe,expect", [
    ("balancecli history --since 30d ", "Trend"),
    ("balancecli history -a 11827392 --field cash ", "-4,210.07"),
    ("balancecli history --at 1d -f json ", '"schema": "balancecli.history.at/1"'),
    ("balancecli history --since 30d -f jsonl | jq 'select(.value > 1000)'", '"value": '),
    ("balancecli history --prune --keep 1y --dry-run ", "nothing to prune"),
    ("balancecli history --prune --keep 6mo --yes ", "2 run(s) kept"),
])
def test_history_recipes(demo_history, recipe, expect):
    proc = shell(recipe.strip())
    assert proc.returncode == 0, proc.stderr
    assert expect in proc.stdout, proc.stdout


# The demo's clock fixed where the README's samples of moving demo numbers were taken.
DEMO_AT = {"_BALANCECLI_DEMO_CLOCK": "2026-11-20T10:30:00Z", "TZ": "UTC"}


@pytest.mark.parametrize(("command", "size"), [
    ("balancecli --demo history --in USD --chart", ("80", "24")),
    ("balancecli --demo history --in USD --every 1w --last 5", ("100", "24")),
    ("balancecli --demo balance --in USD --by broker", ("100", "24")),
])
def test_samples_of_the_moving_demo_are_the_real_output(command, size):
    env = {**DEMO_AT, "COLUMNS": size[0], "LINES": size[1]}
    proc = run_cli(*command.split()[1:], env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == sample(command)


# -- the README's structure: the user's path, the Reference complete ------------------------


def _headings() -> list[str]:
    found, fence = [], False
    for line in README.splitlines():
        if line.startswith("```"):
            fence = not fence
        elif not fence and line.startswith("#"):
            found.append(line)
    return found


def _anchor(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to dashes."""
    text = heading.lstrip("#").strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def test_the_sections_follow_the_users_path():
    top = [h[3:] for h in _headings() if h.startswith("## ")]
    path = ["Quick start", "Install", "Try it", "Connect your brokers", "Daily use", "Scripting",
            "Recording", "Exports", "Recipes", "Troubleshooting", "Reference", "Contributing"]
    at = [next(i for i, title in enumerate(top) if title.startswith(step)) for step in path]
    assert at == sorted(at), top
    brokers = [h[4:] for h in _headings() if h.startswith("### ")]
    connect = brokers[brokers.index("TradeStation"):][:4]
    assert [b.split(" ")[0] for b in connect] == ["TradeStation", "LongPort", "ETNA", "Quantower"]


def test_every_link_inside_the_readme_has_its_heading():
    anchors = {_anchor(h) for h in _headings()}
    links = set(re.findall(r"\]\(#([^)]+)\)", README))
    assert links and not links - anchors, sorted(links - anchors)


def test_the_readme_cites_nothing_outside_the_project():
    """Every document the README names is one of the repository's, and it numbers no tracker
    entry: a reader has all it points at."""
    # The brokers' public documents stay: an address, or a path "in `owner/repository`".
    text = re.sub(r"https?://\S+", "", README)
    named = set(re.findall(r"[\w./-]+\.md\b(?!` in `)", text))
    assert named and all((REPO / name).is_file() for name in named), sorted(named)
    assert not re.search(r"(?i)\bissues?[ -]?#?\d+", README)


def test_every_setting_of_every_broker_is_in_the_reference():
    from balancecli.brokers import NAMES, broker_class
    from balancecli.brokers.base import COMMON_SETTINGS

    rows = re.findall(r"^\| ([\w ]+) \| `(\w+)` \|", README, re.M)
    documented: dict[str, set[str]] = {}
    for broker, key in rows:
        documented.setdefault(broker, set()).add(key)
    assert documented.get("every broker") == set(COMMON_SETTINGS)
    for name in NAMES:
        assert documented.get(name) == set(broker_class(name).settings), name


def test_every_environment_variable_is_in_the_reference():
    from tests.support import REPO

    table = README[README.index("### Environment variables"):README.index("### Exit codes")]
    read = set()
    for path in (REPO / "balancecli").rglob("*.py"):
        read |= set(re.findall(r"\bBALANCECLI_[A-Z_]*[A-Z]\b", path.read_text()))
    internal = {"BALANCECLI_COMPLETE", "BALANCECLI_COMP_LINE", "BALANCECLI_COMP_WORDBREAKS",
                "BALANCECLI_WATCH_MIN_SECONDS"}  # Tab's protocol; the tests' --watch minimum
    # a profile's secret (BALANCECLI_TS_REFRESH_TOKEN in a docstring) is the pattern's
    secrets = {v for v in read if re.match(r"BALANCECLI_(TS|QT|LP|ETNA)_", v)}
    for variable in sorted(read - internal - secrets):
        assert f"`{variable}`" in table, variable
    assert "`BALANCECLI_<PROFILE>_<FIELD>`" in table
