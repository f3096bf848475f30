"""What the operator's admin actions do in JIT: submit a failed operation again, send an audit
event's mails again. Kept out of jit/admin.py so that the admin classes stay declarations."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import IntegrityError, transaction
from django.db.models import QuerySet

from jit.models import (
    FINAL_STATES,
    ONCE_PER_REQUEST_KINDS,
    AuditEvent,
    JitRequest,
    Operation,
    State,
)
from jit.notifications import MAILS
from portal.queueing import publish_on_commit


@dataclass
class Outcome:
    """What an action did, and what it left alone with why (object, reason)."""

    done: list[Operation | AuditEvent] = field(default_factory=list)
    skipped: list[tuple[Operation | AuditEvent, str]] = field(default_factory=list)


def _why_not_retry(operation: Operation) -> str:
    """Why this operation may not be submitted again; empty when it may."""
    if operation.status != Operation.Status.FAILED:
        return f"its status is “{operation.get_status_display()}”, not failed"
    live = Operation.objects.filter(kind=operation.kind).exclude(status=Operation.Status.FAILED)
    jit = operation.jit_request
    if operation.kind in ONCE_PER_REQUEST_KINDS and jit is not None:
        if live.filter(jit_request=jit).exists():
            return "another operation of this kind on the same request is live or done"
        if operation.kind == Operation.Kind.CREATE and jit.state not in (
            State.SUBMITTING,
            State.FAILED,
        ):
            return f"Azure already has the request ({jit.get_state_display()})"
        if operation.kind != Operation.Kind.CREATE and jit.state in FINAL_STATES:
            return f"the request is already final ({jit.get_state_display()})"
    if operation.kind == Operation.Kind.POLICY and (
        Operation.objects.filter(
            kind=Operation.Kind.POLICY,
            application=operation.application_id,
            created_at__gt=operation.created_at,
        ).exists()
    ):
        return "a newer policy change of the application exists; retrying would undo it"
    return ""


def operations_retry(operations: QuerySet[Operation]) -> Outcome:
    """Queue each failed operation again, as the person who made it, by the outbox's own task.

    Only failed ones, and not when that would break "one live operation per request and kind",
    act on a finished request, or replace a newer policy with an older one. A create puts its
    request back to Submitting (what the failure had turned into Failed).
    """
    from jit import tasks

    outcome = Outcome()
    for operation in operations.select_related("jit_request").order_by("pk"):
        reason = _why_not_retry(operation)
        if reason:
            outcome.skipped.append((operation, reason))
            continue
        try:
            with transaction.atomic():
                Operation.objects.filter(pk=operation.pk, status=Operation.Status.FAILED).update(
                    status=Operation.Status.QUEUED,
                    claimed_at=None,
                    finished_at=None,
                    error_code="",
                    error_message="",
                    what_to_do="",
                )
                if operation.kind == Operation.Kind.CREATE and operation.jit_request_id:
                    JitRequest.objects.filter(
                        pk=operation.jit_request_id, state=State.FAILED
                    ).update(state=State.SUBMITTING, error_code="", error_message="")
        except IntegrityError:
            outcome.skipped.append((operation, "another operation on the request became live"))
            continue
        publish_on_commit(tasks.submit_operation, operation.pk)
        outcome.done.append(operation)
    return outcome


def audit_events_notify_again(events: QuerySet[AuditEvent]) -> Outcome:
    """Queue the mails of each event again (`jit.send_notifications`); events whose action sends
    no mail, or that concern no request, are skipped."""
    from jit import tasks

    outcome = Outcome()
    for event in events.order_by("pk"):
        if event.action not in MAILS:
            outcome.skipped.append((event, f"“{event.get_action_display()}” sends no mail"))
        elif event.jit_request_id is None:
            outcome.skipped.append((event, "it concerns no request"))
        else:
            publish_on_commit(tasks.send_notifications, event.pk)
            outcome.done.append(event)
    return outcome
