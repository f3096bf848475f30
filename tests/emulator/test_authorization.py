import pytest
import requests
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError
from azure.mgmt.authorization import AuthorizationManagementClient
from azure.mgmt.authorization.v2021_01_01_preview.models import RoleAssignmentApprovalStepProperties

from emulator.server import EmulatorServer
from tests.emulator import ids
from tests.emulator.helpers import authorization, solutions, user_credential

API = "2022-04-01"


def client_for(
    emulator: EmulatorServer, oid: str, subscription: str = ids.FABRIKAM_SUB
) -> AuthorizationManagementClient:
    return authorization(emulator, user_credential(emulator, oid), subscription)


def test_role_definition_get_and_list(emulator: EmulatorServer) -> None:
    client = client_for(emulator, ids.ALICE)
    owner = client.role_definitions.get(f"/subscriptions/{ids.FABRIKAM_SUB}", ids.OWNER)
    assert owner.role_name == "Owner"
    assert owner.permissions[0].actions == ["*"]
    by_id = client.role_definitions.get_by_id(
        f"/providers/Microsoft.Authorization/roleDefinitions/{ids.READER}"
    )
    assert by_id.role_name == "Reader"
    names = [
        r.role_name
        for r in client.role_definitions.list(
            f"/subscriptions/{ids.FABRIKAM_SUB}", filter="roleName eq 'Contributor'"
        )
    ]
    assert names == ["Contributor"]


def test_role_assignments_of_a_managed_resource_group(emulator: EmulatorServer) -> None:
    client = client_for(emulator, ids.ALICE)
    found = list(client.role_assignments.list_for_scope(ids.FAB_MONITORING_MRG))
    by_principal = {(a.principal_id, a.role_definition_id.rsplit("/", 1)[-1]) for a in found}
    # Alice's subscription Owner (inherited), the publisher's standing Reader (JIT offer), Pat's active JIT grant.
    assert (ids.ALICE, ids.OWNER) in by_principal
    assert (ids.PUBLISHER_SP, ids.READER) in by_principal
    assert (ids.PAT, ids.CONTRIBUTOR) in by_principal
    filtered = list(
        client.role_assignments.list_for_scope(
            ids.FAB_MONITORING_MRG, filter=f"principalId eq '{ids.PAT}'"
        )
    )
    assert {a.principal_id for a in filtered} == {ids.PAT}


def test_standing_owner_offer_projects_owner_on_the_mrg(emulator: EmulatorServer) -> None:
    client = client_for(emulator, ids.ALICE)
    found = {
        (a.principal_id, a.role_definition_id.rsplit("/", 1)[-1])
        for a in client.role_assignments.list_for_scope(ids.FAB_SQL_MRG, filter="atScope()")
    }
    assert (ids.PAT, ids.OWNER) in found


def test_deny_assignment_only_where_locked(emulator: EmulatorServer) -> None:
    client = client_for(emulator, ids.ALICE)
    locked = list(client.deny_assignments.list_for_resource_group("mrg-fabrikam-monitoring"))
    assert len(locked) == 1
    deny = locked[0]
    assert (
        deny.deny_assignment_name
        == f"System deny assignment created by managed application {ids.FAB_MONITORING}"
    )
    assert deny.is_system_protected is True
    assert deny.permissions[0].actions == ["*"]
    assert "*/read" in deny.permissions[0].not_actions
    assert "Microsoft.Compute/virtualMachines/restart/action" in deny.permissions[0].not_actions
    assert ids.PUBLISHER_SP in {p.id for p in deny.exclude_principals}
    assert client.deny_assignments.get_by_id(deny.id).name == deny.name
    can_not_delete = list(client.deny_assignments.list_for_resource_group("mrg-fabrikam-sql"))
    assert can_not_delete[0].permissions[0].actions == ["*/delete"]
    assert list(client.deny_assignments.list_for_resource_group("mrg-fabrikam-sandbox")) == []


def test_permissions_are_the_callers_own(emulator: EmulatorServer) -> None:
    bob = list(
        client_for(emulator, ids.BOB).permissions.list_for_resource_group("mrg-fabrikam-monitoring")
    )
    assert [p.actions for p in bob] == [["*/read"]]
    pat = client_for(emulator, ids.PAT)
    actions = {
        a
        for p in pat.permissions.list_for_resource_group("mrg-fabrikam-monitoring")
        for a in p.actions
    }
    assert actions == {"*/read", "*"}  # standing Reader + the active JIT Contributor grant
    assert (
        list(
            client_for(emulator, ids.DAVE).permissions.list_for_resource_group(
                "mrg-fabrikam-monitoring"
            )
        )
        == []
    )


def jit_state(emulator: EmulatorServer, name: str) -> str:
    key = f"{ids.JIT_SCOPE}/providers/Microsoft.Solutions/jitRequests/{name}".lower()
    return emulator.state.jit_requests[key].state


def test_without_the_pim_link_assumption_no_approval_stands_behind_a_jit_request(
    emulator: EmulatorServer,
) -> None:
    alice = client_for(emulator, ids.ALICE)
    assert list(alice.role_assignment_approval.list(filter="asApprover()")) == []
    assert (
        list(alice.role_assignment_schedule_requests.list_for_scope(ids.FAB_MONITORING_MRG)) == []
    )
    assert jit_state(emulator, "jitpend1") == "Pending"


# The tests below exercise the `pim-link` assumption (docs/emulator.md), not documented Azure.


def test_approver_lists_and_approves_a_pending_request(pim_link: EmulatorServer) -> None:
    emulator = pim_link
    alice = client_for(emulator, ids.ALICE)
    approvals = list(alice.role_assignment_approval.list(filter="asApprover()"))
    pending = [a for a in approvals if a.stages[0].status == "InProgress"]
    assert len(pending) == 1
    assert pending[0].stages[0].assigned_to_me is True
    approval_id = pending[0].name
    stage_id = pending[0].stages[0].name
    assert alice.role_assignment_approval.get_by_id(approval_id).name == approval_id
    stages = alice.role_assignment_approval_steps.list(approval_id)
    assert [s.name for s in stages.value] == [stage_id]

    schedule = alice.role_assignment_approval_step.patch(
        approval_id,
        stage_id,
        RoleAssignmentApprovalStepProperties(
            review_result="Approve", justification="Maintenance window"
        ),
    )
    assert schedule.status == "Completed"
    assert schedule.principal_id == ids.ALICE  # the SDK flattens properties.reviewedBy
    assert jit_state(emulator, "jitpend1") == "Approved"
    grants = {
        (a.principal_id, a.role_definition_id.rsplit("/", 1)[-1])
        for a in alice.role_assignments.list_for_scope(ids.FAB_MONITORING_MRG)
    }
    assert (ids.PAT, ids.CONTRIBUTOR) in grants


def test_approver_denies_with_the_flat_or_wrapped_body(pim_link: EmulatorServer) -> None:
    emulator = pim_link
    alice = client_for(emulator, ids.ALICE)
    approval = next(
        a
        for a in alice.role_assignment_approval.list(filter="asApprover()")
        if a.stages[0].status == "InProgress"
    )
    url = f"{emulator.https_url}/providers/Microsoft.Authorization/roleAssignmentApprovals/{approval.name}/stages/{approval.stages[0].name}"
    answer = requests.put(
        url,
        params={"api-version": "2021-01-01-preview"},
        json={"properties": {"reviewResult": "Deny", "justification": "Not now"}},
        headers={"Authorization": f"Bearer {emulator.token_for(ids.ALICE)}"},
        verify=emulator.ca_bundle,
        timeout=5,
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["properties"]["reviewResult"] == "Deny"
    assert jit_state(emulator, "jitpend1") == "Denied"


def test_admin_who_is_not_an_approver_cannot_decide(pim_link: EmulatorServer) -> None:
    emulator = pim_link
    carol = client_for(emulator, ids.CAROL)
    assert list(carol.role_assignment_approval.list(filter="asApprover()")) == []
    alice = client_for(emulator, ids.ALICE)
    approval = next(
        a
        for a in alice.role_assignment_approval.list(filter="asApprover()")
        if a.stages[0].status == "InProgress"
    )
    with pytest.raises(HttpResponseError) as error:
        carol.role_assignment_approval_step.patch(
            approval.name,
            approval.stages[0].name,
            RoleAssignmentApprovalStepProperties(review_result="Approve", justification="ok"),
        )
    assert error.value.status_code == 404


def test_group_approver_sees_the_northwind_request(pim_link: EmulatorServer) -> None:
    emulator = pim_link
    charlie = client_for(emulator, ids.CHARLIE, ids.NORTHWIND_SUB)
    approvals = list(charlie.role_assignment_approval.list(filter="asApprover()"))
    # jitnw1 waits for a decision; the demo's history of Northwind (jith07, jith12, jith16) is done.
    assert len(approvals) == 4
    waiting = [a for a in approvals if a.stages[0].status == "InProgress"]
    assert len(waiting) == 1
    assert waiting[0].stages[0].assigned_to_me is True


def test_schedule_requests_link_to_the_approval(pim_link: EmulatorServer) -> None:
    emulator = pim_link
    alice = client_for(emulator, ids.ALICE)
    found = list(alice.role_assignment_schedule_requests.list_for_scope(ids.FAB_MONITORING_MRG))
    pending = [r for r in found if r.status == "PendingApproval"]
    assert len(pending) == 1
    approval = next(
        a
        for a in alice.role_assignment_approval.list(filter="asApprover()")
        if a.stages[0].status == "InProgress"
    )
    assert pending[0].approval_id.endswith(approval.name)
    assert pending[0].principal_id == ids.PAT
    assert pending[0].ticket_info.ticket_number == "jitpend1"
    pat = client_for(emulator, ids.PAT)
    mine = list(
        pat.role_assignment_schedule_requests.list_for_scope(
            ids.FAB_MONITORING_MRG, filter="asRequestor()"
        )
    )
    assert {r.principal_id for r in mine} == {ids.PAT}


def test_customer_write_inside_a_locked_mrg_hits_the_deny_assignment(
    emulator: EmulatorServer,
) -> None:
    vm = f"{ids.FAB_MONITORING_MRG}/providers/Microsoft.Compute/virtualMachines/vm-fabrikam-monitoring"
    headers = {"Authorization": f"Bearer {emulator.token_for(ids.ALICE)}"}
    params = {"api-version": "2024-03-01"}
    write = requests.put(
        f"{emulator.https_url}{vm}",
        params=params,
        json={"tags": {"x": "y"}},
        headers=headers,
        verify=emulator.ca_bundle,
        timeout=5,
    )
    assert write.status_code == 403
    assert write.json()["error"]["code"] == "DenyAssignmentAuthorizationFailed"
    read = requests.get(
        f"{emulator.https_url}{vm}",
        params=params,
        headers=headers,
        verify=emulator.ca_bundle,
        timeout=5,
    )
    assert read.status_code == 200
    allowed = requests.post(
        f"{emulator.https_url}{vm}/restart",
        params=params,
        headers=headers,
        verify=emulator.ca_bundle,
        timeout=5,
    )
    assert allowed.status_code == 202
    unlocked = f"{ids.FAB_SANDBOX_MRG}/providers/Microsoft.Web/sites/web-fabrikam-sandbox"
    assert (
        requests.put(
            f"{emulator.https_url}{unlocked}",
            params=params,
            json={},
            headers=headers,
            verify=emulator.ca_bundle,
            timeout=5,
        ).status_code
        == 200
    )


def test_publisher_outside_its_authorizations_is_forbidden(emulator: EmulatorServer) -> None:
    pat = solutions(emulator, user_credential(emulator, ids.PAT), ids.FABRIKAM_SUB)
    with pytest.raises(HttpResponseError) as error:
        list(pat.applications.list_by_subscription())
    assert error.value.status_code == 403
    assert error.value.error is not None
    assert error.value.error.code == "AuthorizationFailed"
    # Standing Reader on a JIT offer: no writes without an active grant.
    headers = {"Authorization": f"Bearer {emulator.token_for(ids.PAT)}"}
    backup_vault = f"/subscriptions/{ids.FABRIKAM_SUB}/resourceGroups/mrg-fabrikam-backup/providers/Microsoft.RecoveryServices/vaults/rsv-fabrikam-backup"
    emulator.advance_clock(
        __import__("datetime").timedelta(hours=3)
    )  # the seeded auto-approved grant ends
    denied = requests.put(
        f"{emulator.https_url}{backup_vault}",
        params={"api-version": "2024-03-01"},
        json={},
        headers=headers,
        verify=emulator.ca_bundle,
        timeout=5,
    )
    assert denied.status_code == 403
    assert denied.json()["error"]["code"] == "AuthorizationFailed"
    # Standing Owner offer: allowed despite the CanNotDelete lock (publisher excluded).
    sql = f"{ids.FAB_SQL_MRG}/providers/Microsoft.Sql/servers/sql-fabrikam-sql"
    assert (
        requests.delete(
            f"{emulator.https_url}{sql}",
            params={"api-version": "2024-03-01"},
            headers=headers,
            verify=emulator.ca_bundle,
            timeout=5,
        ).status_code
        == 200
    )


def test_missing_or_revoked_token_is_401(emulator: EmulatorServer) -> None:
    answer = requests.get(
        f"{emulator.https_url}{ids.FAB_SQL}",
        params={"api-version": "2023-12-01-preview"},
        verify=emulator.ca_bundle,
        timeout=5,
    )
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "AuthenticationFailed"
    client = client_for(emulator, ids.ALICE)
    client.role_definitions.get(f"/subscriptions/{ids.FABRIKAM_SUB}", ids.OWNER)
    emulator.state.tokens_not_before = __import__("time").time() + 1
    with pytest.raises(ClientAuthenticationError) as error:
        client.role_definitions.get(f"/subscriptions/{ids.FABRIKAM_SUB}", ids.OWNER)
    assert error.value.status_code == 401
    assert error.value.error is not None
    assert error.value.error.code == "ExpiredAuthenticationToken"


def test_eligibility_schedules_are_the_jit_authorizations(emulator: EmulatorServer) -> None:
    pat = client_for(emulator, ids.PAT)
    mine = list(
        pat.role_eligibility_schedules.list_for_scope(ids.FAB_MONITORING_MRG, filter="asTarget()")
    )
    assert [(e.principal_id, e.role_definition_id.rsplit("/", 1)[-1]) for e in mine] == [
        (ids.PAT, ids.CONTRIBUTOR)
    ]
    alice = client_for(emulator, ids.ALICE)
    everyone = {
        e.principal_id
        for e in alice.role_eligibility_schedules.list_for_scope(ids.FAB_MONITORING_MRG)
    }
    assert everyone == {ids.PAT, ids.PAULA, ids.PUBLISHER_SP}
    assert (
        list(alice.role_eligibility_schedules.list_for_scope(ids.FAB_SQL_MRG)) == []
    )  # no JIT: standing access
