"""What the pages say about approval windows: times in the window's own time zone, labelled, and
the banners of windows that are open, switching, or failed."""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass

from django.db.models import Q, QuerySet
from django.utils import timezone

from deployments.models import ManagedApplication
from jit.models import Operation
from jit.window_models import (
    ApprovalWindow,
    ApprovalWindowOccurrence,
    OccurrenceState,
)
from jit.window_times import Slot, zone

S = OccurrenceState
DASH = "\N{EN DASH}"


def local_span(starts_at: dt.datetime, ends_at: dt.datetime, time_zone: str) -> str:
    """ "Sun 13 Dec 02:00-06:00 Europe/Berlin" (with an en dash), or with both dates when it
    ends another day."""
    tz = zone(time_zone)
    start, end = starts_at.astimezone(tz), ends_at.astimezone(tz)
    if start.date() == end.date():
        return f"{start:%a} {start.day} {start:%b %H:%M}{DASH}{end:%H:%M} {time_zone}"
    return f"{start:%a} {start.day} {start:%b %H:%M} {DASH} {end:%a} {end.day} {end:%b %H:%M} {time_zone}"


def local_clock(moment: dt.datetime, time_zone: str) -> str:
    return f"{moment.astimezone(zone(time_zone)):%H:%M}"


@dataclass(frozen=True)
class NextWindow:
    window: ApprovalWindow
    slot: Slot
    under_way: bool

    @property
    def span(self) -> str:
        return local_span(self.slot.starts_at, self.slot.ends_at, self.window.time_zone)

    @property
    def returns_at(self) -> str:
        return local_clock(self.slot.ends_at, self.window.time_zone)


def next_window(
    application: ManagedApplication, now: dt.datetime | None = None
) -> NextWindow | None:
    """The app's next window (or the one under way), from its enabled windows."""
    from jit.windows import next_slot

    now = now or timezone.now()
    found = []
    for window in ApprovalWindow.objects.live().filter(application=application):
        slot = next_slot(window, now)
        if slot is not None and slot.starts_at <= now and _already_over(window, slot):
            # Ended early (a policy change) or failed: what comes next is next week's.
            slot = next_slot(window, slot.ends_at)
        if slot is not None:
            found.append(NextWindow(window, slot, slot.starts_at <= now))
    return min(found, key=lambda n: n.slot.starts_at, default=None)


def _already_over(window: ApprovalWindow, slot: Slot) -> bool:
    return ApprovalWindowOccurrence.objects.filter(
        window=window, starts_at=slot.starts_at, state__in=[S.CLOSED, S.FAILED]
    ).exists()


@dataclass(frozen=True)
class Banner:
    level: str  # Bootstrap alert colour
    title: str
    text: str
    application: ManagedApplication


def banners(
    applications: QuerySet[ManagedApplication],
    now: dt.datetime | None = None,
    *,
    pending_since: dt.datetime | None = None,
) -> list[Banner]:
    """One banner per occurrence that is switching, open, or failed, on these apps; on the page
    of a request pending since `pending_since`, saying whether the window approves it."""
    now = now or timezone.now()
    found = (
        ApprovalWindowOccurrence.objects.needing_attention(now)
        .filter(application__in=applications)
        .select_related("window", "application", "application__customer_tenant")
        .order_by("starts_at")
    )
    shown = []
    for occurrence in found:
        banner = banner_for(occurrence, now)
        opened = occurrence.opened_at
        if pending_since and occurrence.switched and opened and pending_since < opened:
            banner = dataclasses.replace(
                banner,
                text=banner.text + " This request was made before the window opened: Azure "
                "does not approve it automatically, it needs a decision.",
            )
        shown.append(banner)
    return shown


def banner_for(occurrence: ApprovalWindowOccurrence, now: dt.datetime) -> Banner:
    app, tz = occurrence.application, occurrence.window.time_zone
    span = local_span(occurrence.starts_at, occurrence.ends_at, tz)
    end = local_clock(occurrence.ends_at, tz)
    if occurrence.state == S.FAILED and occurrence.failed_step == "open":
        return Banner(
            "warning",
            f"The approval window of {app.name} did not open",
            f"{span}. {occurrence.note} Requests still need an approver's decision.",
            app,
        )
    if occurrence.failed_step == "restore":
        retrying = occurrence.state == S.CLOSING and occurrence.retry_restore_at is not None
        return Banner(
            "danger",
            f"{app.name} is still on automatic approval",
            f"The approval window ({span}) has ended, but manual approval could not be "
            f"restored. {occurrence.note}"
            + (" The portal keeps trying." if retrying else " The portal has stopped trying."),
            app,
        )
    if occurrence.state == S.OPENING:
        return Banner(
            "info",
            f"Approval window of {app.name} opening",
            f"{span}: switching approval to automatic in Azure now.",
            app,
        )
    if occurrence.state == S.CLOSING:
        return Banner(
            "info",
            f"Approval window of {app.name} closing",
            f"The window ({span}) has ended; setting approval back to manual in Azure now.",
            app,
        )
    if not occurrence.switched:
        return Banner(
            "info",
            f"Approval window of {app.name} open until {end} {tz}",
            f"{span}. Approval was already automatic, so the window changed nothing and "
            "restores nothing.",
            app,
        )
    return Banner(
        "warning",
        f"Approval window open on {app.name}: requests are approved automatically",
        f"Window {span}. Requests made now are approved by Azure without a decision; requests "
        f"already pending when it opened still need a decision. Manual approval returns at "
        f"{end} ({tz}).",
        app,
    )


def switched_occurrence(application: ManagedApplication) -> ApprovalWindowOccurrence | None:
    """The occurrence that has (or may have) switched this app's approval to automatic and not
    restored it yet: open, or with its restore pending or failed."""
    return (
        ApprovalWindowOccurrence.objects.filter(application=application, switched=True)
        .filter(
            Q(state__in=[S.OPENING, S.OPEN, S.CLOSING]) | Q(state=S.FAILED, failed_step="restore")
        )
        .order_by("-starts_at")
        .first()
    )


def is_window_operation(operation: Operation) -> bool:
    """Whether an outbox operation is an approval window's switch or restore."""
    return ApprovalWindowOccurrence.objects.filter(
        Q(open_operation=operation) | Q(close_operation=operation)
    ).exists()
