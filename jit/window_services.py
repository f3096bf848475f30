"""What admins do with approval windows: save (create, change, disable) and delete them, and
what a policy change made here does to a window that has the policy switched.

The beat's side (planning, opening, closing) is jit/windows.py.
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import User
from deployments.models import ManagedApplication
from jit.models import AuditEvent
from jit.window_models import ApprovalWindow, ApprovalWindowOccurrence, OccurrenceState
from jit.windows import audit_occurrence, close_occurrence, withdraw_operation

S = OccurrenceState
Action = AuditEvent.Action


def approval_window_save(
    *,
    application: ManagedApplication,
    by: User,
    weekdays: list[int],
    start_time: dt.time,
    end_time: dt.time,
    time_zone: str,
    enabled: bool = True,
    window: ApprovalWindow | None = None,
    now: dt.datetime | None = None,
) -> ApprovalWindow:
    """Create or change a window; the person saving it is the one it acts as from now on.

    Changes apply from the next occurrence: one under way keeps its planned end, unless the
    window is disabled, which restores the approval mode now."""
    now = now or timezone.now()
    times = (sorted(set(weekdays)), start_time, end_time, time_zone, enabled)
    with transaction.atomic():
        if (
            window is not None
            and times
            == (sorted(window.weekdays), window.start_time, window.end_time, window.time_zone, True)
            and window.enabled
        ):
            # Saved unchanged (to take it over): the planned occurrences stand.
            ApprovalWindow.objects.filter(pk=window.pk).update(acts_as=by)
            window.refresh_from_db()
            return window
        if window is None:
            window = ApprovalWindow(application=application, created_by=by, created_at=now)
        window.weekdays = times[0]
        window.start_time, window.end_time = start_time, end_time
        window.time_zone, window.enabled = time_zone, enabled
        window.acts_as, window.updated_at, window.effective_from = by, now, now
        window.planned_until = None
        window.save()
        _drop_future(window, why=f"{by} changed the window" if enabled else f"{by} disabled it")
        if not enabled:
            _end_now(window, now, by=by, why=f"{by} disabled the window")
    return window


def approval_window_delete(
    *, window: ApprovalWindow, by: User, now: dt.datetime | None = None
) -> None:
    """Delete a window (kept for the history of its occurrences); one under way is closed now."""
    now = now or timezone.now()
    with transaction.atomic():
        ApprovalWindow.objects.filter(pk=window.pk).update(
            deleted_at=now, enabled=False, updated_at=now
        )
        _drop_future(window, why=f"{by} deleted the window")
        _end_now(window, now, by=by, why=f"{by} deleted the window")


def _drop_future(window: ApprovalWindow, *, why: str) -> None:
    """Remove the occurrences not begun; approvers already told of one hear it is off."""
    future = ApprovalWindowOccurrence.objects.filter(
        window=window, state__in=[S.SCHEDULED, S.NOTIFIED]
    ).select_related("window", "window__acts_as", "application")
    for occurrence in future.filter(state=S.NOTIFIED):
        audit_occurrence(
            occurrence,
            Action.WINDOW_CANCELED,
            f"Called off: {why}. Requests made then need an approver's decision as usual "
            "(unless the changed window covers them).",
        )
    future.delete()


def _end_now(window: ApprovalWindow, now: dt.datetime, *, by: User, why: str) -> None:
    active = ApprovalWindowOccurrence.objects.filter(
        window=window, state__in=[S.OPENING, S.OPEN], ends_at__gt=now
    )
    for occurrence in active:
        ApprovalWindowOccurrence.objects.filter(pk=occurrence.pk).update(
            ends_at=now, note=f"Ended early: {why}."
        )
        occurrence.refresh_from_db()
        close_occurrence(occurrence, now)


def window_yield_to_policy_change(*, application: ManagedApplication, by: User) -> int:
    """An admin changed the policy here while a window had it switched: their change wins, the
    window ends now and will not restore anything. Call inside the change's transaction."""
    now = timezone.now()
    ended = 0
    found = ApprovalWindowOccurrence.objects.filter(application=application).filter(
        Q(state__in=[S.OPENING, S.OPEN, S.CLOSING]) | Q(state=S.FAILED, failed_step="restore")
    )
    for occurrence in found.select_related("window", "opened_as"):
        changed = ApprovalWindowOccurrence.objects.filter(
            pk=occurrence.pk, state=occurrence.state
        ).update(
            state=S.CLOSED,
            closed_at=now,
            retry_restore_at=None,
            note=f"Ended early: {by} changed the policy; their change stands.",
        )
        if not changed:
            continue
        ended += 1
        for operation_id in (occurrence.open_operation_id, occurrence.close_operation_id):
            withdraw_operation(operation_id, f"Superseded by {by}'s policy change.")
        audit_occurrence(
            occurrence,
            Action.WINDOW_ENDED_BY_POLICY_CHANGE,
            f"{by} changed the JIT policy while the window was {occurrence.get_state_display()}"
            ". Their change stands; the window will not restore the approval mode.",
            actor=by,
        )
    return ended
