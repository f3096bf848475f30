"""Helpers for the admin tests: an operator signed in to the admin, one row of every model the
portal registers, and running a changelist action as the admin's form posts it."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib.admin import helpers
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.messages import get_messages
from django.db.models import Model
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts import crypto
from accounts.models import EntraCredential, Tenant, User
from deployments.models import (
    Elevation,
    ManagedResource,
    MarketplaceEvent,
    PermissionChangeEvent,
    PermissionSnapshot,
    RoleDefinition,
    Subscription,
    SyncRun,
)
from jit.models import AuditEvent, ElevationActivity, Operation
from tests.deployments.conftest import make_app, make_jit_request, make_offer, make_run

REFRESH_TOKEN = "refresh-token-that-must-never-be-shown"
ARM_TOKEN = "arm-token-that-must-never-be-shown"


def make_operator(*, superuser: bool = True, username: str = "operator") -> User:
    return User.objects.create_user(
        username=username,
        password="operator-password",
        is_staff=True,
        is_superuser=superuser,
        display_name="Olga Operator",
    )


def signed_in_client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def changelist_url(model: type[Model]) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")


def run_action(
    client: Client, model: type[Model], action: str, objects: list[Any]
) -> tuple[int, list[str]]:
    """Post the changelist's action form; (status code, the messages the action left)."""
    response = client.post(
        changelist_url(model),
        {"action": action, helpers.ACTION_CHECKBOX_NAME: [obj.pk for obj in objects], "index": 0},
    )
    return response.status_code, [str(m) for m in get_messages(response.wsgi_request)]


def logged(description: str) -> list[str]:
    """The object ids of the admin log entries an action wrote, sorted."""
    entries = LogEntry.objects.filter(action_flag=CHANGE, change_message=f"Action: {description}")
    return sorted(str(entry.object_id) for entry in entries)


def fill_every_model(publisher: Tenant, customer: Tenant, person: User) -> None:
    """One row of each model accounts, deployments and jit register (people and tenants come
    from the fixtures), with text the changelist search can find."""
    offer = make_offer(publisher)
    app = make_app(customer, offer, "analytics", jit_enabled=True)
    ManagedResource.objects.create(
        application=app,
        arm_id=f"{app.managed_resource_group_id}/providers/Microsoft.Storage/storageAccounts/st1",
        name="st1",
        type="Microsoft.Storage/storageAccounts",
    )
    Subscription.objects.create(
        subscription_id=app.subscription_id, tenant=customer, display_name="Fabrikam prod"
    )
    make_run(customer, rows_created=3)
    make_run(customer, SyncRun.State.FAILED, ago=dt.timedelta(minutes=1), error="Forbidden: no")
    MarketplaceEvent.objects.create(
        application_arm_id=app.arm_id,
        event_type="PUT",
        provisioning_state="Succeeded",
        event_time=timezone.now(),
        outcome=MarketplaceEvent.Outcome.QUEUED,
        customer_tenant=customer,
        payload={"eventType": "PUT"},
    )
    RoleDefinition.objects.create(guid="b24988ac", name="Contributor", role_type="BuiltInRole")
    PermissionSnapshot.objects.create(application=app, state={"roles": []})
    Elevation.objects.create(
        application=app,
        arm_id=f"{app.arm_id}/jitRequests/e1",
        principal_id="5c1e2f7a",
        role_definition_id="b24988ac",
        state="Approved",
        start=timezone.now(),
        end=timezone.now() + dt.timedelta(hours=1),
    )
    PermissionChangeEvent.objects.create(
        application=app, customer_tenant=customer, aspects=["roles"], lines=["Roles changed"]
    )
    jit = make_jit_request(app)
    Operation.objects.create(
        kind=Operation.Kind.CREATE,
        jit_request=jit,
        application=app,
        by=person,
        status=Operation.Status.FAILED,
        error_code="Forbidden",
    )
    AuditEvent.objects.create(
        action=AuditEvent.Action.SUBMITTED,
        actor=person,
        actor_name=str(person),
        tenant=customer,
        application=app,
        jit_request=jit,
    )
    ElevationActivity.objects.create(
        jit_request=jit, event_id="ev1", at=timezone.now(), operation="Microsoft.Compute/read"
    )
    EntraCredential.objects.create(
        user=person,
        refresh_token_encrypted=crypto.encrypt(REFRESH_TOKEN),
        arm_token_encrypted=crypto.encrypt(ARM_TOKEN),
        arm_token_expires_at=timezone.now() + dt.timedelta(hours=1),
    )
