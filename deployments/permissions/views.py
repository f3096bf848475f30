"""Permission X-ray pages: who may do what in an application or offer, and what changed."""

from __future__ import annotations

from django import forms
from django.core.paginator import Paginator
from django.db.models import F
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, render

from accounts import scoping
from accounts.decorators import portal_access_required
from deployments.models import ManagedApplication, Offer, PermissionChangeEvent
from deployments.permissions import pages
from portal.types import AuthedRequest


@portal_access_required
def app(request: AuthedRequest, pk: int) -> HttpResponse:
    application = get_object_or_404(
        ManagedApplication.objects.visible_to(request.user).select_related(
            "offer", "customer_tenant"
        ),
        pk=pk,
    )
    context = pages.app_page(application=application, user=request.user)
    return render(request, "permissions/app_permissions.html", context)


@portal_access_required
def offer(request: AuthedRequest, pk: int) -> HttpResponse:
    found = get_object_or_404(Offer.objects.visible_to(request.user), pk=pk)
    context = pages.offer_page(offer=found, user=request.user)
    return render(request, "permissions/offer_permissions.html", context)


class ChangesFilterForm(forms.Form):
    """Filter of the changes feed. The customer is searched by name (or Entra tenant id), not
    picked from a menu: a publisher may have thousands. `tenant` is the parameter the earlier
    menu used, so old links still open the feed; a number in it is now searched as text."""

    tenant = forms.CharField(label="Customer", required=False, max_length=200)


@portal_access_required
def changes(request: AuthedRequest) -> HttpResponse:
    events = PermissionChangeEvent.objects.visible_to(request.user).select_related(
        "application", "customer_tenant"
    )
    form = ChangesFilterForm(request.GET)
    text = form.cleaned_data["tenant"] if form.is_valid() else ""
    if text:
        events = events.filter(scoping.tenant_named(text, "customer_tenant__"))
    page = Paginator(events, 50).get_page(request.GET.get("page"))
    return render(
        request,
        "permissions/changes.html",
        {
            "page": page,
            "form": form,
            "several": ManagedApplication.objects.visible_to(request.user).span_several_tenants(),
            "filtered": bool(text),
        },
    )


@portal_access_required
def overview(request: AuthedRequest) -> HttpResponse:
    by_name = request.GET.get("order") == "name"
    applications = (
        ManagedApplication.objects.visible_to(request.user)
        .present()
        .select_related("offer", "customer_tenant")
        .order_by(
            *(() if by_name else (F("permission_snapshot__risk_score").desc(nulls_last=True),)),
            "customer_tenant__display_name",
            "name",
            "pk",
        )
    )
    page = Paginator(applications, 50).get_page(request.GET.get("page"))
    rows = pages.overview_rows(applications=page.object_list, user=request.user)
    is_publisher = scoping.publisher_tenants_of(request.user).exists()
    return render(
        request,
        "permissions/overview.html",
        {
            "page": page,
            "rows": rows,
            "is_publisher": is_publisher,
            "order": "name" if by_name else "risk",
        },
    )
