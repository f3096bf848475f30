"""What the elevated principal did in the managed resource group, copied from the activity log."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from azure_gateway import (
    AzureGateway,
    tenant_gateway,
)
from jit.models import (
    ElevationActivity,
    JitRequest,
)
from portal import moments

# ARM's clock and ours differ a little, and the log filter has whole seconds.
ACTIVITY_MARGIN = dt.timedelta(minutes=1)


def elevation_activity_fetch(
    *, jit_request: JitRequest, gateway: AzureGateway | None = None
) -> int:
    """Copy what the elevated principal did in the MRG during the grant from the activity log."""
    jit = jit_request
    if jit.grant_started_at is None or not jit.application.managed_resource_group_id:
        return 0
    # ARM's clock and ours differ a little, and the log filter has whole seconds: widen the
    # window; only the elevated principal's own events are kept.
    start = moments.plus(jit.grant_started_at, -ACTIVITY_MARGIN)
    end = moments.plus(jit.grant_ended_at or jit.end, ACTIVITY_MARGIN)
    owned = gateway is None
    gateway = gateway or tenant_gateway(str(jit.application.customer_tenant.entra_tenant_id))
    added = 0
    try:
        for event in gateway.list_activity(
            jit.application.managed_resource_group_id, start=start, end=end
        ):
            if event.caller_oid.lower() != jit.principal_id.lower():
                continue
            _, created = ElevationActivity.objects.get_or_create(
                jit_request=jit,
                event_id=event.event_id,
                defaults={
                    "at": event.timestamp,
                    "operation": event.operation,
                    "status": event.status,
                    "caller": event.caller,
                    "resource_id": event.resource_id,
                },
            )
            added += created
    finally:
        if owned:
            gateway.close()
    JitRequest.objects.filter(pk=jit.pk).update(activity_fetched_at=timezone.now())
    return added


def is_grant_itself(operation: str, at: dt.datetime, jit: JitRequest) -> bool:
    """Whether an activity-log event is the grant's own role assignment, written at its start
    and removed at its end: not a change the elevated principal made."""
    if not operation.lower().startswith("microsoft.authorization/roleassignments/"):
        return False
    edges = (jit.grant_started_at or jit.start, jit.grant_ended_at or jit.end)
    return any(abs(at - edge) <= ACTIVITY_MARGIN for edge in edges)
