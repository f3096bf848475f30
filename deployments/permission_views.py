"""Permission X-ray pages: who may do what in an application or offer, and what changed."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from accounts import scoping
from accounts.decorators import portal_access_required
from accounts.models import Tenant
from deployments import permissions
from deployments.models import ManagedApplication, Offer, PermissionChangeEvent


@portal_access_required
def app(request: HttpRequest, pk: int) -> HttpResponse:
    application = get_object_or_404(
        ManagedApplication.objects.visible_to(request.user).select_related(
            "offer", "customer_tenant"
        ),
        pk=pk,
    )
    context = permissions.app_page(application=application, user=request.user)  # type: ignore[arg-type]
    return render(request, "permissions/app_permissions.html", context)


@portal_access_required
def offer(request: HttpRequest, pk: int) -> HttpResponse:
    found = get_object_or_404(Offer.objects.visible_to(request.user), pk=pk)
    context = permissions.offer_page(offer=found, user=request.user)  # type: ignore[arg-type]
    return render(request, "permissions/offer_permissions.html", context)


@portal_access_required
def changes(request: HttpRequest) -> HttpResponse:
    events = PermissionChangeEvent.objects.visible_to(request.user).select_related(
        "application", "customer_tenant"
    )
    tenants = Tenant.objects.filter(
        applications__in=ManagedApplication.objects.visible_to(request.user)
    ).distinct()
    chosen = request.GET.get("tenant", "")
    if chosen.isdigit():
        events = events.filter(customer_tenant_id=int(chosen))
    page = Paginator(events, 50).get_page(request.GET.get("page"))
    return render(
        request,
        "permissions/changes.html",
        {"page": page, "tenants": tenants, "chosen": chosen},
    )


@portal_access_required
def overview(request: HttpRequest) -> HttpResponse:
    applications = (
        ManagedApplication.objects.visible_to(request.user)
        .present()
        .select_related("offer", "customer_tenant")
        .order_by("customer_tenant__display_name", "name")
    )
    page = Paginator(applications, 50).get_page(request.GET.get("page"))
    rows = permissions.overview_rows(applications=page.object_list, user=request.user)  # type: ignore[arg-type]
    is_publisher = scoping.publisher_tenants_of(request.user).exists()
    return render(
        request,
        "permissions/overview.html",
        {"page": page, "rows": rows, "is_publisher": is_publisher},
    )
