"""JIT workflows: what people do. Each action is recorded first (row + outbox operation + audit
event in one transaction); `jit.outbox` submits it to ARM as that person and `jit.mirror` brings
ARM's answer back. Decisions go through the customer tenant's approval channel (`jit.handoff` by
default).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import Tenant, User
from azure_gateway.records import JitApprover, JitPolicy
from deployments.models import ManagedApplication
from jit import audit, handoff
from jit.errors import NotAllowed
from jit.mirror import request_resource_group
from jit.models import (
    TIMEOUT_WARNING_BEFORE,
    AuditEvent,
    JitRequest,
    Operation,
    State,
    role_name,
)
from portal.queueing import publish_on_commit


@dataclass(frozen=True)
class EligibleRole:
    principal_id: str
    role_definition_id: str

    @property
    def name(self) -> str:
        return role_name(self.role_definition_id)


# Reads about one application ------------------------------------------------------------------


def eligible_roles(*, application: ManagedApplication, user: User) -> list[EligibleRole]:
    """The app's authorizations naming this person: ARM activates only pairs that list the
    requesting principal itself (membership of a listed group is not enough)."""
    oid = str(user.entra_object_id or "").lower()
    authorizations: Iterable[dict[str, Any]] = (
        application.offer.authorizations if application.offer else []
    ) or []
    roles = [
        EligibleRole(str(a["principalId"]), str(a["roleDefinitionId"]))
        for a in authorizations
        if str(a.get("principalId", "")).lower() == oid and a.get("roleDefinitionId")
    ]
    return sorted(set(roles), key=lambda r: r.name)


def current_policy(application: ManagedApplication) -> JitPolicy:
    return JitPolicy(
        enabled=application.jit_enabled,
        approval_mode=application.jit_approval_mode,
        approvers=tuple(
            JitApprover(
                id=str(a.get("id", "")),
                type=str(a.get("type", "user")).lower(),
                display_name=str(a.get("displayName", "")),
            )
            for a in application.jit_approvers or []
        ),
        maximum_duration=application.jit_maximum_duration,
    )


def policy_json(policy: JitPolicy) -> dict[str, Any]:
    return {
        "approval_mode": policy.approval_mode,
        "approvers": [
            {"id": a.id, "type": a.type, "displayName": a.display_name} for a in policy.approvers
        ],
        "maximum_duration": policy.maximum_duration.total_seconds()
        if policy.maximum_duration
        else None,
    }


def _queue(operation: Operation) -> None:
    from jit import tasks

    publish_on_commit(tasks.submit_operation, operation.pk)


# What people do -------------------------------------------------------------------------------


def jit_request_create(
    *,
    application: ManagedApplication,
    by: User,
    role: EligibleRole,
    start: dt.datetime,
    duration: dt.timedelta,
    justification: str,
    ticket_reference: str = "",
) -> JitRequest:
    """Record a publisher's elevation request and queue its submission to ARM as them."""
    if role not in eligible_roles(application=application, user=by):
        raise NotAllowed("This role is not one you are eligible for on this application.")
    name = f"jit{uuid.uuid4().hex[:7]}"  # ARM: 2-10 characters
    arm_id = (
        f"{request_resource_group(application)}/providers/Microsoft.Solutions/jitRequests/{name}"
    )
    with transaction.atomic():
        jit = JitRequest.objects.create(
            application=application,
            arm_id=arm_id,
            name=name,
            requested_by=by,
            requester_oid=str(by.entra_object_id or ""),
            requester_name=str(by),
            principal_id=role.principal_id,
            role_definition_id=role.role_definition_id,
            start=start,
            duration=duration,
            justification=justification,
            ticket_reference=ticket_reference,
        )
        operation = Operation.objects.create(
            kind=Operation.Kind.CREATE, jit_request=jit, application=application, by=by
        )
        audit.record(
            AuditEvent.Action.REQUESTED,
            application=application,
            actor=by,
            jit_request=jit,
            reason=justification,
            after={
                "role": role.name,
                "start": start.isoformat(),
                "duration": duration.total_seconds(),
                "ticket": ticket_reference,
            },
        )
        _queue(operation)
    return jit


def _live_operation(jit: JitRequest, kind: str) -> Operation | None:
    return jit.operations.filter(kind=kind).exclude(status=Operation.Status.FAILED).first()


def _record_once(
    *,
    jit: JitRequest,
    kind: str,
    by: User,
    payload: dict[str, Any],
    action: str,
    reason: str,
    exclusive: bool = False,
) -> Operation:
    """Create the one live operation of this kind for the request, or return the existing one
    (`exclusive`: refuse instead, for a caller that must not count another's as its own)."""
    try:
        with transaction.atomic():
            operation = Operation.objects.create(
                kind=kind, jit_request=jit, application=jit.application, by=by, payload=payload
            )
            audit.record(
                action,
                application=jit.application,
                actor=by,
                jit_request=jit,
                reason=reason,
                after=payload,
            )
            _queue(operation)
            return operation
    except IntegrityError:
        # Someone (or the same click) got there first: apply nothing more.
        existing = _live_operation(jit, kind)
        if existing is None:
            raise
        if exclusive:
            raise NotAllowed(
                f"{existing.by}'s {existing.get_kind_display().lower()} of this request is "
                "already on its way to Azure."
            ) from None
        return existing


def jit_request_decide(
    *,
    jit_request: JitRequest,
    by: User,
    approve: bool,
    justification: str,
    exclusive: bool = False,
) -> Operation | None:
    """Record an approver's decision through the tenant's approval channel.

    Hand-off (the default): the decision is recorded here and made by the person in the Azure
    portal; nothing is sent to ARM and the request's state still comes from ARM alone. PIM: the
    decision is queued for the PIM approval stage behind the request, once; a second decision
    returns the first one's operation, or, when `exclusive` (a batch, `jit.batch`), is refused.
    """
    if not JitRequest.objects.decidable_by(by).filter(pk=jit_request.pk).exists():
        raise NotAllowed("You cannot decide this request.")
    if not justification.strip():
        # Azure asks for a reason with the decision, approve or deny.
        raise NotAllowed("Give a reason: Azure records it with the decision.")
    tenant = jit_request.application.customer_tenant
    with transaction.atomic():
        operation = None
        if tenant.approval_channel != Tenant.ApprovalChannel.PIM:
            handoff.record_decision(
                jit_request=jit_request, by=by, approve=approve, justification=justification
            )
        else:
            operation = _record_once(
                jit=jit_request,
                kind=Operation.Kind.DECIDE,
                by=by,
                payload={"approve": approve, "justification": justification},
                action=AuditEvent.Action.DECIDED,
                reason=justification,
                exclusive=exclusive,
            )
        audit.flag_if_self_added_approver(jit_request, by)
    return operation


def jit_request_cancel(*, jit_request: JitRequest, by: User) -> Operation:
    """Withdraw a pending (or granted) request, as the publisher side."""
    if not JitRequest.objects.cancelable_by(by).filter(pk=jit_request.pk).exists():
        raise NotAllowed("This request cannot be canceled.")
    return _record_once(
        jit=jit_request,
        kind=Operation.Kind.CANCEL,
        by=by,
        payload={},
        action=AuditEvent.Action.CANCEL_REQUESTED,
        reason="",
    )


def jit_request_revoke(*, jit_request: JitRequest, by: User, reason: str) -> Operation:
    """End a granted request early, as a customer admin."""
    if not JitRequest.objects.revocable_by(by).filter(pk=jit_request.pk).exists():
        raise NotAllowed("This grant cannot be revoked.")
    return _record_once(
        jit=jit_request,
        kind=Operation.Kind.REVOKE,
        by=by,
        payload={"reason": reason},
        action=AuditEvent.Action.REVOKE_REQUESTED,
        reason=reason,
    )


def jit_policy_update(
    *, application: ManagedApplication, by: User, policy: JitPolicy, reason: str = ""
) -> Operation:
    """Record a policy change and queue the PATCH of the app's jitAccessPolicy as the admin.

    An approval window that has the policy switched ends now: the explicit change wins."""
    from jit.window_services import window_yield_to_policy_change

    with transaction.atomic():
        window_yield_to_policy_change(application=application, by=by)
        operation = Operation.objects.create(
            kind=Operation.Kind.POLICY,
            application=application,
            by=by,
            payload=policy_json(policy),
        )
        audit.record(
            AuditEvent.Action.POLICY_CHANGE_REQUESTED,
            application=application,
            actor=by,
            reason=reason,
            before=policy_json(current_policy(application)),
            after=policy_json(policy),
        )
        _queue(operation)
    return operation


def jit_timeout_warnings_send(*, now: dt.datetime | None = None) -> int:
    """Warn approvers once about pending requests within an hour of ARM's 24-hour timeout."""
    now = now or timezone.now()
    count = 0
    due = JitRequest.objects.filter(
        state=State.PENDING,
        timeout_warned_at__isnull=True,
        created_at__lte=now - (dt.timedelta(hours=24) - TIMEOUT_WARNING_BEFORE),
    ).select_related("application")
    for jit in due:
        with transaction.atomic():
            if JitRequest.objects.filter(pk=jit.pk, timeout_warned_at__isnull=True).update(
                timeout_warned_at=now
            ):
                audit.record(
                    AuditEvent.Action.TIMEOUT_WARNING,
                    application=jit.application,
                    jit_request=jit,
                    after={"times_out_at": jit.times_out_at.isoformat()},
                )
                count += 1
    return count
