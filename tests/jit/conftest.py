"""JIT fixtures: the demo scenario's applications mirrored as rows, and people signed in to ARM."""

import datetime as dt
import uuid
from collections.abc import Callable, Iterator

import pytest
from pytest_django import Settings

from accounts.models import Role, Tenant, User
from deployments.models import ManagedApplication, Offer
from emulator.server import EmulatorServer
from tests.conftest import make_person
from tests.conftest import store_sign_in as sign_in

FABRIKAM_SUB = "a8c02436-e607-478d-aa9c-f223ff5aabfd"
NORTHWIND_SUB = "7de4da82-cfe9-46de-840f-81ac7c289eee"
PAT = "fe96399b-4112-4390-b6f7-5d487005120c"
PAULA = "e633a9ff-24c3-4954-8ddd-d2893245e3f3"
CAROL = uuid.UUID("b376206c-f644-43d3-af0b-79222eaf261c")
PUBLISHER_SP = "c245099c-5407-493f-9eeb-4b52d12f3024"
NORTHWIND_ADMINS = "8e0ac5f6-0e58-4118-a66b-9e89f5ee44f4"
OWNER = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
CONTRIBUTOR = "b24988ac-6180-42a0-ab88-20f7382dd24c"
READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7"


def app_arm_id(subscription: str, resource_group: str, name: str) -> str:
    return (
        f"/subscriptions/{subscription}/resourceGroups/{resource_group}"
        f"/providers/Microsoft.Solutions/applications/{name}"
    )


def _app(
    tenant: Tenant,
    offer: Offer,
    subscription: str,
    resource_group: str,
    name: str,
    mode: str,
    approvers: list[dict[str, str]],
    hours: int,
    location: str,
) -> ManagedApplication:
    assert offer.publisher_tenant is not None
    return ManagedApplication.objects.create(
        arm_id=app_arm_id(subscription, resource_group, name),
        customer_tenant=tenant,
        offer=offer,
        subscription_id=subscription,
        resource_group=resource_group,
        name=name,
        location=location,
        kind="MarketPlace",
        managed_resource_group_id=f"/subscriptions/{subscription}/resourceGroups/mrg-{name}",
        provisioning_state="Succeeded",
        publisher_tenant_id=str(offer.publisher_tenant.entra_tenant_id),
        jit_enabled=True,
        jit_approval_mode=mode,
        jit_approvers=approvers,
        jit_maximum_duration=dt.timedelta(hours=hours),
    )


@pytest.fixture
def offers(contoso: Tenant) -> dict[str, Offer]:
    manual = Offer.objects.create(
        key="plan:contoso/contoso-monitoring/jit-manual/1.2.0",
        kind="MarketPlace",
        publisher_tenant=contoso,
        display_name="Contoso Monitoring",
        lock_level="ReadOnly",
        jit_offered=True,
        authorizations=[
            {"principalId": PAT, "roleDefinitionId": CONTRIBUTOR},
            {"principalId": PAULA, "roleDefinitionId": OWNER},
            {"principalId": PUBLISHER_SP, "roleDefinitionId": READER},
        ],
    )
    auto = Offer.objects.create(
        key="plan:contoso/contoso-backup/jit-auto/2.0.1",
        kind="MarketPlace",
        publisher_tenant=contoso,
        display_name="Contoso Backup",
        lock_level="ReadOnly",
        jit_offered=True,
        authorizations=[
            {"principalId": PAT, "roleDefinitionId": CONTRIBUTOR},
            {"principalId": PUBLISHER_SP, "roleDefinitionId": READER},
        ],
    )
    return {"manual": manual, "auto": auto}


@pytest.fixture
def monitoring(fabrikam: Tenant, offers: dict[str, Offer]) -> ManagedApplication:
    approvers = [
        {
            "id": "2029a5ca-c529-486a-ba15-f25657670ce5",
            "type": "user",
            "displayName": "Alice Archer",
        }
    ]
    return _app(
        fabrikam, offers["manual"], FABRIKAM_SUB, "rg-monitoring", "fabrikam-monitoring",
        "ManualApprove", approvers, 8, "westeurope",
    )  # fmt: skip


@pytest.fixture
def backup(fabrikam: Tenant, offers: dict[str, Offer]) -> ManagedApplication:
    return _app(
        fabrikam, offers["auto"], FABRIKAM_SUB, "rg-backup", "fabrikam-backup",
        "AutoApprove", [], 4, "westeurope",
    )  # fmt: skip


@pytest.fixture
def northwind_monitoring(northwind: Tenant, offers: dict[str, Offer]) -> ManagedApplication:
    approvers = [{"id": NORTHWIND_ADMINS, "type": "group", "displayName": "Northwind Cloud Admins"}]
    return _app(
        northwind, offers["manual"], NORTHWIND_SUB, "rg-contoso", "northwind-monitoring",
        "ManualApprove", approvers, 8, "eastus",
    )  # fmt: skip


@pytest.fixture
def carol(fabrikam: Tenant) -> User:
    """Customer.Admin of Fabrikam and Owner of its subscription, but not a JIT approver."""
    return make_person(fabrikam, CAROL, "Carol Chen", Role.CUSTOMER_ADMIN)


@pytest.fixture
def signed_in(azure: EmulatorServer, settings: Settings) -> Callable[[User], User]:
    settings.ARM_POLLING_INTERVAL = 0
    return lambda user: sign_in(azure, user)


@pytest.fixture(autouse=True)
def eager_tasks() -> Iterator[None]:
    """Queued tasks run in-process when their on-commit callback runs, as a worker would."""
    from portal.celery import app

    before = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = before
