"""A demo with a past, through the installed command: ``--demo history`` finds about 90 days of
generated snapshots in the demo's own store (the same numbers for the same clock, nothing in
the user's store or a ``--db`` file), ``--demo snapshot`` continues them, and each demo fetch
moves the amounts a little around the sample data. The demo's clock is fixed with
``_BALANCECLI_DEMO_CLOCK`` (tests only), so nothing here depends on today's date."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest

from balancecli.demo.past import moved_rows, past_runs
from balancecli.history import Store
from tests.support.cli import run_cli
from tests.support.demo_rows import sample_rows
from tests.support.history import demo_db
from tests.support.schemas import valid

CLOCK = datetime(2026, 11, 20, 10, 30, tzinfo=UTC)


def at(when: datetime) -> dict[str, str]:
    return {"_BALANCECLI_DEMO_CLOCK": when.strftime("%Y-%m-%dT%H:%M:%SZ"), "TZ": "UTC"}


def jdoc(text: str) -> dict:
    return json.loads(text, parse_float=D)


def undated(text: str) -> str:
    return re.sub(r'"generated_at": "[^"]+"', "", text)


def test_the_demo_history_is_ninety_days_the_same_for_the_same_clock(tmp_path):
    first = run_cli("--demo", "history", "-f", "json", env=at(CLOCK))
    assert first.returncode == 0, first.stderr
    assert first.stderr == ("note: the demo's history starts with 540 generated snapshots (90 "
                            f"days, one every 4 hours) in {demo_db()}\n")
    doc = valid(jdoc(first.stdout))
    assert {s["points"] for s in doc["series"]} == {540} and len(doc["series"]) == 10
    again = run_cli("--demo", "history", "-f", "json", env=at(CLOCK))
    assert again.stderr == "" and undated(again.stdout) == undated(first.stdout)
    other = tmp_path / "another-home"
    other.mkdir()
    elsewhere = run_cli("--demo", "history", "-f", "json",
                        env={**at(CLOCK), "HOME": str(other), "XDG_DATA_HOME": str(other)})
    assert undated(elsewhere.stdout) == undated(first.stdout)  # a fresh store: the same past
    # ... which is demo.past's, moved from the sample data
    expected = [r for r in past_runs(*sample_rows(), end=CLOCK)]
    [ts] = [s for s in doc["series"] if s["account_id"] == "11827392"]
    assert ts["values"][0]["time"] == "2026-08-22T12:00:00.000000Z"
    assert [v["value"] for v in ts["values"]] == [
        next(b.equity for b in run.balances if b.account_id == "11827392") for run in expected]
    assert len({v["value"] for v in ts["values"]}) > 500  # it varies


def test_net_worth_daily_and_a_chart_of_the_demo(tmp_path):
    worth = run_cli("--demo", "history", "--in", "USD", "--every", "1d", "-f", "json",
                    env=at(CLOCK))
    assert worth.returncode == 0, worth.stderr
    runs = valid(jdoc(worth.stdout))["runs"]
    assert len(runs) == 91 and not any(r["incomplete"] for r in runs)
    assert len({r["total"] for r in runs}) == 91
    change = (runs[-1]["total"] - runs[0]["total"]) / runs[0]["total"]
    assert abs(change) < D("0.2")  # wanders around the sample data, plausibly
    chart = run_cli("--demo", "history", "--in", "USD", "--chart",
                    env={**at(CLOCK), "COLUMNS": "100", "LINES": "30"})
    assert chart.returncode == 0, chart.stderr
    assert chart.stdout.startswith("Net worth (USD)\n") and "Change " in chart.stdout


def test_a_demo_snapshot_continues_the_past(tmp_path):
    snap = run_cli("--demo", "snapshot", "-f", "json", env=at(CLOCK))
    assert snap.returncode == 0, snap.stderr
    run = jdoc(snap.stdout)["run"]
    assert (run["id"], run["started_at"]) == (541, "2026-11-20T10:30:00.000000Z")
    balances, assets = moved_rows(*sample_rows(), CLOCK)
    with Store.open(demo_db(), readonly=True) as store:
        stored = {s.row.account_id: s.row for s in store.balances_at(CLOCK)}
        held = store.assets_at(CLOCK)
    for row in balances:
        assert stored[row.account_id].equity == row.equity
    assert sorted(str(a.row.value_usd) for a in held) == sorted(str(a.value_usd) for a in assets)
    tail = jdoc(run_cli("--demo", "history", "-a", "11827392", "--last", "2", "-f", "json",
                        env=at(CLOCK)).stdout)["series"][0]["values"]
    assert [v["time"] for v in tail] == ["2026-11-20T08:00:00.000000Z",
                                         "2026-11-20T10:30:00.000000Z"]
    assert abs(tail[1]["value"] / tail[0]["value"] - 1) < D("0.005")  # no step
    # A day later the gap is filled first (6 runs every 4 hours), then the new run.
    later = run_cli("--demo", "snapshot", "-f", "json", env=at(CLOCK + timedelta(days=1)))
    assert jdoc(later.stdout)["run"]["id"] == 541 + 6 + 1


def test_the_users_own_store_and_a_db_file_get_no_past(tmp_path):
    db = tmp_path / "mine.sqlite3"
    snap = run_cli("--demo", "snapshot", "--db", str(db), env=at(CLOCK))
    assert snap.returncode == 0 and snap.stdout.startswith("snapshot 1 at "), snap.stderr
    for env in ({}, {"BALANCECLI_DB": str(db)}):
        args = ["--demo", "history", "-f", "json"] + ([] if env else ["--db", str(db)])
        doc = jdoc(run_cli(*args, env={**at(CLOCK), **env}).stdout)
        assert {s["points"] for s in doc["series"]} == {1}
    assert not demo_db().exists()
    assert not (demo_db().parent / "history.sqlite3").exists()


def test_each_demo_fetch_moves_the_amounts_around_the_sample_data():
    def equities(env: dict) -> dict[str, D]:
        proc = run_cli("--demo", "balance", "-f", "json", env=env)
        assert proc.returncode == 0, proc.stderr
        return {r["account_id"]: r["equity"] for r in jdoc(proc.stdout)["balances"]}

    still = equities({})  # the tests' default: the sample data as it is
    sample = {b.account_id: b.equity for b in sample_rows()[0]}
    assert still == sample
    now = equities(at(CLOCK))
    assert now == equities(at(CLOCK))  # seeded: the same clock, the same amounts
    assert now == {b.account_id: b.equity for b in moved_rows(*sample_rows(), CLOCK)[0]}
    hour_later = equities(at(CLOCK + timedelta(hours=1)))
    for account in ("11827391", "11827392", "210FUT01", "LP-DEMO", "83268"):
        assert now[account] != sample[account] and hour_later[account] != now[account]
        assert abs(now[account] / sample[account] - 1) < D("0.3")
    assert now["83267"] == sample["83267"]  # a cash account does not wander
    # ... in assets too (its balances are fetched with them, as snapshot does)
    assets = jdoc(run_cli("--demo", "assets", "-f", "json", env=at(CLOCK)).stdout)["assets"]
    assert [a["total"] for a in assets if a["account_id"] == "83267"] == [
        a.total for a in sample_rows()[1] if a.account_id == "83267"]


@pytest.mark.parametrize("args", [["--every", "1d"], ["--in", "USD"], ["--chart"]])
def test_the_readme_demo_commands_show_the_past(args):
    proc = run_cli("--demo", "history", *args, env={**at(CLOCK), "COLUMNS": "120",
                                                    "LINES": "40"})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("\n") > 10
