"""Reads through the real SDKs against the emulator, and what the records carry."""

import datetime as dt

import pytest

from azure_gateway import NotFound, gateway_for_token
from azure_gateway.gateway import SdkAzureGateway
from azure_gateway.records import (
    Authorization,
    JitApprover,
    PermissionSet,
    Plan,
    PrincipalRef,
    SupportContact,
)
from emulator.server import EmulatorServer
from tests.azure.conftest import (
    ALICE,
    BOB,
    CONTRIBUTOR,
    FABRIKAM_SUB,
    MONITORING,
    MONITORING_MRG,
    NORTHWIND_SUB,
    OWNER,
    PAT,
    PUBLISHER_APP_SP,
    READER,
    SANDBOX,
    SANDBOX_MRG,
    token_provider,
)

PAULA = "e633a9ff-24c3-4954-8ddd-d2893245e3f3"
DEFINITION = (
    f"/subscriptions/{FABRIKAM_SUB}/resourceGroups/rg-catalog"
    "/providers/Microsoft.Solutions/applicationDefinitions/contoso-sandbox"
)


def test_tenant_app_sees_only_its_tenants_subscription(fabrikam_app: SdkAzureGateway) -> None:
    subscriptions = list(fabrikam_app.list_subscriptions())

    assert [(s.subscription_id, s.display_name, s.tenant_id, s.state) for s in subscriptions] == [
        (FABRIKAM_SUB, "Fabrikam Production", "3197bd27-109d-45f9-bdce-8200dec65df6", "Enabled")
    ]


def test_managed_apps_are_paged_through(
    emulator: EmulatorServer, fabrikam_app: SdkAzureGateway
) -> None:
    emulator.state.page_size = 2  # five applications: three pages

    apps = list(fabrikam_app.list_managed_apps(FABRIKAM_SUB))

    assert sorted(a.name for a in apps) == [
        "fabrikam-analytics",
        "fabrikam-backup",
        "fabrikam-monitoring",
        "fabrikam-sandbox",
        "fabrikam-sql",
    ]
    pages = [
        r
        for r in emulator.state.requests_log
        if r["path"].endswith("/providers/Microsoft.Solutions/applications")
    ]
    assert len(pages) == 3
    assert "skipToken" in pages[-1]["query"]


def test_marketplace_app_record(emulator: EmulatorServer, as_alice: SdkAzureGateway) -> None:
    emulator.state.applications[MONITORING.lower()].parameters = {"vmSize": {"value": "B2s"}}
    emulator.state.applications[MONITORING.lower()].tags = {"costCenter": "42"}

    app = as_alice.get_managed_app(MONITORING)

    assert app.id == MONITORING
    assert app.name == "fabrikam-monitoring"
    assert app.subscription_id == FABRIKAM_SUB
    assert app.resource_group == "rg-monitoring"
    assert app.location == "westeurope"
    assert app.kind == "MarketPlace"
    assert app.plan == Plan(
        name="jit-manual", publisher="contoso", product="contoso-monitoring", version="1.2.0"
    )
    assert app.application_definition_id is None
    assert app.managed_resource_group_id == MONITORING_MRG
    assert app.provisioning_state == "Succeeded"
    assert app.management_mode == "Managed"
    assert app.publisher_tenant_id == "0ec098e5-b929-47d3-a4de-b2f969d0ba5b"
    assert app.authorizations == (
        Authorization(principal_id=PAT, role_definition_id=CONTRIBUTOR),
        Authorization(principal_id=PAULA, role_definition_id=OWNER),
        Authorization(principal_id=PUBLISHER_APP_SP, role_definition_id=READER),
    )
    assert app.jit_policy is not None
    assert app.jit_policy.enabled is True
    assert app.jit_policy.approval_mode == "ManualApprove"
    assert app.jit_policy.approvers == (
        JitApprover(id=ALICE, type="user", display_name="Alice Archer"),
    )
    assert app.jit_policy.maximum_duration == dt.timedelta(hours=8)
    assert app.support == SupportContact(
        name="Contoso Support", email="support@contoso.example", phone="+1 555 0100"
    )
    assert app.support_url == "https://support.contoso.example"
    assert app.billing_resource_usage_id
    assert app.parameters == {"vmSize": {"value": "B2s"}}
    assert app.outputs == {}
    assert app.tags == {"costCenter": "42"}
    assert app.created_by_oid == ALICE
    assert app.created_at is not None
    assert app.created_at.tzinfo == dt.UTC
    assert app.updated_at is not None


def test_service_catalog_app_links_its_definition(as_alice: SdkAzureGateway) -> None:
    app = as_alice.get_managed_app(SANDBOX)

    assert app.kind == "ServiceCatalog"
    assert app.application_definition_id == DEFINITION
    assert app.jit_policy is None


def test_application_definition_record(emulator: EmulatorServer, as_alice: SdkAzureGateway) -> None:
    stored = emulator.state.definitions[DEFINITION.lower()].properties
    stored["notificationPolicy"] = {
        "notificationEndpoints": [{"uri": "https://portal.example/hooks/arm?sig=abc"}]
    }
    stored["lockingPolicy"] = {
        "allowedActions": ["Microsoft.Web/sites/restart/action"],
        "allowedDataActions": [
            "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read"
        ],
    }

    definition = as_alice.get_application_definition(DEFINITION)

    assert definition.id == DEFINITION
    assert definition.name == "contoso-sandbox"
    assert definition.location == "westeurope"
    assert definition.display_name == "Contoso Sandbox (Service Catalog, no lock)"
    assert definition.description == "Contoso Sandbox (Service Catalog, no lock)"
    assert definition.lock_level == "None"
    assert definition.is_enabled is True
    assert definition.authorizations == (
        Authorization(principal_id=PAT, role_definition_id=CONTRIBUTOR),
        Authorization(principal_id=PUBLISHER_APP_SP, role_definition_id=READER),
    )
    assert definition.allowed_actions == ("Microsoft.Web/sites/restart/action",)
    assert definition.allowed_data_actions == (
        "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read",
    )
    assert definition.notification_uri == "https://portal.example/hooks/arm?sig=abc"
    assert definition.deployment_mode == "Incremental"
    assert definition.management_mode == "Managed"


def test_application_definitions_of_a_subscription(as_alice: SdkAzureGateway) -> None:
    definitions = list(as_alice.list_application_definitions(FABRIKAM_SUB))

    assert [d.id for d in definitions] == [DEFINITION]
    assert definitions[0] == as_alice.get_application_definition(DEFINITION)


def test_missing_app_is_not_found(as_alice: SdkAzureGateway) -> None:
    missing = MONITORING.replace("fabrikam-monitoring", "nothing-here")

    with pytest.raises(NotFound) as caught:
        as_alice.get_managed_app(missing)

    assert caught.value.status == 404
    assert missing in caught.value.message


def test_missing_definition_is_not_found(as_alice: SdkAzureGateway) -> None:
    with pytest.raises(NotFound):
        as_alice.get_application_definition(DEFINITION.replace("contoso-sandbox", "gone"))


def test_resources_of_the_managed_resource_group(as_alice: SdkAzureGateway) -> None:
    resources = list(as_alice.list_resources(MONITORING_MRG))

    assert {(r.type, r.name) for r in resources} == {
        ("Microsoft.Compute/virtualMachines", "vm-fabrikam-monitoring"),
        ("Microsoft.Network/virtualNetworks", "vnet-fabrikam-monitoring"),
        ("Microsoft.Storage/storageAccounts", "stfabrikammonitoring"),
    }
    vm = next(r for r in resources if r.type == "Microsoft.Compute/virtualMachines")
    assert vm.id == (
        f"{MONITORING_MRG}/providers/Microsoft.Compute/virtualMachines/vm-fabrikam-monitoring"
    )
    assert vm.location == "westeurope"
    assert vm.tags == {}


def test_missing_resource_group_is_not_found(as_alice: SdkAzureGateway) -> None:
    with pytest.raises(NotFound) as caught:
        list(as_alice.list_resources(f"/subscriptions/{FABRIKAM_SUB}/resourceGroups/nope"))

    assert caught.value.code == "ResourceGroupNotFound"


@pytest.mark.parametrize(
    "role_id",
    [
        CONTRIBUTOR,
        f"/subscriptions/{FABRIKAM_SUB}/providers/Microsoft.Authorization/roleDefinitions/{CONTRIBUTOR}",
    ],
)
def test_role_definition_by_guid_or_full_id(as_alice: SdkAzureGateway, role_id: str) -> None:
    role = as_alice.get_role_definition(role_id)

    assert role.id == CONTRIBUTOR
    assert role.arm_id.endswith(f"/providers/Microsoft.Authorization/roleDefinitions/{CONTRIBUTOR}")
    assert role.name == "Contributor"
    assert role.role_type == "BuiltInRole"
    assert role.description
    assert role.permissions == (
        PermissionSet(
            actions=("*",),
            not_actions=(
                "Microsoft.Authorization/*/Delete",
                "Microsoft.Authorization/*/Write",
                "Microsoft.Authorization/elevateAccess/Action",
            ),
            data_actions=(),
            not_data_actions=(),
        ),
    )


def test_unknown_role_definition_is_not_found(as_alice: SdkAzureGateway) -> None:
    with pytest.raises(NotFound) as caught:
        as_alice.get_role_definition("00000000-1111-2222-3333-444444444444")

    assert caught.value.code == "RoleDefinitionDoesNotExist"


def test_locked_managed_resource_group_has_a_deny_assignment(as_alice: SdkAzureGateway) -> None:
    (deny,) = as_alice.list_deny_assignments(MONITORING_MRG)

    assert (
        deny.display_name == f"System deny assignment created by managed application {MONITORING}"
    )
    assert (
        deny.id == f"{MONITORING_MRG}/providers/Microsoft.Authorization/denyAssignments/{deny.name}"
    )
    assert deny.scope == MONITORING_MRG
    assert deny.permissions == (
        PermissionSet(
            actions=("*",),
            not_actions=("*/read", "Microsoft.Compute/virtualMachines/restart/action"),
            data_actions=("*",),
            not_data_actions=(),
        ),
    )
    assert deny.principals == (
        PrincipalRef(
            id="00000000-0000-0000-0000-000000000000", type="SystemDefined", display_name=""
        ),
    )
    assert {p.id for p in deny.excluded_principals} == {PAT, PAULA, PUBLISHER_APP_SP}
    assert deny.applies_to_child_scopes is True
    assert deny.is_system_protected is True
    assert deny.description


def test_unlocked_managed_resource_group_has_no_deny_assignment(as_alice: SdkAzureGateway) -> None:
    assert as_alice.list_deny_assignments(SANDBOX_MRG) == []


def test_permissions_reflect_the_caller(as_alice: SdkAzureGateway, as_bob: SdkAzureGateway) -> None:
    assert as_alice.my_permissions(MONITORING_MRG) == [
        PermissionSet(actions=("*",), not_actions=(), data_actions=(), not_data_actions=())
    ]
    assert as_bob.my_permissions(MONITORING_MRG) == [
        PermissionSet(actions=("*/read",), not_actions=(), data_actions=(), not_data_actions=())
    ]


def test_role_assignments_normalise_the_role_to_its_guid(as_alice: SdkAzureGateway) -> None:
    assignments = list(as_alice.list_role_assignments(MONITORING_MRG))

    bob = next(a for a in assignments if a.principal_id == BOB)
    assert bob.role_definition_id == READER
    assert bob.scope == f"/subscriptions/{FABRIKAM_SUB}"
    assert bob.principal_type == "User"
    assert (
        bob.id
        == f"/subscriptions/{FABRIKAM_SUB}/providers/Microsoft.Authorization/roleAssignments/{bob.name}"
    )
    assert bob.created_on is not None
    assert bob.created_on.tzinfo == dt.UTC
    # The publisher's projected authorization, read-only while JIT is on.
    pat = [a for a in assignments if a.principal_id == PAT and a.scope == MONITORING_MRG]
    assert {a.role_definition_id for a in pat} >= {READER}
    assert all(
        "Managed application authorization" in a.description or "Just-in-time" in a.description
        for a in pat
    )


def test_role_assignments_for_one_principal(as_alice: SdkAzureGateway) -> None:
    assignments = list(as_alice.list_role_assignments(MONITORING_MRG, principal_id=BOB))

    assert [(a.principal_id, a.role_definition_id) for a in assignments] == [(BOB, READER)]


def test_role_assignments_at_scope_leave_out_those_below(as_alice: SdkAzureGateway) -> None:
    subscription = f"/subscriptions/{FABRIKAM_SUB}"

    at_scope = list(as_alice.list_role_assignments(subscription, at_scope=True))
    everything = list(as_alice.list_role_assignments(subscription))

    assert {a.scope for a in at_scope} == {subscription}
    assert any(a.scope == MONITORING_MRG for a in everything)


def test_role_assignment_filters_cannot_be_combined(as_alice: SdkAzureGateway) -> None:
    with pytest.raises(ValueError):
        as_alice.list_role_assignments(MONITORING_MRG, principal_id=BOB, at_scope=True)


def test_activity_log_of_a_resource_group(
    emulator: EmulatorServer, as_alice: SdkAzureGateway
) -> None:
    now = emulator.state.now()

    events = list(
        as_alice.list_activity(MONITORING_MRG, start=now - dt.timedelta(days=30), end=now)
    )

    restart = next(
        e for e in events if e.operation == "Microsoft.Compute/virtualMachines/restart/action"
    )
    assert restart.caller_oid == PAT
    assert restart.caller == "pat@contoso.onmicrosoft.com"
    assert restart.caller_tenant_id == "0ec098e5-b929-47d3-a4de-b2f969d0ba5b"
    assert restart.status == "Succeeded"
    assert restart.category == "Administrative"
    assert restart.level == "Informational"
    assert restart.resource_group == "mrg-fabrikam-monitoring"
    assert restart.resource_id.endswith("/virtualMachines/vm-fabrikam-monitoring")
    assert restart.event_id
    assert restart.correlation_id
    assert restart.timestamp.tzinfo == dt.UTC
    assert now - dt.timedelta(days=5) < restart.timestamp < now
    assert all(e.resource_group == "mrg-fabrikam-monitoring" for e in events)


def test_activity_log_is_paged_through(emulator: EmulatorServer, as_alice: SdkAzureGateway) -> None:
    emulator.state.page_size = 2
    now = emulator.state.now()

    events = list(
        as_alice.list_activity(MONITORING_MRG, start=now - dt.timedelta(days=30), end=now)
    )

    assert len(events) > 2
    assert len({e.event_id for e in events}) == len(events)


def test_activity_log_window_is_respected(
    emulator: EmulatorServer, as_alice: SdkAzureGateway
) -> None:
    now = emulator.state.now()

    events = list(as_alice.list_activity(MONITORING_MRG, start=now - dt.timedelta(days=2), end=now))

    assert all(e.timestamp >= now - dt.timedelta(days=2) for e in events)
    assert not any(
        e.operation == "Microsoft.Compute/virtualMachines/restart/action" for e in events
    )


def test_activity_log_needs_aware_bounds(as_alice: SdkAzureGateway) -> None:
    naive = dt.datetime.now(dt.UTC).replace(tzinfo=None)

    with pytest.raises(ValueError):
        list(as_alice.list_activity(MONITORING_MRG, start=naive, end=naive))


def test_another_customer_sees_their_own_apps(emulator: EmulatorServer) -> None:
    charlie = gateway_for_token(token_provider(emulator, "9c6395d3-4420-4edc-8a5f-facb2cebda2d"))

    apps = list(charlie.list_managed_apps(NORTHWIND_SUB))

    assert {a.name for a in apps} == {"northwind-monitoring", "northwind-sql"}


def test_subscription_wide_listings_match_the_per_group_ones(
    emulator: EmulatorServer, fabrikam_app: SdkAzureGateway
) -> None:
    apps = list(fabrikam_app.list_managed_apps(FABRIKAM_SUB))
    per_group = {
        r.id.lower()
        for app in apps
        for r in fabrikam_app.list_resources(app.managed_resource_group_id)
    }
    everything = {r.id.lower() for r in fabrikam_app.list_subscription_resources(FABRIKAM_SUB)}
    assert per_group and per_group <= everything
    denies = fabrikam_app.list_subscription_deny_assignments(FABRIKAM_SUB)
    assert {d.id for d in denies} == {
        d.id
        for app in apps
        for d in fabrikam_app.list_deny_assignments(app.managed_resource_group_id)
    }
    assert {d.scope.lower() for d in denies} <= {a.managed_resource_group_id.lower() for a in apps}


def test_subscription_resources_leave_out_groups_the_caller_cannot_read(
    emulator: EmulatorServer,
) -> None:
    # Bob reads the subscription; a caller with rights on one managed app only sees that one's.
    provider = token_provider(emulator, PAT)
    with gateway_for_token(provider) as publisher:
        seen = {r.id.lower() for r in publisher.list_subscription_resources(FABRIKAM_SUB)}
    assert seen, "the publisher reads the managed resource groups of its apps"
    assert all("/resourcegroups/mrg-" in rid for rid in seen)


def test_a_listing_keeps_every_page_and_its_digest_follows_the_content(
    emulator: EmulatorServer, fabrikam_app: SdkAzureGateway
) -> None:
    first = fabrikam_app.read_managed_apps(FABRIKAM_SUB)
    emulator.state.page_size = 2  # the same five applications, in three pages
    paged = fabrikam_app.read_managed_apps(FABRIKAM_SUB)
    assert len(paged.items) == len(first.items) == 5
    assert paged.digest == first.digest
    assert [r.id for r in paged.records()] == [r.id for r in first.records()]

    monitoring = emulator.state.applications[MONITORING.lower()]
    assert monitoring.jit_access_policy is not None
    monitoring.jit_access_policy = {
        **monitoring.jit_access_policy,
        "jitApprovalMode": "AutoApprove",
    }
    changed = fabrikam_app.read_managed_apps(FABRIKAM_SUB)
    assert changed.digest != first.digest
    record = next(r for r in changed.records() if r.id.lower() == MONITORING.lower())
    assert record.jit_policy is not None
    assert record.jit_policy.approval_mode == "AutoApprove"
