"""JIT policy, requests and PIM approvals through the gateway, as the people who do them."""

import datetime as dt
from collections.abc import Iterator

import pytest

from azure_gateway import (
    BadRequest,
    Conflict,
    Forbidden,
    NotFound,
    OperationFailed,
    Transient,
    gateway_for_token,
)
from azure_gateway.gateway import SdkAzureGateway
from azure_gateway.records import (
    AccessRequestRecord,
    ApprovalRecord,
    Authorization,
    JitApprover,
    JitPolicy,
    JitRequestRecord,
)
from emulator.server import EmulatorServer
from tests.azure.conftest import (
    ALICE,
    BACKUP,
    CONTOSO_SUB,
    CONTRIBUTOR,
    FABRIKAM_SUB,
    MONITORING,
    MONITORING_MRG,
    OWNER,
    PAT,
    app_id,
    token_provider,
)

CAROL = "b376206c-f644-43d3-af0b-79222eaf261c"
WOODGROVE_SUB = "b4ada22b-090d-4aa2-a27f-8119ce092cad"
WOODGROVE_MONITORING = app_id(WOODGROVE_SUB, "rg-managed-apps", "woodgrove-monitoring")


def jit_id(subscription: str, resource_group: str, name: str) -> str:
    return (
        f"/subscriptions/{subscription}/resourceGroups/{resource_group}"
        f"/providers/Microsoft.Solutions/jitRequests/{name}"
    )


# The publisher's own resource group, where the demo's people may create jitRequests.
SCOPE = f"/subscriptions/{CONTOSO_SUB}/resourceGroups/jit-requests"


def in_scope(name: str) -> str:
    return jit_id(CONTOSO_SUB, "jit-requests", name)


def request_elevation(
    gateway: SdkAzureGateway,
    emulator: EmulatorServer,
    *,
    name: str,
    application: str = MONITORING,
    hours: int = 2,
    role: str = CONTRIBUTOR,
) -> JitRequestRecord:
    return gateway.create_jit_request(
        jit_request_id=in_scope(name),
        application_id=application,
        location="westeurope",
        authorizations=[Authorization(principal_id=PAT, role_definition_id=role)],
        start=emulator.state.now(),
        duration=dt.timedelta(hours=hours),
    )


# Policy ----------------------------------------------------------------------------------------


def test_admin_updates_the_jit_policy(emulator: EmulatorServer, as_alice: SdkAzureGateway) -> None:
    policy = JitPolicy(
        enabled=True,
        approval_mode="ManualApprove",
        approvers=(
            JitApprover(id=ALICE, type="user", display_name="Alice Archer"),
            JitApprover(id=CAROL, type="user", display_name="Carol Chen"),
        ),
        maximum_duration=dt.timedelta(hours=4),
    )

    app = as_alice.update_jit_policy(MONITORING, policy)

    assert app.jit_policy == policy
    assert app.provisioning_state == "Succeeded"  # the PATCH's long-running operation finished
    assert as_alice.get_managed_app(MONITORING).jit_policy == policy
    patch = next(r for r in emulator.state.requests_log if r["method"] == "PATCH")
    assert '"maximumJitAccessDuration": "PT4H"' in patch["body"]


def test_policy_can_switch_to_automatic_approval(as_alice: SdkAzureGateway) -> None:
    policy = JitPolicy(
        enabled=True,
        approval_mode="AutoApprove",
        approvers=(),
        maximum_duration=dt.timedelta(hours=1),
    )

    app = as_alice.update_jit_policy(MONITORING, policy)

    assert app.jit_policy == policy


def test_reader_cannot_update_the_jit_policy(as_bob: SdkAzureGateway) -> None:
    policy = JitPolicy(
        enabled=True,
        approval_mode="AutoApprove",
        approvers=(),
        maximum_duration=dt.timedelta(hours=1),
    )

    with pytest.raises(Forbidden) as caught:
        as_bob.update_jit_policy(MONITORING, policy)

    assert caught.value.code == "AuthorizationFailed"
    assert caught.value.status == 403


def test_jit_cannot_be_switched_off_after_deployment(as_alice: SdkAzureGateway) -> None:
    policy = JitPolicy(
        enabled=False, approval_mode="NotSpecified", approvers=(), maximum_duration=None
    )

    with pytest.raises(BadRequest) as caught:
        as_alice.update_jit_policy(MONITORING, policy)

    assert caught.value.code == "JitAccessPolicyChangeNotAllowed"


# Requests --------------------------------------------------------------------------------------


def test_publisher_requests_elevation_and_it_waits_for_approval(
    emulator: EmulatorServer, as_pat: SdkAzureGateway
) -> None:
    start = emulator.state.now()

    request = request_elevation(as_pat, emulator, name="jitnew1", hours=2)

    assert request.id == in_scope("jitnew1")
    assert request.name == "jitnew1"
    assert request.application_id == MONITORING
    assert request.authorizations == (
        Authorization(principal_id=PAT, role_definition_id=CONTRIBUTOR),
    )
    assert request.schedule_type == "Once"
    assert abs(request.start - start) < dt.timedelta(seconds=1)
    assert request.start.tzinfo == dt.UTC
    assert request.duration == dt.timedelta(hours=2)
    assert request.end == request.start + dt.timedelta(hours=2)
    assert request.state == "Pending"
    assert request.provisioning_state == "Succeeded"
    assert request.publisher_tenant_id == "0ec098e5-b929-47d3-a4de-b2f969d0ba5b"
    assert request.created_by is not None
    assert request.created_by.oid == PAT
    assert request.location == "westeurope"
    put = next(r for r in emulator.state.requests_log if r["method"] == "PUT")
    assert '"duration": "PT02H00M00S"' in put["body"]


def test_automatic_approval_grants_at_once(
    emulator: EmulatorServer, as_pat: SdkAzureGateway
) -> None:
    request = request_elevation(as_pat, emulator, name="jitauto2", application=BACKUP, hours=1)

    assert request.state == "Approved"


def test_repeating_the_same_request_is_harmless(
    emulator: EmulatorServer, as_pat: SdkAzureGateway
) -> None:
    first = request_elevation(as_pat, emulator, name="jitsame")
    again = request_elevation(as_pat, emulator, name="jitsame")

    assert again.id == first.id
    assert again.state == "Pending"
    listed = as_pat.list_jit_requests_at(SCOPE)
    assert len(listed) == len({r.id for r in listed})


def test_same_name_with_other_content_conflicts(
    emulator: EmulatorServer, as_pat: SdkAzureGateway
) -> None:
    request_elevation(as_pat, emulator, name="jitclash", role=CONTRIBUTOR)

    with pytest.raises(Conflict) as caught:
        request_elevation(as_pat, emulator, name="jitclash", role=OWNER)

    assert caught.value.status == 409


def test_duration_over_the_policy_maximum_is_refused(
    emulator: EmulatorServer, as_pat: SdkAzureGateway
) -> None:
    with pytest.raises(BadRequest) as caught:
        request_elevation(as_pat, emulator, name="jitlong", hours=9)

    assert caught.value.code == "JitRequestDurationExceedsMaximum"


def test_request_fails_in_a_tenant_without_entra_p2(
    emulator: EmulatorServer, as_pat: SdkAzureGateway
) -> None:
    with pytest.raises(OperationFailed) as caught:
        request_elevation(as_pat, emulator, name="jitwg2", application=WOODGROVE_MONITORING)

    assert caught.value.code == "JitRequestFailed"
    assert "P2" in caught.value.message
    failed = as_pat.get_jit_request(in_scope("jitwg2"))
    assert failed.state == "Failed"


def test_get_and_list_jit_requests(emulator: EmulatorServer, as_pat: SdkAzureGateway) -> None:
    pending = as_pat.get_jit_request(in_scope("jitpend1"))
    listed = as_pat.list_jit_requests_at(SCOPE)

    assert pending.state == "Pending"
    assert pending.duration == dt.timedelta(hours=4)
    assert pending in listed
    fabrikam = {r.name: r.state for r in listed if r.application_id.split("/")[2] == FABRIKAM_SUB}
    # The demo's months of history (jith…) are all finished; the recent requests each have theirs.
    history = {name: state for name, state in fabrikam.items() if name.startswith("jith")}
    assert history and set(history.values()) <= {"Expired", "Denied", "Timeout", "Canceled"}
    assert {name: state for name, state in fabrikam.items() if name not in history} == {
        "jitpend1": "Pending",
        "jitact1": "Approved",
        "jitden1": "Denied",
        "jitexp1": "Expired",
        "jittmo1": "Timeout",
        "jitauto1": "Approved",
    }


def test_a_customer_cannot_read_the_publishers_requests(as_alice: SdkAzureGateway) -> None:
    with pytest.raises(Forbidden) as caught:
        as_alice.get_jit_request(in_scope("jitpend1"))

    assert caught.value.code == "AuthorizationFailed"
    assert as_alice.list_jit_requests(FABRIKAM_SUB) == []


def test_missing_jit_request_is_not_found(as_pat: SdkAzureGateway) -> None:
    with pytest.raises(NotFound):
        as_pat.get_jit_request(in_scope("nosuch"))


def test_publisher_cancels_a_pending_request(
    emulator: EmulatorServer, as_pat: SdkAzureGateway
) -> None:
    request = request_elevation(as_pat, emulator, name="jitcanc")

    as_pat.cancel_jit_request(request.id)

    assert as_pat.get_jit_request(request.id).state == "Canceled"


def test_cancelling_a_request_that_is_gone_is_quiet(as_pat: SdkAzureGateway) -> None:
    as_pat.cancel_jit_request(in_scope("nosuch"))


def test_expired_grant_after_the_clock_moves(
    emulator: EmulatorServer, as_pat: SdkAzureGateway
) -> None:
    request = request_elevation(as_pat, emulator, name="jitclk", application=BACKUP, hours=1)
    assert request.state == "Approved"

    emulator.advance_clock(dt.timedelta(hours=2))

    assert as_pat.get_jit_request(request.id).state == "Expired"


# Approvals: the `pim-link` assumption of the emulator (docs/emulator.md), not documented Azure --


@pytest.fixture
def emulator(
    emulator: EmulatorServer, emulator_server: EmulatorServer, request: pytest.FixtureRequest
) -> Iterator[EmulatorServer]:
    """The approval tests below need PIM approvals behind jitRequests: an assumption."""
    if request.node.name.startswith(APPROVAL_TESTS):
        emulator_server.assumptions = {"pim-link"}
        emulator_server.reset(scenario="demo")
        yield emulator
        emulator_server.assumptions = set()
        emulator_server.reset(scenario="demo")
    else:
        yield emulator


APPROVAL_TESTS = (
    "test_approver_",
    "test_non_approver_",
    "test_a_decided_stage",
    "test_a_retried_decision",
    "test_denying_needs",
    "test_someone_who_is_not_an_approver",
)


def pending_approval_for(
    gateway: SdkAzureGateway, request_name: str
) -> tuple[AccessRequestRecord, ApprovalRecord]:
    """The approval of a JIT request, through the PIM request that names it."""
    (access,) = [
        a
        for a in gateway.list_access_requests(MONITORING_MRG, as_approver=True)
        if a.ticket_number == request_name
    ]
    assert access.approval_id is not None
    return access, gateway.get_approval(access.approval_id)


def test_approver_sees_the_access_request_behind_a_jit_request(
    emulator: EmulatorServer, as_pat: SdkAzureGateway, as_alice: SdkAzureGateway
) -> None:
    request = request_elevation(as_pat, emulator, name="jitlink", hours=3)

    access, approval = pending_approval_for(as_alice, "jitlink")

    assert access.ticket_system == "Microsoft.Solutions/jitRequests"
    assert access.scope == MONITORING_MRG
    assert access.role_definition_id == CONTRIBUTOR
    assert access.principal_id == PAT
    assert access.principal_type == "User"
    assert access.request_type == "SelfActivate"
    assert access.status == "PendingApproval"
    assert access.requestor_id == PAT
    assert access.duration == dt.timedelta(hours=3)
    assert access.start is not None and abs(access.start - request.start) < dt.timedelta(seconds=1)
    assert request.id in access.justification
    assert access.created_on is not None
    assert approval.name == access.approval_id
    assert (
        approval.id == f"/providers/Microsoft.Authorization/roleAssignmentApprovals/{approval.name}"
    )


def test_approver_lists_pending_approvals(
    emulator: EmulatorServer, as_pat: SdkAzureGateway, as_alice: SdkAzureGateway
) -> None:
    request_elevation(as_pat, emulator, name="jitlist")

    approvals = as_alice.list_approvals_as_approver()

    mine = [a for a in approvals if a.stages[0].assigned_to_me]
    assert len(mine) == 2  # jitpend1 from the scenario, and this one
    stage = mine[-1].stages[0]
    assert stage.status == "InProgress"
    assert stage.review_result == "NotReviewed"
    assert stage.reviewed_by is None
    assert stage.reviewed_at is None
    assert stage.display_name
    assert stage.id == f"{mine[-1].id}/stages/{stage.name}"


def test_non_approver_lists_nothing(as_bob: SdkAzureGateway) -> None:
    assert as_bob.list_approvals_as_approver() == []


def test_approver_approves_and_the_request_is_granted(
    emulator: EmulatorServer, as_pat: SdkAzureGateway, as_alice: SdkAzureGateway
) -> None:
    request = request_elevation(as_pat, emulator, name="jitok")
    _, approval = pending_approval_for(as_alice, "jitok")

    stage = as_alice.decide_approval_stage(
        approval.id, approval.stages[0].id, approve=True, justification="Planned maintenance"
    )

    assert stage.status == "Completed"
    assert stage.review_result == "Approve"
    assert stage.justification == "Planned maintenance"
    assert stage.reviewed_by is not None
    assert stage.reviewed_by.principal_id == ALICE
    assert stage.reviewed_by.principal_name == "Alice Archer"
    assert stage.reviewed_by.user_principal_name == "alice@fabrikam.onmicrosoft.com"
    assert stage.reviewed_at is not None and stage.reviewed_at.tzinfo == dt.UTC
    assert as_pat.get_jit_request(request.id).state == "Approved"
    grants = list(as_alice.list_role_assignments(MONITORING_MRG, principal_id=PAT))
    assert any(g.role_definition_id == CONTRIBUTOR and g.scope == MONITORING_MRG for g in grants)


def test_approver_denies(
    emulator: EmulatorServer, as_pat: SdkAzureGateway, as_alice: SdkAzureGateway
) -> None:
    request = request_elevation(as_pat, emulator, name="jitno")
    _, approval = pending_approval_for(as_alice, "jitno")

    stage = as_alice.decide_approval_stage(
        approval.name, approval.stages[0].name, approve=False, justification="Not this week"
    )

    assert stage.review_result == "Deny"
    assert as_pat.get_jit_request(request.id).state == "Denied"


def test_a_decided_stage_cannot_be_decided_the_other_way(
    emulator: EmulatorServer, as_pat: SdkAzureGateway, as_alice: SdkAzureGateway
) -> None:
    request_elevation(as_pat, emulator, name="jittwice")
    _, approval = pending_approval_for(as_alice, "jittwice")
    stage_id = approval.stages[0].id
    as_alice.decide_approval_stage(approval.id, stage_id, approve=True, justification="Yes")

    with pytest.raises(Conflict) as caught:
        as_alice.decide_approval_stage(approval.id, stage_id, approve=False, justification="No")

    assert caught.value.code == "ApprovalStageNotInProgress"


def test_a_retried_decision_is_accepted(
    emulator: EmulatorServer, as_pat: SdkAzureGateway, as_alice: SdkAzureGateway
) -> None:
    request_elevation(as_pat, emulator, name="jitretry")
    _, approval = pending_approval_for(as_alice, "jitretry")
    stage_id = approval.stages[0].id
    as_alice.decide_approval_stage(approval.id, stage_id, approve=True, justification="Yes")

    stage = as_alice.decide_approval_stage(approval.id, stage_id, approve=True, justification="Yes")

    assert stage.review_result == "Approve"


def test_denying_needs_a_justification(
    emulator: EmulatorServer, as_pat: SdkAzureGateway, as_alice: SdkAzureGateway
) -> None:
    request_elevation(as_pat, emulator, name="jitwhy")
    _, approval = pending_approval_for(as_alice, "jitwhy")

    with pytest.raises(BadRequest) as caught:
        as_alice.decide_approval_stage(
            approval.id, approval.stages[0].id, approve=False, justification=""
        )

    assert caught.value.code == "JustificationRequired"


def test_someone_who_is_not_an_approver_cannot_see_the_approval(
    emulator: EmulatorServer, as_pat: SdkAzureGateway, as_alice: SdkAzureGateway
) -> None:
    request_elevation(as_pat, emulator, name="jitcarol")
    _, approval = pending_approval_for(as_alice, "jitcarol")
    carol = gateway_for_token(token_provider(emulator, CAROL))

    with pytest.raises(NotFound) as caught:
        carol.decide_approval_stage(
            approval.id, approval.stages[0].id, approve=True, justification="x"
        )

    assert caught.value.code == "ApprovalNotFound"


def test_policy_update_waits_for_a_slow_operation(
    emulator: EmulatorServer, as_alice: SdkAzureGateway
) -> None:
    emulator.state.lro_delay_seconds = 3
    policy = JitPolicy(
        enabled=True,
        approval_mode="AutoApprove",
        approvers=(),
        maximum_duration=dt.timedelta(hours=2),
    )

    app = as_alice.update_jit_policy(MONITORING, policy)

    assert app.provisioning_state == "Succeeded"
    polls = [r for r in emulator.state.requests_log if "/operationStatuses/" in r["path"]]
    assert len(polls) >= 2  # the first poll found it still running


def test_server_errors_while_polling_are_transient(
    emulator: EmulatorServer, as_alice: SdkAzureGateway
) -> None:
    emulator.inject_fault(kind="status", status=500, count=3, path="/operationStatuses/")
    policy = JitPolicy(
        enabled=True,
        approval_mode="AutoApprove",
        approvers=(),
        maximum_duration=dt.timedelta(hours=2),
    )

    with pytest.raises(Transient):
        as_alice.update_jit_policy(MONITORING, policy)
