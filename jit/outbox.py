"""The outbox: what people did, recorded as operations, reaches ARM exactly once.

A task claims each operation with a conditional UPDATE (held for `CLAIM_LEASE`) and submits it as
the person who made it; every ARM call it makes is idempotent (PUT by name, the same decision,
DELETE, the whole policy), so a duplicate delivery is harmless. Failures are recorded on the
operation with what to do. The sweep queues again the operations that never reached a worker
(the broker was down at commit) or whose worker died mid-submission.
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.tokens import SignInRequired, TokenServiceUnavailable, arm_access_token
from azure_gateway import (
    AuthenticationFailed,
    AzureError,
    AzureGateway,
    Conflict,
    Forbidden,
    NotFound,
    OperationFailed,
    Transient,
    gateway_for_token,
)
from azure_gateway.records import ApprovalRecord, Authorization, JitApprover, JitPolicy
from deployments.models import ManagedApplication
from jit import audit
from jit.mirror import jit_request_apply_record, jit_request_refresh
from jit.models import (
    AuditEvent,
    JitRequest,
    Operation,
    State,
)
from jit.services import current_policy, policy_json
from portal import metrics
from portal.guids import canonical_guid

# A claimed operation whose worker died (acks_late redelivers it) may be claimed again after this.
CLAIM_LEASE = dt.timedelta(minutes=6)
# Longer than the tasks' own retry backoff (at most about 12 minutes), so the sweep does not
# hurry a submission that waits for Azure's Retry-After.
QUEUED_FOR_TOO_LONG = dt.timedelta(minutes=15)
# After this many claims an operation is given up on, with a message on its page.
MAX_ATTEMPTS = 20


def stale_operations(now: dt.datetime | None = None) -> list[tuple[int, int]]:
    """(id, attempts) of each operation the sweep should queue again."""
    now = now or timezone.now()
    return list(
        Operation.objects.annotate(last_touched=Coalesce("claimed_at", "created_at"))
        .filter(
            Q(status=Operation.Status.QUEUED, last_touched__lt=now - QUEUED_FOR_TOO_LONG)
            | Q(status=Operation.Status.RUNNING, claimed_at__lt=now - CLAIM_LEASE)
        )
        .order_by("pk")
        .values_list("pk", "attempts")
    )


def requeue_stale_operations(now: dt.datetime | None = None) -> list[int]:
    """Queue each stale operation again (or give up on it); returns the ids queued."""
    from jit import tasks
    from portal.queueing import publish

    queued = []
    for pk, attempts in stale_operations(now):
        if attempts >= MAX_ATTEMPTS:
            operation_give_up(
                operation_id=pk, message=f"Azure could not be reached in {attempts} attempts."
            )
        elif publish(tasks.submit_operation, pk):
            queued.append(pk)
    return queued


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
        finished_at = timezone.now()
        Operation.objects.filter(pk=operation.pk).update(
            status=Operation.Status.DONE,
            finished_at=finished_at,
            error_code="",
            error_message="",
        )
        _observe_decision(operation, finished_at, "done")


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


def _observe_decision(operation: Operation, finished_at: dt.datetime, outcome: str) -> None:
    if operation.kind == Operation.Kind.DECIDE:
        metrics.observe_decision(
            created_at=operation.created_at, finished_at=finished_at, outcome=outcome
        )


def _fail(operation: Operation, code: str, message: str) -> None:
    finished_at = timezone.now()
    with transaction.atomic():
        changed = (
            Operation.objects.filter(pk=operation.pk)
            .exclude(status__in=[Operation.Status.DONE, Operation.Status.FAILED])
            .update(
                status=Operation.Status.FAILED,
                finished_at=finished_at,
                error_code=code,
                error_message=message[:2000],
                what_to_do=_what_to_do(code),
            )
        )
        if not changed:
            return
        _observe_decision(operation, finished_at, "failed")
        jit = operation.jit_request
        if operation.kind == Operation.Kind.CREATE and jit is not None:
            JitRequest.objects.filter(pk=jit.pk, state=State.SUBMITTING).update(
                state=State.FAILED,
                state_changed_at=timezone.now(),
                error_code=code,
                error_message=message[:2000],
            )
        action = _FAILED_AUDIT.get(Operation.Kind(operation.kind))
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
    before = policy_json(current_policy(application))
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
            after=policy_json(confirmed),
        )


_EXECUTORS = {
    Operation.Kind.CREATE: _submit_create,
    Operation.Kind.CANCEL: _submit_cancel,
    Operation.Kind.DECIDE: _submit_decide,
    Operation.Kind.REVOKE: _submit_revoke,
    Operation.Kind.POLICY: _submit_policy,
}
