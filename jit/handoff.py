"""The hand-off approval channel, the default for every customer tenant.

No Azure API is documented for a customer to decide a managed application's JIT request: Azure
takes the decision in its own portal (the application's *JIT Access → Approve requests*, or PIM's
*Approve requests → Azure managed applications*). So the customer reviews the request here,
records the decision and reason in the audit trail, and is sent to that blade to make it. The
request's state keeps coming from ARM alone: a recorded decision is what someone said they would
do, and the trail never reports an approval Azure has not confirmed.
"""

from __future__ import annotations

import urllib.parse

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from jit import audit
from jit.errors import NotAllowed
from jit.models import AuditEvent, Decision, JitRequest, State
from portal.queueing import publish_on_commit


def record_decision(
    *, jit_request: JitRequest, by: User, approve: bool, justification: str
) -> None:
    """Record what an approver decided, to be made in Azure; watch ARM for the outcome.

    Recording again (another approver, or a change of mind) replaces the recorded decision; every
    recording stays in the audit trail.
    """
    decision = Decision.APPROVE if approve else Decision.DENY
    with transaction.atomic():
        recorded = JitRequest.objects.filter(pk=jit_request.pk, state=State.PENDING).update(
            handoff_decision=decision,
            handoff_by=by,
            handoff_by_name=str(by),
            handoff_reason=justification,
            handoff_at=timezone.now(),
        )
        if not recorded:
            raise NotAllowed("This request is no longer waiting for a decision.")
        audit.record(
            AuditEvent.Action.DECIDED,
            application=jit_request.application,
            actor=by,
            jit_request=jit_request,
            reason=justification,
            after={
                "decision": decision.value,
                "channel": "handoff",
                "confirmed_by_azure": False,
            },
        )
        from jit import tasks

        publish_on_commit(tasks.watch_request, str(jit_request.pk))
    jit_request.refresh_from_db()


def azure_decision_url(jit: JitRequest) -> str:
    """Where in Azure this request is decided: the application's page in the Azure portal (or
    the emulator's stand-in for its JIT Access blade), from `AZURE_PORTAL_JIT_URL`."""
    application = jit.application
    return str(settings.AZURE_PORTAL_JIT_URL).format(
        tenant_id=application.customer_tenant.entra_tenant_id,
        application_id=application.arm_id,
        application_id_quoted=urllib.parse.quote(application.arm_id, safe=""),
        jit_request_id_quoted=urllib.parse.quote(jit.arm_id, safe=""),
    )
