"""The 90-day timeline of standing access and elevations, laid out for an inline SVG."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.utils import timezone

from deployments.models import (
    ManagedApplication,
    PermissionSnapshot,
)

if TYPE_CHECKING:
    pass

from deployments.permissions.names import fallback_name
from deployments.permissions.picture import Picture

TIMELINE_DAYS = 90


@dataclass(frozen=True)
class Bar:
    x: float
    width: float
    css: str
    title: str


@dataclass(frozen=True)
class Lane:
    label: str
    y: float
    bars: list[Bar]


@dataclass(frozen=True)
class Timeline:
    width: int
    height: int
    left: int
    lanes: list[Lane]
    ticks: list[tuple[float, str]]
    changes: list[tuple[float, str]]
    start: dt.datetime
    end: dt.datetime


def timeline_of(
    application: ManagedApplication, picture: Picture, *, now: dt.datetime | None = None
) -> Timeline:
    """Standing access and every elevation of the last 90 days, laid out for an inline SVG."""
    end = now or timezone.now()
    start = end - dt.timedelta(days=TIMELINE_DAYS)
    left, plot, lane_height = 250, 650, 26
    span = (end - start).total_seconds()

    def x_of(moment: dt.datetime) -> float:
        moment = min(max(moment, start), end)
        return round(left + plot * (moment - start).total_seconds() / span, 1)

    lanes: list[Lane] = []
    snapshot = PermissionSnapshot.objects.filter(application=application).first()
    seen = application.first_seen_at if snapshot is None else snapshot.first_seen_at
    installed = picture.state.get("installedAt")
    if installed:
        seen = min(seen, dt.datetime.fromisoformat(installed))
    since = max(start, seen)
    for grant in picture.grants:
        standing = "Reader" if picture.jit_enabled else grant.role_name
        label = f"{_short(grant.principal_name)} · {standing}"
        bar = Bar(
            x_of(since),
            max(2.0, x_of(end) - x_of(since)),
            "standing",
            f"{grant.principal_name}: standing {standing} since {since:%Y-%m-%d}",
        )
        lanes.append(Lane(label, 0, [bar]))
    names = {g.principal_id: g.principal_name for g in picture.grants}
    roles = {g.role_id: g.role_name for g in picture.grants}
    by_pair: dict[tuple[str, str], list[Bar]] = {}
    elevations = application.elevations.since(start).filter(
        state__in=["Approved", "Expired", "Canceled"]
    )
    for elevation in elevations.order_by("start"):
        if elevation.start > end:
            continue
        who = names.get(elevation.principal_id) or fallback_name(elevation.principal_id)
        role = roles.get(elevation.role_definition_id, "a role")
        x = x_of(elevation.start)
        css = "active" if elevation.is_active(end) else "elevation"
        title = (
            f"{who}: {role} from {elevation.start:%Y-%m-%d %H:%M} to {elevation.end:%Y-%m-%d %H:%M}"
            f" UTC ({elevation.state})"
        )
        by_pair.setdefault((who, role), []).append(
            Bar(x, max(3.0, x_of(elevation.end) - x), css, title)
        )
    for (who, role), bars in by_pair.items():
        lanes.append(Lane(f"{_short(who)} · JIT {role}", 0, bars))
    lanes = [Lane(lane.label, 24 + i * lane_height, lane.bars) for i, lane in enumerate(lanes)]
    ticks = [
        (x_of(end - dt.timedelta(days=d)), (end - dt.timedelta(days=d)).strftime("%d %b"))
        for d in range(TIMELINE_DAYS, -1, -15)
    ]
    changes = [
        (x_of(event.at), f"{event.at:%Y-%m-%d}: " + " ".join(event.lines))
        for event in application.permission_changes.filter(at__gte=start)
    ]
    return Timeline(
        width=left + plot + 30,
        height=24 + lane_height * max(1, len(lanes)) + 24,
        left=left,
        lanes=lanes,
        ticks=ticks,
        changes=changes,
        start=start,
        end=end,
    )


def _short(name: str, limit: int = 28) -> str:
    return name if len(name) <= limit else name[: limit - 1].rstrip() + "…"
