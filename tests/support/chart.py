"""Reading a chart of ``balancecli.output.chart`` back, as a test (in process or through the
installed ``history --chart`` on a pseudo-terminal) checks it: each panel's rows with their
axis labels and drawn glyphs, the x-axis ticks with their columns, and the summary lines."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

AXIS = re.compile(r"^(?P<label>[ 0-9,.+%-]*) (?P<axis>[┤│])(?P<plot>.*)$")
LINE_GLYPHS = set("─│┤├┼╷╮╭┬╵╯╰┴•")
ANSI = re.compile(r"\x1b\[[0-9;]*m")


@dataclass
class Panel:
    title: str | None
    labels: list[tuple[int, str]] = field(default_factory=list)  # (row, label text)
    rows: list[str] = field(default_factory=list)  # the plot part of each row

    def glyph_rows(self) -> list[int]:
        """Rows on which the line draws something."""
        return [i for i, row in enumerate(self.rows) if set(row) & LINE_GLYPHS]

    def cells(self, glyph: str) -> list[tuple[int, int]]:
        return [(r, c) for r, row in enumerate(self.rows) for c, ch in enumerate(row)
                if ch == glyph]


@dataclass
class Chart:
    panels: list[Panel]
    ticks: list[tuple[int, str]]  # (plot column, label)
    axis_rule: str
    summary: list[str]
    plot_start: int  # the column of the first plot cell in a line


def read_chart(text: str) -> Chart:
    """The chart's parts; a line that is not a plot row before the time axis is a title."""
    lines = ANSI.sub("", text).rstrip("\n").split("\n")
    panels: list[Panel] = []
    index = 0
    while not lines[index].lstrip().startswith("└"):
        match = AXIS.match(lines[index])
        if match is None:
            panels.append(Panel(lines[index]))
        else:
            if not panels:
                panels.append(Panel(None))
            panel = panels[-1]
            if match.group("label").strip():
                panel.labels.append((len(panel.rows), match.group("label").strip()))
            panel.rows.append(match.group("plot"))
        index += 1
    rule = lines[index]
    plot_start = rule.index("└") + 1
    labels_line = lines[index + 1] if index + 1 < len(lines) else ""
    ticks = []
    for column, char in enumerate(rule[plot_start:]):
        if char == "┬":
            rest = labels_line[plot_start + column:]
            ticks.append((column, re.split(r"\s{2,}", rest.strip())[0] if rest else ""))
    for panel in panels:
        width = max(len(r) for r in panel.rows)
        panel.rows = [r.ljust(width) for r in panel.rows]
    return Chart(panels, ticks, rule[plot_start:], lines[index + 2:], plot_start)
