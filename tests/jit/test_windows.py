"""Approval windows against the emulator: the switch and the restore are POLICY operations the
outbox PATCHes through the real SDK as the window's admin; time is passed in as `now=`."""

import datetime as dt
from collections.abc import Callable

import pytest
from django.core import mail
from django.utils import timezone
from pytest_django import DjangoCaptureOnCommitCallbacks

from accounts.models import EntraCredential, Membership, Role, User
from azure_gateway import Transient, gateway_for_token
from azure_gateway.records import JitPolicy
from deployments import sync
from deployments.models import ManagedApplication, SyncRun
from emulator.server import EmulatorServer
from jit import outbox, services, tasks, window_services, windows
from jit.models import AuditEvent, JitRequest, Operation, State
from jit.window_display import banners
from jit.window_models import ApprovalWindow, ApprovalWindowOccurrence, OccurrenceState
from tests.jit.conftest import CAROL
from tests.jit.test_services import request_as

pytestmark = pytest.mark.django_db

S = OccurrenceState
UTC = dt.UTC
# Sunday 10 January 2027, 02:00-06:00 in Berlin (UTC+1) is 01:00-05:00 UTC.
SAVED = dt.datetime(2027, 1, 3, 12, 0, tzinfo=UTC)
STARTS = dt.datetime(2027, 1, 10, 1, 0, tzinfo=UTC)
ENDS = dt.datetime(2027, 1, 10, 5, 0, tzinfo=UTC)
MINUTE = dt.timedelta(minutes=1)


def window_for(app: ManagedApplication, by: User, **changes: object) -> ApprovalWindow:
    fields: dict[str, object] = {
        "weekdays": [6],
        "start_time": dt.time(2, 0),
        "end_time": dt.time(6, 0),
        "time_zone": "Europe/Berlin",
    }
    fields.update(changes)
    return window_services.approval_window_save(application=app, by=by, now=SAVED, **fields)  # type: ignore[arg-type]


def work() -> int:
    """What a worker does with the outbox: submit every queued operation."""
    queued = list(Operation.objects.filter(status="queued").values_list("pk", flat=True))
    for pk in queued:
        tasks.submit_operation(pk)
    return len(queued)


def tick(at: dt.datetime) -> windows.TickResult:
    return windows.approval_windows_tick(now=at)


def occurrence_at(
    window: ApprovalWindow, starts_at: dt.datetime = STARTS
) -> ApprovalWindowOccurrence:
    return ApprovalWindowOccurrence.objects.get(window=window, starts_at=starts_at)


def azure_mode(azure: EmulatorServer, app: ManagedApplication) -> str:
    gateway = gateway_for_token(lambda: (azure.token_for(str(CAROL)), 2**31))
    with gateway:
        policy = gateway.get_managed_app(app.arm_id).jit_policy
    assert policy is not None
    return policy.approval_mode


def window_actions(app: ManagedApplication) -> list[str]:
    return list(
        AuditEvent.objects.filter(application=app, action__startswith="window.")
        .order_by("pk")
        .values_list("action", flat=True)
    )


@pytest.fixture
def admin(signed_in: Callable[[User], User], alice: User) -> User:
    return signed_in(alice)


def open_window(app: ManagedApplication, admin: User) -> ApprovalWindowOccurrence:
    window = window_for(app, admin)
    tick(STARTS + MINUTE)
    assert work() == 1
    tick(STARTS + 2 * MINUTE)
    occurrence = occurrence_at(window)
    assert occurrence.state == S.OPEN
    return occurrence


def test_a_window_is_announced_opened_and_closed_as_its_admin(
    admin: User,
    pat: User,
    signed_in: Callable[[User], User],
    monitoring: ManagedApplication,
    azure: EmulatorServer,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    signed_in(pat)
    window = window_for(monitoring, admin)
    assert tick(SAVED).planned >= 1
    assert occurrence_at(window).state == S.SCHEDULED

    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert tick(STARTS - dt.timedelta(hours=23)).notified == 1
        assert tick(STARTS - dt.timedelta(hours=22)).notified == 0  # once per occurrence
    assert [m.to for m in mail.outbox] == [[admin.email]]
    assert "Sun 10 Jan 02:00\N{EN DASH}06:00 Europe/Berlin" in mail.outbox[0].subject
    assert "not approved automatically" in mail.outbox[0].body

    pending = request_as(pat, monitoring)  # made before the window: stays pending
    assert work() == 1

    tick(STARTS + MINUTE)
    occurrence = occurrence_at(window)
    assert occurrence.state == S.OPENING
    assert occurrence.open_operation is not None
    assert occurrence.open_operation.by == admin
    assert work() == 1  # the outbox PATCHes the whole policy as Alice
    assert azure_mode(azure, monitoring) == "AutoApprove"
    tick(STARTS + 2 * MINUTE)
    assert occurrence_at(window).state == S.OPEN

    during = request_as(pat, monitoring)  # made in the window: Azure approves it
    work()
    during.refresh_from_db()
    pending.refresh_from_db()
    assert (during.state, pending.state) == (State.APPROVED, State.PENDING)

    tick(ENDS + MINUTE)
    assert occurrence_at(window).state == S.CLOSING
    assert work() == 1
    tick(ENDS + 2 * MINUTE)
    occurrence = occurrence_at(window)
    assert occurrence.state == S.CLOSED
    assert azure_mode(azure, monitoring) == "ManualApprove"
    monitoring.refresh_from_db()
    assert monitoring.jit_approval_mode == "ManualApprove"
    assert [a["id"] for a in monitoring.jit_approvers] == [str(admin.entra_object_id)]
    assert window_actions(monitoring) == [
        AuditEvent.Action.WINDOW_NOTICE,
        AuditEvent.Action.WINDOW_OPENED,
        AuditEvent.Action.WINDOW_CLOSED,
    ]
    changes = AuditEvent.objects.filter(action=AuditEvent.Action.POLICY_CHANGED)
    assert [e.after["approval_mode"] for e in changes.order_by("pk")] == [
        "AutoApprove",
        "ManualApprove",
    ]
    assert {e.actor for e in changes} == {admin}


def test_ticks_run_twice_do_nothing_twice(admin: User, monitoring: ManagedApplication) -> None:
    window = window_for(monitoring, admin)
    for at in (STARTS + MINUTE, STARTS + MINUTE):
        tick(at)
    assert Operation.objects.count() == 1
    work()
    tick(STARTS + 2 * MINUTE)
    tick(STARTS + 2 * MINUTE)
    tick(ENDS + MINUTE)
    tick(ENDS + MINUTE)
    assert Operation.objects.count() == 2
    work()
    tick(ENDS + 2 * MINUTE)
    tick(ENDS + 2 * MINUTE)
    assert occurrence_at(window).state == S.CLOSED
    assert window_actions(monitoring) == [
        AuditEvent.Action.WINDOW_OPENED,
        AuditEvent.Action.WINDOW_CLOSED,
    ]
    assert ApprovalWindowOccurrence.objects.filter(window=window, starts_at=STARTS).count() == 1


def test_the_mode_is_restored_when_the_beat_did_not_run_for_the_whole_window(
    admin: User, monitoring: ManagedApplication, azure: EmulatorServer
) -> None:
    window = window_for(monitoring, admin)
    tick(STARTS + MINUTE)
    work()
    # No tick again until hours after the window ended.
    tick(ENDS + dt.timedelta(hours=3))
    work()
    tick(ENDS + dt.timedelta(hours=3, minutes=1))
    assert occurrence_at(window).state == S.CLOSED
    assert azure_mode(azure, monitoring) == "ManualApprove"


def test_the_mode_is_restored_when_the_worker_died_holding_the_switch(
    admin: User,
    monitoring: ManagedApplication,
    azure: EmulatorServer,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    window = window_for(monitoring, admin)
    with django_capture_on_commit_callbacks(execute=False):  # the task never ran...
        tick(STARTS + MINUTE)
    operation = occurrence_at(window).open_operation
    assert operation is not None
    # ...or a worker claimed it and died: the claim stays until its lease runs out.
    Operation.objects.filter(pk=operation.pk).update(
        status=Operation.Status.RUNNING, claimed_at=timezone.now(), attempts=1
    )
    tick(ENDS + MINUTE)
    assert occurrence_at(window).state == S.OPENING  # nothing sent while a worker may hold it

    Operation.objects.filter(pk=operation.pk).update(
        claimed_at=timezone.now() - dt.timedelta(minutes=7)
    )
    assert outbox.requeue_stale_operations() == [operation.pk]  # the sweep: PATCH to automatic
    assert azure_mode(azure, monitoring) == "AutoApprove"
    tick(ENDS + 2 * MINUTE)  # the next tick sees it open and past its end: restore
    work()
    tick(ENDS + 3 * MINUTE)
    assert occurrence_at(window).state == S.CLOSED
    assert azure_mode(azure, monitoring) == "ManualApprove"


def test_a_switch_never_sent_before_the_end_is_withdrawn(
    admin: User,
    monitoring: ManagedApplication,
    azure: EmulatorServer,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    window = window_for(monitoring, admin)
    with django_capture_on_commit_callbacks(execute=False):  # the broker lost the task
        tick(STARTS + MINUTE)
    tick(ENDS + MINUTE)
    occurrence = occurrence_at(window)
    assert (occurrence.state, occurrence.failed_step) == (S.FAILED, "open")
    assert occurrence.open_operation is not None
    assert occurrence.open_operation.status == Operation.Status.FAILED
    assert outbox.requeue_stale_operations(timezone.now() + dt.timedelta(hours=1)) == []
    assert azure_mode(azure, monitoring) == "ManualApprove"


def test_an_app_already_on_automatic_approval_is_left_alone(
    admin: User, backup: ManagedApplication
) -> None:
    window = window_for(backup, admin)
    tick(STARTS + MINUTE)
    tick(ENDS + MINUTE)
    assert not Operation.objects.exists()
    assert occurrence_at(window).state == S.CLOSED
    assert window_actions(backup) == [
        AuditEvent.Action.WINDOW_ALREADY_AUTOMATIC,
        AuditEvent.Action.WINDOW_CLOSED,
    ]


def test_a_policy_change_during_the_window_wins(
    admin: User, carol: User, signed_in: Callable[[User], User], monitoring: ManagedApplication
) -> None:
    occurrence = open_window(monitoring, admin)
    signed_in(carol)
    monitoring.refresh_from_db()
    policy = services.current_policy(monitoring)
    chosen = JitPolicy(
        enabled=True,
        approval_mode="AutoApprove",  # Carol wants automatic approval to stay
        approvers=policy.approvers,
        maximum_duration=policy.maximum_duration,
    )
    services.jit_policy_update(application=monitoring, by=carol, policy=chosen)
    work()
    occurrence.refresh_from_db()
    assert occurrence.state == S.CLOSED
    assert "Carol Chen changed the policy" in occurrence.note

    before = Operation.objects.count()
    tick(ENDS + MINUTE)
    assert Operation.objects.count() == before  # nothing restored over Carol's choice
    monitoring.refresh_from_db()
    assert monitoring.jit_approval_mode == "AutoApprove"
    assert AuditEvent.Action.WINDOW_ENDED_BY_POLICY_CHANGE in window_actions(monitoring)


def test_a_mode_changed_in_azure_during_the_window_is_not_overwritten(
    admin: User, monitoring: ManagedApplication, azure: EmulatorServer
) -> None:
    occurrence = open_window(monitoring, admin)
    # Carol sets manual approval in the Azure portal; the mirror picks it up.
    gateway = gateway_for_token(lambda: (azure.token_for(str(CAROL)), 2**31))
    monitoring.refresh_from_db()
    policy = services.current_policy(monitoring)
    with gateway:
        gateway.update_jit_policy(
            monitoring.arm_id,
            JitPolicy(True, "ManualApprove", policy.approvers, dt.timedelta(hours=2)),
        )
    run = SyncRun.objects.create(
        tenant=monitoring.customer_tenant, application_arm_id=monitoring.arm_id
    )
    sync.run_application_sync(run_id=run.pk)
    monitoring.refresh_from_db()
    assert monitoring.jit_approval_mode == "ManualApprove"

    before = Operation.objects.count()
    tick(ENDS + MINUTE)
    occurrence.refresh_from_db()
    assert occurrence.state == S.CLOSED
    assert Operation.objects.count() == before
    assert window_actions(monitoring)[-1] == AuditEvent.Action.WINDOW_NOT_RESTORED
    assert azure_mode(azure, monitoring) == "ManualApprove"


def test_an_admin_without_a_sign_in_cannot_open_a_window(
    admin: User,
    carol: User,
    monitoring: ManagedApplication,
    azure: EmulatorServer,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    carol.email = "carol@example.test"
    carol.save()
    window = window_for(monitoring, admin)
    EntraCredential.objects.filter(user=admin).delete()  # signed out for good
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        tick(STARTS + MINUTE)
    occurrence = occurrence_at(window)
    assert (occurrence.state, occurrence.failed_step) == (S.FAILED, "open")
    assert not Operation.objects.exists()
    assert azure_mode(azure, monitoring) == "ManualApprove"
    assert window_actions(monitoring) == [AuditEvent.Action.WINDOW_OPEN_FAILED]
    assert sorted(m.to[0] for m in mail.outbox) == [admin.email, carol.email]
    assert "did not open" in mail.outbox[0].subject
    shown = banners(ManagedApplication.objects.all(), STARTS + 2 * MINUTE)
    assert [b.level for b in shown] == ["warning"]


def test_an_admin_refused_by_azure_fails_the_open_with_a_mail(
    bob: User,
    signed_in: Callable[[User], User],
    monitoring: ManagedApplication,
    azure: EmulatorServer,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    # An admin in the portal whose Azure role is only Reader: ARM refuses the PATCH.
    Membership.objects.create(user=bob, tenant=monitoring.customer_tenant, role=Role.CUSTOMER_ADMIN)
    signed_in(bob)
    window = window_for(monitoring, bob)
    tick(STARTS + MINUTE)
    work()
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        tick(STARTS + 2 * MINUTE)
    assert [m.to for m in mail.outbox] == [[bob.email]]  # the tenant's only admin here
    assert "did not open" in mail.outbox[0].subject
    occurrence = occurrence_at(window)
    assert (occurrence.state, occurrence.failed_step) == (S.FAILED, "open")
    assert "Approval stays manual" in occurrence.note
    assert azure_mode(azure, monitoring) == "ManualApprove"
    tick(ENDS + MINUTE)
    assert occurrence_at(window).state == S.FAILED  # nothing to restore


def test_a_restore_that_cannot_run_is_loud_and_retried(
    admin: User,
    carol: User,
    signed_in: Callable[[User], User],
    monitoring: ManagedApplication,
    azure: EmulatorServer,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    carol.email = "carol@example.test"
    carol.save()
    occurrence = open_window(monitoring, admin)
    Membership.objects.filter(user=admin).update(role=Role.CUSTOMER_READER)  # no longer an admin
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        tick(ENDS + MINUTE)
        tick(ENDS + 2 * MINUTE)
    occurrence.refresh_from_db()
    assert occurrence.state == S.CLOSING
    assert occurrence.retry_restore_at == ENDS + MINUTE + windows.RESTORE_FIRST_RETRY
    assert window_actions(monitoring)[-1] == AuditEvent.Action.WINDOW_RESTORE_FAILED
    still = [m for m in mail.outbox if "still on automatic" in m.subject]
    assert sorted(m.to[0] for m in still) == [carol.email]  # Alice is no longer an admin
    assert "Azure portal" in still[0].body
    shown = banners(ManagedApplication.objects.all(), ENDS + 2 * MINUTE)
    assert [b.level for b in shown] == ["danger"]
    assert "keeps trying" in shown[0].text

    Membership.objects.filter(user=admin).update(role=Role.CUSTOMER_ADMIN)  # back again
    tick(ENDS + 7 * MINUTE)
    work()
    tick(ENDS + 8 * MINUTE)
    occurrence.refresh_from_db()
    assert occurrence.state == S.CLOSED
    assert azure_mode(azure, monitoring) == "ManualApprove"


def test_a_restore_gives_up_after_its_attempts_and_stays_loud(
    admin: User, monitoring: ManagedApplication
) -> None:
    occurrence = open_window(monitoring, admin)
    EntraCredential.objects.filter(user=admin).delete()
    at = ENDS + MINUTE
    for _ in range(windows.MAX_RESTORE_ATTEMPTS + 2):
        tick(at)
        at += windows.RESTORE_LONGEST_WAIT + MINUTE
    occurrence.refresh_from_db()
    assert (occurrence.state, occurrence.failed_step) == (S.FAILED, "restore")
    assert occurrence.restore_attempts == windows.MAX_RESTORE_ATTEMPTS
    assert window_actions(monitoring).count(AuditEvent.Action.WINDOW_RESTORE_FAILED) == 2
    assert [b.level for b in banners(ManagedApplication.objects.all(), at)] == ["danger"]


def test_disabling_an_open_window_restores_now(
    admin: User, monitoring: ManagedApplication, azure: EmulatorServer
) -> None:
    occurrence = open_window(monitoring, admin)
    window = occurrence.window
    window_services.approval_window_save(
        application=monitoring,
        by=admin,
        window=window,
        weekdays=window.weekdays,
        start_time=window.start_time,
        end_time=window.end_time,
        time_zone=window.time_zone,
        enabled=False,
        now=STARTS + dt.timedelta(hours=1),
    )
    occurrence.refresh_from_db()
    assert occurrence.state == S.CLOSING
    work()
    tick(STARTS + dt.timedelta(hours=1, minutes=1))
    occurrence.refresh_from_db()
    assert occurrence.state == S.CLOSED
    assert azure_mode(azure, monitoring) == "ManualApprove"
    assert not ApprovalWindowOccurrence.objects.filter(state=S.SCHEDULED).exists()


def test_deleting_an_open_window_restores_now(
    admin: User, monitoring: ManagedApplication, azure: EmulatorServer
) -> None:
    occurrence = open_window(monitoring, admin)
    window_services.approval_window_delete(
        window=occurrence.window, by=admin, now=STARTS + dt.timedelta(hours=1)
    )
    work()
    tick(STARTS + dt.timedelta(hours=1, minutes=1))
    occurrence.refresh_from_db()
    assert occurrence.state == S.CLOSED
    assert azure_mode(azure, monitoring) == "ManualApprove"
    assert not ApprovalWindow.objects.visible_to(admin).exists()


def test_a_slot_under_way_when_the_window_is_saved_is_not_opened(
    admin: User, monitoring: ManagedApplication
) -> None:
    window_services.approval_window_save(
        application=monitoring,
        by=admin,
        weekdays=[6],
        start_time=dt.time(2, 0),
        end_time=dt.time(6, 0),
        time_zone="Europe/Berlin",
        now=STARTS + dt.timedelta(hours=1),
    )
    tick(STARTS + dt.timedelta(hours=1, minutes=1))
    assert not Operation.objects.exists()
    first = ApprovalWindowOccurrence.objects.order_by("starts_at").first()
    assert first is not None
    assert first.starts_at == STARTS + dt.timedelta(days=7)


def test_a_window_on_an_app_with_jit_off_never_opens(
    admin: User, monitoring: ManagedApplication
) -> None:
    window = window_for(monitoring, admin)
    tick(SAVED)
    ManagedApplication.objects.filter(pk=monitoring.pk).update(jit_enabled=False)
    tick(STARTS + MINUTE)
    assert occurrence_at(window).state == S.CLOSED
    assert not Operation.objects.exists()


def test_requests_made_in_the_window_are_approved_by_azure_not_by_the_portal(
    admin: User, pat: User, signed_in: Callable[[User], User], monitoring: ManagedApplication
) -> None:
    signed_in(pat)
    open_window(monitoring, admin)
    jit = request_as(pat, monitoring)
    work()
    jit.refresh_from_db()
    assert jit.state == State.APPROVED
    assert not jit.operations.filter(kind="decide").exists()
    assert JitRequest.objects.filter(state=State.APPROVED).count() == 1


def test_a_blocked_admin_cannot_open_a_window(admin: User, monitoring: ManagedApplication) -> None:
    window = window_for(monitoring, admin)
    User.objects.filter(pk=admin.pk).update(is_active=False)
    tick(STARTS + MINUTE)
    occurrence = occurrence_at(window)
    assert (occurrence.state, occurrence.failed_step) == (S.FAILED, "open")
    assert "blocked" in occurrence.note
    assert not Operation.objects.exists()


def test_a_sign_in_entra_no_longer_renews_makes_the_restore_loud_until_she_signs_in_again(
    admin: User,
    signed_in: Callable[[User], User],
    monitoring: ManagedApplication,
    azure: EmulatorServer,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    occurrence = open_window(monitoring, admin)
    # Her cached ARM token has expired and Entra refuses the stored refresh token.
    EntraCredential.objects.filter(user=admin).update(
        arm_token_expires_at=timezone.now() - dt.timedelta(minutes=1)
    )
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        tick(ENDS + MINUTE)
        work()
        tick(ENDS + 2 * MINUTE)
    occurrence.refresh_from_db()
    assert occurrence.close_operation is not None
    assert occurrence.close_operation.error_code == "SignInRequired"
    assert occurrence.state == S.CLOSING and occurrence.retry_restore_at is not None
    assert any("still on automatic" in m.subject for m in mail.outbox)
    assert azure_mode(azure, monitoring) == "AutoApprove"

    signed_in(admin)  # she signs in to the portal again
    tick(occurrence.retry_restore_at)
    work()
    tick(occurrence.retry_restore_at + MINUTE)
    occurrence.refresh_from_db()
    assert occurrence.state == S.CLOSED
    assert azure_mode(azure, monitoring) == "ManualApprove"


def test_a_switch_whose_answer_was_lost_is_not_taken_for_unsent(
    admin: User,
    monitoring: ManagedApplication,
    azure: EmulatorServer,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    window = window_for(monitoring, admin)
    with django_capture_on_commit_callbacks(execute=False):
        tick(STARTS + MINUTE)
    operation = occurrence_at(window).open_operation
    assert operation is not None
    # Azure carries the PATCH out but the answer never arrives: the outbox retries later.
    azure.inject_fault(kind="lost_answer", count=1, method="PATCH")
    with pytest.raises(Transient):
        outbox.operation_submit(operation_id=operation.pk)
    assert azure_mode(azure, monitoring) == "AutoApprove"
    tick(ENDS + MINUTE)  # not withdrawn: it may have (and did) reach Azure
    assert occurrence_at(window).state == S.OPENING

    tasks.submit_operation(operation.pk)  # the retry
    tick(ENDS + 2 * MINUTE)
    work()
    tick(ENDS + 3 * MINUTE)
    assert occurrence_at(window).state == S.CLOSED
    assert azure_mode(azure, monitoring) == "ManualApprove"


def test_approvers_told_of_a_window_hear_when_it_is_called_off(
    admin: User,
    monitoring: ManagedApplication,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    window = window_for(monitoring, admin)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        tick(STARTS - dt.timedelta(hours=2))
        window_services.approval_window_delete(
            window=window, by=admin, now=STARTS - dt.timedelta(hours=1)
        )
    subjects = [m.subject for m in mail.outbox]
    assert len(subjects) == 2
    assert "called off: Sun 10 Jan 02:00\N{EN DASH}06:00 Europe/Berlin" in subjects[1]
    assert "Alice Archer deleted the window" in mail.outbox[1].body
    tick(STARTS + MINUTE)
    assert not Operation.objects.exists()
    assert window_actions(monitoring) == [
        AuditEvent.Action.WINDOW_NOTICE,
        AuditEvent.Action.WINDOW_CANCELED,
    ]
