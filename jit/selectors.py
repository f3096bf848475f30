"""Reads that build whole JIT pages."""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet
from django.utils import timezone

from accounts import scoping
from accounts.models import Role, User
from deployments.models import ManagedApplication
from jit.models import AuditEvent, ElevationActivity, JitRequest, Operation
from portal.azure.records import JitApprover


def requestable_apps(user: User) -> QuerySet[ManagedApplication]:
    """JIT-enabled apps of the person's publisher offers, where they may ask for elevation."""
    return (
        ManagedApplication.objects.present()
        .filter(jit_enabled=True, offer__publisher_tenant__in=scoping.publisher_tenants_of(user))
        .select_related("customer_tenant")
        .order_by("customer_tenant__display_name", "name")
    )


def policy_apps(user: User) -> QuerySet[ManagedApplication]:
    """Apps whose JIT policy the person may read: the customer's side only."""
    return ManagedApplication.objects.filter(
        customer_tenant__in=scoping.customer_tenants_of(user)
    ).select_related("customer_tenant", "offer")


def request_rows(
    user: User, *, customer: Any = None, state: str = "", requester: str = ""
) -> QuerySet[JitRequest]:
    rows = JitRequest.objects.visible_to(user).select_related(
        "application", "application__customer_tenant"
    )
    if customer is not None:
        rows = rows.filter(application__customer_tenant=customer)
    if state:
        rows = rows.filter(state=state)
    if requester:
        rows = rows.filter(requester_name__icontains=requester)
    return rows


def request_page(jit: JitRequest, user: User) -> dict[str, Any]:
    """Everything the request page shows, with what this person may do."""
    operations = list(jit.operations.select_related("by").order_by("-created_at"))
    submitting = [op for op in operations if op.is_submitting]
    failures = [op for op in operations if op.status == Operation.Status.FAILED]
    can_decide = JitRequest.objects.decidable_by(user).filter(pk=jit.pk).exists()
    return {
        "jit": jit,
        "app": jit.application,
        "now": timezone.now(),
        "submitting": submitting,
        "last_failure": failures[0] if failures and not submitting else None,
        "can_decide": can_decide and not submitting,
        "can_cancel": not submitting
        and JitRequest.objects.cancelable_by(user).filter(pk=jit.pk).exists(),
        "can_revoke": not submitting
        and JitRequest.objects.revocable_by(user).filter(pk=jit.pk).exists(),
        "is_customer": scoping.customer_tenants_of(user)
        .filter(pk=jit.application.customer_tenant_id)
        .exists(),
    }


def past_elevations(jit: JitRequest) -> QuerySet[JitRequest]:
    """The same principal's other requests on this application, newest first."""
    return (
        JitRequest.objects.filter(application=jit.application, principal_id=jit.principal_id)
        .exclude(pk=jit.pk)
        .order_by("-created_at")[:10]
    )


def activities(jit: JitRequest) -> QuerySet[ElevationActivity]:
    return jit.activities.all()


def approver_candidates(app: ManagedApplication) -> list[JitApprover]:
    """Current approvers plus the tenant's admins known to the portal, picked by name."""
    found = {
        str(a.get("id", "")).lower(): JitApprover(
            id=str(a.get("id", "")),
            type=str(a.get("type", "user")).lower(),
            display_name=str(a.get("displayName", "")) or str(a.get("id", "")),
        )
        for a in app.jit_approvers or []
    }
    admins = User.objects.filter(
        memberships__tenant=app.customer_tenant,
        memberships__role=Role.CUSTOMER_ADMIN,
        entra_object_id__isnull=False,
    ).order_by("display_name")
    for user in admins:
        key = str(user.entra_object_id).lower()
        found.setdefault(key, JitApprover(id=key, type="user", display_name=str(user)))
    return sorted(found.values(), key=lambda a: (a.type, a.display_name.lower()))


def audit_rows(
    user: User, *, application: Any = None, tenant: Any = None, action: str = ""
) -> QuerySet[AuditEvent]:
    rows = AuditEvent.objects.visible_to(user).select_related(
        "tenant", "application", "jit_request"
    )
    if application is not None:
        rows = rows.filter(application=application)
    if tenant is not None:
        rows = rows.filter(tenant=tenant)
    if action:
        rows = rows.filter(action=action)
    return rows


def audit_scope(user: User) -> tuple[QuerySet[ManagedApplication], Any]:
    """The applications and customer tenants the audit filters offer."""
    apps = ManagedApplication.objects.visible_to(user).filter(
        Q(jit_enabled=True) | Q(jit_audit_events__isnull=False)
    )
    apps = ManagedApplication.objects.filter(pk__in=apps.values("pk")).select_related(
        "customer_tenant"
    )
    from accounts.models import Tenant

    tenants = Tenant.objects.filter(pk__in=apps.values("customer_tenant")).order_by("display_name")
    return apps.order_by("name"), tenants


def inbox_count(user: User) -> int:
    return JitRequest.objects.decidable_by(user).count()
