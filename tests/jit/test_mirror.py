"""Mirroring ARM's JIT requests when ARM says something unexpected: a request it no longer has, a
state the portal does not know, a long name, a decision that differs from the one recorded."""

import datetime as dt
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from accounts.models import User
from azure_gateway.records import Authorization, ClientDetails, JitRequestRecord
from deployments.models import ManagedApplication
from emulator.server import EmulatorServer
from jit import mirror, services
from jit.adoption import adopt_requests
from jit.models import AuditEvent, Decision, JitRequest, State
from tests.conftest import store_sign_in
from tests.jit.conftest import CONTRIBUTOR, PAT

pytestmark = pytest.mark.django_db

SCOPE = "/subscriptions/d3abb81d-851b-4948-87e4-035350bd1eee/resourceGroups/jit-requests"


def record_for(
    jit_or_app_id: str,
    *,
    name: str = "jitx1",
    state: str = "Pending",
    request_id: str | None = None,
    updated_by: str = PAT,
) -> JitRequestRecord:
    start = timezone.now() - dt.timedelta(minutes=5)
    return JitRequestRecord(
        id=request_id or f"{SCOPE}/providers/Microsoft.Solutions/jitRequests/{name}",
        name=name,
        location="westeurope",
        application_id=jit_or_app_id,
        publisher_tenant_id="",
        authorizations=(Authorization(PAT, CONTRIBUTOR),),
        schedule_type="Once",
        start=start,
        duration=dt.timedelta(hours=2),
        state=state,
        provisioning_state="Succeeded",
        created_by=ClientDetails(oid=PAT, application_id=""),
        updated_by=ClientDetails(oid=updated_by, application_id="") if updated_by else None,
        tags={},
    )


def pending_row(app: ManagedApplication, name: str = "jitx1", **fields: Any) -> JitRequest:
    return JitRequest.objects.create(
        application=app,
        arm_id=f"{SCOPE}/providers/Microsoft.Solutions/jitRequests/{name}",
        name=name,
        principal_id=PAT,
        role_definition_id=CONTRIBUTOR,
        start=timezone.now(),
        duration=dt.timedelta(hours=2),
        state=State.PENDING,
        arm_state="Pending",
        **fields,
    )


def test_a_request_azure_no_longer_has_is_closed_as_gone(
    azure: EmulatorServer, monitoring: ManagedApplication
) -> None:
    jit = pending_row(monitoring, "nosuch1")
    JitRequest.objects.filter(pk=jit.pk).update(created_at=timezone.now() - dt.timedelta(hours=23))

    assert mirror.jit_request_refresh(jit) is True

    jit.refresh_from_db()
    assert jit.state == State.GONE
    assert jit.is_final
    gone = jit.audit_events.get(action=AuditEvent.Action.REQUEST_GONE)
    assert "does not exist" in gone.reason
    assert services.jit_timeout_warnings_send() == 0  # nobody is warned about a closed request
    assert mirror.jit_request_refresh(jit) is False  # seen again: nothing more is recorded


@pytest.mark.parametrize("arm_state", ["NotSpecified", "Escalated", "<b>Reviewing</b>"])
def test_a_state_the_portal_does_not_know_is_kept_and_shown_safely(
    azure: EmulatorServer,
    client: Client,
    alice: User,
    monitoring: ManagedApplication,
    arm_state: str,
) -> None:
    jit = pending_row(monitoring)

    mirror.jit_request_apply_record(jit=jit, record=record_for(monitoring.arm_id, state=arm_state))

    jit.refresh_from_db()
    assert (jit.state, jit.arm_state) == (State.UNKNOWN, arm_state)
    store_sign_in(azure, alice)
    client.force_login(alice)
    page = client.get(f"/jit/requests/{jit.pk}/")
    assert page.status_code == 200
    assert "<b>Reviewing</b>" not in page.content.decode()
    assert "does not know" in page.content.decode()
    assert jit.audit_events.filter(action=AuditEvent.Action.STATE_UNKNOWN).count() == 1


def test_adopted_requests_keep_their_whole_name(monitoring: ManagedApplication) -> None:
    name = "request-made-in-the-azure-portal-with-a-long-name"

    adopt_requests([(monitoring, record_for(monitoring.arm_id, name=name))])

    assert JitRequest.objects.get().name == name


def test_a_decision_in_azure_that_differs_from_the_recorded_one_is_said_so(
    monitoring: ManagedApplication, alice: User
) -> None:
    jit = pending_row(
        monitoring,
        handoff_decision=Decision.APPROVE,
        handoff_by=alice,
        handoff_by_name=str(alice),
        handoff_reason="Planned work",
        handoff_at=timezone.now(),
    )

    mirror.jit_request_apply_record(jit=jit, record=record_for(monitoring.arm_id, state="Denied"))

    denied = jit.audit_events.get(action=AuditEvent.Action.DENIED)
    assert denied.actor is None and denied.actor_name == "Azure"
    assert "although Alice Archer recorded the decision to approve" in denied.reason


def test_a_confirmed_decision_quotes_what_was_recorded_without_claiming_who_clicked(
    monitoring: ManagedApplication, alice: User
) -> None:
    jit = pending_row(
        monitoring,
        handoff_decision=Decision.APPROVE,
        handoff_by=alice,
        handoff_by_name=str(alice),
        handoff_reason="Planned work",
        handoff_at=timezone.now(),
    )

    mirror.jit_request_apply_record(jit=jit, record=record_for(monitoring.arm_id, state="Approved"))

    approved = jit.audit_events.get(action=AuditEvent.Action.APPROVED)
    assert approved.actor is None and approved.actor_name == "Azure"
    assert approved.reason.startswith("Confirmed by Azure.")
    assert "“Planned work”" in approved.reason


def test_updated_by_is_reported_as_the_last_change_not_as_the_decider(
    monitoring: ManagedApplication, alice: User
) -> None:
    jit = pending_row(
        monitoring,
        handoff_decision=Decision.APPROVE,
        handoff_by=alice,
        handoff_by_name=str(alice),
        handoff_reason="Planned work",
        handoff_at=timezone.now(),
    )
    record = record_for(monitoring.arm_id, state="Approved", updated_by=str(alice.entra_object_id))

    mirror.jit_request_apply_record(jit=jit, record=record)

    approved = jit.audit_events.get(action=AuditEvent.Action.APPROVED)
    assert approved.actor is None  # updatedBy is no proof of who decided
    assert approved.reason.endswith("Azure names Alice Archer as the last to change the request.")


def test_updated_by_the_requester_adds_nothing(monitoring: ManagedApplication) -> None:
    jit = pending_row(monitoring)

    mirror.jit_request_apply_record(jit=jit, record=record_for(monitoring.arm_id, state="Denied"))

    denied = jit.audit_events.get(action=AuditEvent.Action.DENIED)
    assert denied.actor_name == "Azure (a decision in Azure)"
    assert denied.reason == ""
