import pytest

from accounts.models import Tenant, User
from deployments.models import ManagedApplication, Offer

SUB = "6f1d3c3e-2b0a-4a57-9a0c-2c1e5e0b7a11"


@pytest.fixture
def offer(contoso: Tenant) -> Offer:
    return Offer.objects.create(
        key="plan:contoso/contoso-offer/jit-plan/1.0.0",
        kind=Offer.Kind.MARKETPLACE,
        publisher_tenant=contoso,
        display_name="Contoso Analytics",
        plan="jit-plan",
        version="1.0.0",
    )


@pytest.fixture
def fabrikam_app(fabrikam: Tenant, offer: Offer) -> ManagedApplication:
    return ManagedApplication.objects.create(
        arm_id=f"/subscriptions/{SUB}/resourceGroups/apps/providers/Microsoft.Solutions/applications/analytics",
        customer_tenant=fabrikam,
        offer=offer,
        subscription_id=SUB,
        resource_group="apps",
        name="analytics",
        managed_resource_group_id=f"/subscriptions/{SUB}/resourceGroups/mrg-analytics",
    )


def test_customers_see_their_tenants_apps_only(
    fabrikam_app: ManagedApplication, alice: User, bob: User, charlie: User
) -> None:
    assert list(ManagedApplication.objects.visible_to(alice)) == [fabrikam_app]
    assert list(ManagedApplication.objects.visible_to(bob)) == [fabrikam_app]
    assert list(ManagedApplication.objects.visible_to(charlie)) == []


def test_publishers_see_apps_of_their_offers_across_customers(
    fabrikam_app: ManagedApplication, pat: User, northwind: Tenant, offer: Offer
) -> None:
    other = ManagedApplication.objects.create(
        arm_id="/subscriptions/x/resourceGroups/y/providers/Microsoft.Solutions/applications/z",
        customer_tenant=northwind,
        offer=offer,
        subscription_id="x",
        resource_group="y",
        name="z",
    )
    assert set(ManagedApplication.objects.visible_to(pat)) == {fabrikam_app, other}


def test_apps_of_another_publishers_offer_stay_hidden(
    fabrikam_app: ManagedApplication, pat: User, northwind: Tenant
) -> None:
    foreign = Offer.objects.create(
        key="plan:other/x/y/1", kind=Offer.Kind.MARKETPLACE, display_name="X"
    )
    ManagedApplication.objects.create(
        arm_id="/subscriptions/a/resourceGroups/b/providers/Microsoft.Solutions/applications/c",
        customer_tenant=northwind,
        offer=foreign,
        subscription_id="a",
        resource_group="b",
        name="c",
    )
    assert list(ManagedApplication.objects.visible_to(pat)) == [fabrikam_app]


def test_marketplace_offers_are_visible_to_customers_before_they_install_them(
    fabrikam_app: ManagedApplication, offer: Offer, alice: User, charlie: User, pat: User
) -> None:
    assert list(Offer.objects.visible_to(pat)) == [offer]
    assert list(Offer.objects.visible_to(alice)) == [offer]
    assert list(Offer.objects.visible_to(charlie)) == [offer]


def test_a_service_catalog_definition_stays_private_to_the_tenants_using_it(
    fabrikam: Tenant, contoso: Tenant, alice: User, charlie: User
) -> None:
    private = Offer.objects.create(
        key="/subscriptions/s/resourcegroups/r/providers/microsoft.solutions/applicationdefinitions/d",
        kind=Offer.Kind.SERVICE_CATALOG,
        publisher_tenant=contoso,
        display_name="Internal sandbox",
    )
    ManagedApplication.objects.create(
        arm_id="/subscriptions/s/resourceGroups/r/providers/Microsoft.Solutions/applications/sb",
        customer_tenant=fabrikam,
        offer=private,
        subscription_id="s",
        resource_group="r",
        name="sb",
    )
    assert private in Offer.objects.visible_to(alice)
    assert private not in Offer.objects.visible_to(charlie)


def test_people_without_a_customer_or_publisher_role_see_no_offers(
    offer: Offer, django_user_model: type[User]
) -> None:
    nobody = django_user_model.objects.create(username="nobody")
    assert list(Offer.objects.visible_to(nobody)) == []


def test_managed_resource_group_name(fabrikam_app: ManagedApplication) -> None:
    assert fabrikam_app.managed_resource_group_name == "mrg-analytics"


def test_publisher_display_prefers_the_tenant_name_the_portal_knows(
    offer: Offer, contoso: Tenant
) -> None:
    offer.publisher_name = "contoso"
    assert offer.publisher_display == "Contoso Software"
    offer.publisher_tenant = None
    assert offer.publisher_display == "contoso"
