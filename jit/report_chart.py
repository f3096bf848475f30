"""SVG geometry for the elevation report's chart: hours per week, one stacked bar per week with a
segment per role, in the manner of portal/operations/charts.py.

The template (templates/jit/partials/report_chart.html) draws what this returns; colours come from
CSS classes in static/portal/portal.css (`report-role-N`), never style attributes (the CSP).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from portal.operations.charts import Tick, nice_ceiling

WIDTH = 760
HEIGHT = 240
LEFT = 52
RIGHT = 12
TOP = 14
BOTTOM = 34
SERIES_CLASSES = 5  # report-role-0 .. report-role-4, then they repeat


@dataclass(frozen=True)
class Segment:
    x: float
    y: float
    width: float
    height: float
    css: str
    title: str


@dataclass(frozen=True)
class Key:
    role: str
    css: str


@dataclass(frozen=True)
class StackedChart:
    title: str
    segments: list[Segment] = field(default_factory=list)
    keys: list[Key] = field(default_factory=list)
    x_ticks: list[Tick] = field(default_factory=list)
    y_ticks: list[Tick] = field(default_factory=list)
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    right: int = WIDTH - RIGHT
    top: int = TOP
    bottom: int = HEIGHT - BOTTOM


def week_label(begin: dt.datetime, end: dt.datetime) -> str:
    last = end - dt.timedelta(days=1)
    if begin.date() == last.date():
        return f"{begin:%-d %b}"
    return f"{begin:%-d}\u2013{last:%-d %b}"


def hours_label(value: float) -> str:
    return f"{value:g} h"


def stacked_hours(
    title: str,
    weeks: list[tuple[dt.datetime, dt.datetime]],
    roles: list[str],
    hours_by_week: list[dict[str, float]],
) -> StackedChart:
    """One bar per week, one segment per role with hours that week (bottom up in `roles` order)."""
    css = {role: f"report-role-{i % SERIES_CLASSES}" for i, role in enumerate(roles)}
    slot = (WIDTH - RIGHT - LEFT) / max(1, len(weeks))
    totals = [sum(week.values()) for week in hours_by_week]
    ceiling = nice_ceiling(max(totals, default=0))
    plot = HEIGHT - BOTTOM - TOP
    segments, x_ticks = [], []
    for i, ((begin, end), week) in enumerate(zip(weeks, hours_by_week, strict=True)):
        label = week_label(begin, end)
        x_ticks.append(Tick(at=round(LEFT + i * slot + slot / 2, 1), label=label))
        base = float(HEIGHT - BOTTOM)
        for role in roles:
            value = week.get(role, 0.0)
            if value <= 0:
                continue
            height = plot * value / ceiling
            base -= height
            segments.append(
                Segment(
                    x=round(LEFT + i * slot + slot * 0.2, 1),
                    y=round(base, 1),
                    width=round(max(slot * 0.6, 1), 1),
                    height=round(height, 1),
                    css=css[role],
                    title=f"{label}: {role} {value:.1f} h",
                )
            )
    y_ticks = [
        Tick(at=round(HEIGHT - BOTTOM - plot * i / 4, 1), label=hours_label(ceiling * i / 4))
        for i in range(5)
    ]
    return StackedChart(
        title=title,
        segments=segments,
        keys=[Key(role, css[role]) for role in roles],
        x_ticks=x_ticks,
        y_ticks=y_ticks,
    )
