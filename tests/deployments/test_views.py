"""The deployments pages for each role: alice (Customer.Admin) and bob (Customer.Reader) of Fabrikam,
charlie of Northwind (another customer), pat (Publisher.Support of Contoso)."""

import datetime as dt
import re
import uuid
from typing import TypedDict

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import Side, Tenant, User
from deployments.models import ManagedApplication, Offer, SyncRun
from tests.conftest import make_person, make_tenant
from tests.deployments.conftest import make_app, make_jit_request, make_offer, make_run
from tests.responses import ClientResponse


class _Htmx(TypedDict):
    HTTP_HX_REQUEST: str


HTMX: _Htmx = {"HTTP_HX_REQUEST": "true"}


def page_of(response: ClientResponse) -> str:
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def row_of(page: str, marker: str) -> str:
    """The rest of the table row where marker appears."""
    start = page.index(marker)
    return page[start : page.index("</tr>", start)]


def post_forms(page: str) -> list[str]:
    """The actions (URLs of POST forms) a page offers, apart from signing out."""
    actions = re.findall(r'<form method="post" action="([^"]+)"', page)
    return [a for a in actions if "logout" not in a]


def assert_sign_in_required(client: Client, url: str, method: str = "get") -> None:
    response = getattr(client, method)(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/auth/login/")


@pytest.fixture
def tailspin_app(northwind: Tenant) -> ManagedApplication:
    """An application of another publisher's offer, in Northwind."""
    tailspin = make_tenant(uuid.uuid4(), "Tailspin Toys", Side.PUBLISHER)
    offer = make_offer(tailspin, name="Tailspin Backup", plan="basic")
    return make_app(northwind, offer, "backup", sub="99999999-1111-2222-3333-444444444444")


# My applications ----------------------------------------------------------------------------------


def test_my_apps_lists_state_offer_jit_and_last_confirmation(
    client: Client, alice: User, fabrikam_app: ManagedApplication, fabrikam_synced: SyncRun
) -> None:
    client.force_login(alice)
    page = page_of(client.get(reverse("deployments:my_apps")))
    assert "analytics" in page
    assert "Contoso Software" in page  # publisher
    assert "jit-plan 1.0.0" in page
    assert '<span class="badge text-bg-success">Succeeded</span>' in page
    assert ">On</span>" in page
    assert fabrikam_synced.finished_at is not None
    assert f'datetime="{fabrikam_synced.finished_at.isoformat()}"' in page
    assert "5\xa0minutes ago" in page
    assert "Up to date." in page


def test_my_apps_shows_only_your_tenants_apps(
    client: Client,
    charlie: User,
    fabrikam_app: ManagedApplication,
    northwind_app: ManagedApplication,
) -> None:
    client.force_login(charlie)
    page = page_of(client.get(reverse("deployments:my_apps")))
    assert "northwind-analytics" in page
    assert "rg-analytics<" not in page
    assert reverse("deployments:app_detail", args=[fabrikam_app.pk]) not in page


def test_my_apps_needs_sign_in(client: Client, db: None) -> None:
    assert_sign_in_required(client, reverse("deployments:my_apps"))


def test_my_apps_is_not_found_for_people_without_a_customer_tenant(
    client: Client, pat: User
) -> None:
    client.force_login(pat)
    assert client.get(reverse("deployments:my_apps")).status_code == 404


def test_my_apps_without_apps_says_what_happens_next(client: Client, alice: User) -> None:
    client.force_login(alice)
    page = page_of(client.get(reverse("deployments:my_apps")))
    assert "No managed applications yet" in page
    assert "after the next sync" in page
    assert "has not been read from Azure yet" in page


def test_my_apps_search_sort_and_no_match(
    client: Client, alice: User, fabrikam: Tenant, offer: Offer, fabrikam_app: ManagedApplication
) -> None:
    make_app(fabrikam, offer, "billing", state="Failed")
    client.force_login(alice)
    url = reverse("deployments:my_apps")
    page = page_of(client.get(url, {"q": "bill"}))
    assert "billing" in page and ">analytics<" not in page
    page = page_of(client.get(url, {"sort": "-name"}))
    assert page.index(">billing<") < page.index(">analytics<")
    assert 'aria-sort="descending"' in page
    page = page_of(client.get(url, {"q": "nothing-like-this"}))
    assert "No application matches" in page


def test_my_apps_ignores_an_unknown_sort(
    client: Client, alice: User, fabrikam_app: ManagedApplication
) -> None:
    client.force_login(alice)
    assert "analytics" in page_of(client.get(reverse("deployments:my_apps"), {"sort": "evil"}))


def test_my_apps_paginates(client: Client, alice: User, fabrikam: Tenant, offer: Offer) -> None:
    for i in range(30):
        make_app(fabrikam, offer, f"app-{i:02d}")
    client.force_login(alice)
    url = reverse("deployments:my_apps")
    first = page_of(client.get(url))
    assert "Showing 1\u201325 of 30" in first and "Page 1 of 2" in first
    second = page_of(client.get(url, {"page": 2}))
    assert "app-29" in second and "app-00" not in second


def test_my_apps_htmx_search_returns_only_the_list_fragment(
    client: Client, alice: User, fabrikam_app: ManagedApplication
) -> None:
    client.force_login(alice)
    response = client.get(
        reverse("deployments:my_apps"), {"q": "ana"}, HTTP_HX_TARGET="app_list", **HTMX
    )
    page = page_of(response)
    assert page.lstrip().startswith('<div id="app_list">')
    assert "<html" not in page and "analytics" in page


def test_my_apps_shows_a_failed_sync_with_its_error_and_what_to_do(
    client: Client, alice: User, fabrikam_app: ManagedApplication, fabrikam: Tenant
) -> None:
    make_run(fabrikam, ago=dt.timedelta(hours=2))
    make_run(fabrikam, SyncRun.State.FAILED, error="Forbidden: the client has no authorization")
    client.force_login(alice)
    page = page_of(client.get(reverse("deployments:my_apps")))
    assert "The last refresh of Fabrikam from Azure failed" in page
    assert "Forbidden: the client has no authorization" in page
    assert "What to do:" in page
    assert "alert-danger" in page


def test_my_apps_warns_when_the_last_successful_sync_is_older_than_twice_the_schedule(
    client: Client, alice: User, fabrikam_app: ManagedApplication, fabrikam: Tenant
) -> None:
    make_run(fabrikam, ago=dt.timedelta(hours=3))
    client.force_login(alice)
    page = page_of(client.get(reverse("deployments:my_apps")))
    assert "This may be out of date." in page
    assert "3\xa0hours ago" in page
    assert "alert-warning" in page


def test_reader_sees_apps_and_may_refresh_because_refresh_only_rereads_azure(
    client: Client, bob: User, fabrikam: Tenant, fabrikam_app: ManagedApplication
) -> None:
    client.force_login(bob)
    page = page_of(client.get(reverse("deployments:my_apps")))
    assert "analytics" in page
    assert post_forms(page) == [reverse("deployments:refresh", args=[fabrikam.pk])]


# Application page ---------------------------------------------------------------------------------


def test_app_detail_shows_overview_resources_values_support_and_azure_link(
    client: Client, alice: User, fabrikam_app: ManagedApplication, fabrikam_synced: SyncRun
) -> None:
    client.force_login(alice)
    page = page_of(client.get(reverse("deployments:app_detail", args=[fabrikam_app.pk])))
    assert "mrg-analytics" in page
    assert "stanalytics" in page and "Microsoft.Storage/storageAccounts" in page
    assert "clusterSize" in page and ">3<" in page
    assert "https://analytics.contoso.example/fab" in page
    assert "support@contoso.example" in page
    azure_url = f"https://portal.azure.com/#@{fabrikam_app.customer_tenant.entra_tenant_id}/resource{fabrikam_app.arm_id}"
    assert f'href="{azure_url}"' in page
    assert "Manual approval" in page
    assert "My applications" in page  # the customer's breadcrumb


def test_app_detail_never_shows_secure_parameters(
    client: Client, alice: User, fabrikam_app: ManagedApplication
) -> None:
    fabrikam_app.parameters["adminPassword"]["value"] = "hunter2"
    fabrikam_app.save()
    client.force_login(alice)
    page = page_of(client.get(reverse("deployments:app_detail", args=[fabrikam_app.pk])))
    assert "adminPassword" in page and "Hidden (secure value)" in page
    assert "hunter2" not in page


def test_app_detail_of_another_tenant_is_not_found(
    client: Client, charlie: User, fabrikam_app: ManagedApplication
) -> None:
    client.force_login(charlie)
    assert client.get(reverse("deployments:app_detail", args=[fabrikam_app.pk])).status_code == 404


def test_app_detail_needs_sign_in(client: Client, fabrikam_app: ManagedApplication) -> None:
    assert_sign_in_required(client, reverse("deployments:app_detail", args=[fabrikam_app.pk]))


def test_reader_sees_the_app_page_and_can_change_nothing_but_refresh(
    client: Client, bob: User, fabrikam_app: ManagedApplication
) -> None:
    client.force_login(bob)
    page = page_of(client.get(reverse("deployments:app_detail", args=[fabrikam_app.pk])))
    assert "stanalytics" in page
    assert post_forms(page) == [
        reverse("deployments:refresh", args=[fabrikam_app.customer_tenant_id])
    ]


def test_publisher_sees_the_app_page_from_their_side(
    client: Client, pat: User, fabrikam_app: ManagedApplication
) -> None:
    client.force_login(pat)
    page = page_of(client.get(reverse("deployments:app_detail", args=[fabrikam_app.pk])))
    assert reverse("deployments:customer_detail", args=[fabrikam_app.customer_tenant_id]) in page
    assert "installed by Fabrikam" in page


def test_publisher_cannot_open_an_app_of_another_publishers_offer(
    client: Client, pat: User, tailspin_app: ManagedApplication
) -> None:
    client.force_login(pat)
    assert client.get(reverse("deployments:app_detail", args=[tailspin_app.pk])).status_code == 404


def test_app_detail_notes_an_app_azure_no_longer_lists(
    client: Client, alice: User, fabrikam_app: ManagedApplication
) -> None:
    fabrikam_app.vanished_at = fabrikam_app.first_seen_at
    fabrikam_app.save()
    client.force_login(alice)
    page = page_of(client.get(reverse("deployments:app_detail", args=[fabrikam_app.pk])))
    assert "Azure no longer lists this application" in page


# Customers ----------------------------------------------------------------------------------------


def test_customers_lists_each_customer_with_app_counts_by_state_and_last_sync(
    client: Client,
    pat: User,
    fabrikam: Tenant,
    offer: Offer,
    fabrikam_app: ManagedApplication,
    northwind_app: ManagedApplication,
    fabrikam_synced: SyncRun,
) -> None:
    make_app(fabrikam, offer, "broken", state="Failed")
    make_app(fabrikam, offer, "coming", state="Creating")
    client.force_login(pat)
    page = page_of(client.get(reverse("deployments:customers")))
    fabrikam_row = row_of(page, ">Fabrikam<")
    assert 'text-bg-success">1<' in fabrikam_row  # succeeded
    assert 'text-bg-danger">1<' in fabrikam_row  # failed
    assert 'text-bg-info">1<' in fabrikam_row  # in progress
    assert "5\xa0minutes ago" in fabrikam_row
    assert "Northwind Traders" in page
    assert "never synced" in page  # Northwind


def test_customers_counts_cover_the_filtered_apps_and_sort_by_them(
    client: Client,
    pat: User,
    fabrikam: Tenant,
    northwind: Tenant,
    offer: Offer,
    fabrikam_app: ManagedApplication,
    northwind_app: ManagedApplication,
) -> None:
    make_app(fabrikam, offer, "broken-1", state="Failed")
    make_app(fabrikam, offer, "broken-2", state="Canceled")
    make_app(northwind, offer, "nw-broken", state="Failed", sub=str(uuid.uuid4()))
    make_app(northwind, offer, "nw-2", sub=str(uuid.uuid4()))
    make_app(northwind, offer, "nw-3", sub=str(uuid.uuid4()))
    make_app(northwind, offer, "gone", sub=str(uuid.uuid4()), vanished_at=timezone.now())
    client.force_login(pat)
    url = reverse("deployments:customers")

    page = page_of(client.get(url, {"sort": "apps"}))
    assert page.index("Northwind Traders") < page.index(">Fabrikam<")  # 4 apps, then 3
    assert '<div class="cell">4</div>' in row_of(page, "Northwind Traders")  # not the vanished
    page = page_of(client.get(url, {"sort": "failed"}))
    assert page.index(">Fabrikam<") < page.index("Northwind Traders")  # 2 failed, then 1

    fabrikam_row = row_of(page_of(client.get(url, {"state": "failed"})), ">Fabrikam<")
    assert '<div class="cell">2</div>' in fabrikam_row  # the two failed apps only
    assert 'text-bg-danger">2<' in fabrikam_row
    assert "text-bg-success" not in fabrikam_row


def test_customers_flags_a_mirror_out_of_date_and_a_failed_sync(
    client: Client,
    pat: User,
    fabrikam: Tenant,
    northwind: Tenant,
    fabrikam_app: ManagedApplication,
    northwind_app: ManagedApplication,
) -> None:
    make_run(fabrikam, ago=dt.timedelta(minutes=45))
    make_run(northwind)
    make_run(northwind, SyncRun.State.FAILED, ago=dt.timedelta(minutes=1))
    client.force_login(pat)
    page = page_of(client.get(reverse("deployments:customers")))
    fabrikam_row = row_of(page, ">Fabrikam<")
    assert "Out of date" in fabrikam_row and "45\xa0minutes ago" in fabrikam_row
    northwind_row = row_of(page, "Northwind Traders")
    assert "Sync failed" in northwind_row and "Out of date" not in northwind_row


def test_customers_filter_by_offer_plan_state_and_search(
    client: Client,
    pat: User,
    contoso: Tenant,
    northwind: Tenant,
    fabrikam_app: ManagedApplication,
    northwind_app: ManagedApplication,
) -> None:
    other_plan = make_offer(contoso, plan="basic-plan", version="2.0.0")
    make_app(
        northwind,
        other_plan,
        "nw-basic",
        state="Failed",
        sub="12121212-1111-2222-3333-444444444444",
    )
    client.force_login(pat)
    url = reverse("deployments:customers")
    page = page_of(client.get(url, {"offer": other_plan.pk}))
    assert "Northwind Traders" in page and ">Fabrikam<" not in page
    page = page_of(client.get(url, {"plan": "jit-plan"}))
    assert "Northwind Traders" in page and ">Fabrikam<" in page
    page = page_of(client.get(url, {"state": "failed"}))
    assert "Northwind Traders" in page and ">Fabrikam<" not in page
    page = page_of(client.get(url, {"q": "fabri"}))
    assert ">Fabrikam<" in page and "Northwind Traders" not in page
    page = page_of(client.get(url, {"state": "failed", "q": "fabri"}))
    assert "No customer matches these filters." in page


def test_customers_of_another_publishers_offers_stay_hidden(
    client: Client, pat: User, fabrikam_app: ManagedApplication, tailspin_app: ManagedApplication
) -> None:
    client.force_login(pat)
    page = page_of(client.get(reverse("deployments:customers")))
    assert ">Fabrikam<" in page and "Northwind Traders" not in page


def test_customers_without_customers_says_what_happens_next(client: Client, pat: User) -> None:
    client.force_login(pat)
    page = page_of(client.get(reverse("deployments:customers")))
    assert "No customers yet" in page


def test_customers_htmx_filter_returns_only_the_list_fragment(
    client: Client, pat: User, fabrikam_app: ManagedApplication
) -> None:
    client.force_login(pat)
    response = client.get(reverse("deployments:customers"), HTTP_HX_TARGET="customer_list", **HTMX)
    assert page_of(response).lstrip().startswith('<div id="customer_list">')


def test_customers_is_not_found_for_customer_side_people(
    client: Client, alice: User, charlie: User, fabrikam_app: ManagedApplication
) -> None:
    for person in (alice, charlie):
        client.force_login(person)
        assert client.get(reverse("deployments:customers")).status_code == 404


def test_customers_needs_sign_in(client: Client, db: None) -> None:
    assert_sign_in_required(client, reverse("deployments:customers"))


def test_customer_detail_lists_that_customers_apps_and_sync_state(
    client: Client,
    pat: User,
    fabrikam: Tenant,
    fabrikam_app: ManagedApplication,
    northwind_app: ManagedApplication,
) -> None:
    client.force_login(pat)
    page = page_of(client.get(reverse("deployments:customer_detail", args=[fabrikam.pk])))
    assert "analytics" in page and "northwind-analytics" not in page
    assert str(fabrikam.entra_tenant_id) in page
    assert reverse("deployments:refresh", args=[fabrikam.pk]) in page


def test_customer_detail_is_not_found_for_customers_and_for_tenants_outside_your_offers(
    client: Client,
    alice: User,
    charlie: User,
    pat: User,
    fabrikam: Tenant,
    fabrikam_app: ManagedApplication,
    tailspin_app: ManagedApplication,
    northwind: Tenant,
) -> None:
    url = reverse("deployments:customer_detail", args=[fabrikam.pk])
    for person in (alice, charlie):
        client.force_login(person)
        assert client.get(url).status_code == 404
    client.force_login(pat)  # Northwind runs only Tailspin's offer
    assert (
        client.get(reverse("deployments:customer_detail", args=[northwind.pk])).status_code == 404
    )


def test_customer_detail_needs_sign_in(client: Client, fabrikam: Tenant) -> None:
    assert_sign_in_required(client, reverse("deployments:customer_detail", args=[fabrikam.pk]))


# Fleet --------------------------------------------------------------------------------------------


def test_fleet_counts_apps_and_customers_per_plan_version(
    client: Client,
    pat: User,
    contoso: Tenant,
    fabrikam: Tenant,
    offer: Offer,
    fabrikam_app: ManagedApplication,
    northwind_app: ManagedApplication,
) -> None:
    newer = make_offer(contoso, version="1.1.0")
    make_app(fabrikam, newer, "analytics-2", state="Failed")
    client.force_login(pat)
    page = page_of(client.get(reverse("deployments:fleet")))
    old_row, new_row = row_of(page, "jit-plan 1.0.0<"), row_of(page, "jit-plan 1.1.0<")
    assert re.findall(r'text-end">(\d+)<', old_row) == ["2", "2"]
    assert re.findall(r'text-end">(\d+)<', new_row) == ["1", "1"]
    assert "1 failed" in new_row
    assert f"?offer={newer.pk}" in new_row


def test_fleet_is_not_found_for_customers(
    client: Client, alice: User, fabrikam_app: ManagedApplication
) -> None:
    client.force_login(alice)
    assert client.get(reverse("deployments:fleet")).status_code == 404


def test_fleet_needs_sign_in(client: Client, db: None) -> None:
    assert_sign_in_required(client, reverse("deployments:fleet"))


# Catalog ------------------------------------------------------------------------------------------


def test_catalog_lists_offers_of_your_installed_apps_with_their_permission_model(
    client: Client, alice: User, fabrikam_app: ManagedApplication
) -> None:
    client.force_login(alice)
    page = page_of(client.get(reverse("deployments:catalog")))
    assert "Contoso Analytics" in page and "jit-plan" in page
    assert "Read-only" in page and "Offered" in page


@pytest.fixture
def fabrikam_private_offer(fabrikam: Tenant, contoso: Tenant) -> Offer:
    """A Service Catalog definition only Fabrikam uses."""
    offer = make_offer(contoso, name="Fabrikam Internal Sandbox", plan="")
    Offer.objects.filter(pk=offer.pk).update(kind=Offer.Kind.SERVICE_CATALOG)
    make_app(fabrikam, offer, "sandbox")
    return Offer.objects.get(pk=offer.pk)


def test_catalog_shows_marketplace_offers_before_install_but_not_private_definitions(
    client: Client,
    charlie: User,
    fabrikam_app: ManagedApplication,
    tailspin_app: ManagedApplication,
    fabrikam_private_offer: Offer,
) -> None:
    client.force_login(charlie)
    page = page_of(client.get(reverse("deployments:catalog")))
    assert "Tailspin Backup" in page and "Contoso Analytics" in page
    assert "Fabrikam Internal Sandbox" not in page


def test_catalog_shows_a_publisher_all_its_offers(
    client: Client, pat: User, offer: Offer, tailspin_app: ManagedApplication
) -> None:
    client.force_login(pat)
    page = page_of(client.get(reverse("deployments:catalog")))
    assert "Contoso Analytics" in page and "Tailspin Backup" not in page


def test_catalog_needs_sign_in(client: Client, db: None) -> None:
    assert_sign_in_required(client, reverse("deployments:catalog"))


def test_offer_detail_says_what_each_side_may_do(
    client: Client, bob: User, offer: Offer, fabrikam_app: ManagedApplication
) -> None:
    client.force_login(bob)
    page = page_of(client.get(reverse("deployments:offer_detail", args=[offer.pk])))
    assert "Owner" in page and "5c1e2f7a-0000-4000-8000-000000000001" in page
    assert "Microsoft.Compute/virtualMachines/restart/action" in page
    assert "can read the managed resources but not change or delete them" in page
    assert post_forms(page) == []


def test_offer_detail_of_an_offer_you_cannot_see_is_not_found(
    client: Client, charlie: User, fabrikam_private_offer: Offer
) -> None:
    client.force_login(charlie)
    url = reverse("deployments:offer_detail", args=[fabrikam_private_offer.pk])
    assert client.get(url).status_code == 404


def test_offer_detail_needs_sign_in(client: Client, offer: Offer) -> None:
    assert_sign_in_required(client, reverse("deployments:offer_detail", args=[offer.pk]))


# Refresh now and its status -----------------------------------------------------------------------


def test_customer_admin_refresh_queues_a_sync_and_answers_a_polling_status(
    client: Client, alice: User, fabrikam: Tenant
) -> None:
    client.force_login(alice)
    response = client.post(reverse("deployments:refresh", args=[fabrikam.pk]), **HTMX)
    run = SyncRun.objects.get(tenant=fabrikam)
    page = page_of(response)
    assert page.lstrip().startswith(f'<div id="sync_status-{fabrikam.pk}"')
    assert f'hx-get="{reverse("deployments:sync_status", args=[run.pk])}"' in page
    assert 'hx-trigger="every 2s"' in page
    assert "Refreshing Fabrikam from Azure" in page


def test_reader_may_refresh_because_it_only_rereads_azure(
    client: Client, bob: User, fabrikam: Tenant
) -> None:
    client.force_login(bob)
    response = client.post(reverse("deployments:refresh", args=[fabrikam.pk]), **HTMX)
    assert response.status_code == 200
    assert SyncRun.objects.filter(tenant=fabrikam).count() == 1


def test_refresh_while_a_sync_is_open_follows_that_sync(
    client: Client, alice: User, fabrikam: Tenant
) -> None:
    running = make_run(fabrikam, SyncRun.State.RUNNING)
    client.force_login(alice)
    page = page_of(client.post(reverse("deployments:refresh", args=[fabrikam.pk]), **HTMX))
    assert SyncRun.objects.filter(tenant=fabrikam).count() == 1
    assert reverse("deployments:sync_status", args=[running.pk]) in page


def test_publisher_may_refresh_a_customer_of_their_offers(
    client: Client, pat: User, fabrikam: Tenant, fabrikam_app: ManagedApplication
) -> None:
    client.force_login(pat)
    client.post(reverse("deployments:refresh", args=[fabrikam.pk]), **HTMX)
    assert SyncRun.objects.filter(tenant=fabrikam).exists()


def test_refresh_of_another_tenant_is_not_found_and_queues_nothing(
    client: Client,
    charlie: User,
    pat: User,
    fabrikam: Tenant,
    fabrikam_app: ManagedApplication,
    northwind: Tenant,
    tailspin_app: ManagedApplication,
) -> None:
    client.force_login(charlie)
    assert client.post(reverse("deployments:refresh", args=[fabrikam.pk])).status_code == 404
    client.force_login(pat)  # Northwind runs only another publisher's offer
    assert client.post(reverse("deployments:refresh", args=[northwind.pk])).status_code == 404
    assert not SyncRun.objects.exists()


def test_refresh_takes_post_only_with_a_csrf_token(alice: User, fabrikam: Tenant) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    url = reverse("deployments:refresh", args=[fabrikam.pk])
    assert client.get(url).status_code == 405
    assert client.post(url).status_code == 403
    assert not SyncRun.objects.exists()


def test_refresh_without_javascript_goes_back_to_the_page(
    client: Client, alice: User, fabrikam: Tenant
) -> None:
    client.force_login(alice)
    url = reverse("deployments:refresh", args=[fabrikam.pk])
    response = client.post(url, {"next": "/apps/applications/?q=x"})
    assert response.status_code == 302 and response["Location"] == "/apps/applications/?q=x"
    response = client.post(url, {"next": "https://evil.example/"})
    run = SyncRun.objects.get(tenant=fabrikam)
    assert response["Location"] == reverse("deployments:sync_status", args=[run.pk])


def test_refresh_needs_sign_in(client: Client, fabrikam: Tenant) -> None:
    assert_sign_in_required(client, reverse("deployments:refresh", args=[fabrikam.pk]), "post")


def test_sync_status_polls_while_open_then_shows_the_outcome(
    client: Client, alice: User, fabrikam: Tenant
) -> None:
    run = make_run(fabrikam, SyncRun.State.RUNNING)
    client.force_login(alice)
    url = reverse("deployments:sync_status", args=[run.pk])
    assert 'hx-trigger="every 2s"' in page_of(client.get(url, **HTMX))
    run.state, run.finished_at = SyncRun.State.SUCCEEDED, run.queued_at
    run.rows_created, run.rows_updated, run.rows_removed = 3, 1, 0
    run.save()
    page = page_of(
        client.get(url, HTTP_HX_CURRENT_URL="http://testserver/apps/applications/", **HTMX)
    )
    assert "every 2s" not in page
    assert "3 new, 1 changed, 0 removed." in page
    assert 'href="/apps/applications/">Reload the page' in page


def test_sync_status_of_a_failed_run_gives_the_error_and_what_to_do(
    client: Client, bob: User, fabrikam: Tenant
) -> None:
    run = make_run(fabrikam, SyncRun.State.FAILED, error="Throttled: retry after 30 s")
    client.force_login(bob)
    page = page_of(client.get(reverse("deployments:sync_status", args=[run.pk]), **HTMX))
    assert "Throttled: retry after 30 s" in page and "What to do:" in page
    assert "every 2s" not in page


def test_sync_status_without_htmx_is_a_whole_page(
    client: Client, alice: User, fabrikam: Tenant
) -> None:
    run = make_run(fabrikam, SyncRun.State.QUEUED)
    client.force_login(alice)
    page = page_of(client.get(reverse("deployments:sync_status", args=[run.pk])))
    assert "<html" in page and "Refresh of Fabrikam" in page
    assert f'href="{reverse("deployments:my_apps")}">Back to My applications' in page


def test_sync_status_of_another_tenant_is_not_found(
    client: Client, charlie: User, fabrikam: Tenant
) -> None:
    run = make_run(fabrikam)
    client.force_login(charlie)
    assert client.get(reverse("deployments:sync_status", args=[run.pk])).status_code == 404


def test_sync_status_needs_sign_in(client: Client, fabrikam: Tenant) -> None:
    run = make_run(fabrikam)
    assert_sign_in_required(client, reverse("deployments:sync_status", args=[run.pk]))


def test_a_person_without_portal_access_sees_the_no_access_page(client: Client, db: None) -> None:
    pending = make_tenant(uuid.uuid4(), "Pending Co", Side.CUSTOMER, state="pending")
    client.force_login(make_person(pending, uuid.uuid4(), "Dana", "Customer.Admin"))
    response = client.get(reverse("deployments:my_apps"))
    assert response.status_code == 302 and response["Location"] == reverse("accounts:no_access")


def test_a_sync_queued_for_minutes_says_no_worker_took_it_and_polls_slower(
    client: Client, alice: User, fabrikam: Tenant
) -> None:
    run = make_run(fabrikam, SyncRun.State.QUEUED, ago=dt.timedelta(minutes=5))
    client.force_login(alice)
    page = page_of(client.get(reverse("deployments:sync_status", args=[run.pk]), **HTMX))
    assert "No worker has picked it up yet" in page
    assert 'hx-trigger="every 10s"' in page


def test_pending_jit_requests_are_counted_per_app_and_per_customer(
    client: Client,
    alice: User,
    pat: User,
    fabrikam_app: ManagedApplication,
    northwind_app: ManagedApplication,
) -> None:
    make_jit_request(fabrikam_app)
    make_jit_request(fabrikam_app)
    make_jit_request(fabrikam_app, state="Approved")
    make_jit_request(northwind_app)
    client.force_login(alice)
    assert "2 pending" in page_of(client.get(reverse("deployments:my_apps")))
    page = page_of(client.get(reverse("deployments:app_detail", args=[fabrikam_app.pk])))
    assert "2 waiting for a decision" in page
    client.force_login(pat)
    page = page_of(client.get(reverse("deployments:customers")))
    assert 'state=Pending">2<' in row_of(page, ">Fabrikam<")
    assert 'state=Pending">1<' in row_of(page, ">Northwind Traders<")


# Next steps from the application page ----------------------------------------------------------


def test_app_page_offers_the_publisher_a_request_and_the_customer_the_policy(
    client: Client, pat: User, alice: User, fabrikam_app: ManagedApplication
) -> None:
    client.force_login(pat)
    page = page_of(client.get(reverse("deployments:app_detail", args=[fabrikam_app.pk])))
    assert reverse("jit:request_new", args=[fabrikam_app.pk]) in page
    assert reverse("jit:policy", args=[fabrikam_app.pk]) not in page

    client.force_login(alice)
    page = page_of(client.get(reverse("deployments:app_detail", args=[fabrikam_app.pk])))
    assert reverse("jit:request_new", args=[fabrikam_app.pk]) not in page
    assert reverse("jit:policy", args=[fabrikam_app.pk]) in page


def test_app_page_without_jit_offers_neither(
    client: Client, pat: User, bob: User, fabrikam_app: ManagedApplication
) -> None:
    fabrikam_app.jit_enabled = False
    fabrikam_app.save()
    for person in (pat, bob):
        client.force_login(person)
        page = page_of(client.get(reverse("deployments:app_detail", args=[fabrikam_app.pk])))
        assert "Request elevation" not in page
        assert reverse("jit:policy", args=[fabrikam_app.pk]) not in page
