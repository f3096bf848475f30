"""Approval windows: switch an application's JIT policy to automatic approval for a recurring
window and back, driven by rows in the database (docs/jit.md, "Approval windows").

Each beat tick (`approval_windows_tick`) plans occurrences ahead, announces the due ones, opens
the due ones, confirms what the outbox did and closes the ended ones. Every step claims its row
with a conditional UPDATE inside the transaction that does the work, so a tick run twice, or on
two workers at once, does nothing twice, and a worker dying mid-step rolls its claim back. The
switch and the restore are outbox operations of kind POLICY (the whole policy, as a person), so
the outbox's retries and stale-work sweep apply to them; the close is decided from the
occurrence's state and its `ends_at` alone, so whatever happened during the window (a dead
worker, no beat for hours) the next tick restores the mode.

    scheduled -> notified -> opening --(operation done)--> open -> closing --(done)--> closed
         \\_________________/     \\--(failed / no sign-in)--> failed (open)
                                   closing --(failed)--> retried with backoff --> failed (restore)
"""

from __future__ import annotations

import dataclasses
import datetime as dt

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from accounts import scoping
from accounts.models import EntraCredential, User
from deployments.models import ManagedApplication
from jit import audit
from jit.models import AuditEvent, Operation
from jit.services import current_policy, policy_json
from jit.window_models import ApprovalWindow, ApprovalWindowOccurrence, OccurrenceState
from jit.window_times import Slot, slots
from portal.queueing import publish_on_commit

S = OccurrenceState
Action = AuditEvent.Action
MANUAL, AUTOMATIC = "ManualApprove", "AutoApprove"

# Occurrences exist this far ahead (plus the notice lead time).
PLAN_AHEAD = dt.timedelta(days=8)
# A failed restore is tried again after 5, 10, 20 … minutes (at most two hours apart), this
# many times in all (about 16 hours), then left failed and loud.
RESTORE_FIRST_RETRY = dt.timedelta(minutes=5)
RESTORE_LONGEST_WAIT = dt.timedelta(hours=2)
MAX_RESTORE_ATTEMPTS = 12


def notice_lead() -> dt.timedelta:
    return dt.timedelta(hours=settings.APPROVAL_WINDOW_NOTICE_HOURS)


def window_slots(window: ApprovalWindow, *, after: dt.datetime, until: dt.datetime) -> list[Slot]:
    """The window's occurrences starting in (after, until]."""
    return list(
        slots(
            weekdays=window.weekdays,
            start=window.start_time,
            end=window.end_time,
            time_zone=window.time_zone,
            after=after,
            until=until,
        )
    )


def next_slot(window: ApprovalWindow, now: dt.datetime) -> Slot | None:
    """The window's next occurrence that has not ended (the one under way, if any, once it
    counts: it started after the window was saved)."""
    after = max(window.effective_from, now - dt.timedelta(days=1, hours=1))
    found = window_slots(window, after=after, until=now + dt.timedelta(days=8))
    return next((slot for slot in found if slot.ends_at > now), None)


def sign_in_problem(user: User | None, application: ManagedApplication) -> str:
    """Why the portal cannot switch this app's policy as this person, or "" if it can try.

    Whether Entra still renews their token is only known when the outbox asks for one."""
    if user is None:
        return "Nobody is named to act for the window."
    if not user.is_active:
        return f"{user}'s account is blocked in the portal."
    if not scoping.administered_tenants_of(user).filter(pk=application.customer_tenant_id).exists():
        return f"{user} is no longer an admin of {application.customer_tenant}."
    if not EntraCredential.objects.filter(user=user).exists():
        return f"The portal holds no Azure sign-in of {user} (signed out or removed)."
    return ""


def withdraw_operation(
    operation_id: int | None, message: str, *, only_untried: bool = False
) -> bool:
    """Stop an operation that no worker holds now (and, with `only_untried`, none ever tried);
    True when it will never run again."""
    if operation_id is None:
        return False
    waiting = Operation.objects.filter(pk=operation_id, status=Operation.Status.QUEUED)
    if only_untried:
        waiting = waiting.filter(attempts=0)
    return bool(
        waiting.update(
            status=Operation.Status.FAILED,
            finished_at=timezone.now(),
            error_code="Withdrawn",
            error_message=message,
            what_to_do="Nothing: the approval window no longer needs it.",
        )
    )


# The beat's tick ----------------------------------------------------------------------------


@dataclasses.dataclass
class TickResult:
    planned: int = 0
    notified: int = 0
    opened: int = 0
    closed: int = 0
    failed: int = 0


def approval_windows_tick(*, now: dt.datetime | None = None) -> TickResult:
    """Plan, announce, open, confirm and close approval windows as of `now`."""
    now = now or timezone.now()
    result = TickResult()
    result.planned = _plan(now)
    result.notified = _announce(now)
    _open_due(now, result)
    _confirm_opening(now, result)
    _close_due(now, result)
    _confirm_closing(now, result)
    return result


def _plan(now: dt.datetime) -> int:
    horizon = now + PLAN_AHEAD + notice_lead()
    windows = (
        ApprovalWindow.objects.live()
        .filter(application__jit_enabled=True, application__vanished_at__isnull=True)
        .filter(Q(planned_until__isnull=True) | Q(planned_until__lt=horizon - dt.timedelta(days=1)))
    )
    planned = 0
    for window in windows:
        after = max(window.effective_from, window.planned_until or window.effective_from)
        rows = [
            ApprovalWindowOccurrence(
                window=window,
                application_id=window.application_id,
                starts_at=slot.starts_at,
                ends_at=slot.ends_at,
            )
            for slot in window_slots(window, after=after, until=horizon)
            if slot.ends_at > now
        ]
        with transaction.atomic():
            # Unchanged since read, or the rows would carry old times: the next tick plans.
            if not ApprovalWindow.objects.filter(
                pk=window.pk, updated_at=window.updated_at, enabled=True, deleted_at=None
            ).update(planned_until=horizon):
                continue
            ApprovalWindowOccurrence.objects.bulk_create(rows, ignore_conflicts=True)
        planned += len(rows)
    return planned


def _announce(now: dt.datetime) -> int:
    due = ApprovalWindowOccurrence.objects.filter(
        state=S.SCHEDULED,
        starts_at__gt=now,
        starts_at__lte=now + notice_lead(),
        window__enabled=True,
        window__deleted_at=None,
    ).select_related("window", "application", "window__acts_as")
    count = 0
    for occurrence in due:
        with transaction.atomic():
            if ApprovalWindowOccurrence.objects.filter(pk=occurrence.pk, state=S.SCHEDULED).update(
                state=S.NOTIFIED, notified_at=now
            ):
                audit_occurrence(
                    occurrence,
                    Action.WINDOW_NOTICE,
                    "Approvers told that requests made during the window are approved "
                    "automatically.",
                )
                count += 1
    return count


def _open_due(now: dt.datetime, result: TickResult) -> None:
    due = ApprovalWindowOccurrence.objects.filter(
        state__in=[S.SCHEDULED, S.NOTIFIED], starts_at__lte=now
    ).select_related("window", "window__acts_as", "application", "application__customer_tenant")
    for occurrence in due:
        skip = _reason_not_to_open(occurrence, now)
        if skip:
            ApprovalWindowOccurrence.objects.filter(
                pk=occurrence.pk, state=occurrence.state
            ).update(state=S.CLOSED, closed_at=now, note=skip)
            continue
        with transaction.atomic():
            if _open_one(occurrence, now):
                result.opened += 1


def _reason_not_to_open(occurrence: ApprovalWindowOccurrence, now: dt.datetime) -> str:
    window, app = occurrence.window, occurrence.application
    if occurrence.ends_at <= now:
        return "Not opened: the portal's scheduler did not run during this window."
    if not window.enabled or window.deleted_at is not None:
        return "Not opened: the window was disabled or deleted."
    if not app.jit_enabled or app.vanished_at is not None:
        return "Not opened: JIT access is off on this application, or it is gone."
    busy = ApprovalWindowOccurrence.objects.filter(
        application=app, state__in=[S.OPENING, S.OPEN, S.CLOSING]
    ).exclude(pk=occurrence.pk)
    if busy.exists():
        return "Not opened: another approval window of this application was still open."
    return ""


def _open_one(occurrence: ApprovalWindowOccurrence, now: dt.datetime) -> bool:
    """Claim the occurrence and switch the policy (call inside a transaction)."""
    acts_as = occurrence.window.acts_as
    if not ApprovalWindowOccurrence.objects.filter(
        pk=occurrence.pk, state__in=[S.SCHEDULED, S.NOTIFIED]
    ).update(state=S.OPENING, opened_at=now, opened_as=acts_as):
        return False
    occurrence.refresh_from_db()
    app = ManagedApplication.objects.select_related("customer_tenant").get(
        pk=occurrence.application_id
    )
    problem = sign_in_problem(acts_as, app)
    if problem:
        _fail_open(occurrence, f"{problem} Approval stays {app.get_jit_approval_mode_display()}.")
        return False
    if app.jit_approval_mode != MANUAL:
        ApprovalWindowOccurrence.objects.filter(pk=occurrence.pk).update(
            state=S.OPEN, previous_approval_mode=app.jit_approval_mode, switched=False
        )
        audit_occurrence(
            occurrence,
            Action.WINDOW_ALREADY_AUTOMATIC,
            f"The policy was already {app.get_jit_approval_mode_display()} (not manual): "
            "nothing switched, nothing to restore.",
        )
        return True
    policy = dataclasses.replace(current_policy(app), approval_mode=AUTOMATIC)
    operation = Operation.objects.create(
        kind=Operation.Kind.POLICY, application=app, by=acts_as, payload=policy_json(policy)
    )
    ApprovalWindowOccurrence.objects.filter(pk=occurrence.pk).update(
        open_operation=operation, previous_approval_mode=MANUAL, switched=True
    )
    _queue(operation)
    return True


def _confirm_opening(now: dt.datetime, result: TickResult) -> None:
    opening = ApprovalWindowOccurrence.objects.filter(
        state=S.OPENING,
        open_operation__status__in=[Operation.Status.DONE, Operation.Status.FAILED],
    ).select_related("window", "application", "open_operation", "opened_as")
    for occurrence in opening:
        operation = occurrence.open_operation
        assert operation is not None
        with transaction.atomic():
            if operation.status == Operation.Status.DONE:
                if ApprovalWindowOccurrence.objects.filter(
                    pk=occurrence.pk, state=S.OPENING
                ).update(state=S.OPEN):
                    audit_occurrence(
                        occurrence,
                        Action.WINDOW_OPENED,
                        "Approval switched to automatic: requests made until the window ends "
                        "are approved by Azure. Requests already pending still need a decision.",
                    )
            elif _fail_open(
                occurrence,
                f"Azure did not take the switch: {operation.error_message} "
                f"({operation.error_code}). Approval stays manual.",
            ):
                result.failed += 1


def _fail_open(occurrence: ApprovalWindowOccurrence, message: str) -> bool:
    if not ApprovalWindowOccurrence.objects.filter(pk=occurrence.pk, state=S.OPENING).update(
        state=S.FAILED, failed_step="open", note=message
    ):
        return False
    audit_occurrence(occurrence, Action.WINDOW_OPEN_FAILED, message)
    return True


def _close_due(now: dt.datetime, result: TickResult) -> None:
    ended = ApprovalWindowOccurrence.objects.filter(
        state__in=[S.OPENING, S.OPEN], ends_at__lte=now
    ).select_related("window", "application", "open_operation", "opened_as")
    for occurrence in ended:
        if close_occurrence(occurrence, now):
            result.closed += 1


def close_occurrence(occurrence: ApprovalWindowOccurrence, now: dt.datetime) -> bool:
    if occurrence.state == S.OPENING:
        operation = occurrence.open_operation
        if operation is None or operation.status == Operation.Status.RUNNING:
            return False  # a worker holds the switch (or the sweep will): wait for its outcome
        if operation.status == Operation.Status.QUEUED:
            # Only a switch never tried is known not to have reached Azure; one tried already
            # (a lost answer, a retry pending) may have, so it is left to finish and restored.
            with transaction.atomic():
                if withdraw_operation(
                    operation.pk,
                    "The approval window ended before it was sent.",
                    only_untried=True,
                ):
                    _fail_open(
                        occurrence,
                        "The window ended before Azure could be asked to switch; nothing "
                        "was changed. Approval stays manual.",
                    )
            return False
        if operation.status == Operation.Status.FAILED:
            return False  # _confirm_opening records it
        with transaction.atomic():  # switched, but the tick that would have said so never ran
            if ApprovalWindowOccurrence.objects.filter(pk=occurrence.pk, state=S.OPENING).update(
                state=S.OPEN
            ):
                audit_occurrence(
                    occurrence, Action.WINDOW_OPENED, "Approval switched to automatic."
                )
        occurrence.refresh_from_db()
    with transaction.atomic():
        if not ApprovalWindowOccurrence.objects.filter(pk=occurrence.pk, state=S.OPEN).update(
            state=S.CLOSING
        ):
            return False
        if not occurrence.switched:
            _finish(occurrence, now, Action.WINDOW_CLOSED, "Window ended; nothing to restore.")
            return True
        _attempt_restore(occurrence, now)
    return True


def _attempt_restore(occurrence: ApprovalWindowOccurrence, now: dt.datetime) -> None:
    """Queue the PATCH back to the saved mode, unless Azure's mode is no longer automatic
    (someone changed it there during the window: theirs stands). Inside a transaction, on an
    occurrence this worker has claimed in `closing`."""
    app = ManagedApplication.objects.select_related("customer_tenant").get(
        pk=occurrence.application_id
    )
    ApprovalWindowOccurrence.objects.filter(pk=occurrence.pk).update(
        restore_attempts=F("restore_attempts") + 1, retry_restore_at=None
    )
    occurrence.refresh_from_db()
    if app.jit_approval_mode != AUTOMATIC:
        _finish(
            occurrence,
            now,
            Action.WINDOW_NOT_RESTORED,
            f"Approval was changed in Azure during the window (now "
            f"{app.get_jit_approval_mode_display()}); left as it is.",
        )
        return
    problem = sign_in_problem(occurrence.opened_as, app)
    if problem:
        _restore_failed(occurrence, now, problem)
        return
    policy = dataclasses.replace(
        current_policy(app), approval_mode=occurrence.previous_approval_mode
    )
    assert occurrence.opened_as is not None
    operation = Operation.objects.create(
        kind=Operation.Kind.POLICY,
        application=app,
        by=occurrence.opened_as,
        payload=policy_json(policy),
    )
    ApprovalWindowOccurrence.objects.filter(pk=occurrence.pk).update(close_operation=operation)
    _queue(operation)


def _confirm_closing(now: dt.datetime, result: TickResult) -> None:
    closing = ApprovalWindowOccurrence.objects.filter(
        Q(state=S.CLOSING) | Q(state=S.FAILED, failed_step="restore")
    ).select_related("window", "application", "close_operation", "opened_as")
    for occurrence in closing:
        operation = occurrence.close_operation
        with transaction.atomic():
            if occurrence.application.jit_approval_mode != AUTOMATIC and (
                operation is None or not operation.is_submitting
            ):
                # Manual again (restored in Azure, or the restore's answer was mirrored).
                done = operation is not None and operation.status == Operation.Status.DONE
                mode = occurrence.application.get_jit_approval_mode_display()
                reason = (
                    "Manual approval restored."
                    if done
                    else f"Window ended; approval was set back in Azure (now {mode})."
                )
                if _finish(
                    occurrence, now, Action.WINDOW_CLOSED, reason, from_states=(S.CLOSING, S.FAILED)
                ):
                    result.closed += 1
                continue
            if occurrence.state == S.FAILED:
                continue
            if occurrence.retry_restore_at is not None:
                if occurrence.retry_restore_at <= now and ApprovalWindowOccurrence.objects.filter(
                    pk=occurrence.pk, state=S.CLOSING, retry_restore_at=occurrence.retry_restore_at
                ).update(retry_restore_at=None):
                    _attempt_restore(occurrence, now)
                continue
            if operation is None or operation.is_submitting:
                continue
            if operation.status == Operation.Status.DONE:
                if _finish(occurrence, now, Action.WINDOW_CLOSED, "Manual approval restored."):
                    result.closed += 1
            elif ApprovalWindowOccurrence.objects.filter(
                pk=occurrence.pk, state=S.CLOSING, close_operation=operation, retry_restore_at=None
            ).exists():
                _restore_failed(
                    occurrence,
                    now,
                    f"Azure did not take the restore: {operation.error_message} "
                    f"({operation.error_code}).",
                )
                result.failed += 1


def _restore_failed(occurrence: ApprovalWindowOccurrence, now: dt.datetime, problem: str) -> None:
    attempts = occurrence.restore_attempts
    note = (
        f"{problem} Set approval back to manual in the Azure portal (the application's JIT "
        "access configuration), or here on its JIT policy page."
    )
    message = f"{occurrence.application.name} is still on automatic approval: {note}"
    if attempts >= MAX_RESTORE_ATTEMPTS:
        if ApprovalWindowOccurrence.objects.filter(pk=occurrence.pk, state=S.CLOSING).update(
            state=S.FAILED, failed_step="restore", note=note, retry_restore_at=None
        ):
            audit_occurrence(
                occurrence,
                Action.WINDOW_RESTORE_FAILED,
                f"{message} The portal gave up after {attempts} attempts.",
            )
        return
    wait = min(RESTORE_FIRST_RETRY * 2 ** (attempts - 1), RESTORE_LONGEST_WAIT)
    recorded = ApprovalWindowOccurrence.objects.filter(
        pk=occurrence.pk, state=S.CLOSING, retry_restore_at=None
    ).update(retry_restore_at=now + wait, note=note, failed_step="restore")
    if recorded and attempts <= 1:  # loud once; again when the portal gives up
        audit_occurrence(
            occurrence,
            Action.WINDOW_RESTORE_FAILED,
            f"{message} The portal tries again, up to {MAX_RESTORE_ATTEMPTS} times.",
        )


def _finish(
    occurrence: ApprovalWindowOccurrence,
    now: dt.datetime,
    action: str,
    reason: str,
    from_states: tuple[str, ...] = (S.CLOSING,),
) -> bool:
    if not ApprovalWindowOccurrence.objects.filter(pk=occurrence.pk, state__in=from_states).update(
        state=S.CLOSED, closed_at=now, retry_restore_at=None, failed_step="", note=reason
    ):
        return False
    audit_occurrence(occurrence, action, reason)
    return True


# Helpers ------------------------------------------------------------------------------------


def _queue(operation: Operation) -> None:
    from jit import tasks

    publish_on_commit(tasks.submit_operation, operation.pk)


def audit_occurrence(
    occurrence: ApprovalWindowOccurrence, action: str, reason: str, actor: User | None = None
) -> AuditEvent:
    window = occurrence.window
    return audit.record(
        action,
        application=occurrence.application,
        actor=actor,
        actor_name=str(actor) if actor else f"Approval window (set up by {window.acts_as})",
        reason=reason,
        after={
            "occurrence": occurrence.pk,
            "window": window.pk,
            "starts_at": occurrence.starts_at.isoformat(),
            "ends_at": occurrence.ends_at.isoformat(),
            "time_zone": window.time_zone,
        },
    )
