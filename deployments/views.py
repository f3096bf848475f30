"""Pages of the ARM mirror: customers' applications, publishers' customers and fleet, the catalog,
and the "Refresh now" button with its self-polling status fragment.

Every view starts from a `visible_to(user)` queryset (through `selectors`), so another tenant's
object answers 404. An htmx request for a list's fragment gets just that fragment; the full page
includes the same template, so both render identically.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib import messages
from django.core.paginator import Page, Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from accounts import scoping
from accounts.decorators import portal_access_required
from accounts.models import Tenant
from deployments import runs, selectors
from deployments.forms import AppListForm, CustomerListForm
from deployments.models import ManagedApplication, Offer, SyncRun
from jit import selectors as jit_selectors
from portal.types import AuthedRequest

if TYPE_CHECKING:
    from django.db.models import QuerySet

    from accounts.models import User


PAGE_SIZE = 25


def _page(request: HttpRequest, rows: QuerySet[Any], size: int = PAGE_SIZE) -> Page[Any]:
    return Paginator(rows, size).get_page(request.GET.get("page"))


def _pick(request: AuthedRequest, fragment: str, page: str) -> str:
    """The fragment when htmx asks to swap it, the whole page otherwise."""
    if request.htmx and request.htmx.target == fragment:
        return f"deployments/partials/{fragment}.html"
    return f"deployments/{page}.html"


@portal_access_required
@require_GET
def my_apps(request: AuthedRequest) -> HttpResponse:
    tenants = scoping.customer_tenants_of(request.user)
    if not tenants.exists():
        raise Http404("My applications lists a customer tenant's applications.")
    form = AppListForm(request.GET)
    rows = selectors.my_app_rows(request.user, search=form.value("q"), sort=form.value("sort"))
    context = {
        "form": form,
        "sort": form.value("sort") or "name",
        "page": _page(request, rows),
        "statuses": selectors.sync_statuses(request.user, tenants),
        "show_customer": tenants.count() > 1,
    }
    return render(request, _pick(request, "app_list", "app_list"), context)


@portal_access_required
@require_GET
def app_detail(request: AuthedRequest, pk: int) -> HttpResponse:
    app = get_object_or_404(
        ManagedApplication.objects.visible_to(request.user).select_related(
            "offer", "offer__publisher_tenant", "customer_tenant"
        ),
        pk=pk,
    )
    tenant = Tenant.objects.filter(pk=app.customer_tenant_id)
    context = {
        "app": app,
        "resources": selectors.app_resources(app),
        "parameters": selectors.template_values(app.parameters),
        "outputs": selectors.template_values(app.outputs),
        "status": selectors.sync_statuses(request.user, tenant)[0],
        "publisher_view": selectors.is_publisher_of(request.user, app),
        "pending_requests": selectors.pending_request_count(app),
        "azure_portal_url": selectors.azure_portal_url(app),
        "can_request_jit": jit_selectors.requestable_apps(request.user).filter(pk=app.pk).exists(),
        "shows_jit_policy": app.jit_enabled
        and jit_selectors.policy_apps(request.user).filter(pk=app.pk).exists(),
    }
    return render(request, "deployments/app_detail.html", context)


@portal_access_required
@require_GET
def customers(request: AuthedRequest) -> HttpResponse:
    publisher_ids = list(scoping.publisher_tenants_of(request.user).values_list("pk", flat=True))
    if not publisher_ids:
        raise Http404("Customers lists the customers of a publisher's offers.")
    offers = selectors.publisher_offers(request.user)
    menu = list(offers)  # the form checks a chosen offer against `offers`; the page lists `menu`
    form = CustomerListForm(request.GET, offers=offers, plans=selectors.plans_of(menu))
    filters = form.filters()
    page = _page(request, selectors.customer_rows(publisher_ids, **filters))
    page.object_list = selectors.with_app_counts(
        list(page.object_list),
        publisher_ids,
        offer=filters["offer"],
        plan=filters["plan"],
        state=filters["state"],
    )
    context = {
        "form": form,
        "sort": form.value("sort") or "name",
        "page": page,
        "purchases": selectors.recent_purchases(request.user),
        "offers": menu,
    }
    return render(request, _pick(request, "customer_list", "customer_list"), context)


@portal_access_required
@require_GET
def customer_detail(request: AuthedRequest, pk: int) -> HttpResponse:
    tenant = get_object_or_404(selectors.publisher_customers(request.user), pk=pk)
    form = AppListForm(request.GET)
    rows = selectors.tenant_app_rows(
        request.user, tenant, search=form.value("q"), sort=form.value("sort")
    )
    context = {
        "tenant": tenant,
        "form": form,
        "sort": form.value("sort") or "name",
        "page": _page(request, rows),
        "status": selectors.sync_statuses(request.user, Tenant.objects.filter(pk=pk))[0],
        "show_customer": False,
    }
    return render(request, _pick(request, "app_list", "customer_detail"), context)


@portal_access_required
@require_GET
def fleet(request: AuthedRequest) -> HttpResponse:
    if not scoping.publisher_tenants_of(request.user).exists():
        raise Http404("The fleet view covers a publisher's offers.")
    page = _page(request, selectors.fleet_rows(request.user), size=100)
    return render(request, "deployments/offer_fleet.html", {"page": page})


@portal_access_required
@require_GET
def catalog(request: AuthedRequest) -> HttpResponse:
    page = _page(request, selectors.catalog_rows(request.user), size=100)
    return render(request, "deployments/offer_list.html", {"page": page})


@portal_access_required
@require_GET
def offer_detail(request: AuthedRequest, pk: int) -> HttpResponse:
    offer = get_object_or_404(
        Offer.objects.visible_to(request.user).select_related("publisher_tenant"), pk=pk
    )
    installs = (
        ManagedApplication.objects.visible_to(request.user)
        .present()
        .filter(offer=offer)
        .select_related("customer_tenant")
    )
    context = {
        "offer": offer,
        "authorizations": selectors.authorization_rows(offer),
        "installs": installs[:20],
        "install_count": installs.count(),
        "show_customers_link": offer.publisher_tenant_id is not None
        and scoping.publisher_tenants_of(request.user)
        .filter(pk=offer.publisher_tenant_id)
        .exists(),
    }
    return render(request, "deployments/offer_detail.html", context)


@portal_access_required
@require_POST
def refresh(request: AuthedRequest, tenant_pk: int) -> HttpResponse:
    """Queue a sync of one tenant. Readers may refresh too: it only re-reads Azure."""
    tenant = get_object_or_404(selectors.refreshable_tenants(request.user), pk=tenant_pk)
    run = runs.queue_tenant_sync(tenant=tenant)
    if request.htmx:
        status = selectors.sync_status_for_run(request.user, run)
        return render(request, "deployments/partials/sync_status.html", {"status": status})
    messages.info(request, f"A refresh of {tenant} from Azure is under way.")
    back = request.POST.get("next", "")
    # A path on this site only; redirect() would take a bare word such as "0" for a view name.
    if back.startswith("/") and url_has_allowed_host_and_scheme(
        back, allowed_hosts={request.get_host()}
    ):
        return HttpResponseRedirect(back)
    return redirect("deployments:sync_status", pk=run.pk)


@portal_access_required
@require_GET
def sync_status(request: AuthedRequest, pk: int) -> HttpResponse:
    run = get_object_or_404(SyncRun.objects.visible_to(request.user), pk=pk)
    status = selectors.sync_status_for_run(request.user, run)
    template = (
        "deployments/partials/sync_status.html"
        if request.htmx
        else "deployments/syncrun_detail.html"
    )
    context = {"status": status, "polled": True, "back": _tenant_page(request.user, run.tenant)}
    return render(request, template, context)


def _tenant_page(user: User, tenant: Tenant) -> tuple[str, str]:
    """Where the person usually sees this tenant's applications, for a "back" link."""
    if scoping.customer_tenants_of(user).filter(pk=tenant.pk).exists():
        return reverse("deployments:my_apps"), "My applications"
    return reverse("deployments:customer_detail", args=[tenant.pk]), str(tenant)
