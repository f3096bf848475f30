"""Each official ARM example response is served in the same shape for the equivalent request."""

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests

from emulator.server import EmulatorServer
from tests.emulator import ids

EXAMPLES = Path(__file__).resolve().parents[3] / "shared" / "arm-examples"
SOLUTIONS = "2023-12-01-preview"
RBAC = "2022-04-01"
APPROVALS = "2021-01-01-preview"
PIM = "2020-10-01"
NOT_SERVED = {
    "listToken.json",
    "GetRoleEligibilitySchedulesByScope.json",
    "PutRoleAssignmentScheduleRequest.json",
}


def shape_errors(example: Any, ours: Any, path: str = "$") -> list[str]:
    """Keys of `example` missing in `ours`, or values of another JSON type; null matches any type."""
    if example is None or ours is None:
        return []
    if isinstance(example, dict):
        if not isinstance(ours, dict):
            return [f"{path}: expected object, got {type(ours).__name__}"]
        errors = []
        for key, value in example.items():
            if key not in ours:
                if not (path == "$" and key == "nextLink"):  # absent on the last page
                    errors.append(f"{path}.{key}: missing")
                continue
            errors += shape_errors(value, ours[key], f"{path}.{key}")
        return errors
    if isinstance(example, list):
        if not isinstance(ours, list):
            return [f"{path}: expected array, got {type(ours).__name__}"]
        if not example or not ours:
            return []
        errors = []
        for index, item in enumerate(example):
            attempts: list[list[str]] = [
                shape_errors(item, candidate, f"{path}[{index}]") for candidate in ours
            ]
            if all(attempts):
                fewest = min(attempts, key=len)
                errors += fewest
        return errors
    numbers = (int, float)
    same = (isinstance(example, bool) and isinstance(ours, bool)) or (
        not isinstance(example, bool)
        and not isinstance(ours, bool)
        and (
            (isinstance(example, numbers) and isinstance(ours, numbers))
            or type(example) is type(ours)
        )
    )
    return [] if same else [f"{path}: expected {type(example).__name__}, got {type(ours).__name__}"]


def test_shape_errors_detects_differences() -> None:
    assert shape_errors({"a": {"b": 1}}, {"a": {"b": "x"}}) == ["$.a.b: expected int, got str"]
    assert shape_errors({"a": [{"b": 1}]}, {"a": [{"c": 1}]}) == ["$.a[0].b: missing"]
    assert shape_errors({"a": None, "b": [1]}, {"a": {}, "b": [2.5]}) == []


def example(name: str) -> dict[str, Any]:
    family = (
        "Microsoft.Solutions"
        if (EXAMPLES / "Microsoft.Solutions" / name).exists()
        else "Microsoft.Authorization"
    )
    document: dict[str, Any] = json.loads((EXAMPLES / family / name).read_text())
    return document


class Arm:
    def __init__(self, emulator: EmulatorServer, oid: str) -> None:
        self.emulator = emulator
        self.headers = {"Authorization": f"Bearer {emulator.token_for(oid)}"}

    def call(
        self, method: str, path: str, version: str, body: Any = None, **params: str
    ) -> requests.Response:
        return requests.request(
            method,
            self.emulator.https_url + path,
            params={"api-version": version, **params},
            json=body,
            headers=self.headers,
            verify=self.emulator.ca_bundle,
            timeout=10,
        )


def pending_approval(emulator: EmulatorServer) -> tuple[str, str]:
    approval = next(
        a
        for a in emulator.state.approvals.values()
        if a.status == "InProgress" and a.tenant_id == ids.FABRIKAM
    )
    return approval.id, approval.stage_id


APPS = f"/subscriptions/{ids.FABRIKAM_SUB}/resourceGroups/rg-sandbox/providers/Microsoft.Solutions/applications"
# The demo keeps its jitRequests in the publisher's own resource group, as Microsoft's example
# puts the request in another subscription than the application.
JITS = f"{ids.JIT_SCOPE}/providers/Microsoft.Solutions/jitRequests"
DEFS = f"/subscriptions/{ids.FABRIKAM_SUB}/resourceGroups/rg-catalog/providers/Microsoft.Solutions/applicationDefinitions"
P = "/providers/Microsoft.Authorization"


def jit_put_body() -> dict[str, Any]:
    return {
        "location": "westeurope",
        "properties": {
            "applicationResourceId": ids.FAB_MONITORING,
            "jitAuthorizationPolicies": [
                {"principalId": ids.PAT, "roleDefinitionId": ids.CONTRIBUTOR}
            ],
            "jitSchedulingPolicy": {
                "type": "Once",
                "duration": "PT8H",
                "startTime": dt.datetime.now(dt.UTC).isoformat(),
            },
        },
    }


def equivalent(emulator: EmulatorServer, name: str) -> tuple[requests.Response, str]:
    """The emulator's answer to the request an example documents, and the example status to compare."""
    alice, pat = Arm(emulator, ids.ALICE), Arm(emulator, ids.PAT)
    calls: dict[str, Callable[[], tuple[requests.Response, str]]] = {
        "createOrUpdateApplication.json": lambda: (
            alice.call(
                "PUT",
                f"{APPS}/myManagedApplication",
                SOLUTIONS,
                {
                    "kind": "ServiceCatalog",
                    "location": "westeurope",
                    "properties": {
                        "applicationDefinitionId": f"{DEFS}/contoso-sandbox",
                        "managedResourceGroupId": f"/subscriptions/{ids.FABRIKAM_SUB}/resourceGroups/myManagedRG",
                    },
                },
            ),
            "201",
        ),
        "createOrUpdateApplicationDefinition.json": lambda: (
            alice.call(
                "PUT",
                f"{DEFS}/myManagedApplicationDef",
                SOLUTIONS,
                example(name)["parameters"]["parameters"],
            ),
            "201",
        ),
        "createOrUpdateJitRequest.json": lambda: (
            pat.call("PUT", f"{JITS}/myJit", SOLUTIONS, jit_put_body()),
            "201",
        ),
        "deleteApplication.json": lambda: (
            alice.call("DELETE", f"{APPS}/fabrikam-sandbox", SOLUTIONS),
            "202",
        ),
        "deleteJitRequest.json": lambda: (pat.call("DELETE", f"{JITS}/jitpend1", SOLUTIONS), "200"),
        "getApplication.json": lambda: (
            alice.call("GET", f"{APPS}/fabrikam-sandbox", SOLUTIONS),
            "200",
        ),
        "getApplicationDefinition1.json": lambda: (
            alice.call("GET", f"{DEFS}/contoso-sandbox", SOLUTIONS),
            "200",
        ),
        "getJitRequest.json": lambda: (pat.call("GET", f"{JITS}/jitpend1", SOLUTIONS), "200"),
        "listApplicationDefinitionsByResourceGroup.json": lambda: (
            alice.call("GET", DEFS, SOLUTIONS),
            "200",
        ),
        "listApplicationsByResourceGroup1.json": lambda: (
            alice.call("GET", APPS, SOLUTIONS),
            "200",
        ),
        "listApplicationsBySubscription.json": lambda: (
            alice.call(
                "GET",
                f"/subscriptions/{ids.FABRIKAM_SUB}/providers/Microsoft.Solutions/applications",
                SOLUTIONS,
            ),
            "200",
        ),
        "listJitRequestsByResourceGroup1.json": lambda: (pat.call("GET", JITS, SOLUTIONS), "200"),
        "listJitRequestsBySubscription.json": lambda: (
            alice.call(
                "GET",
                f"/subscriptions/{ids.FABRIKAM_SUB}/providers/Microsoft.Solutions/jitRequests",
                SOLUTIONS,
            ),
            "200",
        ),
        "refreshApplicationPermissions.json": lambda: (
            alice.call("POST", f"{APPS}/fabrikam-sandbox/refreshPermissions", SOLUTIONS),
            "202",
        ),
        "updateAccess.json": lambda: (
            alice.call(
                "POST", ids.FAB_MONITORING + "/updateAccess", SOLUTIONS, _update_access_body(name)
            ),
            "202",
        ),
        "updateApplicationById.json": lambda: (
            alice.call("PATCH", f"{APPS}/fabrikam-sandbox", SOLUTIONS, {"tags": {"a": "b"}}),
            "202",
        ),
        "updateJitRequest.json": lambda: (
            pat.call("PATCH", f"{JITS}/jitpend1", SOLUTIONS, {"tags": {"department": "Finance"}}),
            "200",
        ),
        "GetDenyAssignmentById.json": lambda: (
            alice.call("GET", next(iter(_deny_ids(emulator))), RBAC),
            "200",
        ),
        "GetDenyAssignmentsForResourceGroup.json": lambda: (
            alice.call("GET", f"{ids.FAB_MONITORING_MRG}{P}/denyAssignments", RBAC),
            "200",
        ),
        "GetPermissions.json": lambda: (
            alice.call(
                "GET",
                f"/subscriptions/{ids.FABRIKAM_SUB}/resourcegroups/mrg-fabrikam-monitoring{P}/permissions",
                RBAC,
            ),
            "200",
        ),
        "GetRoleAssignmentApprovalById.json": lambda: (
            alice.call(
                "GET", f"{P}/roleAssignmentApprovals/{pending_approval(emulator)[0]}", APPROVALS
            ),
            "200",
        ),
        "GetRoleAssignmentApprovals.json": lambda: (
            alice.call(
                "GET", f"{P}/roleAssignmentApprovals", APPROVALS, **{"$filter": "asApprover()"}
            ),
            "200",
        ),
        "GetRoleAssignmentApprovalSteps.json": lambda: (
            alice.call(
                "GET",
                f"{P}/roleAssignmentApprovals/{pending_approval(emulator)[0]}/stages",
                APPROVALS,
            ),
            "200",
        ),
        "GetRoleAssignmentScheduleRequestByScope.json": lambda: (
            alice.call("GET", f"{ids.FAB_MONITORING_MRG}{P}/roleAssignmentScheduleRequests", PIM),
            "200",
        ),
        "GetRoleEligibilitySchedulesByScope.json": lambda: (
            pat.call(
                "GET",
                f"{ids.FAB_MONITORING_MRG}{P}/roleEligibilitySchedules",
                PIM,
                **{"$filter": "asTarget()"},
            ),
            "200",
        ),
        "GetRoleDefinitionById.json": lambda: (
            alice.call("GET", f"{P}/roleDefinitions/{ids.CONTRIBUTOR}", RBAC),
            "200",
        ),
        "PatchRoleAssignmentApprovalStepById.json": lambda: (
            alice.call(
                "PATCH",
                "{}/roleAssignmentApprovals/{}/stages/{}".format(P, *pending_approval(emulator)),
                APPROVALS,
                {"reviewResult": "Approve", "justification": "I trust this person."},
            ),
            "200",
        ),
        "PutRoleAssignmentApprovalStepById.json": lambda: (
            alice.call(
                "PUT",
                "{}/roleAssignmentApprovals/{}/stages/{}".format(P, *pending_approval(emulator)),
                APPROVALS,
                {"properties": {"reviewResult": "Approve", "justification": "ok"}},
            ),
            "200",
        ),
        "RoleAssignments_Get.json": lambda: (
            alice.call(
                "GET",
                next(
                    a.id
                    for a in emulator.state.role_assignments.values()
                    if a.principal_id == ids.ALICE
                ),
                RBAC,
            ),
            "200",
        ),
        "RoleAssignments_ListForResourceGroup.json": lambda: (
            alice.call("GET", f"{ids.FAB_SQL_MRG}{P}/roleAssignments", RBAC),
            "200",
        ),
        "RoleAssignments_ListForScope.json": lambda: (
            alice.call("GET", f"/subscriptions/{ids.FABRIKAM_SUB}{P}/roleAssignments", RBAC),
            "200",
        ),
        "ScopeGetRoleAssignmentApprovals.json": lambda: (
            alice.call("GET", f"{ids.FAB_MONITORING_MRG}{P}/roleAssignmentApprovals", APPROVALS),
            "200",
        ),
    }
    return calls[name]()


def _update_access_body(name: str) -> dict[str, Any]:
    body: dict[str, Any] = example(name)["parameters"]["parameters"]
    body["Metadata"]["originRequestId"] = "jitpend1"
    return body


def _deny_ids(emulator: EmulatorServer) -> list[str]:
    from emulator import authz

    return [
        d.id
        for d in authz.deny_assignments(emulator.state, list(emulator.state.applications.values()))
    ]


ALL = sorted(p.name for p in EXAMPLES.glob("*/*.json"))


@pytest.mark.parametrize("name", [n for n in ALL if n not in NOT_SERVED])
def test_example_shape(emulator: EmulatorServer, name: str, request: pytest.FixtureRequest) -> None:
    if "RoleAssignmentApproval" in name:
        # PIM approvals of JIT requests exist only under the `pim-link` assumption.
        request.getfixturevalue("pim_link")
    documented = example(name)["responses"]
    answer, status = equivalent(emulator, name)
    assert answer.status_code == int(status), answer.text
    body = documented[status].get("body")
    if body is None:
        return
    assert shape_errors(body, answer.json()) == []
