import datetime as dt
import threading
import time
import uuid
from collections.abc import Iterable
from typing import Any
from wsgiref.types import StartResponse, WSGIEnvironment

import pytest
import requests
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from emulator.records import RoleAssignment
from emulator.server import EmulatorServer
from tests.emulator import ids
from tests.emulator.helpers import solutions, user_credential


class Receiver:
    """A notification endpoint on 127.0.0.1 that fails its first `failures` calls."""

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.calls: list[tuple[str, str, dict[str, Any]]] = []
        self.server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}/hook?sig=abc"

    def app(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        request = Request(environ)
        self.calls.append((request.path, request.query_string.decode(), request.get_json()))
        status = 500 if len(self.calls) <= self.failures else 200
        return Response("", status=status)(environ, start_response)

    def wait_for(self, count: int, seconds: float = 10) -> None:
        deadline = time.monotonic() + seconds
        while len(self.calls) < count and time.monotonic() < deadline:
            time.sleep(0.05)

    def close(self) -> None:
        self.server.shutdown()


def test_patch_sends_the_notification_to_url_plus_resource(emulator: EmulatorServer) -> None:
    receiver = Receiver()
    try:
        with emulator.state.lock:
            emulator.state.applications[ids.FAB_SQL.lower()].notification_url = receiver.url
        client = solutions(emulator, user_credential(emulator, ids.ALICE), ids.FABRIKAM_SUB)
        from azure.mgmt.managedapplications import models

        client.applications.begin_update(
            "rg-sql", "fabrikam-sql", models.ApplicationPatchable(tags={"env": "prod"})
        ).result()
        receiver.wait_for(1)
        path, query, payload = receiver.calls[0]
        assert (path, query) == ("/hook/resource", "sig=abc")
        assert payload["eventType"] == "PATCH"
        assert payload["provisioningState"] == "Succeeded"
        assert payload["applicationId"] == ids.FAB_SQL
        assert payload["plan"]["product"] == "contoso-managed-sql"
        assert "resourceUsageId" in payload["billingDetails"]
    finally:
        receiver.close()


def test_notifications_are_retried_on_5xx(emulator: EmulatorServer) -> None:
    receiver = Receiver(failures=1)
    try:
        with emulator.state.lock:
            emulator.state.applications[ids.FAB_SANDBOX.lower()].notification_url = receiver.url
        client = solutions(emulator, user_credential(emulator, ids.ALICE), ids.FABRIKAM_SUB)
        client.applications.begin_delete("rg-sandbox", "fabrikam-sandbox").result()
        receiver.wait_for(3)
        events = [(c[2]["eventType"], c[2]["provisioningState"]) for c in receiver.calls]
        assert events[0] == ("DELETE", "Deleting")  # answered 500
        assert sorted(events[1:]) == [("DELETE", "Deleted"), ("DELETE", "Deleting")]
        assert "applicationDefinitionId" in receiver.calls[0][2]
        # The receiver has answered; the emulator records the outcome just after.
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            deliveries = {d.payload["provisioningState"]: d for d in emulator.state.webhooks}
            if deliveries["Deleting"].status == "delivered":
                break
            time.sleep(0.05)
        assert deliveries["Deleting"].attempts == 2
        assert deliveries["Deleting"].status == "delivered"
    finally:
        receiver.close()


def arm_get(emulator: EmulatorServer, oid: str, path: str, **params: str) -> requests.Response:
    return requests.get(
        f"{emulator.https_url}{path}",
        params=params,
        headers={"Authorization": f"Bearer {emulator.token_for(oid)}"},
        verify=emulator.ca_bundle,
        timeout=5,
    )


def test_resources_of_a_managed_resource_group(emulator: EmulatorServer) -> None:
    answer = arm_get(
        emulator, ids.PAT, f"{ids.FAB_MONITORING_MRG}/resources", **{"api-version": "2021-04-01"}
    )
    assert answer.status_code == 200
    types = sorted(r["type"] for r in answer.json()["value"])
    assert types == [
        "Microsoft.Compute/virtualMachines",
        "Microsoft.Network/virtualNetworks",
        "Microsoft.Storage/storageAccounts",
    ]
    group = arm_get(
        emulator, ids.PAT, ids.FAB_MONITORING_MRG, **{"api-version": "2021-04-01"}
    ).json()
    assert group["managedBy"] == ids.FAB_MONITORING
    assert (
        arm_get(
            emulator,
            ids.CHARLIE,
            f"{ids.FAB_MONITORING_MRG}/resources",
            **{"api-version": "2021-04-01"},
        ).status_code
        == 403
    )


def test_subscription_resources_are_those_of_the_groups_the_caller_may_read(
    emulator: EmulatorServer,
) -> None:
    def listed(oid: str) -> list[str]:
        answer = arm_get(
            emulator,
            oid,
            f"/subscriptions/{ids.FABRIKAM_SUB}/resources",
            **{"api-version": "2021-04-01"},
        )
        assert answer.status_code == 200, answer.text
        return [r["id"] for r in answer.json()["value"]]

    everything = listed(ids.ALICE)  # Fabrikam's admin reads the whole subscription
    in_sql_mrg = [r for r in everything if r.lower().startswith(ids.FAB_SQL_MRG.lower() + "/")]
    assert in_sql_mrg and len(in_sql_mrg) < len(everything)
    assert listed(ids.CHARLIE) == []

    def grant_reader(scope: str) -> None:
        with emulator.state.lock:
            emulator.state.add_role_assignment(
                RoleAssignment(
                    name=str(uuid.uuid4()),
                    scope=scope,
                    role_definition_id=ids.READER,
                    principal_id=ids.CHARLIE,
                    principal_type="User",
                    created_on=dt.datetime.now(dt.UTC),
                )
            )

    grant_reader(ids.FAB_SQL_MRG)
    assert listed(ids.CHARLIE) == in_sql_mrg
    grant_reader(f"/subscriptions/{ids.FABRIKAM_SUB}")
    assert listed(ids.CHARLIE) == everything


def test_unknown_paths_are_404_and_unsupported_methods_405(emulator: EmulatorServer) -> None:
    token = emulator.token_for(ids.ALICE)

    def arm(method: str, path: str) -> requests.Response:
        return requests.request(
            method,
            f"{emulator.https_url}/subscriptions/{ids.FABRIKAM_SUB}{path}",
            params={"api-version": "2021-04-01"},
            headers={"Authorization": f"Bearer {token}"},
            verify=emulator.ca_bundle,
            timeout=5,
        )

    for _ in range(2):  # the second time from the route lookup's cache
        unknown = arm("GET", "/providers/Microsoft.Nothing/things")
        assert unknown.status_code == 404
        assert unknown.json()["error"]["code"] == "InvalidResourceType"
        wrong_method = arm("POST", "/resources")
        assert wrong_method.status_code == 405
        assert wrong_method.json()["error"]["code"] == "MethodNotAllowed"


def test_activity_log_of_a_managed_resource_group(emulator: EmulatorServer) -> None:
    vm = f"{ids.FAB_MONITORING_MRG}/providers/Microsoft.Compute/virtualMachines/vm-fabrikam-monitoring"
    write = requests.put(
        f"{emulator.https_url}{vm}",
        params={"api-version": "2024-03-01"},
        json={"tags": {"patched": "yes"}},
        headers={"Authorization": f"Bearer {emulator.token_for(ids.PAT)}"},
        verify=emulator.ca_bundle,
        timeout=5,
    )
    assert write.status_code == 200  # Pat holds an active JIT Contributor grant
    since = (dt.datetime.now(dt.UTC) - dt.timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    answer = arm_get(
        emulator,
        ids.ALICE,
        f"/subscriptions/{ids.FABRIKAM_SUB}/providers/Microsoft.Insights/eventtypes/management/values",
        **{
            "api-version": "2015-04-01",
            "$filter": f"eventTimestamp ge '{since}' and resourceGroupName eq 'mrg-fabrikam-monitoring'",
        },
    )
    assert answer.status_code == 200, answer.text
    events = answer.json()["value"]
    assert events[0]["operationName"]["value"] == "Microsoft.Compute/virtualMachines/write"
    assert events[0]["caller"] == "pat@contoso.onmicrosoft.com"
    operations = {e["operationName"]["value"] for e in events}
    assert "Microsoft.Authorization/roleAssignments/write" in operations  # the JIT grant
    assert all(e["resourceGroupName"] == "mrg-fabrikam-monitoring" for e in events)


def _activity(emulator: EmulatorServer, start: dt.datetime, end: dt.datetime) -> list[Any]:
    answer = arm_get(
        emulator,
        ids.ALICE,
        f"/subscriptions/{ids.FABRIKAM_SUB}/providers/Microsoft.Insights/eventtypes/management/values",
        **{
            "api-version": "2015-04-01",
            "$filter": f"eventTimestamp ge '{start:%Y-%m-%dT%H:%M:%SZ}' and eventTimestamp le "
            f"'{end:%Y-%m-%dT%H:%M:%SZ}' and resourceGroupName eq 'mrg-fabrikam-monitoring'",
        },
    )
    assert answer.status_code == 200, answer.text
    events: list[Any] = answer.json()["value"]
    return events


def test_seeded_history_left_changes_in_the_activity_log_for_90_days(
    emulator: EmulatorServer,
) -> None:
    now = dt.datetime.now(dt.UTC)
    recent = _activity(emulator, now - dt.timedelta(days=80), now)
    operations = {e["operationName"]["value"] for e in recent if e["caller"].startswith("pat@")}
    assert "Microsoft.Compute/virtualMachines/extensions/delete" in operations
    assert "Microsoft.Network/virtualNetworks/write" in operations
    # The grant of 140 days ago is older than the log's 90 days: Azure no longer serves it.
    assert _activity(emulator, now - dt.timedelta(days=150), now - dt.timedelta(days=91)) == []


def control(
    emulator: EmulatorServer, method: str, path: str, body: dict[str, Any] | None = None
) -> dict[str, Any]:
    answer = requests.request(
        method,
        f"{emulator.https_url}/_emulator{path}",
        json=body,
        verify=emulator.ca_bundle,
        timeout=10,
    )
    assert answer.status_code < 300, answer.text
    result: dict[str, Any] = answer.json()
    return result


def test_control_api_acts_as_customer_and_publisher(emulator: EmulatorServer) -> None:
    app = control(
        emulator,
        "POST",
        "/act/purchase",
        {
            "as": ids.CHARLIE,
            "subscription": ids.NORTHWIND_SUB,
            "name": "northwind-backup",
            "offer": "backup-jit-auto",
            "jit_policy": {
                "jitAccessEnabled": True,
                "jitApprovalMode": "ManualApprove",
                "jitApprovers": [{"id": ids.CHARLIE, "type": "user"}],
                "maximumJitAccessDuration": "PT8H",
            },
        },
    )
    assert app["properties"]["provisioningState"] in ("Accepted", "Succeeded")
    request = control(
        emulator,
        "POST",
        "/act/jit-request",
        {"as": ids.PAT, "application_id": app["id"], "duration": "PT2H"},
    )
    assert request["properties"]["jitRequestState"] == "Pending"
    decided = control(
        emulator,
        "POST",
        "/act/decide",
        {"as": ids.CHARLIE, "jit_request_id": request["id"], "decision": "Approve"},
    )
    assert decided["properties"]["jitRequestState"] == "Approved"
    control(emulator, "POST", "/clock/advance", {"duration": "PT3H"})
    assert request["id"].startswith(ids.JIT_SCOPE + "/")  # the scenario's jit_scope
    client = solutions(emulator, user_credential(emulator, ids.PAT), ids.CONTOSO_SUB)
    expired = client.jit_requests.get(request["id"].split("/")[4], request["name"])
    assert expired is not None
    assert expired.jit_request_state == "Expired"
    log = control(emulator, "GET", "/requests")["requests"]
    assert any(r["path"].endswith(request["name"]) for r in log)


def test_control_api_faults_and_reset(emulator: EmulatorServer) -> None:
    fault = control(
        emulator,
        "POST",
        "/faults",
        {"kind": "status", "status": 502, "count": 1, "path": "/resources"},
    )
    assert control(emulator, "GET", "/faults")["faults"][0]["id"] == fault["id"]
    first = arm_get(
        emulator, ids.ALICE, f"{ids.FAB_SQL_MRG}/resources", **{"api-version": "2021-04-01"}
    )
    assert first.status_code == 502
    assert (
        arm_get(
            emulator, ids.ALICE, f"{ids.FAB_SQL_MRG}/resources", **{"api-version": "2021-04-01"}
        ).status_code
        == 200
    )
    info = control(
        emulator,
        "POST",
        "/reset",
        {
            "scenario": "scale",
            "params": {"tenants": 3, "apps_per_tenant": 2, "requests_per_app": 2},
        },
    )
    assert info["scenario"] == "scale"
    assert info["counts"]["applications"] == 6
    control(emulator, "POST", "/reset", {"scenario": "demo"})
    assert control(emulator, "GET", "/info")["counts"]["applications"] == 9


def test_a_customer_can_neither_read_nor_cancel_requests_in_the_publishers_scope(
    emulator: EmulatorServer,
) -> None:
    url = f"{emulator.https_url}{ids.JIT_SCOPE}/providers/Microsoft.Solutions/jitRequests/jitpend1"
    for method in ("GET", "DELETE"):
        answer = requests.request(
            method,
            url,
            params={"api-version": "2023-12-01-preview"},
            headers={"Authorization": f"Bearer {emulator.token_for(ids.BOB)}"},
            verify=emulator.ca_bundle,
            timeout=5,
        )
        assert answer.status_code == 403, method
        assert answer.json()["error"]["code"] == "AuthorizationFailed"


def _pending_request(emulator: EmulatorServer, name: str = "jitrule1") -> dict[str, Any]:
    app = next(a for a in emulator.state.applications.values() if a.name == "fabrikam-monitoring")
    return control(
        emulator,
        "POST",
        "/act/jit-request",
        {"as": ids.PAT, "application_id": app.id, "name": name, "duration": "PT1H"},
    )


def _decide(
    emulator: EmulatorServer,
    who: str,
    request_id: str,
    decision: str = "Approve",
    justification: str = "ok",
) -> requests.Response:
    return requests.post(
        f"{emulator.https_url}/_emulator/act/decide",
        json={"as": who, "jit_request_id": request_id, "decision": decision,
              "justification": justification},
        verify=emulator.ca_bundle,
        timeout=5,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("who", "status", "code"),
    [
        (ids.CAROL, 403, "NotAnApprover"),  # an admin, but not in the app's approvers
        (ids.CHARLIE, 403, "NotAnApprover"),  # another tenant
        (ids.PAT, 403, "NotAnApprover"),  # the publisher
    ],
)
def test_decisions_in_the_azure_portal_follow_the_apps_policy(
    emulator: EmulatorServer, who: str, status: int, code: str
) -> None:
    request = _pending_request(emulator)

    answer = _decide(emulator, who, request["id"])

    assert (answer.status_code, answer.json()["error"]["code"]) == (status, code)
    assert _decide(emulator, ids.ALICE, request["id"]).status_code == 200
    repeated = _decide(emulator, ids.ALICE, request["id"])
    assert (repeated.status_code, repeated.json()["error"]["code"]) == (409, "Conflict")


def test_nobody_decides_a_request_that_elevates_themselves(emulator: EmulatorServer) -> None:
    request = _pending_request(emulator)
    key = request["id"].lower()
    emulator.state.jit_requests[key].policies[0]["principalId"] = ids.ALICE

    answer = _decide(emulator, ids.ALICE, request["id"])

    assert (answer.status_code, answer.json()["error"]["code"]) == (403, "SelfApproval")


def test_assumptions_are_off_by_default_and_switched_by_the_settings_call(
    emulator: EmulatorServer,
) -> None:
    assert control(emulator, "GET", "/info")["assumptions"] == []
    changed = control(emulator, "POST", "/settings", {"assumptions": ["pim-link"]})
    assert changed["assumptions"] == ["pim-link"]
    refused = requests.post(
        f"{emulator.https_url}/_emulator/settings",
        json={"assumptions": ["invented"]},
        verify=emulator.ca_bundle,
        timeout=5,
    )
    assert refused.status_code == 400
    assert "pim-link" in refused.text and "update-access-decides" in refused.text
    emulator.reset()
    assert control(emulator, "GET", "/info")["assumptions"] == []


def test_the_jit_access_blade_stand_in_lists_and_decides(emulator: EmulatorServer) -> None:
    request = _pending_request(emulator, "jitblade")
    app_id = request["properties"]["applicationResourceId"]
    page = requests.get(
        f"{emulator.http_url}/_portal/jitAccess", params={"application": app_id}, timeout=5
    )
    assert page.status_code == 200
    assert "jitblade" in page.text and "Alice Archer" in page.text
    assert "Carol Chen" not in page.text  # not an approver of this application
    assert "<script" not in page.text

    refused = requests.post(
        f"{emulator.http_url}/_portal/jitAccess",
        params={"application": app_id},
        data={"request": request["id"], "as": ids.ALICE, "decision": "Approve", "reason": ""},
        timeout=5,
    )
    assert refused.status_code == 400 and "Give a reason" in refused.text
    decided = requests.post(
        f"{emulator.http_url}/_portal/jitAccess",
        params={"application": app_id},
        data={"request": request["id"], "as": ids.ALICE, "decision": "Approve",
              "reason": "Planned work"},
        timeout=5,
    )  # fmt: skip
    assert decided.status_code == 200
    assert "Approved" in decided.text
    assert emulator.state.jit_requests[request["id"].lower()].state == "Approved"
    unknown = requests.get(
        f"{emulator.http_url}/_portal/jitAccess", params={"application": "/nope<b>"}, timeout=5
    )
    assert unknown.status_code == 404 and "<b>" not in unknown.text


def test_settings_point_notifications_at_one_url(emulator: EmulatorServer) -> None:
    receiver = Receiver()
    try:
        control(emulator, "POST", "/settings", {"notification_url": receiver.url})
        client = solutions(emulator, user_credential(emulator, ids.ALICE), ids.FABRIKAM_SUB)
        from azure.mgmt.managedapplications import models

        client.applications.begin_update(
            "rg-backup", "fabrikam-backup", models.ApplicationPatchable(tags={"a": "b"})
        ).result()
        receiver.wait_for(1)
        assert receiver.calls[0][2]["applicationId"] == ids.FAB_BACKUP
    finally:
        emulator.set_notification_url(None)
        receiver.close()


def test_request_numbers_keep_growing_after_the_log_is_trimmed(
    emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("emulator.server.LOG_LIMIT", 10)
    for _ in range(15):  # unauthenticated ARM calls: answered 401, and logged
        requests.get(f"{emulator.https_url}/subscriptions", verify=emulator.ca_bundle, timeout=5)
    numbers = [entry["seq"] for entry in emulator.state.requests_log]
    assert len(numbers) <= 10
    assert numbers == sorted(set(numbers))
    newest = numbers[-1]
    listed = control(emulator, "GET", f"/requests?since={newest}")["requests"]
    assert [entry["seq"] for entry in listed] == [newest]


def test_long_running_operations_finish_once_their_delay_is_over(emulator: EmulatorServer) -> None:
    control(emulator, "POST", "/settings", {"lro_delay_seconds": 0.5})
    token = emulator.token_for(ids.ALICE)

    def status(url: str) -> str:
        answer = requests.get(
            url, headers={"Authorization": f"Bearer {token}"}, verify=emulator.ca_bundle, timeout=5
        )
        assert answer.status_code == 200, answer.text
        found: str = answer.json()["status"]
        return found

    for tag in ("first", "second"):
        patch = requests.patch(
            f"{emulator.https_url}{ids.FAB_SQL}",
            params={"api-version": "2021-07-01"},
            json={"tags": {"round": tag}},
            headers={"Authorization": f"Bearer {token}"},
            verify=emulator.ca_bundle,
            timeout=5,
        )
        assert patch.status_code < 300, patch.text
        operation = patch.headers["Azure-AsyncOperation"]
        assert status(operation) == "InProgress"
        time.sleep(0.6)
        assert status(operation) == "Succeeded"
        with emulator.state.lock:
            assert emulator.state.applications[ids.FAB_SQL.lower()].provisioning_state == (
                "Succeeded"
            )
