"""The terminal chart: a known series has its highest and lowest points on the right rows and
columns, every axis label is whole and at the currency's precision, ticks are in order on
round local times, and the chart fits 60, 80 and 120 columns and the height it is given;
``hide_amounts`` shows no amount; a single point is one point; the output is plain text."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from balancecli.output.chart import ChartError, Series, draw
from tests.support.chart import LINE_GLYPHS, read_chart

NY = ZoneInfo("America/New_York")
T0 = datetime(2026, 9, 2, 16, 0, tzinfo=UTC)
WIDTHS = (60, 80, 120)

# 90 daily values: a rise to the highest on day 40, a fall to the lowest on day 70, a recovery.
HIGH_DAY, LOW_DAY = 40, 70


def known_series() -> list[tuple[datetime, Decimal]]:
    values = []
    for day in range(90):
        if day <= HIGH_DAY:
            v = 4_800_000 + 2_000 * day
        elif day <= LOW_DAY:
            v = 4_880_000 - 3_500 * (day - HIGH_DAY)
        else:
            v = 4_775_000 + 1_000 * (day - LOW_DAY)
        values.append((T0 + timedelta(days=day), Decimal(v) + Decimal("0.37")))
    return values


def amount(label: str) -> Decimal:
    return Decimal(label.replace(",", "").rstrip("%"))


def row_value(panel, row: int) -> Decimal:
    """The value a row stands for, from the labels around it (labels sit on their rows)."""
    (r0, l0), (r1, l1) = panel.labels[0], panel.labels[1]
    per_row = (amount(l0) - amount(l1)) / (r1 - r0)
    return amount(l0) - per_row * (row - r0)


def nearest_row(panel, value: Decimal) -> int:
    return min(range(len(panel.rows)), key=lambda r: (abs(row_value(panel, r) - value), r))


@pytest.mark.parametrize("width", WIDTHS)
def test_a_known_series_is_drawn_where_it_belongs(width):
    points = known_series()
    text = draw([Series("Net worth (USD)", "USD", points)], width=width, height=20, tz=NY)
    lines = text.splitlines()
    assert len(lines) <= 20 and max(len(line) for line in lines) <= width
    assert "\x1b" not in text
    chart = read_chart(text)
    (panel,) = chart.panels
    assert panel.title == "Net worth (USD)"
    top, bottom = panel.glyph_rows()[0], panel.glyph_rows()[-1]
    assert top == nearest_row(panel, points[HIGH_DAY][1])
    assert bottom == nearest_row(panel, points[LOW_DAY][1])
    plot = len(chart.axis_rule)

    def column(day: int) -> int:
        return round(day / 89 * (plot - 1))

    assert panel.rows[top][column(HIGH_DAY)] in LINE_GLYPHS
    assert panel.rows[bottom][column(LOW_DAY)] in LINE_GLYPHS
    # Only the days whose values round to the top (bottom) row draw on it.
    for row in (top, bottom):
        days = [d for d, (_, v) in enumerate(points) if nearest_row(panel, v) == row]
        drawn = [c for c, ch in enumerate(panel.rows[row]) if ch in LINE_GLYPHS]
        assert column(days[0]) <= drawn[0] and drawn[-1] <= column(days[-1] + 1), (row, days)


@pytest.mark.parametrize("width", WIDTHS)
def test_axis_labels_are_whole_round_and_in_order(width):
    text = draw([Series("Net worth (USD)", "USD", known_series())], width=width, height=20,
                tz=NY)
    chart = read_chart(text)
    (panel,) = chart.panels
    labels = [label for _, label in panel.labels]
    assert all(re.fullmatch(r"\d{1,3}(,\d{3})*\.\d{2}", label) for label in labels), labels
    values = [amount(label) for label in labels]
    steps = {a - b for a, b in zip(values, values[1:], strict=False)}
    assert len(steps) == 1 and values == sorted(values, reverse=True)
    (step,) = steps
    assert step.normalize().as_tuple().digits[0] in (1, 2, 5)
    assert values[0] >= Decimal("4880000.37") and values[-1] <= Decimal("4775000.37")
    rows = [row for row, _ in panel.labels]
    assert len({b - a for a, b in zip(rows, rows[1:], strict=False)}) == 1  # evenly spaced


@pytest.mark.parametrize("width", WIDTHS)
def test_time_ticks_are_whole_in_order_and_on_local_midnights(width):
    points = known_series()
    text = draw([Series("", "USD", points)], width=width, height=16, tz=NY)
    chart = read_chart(text)
    assert len(chart.ticks) >= 2
    columns = [c for c, _ in chart.ticks]
    assert columns == sorted(set(columns))
    labels_line = text.splitlines()[len(chart.panels[0].rows) + 1]
    for column, label in chart.ticks:
        assert labels_line[chart.plot_start + column:].startswith(label)
        assert chart.plot_start + column + len(label) <= width
    plot = len(chart.axis_rule)
    moments = []
    for column, label in chart.ticks:
        day = re.fullmatch(r"(\w{3}) (\d{1,2})", label)
        month = re.fullmatch(r"(\w{3})(?: (\d{4}))?", label)
        assert day or month, label
        name = (day or month).group(1)
        number = "JanFebMarAprMayJunJulAugSepOctNovDec".index(name) // 3 + 1
        midnight = datetime(2026, number, int(day.group(2)) if day else 1, tzinfo=NY)
        moments.append(midnight)
        offset = (midnight - points[0][0]) / (points[-1][0] - points[0][0])
        assert column == round(offset * (plot - 1)), label  # on that local midnight
    assert moments == sorted(moments)


def test_a_chart_is_the_same_text_every_time():
    points = [(T0 + timedelta(days=d), Decimal(v)) for d, v in enumerate(
        ("100.00", "101.50", "99.25", "103.00", "102.10", "104.99"))]
    text = draw([Series("Equity", "USD", points)], width=40, height=16, tz=UTC)
    assert text == draw([Series("Equity", "USD", points)], width=40, height=16, tz=UTC)
    assert text.splitlines() == [
        "Equity",
        "105.00 ┤                               ╷",
        "104.00 ┤                               │",
        "103.00 ┤                   ╭─────╮     │",
        "102.00 ┤      ╭─────╮      │     ╰─────╯",  # 101.50 is half way: the higher row
        "101.00 ┤      │     │      │",
        "100.00 ┤──────╯     │      │",
        " 99.00 ┤            ╰──────╯",
        "       └──┬───────────┬────────────┬────",
        "          Sep 3       Sep 5        Sep 7",
        "First 100.00 (2026-09-02 16:00)",
        "Last 104.99 (2026-09-07 16:00)",
        "Min 99.25 (2026-09-04 16:00)",
        "Max 104.99 (2026-09-07 16:00)",
        "Change +4.99 USD (+4.99%)",
    ]


def test_hide_amounts_shows_percent_of_the_first_value_and_no_amount():
    points = known_series()
    text = draw([Series("Net worth", "USD", points)], width=80, height=20, tz=NY,
                hide_amounts=True)
    chart = read_chart(text)
    labels = [label for _, label in chart.panels[0].labels]
    assert all(re.fullmatch(r"\d+(\.\d+)?%", label) for label in labels), labels
    assert Decimal(100) in {amount(label) for label in labels} or (
        amount(labels[-1]) < 100 < amount(labels[0]))
    # No amount anywhere: neither the values nor their thousands.
    for _, value in points:
        whole = f"{int(value):,}"
        assert whole not in text and whole[:5] not in text
    assert "USD" not in text.replace("Net worth", "")
    assert chart.summary[-1].endswith("Change -0.12%") or "Change -0.12%" in " ".join(
        chart.summary)
    assert "Max 101.67% (2026-10-12 12:00)" in " ".join(chart.summary)


def test_a_single_point_is_one_point():
    text = draw([Series("Equity", "USD", [(T0, Decimal("48210.55"))])], width=60, height=12,
                tz=UTC)
    chart = read_chart(text)
    glyphs = [(r, c, ch) for r, row in enumerate(chart.panels[0].rows)
              for c, ch in enumerate(row) if ch != " "]
    assert len(glyphs) == 1 and glyphs[0][2] == "•" and glyphs[0][1] == 0
    assert chart.ticks == [(0, "2026-09-02 16:00")]
    assert chart.summary == ["One value 48,210.55 (2026-09-02 16:00)"]
    hidden = draw([Series("Equity", "USD", [(T0, Decimal("48210.55"))])], width=60, height=12,
                  tz=UTC, hide_amounts=True)
    assert "48" not in hidden.replace("2026-09-02", "") and "•" in hidden


def test_a_missing_value_breaks_the_line_and_nothing_follows_the_last_point():
    points = [(T0 + timedelta(days=d), None if d == 5 else Decimal(100 + d)) for d in range(10)]
    points += [(T0 + timedelta(days=20), None)]  # known to be missing from day 20 on
    chart = read_chart(draw([Series("", "USD", points)], width=60, height=14, tz=UTC))
    plot = len(chart.axis_rule)
    drawn = sorted({c for r, row in enumerate(chart.panels[0].rows) for c, ch in enumerate(row)
                    if ch != " "})
    gap = set(range(round(5 / 20 * (plot - 1)) + 1, round(6 / 20 * (plot - 1))))
    assert gap and not gap & set(drawn)
    assert drawn[-1] == round(9 / 20 * (plot - 1))  # the last known point, not day 20


def test_a_peak_among_many_points_in_one_column_is_kept():
    start = datetime(2026, 1, 1, tzinfo=UTC)
    points = [(start + timedelta(minutes=15 * i), Decimal(1000 + (i % 7))) for i in range(35_040)]
    points[20_000] = (points[20_000][0], Decimal(2000))
    points[30_000] = (points[30_000][0], Decimal(-500))
    chart = read_chart(draw([Series("", "EUR", points)], width=120, height=30, tz=UTC))
    panel = chart.panels[0]
    assert panel.labels[0][1] == "2,000.00" and panel.labels[-1][1] == "-500.00"
    plot = len(chart.axis_rule)
    assert panel.rows[0][round(20_000 / 35_039 * (plot - 1))] != " "
    assert panel.rows[-1][round(30_000 / 35_039 * (plot - 1))] != " "
    assert [label for _, label in chart.ticks][:2] == ["Jan 2026", "Mar"]


def test_labels_use_the_currency_precision():
    day = [(T0 + timedelta(days=d), Decimal(v)) for d, v in enumerate(("-188750", "-150300"))]
    jpy = read_chart(draw([Series("", "JPY", day)], width=60, height=12, tz=UTC))
    assert all(re.fullmatch(r"-?\d{1,3}(,\d{3})*", label) for _, label in jpy.panels[0].labels)
    btc = [(T0 + timedelta(days=d), Decimal(v)) for d, v in enumerate(("0.5", "0.50000125"))]
    chart = read_chart(draw([Series("", "BTC", btc)], width=60, height=12, tz=UTC))
    assert [label for _, label in chart.panels[0].labels] == ["0.500002", "0.500001", "0.5"]
    assert chart.summary[-1] == "Change +0.00000125 BTC (+0.00%)"  # tiny, but a rise


def test_two_currencies_get_two_panels_over_one_time_axis():
    usd = known_series()
    hkd = [(t, v * 8) for t, v in usd[30:]]
    text = draw([Series("USD", "USD", usd), Series("HKD", "HKD", hkd)], width=80, height=30,
                tz=NY)
    lines = text.splitlines()
    assert len(lines) <= 30 and max(map(len, lines)) <= 80
    chart = read_chart(text)
    assert [p.title for p in chart.panels] == ["USD", "HKD"]
    first_column = [next(c for c in range(len(p.rows[0])) if any(r[c] != " " for r in p.rows))
                    for p in chart.panels]
    plot = len(chart.axis_rule)
    assert first_column == [0, round(30 / 89 * (plot - 1))]
    assert chart.summary[0].startswith("USD:") and any(s.startswith("HKD:")
                                                       for s in chart.summary)


def test_hour_ticks_across_the_fall_back_night_are_in_order():
    start = datetime(2026, 10, 31, 20, tzinfo=UTC)
    points = [(format_stored(start + timedelta(minutes=30 * i)), Decimal(i)) for i in range(40)]
    chart = read_chart(draw([Series("", "USD", points)], width=120, height=12, tz=NY))
    labels = [label for _, label in chart.ticks]
    assert "Nov 1" in labels and len(labels) >= 4
    assert all(re.fullmatch(r"\d\d:00|Nov 1", label) for label in labels)


def format_stored(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def test_colour_only_when_asked_and_the_text_stays_readable():
    points = known_series()
    plain = draw([Series("N", "USD", points)], width=80, height=20, tz=NY)
    coloured = draw([Series("N", "USD", points)], width=80, height=20, tz=NY, color=True)
    assert "\x1b[" not in plain and "\x1b[36m" in coloured and "\x1b[31m" in coloured
    assert read_chart(coloured) == read_chart(plain)


def test_too_small_or_empty_is_a_chart_error():
    points = known_series()
    with pytest.raises(ChartError, match="needs at least 8 lines; 6 given"):
        draw([Series("N", "USD", points)], width=120, height=6)
    with pytest.raises(ChartError, match=r"needs at least 24 columns .*; 20 given"):
        draw([Series("N", "USD", points)], width=20, height=20)
    with pytest.raises(ChartError, match="nothing to draw"):
        draw([Series("N", "USD", [(T0, None)])], width=80, height=20)
    with pytest.raises(ChartError, match="no time zone"):
        draw([Series("N", "USD", [(datetime(2026, 1, 1), Decimal(1))])], width=80, height=20)
