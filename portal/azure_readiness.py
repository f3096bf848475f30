"""What `manage.py check_azure` proves: the configuration, then each capability the portal needs
from Azure, tried once and harmlessly (reads only), with what to fix when one fails.

Nothing here writes to Azure. Creating a jitRequest is proved by the rights of the publisher's
people at the configured scope (a real PUT would ask a customer for a decision); the approval
channel of each customer tenant by looking for the PIM approval behind a pending request.
"""

from __future__ import annotations

import fnmatch
import functools
import json
import ssl
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from accounts.models import Role, Side, Tenant, User
from azure_gateway import (
    AzureError,
    AzureGateway,
    app_token_expiry,
    publisher_gateway,
    tenant_gateway,
)
from deployments.models import ManagedApplication
from jit.mirror import publisher_scope
from jit.models import JitRequest, State

JIT_WRITE = "Microsoft.Solutions/jitRequests/write"
JIT_READ = "Microsoft.Solutions/jitRequests/read"


@dataclass(frozen=True)
class Finding:
    check: str
    where: str
    ok: bool
    detail: str  # what was seen when OK; what to fix when not


def _allows(actions: tuple[str, ...], not_actions: tuple[str, ...], action: str) -> bool:
    def matches(pattern: str) -> bool:
        return fnmatch.fnmatchcase(action.lower(), pattern.lower())

    return any(map(matches, actions)) and not any(map(matches, not_actions))


def _application_count(gateway: AzureGateway, subscription: str) -> str:
    return f"{len(list(gateway.list_managed_apps(subscription)))} applications"


def _attempt(check: str, where: str, probe: Callable[[], str], fix: str) -> Finding:
    """Run one probe; an Azure error becomes a finding that names ARM's code and the fix."""
    try:
        return Finding(check, where, True, probe())
    except AzureError as exc:
        code = exc.code or type(exc).__name__
        return Finding(check, where, False, f"{code}: {exc.message[:300]} Fix: {fix}")


# Configuration ----------------------------------------------------------------------------------


def configuration() -> Iterator[Finding]:
    yield Finding("Azure cloud", "settings", True, f"{settings.AZURE_CLOUD} ({settings.ARM_URL})")
    for name in ("ENTRA_CLIENT_ID", "PUBLISHER_TENANT_ID", "PUBLISHER_CLIENT_ID"):
        value = str(getattr(settings, name) or "")
        yield Finding(
            name, "settings", bool(value), value or f"Set {name} (see docs/entra-setup.md)."
        )
    for name in ("ENTRA_CLIENT_SECRET", "PUBLISHER_CLIENT_SECRET"):
        present = bool(getattr(settings, name))
        yield Finding(
            name,
            "settings",
            present,
            "set (not shown)" if present else f"Set {name} or {name}_FILE.",
        )
    scope = str(settings.PUBLISHER_JIT_SCOPE or "")
    yield Finding(
        "PUBLISHER_JIT_SCOPE",
        "settings",
        bool(scope),
        scope or "Set it to the resource group where the publisher's people create requests.",
    )
    bundle = settings.AZURE_CA_BUNDLE
    if bundle:
        yield Finding(
            "AZURE_CA_BUNDLE",
            "settings",
            Path(bundle).is_file(),
            bundle if Path(bundle).is_file() else f"{bundle} does not exist.",
        )
    webhook = bool(settings.MARKETPLACE_WEBHOOK_SECRET)
    yield Finding(
        "MARKETPLACE_WEBHOOK_SECRET",
        "settings",
        webhook,
        "set (not shown)" if webhook else "Set it, or marketplace notifications stay off.",
    )


def sign_in_metadata() -> Finding:
    url = f"{settings.ENTRA_LOGIN_URL.rstrip('/')}/organizations/v2.0/.well-known/openid-configuration"
    context = None
    if settings.AZURE_CA_BUNDLE:
        context = ssl.create_default_context(cafile=settings.AZURE_CA_BUNDLE)
    try:
        with urllib.request.urlopen(url, timeout=10, context=context) as response:
            metadata = json.loads(response.read())
    except (OSError, ValueError) as exc:
        return Finding("Sign-in metadata", url, False, f"{exc}. Fix: check ENTRA_LOGIN_URL.")
    endpoint = str(metadata.get("token_endpoint", ""))
    return Finding("Sign-in metadata", url, bool(endpoint), endpoint or "no token_endpoint")


# The publisher side -----------------------------------------------------------------------------


def _publisher_people() -> list[User]:
    return list(
        User.objects.filter(
            memberships__tenant__side=Side.PUBLISHER,
            memberships__role__in=[Role.PUBLISHER_ADMIN, Role.PUBLISHER_SUPPORT],
            entra_object_id__isnull=False,
        ).distinct()
    )


def _writers_at(gateway: AzureGateway, scope: str) -> set[str]:
    """Object ids holding a role that allows creating jitRequests at `scope` (or above)."""
    writers: set[str] = set()
    roles: dict[str, bool] = {}
    for assignment in gateway.list_role_assignments(scope):
        guid = assignment.role_definition_id
        if guid not in roles:
            definition = gateway.get_role_definition(guid)
            roles[guid] = any(
                _allows(p.actions, p.not_actions, JIT_WRITE) for p in definition.permissions
            )
        if roles[guid]:
            writers.add(assignment.principal_id.lower())
    return writers


def publisher_side() -> Iterator[Finding]:
    tenant = str(settings.PUBLISHER_TENANT_ID)
    token = _attempt(
        "Publisher app token",
        f"tenant {tenant}",
        lambda: f"expires {app_token_expiry(tenant, publisher=True):%H:%M} UTC",
        "check PUBLISHER_CLIENT_ID/SECRET and that the app exists in the publisher tenant.",
    )
    yield token
    scope = publisher_scope()
    if not token.ok:
        return
    if not scope:
        yield Finding(
            "JIT scope",
            "application resource groups",
            True,
            "requests go into each application's resource group (PUBLISHER_JIT_SCOPE=application)",
        )
        return
    with publisher_gateway() as gateway:
        listed = _attempt(
            "Read jitRequests in the JIT scope",
            scope,
            lambda: f"{len(gateway.list_jit_requests_at(scope))} requests listed",
            f"give the publisher's automation app a role with {JIT_READ} (e.g. Reader) there.",
        )
        yield listed
        if not listed.ok:
            return
        try:
            writers = _writers_at(gateway, scope)
        except AzureError as exc:
            yield Finding(
                "Create jitRequests in the JIT scope",
                scope,
                False,
                f"{exc.code}: cannot read the role assignments there. Fix: give the "
                "automation app Reader on the scope.",
            )
            return
    people = _publisher_people()
    if not people:
        yield Finding(
            "Create jitRequests in the JIT scope",
            scope,
            True,
            "no publisher people have signed in yet; check again after they do",
        )
    for person in people:
        may = str(person.entra_object_id).lower() in writers
        yield Finding(
            "Create jitRequests in the JIT scope",
            f"{person} at {scope}",
            may,
            "a role allowing it is assigned (directly; group membership is not checked)"
            if may
            else f"assign this person a role with {JIT_WRITE} (e.g. Contributor) on {scope}.",
        )


# Each customer tenant ---------------------------------------------------------------------------


def _pim_link_seen(gateway: AzureGateway, tenant: Tenant) -> str | None:
    """The PIM schedule request behind a pending request of this tenant, if Azure shows one."""
    pending = JitRequest.objects.filter(
        application__customer_tenant=tenant, state=State.PENDING
    ).select_related("application")[:5]
    for jit in pending:
        scope = jit.application.managed_resource_group_id
        if not scope:
            continue
        for entry in gateway.list_access_requests(scope):
            linked = entry.ticket_number.lower() == jit.name.lower() or jit.arm_id.lower() in (
                entry.justification.lower()
            )
            if linked and entry.approval_id:
                return f"{jit.name} -> approval {entry.approval_id}"
    return None


def customer_tenant(tenant: Tenant, *, save_channel: bool = False) -> Iterator[Finding]:
    where = f"{tenant} ({tenant.entra_tenant_id})"
    token = _attempt(
        "Portal token",
        where,
        lambda: f"expires {app_token_expiry(str(tenant.entra_tenant_id)):%H:%M} UTC",
        "an administrator of this tenant must consent to the portal's app (docs/entra-setup.md).",
    )
    yield token
    if not token.ok:
        return
    with tenant_gateway(str(tenant.entra_tenant_id)) as gateway:
        subscriptions: list[str] = []

        def read_subscriptions() -> str:
            subscriptions.extend(s.subscription_id for s in gateway.list_subscriptions())
            return f"{len(subscriptions)} subscriptions"

        fix = "give the portal's service principal Reader on the customer's subscriptions."
        listed = _attempt("Read subscriptions", where, read_subscriptions, fix)
        if listed.ok and not subscriptions:
            listed = Finding("Read subscriptions", where, False, f"none visible. Fix: {fix}")
        yield listed
        for subscription in subscriptions:
            yield _attempt(
                "Read managed applications",
                f"subscription {subscription}",
                functools.partial(_application_count, gateway, subscription),
                "give the portal's service principal Reader on this subscription.",
            )
        app = (
            ManagedApplication.objects.present()
            .filter(customer_tenant=tenant)
            .exclude(managed_resource_group_id="")
            .first()
        )
        if app is not None:
            mrg = app.managed_resource_group_id
            yield _attempt(
                "Read role assignments",
                mrg,
                lambda: f"{len(list(gateway.list_role_assignments(mrg)))} role assignments",
                "Reader on the subscription covers it; check the portal's role there.",
            )
            yield _attempt(
                "Read deny assignments",
                mrg,
                lambda: f"{len(gateway.list_deny_assignments(mrg))} deny assignments",
                "Reader on the subscription covers it; check the portal's role there.",
            )
        try:
            link = _pim_link_seen(gateway, tenant)
        except AzureError:
            link = None
    channel = Tenant.ApprovalChannel.PIM if link else Tenant.ApprovalChannel.HANDOFF
    yield Finding(
        "Approval channel",
        where,
        True,
        f"in-portal (PIM approval found: {link})"
        if link
        else "hand-off: decisions are made in the Azure portal (no PIM approval is linked to "
        "this tenant's pending requests)",
    )
    if save_channel:
        Tenant.objects.filter(pk=tenant.pk).update(
            approval_channel=channel, approval_channel_checked_at=timezone.now()
        )


def everything(
    *, tenant_ids: list[str] | None = None, save_channels: bool = False
) -> Iterator[Finding]:
    yield from configuration()
    yield sign_in_metadata()
    yield from publisher_side()
    tenants = Tenant.objects.filter(side=Side.CUSTOMER, state=Tenant.State.ALLOWED)
    if tenant_ids:
        tenants = tenants.filter(entra_tenant_id__in=tenant_ids)
    for tenant in tenants.order_by("display_name"):
        yield from customer_tenant(tenant, save_channel=save_channels)
