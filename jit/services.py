"""JIT workflows. A person's action is recorded first (row + outbox operation + audit event in one
transaction) and a task submits it to ARM as that person; ARM's answer is mirrored back by
`jit.mirror`. Decisions go through the customer tenant's approval channel (`jit.handoff` by
default).
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from accounts.models import Tenant, User
from accounts.tokens import SignInRequired, TokenServiceUnavailable, arm_access_token
from deployments.models import ManagedApplication
from jit import audit, handoff
from jit.errors import NotAllowed
from jit.mirror import jit_request_apply_record, jit_request_refresh, request_resource_group
from jit.models import (
    TIMEOUT_WARNING_BEFORE,
    AuditEvent,
    ElevationActivity,
    JitRequest,
    Operation,
    State,
    role_name,
)
from portal import moments
from portal.azure import (
    AuthenticationFailed,
    AzureError,
    AzureGateway,
    Conflict,
    Forbidden,
    NotFound,
    OperationFailed,
    Transient,
    gateway_for_token,
    tenant_gateway,
)
from portal.azure.records import ApprovalRecord, Authorization, JitApprover, JitPolicy
from portal.guids import canonical_guid
from portal.queueing import publish_on_commit

log = logging.getLogger(__name__)

# A claimed operation whose worker died (acks_late redelivers it) may be claimed again after this.
CLAIM_LEASE = dt.timedelta(minutes=6)
ACTIVITY_MARGIN = dt.timedelta(minutes=1)


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


def _policy_json(policy: JitPolicy) -> dict[str, Any]:
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
    *, jit: JitRequest, kind: str, by: User, payload: dict[str, Any], action: str, reason: str
) -> Operation:
    """Create the one live operation of this kind for the request, or return the existing one."""
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
        return existing


def jit_request_decide(
    *, jit_request: JitRequest, by: User, approve: bool, justification: str
) -> Operation | None:
    """Record an approver's decision through the tenant's approval channel.

    Hand-off (the default): the decision is recorded here and made by the person in the Azure
    portal; nothing is sent to ARM and the request's state still comes from ARM alone. PIM: the
    decision is queued for the PIM approval stage behind the request, once.
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
    """Record a policy change and queue the PATCH of the app's jitAccessPolicy as the admin."""
    with transaction.atomic():
        operation = Operation.objects.create(
            kind=Operation.Kind.POLICY,
            application=application,
            by=by,
            payload=_policy_json(policy),
        )
        audit.record(
            AuditEvent.Action.POLICY_CHANGE_REQUESTED,
            application=application,
            actor=by,
            reason=reason,
            before=_policy_json(current_policy(application)),
            after=_policy_json(policy),
        )
        _queue(operation)
    return operation


# Submitting to ARM ----------------------------------------------------------------------------

WHAT_TO_DO = {
    "SignInRequired": "Your Azure sign-in has expired. Sign in again, then repeat the action.",
    "AuthenticationFailed": "Azure did not accept your sign-in. Sign in again, then repeat it.",
    "Forbidden": "Azure says you lack the rights for this. Ask an owner of the subscription.",
    "JitAccessNotEnabled": "JIT access is not enabled on this application; it can only be "
    "turned on when the application is deployed.",
    "JitRequestDurationExceedsMaximum": "Ask for a shorter duration: the customer's policy "
    "sets a maximum.",
    "JitRequestIneligibleAuthorization": "You are not listed for this role in the offer's "
    "authorizations. The publisher must list you by name in the plan.",
    "JitRequestFailed": "Azure could not process the request. JIT needs Microsoft Entra ID P2 "
    "in the customer's tenant; the customer should check their licence.",
    "ApprovalNotFound": "Azure shows you no PIM approval for this request. Decide it in the "
    "Azure portal instead (the application's JIT Access, Approve requests); an operator can "
    "switch this customer to the hand-off channel.",
    "ApprovalStageNotFound": "Decide it in the Azure portal (the application's JIT Access, "
    "Approve requests).",
    "AuthorizationFailed": "Azure refused the call for lack of rights at that scope. An "
    "operator can check the set-up with `manage.py check_azure`.",
    "ApprovalStageNotInProgress": "The request was already decided, canceled or timed out "
    "in Azure.",
    "JustificationRequired": "Give a reason with the decision.",
    "Exhausted": "Azure kept failing. Try again later; nothing was applied twice.",
}


def _what_to_do(code: str, fallback: str = "") -> str:
    return WHAT_TO_DO.get(code, fallback or "Check the message above, then try again.")


def operation_submit(*, operation_id: int) -> None:
    """Claim an outbox operation and submit it to ARM as the person who made it.

    Raises `Transient` (incl. `Throttled`) and `TokenServiceUnavailable` for the task to retry;
    records every other failure on the operation. Safe to run twice: the claim is a conditional
    UPDATE and each ARM call is idempotent (PUT by name, same decision, DELETE, whole policy).
    """
    now = timezone.now()
    claimed = Operation.objects.filter(
        Q(status=Operation.Status.QUEUED)
        | Q(status=Operation.Status.RUNNING, claimed_at__lt=now - CLAIM_LEASE),
        pk=operation_id,
    ).update(status=Operation.Status.RUNNING, claimed_at=now, attempts=F("attempts") + 1)
    if claimed != 1:
        return  # finished, failed, gone, or another worker holds it
    operation = Operation.objects.select_related(
        "by", "application", "application__customer_tenant", "jit_request"
    ).get(pk=operation_id)
    try:
        with gateway_for_token(lambda: arm_access_token(operation.by)) as gateway:
            _EXECUTORS[Operation.Kind(operation.kind)](operation, gateway)
    except (Transient, TokenServiceUnavailable) as exc:
        Operation.objects.filter(pk=operation.pk, status=Operation.Status.RUNNING).update(
            status=Operation.Status.QUEUED,
            error_code=getattr(exc, "code", "") or type(exc).__name__,
            error_message=str(exc)[:2000],
        )
        raise
    except SignInRequired as exc:
        _fail(operation, "SignInRequired", str(exc))
    except AzureError as exc:
        code = exc.code or type(exc).__name__
        if isinstance(exc, Forbidden | AuthenticationFailed) and code not in WHAT_TO_DO:
            code = type(exc).__name__
        _fail(operation, code, exc.message)
    else:
        Operation.objects.filter(pk=operation.pk).update(
            status=Operation.Status.DONE,
            finished_at=timezone.now(),
            error_code="",
            error_message="",
        )


def operation_give_up(*, operation_id: int, message: str) -> None:
    """Retries are exhausted: record the failure so the page stops saying "submitting"."""
    operation = Operation.objects.filter(pk=operation_id).exclude(
        status__in=[Operation.Status.DONE, Operation.Status.FAILED]
    )
    found = operation.select_related("application", "jit_request", "by").first()
    if found is not None:
        _fail(found, "Exhausted", message)


_FAILED_AUDIT = {
    Operation.Kind.CREATE: AuditEvent.Action.REQUEST_FAILED,
    Operation.Kind.DECIDE: AuditEvent.Action.DECISION_FAILED,
    Operation.Kind.POLICY: AuditEvent.Action.POLICY_FAILED,
}


def _fail(operation: Operation, code: str, message: str) -> None:
    with transaction.atomic():
        changed = (
            Operation.objects.filter(pk=operation.pk)
            .exclude(status__in=[Operation.Status.DONE, Operation.Status.FAILED])
            .update(
                status=Operation.Status.FAILED,
                finished_at=timezone.now(),
                error_code=code,
                error_message=message[:2000],
                what_to_do=_what_to_do(code),
            )
        )
        if not changed:
            return
        jit = operation.jit_request
        if operation.kind == Operation.Kind.CREATE and jit is not None:
            JitRequest.objects.filter(pk=jit.pk, state=State.SUBMITTING).update(
                state=State.FAILED,
                state_changed_at=timezone.now(),
                error_code=code,
                error_message=message[:2000],
            )
        action = _FAILED_AUDIT.get(operation.kind)  # type: ignore[call-overload]
        if action is not None:
            audit.record(
                action,
                application=operation.application,
                actor=operation.by,
                jit_request=jit,
                reason=f"{code}: {message}"[:2000],
            )


def _submit_create(operation: Operation, gateway: AzureGateway) -> None:
    jit = operation.jit_request
    assert jit is not None
    try:
        record = gateway.create_jit_request(
            jit_request_id=jit.arm_id,
            application_id=jit.application.arm_id,
            location=jit.application.location or "westeurope",
            authorizations=[Authorization(jit.principal_id, jit.role_definition_id)],
            start=jit.start,
            duration=jit.duration,
        )
    except OperationFailed as exc:
        # The request exists in ARM but ended Failed (e.g. no Entra ID P2): mirror that.
        try:
            record = gateway.get_jit_request(jit.arm_id)
        except NotFound:
            raise exc from None
        jit_request_apply_record(jit=jit, record=record)
        raise
    jit_request_apply_record(jit=jit, record=record)


def _submit_cancel(operation: Operation, gateway: AzureGateway) -> None:
    jit = operation.jit_request
    assert jit is not None
    gateway.cancel_jit_request(jit.arm_id)
    jit_request_refresh(jit)


def _submit_decide(operation: Operation, gateway: AzureGateway) -> None:
    """Find the PIM approval behind the JIT request and decide its stage as the approver. The
    request is read back with the portal's own app: the approver may not read where it lives."""
    jit = operation.jit_request
    assert jit is not None
    scope = jit.application.managed_resource_group_id
    linked = [
        a
        for a in gateway.list_access_requests(scope, as_approver=True)
        if a.ticket_number == jit.name and a.approval_id
    ]
    if not linked:
        jit_request_refresh(jit)
        raise NotFound(
            "Azure lists no PIM approval of this request for you.", code="ApprovalNotFound"
        )
    approval = gateway.get_approval(str(linked[0].approval_id))
    if _already_decided_by_this_operation(approval, operation):
        # An earlier attempt reached Azure but its answer was lost on the way back.
        jit_request_refresh(
            jit, decided_by=operation.by, reason=operation.payload.get("justification")
        )
        return
    stage = next((s for s in approval.stages if s.assigned_to_me), None)
    if stage is None:
        jit_request_refresh(jit)  # an expired or finished approval has no stage left to decide
        raise NotFound(
            "Azure shows the PIM approval of this request without a stage assigned to you.",
            code="ApprovalStageNotFound",
        )
    try:
        gateway.decide_approval_stage(
            approval.id,
            stage.id,
            approve=bool(operation.payload.get("approve")),
            justification=str(operation.payload.get("justification", "")),
        )
    except Conflict:
        jit_request_refresh(jit)  # decided elsewhere, canceled or timed out: show what ARM has
        raise
    jit_request_refresh(jit, decided_by=operation.by, reason=operation.payload.get("justification"))


def _already_decided_by_this_operation(approval: ApprovalRecord, operation: Operation) -> bool:
    """A stage of the approval already shows this person's review with this decision."""
    if operation.attempts < 2 or operation.by is None or not operation.by.entra_object_id:
        return False
    wanted = "Approve" if operation.payload.get("approve") else "Deny"
    me = canonical_guid(operation.by.entra_object_id)
    return any(
        stage.review_result == wanted
        and stage.reviewed_by is not None
        and canonical_guid(stage.reviewed_by.principal_id) == me
        for stage in approval.stages
    )


def _submit_revoke(operation: Operation, gateway: AzureGateway) -> None:
    jit = operation.jit_request
    assert jit is not None
    gateway.cancel_jit_request(jit.arm_id)  # DELETE of an approved request revokes the grant
    jit_request_refresh(jit, decided_by=operation.by, reason=operation.payload.get("reason"))


def _submit_policy(operation: Operation, gateway: AzureGateway) -> None:
    payload = operation.payload
    seconds = payload.get("maximum_duration")
    policy = JitPolicy(
        enabled=True,
        approval_mode=str(payload["approval_mode"]),
        approvers=tuple(
            JitApprover(id=a["id"], type=a["type"], display_name=a.get("displayName", ""))
            for a in payload.get("approvers", [])
        ),
        maximum_duration=dt.timedelta(seconds=seconds) if seconds else None,
    )
    application = operation.application
    record = gateway.update_jit_policy(application.arm_id, policy)
    confirmed = record.jit_policy or policy
    before = _policy_json(current_policy(application))
    with transaction.atomic():
        # Mirror ARM's answer at once so the editor shows it; the ARM sync would do the same.
        ManagedApplication.objects.filter(pk=application.pk).update(
            jit_approval_mode=confirmed.approval_mode,
            jit_approvers=[
                {"id": a.id, "type": a.type, "displayName": a.display_name}
                for a in confirmed.approvers
            ],
            jit_maximum_duration=confirmed.maximum_duration,
        )
        audit.record(
            AuditEvent.Action.POLICY_CHANGED,
            application=application,
            actor=operation.by,
            before=before,
            after=_policy_json(confirmed),
        )


_EXECUTORS = {
    Operation.Kind.CREATE: _submit_create,
    Operation.Kind.CANCEL: _submit_cancel,
    Operation.Kind.DECIDE: _submit_decide,
    Operation.Kind.REVOKE: _submit_revoke,
    Operation.Kind.POLICY: _submit_policy,
}


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
