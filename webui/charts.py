"""Pure chart geometry for server-rendered SVG: stacked bars by error class, axes, legend, sparklines."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Mapping, Sequence

from django.utils.html import format_html_join
from django.utils.safestring import SafeString

from bugbot.render import CLASS_NAMES
from contracts.events import CLASSES

WIDTH, HEIGHT = 960, 260
LEFT, RIGHT, TOP, BOTTOM = 48, 10, 12, 30
MAX_X_LABELS = 8
BAR_FILL = 0.8


def css_class(cls: str) -> str:
    """The CSS class colouring an error class (a fixed set, so nothing from the data reaches the class list)."""
    return f"cls-{cls}" if cls in CLASSES else "cls-other"


def class_name(cls: str) -> str:
    """A reader's name of an error class."""
    return CLASS_NAMES.get(cls, cls)


def class_choices() -> list[tuple[str, str]]:
    """(value, name) of every error class, for filter menus."""
    return [(c, class_name(c)) for c in CLASSES]


def ordered(classes: Sequence[str]) -> list[str]:
    """Classes in the canonical stacking order, unknown ones last."""
    rank = {c: i for i, c in enumerate(CLASSES)}
    return sorted(set(classes), key=lambda c: (rank.get(c, len(rank)), c))


def nice_scale(peak: int) -> tuple[int, int]:
    """(top, step) of a y axis: a 1-2-5 step giving at most five ticks, top a multiple of it covering peak."""
    if peak <= 0:
        return 1, 1
    raw = peak / 4
    magnitude = 10 ** math.floor(math.log10(raw)) if raw >= 1 else 1
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    step = max(1, int(step))
    return step * math.ceil(peak / step), step


@dataclass(frozen=True)
class Bar:
    """One stacked segment."""

    x: float
    y: float
    w: float
    h: float
    css: str
    label: str


@dataclass(frozen=True)
class Tick:
    """An axis tick: its position along the axis and its text."""

    pos: float
    label: str


@dataclass
class Chart:
    """Everything the SVG template and its data table need."""

    title: str
    desc: str
    width: int = WIDTH
    height: int = HEIGHT
    bars: list[Bar] = field(default_factory=list)
    yticks: list[Tick] = field(default_factory=list)
    xticks: list[Tick] = field(default_factory=list)
    legend: list[dict] = field(default_factory=list)
    head: list[str] = field(default_factory=list)
    rows: list[tuple[str, list[int], int]] = field(default_factory=list)
    total: int = 0
    peak: int = 0
    left: int = LEFT
    top: int = TOP
    right: int = WIDTH - RIGHT
    bottom: int = HEIGHT - BOTTOM

    @property
    def ylabel_x(self) -> int:
        """Where the y axis labels end."""
        return self.left - 6

    @property
    def xlabel_y(self) -> int:
        """The baseline of the x axis labels."""
        return self.bottom + 18

    def bars_svg(self) -> SafeString:
        """The bars as SVG (every value escaped; built here because hundreds of template nodes are slow)."""
        return format_html_join("", '<rect class="{}" x="{}" y="{}" width="{}" height="{}"><title>{}</title></rect>',
                                ((b.css, b.x, b.y, b.w, b.h, b.label) for b in self.bars))

    def rows_html(self) -> SafeString:
        """The rows of the chart's data table (its text alternative), escaped."""
        return format_html_join("", '<tr><th scope="row">{}</th>{}<td>{}</td></tr>', (
            (label, format_html_join("", "<td>{}</td>", ((c,) for c in counts)), total)
            for label, counts, total in self.rows))


def stacked(labels: Sequence[tuple[str, str]], series: Mapping[str, Sequence[int]], title: str) -> Chart:
    """Stacked bars: one bar per bucket (labels are (short, long)), one segment per class with a count."""
    classes = ordered([c for c, counts in series.items() if any(counts)])
    n = len(labels)
    totals = [sum(series[c][i] for c in classes) for i in range(n)]
    total, peak = sum(totals), max(totals, default=0)
    top, step = nice_scale(peak)
    chart = Chart(title=title, desc="", total=total, peak=peak)
    plot_w, plot_h = chart.right - chart.left, chart.bottom - chart.top
    slot = plot_w / max(n, 1)
    for i, (_, long_label) in enumerate(labels):
        y = float(chart.bottom)
        for cls in classes:
            count = series[cls][i]
            if not count:
                continue
            h = plot_h * count / top
            y -= h
            chart.bars.append(Bar(round(chart.left + slot * i + slot * (1 - BAR_FILL) / 2, 1), round(y, 1),
                                  round(slot * BAR_FILL, 1), round(h, 1), css_class(cls),
                                  f"{long_label}: {count} {class_name(cls)}"))
    chart.yticks = [Tick(round(chart.bottom - plot_h * v / top, 1), f"{v:,}") for v in range(0, top + 1, step)]
    every = max(1, math.ceil(n / MAX_X_LABELS))
    chart.xticks = [Tick(round(chart.left + slot * (i + 0.5), 1), short) for i, (short, _) in enumerate(labels)
                    if i % every == 0]
    chart.legend = [{"cls": c, "css": css_class(c), "name": class_name(c), "total": sum(series[c])} for c in classes]
    chart.head = [class_name(c) for c in classes]
    chart.rows = [(long_label, [series[c][i] for c in classes], totals[i]) for i, (_, long_label) in enumerate(labels)]
    if n:
        span = f"from {labels[0][1]} to {labels[-1][1]}"
        parts = ", ".join(f"{item['name']} {item['total']:,}" for item in chart.legend) or "no errors"
        chart.desc = f"{total:,} errors {span}, busiest bucket {peak:,}: {parts}."
    return chart


@dataclass(frozen=True)
class Spark:
    """A sparkline's polyline points and its text alternative."""

    points: str
    width: int
    height: int
    desc: str


def sparkline(counts: Sequence[int], width: int = 96, height: int = 22, unit: str = "hour") -> Spark:
    """A polyline through the counts, scaled to the box (a flat line along the bottom when all are zero)."""
    n = len(counts)
    peak = max(counts, default=0) or 1
    pad = 2
    step = (width - 2 * pad) / max(n - 1, 1)
    points = " ".join(f"{round(pad + i * step, 1)},{round(height - pad - (height - 2 * pad) * c / peak, 1)}"
                      for i, c in enumerate(counts))
    desc = f"{sum(counts):,} in {n} {unit}s, at most {max(counts, default=0):,} per {unit}"
    return Spark(points, width, height, desc)
