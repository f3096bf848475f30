"""Reads that build whole JIT pages."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from accounts import scoping
from accounts.models import Role, Tenant, User
from azure_gateway.records import JitApprover
from deployments.models import ManagedApplication
from jit import handoff
from jit.models import AuditEvent, JitRequest, Operation, ScopeListing, State


def requestable_apps(user: User) -> QuerySet[ManagedApplication]:
    """JIT-enabled apps of the person's publisher offers, where they may ask for elevation."""
    return (
        ManagedApplication.objects.present()
        .filter(jit_enabled=True, offer__publisher_tenant__in=scoping.publisher_tenants_of(user))
        .select_related("customer_tenant")
        .order_by("customer_tenant__display_name", "name")
    )


def requestable_menu(user: User, limit: int) -> list[ManagedApplication]:
    """The requestable apps for a menu, by customer and name, or `limit + 1` of them in no
    particular order when there are more than `limit` (too many for a menu).

    Read unsorted, with the publisher tenants' ids written into the query, so the database stops
    after `limit + 1` rows however large the fleet."""
    publishers = list(scoping.publisher_tenants_of(user).values_list("pk", flat=True))
    if not publishers:
        return []
    query = requestable_apps(user).filter(offer__publisher_tenant__in=publishers).order_by()
    apps = list(query[: limit + 1])
    if len(apps) > limit:
        return apps
    return sorted(apps, key=lambda app: (str(app.customer_tenant).lower(), app.name.lower()))


def policy_apps(user: User) -> QuerySet[ManagedApplication]:
    """Apps whose JIT policy the person may read: the customer's side only."""
    return ManagedApplication.objects.filter(
        customer_tenant__in=scoping.customer_tenants_of(user)
    ).select_related("customer_tenant", "offer")


def policy_editable_apps(user: User) -> QuerySet[ManagedApplication]:
    """Apps whose JIT policy and approval windows the person may change: admins of the customer
    tenant."""
    return ManagedApplication.objects.filter(
        customer_tenant__in=scoping.administered_tenants_of(user)
    ).select_related("customer_tenant", "offer")


def request_rows(
    user: User, *, customer: str = "", state: str = "", requester: str = ""
) -> QuerySet[JitRequest]:
    """The requests the person may see, newest first; `customer` is searched by name."""
    rows = JitRequest.objects.visible_to(user).select_related(
        "application", "application__customer_tenant"
    )
    if customer:
        rows = rows.filter(scoping.tenant_named(customer, "application__customer_tenant__"))
    if state:
        rows = rows.filter(state=state)
    if requester:
        rows = rows.filter(requester_name__icontains=requester)
    return rows


# The scope is listed every minute (jit/schedule.py); a listing older than this has been missed.
LISTING_STALE_AFTER = dt.timedelta(minutes=5)


@dataclass(frozen=True)
class Freshness:
    listed_at: dt.datetime | None
    is_stale: bool


def requests_freshness(scope: str) -> Freshness | None:
    """How old the mirrored states of the requests in the publisher's JIT scope are; None when
    requests live with each customer (their age is each tenant's last sync)."""
    if not scope:
        return None
    listing = ScopeListing.objects.filter(scope=scope.rstrip("/").lower()).first()
    if listing is None:
        return Freshness(listed_at=None, is_stale=True)
    return Freshness(
        listed_at=listing.listed_at,
        is_stale=listing.listed_at < timezone.now() - LISTING_STALE_AFTER,
    )


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
        "handoff": jit.application.customer_tenant.approval_channel != Tenant.ApprovalChannel.PIM,
        "azure_url": handoff.azure_decision_url(jit),
        "waiting_for_azure": bool(jit.handoff_decision) and jit.state == State.PENDING,
        "activities": jit.activities.all(),
        "events": jit.audit_events.select_related("actor").order_by("at", "pk"),
    }


def past_elevations(jit: JitRequest) -> QuerySet[JitRequest]:
    """The same principal's other requests on this application, newest first."""
    return (
        JitRequest.objects.filter(application=jit.application, principal_id=jit.principal_id)
        .exclude(pk=jit.pk)
        .order_by("-created_at")[:10]
    )


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
    user: User, *, application: str = "", tenant: str = "", action: str = ""
) -> QuerySet[AuditEvent]:
    """The audit events the person may see, newest first; application and customer are searched
    by name."""
    rows = AuditEvent.objects.visible_to(user).select_related(
        "tenant", "application", "jit_request"
    )
    if application:
        rows = rows.filter(application__name__icontains=application)
    if tenant:
        rows = rows.filter(scoping.tenant_named(tenant, "tenant__"))
    if action:
        rows = rows.filter(action=action)
    return rows


def inbox_count(user: User) -> int:
    return JitRequest.objects.decidable_by(user).count()
