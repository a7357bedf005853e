"""The history table's trend sparkline and the summary's: a single point is one character
(not a flat bar across the line), and a series stored only for a while stops where its points
stop."""

from __future__ import annotations

from decimal import Decimal as D

from balancecli.history import sparkline
from balancecli.output.series import trend

HOUR = 3600.0


def test_a_single_point_is_one_character():
    # The only run in the store: every series is one point at one instant.
    assert trend([(5 * HOUR, D("48210.55"))], 5 * HOUR, 5 * HOUR) == "▄"
    # One point on an axis shared with longer series: one character in its slice.
    line = trend([(12 * HOUR, D(7))], 0.0, 24 * HOUR)
    assert line == " " * 11 + "▄"
    assert trend([(0.0, D(7))], 0.0, 24 * HOUR) == "▄"
    assert sparkline([D("48210.55")]) == "▄"


def test_a_series_stops_where_its_points_stop():
    # Stored for the first six hours of a day-long axis, then no more: six hours of line.
    samples = [(h * HOUR, D(h)) for h in range(7)]
    line = trend(samples, 0.0, 24 * HOUR)
    assert len(line) == 6 and line[0] == "▁" and line[-1] == "█"
    # A series that reaches the end of the axis still fills it.
    full = trend([(0.0, D(1)), (24 * HOUR, D(2))], 0.0, 24 * HOUR)
    assert full == "▁" * 23 + "█"
