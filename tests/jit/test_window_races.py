"""Approval window ticks racing with real threads against the real database and the emulator:
four beats at the same moment switch the policy once, audit once and restore once."""

import datetime as dt
from collections.abc import Callable

import pytest

from accounts.models import User
from deployments.models import ManagedApplication
from emulator.server import EmulatorServer
from jit import windows
from jit.models import AuditEvent, Operation
from jit.window_models import ApprovalWindowOccurrence, OccurrenceState
from tests.jit.test_races import RACERS, at_once, report
from tests.jit.test_windows import ENDS, MINUTE, STARTS, azure_mode, window_for

pytestmark = pytest.mark.django_db(transaction=True)


def test_ticks_at_once_switch_and_restore_once(
    signed_in: Callable[[User], User],
    alice: User,
    monitoring: ManagedApplication,
    azure: EmulatorServer,
) -> None:
    signed_in(alice)
    window_for(monitoring, alice)

    def tick(at: dt.datetime) -> Callable[[], windows.TickResult]:
        return lambda: windows.approval_windows_tick(now=at)

    opened = at_once(*[tick(STARTS + MINUTE)] * RACERS)
    windows.approval_windows_tick(now=STARTS + 2 * MINUTE)  # confirms what the outbox did
    closed = at_once(*[tick(ENDS + MINUTE)] * RACERS)
    windows.approval_windows_tick(now=ENDS + 2 * MINUTE)

    events = AuditEvent.objects.filter(application=monitoring)
    report(
        "window ticks",
        [*opened, *closed],
        operations=Operation.objects.count(),
        opened=events.filter(action=AuditEvent.Action.WINDOW_OPENED).count(),
    )
    assert Operation.objects.filter(status=Operation.Status.DONE).count() == 2
    assert Operation.objects.count() == 2
    assert events.filter(action=AuditEvent.Action.WINDOW_OPENED).count() == 1
    assert events.filter(action=AuditEvent.Action.WINDOW_CLOSED).count() == 1
    assert events.filter(action=AuditEvent.Action.POLICY_CHANGED).count() == 2
    occurrence = ApprovalWindowOccurrence.objects.get(starts_at=STARTS)
    assert occurrence.state == OccurrenceState.CLOSED
    assert azure_mode(azure, monitoring) == "ManualApprove"
