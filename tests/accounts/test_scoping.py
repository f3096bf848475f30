from accounts import scoping
from accounts.models import Side, Tenant, User
from tests.conftest import make_tenant


def test_a_customer_sees_only_their_own_tenant(alice: User, northwind: Tenant) -> None:
    assert list(scoping.customer_tenants_of(alice)) == [alice.memberships.get().tenant]
    assert list(scoping.publisher_tenants_of(alice)) == []


def test_admin_scope_excludes_readers(alice: User, bob: User, fabrikam: Tenant) -> None:
    assert list(scoping.administered_tenants_of(alice)) == [fabrikam]
    assert list(scoping.administered_tenants_of(bob)) == []
    assert list(scoping.customer_tenants_of(bob)) == [fabrikam]


def test_blocked_or_pending_tenant_grants_nothing(alice: User, fabrikam: Tenant) -> None:
    for state in (Tenant.State.BLOCKED, Tenant.State.PENDING):
        Tenant.objects.filter(pk=fabrikam.pk).update(state=state)
        assert list(scoping.tenants_of(alice)) == []
        assert scoping.has_access(alice) is False
    Tenant.objects.filter(pk=fabrikam.pk).update(state=Tenant.State.ALLOWED)
    assert scoping.has_access(alice) is True


def test_inactive_and_anonymous_people_see_nothing(
    alice: User, django_user_model: type[User]
) -> None:
    from django.contrib.auth.models import AnonymousUser

    assert list(scoping.tenants_of(AnonymousUser())) == []
    alice.is_active = False
    alice.save()
    assert list(scoping.tenants_of(alice)) == []


def test_roles_filter_and_side_filter_apply_to_the_same_membership(
    alice: User, contoso: Tenant
) -> None:
    # Alice is admin in Fabrikam (customer). Giving her a reader-only role in the publisher tenant
    # must not make the publisher tenant count as "administered".
    from accounts.models import Membership, Role

    Membership.objects.create(user=alice, tenant=contoso, role=Role.PUBLISHER_SUPPORT)
    assert contoso not in scoping.administered_tenants_of(alice)
    assert list(scoping.publisher_tenants_of(alice)) == [contoso]


def test_tenant_search_matches_part_of_a_name_or_a_quoted_whole_name(fabrikam: Tenant) -> None:
    longer = make_tenant("0c8a6f40-3b7e-4d5e-9f1a-2b3c4d5e6f70", "Fabrikam Ltd", Side.CUSTOMER)

    def found(text: str) -> set[Tenant]:
        return set(Tenant.objects.filter(scoping.tenant_named(text)))

    assert found("fabrikam") == {fabrikam, longer}
    assert found('"FABRIKAM"') == {fabrikam}
    assert found('"Fabrikam Ltd"') == {longer}
    assert found(str(longer.entra_tenant_id)) == {longer}


def test_visible_tenant_ids_are_the_two_sides_read_at_once(
    alice: User, contoso: Tenant, fabrikam: Tenant, northwind: Tenant
) -> None:
    from django.contrib.auth.models import AnonymousUser

    from accounts.models import Membership, Role

    Membership.objects.create(user=alice, tenant=contoso, role=Role.PUBLISHER_SUPPORT)
    assert scoping.visible_tenant_ids(alice) == ([fabrikam.pk], [contoso.pk])
    Tenant.objects.filter(pk=contoso.pk).update(state=Tenant.State.BLOCKED)
    assert scoping.visible_tenant_ids(alice) == ([fabrikam.pk], [])
    assert scoping.visible_tenant_ids(AnonymousUser()) == ([], [])
