"""SVG geometry for the dashboard's hourly charts: bars for counts, lines for durations.

The template draws what these return (templates/admin/operations/chart.html); colours come from
CSS classes in static/portal/operations.css, never from style attributes (the CSP forbids them).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

WIDTH = 840
HEIGHT = 200
LEFT = 52  # room for the y labels
RIGHT = 12
TOP = 14
BOTTOM = 30  # room for the x labels


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    title: str


@dataclass(frozen=True)
class Line:
    css: str  # a class of operations.css
    points: str  # "x,y x,y ..." for a <polyline>


@dataclass(frozen=True)
class Dot:
    css: str
    x: float
    y: float
    title: str


@dataclass(frozen=True)
class Tick:
    at: float
    label: str


@dataclass(frozen=True)
class Chart:
    title: str
    bars: list[Bar] = field(default_factory=list)
    lines: list[Line] = field(default_factory=list)
    dots: list[Dot] = field(default_factory=list)
    x_ticks: list[Tick] = field(default_factory=list)
    y_ticks: list[Tick] = field(default_factory=list)
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    right: int = WIDTH - RIGHT
    top: int = TOP
    bottom: int = HEIGHT - BOTTOM


def nice_ceiling(value: float) -> float:
    """The smallest 1, 2 or 5 times a power of ten at or above value (1 for nothing)."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if value <= step * power:
            return float(step * power)
    return float(10 * power)  # pragma: no cover - the loop always returns


def _r(value: float) -> float:
    return round(value, 1)


def _x_ticks(hours: Sequence[dt.datetime], slot: float) -> list[Tick]:
    """Midnights for a week, every six hours for shorter windows."""
    every = 24 if len(hours) > 72 else 6
    ticks = []
    for i, hour in enumerate(hours):
        if hour.hour % every == 0:
            label = f"{hour:%a %d}" if every == 24 or hour.hour == 0 else f"{hour:%H:00}"
            ticks.append(Tick(at=_r(LEFT + i * slot), label=label))
    return ticks


def _y_ticks(ceiling: float, label: Callable[[float], str]) -> list[Tick]:
    plot = HEIGHT - BOTTOM - TOP
    return [
        Tick(at=_r(HEIGHT - BOTTOM - plot * i / 4), label=label(ceiling * i / 4)) for i in range(5)
    ]


def _count_label(value: float) -> str:
    return f"{value:g}"


def seconds_label(value: float) -> str:
    if value >= 120:
        return f"{value / 60:g} min"
    return f"{value:g} s"


def bar_chart(
    title: str, hours: Sequence[dt.datetime], counts: Sequence[int], *, noun: str
) -> Chart:
    """One bar per hour; empty hours draw nothing."""
    slot = (WIDTH - RIGHT - LEFT) / max(1, len(hours))
    ceiling = nice_ceiling(max(counts, default=0))
    plot = HEIGHT - BOTTOM - TOP
    bars = []
    for i, (hour, count) in enumerate(zip(hours, counts, strict=True)):
        if not count:
            continue
        height = plot * count / ceiling
        bars.append(
            Bar(
                x=_r(LEFT + i * slot + slot * 0.1),
                y=_r(HEIGHT - BOTTOM - height),
                width=_r(max(slot * 0.8, 1)),
                height=_r(height),
                title=f"{hour:%a %d %b %H:00} UTC: {count} {noun}",
            )
        )
    return Chart(
        title=title,
        bars=bars,
        x_ticks=_x_ticks(hours, slot),
        y_ticks=_y_ticks(ceiling, _count_label),
    )


def line_chart(
    title: str,
    hours: Sequence[dt.datetime],
    series: Sequence[tuple[str, str, Sequence[float | None]]],
) -> Chart:
    """(css class, name, value per hour) lines in seconds; an hour without a value breaks the
    line, and every value also gets a dot (so a lone hour still shows)."""
    slot = (WIDTH - RIGHT - LEFT) / max(1, len(hours))
    values = [v for _css, _name, vs in series for v in vs if v is not None]
    ceiling = nice_ceiling(max(values, default=0))
    plot = HEIGHT - BOTTOM - TOP
    lines, dots = [], []
    for css, name, per_hour in series:
        run: list[str] = []
        for i, (hour, value) in enumerate(zip(hours, per_hour, strict=True)):
            if value is None:
                if len(run) > 1:
                    lines.append(Line(css=css, points=" ".join(run)))
                run = []
                continue
            x = _r(LEFT + i * slot + slot / 2)
            y = _r(HEIGHT - BOTTOM - plot * value / ceiling)
            run.append(f"{x},{y}")
            title = f"{hour:%a %d %b %H:00} UTC: {name} {seconds_label(round(value, 1))}"
            dots.append(Dot(css=css, x=x, y=y, title=title))
        if len(run) > 1:
            lines.append(Line(css=css, points=" ".join(run)))
    return Chart(
        title=title,
        lines=lines,
        dots=dots,
        x_ticks=_x_ticks(hours, slot),
        y_ticks=_y_ticks(ceiling, seconds_label),
    )
