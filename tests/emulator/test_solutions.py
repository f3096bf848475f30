import datetime as dt
from typing import Any

import pytest
import requests
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.mgmt.managedapplications import ManagedApplicationsMgmtClient, models

from emulator.records import RoleAssignment
from emulator.server import EmulatorServer
from tests.emulator import ids
from tests.emulator.helpers import app_credential, solutions, user_credential


def alice_client(emulator: EmulatorServer) -> ManagedApplicationsMgmtClient:
    return solutions(emulator, user_credential(emulator, ids.ALICE), ids.FABRIKAM_SUB)


def pat_client(
    emulator: EmulatorServer, subscription: str = ids.CONTOSO_SUB
) -> ManagedApplicationsMgmtClient:
    """Pat's client in the publisher's subscription, where the demo keeps jitRequests."""
    return solutions(emulator, user_credential(emulator, ids.PAT), subscription)


SCOPE_RG = "jit-requests"  # the publisher's resource group of the demo's jitRequests


def jit_request(client: ManagedApplicationsMgmtClient, name: str) -> models.JitRequestDefinition:
    """The jitRequest `name` in the publisher's resource group, which must be there."""
    found = client.jit_requests.get(SCOPE_RG, name)
    assert found is not None, name
    return found


def jit_body(
    app_id: str,
    principal: str = ids.PAT,
    role: str = ids.CONTRIBUTOR,
    hours: float = 2,
    start: dt.datetime | None = None,
) -> models.JitRequestDefinition:
    return models.JitRequestDefinition(
        location="westeurope",
        properties=models.JitRequestProperties(
            application_resource_id=app_id,
            jit_authorization_policies=[
                models.JitAuthorizationPolicies(principal_id=principal, role_definition_id=role)
            ],
            jit_scheduling_policy=models.JitSchedulingPolicy(
                type="Once",
                duration=dt.timedelta(hours=hours),
                start_time=start or dt.datetime.now(dt.UTC),
            ),
        ),
    )


def test_list_by_subscription_follows_next_links(emulator: EmulatorServer) -> None:
    emulator.state.page_size = 2
    names = [a.name for a in alice_client(emulator).applications.list_by_subscription()]
    assert names == [
        "fabrikam-analytics",
        "fabrikam-backup",
        "fabrikam-monitoring",
        "fabrikam-sandbox",
        "fabrikam-sql",
    ]
    pages = [
        r for r in emulator.state.requests_log if "Microsoft.Solutions/applications" in r["path"]
    ]
    assert len(pages) == 3
    assert "$skipToken" in pages[1]["query"]


def test_list_by_resource_group_and_get(emulator: EmulatorServer) -> None:
    client = alice_client(emulator)
    assert [a.name for a in client.applications.list_by_resource_group("rg-monitoring")] == [
        "fabrikam-monitoring"
    ]
    app = client.applications.get("rg-monitoring", "fabrikam-monitoring")
    assert app is not None
    assert app.kind == "MarketPlace"
    assert app.managed_resource_group_id == ids.FAB_MONITORING_MRG
    assert app.jit_access_policy.jit_approval_mode == "ManualApprove"
    assert app.jit_access_policy.maximum_jit_access_duration == "PT8H"
    assert {a.principal_id for a in app.authorizations} >= {ids.PAT, ids.PUBLISHER_SP}
    assert app.publisher_tenant_id == ids.CONTOSO


def test_get_of_a_missing_app_returns_none(emulator: EmulatorServer) -> None:
    assert alice_client(emulator).applications.get("rg-monitoring", "no-such-app") is None


def test_get_by_id_with_other_casing_echoes_canonical_id(emulator: EmulatorServer) -> None:
    app = alice_client(emulator).applications.get_by_id(
        ids.FAB_SQL.upper().replace("SUBSCRIPTIONS", "subscriptions")
    )
    assert app is not None
    assert app.id == ids.FAB_SQL


def test_patch_jit_policy_is_a_long_running_operation(emulator: EmulatorServer) -> None:
    client = alice_client(emulator)
    policy = models.ApplicationJitAccessPolicy(
        jit_access_enabled=True,
        jit_approval_mode="ManualApprove",
        jit_approvers=[
            models.JitApproverDefinition(id=ids.CAROL, type="user", display_name="Carol")
        ],
        maximum_jit_access_duration="PT4H",
    )
    poller = client.applications.begin_update(
        "rg-monitoring",
        "fabrikam-monitoring",
        models.ApplicationPatchable(
            properties=models.ApplicationProperties(jit_access_policy=policy)
        ),
    )
    result = poller.result()
    assert result.provisioning_state == "Succeeded"
    assert result.jit_access_policy.maximum_jit_access_duration == "PT4H"
    assert [a.id for a in result.jit_access_policy.jit_approvers] == [ids.CAROL]
    initial = next(r for r in emulator.state.requests_log if r["method"] == "PATCH")
    assert initial["status"] == 202


def test_jit_cannot_be_switched_on_after_deployment(emulator: EmulatorServer) -> None:
    client = alice_client(emulator)
    policy = models.ApplicationJitAccessPolicy(
        jit_access_enabled=True, jit_approval_mode="AutoApprove", maximum_jit_access_duration="PT1H"
    )
    with pytest.raises(HttpResponseError) as error:
        client.applications.begin_update(
            "rg-sql",
            "fabrikam-sql",
            models.ApplicationPatchable(
                properties=models.ApplicationProperties(jit_access_policy=policy)
            ),
        ).result()
    assert error.value.status_code == 400
    assert error.value.error is not None
    assert error.value.error.code == "JitAccessPolicyChangeNotAllowed"


def test_delete_is_a_long_running_operation(emulator: EmulatorServer) -> None:
    client = alice_client(emulator)
    client.applications.begin_delete("rg-sandbox", "fabrikam-sandbox").result()
    assert client.applications.get("rg-sandbox", "fabrikam-sandbox") is None
    assert ids.FAB_SANDBOX_MRG.lower() not in emulator.state.resource_groups


def test_reader_cannot_patch(emulator: EmulatorServer) -> None:
    bob = solutions(emulator, user_credential(emulator, ids.BOB), ids.FABRIKAM_SUB)
    with pytest.raises(HttpResponseError) as error:
        bob.applications.begin_update(
            "rg-sql", "fabrikam-sql", models.ApplicationPatchable(tags={"a": "b"})
        ).result()
    assert error.value.status_code == 403
    assert error.value.error is not None
    assert error.value.error.code == "AuthorizationFailed"


def test_application_definitions(emulator: EmulatorServer) -> None:
    client = alice_client(emulator)
    found = list(client.application_definitions.list_by_resource_group("rg-catalog"))
    assert [d.name for d in found] == ["contoso-sandbox"]
    assert found[0].lock_level == "None"
    definition = client.application_definitions.get_by_id("rg-catalog", "contoso-sandbox")
    assert definition is not None
    assert definition.display_name.startswith("Contoso Sandbox")
    assert client.application_definitions.get("rg-catalog", "missing") is None


def test_seeded_jit_requests_cover_every_state(emulator: EmulatorServer) -> None:
    states = {
        j.name: j.jit_request_state
        for j in pat_client(emulator).jit_requests.list_by_resource_group(SCOPE_RG).value
        if j.application_resource_id.lower().startswith(f"/subscriptions/{ids.FABRIKAM_SUB}")
        and j.name not in ids.HISTORY
    }
    assert states == {
        "jitpend1": "Pending",
        "jitact1": "Approved",
        "jitden1": "Denied",
        "jitexp1": "Expired",
        "jittmo1": "Timeout",
        "jitauto1": "Approved",
    }


def test_seeded_history_is_finished_with_reasons_in_tags(emulator: EmulatorServer) -> None:
    requests = {
        j.name: j
        for j in pat_client(emulator).jit_requests.list_by_resource_group(SCOPE_RG).value
        if j.name in ids.HISTORY
    }
    assert set(requests) == set(ids.HISTORY)
    assert {j.jit_request_state for j in requests.values()} == {
        "Expired", "Denied", "Timeout", "Canceled",
    }  # fmt: skip
    assert requests["jith09"].tags == {
        "justification": "Migrate the alert rules to the new workspace",
        "ticket": "CHG-1047",
    }


def test_publisher_requests_jit_manual_approval_keeps_it_pending(emulator: EmulatorServer) -> None:
    client = pat_client(emulator)
    result = client.jit_requests.begin_create_or_update(
        SCOPE_RG, "jitnew1", jit_body(ids.FAB_MONITORING)
    ).result()
    assert result.jit_request_state == "Pending"
    assert result.provisioning_state == "Succeeded"
    assert result.jit_scheduling_policy.duration == dt.timedelta(hours=2)
    assert result.publisher_tenant_id == ids.CONTOSO
    assert jit_request(client, "jitnew1").created_by.oid == ids.PAT


def test_auto_approve_grants_a_time_boxed_role_assignment(emulator: EmulatorServer) -> None:
    client = pat_client(emulator)
    result = client.jit_requests.begin_create_or_update(
        SCOPE_RG, "jitnew2", jit_body(ids.FAB_BACKUP, hours=1)
    ).result()
    assert result.jit_request_state == "Approved"
    mrg = f"/subscriptions/{ids.FABRIKAM_SUB}/resourceGroups/mrg-fabrikam-backup"
    grants = [
        a
        for a in emulator.state.role_assignments.values()
        if a.source == "jit" and a.scope == mrg and (a.description or "").endswith("jitnew2")
    ]
    assert len(grants) == 1
    emulator.advance_clock(dt.timedelta(hours=1, minutes=1))
    assert jit_request(client, "jitnew2").jit_request_state == "Expired"
    assert not [
        a
        for a in emulator.state.role_assignments.values()
        if a.description and a.description.endswith("jitnew2")
    ]


def test_pending_request_times_out_after_24_hours(emulator: EmulatorServer) -> None:
    client = pat_client(emulator)
    client.jit_requests.begin_create_or_update(
        SCOPE_RG, "jitnew3", jit_body(ids.FAB_MONITORING)
    ).result()
    emulator.advance_clock(dt.timedelta(hours=23))
    assert jit_request(client, "jitnew3").jit_request_state == "Pending"
    emulator.advance_clock(dt.timedelta(hours=2))
    assert jit_request(client, "jitnew3").jit_request_state == "Timeout"


@pytest.mark.parametrize(
    ("hours", "principal", "role", "code"),
    [
        (9, ids.PAT, ids.CONTRIBUTOR, "JitRequestDurationExceedsMaximum"),
        (1, ids.PAT, ids.OWNER, "JitRequestIneligibleAuthorization"),
        (1, ids.OLIVIA, ids.CONTRIBUTOR, "JitRequestIneligibleAuthorization"),
    ],
)
def test_invalid_jit_requests_get_400(
    emulator: EmulatorServer, hours: int, principal: str, role: str, code: str
) -> None:
    with pytest.raises(HttpResponseError) as error:
        pat_client(emulator).jit_requests.begin_create_or_update(
            SCOPE_RG, "jitbad", jit_body(ids.FAB_MONITORING, principal, role, hours)
        ).result()
    assert error.value.status_code == 400
    assert error.value.error is not None
    assert error.value.error.code == code


def test_jit_request_without_p2_fails(emulator: EmulatorServer) -> None:
    client = pat_client(emulator)
    with pytest.raises(HttpResponseError) as error:
        client.jit_requests.begin_create_or_update(
            SCOPE_RG, "jitwg2", jit_body(ids.WOODGROVE_MONITORING)
        ).result()
    assert error.value.error is not None
    assert error.value.error.code == "JitRequestFailed"
    assert jit_request(client, "jitwg2").jit_request_state == "Failed"


def test_delete_cancels_a_pending_request_and_patch_sets_tags(emulator: EmulatorServer) -> None:
    client = pat_client(emulator)
    tagged = client.jit_requests.update(
        SCOPE_RG, "jitpend1", models.JitRequestPatchable(tags={"ticket": "INC-1"})
    )
    assert tagged.tags == {"ticket": "INC-1"}
    client.jit_requests.delete(SCOPE_RG, "jitpend1")
    assert jit_request(client, "jitpend1").jit_request_state == "Canceled"


def test_the_publishers_app_reads_the_requests_scope_and_outsiders_cannot(
    emulator: EmulatorServer,
) -> None:
    publisher = solutions(
        emulator,
        app_credential(emulator, ids.CONTOSO, ids.PUBLISHER_CLIENT_ID, ids.PUBLISHER_SECRET),
        ids.CONTOSO_SUB,
    )
    names = {j.name for j in publisher.jit_requests.list_by_resource_group(SCOPE_RG).value}
    assert {"jitpend1", "jitnw1"} <= names
    assert jit_request(publisher, "jitpend1").jit_request_state == "Pending"
    # Reader there lets it read, not write.
    with pytest.raises(HttpResponseError) as error:
        publisher.jit_requests.begin_create_or_update(
            SCOPE_RG, "jitapp1", jit_body(ids.FAB_MONITORING)
        ).result()
    assert error.value.status_code == 403
    for outsider in (ids.TOM, ids.OLIVIA, ids.ALICE):
        client = solutions(emulator, user_credential(emulator, outsider), ids.CONTOSO_SUB)
        with pytest.raises(HttpResponseError) as error:
            client.jit_requests.list_by_resource_group(SCOPE_RG)
        assert error.value.status_code == 403
        assert error.value.error is not None
        assert error.value.error.code == "AuthorizationFailed"


def test_customers_listing_of_their_subscription_holds_none_of_the_publishers_requests(
    emulator: EmulatorServer,
) -> None:
    portal = solutions(
        emulator,
        app_credential(emulator, ids.FABRIKAM, ids.PORTAL_CLIENT_ID, ids.PORTAL_SECRET),
        ids.FABRIKAM_SUB,
    )
    assert portal.jit_requests.list_by_subscription().value == []


@pytest.mark.parametrize(
    ("who", "resource_group"),
    [(ids.PAT, "rg-monitoring"), (ids.OLIVIA, SCOPE_RG), (ids.ALICE, SCOPE_RG)],
)
def test_a_jit_request_outside_the_callers_rights_is_refused_before_anything_else(
    emulator: EmulatorServer, who: str, resource_group: str
) -> None:
    """Being named in an application's authorizations gives no right to write jitRequests:
    ARM checks the caller's role at the request's own scope first."""
    subscription = ids.CONTOSO_SUB if resource_group == SCOPE_RG else ids.FABRIKAM_SUB
    client = solutions(emulator, user_credential(emulator, who), subscription)
    with pytest.raises(HttpResponseError) as error:
        client.jit_requests.begin_create_or_update(
            resource_group, "jitno1", jit_body(ids.FAB_MONITORING)
        ).result()
    assert error.value.status_code == 403
    assert error.value.error is not None
    assert error.value.error.code == "AuthorizationFailed"
    message = error.value.error.message
    assert message is not None
    assert "does not have authorization to perform action" in message
    assert "'Microsoft.Solutions/jitRequests/write'" in message
    assert f"/resourceGroups/{resource_group}/providers/Microsoft.Solutions/jitRequests/jitno1" in (
        message
    )
    assert "jitno1" not in {r.name for r in emulator.state.jit_requests.values()}


def test_cancel_and_tags_need_rights_at_the_requests_scope(emulator: EmulatorServer) -> None:
    alice = solutions(emulator, user_credential(emulator, ids.ALICE), ids.CONTOSO_SUB)
    with pytest.raises(HttpResponseError) as error:
        alice.jit_requests.delete(SCOPE_RG, "jitpend1")
    assert error.value.status_code == 403
    with pytest.raises(HttpResponseError) as error:
        alice.jit_requests.update(SCOPE_RG, "jitpend1", models.JitRequestPatchable(tags={}))
    assert error.value.status_code == 403
    assert jit_request(pat_client(emulator), "jitpend1").jit_request_state == ("Pending")


def _update_access(
    client: ManagedApplicationsMgmtClient, sub_status: str = "Approved"
) -> models.UpdateAccessDefinition:
    body = models.UpdateAccessDefinition(
        approver="alice@fabrikam.onmicrosoft.com",
        metadata=models.JitRequestMetadata(origin_request_id="jitpend1", requestor_id=ids.PAT),
        status="Elevate",
        sub_status=sub_status,
    )
    return client.applications.begin_update_access(
        "rg-monitoring", "fabrikam-monitoring", body
    ).result()


def test_update_access_is_answered_but_decides_nothing_by_default(emulator: EmulatorServer) -> None:
    result = _update_access(alice_client(emulator))

    assert result.status == "Elevate"
    assert jit_request(pat_client(emulator), "jitpend1").jit_request_state == ("Pending")


def test_update_access_decides_under_its_assumption(emulator: EmulatorServer) -> None:
    """Tests the emulator's `update-access-decides` assumption, not documented Azure."""
    emulator.state.assumptions = {"update-access-decides"}

    _update_access(alice_client(emulator))

    assert jit_request(pat_client(emulator), "jitpend1").jit_request_state == ("Approved")


def test_wrong_api_version_and_bad_json_get_arm_errors(emulator: EmulatorServer) -> None:
    token = emulator.token_for(ids.ALICE)
    url = f"{emulator.https_url}{ids.FAB_SQL}"
    headers = {"Authorization": f"Bearer {token}"}
    missing = requests.get(url, headers=headers, verify=emulator.ca_bundle, timeout=5)
    assert missing.status_code == 400
    assert missing.json()["error"]["code"] == "MissingApiVersionParameter"
    wrong = requests.get(
        url,
        params={"api-version": "2099-01-01"},
        headers=headers,
        verify=emulator.ca_bundle,
        timeout=5,
    )
    assert wrong.json()["error"]["code"] == "InvalidApiVersionParameter"
    bad = requests.patch(
        url,
        params={"api-version": "2023-12-01-preview", "whatever": "1"},
        data="{not json",
        headers=headers,
        verify=emulator.ca_bundle,
        timeout=5,
    )
    assert bad.status_code == 400
    assert bad.json()["error"]["code"] == "InvalidRequestContent"
    unknown = requests.get(
        f"{emulator.https_url}/subscriptions/{ids.FABRIKAM_SUB}/resourceGroups/rg-sql/providers/Microsoft.Solutions/applications/nope",
        params={"api-version": "2023-12-01-preview"},
        headers=headers,
        verify=emulator.ca_bundle,
        timeout=5,
    )
    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "ResourceNotFound"
    assert unknown.headers["x-ms-request-id"]


def test_missing_resource_raises_for_non_get_operations(emulator: EmulatorServer) -> None:
    with pytest.raises(ResourceNotFoundError):
        alice_client(emulator).applications.begin_delete("rg-sql", "nope").result()


def test_create_application_from_a_marketplace_plan(emulator: EmulatorServer) -> None:
    client = solutions(emulator, user_credential(emulator, ids.CHARLIE), ids.NORTHWIND_SUB)
    body = models.Application(
        location="eastus",
        kind="MarketPlace",
        plan=models.Plan(
            name="jit-auto", publisher="contoso", product="contoso-backup", version="2.0.1"
        ),
        properties=models.ApplicationProperties(
            managed_resource_group_id=f"/subscriptions/{ids.NORTHWIND_SUB}/resourceGroups/mrg-northwind-backup",
            jit_access_policy=models.ApplicationJitAccessPolicy(
                jit_access_enabled=True,
                jit_approval_mode="AutoApprove",
                maximum_jit_access_duration="PT2H",
            ),
        ),
    )
    created = client.applications.begin_create_or_update(
        "rg-contoso", "northwind-backup", body
    ).result()
    assert created.provisioning_state == "Succeeded"
    assert created.jit_access_policy.maximum_jit_access_duration == "PT2H"
    assert created.created_by.oid == ids.CHARLIE
    mrg = f"/subscriptions/{ids.NORTHWIND_SUB}/resourcegroups/mrg-northwind-backup"
    assert emulator.state.resource_groups[mrg].managed_by == created.id
    with pytest.raises(HttpResponseError) as error:
        client.applications.begin_create_or_update("rg-contoso", "northwind-backup2", body).result()
    assert error.value.error is not None
    assert error.value.error.code == "ManagedResourceGroupExists"


def test_invalid_duration_is_invalid_request_content(emulator: EmulatorServer) -> None:
    body: dict[str, Any] = {
        "location": "westeurope",
        "properties": {
            "applicationResourceId": ids.FAB_MONITORING,
            "jitAuthorizationPolicies": [
                {"principalId": ids.PAT, "roleDefinitionId": ids.CONTRIBUTOR}
            ],
            "jitSchedulingPolicy": {
                "type": "Once",
                "duration": "eight hours",
                "startTime": "2030-01-01T00:00:00Z",
            },
        },
    }
    answer = requests.put(
        f"{emulator.https_url}{ids.JIT_SCOPE}/providers/Microsoft.Solutions/jitRequests/jitbad",
        params={"api-version": "2023-12-01-preview"},
        json=body,
        headers={"Authorization": f"Bearer {emulator.token_for(ids.PAT)}"},
        verify=emulator.ca_bundle,
        timeout=5,
    )
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "InvalidRequestContent"


def test_future_start_grants_access_only_from_the_start_time(emulator: EmulatorServer) -> None:
    client = pat_client(emulator)
    start = dt.datetime.now(dt.UTC) + dt.timedelta(hours=2)
    client.jit_requests.begin_create_or_update(
        SCOPE_RG, "jitlater", jit_body(ids.FAB_BACKUP, hours=1, start=start)
    ).result()

    def grants() -> list[RoleAssignment]:
        return [
            a
            for a in emulator.state.role_assignments.values()
            if a.description and a.description.endswith("jitlater")
        ]

    assert jit_request(client, "jitlater").jit_request_state == "Approved"
    assert grants() == []
    emulator.advance_clock(dt.timedelta(hours=2, minutes=1))
    assert len(grants()) == 1
    emulator.advance_clock(dt.timedelta(hours=1))
    assert grants() == []
    assert jit_request(client, "jitlater").jit_request_state == "Expired"


def test_route_templates_match_their_dots_literally(emulator: EmulatorServer) -> None:
    headers = {"Authorization": f"Bearer {emulator.token_for(ids.ALICE)}"}

    def get(provider: str) -> requests.Response:
        return requests.get(
            f"{emulator.https_url}/subscriptions/{ids.FABRIKAM_SUB}/providers/{provider}/applications",
            params={"api-version": "2023-12-01-preview"},
            headers=headers,
            verify=emulator.ca_bundle,
            timeout=5,
        )

    assert get("Microsoft.Solutions").status_code == 200
    assert get("MicrosoftXSolutions").status_code == 404
