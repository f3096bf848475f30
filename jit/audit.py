"""The JIT audit trail: one place that writes its events and queues the mails they call for."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone

from accounts.models import User
from deployments.models import ManagedApplication
from jit.models import AuditEvent, JitRequest

NOTIFIED_ACTIONS = {
    AuditEvent.Action.SUBMITTED,
    AuditEvent.Action.APPROVED,
    AuditEvent.Action.DENIED,
    AuditEvent.Action.GRANT_STARTED,
    AuditEvent.Action.GRANT_ENDED,
    AuditEvent.Action.TIMEOUT_WARNING,
    AuditEvent.Action.TIMED_OUT,
}


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

        tasks.send_notifications.delay_on_commit(event.pk)
    return event
