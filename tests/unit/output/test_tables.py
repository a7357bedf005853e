"""The table renderer and display precision, as pure functions.

On a terminal a table fits its width by dropping whole columns, lowest priority first; no cell
of an amount, account id, currency or asset column is ever cut; only names are shortened with
``…``. Amounts show their currency's precision (ISO 4217 minor units for fiat, up to 8 decimals
for anything else, trailing zeros dropped), rounded half up, decimal points aligned.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal as D

import pytest

from balancecli.core import precision
from balancecli.core.models import Asset, Balance
from balancecli.output import render
from balancecli.output.specs import ASSETS, BALANCE
from balancecli.output.table import KEEP, Column, Table, printable, width_of
from balancecli.output.table import render as draw

ANSI = re.compile(r"\x1b\[[0-9;]*m")


# -- precision

@pytest.mark.parametrize("code,units", [
    ("JPY", 0), ("USD", 2), ("usd", 2), ("BHD", 3), ("KWD", 3), ("CLF", 4), ("EUR", 2),
    ("HKD", 2), ("KRW", 0), ("BTC", None), ("USDT", None), ("ETH", None), ("USDC", None),
    ("XAU", None),  # gold: ISO 4217 says "N.A.", so it is shown like crypto
    ("ZZZ", None), ("", None), (None, None),
])
def test_iso_4217_minor_units_from_the_shipped_list(code, units):
    assert precision.minor_units(code) == units


def test_the_fast_reader_agrees_with_the_package_public_table():
    import iso4217

    public = {code: int(entry["CcyMnrUnts"]) for code, entry in iso4217.raw_table.items()
              if code and (entry.get("CcyMnrUnts") or "").isdigit()}
    assert precision._load_minor_units() == public
    assert len(public) > 150


@pytest.mark.parametrize("value,currency,shown", [
    ("23138.3992000534", "USD", "23,138.40"),
    ("0.125", "USD", "0.13"),  # half up, not half even
    ("0.135", "USD", "0.14"),
    ("-0.125", "USD", "-0.13"),  # half up means away from zero on exact Decimals
    ("2.5", "JPY", "3"),
    ("-188750.00", "JPY", "-188,750"),
    ("1.2345", "BHD", "1.235"),
    ("5", "BHD", "5.000"),
    ("1E+3", "USD", "1,000.00"),
    ("-0.001", "USD", "0.00"),  # never "-0.00"
    ("-0.00", "USD", "0.00"),
    ("0.50", "BTC", "0.5"),  # crypto: trailing zeros dropped
    ("2.3000000000000003", "ETH", "2.3"),
    ("0.123456785", "BTC", "0.12345679"),
    ("48000.00", "USDT", "48,000"),
    ("0.000000004", "USDT", "0"),
    ("1250.75", "USDC", "1,250.75"),
    ("0.0095697442964323993262900015", "XYZ", "0.00956974"),  # unknown code: up to 8
    ("0.0095697442964323993262900015", None, "0.00956974"),
])
def test_display_precision_rounds_half_up(value, currency, shown):
    assert precision.display(D(value), currency) == shown


def test_exact_shows_every_digit():
    assert precision.display(D("19638.14545186560000000000"), "USD", exact=True) == \
        "19,638.14545186560000000000"
    assert precision.display(D("-0"), "USD", exact=True) == "0"


def test_ten_thousand_digits_do_not_crash():
    big = D("9" * 10_000 + ".995")
    text = precision.display(big, "USD")
    assert text == "10" + ",000" * 3333 + ".00"  # rounded half up: 10**10000
    assert len(precision.display(big, "USD", exact=True).replace(",", "")) == 10_004
    assert precision.display(D("1E+999999999"), "USD") == "1.000000000000E+999999999"
    assert precision.display(D("1E-999999999"), "USD") == "0.00"
    assert precision.display(D("1E-999999999"), "USD", exact=True) == "1E-999999999"


# -- layout

def _table(names=("Long term", "Binance Spot (demo)")) -> Table:
    cols = [Column("profile", "Profile", priority=3), Column("account_id", "Account"),
            Column("name", "Name", priority=2, shrink=True), Column("currency", "Ccy"),
            Column("cash", "Cash", numeric=True),
            Column("realized_pnl", "Realized P/L", numeric=True, priority=1)]
    rows = [["demo", "11827391", names[0], "USD", "25,731.18", "0.00"],
            ["demo", "rithmic-demo:RITHMIC-PAPER-7", names[1], "USDT", None, "-120.50"]]
    return Table(cols, rows)


def test_off_a_terminal_nothing_is_dropped_and_no_trailing_space():
    out = draw(_table(), width=None)
    assert out.hidden == []
    lines = out.text.splitlines()
    assert lines[0].split() == ["Profile", "Account", "Name", "Ccy", "Cash", "Realized", "P/L"]
    assert set(lines[1]) == {"─"} and len(lines[1]) == out.width
    assert all(line == line.rstrip() for line in lines)
    assert "\x1b" not in out.text


def test_narrow_terminal_drops_whole_columns_lowest_priority_first():
    full = draw(_table(), width=None).width
    out = draw(_table(), width=full - 1)
    # The name can shrink to 10 cells, which is enough: nothing dropped, the name shortened.
    assert out.hidden == [] and "Binance Spot (dem…" in out.text
    out = draw(_table(), width=75)
    assert [c.key for c in out.hidden] == ["realized_pnl"]
    out = draw(_table(), width=60)
    assert [c.key for c in out.hidden] == ["name", "realized_pnl"]
    out = draw(_table(), width=50)
    assert [c.key for c in out.hidden] == ["profile", "name", "realized_pnl"]
    for line in out.text.splitlines():
        assert len(line) <= 50
    assert "rithmic-demo:RITHMIC-PAPER-7" in out.text and "25,731.18" in out.text


def test_kept_columns_are_never_cut_even_when_wider_than_the_terminal():
    out = draw(_table(), width=20)
    assert {c.key for c in out.hidden} == {"profile", "name", "realized_pnl"}
    assert "rithmic-demo:RITHMIC-PAPER-7" in out.text and "25,731.18" in out.text
    assert "USDT" in out.text and "…" not in out.text


def test_wide_shows_everything_past_the_terminal():
    out = draw(_table(), width=20, wide=True)
    assert out.hidden == [] and "Binance Spot (demo)" in out.text


def test_a_narrow_column_dropped_early_comes_back_when_it_fits():
    cols = [Column("a", "A" * 30, priority=5), Column("b", "B", priority=1),
            Column("c", "C" * 30, priority=2), Column("id", "Id")]
    out = draw(Table(cols, [["x", "y", "z", "1"]]), width=40)
    # Dropping b (priority 1) is not enough, c goes too; then b fits again beside a.
    assert [c.key for c in out.hidden] == ["c"]


def test_decimal_points_line_up_and_null_is_a_dash():
    cols = [Column("asset", "Asset"), Column("total", "Total", numeric=True)]
    rows = [["BTC", "0.5"], ["USDT", "1,250.75"], ["JPY", "-188,750"], ["X", None]]
    lines = draw(Table(cols, rows), width=None).text.splitlines()
    points = {line.index(".") for line in lines[2:] if "." in line}
    assert len(points) == 1
    point = points.pop()
    assert lines[4].index("0") == point - 1  # -188,750 : its units digit sits before the point
    assert lines[5].rstrip().endswith("—")


def test_total_label_spans_the_empty_cells_and_is_bold_on_a_terminal():
    t = _table()
    t.totals.append(["Total (2 accounts)", "", "", "USD", "25,731.18*", ""])
    t.caption = "* some accounts did not report this value"
    out = draw(t, width=None)
    lines = out.text.splitlines()
    assert lines[-3] == lines[1]  # a rule before the totals
    assert lines[-2].startswith("Total (2 accounts)   ") and "USD" in lines[-2]
    assert lines[-1] == "* some accounts did not report this value"
    # the label did not widen the Profile column
    assert lines[0].startswith("Profile   Account")
    coloured = draw(t, width=None, color=True).text
    assert "\x1b[1mTotal (2 accounts)\x1b[0m" in coloured
    assert "\x1b[1mCcy\x1b[0m" in coloured  # bold header
    assert "\x1b[31m-120.50\x1b[0m" in coloured  # red negative
    assert "\x1b[2m—\x1b[0m" in coloured  # dim null
    assert ANSI.sub("", coloured) == out.text


def test_total_label_moves_to_the_first_column_still_shown():
    t = _table()
    t.totals.append(["Total (2 accounts)", "", "", "USD", "25,731.18", ""])
    out = draw(t, width=45)
    assert "profile" in [c.key for c in out.hidden]
    assert out.text.splitlines()[-1].startswith("Total (2 accounts)")


def test_wide_characters_count_two_cells():
    assert width_of("长桥证券") == 8
    t = _table(names=("长桥证券账户一号主账户", "x"))
    cut = draw(t, width=draw(t, width=None).width - 6).text
    assert "…" in cut and all(width_of(x) <= draw(t, width=None).width for x in cut.splitlines())


def test_add_column_and_footer_for_other_commands():
    t = _table()
    t.add_column(Column("value", "Value (USD)", numeric=True), ["25,731.18", "1,250.75"])
    t.footer.append("Total 26,981.93 USD (rates: broker)")
    out = draw(t, width=None).text
    assert out.splitlines()[0].endswith("Value (USD)")
    assert out.endswith("Total 26,981.93 USD (rates: broker)\n")
    with pytest.raises(ValueError):
        t.add_column(Column("v", "V"), ["only one"])


# -- terminal safety

def test_control_characters_are_shown_escaped():
    assert printable("Main\x1b[2J") == "Main\\x1b[2J"
    assert printable("a\x1b]8;;https://evil\x07b") == "a\\x1b]8;;https://evil\\x07b"
    assert printable("x\u009b31m") == "x\\x9b31m"  # 8-bit CSI
    assert printable("\u202eevil") == "\\u202eevil"  # right-to-left override
    assert printable("line\nbreak\ttab") == "line\\nbreak\\ttab"
    assert printable("Swing IRA 长桥 …") == "Swing IRA 长桥 …"


def test_table_cells_cannot_drive_the_terminal():
    t = _table(names=("\x1b[2JFAKE 1,000,000.00", "ok"))
    out = draw(t, width=None, color=True).text
    assert "\x1b[2J" not in out and "\\x1b[2JFAKE" in out


# -- the command tables

def _balances():
    common = dict(profile="ts", broker="tradestation")
    return [
        Balance(**common, account_id="1", account_name="Long term", currency="USD",
                cash=D("25731.18"), equity=D("48210.555"), buying_power=D("1")),
        Balance(**common, account_id="2", account_name=None, currency="USD",
                cash=D("0.005"), equity=None, buying_power=D("2")),
        Balance(**common, account_id="3", account_name=None, currency="JPY",
                cash=D("-188750.5"), equity=D("1")),
    ]


def test_balance_table_totals_are_summed_exactly_then_rounded():
    t = render.table(BALANCE, _balances())
    assert [c.key for c in t.columns] == ["profile", "account_id", "account_name", "currency",
                                           "cash", "buying_power", "equity"]
    assert t.rows[0][4:] == ["25,731.18", "1.00", "48,210.56"]
    assert t.rows[2][4:] == ["-188,751", None, "1"]
    # 25731.18 + 0.005 = 25731.185 -> 25,731.19 (rounding each first would give 25,731.18)
    assert t.totals == [["Total (2 accounts)", "", "", "USD", "25,731.19", "3.00",
                         "48,210.56*"]]
    assert t.caption == "* some accounts did not report this value"
    exact = render.table(BALANCE, _balances(), exact=True)
    assert exact.totals[0][4] == "25,731.185"


def test_total_rows_say_their_currency_without_the_currency_column():
    rows = [*_balances(), Balance(profile="ts", broker="tradestation", account_id="4",
                                  currency="JPY", cash=D("10"), equity=D("2"))]
    t = render.table(BALANCE, rows, columns=["account_id", "cash", "equity"])
    assert [r[0] for r in t.totals] == ["Total USD (2 accounts)", "Total JPY (2 accounts)"]
    # Only amounts: a column of its own carries the labels.
    t = render.table(BALANCE, rows, columns=["cash", "equity"])
    assert [c.key for c in t.columns] == ["total", "cash", "equity"]
    assert [r[0] for r in t.totals] == ["Total USD (2 accounts)", "Total JPY (2 accounts)"]
    assert all(r[0] == "" for r in t.rows)
    # The currency first: its cell says it.
    t = render.table(BALANCE, rows, columns=["currency", "cash"])
    assert t.totals == [["USD", "25,731.19"], ["JPY", "-188,741"]]


def _only_available(name: str = "F1") -> Balance:
    return Balance(profile="qt", broker="quantower", account_id=name, currency="USD",
                   available=D("100000.25"))


def test_a_row_with_nothing_in_the_kept_columns_keeps_the_column_of_its_value():
    rows = [*_balances(), _only_available()]
    t = render.table(BALANCE, rows)
    kept = {c.key for c in t.columns if c.priority == KEEP}
    assert {"cash", "equity", "available"} <= kept
    out = draw(t, width=40)
    assert "100,000.25" in out.text and "available" not in {c.key for c in out.hidden}
    # Without such a row, Available may go as before.
    assert "available" not in {c.key for c in render.table(BALANCE, _balances()).columns}
    # A row valued in a column added later (--in's Value) needs no column kept for it.
    t = render.table(BALANCE, rows, covered=[True] * len(rows))
    assert next(c for c in t.columns if c.key == "available").priority < KEEP


def test_a_row_without_its_value_fields_keeps_its_amount_dropped_last():
    rows = [Balance(profile="p", broker="etna", account_id="1", currency="USD",
                    withdrawable=D("5"), realized_pnl=D("1"))]
    t = render.table(BALANCE, rows)
    kept = {c.key for c in t.columns if c.priority == KEEP}
    assert "withdrawable" in kept and "realized_pnl" not in kept
    asset = Asset(profile="q", broker="quantower", account_id="F", asset="USD",
                  available=D("3"), reserved=D("1"))
    t = render.table(ASSETS, [asset])
    assert {c.key for c in t.columns if c.priority == KEEP} >= {"available"}
    assert next(c for c in t.columns if c.key == "reserved").priority < KEEP


def test_stale_rows_get_their_age_in_a_column_kept():
    rows = [_only_available("F1"), _only_available("F2")]
    t = render.table(BALANCE, rows)
    render.mark_stale(t, rows, {("qt", "F2"): 3 * 86400.0})
    keys = [c.key for c in t.columns]
    assert keys[keys.index("account_id") + 1] == "stale"
    cells = [r[keys.index("stale")] for r in t.rows]
    assert cells == ["", ("3.0 days", "33")]
    assert "stale" not in {c.key for c in draw(t, width=30).hidden}


def test_columns_are_named_by_field_or_by_header():
    assert BALANCE.resolve_column("Market value") == "market_value"
    assert BALANCE.resolve_column("market  VALUE") == "market_value"
    assert BALANCE.resolve_column("Equity") == "equity"
    assert BALANCE.resolve_column("As of") == "as_of"
    assert BALANCE.resolve_column("Value (HKD)") == "value"
    assert BALANCE.resolve_column("nonsense") == "nonsense"
    assert ASSETS.resolve_column("USD (broker)") == "value_usd"
    titles = [c.title for c in (*ASSETS.columns, *ASSETS.more)]
    assert len(titles) == len(set(titles)) and "Value (USD)" not in titles


def test_columns_option_picks_and_orders_any_row_field():
    t = render.table(BALANCE, _balances(), columns=["currency", "account_id", "as_of"])
    assert [c.title for c in t.columns] == ["Ccy", "Account", "As of"]
    assert all(c.priority == KEEP for c in t.columns)
    assert t.rows[0] == ["USD", "1", None]
    assert ASSETS.field_names()[:4] == ["profile", "broker", "account_id", "asset"]
    assert "extra" not in BALANCE.field_names()


def test_asset_amounts_use_the_asset_precision():
    rows = [Asset(profile="q", broker="quantower", account_id="A", asset="BTC",
                  total=D("0.50"), value_usd=D("48000.004"), value_btc=D("0.50"),
                  conversion_rate=D("0.0095697442964323993262900015")),
            Asset(profile="q", broker="quantower", account_id="A", asset="JPY",
                  total=D("-188750.00"))]
    t = render.table(ASSETS, rows)
    keys = [c.key for c in t.columns]
    row = dict(zip(keys, t.rows[0], strict=True))
    assert row["total"] == "0.5" and row["value_usd"] == "48,000.00"
    assert row["value_btc"] == "0.5" and row["conversion_rate"] == "0.00956974"
    assert dict(zip(keys, t.rows[1], strict=True))["total"] == "-188,750"


def test_huge_values_in_every_format():
    big = D("9" * 10_000)
    rows = [Balance(profile="p", broker="etna", account_id="1", currency="USD", cash=big)]
    assert ("9,999," in draw(render.table(BALANCE, rows), width=80).text)
    doc = json.loads(render.to_json(BALANCE, rows, [], "2026-01-01T00:00:00Z"),
                     parse_float=D, parse_int=D)
    assert doc["balances"][0]["cash"] == big
    assert render.to_jsonl(rows).count("9") >= 10_000
    assert "9" * 10_000 in render.to_csv(BALANCE, rows)


# -- JSON and CSV

def test_json_escapes_control_characters_and_keeps_unicode():
    rows = [Balance(profile="p", broker="etna", account_id="\x1b[2J1\u009b\u202e",
                    account_name="Swing IRA …", currency="USD")]
    text = render.to_json(BALANCE, rows, [], "2026-01-01T00:00:00Z")
    assert '"account_id": "\\u001b[2J1\\u009b\\u202e"' in text
    assert '"Swing IRA …"' in text  # not \\u2026
    assert json.loads(text)["balances"][0]["account_id"] == "\x1b[2J1\u009b\u202e"


def test_json_is_indented_on_request_with_the_same_content():
    rows = _balances()
    compact = render.to_json(BALANCE, rows, [], "2026-01-01T00:00:00Z")
    pretty = render.to_json(BALANCE, rows, [], "2026-01-01T00:00:00Z", indent=2)
    assert compact.count("\n") == 1 and pretty.count("\n") > 50
    assert json.loads(compact, parse_float=D) == json.loads(pretty, parse_float=D)
    assert '"equity": 48210.555' in pretty


def test_secrets_are_masked_before_encoding_in_every_format():
    from balancecli.core.errors import BrokerError
    from balancecli.core.redact import REDACTOR

    secret = 'pa"ss\\word-xyz'
    REDACTOR.register(secret, "password")
    error = BrokerError(f"login failed for {secret}", profile="p")
    rows = [Balance(profile="p", broker="etna", account_id="1", account_name=secret,
                    currency="USD")]
    outputs = [render.to_json(BALANCE, rows, [error], "2026-01-01T00:00:00Z"),
               render.to_jsonl(rows), render.to_csv(BALANCE, rows),
               draw(render.table(BALANCE, rows), width=None).text]
    for text in outputs:
        assert "pa" + '"' not in text and "ss\\" not in text and "word-xyz" not in text, text
        assert "***" in text


def test_csv_booleans_and_column_choice():
    assert render.csv_value(True) == "true" and render.csv_value(False) == "false"
    text = render.to_csv(BALANCE, _balances(), columns=["account_id", "cash"])
    assert text.splitlines() == ["account_id,cash", "1,25731.18", "2,0.005", "3,-188750.5"]


# -- history tables

def test_trend_is_scaled_over_time_not_over_points():
    from balancecli.output.series import trend

    hour = 3600.0
    # Ten snapshots in the first hour, then one a day later: the burst takes one slice.
    samples = [(i * 360.0, D(100 + i)) for i in range(10)] + [(24 * hour, D(50))]
    line = trend(samples, 0.0, 24 * hour)
    assert len(line) == 24 and line[-1] == "▁"
    assert line[:23] == line[0] * 23 and line[0] == "█"
    # An account first stored half-way starts half-way on the shared axis.
    late = trend([(12 * hour, D(1)), (24 * hour, D(2))], 0.0, 24 * hour)
    assert late.startswith(" " * 11) and late.endswith("█")
    assert trend([], 0.0, 1.0) == "" and trend([(5.0, None)], 0.0, 10.0) == ""


def test_history_times_are_local_and_compact(monkeypatch):
    import time as _time

    from balancecli.output.series import when

    monkeypatch.setenv("TZ", "Asia/Hong_Kong")
    _time.tzset()
    try:
        assert when("2026-11-23T02:15:30.123456Z", utc=False) == "2026-11-23 10:15"
        assert when("2026-11-23T02:15:30.123456Z", utc=True) == "2026-11-23 02:15Z"
    finally:
        monkeypatch.delenv("TZ")
        _time.tzset()


def test_percent_change():
    from balancecli.output.series import percent

    assert percent(D("-9.75"), D("100.00")) == D("-9.7500")
    assert percent(D("10"), D("-50")) == D("20")  # of the size of the first value
    assert percent(D("1"), D("0")) is None and percent(None, D("1")) is None


def test_a_footer_line_wider_than_the_terminal_breaks_after_its_separators():
    from balancecli.output.table import wrap_footer

    line = ("Rates: HKD→USD 0.127459 (ecb 2026-10-30, old); USD values (broker demo-qt "
            "TotalInUSD 2026-12-02)")
    assert wrap_footer(line, None) == [line] and wrap_footer(line, 120) == [line]
    assert wrap_footer(line, 80) == ["Rates: HKD→USD 0.127459 (ecb 2026-10-30, old);",
                                     "  USD values (broker demo-qt TotalInUSD 2026-12-02)"]
    # A part wider than the terminal stays whole (a rate is never cut).
    assert all(";" not in part.rstrip(";") for part in wrap_footer(line, 10))
    assert max(width_of(x) for x in wrap_footer(line, 60)) <= 60
