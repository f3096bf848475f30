"""What an approver should weigh before deciding a JIT request, in words, from the mirror.

Each hint compares the request with what the portal already knows: the role's breadth, this
publisher's usual request length, the customer's business hours, this person's history here,
other elevations at the same time, and what the person's last elevation changed (from the
activity-log copy). A handful of queries per request, whatever the history's size.
"""

from __future__ import annotations

import datetime as dt
import statistics
import zoneinfo
from collections import Counter
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from deployments.models import RoleDefinition
from deployments.permissions import plain_language as pl
from deployments.permissions.names import fallback_name
from deployments.permissions.risk import CONTRIBUTOR, role_breadth
from jit.activity import is_grant_itself
from jit.models import JitRequest, State
from portal.env import BusinessHours

# How many earlier requests "usual" is worked out from, and how many it needs to say anything.
USUAL_SAMPLE = 200
USUAL_MINIMUM = 3
LONGER_THAN_USUAL = 1.5
DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
GRANTED_STATES = (State.APPROVED, State.EXPIRED)


@dataclass(frozen=True)
class Hint:
    level: str  # Bootstrap colour: warning (worth a second look) or info
    title: str
    text: str


def request_hints(jit: JitRequest, *, now: dt.datetime | None = None) -> list[Hint]:
    """The hints for one request, warnings first."""
    now = now or timezone.now()
    hints = [
        _role_breadth(jit),
        _duration_against_usual(jit),
        _business_hours(jit),
        _history_of_the_person(jit),
        *_overlaps(jit, now=now),
        _last_elevation(jit),
    ]
    found = [hint for hint in hints if hint is not None]
    return sorted(found, key=lambda hint: hint.level != "warning")


def _role_breadth(jit: JitRequest) -> Hint:
    guid = jit.role_definition_id.rstrip("/").rsplit("/", 1)[-1].lower()
    role = RoleDefinition.objects.filter(guid=guid).first()
    name = role.name if role else jit.role_name
    if role is None or not role.permissions:
        return Hint(
            "warning",
            f"{name}: role not read yet",
            "The portal has not read this role's definition from Azure, so it cannot say what "
            "it allows; treat it as broad.",
        )
    breadth = role_breadth(role.permissions)
    return Hint(
        "warning" if breadth >= CONTRIBUTOR else "info",
        f"{name} lets the publisher {pl.join_phrases(pl.describe_role(role.permissions))}",
        "On the whole managed resource group, for the length of the elevation.",
    )


def _duration_against_usual(jit: JitRequest) -> Hint | None:
    publisher = jit.application.offer.publisher_tenant_id if jit.application.offer else None
    same_publisher = (
        Q(application__offer__publisher_tenant_id=publisher)
        if publisher
        else Q(application=jit.application)
    )
    earlier = list(
        JitRequest.objects.filter(same_publisher)
        .exclude(pk=jit.pk)
        .exclude(state__in=[State.FAILED, State.SUBMITTING])
        .order_by("-created_at")
        .values_list("duration", flat=True)[:USUAL_SAMPLE]
    )
    if len(earlier) < USUAL_MINIMUM:
        return None
    usual = dt.timedelta(seconds=statistics.median(d.total_seconds() for d in earlier))
    words = pl.describe_duration(jit.duration.total_seconds())
    usual_words = pl.describe_duration(usual.total_seconds())
    basis = f"the median of this publisher's last {len(earlier)} requests"
    if jit.duration > usual * LONGER_THAN_USUAL:
        return Hint(
            "warning",
            f"Longer than usual: {words}",
            f"This publisher's requests usually last {usual_words} ({basis}).",
        )
    if jit.duration * LONGER_THAN_USUAL < usual:
        return Hint("info", f"Shorter than usual: {words}", f"Usually {usual_words} ({basis}).")
    return Hint("info", f"A usual length: {words}", f"Usually {usual_words} ({basis}).")


def _business_hours(jit: JitRequest) -> Hint | None:
    hours: BusinessHours = settings.CUSTOMER_BUSINESS_HOURS
    zone = zoneinfo.ZoneInfo(settings.CUSTOMER_TIME_ZONE)
    start = jit.start.astimezone(zone)
    last_moment = (jit.end - dt.timedelta(microseconds=1)).astimezone(zone)
    if hours.include(start) and hours.include(last_moment) and start.date() == last_moment.date():
        return None
    end = jit.end.astimezone(zone)
    return Hint(
        "warning",
        "Outside business hours",
        f"Runs {DAY_NAMES[start.weekday()]} {start:%H:%M} to {DAY_NAMES[end.weekday()]} "
        f"{end:%H:%M} ({settings.CUSTOMER_TIME_ZONE}); business hours are {hours}.",
    )


def _history_of_the_person(jit: JitRequest) -> Hint:
    earlier = (
        JitRequest.objects.filter(
            application__customer_tenant_id=jit.application.customer_tenant_id,
            principal_id=jit.principal_id,
            created_at__lt=jit.created_at,
        )
        .exclude(pk=jit.pk)
        .order_by("-created_at")
    )
    count = earlier.count()
    who = jit.requester_name or "This person"
    customer = jit.application.customer_tenant
    if count == 0:
        return Hint(
            "warning",
            "First request by this person",
            f"{who} has not asked for elevation at {customer} before.",
        )
    last = earlier.first()
    assert last is not None
    return Hint(
        "info",
        f"Asked {count} time{'s' if count != 1 else ''} before",
        f"{who} last asked on {timezone.localtime(last.created_at):%-d %b %Y} "
        f"({last.get_state_display().lower()}).",
    )


def _overlaps(jit: JitRequest, *, now: dt.datetime) -> list[Hint]:
    others = (
        JitRequest.objects.filter(
            application=jit.application, state__in=[State.APPROVED, State.PENDING]
        )
        .exclude(pk=jit.pk)
        .filter(start__lt=jit.end)
        .order_by("start")[:20]
    )
    hints = []
    for other in others:
        if other.end <= jit.start or other.end <= now:
            continue
        granted = other.state == State.APPROVED
        hints.append(
            Hint(
                "warning",
                "Overlaps another elevation" if granted else "Overlaps another pending request",
                f"{other.requester_name or fallback_name(other.principal_id)} "
                f"{'holds' if granted else 'asks for'} {other.role_name} until "
                f"{timezone.localtime(other.end):%-d %b %H:%M %Z}.",
            )
        )
    return hints


def _last_elevation(jit: JitRequest) -> Hint | None:
    last = (
        JitRequest.objects.filter(
            application=jit.application,
            principal_id=jit.principal_id,
            state__in=GRANTED_STATES,
            grant_started_at__isnull=False,
            created_at__lt=jit.created_at,
        )
        .exclude(pk=jit.pk)
        .order_by("-created_at")
        .first()
    )
    if last is None:
        return None
    when = f"{timezone.localtime(last.start):%-d %b}, {last.role_name}"
    if last.activity_fetched_at is None:
        return Hint(
            "info",
            "Last elevation not reviewed yet",
            f"The activity log of the last elevation ({when}) has not been read yet.",
        )
    # The activity log records writes, each as Started then Succeeded (or Failed): count what
    # succeeded.
    changes = Counter(
        operation
        for operation, at in last.activities.filter(status__iexact="Succeeded").values_list(
            "operation", "at"
        )
        if not is_grant_itself(operation, at, last)
    )
    if not changes:
        return Hint(
            "info",
            "The last elevation changed nothing",
            f"The activity log shows no change during the last elevation ({when}).",
        )
    total = sum(changes.values())
    top = ", ".join(
        f"{pl.describe_action(operation)} ({count} times)"
        if count > 1
        else pl.describe_action(operation)
        for operation, count in changes.most_common(3)
    )
    return Hint(
        "warning" if any(op.lower().endswith("/delete") for op in changes) else "info",
        f"The last elevation made {total} change{'s' if total != 1 else ''}",
        f"During the last elevation ({when}): {top}.",
    )
