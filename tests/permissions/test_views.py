"""The permission pages: each model in plain words, both sides, and other tenants' 404."""

import html
from collections.abc import Callable

import pytest
from django.test import Client
from django.urls import reverse
from pytest_django import Settings

from accounts.models import Tenant, User
from deployments.models import ManagedApplication, Offer, PermissionChangeEvent
from emulator.server import EmulatorServer
from tests.permissions.conftest import Resync
from tests.responses import ClientResponse

pytestmark = pytest.mark.django_db


def _page(client: Client, user: User, name: str, *args: object, query: str = "") -> ClientResponse:
    client.force_login(user)
    return client.get(reverse(name, args=args) + query)


def test_customer_admin_sees_jit_manual_model_in_plain_words(
    client: Client,
    synced: dict[str, ManagedApplication],
    signed_in: Callable[[User], User],
    alice: User,
) -> None:
    signed_in(alice)
    response = _page(client, alice, "permissions:app", synced["fabrikam-monitoring"].pk)
    assert response.status_code == 200
    text = response.content.decode()
    assert "The publisher can always" in text
    assert "Read everything" in text
    assert "only after Alice Archer approves a request, for at most 8 hours" in text
    assert "Restart virtual machines" in text
    assert "Change or delete anything else in the managed resource group" in text
    # Readable names where ARM gives GUIDs: roles from their definitions, people the portal knows,
    # and configured names (PERMISSIONS_PRINCIPAL_NAMES) for the publisher's app.
    assert "Contributor" in text and "Owner" in text
    assert "Contoso Managed Services Automation" in text
    # Her own rights, asked as her: Owner of the subscription, less what the lock blocks.
    assert "Azure gives you:</strong> read everything; restart virtual machines" in text
    assert "The lock blocks:</strong> anything else" in text
    assert "<svg" in text and "jitact1" not in text  # the timeline names people, not requests


def test_reader_sees_the_same_page_with_her_own_smaller_rights(
    client: Client,
    synced: dict[str, ManagedApplication],
    signed_in: Callable[[User], User],
    bob: User,
) -> None:
    signed_in(bob)
    response = _page(client, bob, "permissions:app", synced["fabrikam-monitoring"].pk)
    assert response.status_code == 200
    text = response.content.decode()
    assert "The publisher can always" in text
    assert "Azure gives you:</strong> read everything." in text


def test_standing_owner_model_without_jit(
    client: Client, synced: dict[str, ManagedApplication], alice: User
) -> None:
    response = _page(client, alice, "permissions:app", synced["fabrikam-sql"].pk)
    text = response.content.decode()
    assert "do anything, including deciding who else has access".capitalize() in text
    assert "Delete resources in the managed resource group" in text
    assert "Standing access" in text
    assert "Sign in again to see your own rights." in text  # no stored sign-in in this test


def test_unlocked_service_catalog_model_says_there_is_no_deny_assignment(
    client: Client, synced: dict[str, ManagedApplication], alice: User
) -> None:
    text = _page(client, alice, "permissions:app", synced["fabrikam-sandbox"].pk).content.decode()
    assert "None: this application has no deny assignment" in text
    assert "Whatever your own Azure role allows: nothing is locked" in text


def test_auto_approval_and_missing_p2_are_warned(
    client: Client, synced: dict[str, ManagedApplication], alice: User, fabrikam: Tenant
) -> None:
    fabrikam.has_entra_p2 = "no"
    fabrikam.save()
    text = _page(client, alice, "permissions:app", synced["fabrikam-backup"].pk).content.decode()
    assert "Requests are approved automatically" in text
    assert "No approvers are named" in text
    assert "Your tenant has no Entra ID P2 licence" in text


def test_jit_offered_but_off_is_warned(
    azure: EmulatorServer,
    client: Client,
    synced: dict[str, ManagedApplication],
    resync: Resync,
    alice: User,
) -> None:
    source = azure.state.applications[synced["fabrikam-backup"].arm_id.lower()]
    assert source.jit_access_policy is not None
    source.jit_access_policy = {**source.jit_access_policy, "jitAccessEnabled": False}
    resync()
    text = _page(client, alice, "permissions:app", synced["fabrikam-backup"].pk).content.decode()
    assert "JIT was offered but is turned off" in text
    assert "Just-in-time access is now off" in text  # the change, on the page
    assert '"enabled": false' in html.unescape(text)  # with its before and after


def test_publisher_support_sees_when_to_request_jit(
    client: Client,
    synced: dict[str, ManagedApplication],
    signed_in: Callable[[User], User],
    pat: User,
) -> None:
    signed_in(pat)
    response = _page(client, pat, "permissions:app", synced["fabrikam-monitoring"].pk)
    assert response.status_code == 200
    text = response.content.decode()
    assert "You are named in this application" in text
    assert "Request just-in-time access first</strong> for: Contributor" in text
    assert "Your team (the publisher) can always" in text


def test_app_page_of_another_tenant_is_not_found(
    client: Client, synced: dict[str, ManagedApplication], charlie: User
) -> None:
    response = _page(client, charlie, "permissions:app", synced["fabrikam-monitoring"].pk)
    assert response.status_code == 404


def test_app_page_needs_sign_in(client: Client, synced: dict[str, ManagedApplication]) -> None:
    response = client.get(reverse("permissions:app", args=[synced["fabrikam-sql"].pk]))
    assert response.status_code == 302


def test_offer_page_before_install_for_the_customer(
    client: Client, synced: dict[str, ManagedApplication], alice: User, bob: User
) -> None:
    offer = Offer.objects.get(plan="jit-manual")
    for person in (alice, bob):
        text = _page(client, person, "permissions:offer", offer.pk).content.decode()
        assert "Decide on just-in-time access when you install" in text
        assert "Contributor" in text
        assert "Restart virtual machines" in text


def test_offer_page_for_the_publisher_shows_what_the_plan_exposes(
    client: Client, synced: dict[str, ManagedApplication], pat: User
) -> None:
    offer = Offer.objects.get(plan="standing-owner")
    text = _page(client, pat, "permissions:offer", offer.pk).content.decode()
    assert "What this plan exposes to your customers" in text
    assert "Owner" in text


def test_offer_page_of_an_offer_you_cannot_see_is_not_found(
    client: Client, synced: dict[str, ManagedApplication], charlie: User
) -> None:
    offer = Offer.objects.get(kind=Offer.Kind.SERVICE_CATALOG)  # only Fabrikam has it
    assert _page(client, charlie, "permissions:offer", offer.pk).status_code == 404


def test_changes_feed_lists_only_your_tenants_changes(
    azure: EmulatorServer,
    client: Client,
    synced: dict[str, ManagedApplication],
    resync: Resync,
    alice: User,
    bob: User,
    charlie: User,
    northwind: Tenant,
) -> None:
    source = azure.state.applications[synced["fabrikam-sql"].arm_id.lower()]
    source.allowed_actions = ["Microsoft.Sql/servers/databases/write"]
    resync()
    assert PermissionChangeEvent.objects.count() == 1
    for person in (alice, bob):
        text = html.unescape(_page(client, person, "permissions:changes").content.decode())
        assert "fabrikam-sql" in text
        assert "The customer's people may now also: create or change databases." in text
    text = _page(client, charlie, "permissions:changes").content.decode()
    assert "fabrikam-sql" not in text
    assert "No changes seen" in text


def _northwind_change(northwind: Tenant, offer: Offer | None) -> PermissionChangeEvent:
    """A change in a Northwind application of the same Contoso offer."""
    app = ManagedApplication.objects.create(
        arm_id="/subscriptions/5f1c3d2e-0000-4000-8000-000000000001/resourceGroups/rg-nw"
        "/providers/Microsoft.Solutions/applications/northwind-sql",
        customer_tenant=northwind,
        offer=offer,
        subscription_id="5f1c3d2e-0000-4000-8000-000000000001",
        resource_group="rg-nw",
        name="northwind-sql",
        location="westeurope",
        provisioning_state="Succeeded",
        managed_resource_group_id="/subscriptions/5f1c3d2e-0000-4000-8000-000000000001"
        "/resourceGroups/mrg-northwind-sql",
    )
    return PermissionChangeEvent.objects.create(
        application=app,
        customer_tenant=northwind,
        aspects=["lockLevel"],
        lines=["Northwind's lock is now read-only."],
        before={"lockLevel": "None"},
        after={"lockLevel": "ReadOnly"},
    )


@pytest.fixture
def two_customers_changed(
    azure: EmulatorServer, synced: dict[str, ManagedApplication], resync: Resync, northwind: Tenant
) -> None:
    """A Fabrikam change found by the sync and a Northwind change, both of Contoso offers."""
    source = azure.state.applications[synced["fabrikam-sql"].arm_id.lower()]
    source.lock_level = "ReadOnly"
    resync()
    _northwind_change(northwind, synced["fabrikam-sql"].offer)
    assert PermissionChangeEvent.objects.count() == 2


def test_publisher_sees_changes_of_its_customers_and_can_filter_by_tenant(
    client: Client, two_customers_changed: None, pat: User
) -> None:
    text = html.unescape(_page(client, pat, "permissions:changes").content.decode())
    assert "fabrikam-sql" in text and "northwind-sql" in text
    assert "<select" not in text  # a search box, not a menu of every customer tenant
    assert 'type="search" name="tenant"' in text

    # By name, any case, any part of it; the box keeps what was typed.
    text = _page(client, pat, "permissions:changes", query="?tenant=BRIK").content.decode()
    assert "fabrikam-sql" in text and "northwind-sql" not in text
    assert 'value="BRIK"' in text
    text = _page(client, pat, "permissions:changes", query="?tenant=trader").content.decode()
    assert "northwind-sql" in text and "fabrikam-sql" not in text


def test_changes_are_searched_by_exact_entra_tenant_id(
    client: Client, two_customers_changed: None, pat: User, fabrikam: Tenant
) -> None:
    tenant_id = str(fabrikam.entra_tenant_id)
    text = _page(
        client, pat, "permissions:changes", query=f"?tenant={tenant_id.upper()}"
    ).content.decode()
    assert "fabrikam-sql" in text and "northwind-sql" not in text
    assert f'value="{tenant_id.upper()}"' in text
    # Part of an id is neither a name nor an id.
    text = _page(
        client, pat, "permissions:changes", query=f"?tenant={tenant_id[:8]}"
    ).content.decode()
    assert "fabrikam-sql" not in text and "No change matches these filters" in text


def test_changes_search_never_reaches_another_tenants_changes(
    client: Client, two_customers_changed: None, charlie: User, fabrikam: Tenant
) -> None:
    for search in ("Fabrikam", str(fabrikam.entra_tenant_id), ""):
        text = _page(
            client, charlie, "permissions:changes", query=f"?tenant={search}"
        ).content.decode()
        assert "fabrikam-sql" not in text
        assert "northwind-sql" in text if not search else "northwind-sql" not in text


def test_nothing_matching_says_so_with_a_way_back(
    client: Client, two_customers_changed: None, pat: User
) -> None:
    text = _page(client, pat, "permissions:changes", query="?tenant=Tailspin").content.decode()
    assert "No change matches these filters." in text
    assert f'<a href="{reverse("permissions:changes")}">Show every change</a>' in text
    assert 'value="Tailspin"' in text


def test_old_links_with_a_tenant_number_search_it_as_text(
    client: Client, two_customers_changed: None, pat: User, fabrikam: Tenant
) -> None:
    """The filter used to take a tenant's database id; a number is now searched like any text,
    so an old link opens the page and matches only tenants whose name holds that number."""
    text = _page(
        client, pat, "permissions:changes", query=f"?tenant={fabrikam.pk}"
    ).content.decode()
    assert "fabrikam-sql" not in text and "northwind-sql" not in text
    assert "No change matches these filters." in text
    assert f'value="{fabrikam.pk}"' in text
    fabrikam.display_name = f"Fabrikam {fabrikam.pk}"
    fabrikam.save()
    text = _page(
        client, pat, "permissions:changes", query=f"?tenant={fabrikam.pk}"
    ).content.decode()
    assert "fabrikam-sql" in text and "northwind-sql" not in text


def test_pages_of_changes_keep_the_search(
    client: Client, synced: dict[str, ManagedApplication], pat: User, fabrikam: Tenant
) -> None:
    app = synced["fabrikam-sql"]
    PermissionChangeEvent.objects.bulk_create(
        PermissionChangeEvent(
            application=app, customer_tenant=fabrikam, aspects=["lockLevel"], lines=[f"#{i}"]
        )
        for i in range(51)
    )
    text = _page(client, pat, "permissions:changes", query="?tenant=fab").content.decode()
    assert "?tenant=fab&amp;page=2" in text
    text = _page(client, pat, "permissions:changes", query="?tenant=fab&page=2").content.decode()
    assert "?tenant=fab&amp;page=1" in text and 'value="fab"' in text


def test_one_tenants_people_get_no_search_box(
    client: Client, two_customers_changed: None, alice: User
) -> None:
    text = _page(client, alice, "permissions:changes").content.decode()
    assert "fabrikam-sql" in text and "northwind-sql" not in text
    assert 'name="tenant"' not in text


def test_timeline_shows_standing_access_since_install_and_each_elevation(
    client: Client, synced: dict[str, ManagedApplication], alice: User
) -> None:
    text = _page(
        client, alice, "permissions:app", synced["fabrikam-monitoring"].pk
    ).content.decode()
    assert "standing Reader since" in text
    assert text.count("· JIT Contributor") == 1  # one lane per principal and role
    assert "(Expired)</title>" in text and "(Approved)</title>" in text


def test_unmanaged_application_gives_the_publisher_no_standing_access(
    azure: EmulatorServer,
    client: Client,
    synced: dict[str, ManagedApplication],
    resync: Resync,
    alice: User,
) -> None:
    source = azure.state.applications[synced["fabrikam-sandbox"].arm_id.lower()]
    source.management_mode = "Unmanaged"
    resync()
    text = _page(client, alice, "permissions:app", synced["fabrikam-sandbox"].pk).content.decode()
    assert "Nothing: it holds no standing access (the application is unmanaged)" in text
    assert "Management mode changed from Managed to Unmanaged." in text


def test_a_maximum_duration_over_the_setting_is_warned(
    client: Client, synced: dict[str, ManagedApplication], alice: User, settings: Settings
) -> None:
    settings.PERMISSIONS_MAX_JIT_HOURS = 4
    page = _page(client, alice, "permissions:app", synced["fabrikam-monitoring"].pk)
    assert "An elevation may last 8 hours, longer than the 4 hours" in page.content.decode()
    settings.PERMISSIONS_MAX_JIT_HOURS = 8
    page = _page(client, alice, "permissions:app", synced["fabrikam-monitoring"].pk)
    assert "Long elevations allowed" not in page.content.decode()


def test_overview_lists_your_applications_with_what_needs_attention(
    client: Client, synced: dict[str, ManagedApplication], alice: User, bob: User
) -> None:
    for person in (alice, bob):
        text = _page(client, person, "permissions:overview").content.decode()
        assert "Who can do what in your applications" in text
        assert "fabrikam-monitoring" in text and "fabrikam-sql" in text
        assert "Approved by a person (Alice Archer), up to 8 hours" in text
        assert "Requests are approved automatically" in text  # fabrikam-backup


def test_overview_for_publisher_support_says_where_to_request_jit(
    client: Client, synced: dict[str, ManagedApplication], pat: User
) -> None:
    text = _page(client, pat, "permissions:overview").content.decode()
    assert "What your team may do at each customer" in text
    assert "Request JIT first for Contributor" in text
    assert "May act without asking" in text  # fabrikam-sql: standing Owner


def test_overview_shows_nothing_of_other_tenants(
    client: Client, synced: dict[str, ManagedApplication], charlie: User
) -> None:
    text = _page(client, charlie, "permissions:overview").content.decode()
    assert "fabrikam" not in text
    assert "No applications yet." in text


def test_an_unnamed_publisher_principal_gets_a_clear_fallback(
    client: Client, synced: dict[str, ManagedApplication], alice: User, settings: Settings
) -> None:
    settings.PERMISSIONS_PRINCIPAL_NAMES = {}
    text = _page(
        client, alice, "permissions:app", synced["fabrikam-monitoring"].pk
    ).content.decode()
    assert "An app of the publisher (object id c245099c…)" in text


def test_overview_costs_the_same_queries_for_three_or_thirty_applications(
    client: Client, synced: dict[str, ManagedApplication], alice: User
) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from deployments.models import PermissionSnapshot

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert _page(client, alice, "permissions:overview").status_code == 200
        return len(captured)

    _page(client, alice, "permissions:overview")  # session and caches warm
    few = queries()
    template = synced["fabrikam-monitoring"]
    snapshot = PermissionSnapshot.objects.get(application=template)
    for n in range(27):
        copy = ManagedApplication.objects.get(pk=template.pk)
        copy.pk = None
        copy.name = f"copy-{n:02d}"
        copy.arm_id = f"{template.arm_id}-copy-{n:02d}"
        copy.save()
        PermissionSnapshot.objects.create(application=copy, state=snapshot.state)
    text = _page(client, alice, "permissions:overview").content.decode()
    assert "copy-26" in text
    assert queries() == few
