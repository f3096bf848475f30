"""Mirroring ARM's JIT requests: each state change applied once and audited once, requests made
outside the portal adopted, and requests ARM no longer has closed as `Gone`.

Where the requests live decides who reads them: those in the publisher's JIT scope
(`PUBLISHER_JIT_SCOPE`) are listed in one call with the publisher's automation app; those in a
customer's subscription (the `application` scope, or rows made before the scope existed) with the
portal's service principal in that customer's tenant.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models.functions import Lower
from django.utils import timezone

from accounts.models import Tenant, User
from azure_gateway import AzureGateway, NotFound, publisher_gateway, tenant_gateway
from azure_gateway.records import JitRequestRecord
from deployments.elevations import elevation_upsert
from deployments.models import ManagedApplication
from deployments.permissions.names import fallback_name, principal_names
from jit import audit
from jit.adoption import adopt_requests
from jit.models import (
    AuditEvent,
    Decision,
    JitRequest,
    ScopeListing,
    State,
    state_from_arm,
)
from portal.queueing import publish_on_commit

_TRANSITION_AUDIT = {
    State.PENDING: AuditEvent.Action.SUBMITTED,
    State.DENIED: AuditEvent.Action.DENIED,
    State.CANCELED: AuditEvent.Action.CANCELED,
    State.TIMEOUT: AuditEvent.Action.TIMED_OUT,
    State.FAILED: AuditEvent.Action.REQUEST_FAILED,
}


# Where a request lives ------------------------------------------------------------------------


def publisher_scope() -> str:
    """The resource group the portal creates requests in, or "" for the applications' own."""
    scope = str(settings.PUBLISHER_JIT_SCOPE or "")
    return "" if scope == "application" else scope.rstrip("/")


def request_resource_group(application: ManagedApplication) -> str:
    """The `/subscriptions/…/resourceGroups/…` a new request of this application goes to."""
    return publisher_scope() or (
        f"/subscriptions/{application.subscription_id}/resourceGroups/{application.resource_group}"
    )


def lives_with_customer(jit: JitRequest) -> bool:
    """Whether the request sits in the customer's own subscription (not the publisher's)."""
    prefix = f"/subscriptions/{jit.application.subscription_id}/".lower()
    return jit.arm_id.lower().startswith(prefix)


def reader_gateway(jit: JitRequest) -> AzureGateway:
    """An app-only gateway that may read this request where it lives."""
    if lives_with_customer(jit):
        return tenant_gateway(str(jit.application.customer_tenant.entra_tenant_id))
    return publisher_gateway()


# One request ---------------------------------------------------------------------------------


def jit_request_refresh(
    jit: JitRequest,
    gateway: AzureGateway | None = None,
    *,
    decided_by: User | None = None,
    reason: Any = None,
) -> bool:
    """Read one request from ARM and apply it; a 404 closes the row as `Gone`."""
    owned = gateway is None
    gateway = gateway or reader_gateway(jit)
    try:
        record = gateway.get_jit_request(jit.arm_id)
    except NotFound:
        return jit_request_mark_gone(jit)
    finally:
        if owned:
            gateway.close()
    return jit_request_apply_record(jit=jit, record=record, decided_by=decided_by, reason=reason)


def jit_request_mark_gone(jit: JitRequest) -> bool:
    """ARM no longer has the request: close the row so nothing waits on it any more."""
    with transaction.atomic():
        old_state = JitRequest.objects.filter(pk=jit.pk).values_list("state", flat=True).first()
        if old_state is None or old_state in (State.SUBMITTING, State.GONE):
            return False  # a request still being submitted is not in ARM yet
        if old_state in (State.DENIED, State.CANCELED, State.EXPIRED, State.TIMEOUT, State.FAILED):
            return False  # finished requests may be deleted in ARM; their story is complete
        now = timezone.now()
        fields: dict[str, Any] = {"state": State.GONE, "state_changed_at": now}
        if jit.grant_started_at is not None and jit.grant_ended_at is None:
            fields["grant_ended_at"] = now
        if not JitRequest.objects.filter(pk=jit.pk, state=old_state).update(**fields):
            return False
        jit.refresh_from_db()
        audit.record(
            AuditEvent.Action.REQUEST_GONE,
            application=jit.application,
            jit_request=jit,
            reason="Azure answers that this request does not exist any more.",
            before={"state": old_state},
            after={"state": State.GONE},
        )
    return True


def jit_request_apply_record(
    *,
    jit: JitRequest,
    record: JitRequestRecord,
    decided_by: User | None = None,
    reason: Any = None,
) -> bool:
    """Move the row to ARM's state; each transition is claimed once and audited once."""
    new_state = state_from_arm(record.state)
    now = timezone.now()
    changed = False
    with transaction.atomic():
        old = JitRequest.objects.filter(pk=jit.pk).values_list("state", "arm_state").first()
        if old is None:
            return False
        old_state, old_arm_state = old
        if old_arm_state != record.state:
            JitRequest.objects.filter(pk=jit.pk).update(arm_state=record.state[:40])
        if old_state != new_state:
            fields: dict[str, Any] = {"state": new_state, "state_changed_at": now}
            if old_state == State.SUBMITTING:
                fields.update(start=record.start, duration=record.duration)
            if decided_by is not None:
                fields.update(decided_by_name=str(decided_by), decision_reason=str(reason or ""))
            changed = JitRequest.objects.filter(pk=jit.pk, state=old_state).update(**fields) == 1
            if changed:
                jit.refresh_from_db()
                _audit_transition(jit, old_state, new_state, decided_by, reason, record)
        else:
            jit.arm_state = record.state
        _grant_bookkeeping(jit, record, now, old_state)
    return changed


def _last_changed_by(record: JitRequestRecord) -> str:
    """Whom ARM's `updatedBy` names, when it is not the requester: the last caller to change the
    request. No document says a decision sets it, so it is reported as what it is, not as the
    decider."""
    updater = record.updated_by.oid if record.updated_by else ""
    creator = record.created_by.oid if record.created_by else ""
    if not updater or updater.lower() == creator.lower():
        return ""
    return _principal_label(updater)


def _decision_seen_in_azure(
    jit: JitRequest, new_state: str, record: JitRequestRecord
) -> tuple[str, str]:
    """Who to name, and what to say, for a decision ARM reports but the portal did not make.

    Azure does not say who decided. A decision recorded here (the hand-off channel) is what that
    person said they would do in Azure, so it is quoted as such, never taken for proof.
    """
    updater = _last_changed_by(record)
    noted = f" Azure names {updater} as the last to change the request." if updater else ""
    if not jit.handoff_decision:
        if new_state == State.APPROVED:
            return "Azure (automatic approval or a decision in Azure)", noted.strip()
        return "Azure (a decision in Azure)", noted.strip()
    recorded = "approve" if jit.handoff_decision == Decision.APPROVE else "deny"
    agrees = (new_state == State.APPROVED) == (jit.handoff_decision == Decision.APPROVE)
    if agrees:
        return (
            "Azure",
            f"Confirmed by Azure. {jit.handoff_by_name} recorded in the portal the decision to "
            f"{recorded}: “{jit.handoff_reason}”.{noted}",
        )
    return (
        "Azure",
        f"Azure reports the request {new_state.lower()}, although {jit.handoff_by_name} recorded "
        f"the decision to {recorded} in the portal.{noted}",
    )


def _audit_transition(
    jit: JitRequest,
    old: str,
    new: str,
    decided_by: User | None,
    reason: Any,
    record: JitRequestRecord,
) -> None:
    common: dict[str, Any] = {
        "application": jit.application,
        "jit_request": jit,
        "before": {"state": old},
        "after": {"state": new, "arm_state": jit.arm_state},
    }
    if new in (State.APPROVED, State.DENIED):
        if new == State.APPROVED and old == State.SUBMITTING:
            audit.record(AuditEvent.Action.SUBMITTED, **common)
        action = AuditEvent.Action.APPROVED if new == State.APPROVED else AuditEvent.Action.DENIED
        if decided_by is not None:
            audit.record(action, actor=decided_by, reason=str(reason or ""), **common)
            return
        actor_name, text = _decision_seen_in_azure(jit, new, record)
        if jit.handoff_decision and text.startswith("Confirmed"):
            JitRequest.objects.filter(pk=jit.pk).update(decision_reason=jit.handoff_reason)
            jit.decision_reason = jit.handoff_reason
        audit.record(action, actor_name=actor_name, reason=text, **common)
    elif new == State.CANCELED and decided_by is not None:
        audit.record(
            AuditEvent.Action.CANCELED, actor=decided_by, reason=str(reason or ""), **common
        )
    elif new == State.EXPIRED:
        pass  # recorded as the grant's end
    elif new == State.UNKNOWN:
        audit.record(
            AuditEvent.Action.STATE_UNKNOWN,
            reason=f"Azure reports the state “{jit.arm_state}”, which the portal does not know.",
            **common,
        )
    elif new in _TRANSITION_AUDIT:
        audit.record(_TRANSITION_AUDIT[State(new)], **common)


def _grant_bookkeeping(
    jit: JitRequest, record: JitRequestRecord, now: dt.datetime, old_state: str | None = None
) -> None:
    """Record a grant's start and end once each, from ARM's state and schedule."""
    began = record.start <= now
    started = (
        (jit.state == State.APPROVED and began)
        or jit.state == State.EXPIRED
        or (jit.state == State.CANCELED and old_state == State.APPROVED and began)
    )
    if (
        started
        and jit.grant_started_at is None
        and JitRequest.objects.filter(pk=jit.pk, grant_started_at__isnull=True).update(
            grant_started_at=record.start
        )
    ):
        jit.grant_started_at = record.start
        audit.record(
            AuditEvent.Action.GRANT_STARTED,
            application=jit.application,
            jit_request=jit,
            after={"role": jit.role_name, "until": record.end.isoformat()},
            # Seen late (a reconcile), it is recorded when it happened; but never before the
            # approval, which Azure does not time-stamp: an approval seen now granted it now.
            at=now if old_state == State.PENDING else min(now, record.start),
        )
    ended = jit.state in (State.EXPIRED, State.CANCELED) and jit.grant_started_at is not None
    # An expired grant ended at its scheduled end, however late the portal sees it (an old
    # request adopted today did not run until today); a cancellation is not time-stamped by
    # ARM, so it ended when seen, at the latest at the scheduled end.
    ended_at = min(now, record.end)
    if (
        ended
        and jit.grant_ended_at is None
        and JitRequest.objects.filter(pk=jit.pk, grant_ended_at__isnull=True).update(
            grant_ended_at=ended_at
        )
    ):
        jit.grant_ended_at = ended_at
        audit.record(
            AuditEvent.Action.GRANT_ENDED,
            application=jit.application,
            jit_request=jit,
            reason="Expired" if jit.state == State.EXPIRED else "Revoked or canceled",
            after={"state": jit.state},
        )
        from jit import tasks

        publish_on_commit(tasks.fetch_elevation_activity, str(jit.pk))


def _needs_apply(jit: JitRequest, record: JitRequestRecord, now: dt.datetime) -> bool:
    """Whether applying a listed record could change anything (saves a transaction per row)."""
    if jit.state != state_from_arm(record.state) or jit.arm_state != record.state:
        return True
    if jit.state == State.APPROVED and record.start <= now and jit.grant_started_at is None:
        return True
    return jit.state in (State.EXPIRED, State.CANCELED) and (
        jit.grant_started_at is None or jit.grant_ended_at is None
    )


# Many requests --------------------------------------------------------------------------------


def _apply_listing(
    records: Iterable[JitRequestRecord],
    rows: dict[str, JitRequest],
    apps: dict[str, ManagedApplication],
    gateway: AzureGateway,
) -> int:
    """Apply what one listing answered to the rows that live where it looked; returns how many
    rows changed. Open rows it did not list are read one by one (404: Gone)."""
    now = timezone.now()
    changed = 0
    seen: set[str] = set()
    found: list[tuple[ManagedApplication, JitRequestRecord]] = []
    for record in records:
        key = record.id.lower()
        seen.add(key)
        jit = rows.get(key)
        if jit is None:
            app = apps.get(record.application_id.lower())
            if app is not None:
                found.append((app, record))
            continue
        if _needs_apply(jit, record, now):
            changed += jit_request_apply_record(jit=jit, record=record)
            elevation_upsert(jit.application, record)
    changed += adopt_requests(found, now=now)
    for key, jit in rows.items():
        if key not in seen and jit.state in (State.PENDING, State.APPROVED, State.UNKNOWN):
            changed += jit_request_refresh(jit, gateway)
    return changed


def _apps_named(application_ids: Iterable[str]) -> dict[str, ManagedApplication]:
    wanted = {a.lower() for a in application_ids if a}
    if not wanted:
        return {}
    found = (
        ManagedApplication.objects.annotate(arm_id_lower=Lower("arm_id"))
        .filter(arm_id_lower__in=wanted)
        .select_related("customer_tenant")
    )
    return {app.arm_id.lower(): app for app in found}


def jit_requests_reconcile_scope(
    *, scope: str | None = None, gateway: AzureGateway | None = None
) -> int:
    """Mirror every request in the publisher's JIT scope: one listing, as the publisher's app."""
    scope = (scope if scope is not None else publisher_scope()).rstrip("/")
    if not scope:
        return 0
    owned = gateway is None
    gateway = gateway or publisher_gateway()
    try:
        records = gateway.list_jit_requests_at(scope)
        rows = {
            jit.arm_id.lower(): jit
            for jit in JitRequest.objects.filter(arm_id__istartswith=scope + "/")
            .exclude(state=State.SUBMITTING)
            .select_related("application", "application__customer_tenant")
        }
        apps = _apps_named(r.application_id for r in records if r.id.lower() not in rows)
        changed = _apply_listing(records, rows, apps, gateway)
        ScopeListing.objects.update_or_create(
            scope=scope.lower(),
            defaults={"listed_at": timezone.now(), "requests_listed": len(records)},
        )
        return changed
    finally:
        if owned:
            gateway.close()


def jit_requests_reconcile(*, tenant: Tenant, gateway: AzureGateway | None = None) -> int:
    """Mirror the requests that live in a customer tenant's own subscriptions, as the portal's
    service principal there; returns how many rows changed. Requests made outside the portal
    are added."""
    apps = {
        app.arm_id.lower(): app
        for app in ManagedApplication.objects.filter(customer_tenant=tenant).select_related(
            "customer_tenant"
        )
    }
    subscriptions = sorted({app.subscription_id for app in apps.values()})
    if not subscriptions:
        return 0
    owned = gateway is None
    gateway = gateway or tenant_gateway(str(tenant.entra_tenant_id))
    changed = 0
    try:
        for subscription in subscriptions:
            rows = {
                jit.arm_id.lower(): jit
                for jit in JitRequest.objects.filter(
                    application__customer_tenant=tenant,
                    arm_id__istartswith=f"/subscriptions/{subscription}/",
                )
                .exclude(state=State.SUBMITTING)
                .select_related("application", "application__customer_tenant")
            }
            records = gateway.list_jit_requests_at(f"/subscriptions/{subscription}")
            changed += _apply_listing(records, rows, apps, gateway)
    finally:
        if owned:
            gateway.close()
    return changed


def _principal_label(object_id: str) -> str:
    """Who made a request the portal did not see being made: a name if any is known."""
    if not object_id:
        return "Azure"
    known = principal_names([object_id])
    return known.get(object_id.lower()) or fallback_name(object_id)
