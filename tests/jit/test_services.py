"""JIT workflows against the emulator: recorded first, submitted as the person by the task,
mirrored back from ARM, audited once."""

import datetime as dt
from collections.abc import Callable, Iterable
from typing import Any

import pytest
from django.core import mail
from django.utils import timezone
from pytest_django import DjangoCaptureOnCommitCallbacks, Settings

from accounts.models import Tenant, User
from azure_gateway import Throttled, Transient, gateway_for_token
from azure_gateway.records import JitRequestRecord
from deployments.models import ManagedApplication
from emulator.server import EmulatorServer
from jit import activity, mirror, services, tasks
from jit.errors import NotAllowed
from jit.models import AuditEvent, JitRequest, Operation, State
from jit.services import EligibleRole
from tests.jit.conftest import CAROL, CONTRIBUTOR, OWNER, PAT

# The demo scenario's finished requests on fabrikam-monitoring and fabrikam-backup (jith…).
DEMO_HISTORY_OF_FABRIKAM = 14

pytestmark = pytest.mark.django_db


def actions(jit: JitRequest) -> list[str]:
    return list(jit.audit_events.order_by("pk").values_list("action", flat=True))


def queued(callbacks: Iterable[Callable[[], object]]) -> None:
    """Run what the transaction queued on commit, as the worker would (task functions directly)."""
    for callback in callbacks:
        callback()


def request_as(
    pat: User,
    app: ManagedApplication,
    *,
    hours: float = 2,
    start: dt.datetime | None = None,
    role: str = CONTRIBUTOR,
) -> JitRequest:
    return services.jit_request_create(
        application=app,
        by=pat,
        role=EligibleRole(PAT, role),
        start=start or timezone.now(),
        duration=dt.timedelta(hours=hours),
        justification="Disk alert on vm-monitoring",
        ticket_reference="INC-1042",
    )


def submit(operation: Operation) -> Operation:
    tasks.submit_operation(operation.pk)
    operation.refresh_from_db()
    return operation


def only_operation(jit: JitRequest, kind: str) -> Operation:
    return jit.operations.get(kind=kind)


@pytest.fixture
def pending(
    signed_in: Callable[[User], User], pat: User, alice: User, monitoring: ManagedApplication
) -> JitRequest:
    signed_in(pat)
    signed_in(alice)
    jit = request_as(pat, monitoring)
    submit(only_operation(jit, "create"))
    jit.refresh_from_db()
    assert jit.state == State.PENDING
    return jit


def _arm(azure: EmulatorServer, jit: JitRequest) -> JitRequestRecord:
    gateway = gateway_for_token(lambda: (azure.token_for(PAT), 2**31))
    with gateway:
        return gateway.get_jit_request(jit.arm_id)


# Requests ---------------------------------------------------------------------------------------


def test_request_is_recorded_first_and_submitted_on_commit(
    signed_in: Callable[[User], User],
    pat: User,
    alice: User,
    monitoring: ManagedApplication,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    signed_in(pat)
    signed_in(alice)
    with django_capture_on_commit_callbacks() as callbacks:
        jit = request_as(pat, monitoring)

    assert jit.state == State.SUBMITTING
    assert actions(jit) == [AuditEvent.Action.REQUESTED]
    assert len(callbacks) == 1
    queued(callbacks)

    jit.refresh_from_db()
    assert jit.state == State.PENDING
    assert only_operation(jit, "create").status == Operation.Status.DONE
    assert actions(jit) == [AuditEvent.Action.REQUESTED, AuditEvent.Action.SUBMITTED]


def test_approvers_get_a_mail_with_a_link_when_the_request_is_pending(
    signed_in: Callable[[User], User],
    pat: User,
    alice: User,
    carol: User,
    monitoring: ManagedApplication,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
    settings: Settings,
) -> None:
    settings.PORTAL_BASE_URL = "https://portal.example.test"
    signed_in(pat)
    signed_in(alice)
    signed_in(carol)
    with django_capture_on_commit_callbacks(execute=True):
        jit = request_as(pat, monitoring)

    (message,) = mail.outbox  # alice only: carol is an admin but not an approver
    assert message.to == ["alice@example.test"]
    assert "Decision needed" in message.subject and "Contributor" in message.subject
    assert "Disk alert on vm-monitoring" in message.body
    assert "INC-1042" in message.body
    assert f"https://portal.example.test/jit/requests/{jit.pk}/" in message.body


def test_automatic_approval_grants_at_once(
    signed_in: Callable[[User], User], pat: User, backup: ManagedApplication
) -> None:
    signed_in(pat)
    jit = request_as(pat, backup)
    submit(only_operation(jit, "create"))

    jit.refresh_from_db()
    assert jit.state == State.APPROVED
    assert jit.grant_started_at is not None
    assert AuditEvent.Action.GRANT_STARTED in actions(jit)


def test_a_role_the_person_is_not_listed_for_is_refused(
    signed_in: Callable[[User], User], pat: User, monitoring: ManagedApplication
) -> None:
    with pytest.raises(NotAllowed):
        request_as(pat, monitoring, role=OWNER)
    assert not JitRequest.objects.exists()


def test_arm_validation_failure_is_recorded_with_what_to_do(
    signed_in: Callable[[User], User], pat: User, monitoring: ManagedApplication
) -> None:
    signed_in(pat)
    jit = request_as(pat, monitoring, hours=9)  # the policy allows 8

    operation = submit(only_operation(jit, "create"))

    jit.refresh_from_db()
    assert operation.status == Operation.Status.FAILED
    assert operation.error_code == "JitRequestDurationExceedsMaximum"
    assert "shorter duration" in operation.what_to_do
    assert jit.state == State.FAILED
    assert actions(jit)[-1] == AuditEvent.Action.REQUEST_FAILED


def test_without_a_stored_sign_in_the_operation_asks_to_sign_in_again(
    pat: User, monitoring: ManagedApplication, azure: EmulatorServer
) -> None:
    jit = request_as(pat, monitoring)

    operation = submit(only_operation(jit, "create"))

    assert operation.status == Operation.Status.FAILED
    assert operation.error_code == "SignInRequired"
    assert "Sign in again" in operation.what_to_do


def test_server_errors_are_retried_and_the_request_is_created_once(
    azure: EmulatorServer,
    signed_in: Callable[[User], User],
    pat: User,
    monitoring: ManagedApplication,
) -> None:
    signed_in(pat)
    jit = request_as(pat, monitoring)
    azure.inject_fault(kind="status", status=500, count=3, path="/jitRequests/", method="PUT")
    operation = only_operation(jit, "create")

    with pytest.raises(Transient):
        tasks.submit_operation(operation.pk)
    operation.refresh_from_db()
    assert (operation.status, operation.attempts) == (Operation.Status.QUEUED, 1)

    submit(operation)
    submit(operation)  # a second delivery of the same task changes nothing

    assert operation.status == Operation.Status.DONE
    assert operation.attempts == 2
    puts = [r for r in azure.state.requests_log if r["method"] == "PUT" and jit.name in r["path"]]
    assert puts[-1]["status"] in (200, 201)
    jit.refresh_from_db()
    assert jit.state == State.PENDING
    assert actions(jit).count(AuditEvent.Action.SUBMITTED) == 1


def test_throttling_waits_for_retry_after(
    azure: EmulatorServer,
    signed_in: Callable[[User], User],
    pat: User,
    monitoring: ManagedApplication,
) -> None:
    signed_in(pat)
    jit = request_as(pat, monitoring)
    azure.inject_fault(kind="throttle", count=3, retry_after=30, path="/jitRequests/")
    operation = only_operation(jit, "create")

    with pytest.raises(Throttled) as caught:
        tasks.submit_operation(operation.pk)

    assert caught.value.retry_after == 30
    operation.refresh_from_db()
    assert operation.status == Operation.Status.QUEUED
    assert operation.error_code


def test_retries_in_a_worker_end_confirmed(
    azure: EmulatorServer,
    signed_in: Callable[[User], User],
    pat: User,
    monitoring: ManagedApplication,
) -> None:
    signed_in(pat)
    jit = request_as(pat, monitoring)
    azure.inject_fault(kind="status", status=503, count=3, path="/jitRequests/", method="PUT")

    tasks.submit_operation.apply(args=(only_operation(jit, "create").pk,))

    jit.refresh_from_db()
    assert jit.state == State.PENDING


def test_no_entra_p2_ends_failed_with_the_licence_named(
    azure: EmulatorServer,
    signed_in: Callable[[User], User],
    pat: User,
    monitoring: ManagedApplication,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    from accounts.models import Tenant
    from tests.jit.conftest import _app

    woodgrove = Tenant.objects.create(
        entra_tenant_id="b632bd77-5d1b-4ed9-b465-bdb51268f8f1",
        display_name="Woodgrove Bank",
        side="customer",
        state="allowed",
    )
    assert monitoring.offer is not None
    app = _app(
        woodgrove, monitoring.offer, "b4ada22b-090d-4aa2-a27f-8119ce092cad", "rg-managed-apps",
        "woodgrove-monitoring", "ManualApprove", [], 8, "uksouth",
    )  # fmt: skip
    signed_in(pat)
    jit = request_as(pat, app)

    operation = submit(only_operation(jit, "create"))

    jit.refresh_from_db()
    assert jit.state == State.FAILED
    assert operation.error_code == "JitRequestFailed"
    assert "P2" in operation.what_to_do


# Decisions: the hand-off channel (the default) ----------------------------------------------------


def decided_in_azure(
    azure: EmulatorServer,
    jit: JitRequest,
    *,
    by: str,
    approve: bool = True,
    reason: str = "Decided in the Azure portal",
) -> None:
    """The person makes the decision in the Azure portal (the emulator's stand-in for its blade)."""
    import requests

    response = requests.post(
        f"{azure.https_url}/_emulator/act/decide",
        json={
            "as": by,
            "jit_request_id": jit.arm_id,
            "decision": "Approve" if approve else "Deny",
            "justification": reason,
        },
        verify=azure.ca_bundle,
        timeout=10,
    )
    assert response.status_code == 200, response.text


def arm_writes(azure: EmulatorServer, since: int) -> list[dict[str, Any]]:
    return [r for r in azure.state.requests_log[since:] if r["method"] != "GET"]


def test_a_decision_is_recorded_here_made_in_azure_and_confirmed_from_arm(
    pending: JitRequest, alice: User, azure: EmulatorServer
) -> None:
    before = len(azure.state.requests_log)

    result = services.jit_request_decide(
        jit_request=pending, by=alice, approve=True, justification="Planned work"
    )

    pending.refresh_from_db()
    assert result is None  # nothing is queued for ARM: Azure takes the decision itself
    assert arm_writes(azure, before) == []
    assert pending.state == State.PENDING
    assert (pending.handoff_decision, pending.handoff_by) == ("approve", alice)
    recorded = pending.audit_events.get(action=AuditEvent.Action.DECIDED)
    assert recorded.after == {
        "decision": "approve",
        "channel": "handoff",
        "confirmed_by_azure": False,
    }
    assert not pending.audit_events.filter(action=AuditEvent.Action.APPROVED).exists()

    decided_in_azure(azure, pending, by=str(alice.entra_object_id))
    tasks.watch_request(str(pending.pk))

    pending.refresh_from_db()
    assert pending.state == State.APPROVED
    assert actions(pending)[-3:] == [
        AuditEvent.Action.DECIDED,
        AuditEvent.Action.APPROVED,
        AuditEvent.Action.GRANT_STARTED,
    ]
    approved = pending.audit_events.get(action=AuditEvent.Action.APPROVED)
    assert approved.actor_name == "Azure"
    assert "Alice Archer recorded in the portal the decision to approve" in approved.reason


def test_the_deep_link_opens_the_applications_jit_blade(
    pending: JitRequest, alice: User, azure: EmulatorServer
) -> None:
    from jit import handoff

    url = handoff.azure_decision_url(pending)

    assert url.startswith(azure.http_url + "/_portal/jitAccess?application=")
    assert "%2Fapplications%2Ffabrikam-monitoring" in url


def test_requester_hears_of_the_denial_with_the_reason(
    pending: JitRequest,
    alice: User,
    azure: EmulatorServer,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    services.jit_request_decide(
        jit_request=pending, by=alice, approve=False, justification="Not during the freeze"
    )
    decided_in_azure(azure, pending, by=str(alice.entra_object_id), approve=False)
    mail.outbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        mirror.jit_request_refresh(pending)

    pending.refresh_from_db()
    assert pending.state == State.DENIED
    assert _arm(azure, pending).state == "Denied"
    (message,) = mail.outbox
    assert message.to == ["pat@example.test"]
    assert message.subject.startswith("Denied")
    assert "Not during the freeze" in message.body


def test_recording_again_replaces_the_decision_and_each_is_audited(
    pending: JitRequest, alice: User
) -> None:
    services.jit_request_decide(jit_request=pending, by=alice, approve=True, justification="ok")
    services.jit_request_decide(
        jit_request=pending, by=alice, approve=False, justification="Changed my mind"
    )

    pending.refresh_from_db()
    assert pending.handoff_decision == "deny"
    assert pending.handoff_reason == "Changed my mind"
    assert actions(pending).count(AuditEvent.Action.DECIDED) == 2


@pytest.mark.parametrize("approve", [True, False])
def test_every_decision_needs_a_reason(pending: JitRequest, alice: User, approve: bool) -> None:
    with pytest.raises(NotAllowed):
        services.jit_request_decide(
            jit_request=pending, by=alice, approve=approve, justification=" "
        )


def test_reader_cannot_decide(pending: JitRequest, bob: User) -> None:
    with pytest.raises(NotAllowed):
        services.jit_request_decide(jit_request=pending, by=bob, approve=True, justification="ok")


def test_admin_who_is_not_an_approver_cannot_decide(pending: JitRequest, carol: User) -> None:
    with pytest.raises(NotAllowed):
        services.jit_request_decide(jit_request=pending, by=carol, approve=True, justification="ok")


def test_admin_of_another_tenant_cannot_decide(pending: JitRequest, charlie: User) -> None:
    with pytest.raises(NotAllowed):
        services.jit_request_decide(
            jit_request=pending, by=charlie, approve=True, justification="ok"
        )


def test_nobody_decides_their_own_request(pending: JitRequest, alice: User) -> None:
    JitRequest.objects.filter(pk=pending.pk).update(requested_by=alice)

    with pytest.raises(NotAllowed):
        services.jit_request_decide(jit_request=pending, by=alice, approve=True, justification="ok")


SPELLINGS = [
    str.upper,
    str.lower,
    lambda oid: "{" + oid.upper() + "}",
    lambda oid: oid.replace("-", ""),
    lambda oid: f"  {oid}\t",
]


@pytest.mark.parametrize("spelling", SPELLINGS)
@pytest.mark.parametrize("field", ["principal_id", "requester_oid"])
def test_nobody_decides_a_request_that_names_themselves_in_any_spelling(
    pending: JitRequest, alice: User, spelling: Callable[[str], str], field: str
) -> None:
    setattr(pending, field, spelling(str(alice.entra_object_id)))
    pending.save()  # every write of a request goes through save, which keeps one spelling

    assert not JitRequest.objects.decidable_by(alice).filter(pk=pending.pk).exists()
    with pytest.raises(NotAllowed):
        services.jit_request_decide(jit_request=pending, by=alice, approve=True, justification="ok")


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_an_approver_listed_in_any_spelling_may_decide(
    pending: JitRequest, alice: User, spelling: Callable[[str], str]
) -> None:
    app = pending.application
    app.jit_approvers = [{"id": spelling(str(alice.entra_object_id)), "type": "user"}]
    app.save()

    assert JitRequest.objects.decidable_by(alice).filter(pk=pending.pk).exists()


def test_a_decided_request_cannot_be_decided_again(
    pending: JitRequest, alice: User, azure: EmulatorServer
) -> None:
    services.jit_request_decide(jit_request=pending, by=alice, approve=True, justification="ok")
    decided_in_azure(azure, pending, by=str(alice.entra_object_id))
    mirror.jit_request_refresh(pending)

    with pytest.raises(NotAllowed):
        services.jit_request_decide(
            jit_request=pending, by=alice, approve=False, justification="No"
        )


def test_a_request_that_times_out_after_a_recorded_decision_says_so(
    pending: JitRequest, alice: User, azure: EmulatorServer
) -> None:
    services.jit_request_decide(jit_request=pending, by=alice, approve=True, justification="late")
    azure.advance_clock(dt.timedelta(hours=25))

    mirror.jit_requests_reconcile_scope()

    pending.refresh_from_db()
    assert pending.state == State.TIMEOUT
    assert not pending.audit_events.filter(action=AuditEvent.Action.APPROVED).exists()


# Decisions: the PIM channel (an assumption, opted into per tenant and in the emulator) ----------


@pytest.fixture
def pim(azure: EmulatorServer, fabrikam: Tenant) -> None:
    """Fabrikam on the in-portal channel, and the emulator assuming the undocumented link from a
    jitRequest to a PIM approval (docs/emulator.md, Assumptions: pim-link)."""
    import requests

    response = requests.post(
        f"{azure.https_url}/_emulator/settings",
        json={"assumptions": ["pim-link"]},
        verify=azure.ca_bundle,
        timeout=10,
    )
    assert response.status_code == 200, response.text
    fabrikam.approval_channel = fabrikam.ApprovalChannel.PIM
    fabrikam.save()


@pytest.fixture
def pim_pending(
    pim: None,
    signed_in: Callable[[User], User],
    pat: User,
    alice: User,
    monitoring: ManagedApplication,
) -> JitRequest:
    signed_in(pat)
    signed_in(alice)
    jit = request_as(pat, monitoring)
    submit(only_operation(jit, "create"))
    jit.refresh_from_db()
    assert jit.state == State.PENDING
    return jit


def test_pim_channel_decides_the_approval_stage_as_the_approver(
    pim_pending: JitRequest, alice: User, azure: EmulatorServer
) -> None:
    operation = services.jit_request_decide(
        jit_request=pim_pending, by=alice, approve=True, justification="Planned work"
    )
    assert operation is not None
    submit(operation)

    pim_pending.refresh_from_db()
    assert operation.status == Operation.Status.DONE
    assert pim_pending.state == State.APPROVED
    assert pim_pending.decided_by_name == "Alice Archer"
    assert _arm(azure, pim_pending).state == "Approved"
    assert actions(pim_pending)[-3:] == [
        AuditEvent.Action.DECIDED,
        AuditEvent.Action.APPROVED,
        AuditEvent.Action.GRANT_STARTED,
    ]


def test_pim_channel_without_the_link_fails_with_what_actually_happened(
    pim: None,
    signed_in: Callable[[User], User],
    pat: User,
    alice: User,
    monitoring: ManagedApplication,
    azure: EmulatorServer,
) -> None:
    import requests

    signed_in(pat)
    signed_in(alice)
    jit = request_as(pat, monitoring)
    submit(only_operation(jit, "create"))
    requests.post(
        f"{azure.https_url}/_emulator/settings",
        json={"assumptions": []},
        verify=azure.ca_bundle,
        timeout=10,
    )
    # The request made before still has its approval; a new one has none.
    second = request_as(pat, monitoring)
    submit(only_operation(second, "create"))

    decision = services.jit_request_decide(
        jit_request=second, by=alice, approve=True, justification="ok"
    )
    assert decision is not None
    operation = submit(decision)

    assert operation.status == Operation.Status.FAILED
    assert operation.error_code == "ApprovalNotFound"
    assert "approver" not in operation.error_message.lower()
    assert "Azure portal" in operation.what_to_do


def test_double_click_and_two_approvers_apply_once(
    pim_pending: JitRequest,
    alice: User,
    signed_in: Callable[[User], User],
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    from accounts.models import Role
    from tests.conftest import make_person

    pending = pim_pending
    other = signed_in(make_person(pending.application.customer_tenant, CAROL, "Carol Chen", Role.CUSTOMER_ADMIN))  # fmt: skip
    pending.application.jit_approvers = []  # any admin may approve
    pending.application.save()
    with django_capture_on_commit_callbacks() as callbacks:
        first = services.jit_request_decide(
            jit_request=pending, by=alice, approve=True, justification="ok"
        )
        again = services.jit_request_decide(
            jit_request=pending, by=alice, approve=True, justification="ok"
        )
        rival = services.jit_request_decide(
            jit_request=pending, by=other, approve=False, justification="no"
        )

    assert first is not None and again is not None and rival is not None
    assert first.pk == again.pk == rival.pk
    assert Operation.objects.filter(kind="decide").count() == 1
    queued(callbacks)
    queued(callbacks)  # the task delivered twice
    pending.refresh_from_db()
    assert pending.state == State.APPROVED
    assert actions(pending).count(AuditEvent.Action.APPROVED) == 1


def test_decision_survives_server_errors_without_a_double_decision(
    pim_pending: JitRequest, alice: User, azure: EmulatorServer
) -> None:
    pending = pim_pending
    operation = services.jit_request_decide(
        jit_request=pending, by=alice, approve=True, justification="ok"
    )
    assert operation is not None
    # The SDK does not retry a PATCH itself, so each failure comes back to the task.
    azure.inject_fault(kind="status", status=502, count=2, path="/stages/", method="PATCH")

    for _ in range(2):
        with pytest.raises(Transient):
            tasks.submit_operation(operation.pk)
    pending.refresh_from_db()
    assert pending.state == State.PENDING
    submit(operation)
    submit(operation)

    pending.refresh_from_db()
    assert operation.status == Operation.Status.DONE
    assert pending.state == State.APPROVED
    patches = [
        r for r in azure.state.requests_log if r["method"] == "PATCH" and "/stages/" in r["path"]
    ]
    assert [r["status"] for r in patches] == [502, 502, 200]


def test_a_decision_after_azure_timed_it_out_is_reported(
    pim_pending: JitRequest, alice: User, azure: EmulatorServer
) -> None:
    operation = services.jit_request_decide(
        jit_request=pim_pending, by=alice, approve=True, justification="late"
    )
    assert operation is not None
    azure.advance_clock(dt.timedelta(hours=25))

    submit(operation)

    pim_pending.refresh_from_db()
    assert operation.status == Operation.Status.FAILED
    assert pim_pending.state == State.TIMEOUT
    assert operation.what_to_do


# Cancel, revoke, policy -------------------------------------------------------------------------


def test_publisher_cancels_a_pending_request(
    pending: JitRequest, pat: User, azure: EmulatorServer
) -> None:
    submit(services.jit_request_cancel(jit_request=pending, by=pat))

    pending.refresh_from_db()
    assert pending.state == State.CANCELED
    assert _arm(azure, pending).state == "Canceled"


def test_publisher_ends_an_active_grant_early(
    signed_in: Callable[[User], User], pat: User, backup: ManagedApplication, azure: EmulatorServer
) -> None:
    signed_in(pat)
    jit = request_as(pat, backup)
    submit(only_operation(jit, "create"))

    submit(services.jit_request_cancel(jit_request=jit, by=pat))

    jit.refresh_from_db()
    assert jit.state == State.CANCELED
    assert jit.grant_ended_at is not None
    assert actions(jit)[-1] == AuditEvent.Action.GRANT_ENDED


def test_customer_admin_cannot_revoke_a_grant_in_the_publishers_scope(
    signed_in: Callable[[User], User], pat: User, alice: User, backup: ManagedApplication
) -> None:
    signed_in(pat)
    jit = request_as(pat, backup)
    submit(only_operation(jit, "create"))

    # ARM would refuse her DELETE there (no rights in the publisher's subscription).
    with pytest.raises(NotAllowed):
        services.jit_request_revoke(jit_request=jit, by=alice, reason="Work is done")


def test_a_publisher_cannot_create_requests_outside_its_scopes(
    signed_in: Callable[[User], User],
    pat: User,
    monitoring: ManagedApplication,
    azure: EmulatorServer,
    settings: Settings,
) -> None:
    settings.PUBLISHER_JIT_SCOPE = "application"  # the customer's resource group: not theirs
    signed_in(pat)
    jit = request_as(pat, monitoring)

    operation = submit(only_operation(jit, "create"))

    jit.refresh_from_db()
    assert operation.status == Operation.Status.FAILED
    assert operation.error_code == "AuthorizationFailed"
    assert "check_azure" in operation.what_to_do
    assert jit.state == State.FAILED


def test_policy_change_is_patched_as_the_admin_and_audited(
    signed_in: Callable[[User], User],
    alice: User,
    monitoring: ManagedApplication,
    azure: EmulatorServer,
) -> None:
    from azure_gateway.records import JitApprover, JitPolicy

    signed_in(alice)
    policy = JitPolicy(
        enabled=True,
        approval_mode="ManualApprove",
        approvers=(JitApprover(id=str(alice.entra_object_id), type="user", display_name="Alice"),),
        maximum_duration=dt.timedelta(hours=4),
    )

    operation = submit(services.jit_policy_update(application=monitoring, by=alice, policy=policy))

    monitoring.refresh_from_db()
    assert operation.status == Operation.Status.DONE
    assert monitoring.jit_maximum_duration == dt.timedelta(hours=4)
    event = AuditEvent.objects.filter(action=AuditEvent.Action.POLICY_CHANGED).get()
    assert event.before["maximum_duration"] == 8 * 3600
    assert event.after["maximum_duration"] == 4 * 3600
    assert event.actor == alice


def test_an_admin_who_adds_herself_as_approver_and_decides_is_flagged_to_the_others(
    signed_in: Callable[[User], User],
    alice: User,
    carol: User,
    pending: JitRequest,
    monitoring: ManagedApplication,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    from azure_gateway.records import JitApprover, JitPolicy

    for person in (alice, carol):
        person.email = f"{person.first_name.lower() or person.pk}@fabrikam.example"
        person.save()
    signed_in(carol)
    policy = services.current_policy(monitoring)
    added = JitPolicy(
        enabled=policy.enabled,
        approval_mode=policy.approval_mode,
        approvers=(
            *policy.approvers,
            JitApprover(id=str(carol.entra_object_id).upper(), type="user", display_name="Carol"),
        ),
        maximum_duration=policy.maximum_duration,
    )
    assert submit(
        services.jit_policy_update(application=monitoring, by=carol, policy=added)
    ).status == (Operation.Status.DONE)
    mail.outbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        services.jit_request_decide(
            jit_request=pending, by=carol, approve=True, justification="Needed now"
        )

    flag = pending.audit_events.get(action=AuditEvent.Action.SELF_ADDED_APPROVER)
    assert flag.actor == carol
    assert "added themselves to the approvers of fabrikam-monitoring" in flag.reason
    flagged = [m for m in mail.outbox if "after adding themselves" in m.subject]
    assert [m.to for m in flagged] == [[alice.email]]  # the other approver, not Carol herself


def test_an_approver_of_long_standing_is_not_flagged(alice: User, pending: JitRequest) -> None:
    services.jit_request_decide(jit_request=pending, by=alice, approve=True, justification="ok")

    assert not pending.audit_events.filter(action=AuditEvent.Action.SELF_ADDED_APPROVER).exists()


def test_reader_policy_change_fails_with_what_to_do(
    signed_in: Callable[[User], User], bob: User, monitoring: ManagedApplication
) -> None:
    signed_in(bob)
    policy = services.current_policy(monitoring)

    operation = submit(services.jit_policy_update(application=monitoring, by=bob, policy=policy))

    assert operation.status == Operation.Status.FAILED
    assert "rights" in operation.what_to_do


# Reconciliation, timeout, expiry ----------------------------------------------------------------


def test_reconcile_adopts_requests_made_outside_the_portal(
    azure: EmulatorServer,
    fabrikam: Tenant,
    monitoring: ManagedApplication,
    backup: ManagedApplication,
) -> None:
    mirror.jit_requests_reconcile_scope()

    states = dict(JitRequest.objects.values_list("name", "state"))
    recent = {name: state for name, state in states.items() if not name.startswith("jith")}
    assert recent == {
        "jitpend1": "Pending",
        "jitact1": "Approved",
        "jitden1": "Denied",
        "jitexp1": "Expired",
        "jittmo1": "Timeout",
        "jitauto1": "Approved",
    }
    # The demo's history of Fabrikam's two applications: months of finished requests.
    history = {name: state for name, state in states.items() if name.startswith("jith")}
    assert len(history) == DEMO_HISTORY_OF_FABRIKAM
    assert set(history.values()) == {"Expired", "Denied", "Timeout", "Canceled"}
    active = JitRequest.objects.get(name="jitact1")
    assert active.grant_started_at is not None
    mirror.jit_requests_reconcile_scope()  # twice: nothing new
    assert (
        AuditEvent.objects.filter(action=AuditEvent.Action.REQUESTED).count()
        == 6 + DEMO_HISTORY_OF_FABRIKAM
    )
    # Nobody has signed in yet: requesters are named as well as the portal can, never a bare id.
    actors = set(
        AuditEvent.objects.filter(action=AuditEvent.Action.REQUESTED).values_list(
            "actor_name", flat=True
        )
    )
    assert all(name.startswith("A principal of the publisher (object id ") for name in actors)


def test_adopted_history_keeps_its_reason_ticket_grant_times_and_changes(
    azure: EmulatorServer,
    fabrikam: Tenant,
    monitoring: ManagedApplication,
    backup: ManagedApplication,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        mirror.jit_requests_reconcile_scope()

    old = JitRequest.objects.get(name="jith09")
    assert old.justification == "Migrate the alert rules to the new workspace"
    assert old.ticket_reference == "CHG-1047"
    # Expired weeks ago: the grant ended at its scheduled end, not when the portal first saw it.
    assert old.grant_started_at == old.start
    assert old.grant_ended_at == old.end
    # Its end queued the copy of the activity log: what was changed while elevated.
    operations = sorted(old.activities.values_list("operation", flat=True))
    assert "Microsoft.Compute/virtualMachines/extensions/delete" in operations
    assert "Microsoft.Network/virtualNetworks/write" in operations
    # No reason in the tags: said so.
    assert JitRequest.objects.get(name="jitexp1").justification == "Requested outside the portal."


def test_requests_made_outside_the_portal_name_a_requester_who_signed_in(
    azure: EmulatorServer,
    fabrikam: Tenant,
    monitoring: ManagedApplication,
    backup: ManagedApplication,
    pat: User,
) -> None:
    mirror.jit_requests_reconcile_scope()
    requested = AuditEvent.objects.filter(
        action=AuditEvent.Action.REQUESTED, jit_request__name="jitpend1"
    ).get()
    assert requested.actor_name == str(pat)


def test_timeout_by_the_emulator_clock(
    pending: JitRequest,
    azure: EmulatorServer,
    fabrikam: Tenant,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    mail.outbox.clear()
    azure.advance_clock(dt.timedelta(hours=25))

    with django_capture_on_commit_callbacks(execute=True):
        mirror.jit_requests_reconcile_scope()

    pending.refresh_from_db()
    assert pending.state == State.TIMEOUT
    assert actions(pending)[-1] == AuditEvent.Action.TIMED_OUT
    assert any(m.to == ["pat@example.test"] and "Timed out" in m.subject for m in mail.outbox)


def test_expiry_by_the_emulator_clock_ends_the_grant_and_tells_both_sides(
    signed_in: Callable[[User], User],
    pat: User,
    alice: User,
    backup: ManagedApplication,
    azure: EmulatorServer,
    fabrikam: Tenant,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    signed_in(pat)
    signed_in(alice)
    jit = request_as(pat, backup, hours=1)
    submit(only_operation(jit, "create"))
    azure.advance_clock(dt.timedelta(hours=2))
    mail.outbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        mirror.jit_requests_reconcile_scope()

    jit.refresh_from_db()
    assert jit.state == State.EXPIRED
    assert jit.grant_ended_at is not None
    ended = [m for m in mail.outbox if m.subject.startswith("Access ended") and jit.name in m.body]
    assert sorted(m.to[0] for m in ended) == ["alice@example.test", "pat@example.test"]


def test_timeout_warning_is_sent_once_an_hour_before(
    pending: JitRequest, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    JitRequest.objects.filter(pk=pending.pk).update(
        created_at=timezone.now() - dt.timedelta(hours=23, minutes=10)
    )
    mail.outbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        assert services.jit_timeout_warnings_send() == 1
        assert services.jit_timeout_warnings_send() == 0

    (message,) = mail.outbox
    assert message.to == ["alice@example.test"]
    assert "within the hour" in message.subject


def test_reconcile_task_lists_the_publisher_scope_once(
    fabrikam: Tenant,
    monitoring: ManagedApplication,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    from unittest import mock

    with (
        mock.patch.object(tasks.reconcile_scope_requests, "delay") as scope,
        mock.patch.object(tasks.reconcile_tenant_requests, "delay") as tenant,
    ):
        tasks.reconcile_requests()
    scope.assert_called_once_with()
    tenant.assert_not_called()  # no request lives in Fabrikam's own subscription


def test_reconcile_task_fans_out_per_tenant_in_the_application_scope(
    fabrikam: Tenant, monitoring: ManagedApplication, settings: Settings
) -> None:
    from unittest import mock

    settings.PUBLISHER_JIT_SCOPE = "application"
    with (
        mock.patch.object(tasks.reconcile_scope_requests, "delay") as scope,
        mock.patch.object(tasks.reconcile_tenant_requests, "delay") as tenant,
    ):
        tasks.reconcile_requests()
    scope.assert_not_called()
    tenant.assert_called_once_with(fabrikam.pk)


# Elevation report -------------------------------------------------------------------------------


def test_what_the_publisher_did_while_elevated_is_kept_for_review(
    pending: JitRequest,
    alice: User,
    pat: User,
    azure: EmulatorServer,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    import requests

    services.jit_request_decide(
        jit_request=pending, by=alice, approve=True, justification="Resize the disk"
    )
    decided_in_azure(azure, pending, by=str(alice.entra_object_id))
    mirror.jit_request_refresh(pending)
    mrg = pending.application.managed_resource_group_id
    vm = f"{mrg}/providers/Microsoft.Compute/virtualMachines/vm-fabrikam-monitoring"
    restarted = requests.post(
        f"{azure.https_url}{vm}/restart",
        params={"api-version": "2024-03-01"},
        headers={"Authorization": f"Bearer {azure.token_for(PAT)}"},
        verify=azure.ca_bundle,
        timeout=10,
    )
    assert restarted.status_code < 300, restarted.text

    with django_capture_on_commit_callbacks(execute=True):
        submit(services.jit_request_cancel(jit_request=pending, by=pat))

    pending.refresh_from_db()
    assert pending.activity_fetched_at is not None
    done = {a.operation.lower(): a for a in pending.activities.all()}
    restart = done["microsoft.compute/virtualmachines/restart/action"]
    assert restart.resource_id.lower() == vm.lower()
    assert restart.caller == "pat@contoso.onmicrosoft.com"
    # Fetched again (a task delivered twice): nothing doubles.
    assert activity.elevation_activity_fetch(jit_request=pending) == 0
