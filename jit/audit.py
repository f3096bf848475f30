"""The JIT audit trail: one place that writes its events and queues the mails they call for."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone

from accounts.models import User
from deployments.models import ManagedApplication
from jit.models import AuditEvent, JitRequest
from portal.queueing import publish_on_commit

NOTIFIED_ACTIONS = {
    AuditEvent.Action.SUBMITTED,
    AuditEvent.Action.APPROVED,
    AuditEvent.Action.DENIED,
    AuditEvent.Action.GRANT_STARTED,
    AuditEvent.Action.GRANT_ENDED,
    AuditEvent.Action.TIMEOUT_WARNING,
    AuditEvent.Action.TIMED_OUT,
    AuditEvent.Action.SELF_ADDED_APPROVER,
    AuditEvent.Action.WINDOW_NOTICE,
    AuditEvent.Action.WINDOW_CANCELED,
    AuditEvent.Action.WINDOW_OPEN_FAILED,
    AuditEvent.Action.WINDOW_RESTORE_FAILED,
}
# A decision by someone who put themselves on the app's approvers this recently is flagged.
SELF_ADDED_APPROVER_WINDOW = dt.timedelta(days=7)


def record(
    action: str,
    *,
    application: ManagedApplication,
    actor: User | None = None,
    actor_name: str = "",
    jit_request: JitRequest | None = None,
    reason: str = "",
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    at: dt.datetime | None = None,
) -> AuditEvent:
    """Append one event; call inside the transaction of the change it records."""
    event = AuditEvent.objects.create(
        at=at or timezone.now(),
        action=action,
        actor=actor,
        actor_name=actor_name or (str(actor) if actor else "Azure"),
        tenant_id=application.customer_tenant_id,
        application=application,
        jit_request=jit_request,
        reason=reason,
        before=before or {},
        after=after or {},
    )
    if action in NOTIFIED_ACTIONS:
        from jit import tasks

        publish_on_commit(tasks.send_notifications, event.pk)
    return event


def flag_if_self_added_approver(jit: JitRequest, decider: User) -> AuditEvent | None:
    """Flag a decision whose maker added themselves to the app's approvers shortly before.

    Allowed, because who approves is the customer's own policy; but the other approvers hear of
    it and the trail shows it. Seen only for policy changes made through the portal: a change made
    directly in Azure names nobody.
    """
    from portal.guids import canonical_guid

    if not decider.entra_object_id:
        return None
    oid = canonical_guid(decider.entra_object_id)
    changes = AuditEvent.objects.filter(
        application=jit.application,
        actor=decider,
        action=AuditEvent.Action.POLICY_CHANGED,
        at__gte=timezone.now() - SELF_ADDED_APPROVER_WINDOW,
    ).order_by("-at")
    for change in changes:
        before = {canonical_guid(a.get("id")) for a in change.before.get("approvers") or []}
        after = {canonical_guid(a.get("id")) for a in change.after.get("approvers") or []}
        if oid in after and oid not in before:
            return record(
                AuditEvent.Action.SELF_ADDED_APPROVER,
                application=jit.application,
                actor=decider,
                jit_request=jit,
                reason=(
                    f"{decider} added themselves to the approvers of {jit.application.name} "
                    f"on {change.at:%Y-%m-%d %H:%M} UTC, then decided this request."
                ),
                after={"policy_change_event": change.pk},
            )
    return None
