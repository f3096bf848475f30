"""Adopting requests made outside the portal (the Azure portal, the CLI, before the portal was
installed): many rows at once, as the first listing of a large JIT scope finds them.

Each adopted request gets what the one-by-one path gives it: the row as ARM describes it (with
the reason and ticket from its `justification` and `ticket` tags, when it has them), a
"requested" event, and its grant's start and end as far as ARM's state shows them (an expired
grant ended at its scheduled end). A few hundred
inserts in one transaction instead of a dozen statements and three queued tasks per request.

Mail follows what is still going on: an adopted request whose grant is running tells both sides
it started; history (a grant that ended before the portal saw it) is recorded without mail. The
activity of an ended grant is fetched only while the activity log still holds it.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence

from django.db import transaction
from django.utils import timezone

from accounts.models import User
from azure_gateway.records import JitRequestRecord
from deployments.elevations import elevation_values
from deployments.models import Elevation, ManagedApplication
from deployments.permissions.names import fallback_name, principal_names
from jit.models import AuditEvent, JitRequest, State, state_from_arm
from portal.guids import canonical_guid
from portal.queueing import publish_on_commit

# Azure keeps the activity log for 90 days; an older grant has nothing left to copy.
ACTIVITY_LOG_RETENTION = dt.timedelta(days=90)
ADOPTED_JUSTIFICATION = "Requested outside the portal."
BATCH_SIZE = 500


def adopt_requests(
    found: Sequence[tuple[ManagedApplication, JitRequestRecord]], *, now: dt.datetime | None = None
) -> int:
    """Mirror requests the portal has no row for; returns how many it added. A request another
    worker adopted meanwhile is left to that worker (its events are not written twice)."""
    now = now or timezone.now()
    added = 0
    for first in range(0, len(found), BATCH_SIZE):
        added += _adopt_batch(found[first : first + BATCH_SIZE], now)
    return added


def _adopt_batch(
    found: Sequence[tuple[ManagedApplication, JitRequestRecord]], now: dt.datetime
) -> int:
    oids = {canonical_guid(r.created_by.oid) for _, r in found if r.created_by and r.created_by.oid}
    people = {
        canonical_guid(user.entra_object_id): user
        for user in User.objects.filter(entra_object_id__in=oids)
    }
    labels = principal_names(oids)
    rows = [_row(app, record, people, now) for app, record in found]
    with transaction.atomic():
        JitRequest.objects.bulk_create(rows, ignore_conflicts=True)
        ours = set(
            JitRequest.objects.filter(pk__in=[row.pk for row in rows]).values_list("pk", flat=True)
        )
        adopted = [row for row in rows if row.pk in ours]
        _write_events(adopted, labels, now)
        _upsert_elevations(found)
    return len(adopted)


def _row(
    app: ManagedApplication,
    record: JitRequestRecord,
    people: dict[str, User],
    now: dt.datetime,
) -> JitRequest:
    authorization = record.authorizations[0] if record.authorizations else None
    oid = (
        canonical_guid(record.created_by.oid) if record.created_by and record.created_by.oid else ""
    )
    requester = people.get(oid)
    state = state_from_arm(record.state)
    # A grant began when ARM says it is running past its start, or that it expired; an adopted
    # canceled request does not say whether it ever ran, so it records no grant.
    started = (state == State.APPROVED and record.start <= now) or state == State.EXPIRED
    return JitRequest(
        id=uuid.uuid4(),
        application=app,
        arm_id=record.id,
        name=record.name,
        requested_by=requester,
        requester_oid=oid,
        requester_name=str(requester) if requester else "",
        principal_id=canonical_guid(authorization.principal_id) if authorization else "",
        role_definition_id=authorization.role_definition_id if authorization else "",
        start=record.start,
        duration=record.duration,
        state=state,
        arm_state=record.state[:40],
        created_at=min(now, record.start),
        state_changed_at=now,
        # ARM keeps no reason; one given in the request's tags is copied.
        justification=_tag(record, "justification")[:2000] or ADOPTED_JUSTIFICATION,
        ticket_reference=_tag(record, "ticket")[:100],
        grant_started_at=record.start if started else None,
        # An expired grant ended at its scheduled end, however late the portal sees it: an old
        # request adopted today did not run until today.
        grant_ended_at=min(now, record.end) if started and state == State.EXPIRED else None,
    )


def _tag(record: JitRequestRecord, name: str) -> str:
    """A tag's value, the name matched without regard to case (ARM keeps tag names as sent)."""
    for key, value in record.tags.items():
        if key.lower() == name:
            return str(value).strip()
    return ""


def _write_events(adopted: list[JitRequest], labels: dict[str, str], now: dt.datetime) -> None:
    events: list[AuditEvent] = []
    mailed: list[AuditEvent] = []
    fetch_activity: list[str] = []
    for jit in adopted:
        common = {
            "tenant_id": jit.application.customer_tenant_id,
            "application": jit.application,
            "jit_request": jit,
        }
        requester = jit.requester_name or _label(jit.requester_oid, labels)
        events.append(
            AuditEvent(
                at=jit.created_at,
                action=AuditEvent.Action.REQUESTED,
                actor_name=requester,
                reason=jit.justification,
                after={"state": jit.state, "role": jit.role_name},
                **common,
            )
        )
        if jit.grant_started_at is None:
            continue
        started = AuditEvent(
            at=min(now, jit.start),
            action=AuditEvent.Action.GRANT_STARTED,
            actor_name="Azure",
            after={"role": jit.role_name, "until": jit.end.isoformat()},
            **common,
        )
        events.append(started)
        if jit.grant_ended_at is None:
            mailed.append(started)
            continue
        events.append(
            AuditEvent(
                at=jit.grant_ended_at,
                action=AuditEvent.Action.GRANT_ENDED,
                actor_name="Azure",
                reason="Expired",
                after={"state": jit.state},
                **common,
            )
        )
        if jit.end >= now - ACTIVITY_LOG_RETENTION:
            fetch_activity.append(str(jit.pk))
    AuditEvent.objects.bulk_create(events)
    from jit import tasks

    for event in mailed:
        publish_on_commit(tasks.send_notifications, event.pk)
    for jit_request_id in fetch_activity:
        publish_on_commit(tasks.fetch_elevation_activity, jit_request_id)


def _label(object_id: str, labels: dict[str, str]) -> str:
    if not object_id:
        return "Azure"
    return labels.get(object_id.lower()) or fallback_name(object_id)


def _upsert_elevations(found: Sequence[tuple[ManagedApplication, JitRequestRecord]]) -> None:
    bars = [
        Elevation(arm_id=record.id, application=app, **values)
        for app, record in found
        if (values := elevation_values(record)) is not None
    ]
    Elevation.objects.bulk_create(
        bars,
        update_conflicts=True,
        unique_fields=["arm_id"],
        update_fields=[
            "application",
            "principal_id",
            "role_definition_id",
            "state",
            "start",
            "end",
        ],
    )
