"""Rows for the deployments pages, built with the ORM: Contoso's offer installed at Fabrikam
and Northwind, resources in Fabrikam's managed resource group, and sync runs."""

import datetime as dt
import uuid
from typing import Any

import pytest
from django.db.models import F
from django.utils import timezone

from accounts.models import Tenant
from deployments.models import ManagedApplication, ManagedResource, Offer, RoleDefinition, SyncRun
from deployments.sync import FULL_COMPARISON_EVERY
from jit.models import JitRequest

SUB = "6f1d3c3e-2b0a-4a57-9a0c-2c1e5e0b7a11"
OWNER = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"


def pretend_the_sync_memory_aged() -> None:
    """Make the stored built-in roles and the last full comparisons older than they may be, as if
    FULL_COMPARISON_EVERY had passed: the next sync reads roles again and compares everything."""
    age = FULL_COMPARISON_EVERY + dt.timedelta(minutes=1)
    RoleDefinition.objects.update(refreshed_at=F("refreshed_at") - age)
    for run in SyncRun.objects.exclude(subscription_digests={}):
        for digest in run.subscription_digests.values():
            digest["compared_at"] = (
                dt.datetime.fromisoformat(digest["compared_at"]) - age
            ).isoformat()
        run.save(update_fields=["subscription_digests"])


def make_offer(
    publisher: Tenant,
    *,
    plan: str = "jit-plan",
    version: str = "1.0.0",
    name: str = "Contoso Analytics",
    **extra: Any,
) -> Offer:
    return Offer.objects.create(
        key=f"plan:{publisher.pk}/analytics/{plan}/{version}/{name}".lower(),
        kind=Offer.Kind.MARKETPLACE,
        publisher_tenant=publisher,
        publisher_name=publisher.display_name,
        product="analytics",
        display_name=name,
        plan=plan,
        version=version,
        **extra,
    )


def make_app(
    tenant: Tenant,
    offer: Offer,
    name: str,
    *,
    state: str = "Succeeded",
    sub: str = SUB,
    **extra: Any,
) -> ManagedApplication:
    rg = f"rg-{name}"
    return ManagedApplication.objects.create(
        arm_id=f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Solutions/applications/{name}",
        customer_tenant=tenant,
        offer=offer,
        subscription_id=sub,
        resource_group=rg,
        name=name,
        location="westeurope",
        provisioning_state=state,
        managed_resource_group_id=f"/subscriptions/{sub}/resourceGroups/mrg-{name}",
        **extra,
    )


def make_run(
    tenant: Tenant,
    state: str = SyncRun.State.SUCCEEDED,
    *,
    ago: dt.timedelta = dt.timedelta(minutes=5),
    **extra: Any,
) -> SyncRun:
    finished = timezone.now() - ago
    if state in (SyncRun.State.QUEUED, SyncRun.State.RUNNING):
        return SyncRun.objects.create(tenant=tenant, state=state, queued_at=finished, **extra)
    return SyncRun.objects.create(
        tenant=tenant,
        state=state,
        queued_at=finished - dt.timedelta(seconds=20),
        started_at=finished - dt.timedelta(seconds=15),
        finished_at=finished,
        **extra,
    )


def make_jit_request(app: ManagedApplication, state: str = "Pending") -> JitRequest:
    return JitRequest.objects.create(
        application=app,
        arm_id=f"{app.arm_id}/jitRequests/{uuid.uuid4()}",
        name="jit",
        principal_id="5c1e2f7a-0000-4000-8000-000000000001",
        role_definition_id="b24988ac-6180-42a0-ab88-20f7382dd24c",
        start=app.first_seen_at,
        duration=dt.timedelta(hours=1),
        state=state,
    )


@pytest.fixture
def offer(contoso: Tenant) -> Offer:
    return make_offer(
        contoso,
        lock_level="ReadOnly",
        jit_offered=True,
        authorizations=[
            {"principalId": "5c1e2f7a-0000-4000-8000-000000000001", "roleDefinitionId": OWNER}
        ],
        allowed_actions=["Microsoft.Compute/virtualMachines/restart/action"],
        description="Dashboards over your own data, run by Contoso.",
    )


@pytest.fixture
def fabrikam_app(fabrikam: Tenant, offer: Offer) -> ManagedApplication:
    app = make_app(
        fabrikam,
        offer,
        "analytics",
        jit_enabled=True,
        jit_approval_mode=ManagedApplication.ApprovalMode.MANUAL,
        support_contact={
            "name": "Contoso Support",
            "email": "support@contoso.example",
            "phone": "+1 555 0100",
        },
        parameters={
            "clusterSize": {"type": "Int", "value": 3},
            "adminPassword": {"type": "SecureString"},
        },
        outputs={
            "dashboardUrl": {"type": "String", "value": "https://analytics.contoso.example/fab"}
        },
    )
    ManagedResource.objects.create(
        application=app,
        arm_id=f"{app.managed_resource_group_id}/providers/Microsoft.Storage/storageAccounts/stanalytics",
        name="stanalytics",
        type="Microsoft.Storage/storageAccounts",
        location="westeurope",
    )
    return app


@pytest.fixture
def northwind_app(northwind: Tenant, offer: Offer) -> ManagedApplication:
    return make_app(
        northwind, offer, "northwind-analytics", sub="0a0a0a0a-1111-2222-3333-444444444444"
    )


@pytest.fixture
def fabrikam_synced(fabrikam: Tenant) -> SyncRun:
    return make_run(fabrikam, rows_created=2)
