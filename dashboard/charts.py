"""Bar charts as plain inline SVG: geometry computed here, drawn by
templates/dashboard/_bar_chart.html. No JavaScript, no library."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str
    value_text: str
    label_x: float


@dataclass(frozen=True)
class BarChart:
    title: str
    width: int
    height: int
    bars: list[Bar]
    gridlines: list[tuple[float, str]]  # (y, label)
    baseline: float
    label_y: float
    plot_left: float
    show_every: int  # label every n-th bar so narrow charts stay legible

    @property
    def summary(self) -> str:
        return "; ".join(f"{b.label}: {b.value_text}" for b in self.bars)


def _nice_ceiling(value: float) -> float:
    """The smallest 1/2/4/6/8/10 × 10^n at or above `value`, at least 2: axis
    tops whose halves are round too (a count's middle gridline never reads 2.5)."""
    if value <= 2:
        return 2
    power = 10 ** math.floor(math.log10(value))
    return next(step * power for step in (1, 2, 4, 6, 8, 10) if value <= step * power)


def bar_chart(title: str, points: list[tuple[str, float]], fmt=lambda v: f"{v:,.0f}", *,
              width: int = 720, height: int = 220, label_every: int = 1) -> BarChart:
    left, right, top, bottom = 56, 8, 12, 28
    plot_w, plot_h = width - left - right, height - top - bottom
    top_value = _nice_ceiling(max((v for _, v in points), default=0))
    slot = plot_w / max(1, len(points))
    bar_w = max(2.0, slot * 0.68)
    baseline = top + plot_h
    bars = []
    for i, (label, value) in enumerate(points):
        h = plot_h * (value / top_value) if top_value else 0
        x = left + i * slot + (slot - bar_w) / 2
        bars.append(Bar(x=round(x, 1), y=round(baseline - h, 1), width=round(bar_w, 1), height=round(h, 1),
                        label=label, value_text=fmt(value), label_x=round(x + bar_w / 2, 1)))
    grid = [(round(top + plot_h * (1 - f), 1), fmt(top_value * f)) for f in (0, 0.5, 1)]
    return BarChart(title=title, width=width, height=height, bars=bars, gridlines=grid, baseline=baseline,
                    label_y=height - 8, plot_left=left, show_every=max(1, label_every))
