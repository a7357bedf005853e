"""Quantower exports the reader must not take at face value: connections that are down,
accounts the bridge could not read, revisions, times in the future, files others can write,
e-mail addresses in names. Files on disk, read by the broker in process."""

from __future__ import annotations

import json
import os
import stat
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from balancecli.brokers.quantower.broker import Quantower
from balancecli.brokers.quantower.export import mask_emails
from balancecli.core.errors import BadResponseError, ConfigError
from balancecli.core.models import row_dict
from tests.support.config import make_ctx
from tests.support.quantower_exports import load_fixture, stamp, write_document, write_export

D = Decimal
FAST = {"max_retries": 0, "retry_backoff": 0.01, "timeout": 5}
IB = ("Quantower connection 'Interactive Brokers' (ib) is ConnectionLost: accounts U1234567, "
      "U7654321 are not in the export")
RITHMIC = ("Quantower connection 'Rithmic of ***' (rithmic) is Fail: its accounts are not in the "
           "export (which ones is not known: the bridge has not seen it connected since it "
           "started)")
BUSY = ("the Quantower bridge could not read this account: its crypto balances kept changing "
        "while being copied (InvalidOperationException, 5 attempts)")


def broker(path: Path, **settings) -> Quantower:
    return Quantower(make_ctx("qt", {"broker": "quantower", "source": str(path), **FAST,
                                     **settings}))


def problems(b: Quantower) -> list[tuple[str, str | None, str]]:
    return [(e.kind, e.account_id, e.message) for e in b.checked_accounts()[1]]


def test_connections_that_are_down_and_unreadable_accounts(tmp_path):
    path, when = write_export(tmp_path, "disconnected.json")
    b = broker(path)
    accounts, errors = b.checked_accounts()
    assert [a.account_id for a in accounts] == ["SPOT-1", "HitBTC"]
    # dxFeed held no account and the backtester's connection holds none of the user's:
    # neither is an error.
    assert [(e.kind, e.exit_code, e.account_id, e.message) for e in errors] == [
        ("unavailable", 5, "BUSY-1", BUSY), ("unavailable", 5, None, IB),
        ("unavailable", 5, None, RITHMIC)]
    assert "connect it again in Quantower" in errors[1].next_step
    assert "run again" in errors[0].next_step
    assert all((e.profile, e.broker) == ("qt", "quantower") for e in errors)
    # The e-mail address in a name is masked; the HitBTC-shaped account has a row without a
    # currency or an amount, and its coins.
    balances = b.balances(accounts)
    assert [(r.account_id, r.account_name, r.currency, r.available) for r in balances.rows] == [
        ("SPOT-1", "*** - EXCHANGE", "USDT", D("1250.75")), ("HitBTC", "HitBTC", None, None)]
    assets = b.assets(accounts)
    assert [(r.account_id, r.asset, r.total) for r in assets.rows] == [
        ("SPOT-1", "BTC", D("0.5")), ("SPOT-1", "USDT", D("1250.75")),
        ("HitBTC", "ETH", D("2.3000000000000003"))]
    assert balances.errors == assets.errors == []
    assert balances.rows[0].as_of == when


@pytest.mark.parametrize("wanted,reported", [
    (["SPOT-1"], [RITHMIC]),  # not IB's: it held neither wanted account
    (["U7654321"], [IB, RITHMIC]),
    (["ib:U1234567"], [IB, RITHMIC]),  # as the id reads when it repeats across connections
])
def test_the_profile_account_filter_decides_which_connections_matter(tmp_path, wanted,
                                                                      reported):
    path, _ = write_export(tmp_path, "disconnected.json")
    got = [m for kind, account_id, m in problems(broker(path, accounts=wanted))
           if account_id is None]
    assert got == reported


def test_a_connection_with_many_accounts_names_five(tmp_path):
    document = load_fixture("disconnected.json")
    document["GeneratedAt"] = stamp()
    document["Connections"][2]["Accounts"] = [f"A{i}" for i in range(8)]
    path = write_document(tmp_path / "export.json", document)
    assert problems(broker(path))[1][2] == (
        "Quantower connection 'Interactive Brokers' (ib) is ConnectionLost: accounts A0, A1, "
        "A2, A3, A4 and 3 more are not in the export")


def test_revision_1_has_no_connections_to_check(tmp_path):
    document = load_fixture("disconnected.json")
    document["GeneratedAt"] = stamp()
    del document["Revision"]  # a revision 1 reader's document: Connections is not read
    path = write_document(tmp_path / "export.json", document)
    assert [(k, a) for k, a, _ in problems(broker(path))] == [("unavailable", "BUSY-1")]
    document["Revision"] = 7  # a later revision only adds: what is known is read
    write_document(path, document)
    assert len(problems(broker(path))) == 3


@pytest.mark.parametrize("change,fragment", [
    ({"Revision": "2"}, "Revision is '2', expected a positive integer"),
    ({"Revision": 0}, "Revision is 0"),
    ({"Revision": True}, "Revision is True"),
    ({"Connections": ...}, "Connections is missing (Revision 2)"),
    ({"Connections": {}}, "Connections is an object, expected a list"),
    ({"Connections": ["ib"]}, "Connections[0] is a string, expected an object"),
    ({"Connections": [{"State": "Connected"}]}, "Connections[0]: Id is missing"),
    ({"Connections": [{"Id": "ib"}]}, "Connections[0] (Id 'ib'): State is missing"),
    ({"Connections": [{"Id": "ib", "State": "Fail", "Accounts": "U1"}]},
     "Accounts is a string, expected a list"),
    ({"Connections": [{"Id": "ib", "State": "Fail", "Accounts": [1]}]},
     "Accounts is a number, expected a string"),
])
def test_malformed_connections_are_a_bad_response(tmp_path, change, fragment):
    document = load_fixture("disconnected.json")
    document["GeneratedAt"] = stamp()
    for key, value in change.items():
        if value is ...:
            del document[key]
        else:
            document[key] = value
    path = write_document(tmp_path / "export.json", document)
    with pytest.raises(BadResponseError) as info:
        broker(path).accounts()
    assert fragment in info.value.message
    assert str(path) in info.value.message


def test_an_error_entry_needs_no_balance(tmp_path):
    document = {"Format": "balancecli.quantower/1", "Revision": 2, "GeneratedAt": stamp(),
                "Connections": [], "Accounts": [
                    {"Id": "E1", "ConnectionId": "c", "Error": "boom for a@b.example"},
                    {"Id": "E1", "ConnectionId": "d", "Error": "again"}]}
    path = write_document(tmp_path / "export.json", document)
    b = broker(path)
    assert b.accounts() == []
    assert problems(b) == [
        ("unavailable", "c:E1", "the Quantower bridge could not read this account: boom for ***"),
        ("unavailable", "d:E1", "the Quantower bridge could not read this account: again")]


# ---------------------------------------------------------------- GeneratedAt in the future

@pytest.mark.parametrize("ahead,shown", [
    (timedelta(days=1), "24 h 0 min"), (timedelta(minutes=6), "6 min")])
def test_an_export_from_the_future_is_a_bad_response(tmp_path, ahead, shown):
    when = stamp(datetime.now(UTC) + ahead + timedelta(seconds=30))  # 30 s: a loaded machine
    path, _ = write_export(tmp_path, "duplicate_ids.json", generated_at=when)
    for max_age in (600, 0):  # whether or not the age is checked
        with pytest.raises(BadResponseError) as info:
            broker(path, max_age=max_age).accounts()
        exc = info.value
        assert (exc.kind, exc.exit_code) == ("bad_response", 6)
        assert f"is dated {shown} in the future (GeneratedAt {when}, this machine's clock " \
               "says 20" in exc.message
        assert "clocks" in exc.next_step


def test_the_end_of_time_is_not_fresh(tmp_path):
    path, _ = write_export(tmp_path, "duplicate_ids.json", generated_at="9999-12-31T23:59:59Z")
    with pytest.raises(BadResponseError, match=r"GeneratedAt 9999-12-31T23:59:59Z"):
        broker(path).accounts()


def test_a_few_minutes_of_clock_skew_are_accepted(tmp_path):
    when = stamp(datetime.now(UTC) + timedelta(minutes=4))
    path, _ = write_export(tmp_path, "duplicate_ids.json", generated_at=when)
    b = broker(path)
    assert b.balances(b.accounts()).rows[0].as_of == when


# ---------------------------------------------------------------- who may write the file

posix = pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")


@posix
@pytest.mark.parametrize("mode,who", [(0o666, "every user"), (0o602, "every user")])
def test_a_file_others_can_write_is_refused(tmp_path, mode, who):
    path, _ = write_export(tmp_path, "duplicate_ids.json")
    path.chmod(mode)
    with pytest.raises(ConfigError) as info:
        broker(path).accounts()
    exc = info.value
    assert exc.exit_code == 3
    assert exc.message == (f"the Quantower export file {path} can be written by {who}, so the "
                           "balances in it cannot be trusted")
    assert exc.next_step == f"run: chmod go-w {path}"
    path.chmod(0o644)
    assert len(broker(path).accounts()) == 3


def other_group() -> int | None:
    """A group id other than our user id that this process may give a file, or None."""
    candidates = range(1, 65534) if os.geteuid() == 0 else os.getgroups()
    return next((g for g in candidates if g != os.geteuid()), None)


@posix
def test_group_write_counts_unless_the_group_is_the_owners_own(tmp_path):
    path, _ = write_export(tmp_path, "duplicate_ids.json")
    path.chmod(0o664)
    if os.geteuid() == 0:
        os.chown(path, -1, 0)
    if path.stat().st_gid == path.stat().st_uid:
        # A group of the user's own (Debian's user private groups, umask 002): nobody else.
        assert len(broker(path).accounts()) == 3
    gid = other_group()
    if gid is None:
        pytest.skip("no second group to give the file")
    os.chown(path, -1, gid)
    with pytest.raises(ConfigError, match=r"can be written by its group"):
        broker(path).accounts()


@posix
def test_a_directory_others_can_write_is_refused_unless_sticky(tmp_path):
    folder = tmp_path / "shared"
    folder.mkdir()
    path, _ = write_export(folder, "duplicate_ids.json")
    folder.chmod(0o777)
    with pytest.raises(ConfigError) as info:
        broker(path).accounts()
    assert info.value.message.startswith(f"the Quantower export directory {folder} can be "
                                         "written by every user")
    assert info.value.next_step == f"run: chmod go-w {folder}"
    folder.chmod(0o777 | stat.S_ISVTX)  # as /tmp: nobody can replace another's file
    assert len(broker(path).accounts()) == 3


# ---------------------------------------------------------------- e-mail addresses

@pytest.mark.parametrize("name,masked", [
    ("jane.roe@example.org - EXCHANGE", "*** - EXCHANGE"),
    ("Joint <j.doe+fx@example.net>", "Joint <***>"),
    ("a@b and c@d.example (x)", "*** and *** (x)"),
    ("@jroe's desk", "@jroe's desk"),  # a handle, no address
    ("Account @ Binance", "Account @ Binance"),
    ("Main", "Main"), (None, None),
])
def test_mask_emails(name, masked):
    assert mask_emails(name) == masked


def test_emails_are_masked_in_names_and_extra_text(tmp_path):
    document = {"Format": "balancecli.quantower/1", "GeneratedAt": stamp(), "Accounts": [
        {"Id": "M1", "Name": "x@y.example", "ConnectionId": "c",
         "ConnectionName": "Feed of x@y.example", "AccountCurrency": "USD", "Balance": 1,
         "Note": "ask x@y.example"}]}
    path = write_document(tmp_path / "export.json", document)
    b = broker(path)
    account = b.accounts()[0]
    assert (account.name, account.extra) == (
        "***", {"ConnectionId": "c", "ConnectionName": "Feed of ***", "Note": "ask ***"})
    dumped = json.dumps([row_dict(r) for r in (*b.balances([account]).rows,
                                               *b.assets([account]).rows)], default=str)
    assert "y.example" not in dumped and dumped.count("***") == 3
