import uuid
from datetime import timedelta

import pytest
from django.utils import timezone
from pytest_django import Settings

from accounts import crypto, services
from accounts.models import EntraCredential, Membership, Role, Side, Tenant, User
from tests.conftest import CONTOSO, FABRIKAM


@pytest.mark.django_db
def test_first_sign_in_of_a_customer_tenant_creates_it_pending() -> None:
    tenant = services.tenant_for_sign_in(tenant_id=FABRIKAM, display_name="fabrikam.example")
    assert (tenant.side, tenant.state) == (Side.CUSTOMER, Tenant.State.PENDING)
    decision = services.access_decision(tenant=tenant, token_roles=["Customer.Admin"])
    assert decision.reason == "pending"
    assert not decision.granted


@pytest.mark.django_db
def test_the_publisher_tenant_from_settings_is_allowed_and_on_the_publisher_side() -> None:
    tenant = services.tenant_for_sign_in(tenant_id=CONTOSO, display_name="contoso.example")
    assert (tenant.side, tenant.state) == (Side.PUBLISHER, Tenant.State.ALLOWED)


def test_roles_of_the_other_side_are_ignored(fabrikam: Tenant) -> None:
    decision = services.access_decision(
        tenant=fabrikam, token_roles=["Publisher.Admin", "Customer.Reader", "Bogus"]
    )
    assert decision.roles == [Role.CUSTOMER_READER]
    assert decision.granted


def test_no_portal_role_means_no_access(fabrikam: Tenant, contoso: Tenant) -> None:
    assert services.access_decision(tenant=fabrikam, token_roles=[]).reason == "no_role"
    assert services.access_decision(tenant=fabrikam, token_roles=["Operator"]).reason == "no_role"
    # An operator of the publisher tenant needs no other role.
    assert services.access_decision(tenant=contoso, token_roles=["Operator"]).granted


def test_blocked_wins_over_roles(fabrikam: Tenant) -> None:
    fabrikam.state = Tenant.State.BLOCKED
    decision = services.access_decision(tenant=fabrikam, token_roles=["Customer.Admin"])
    assert decision.reason == "blocked"


def test_sign_in_replaces_memberships_and_encrypts_the_refresh_token(
    alice: User, fabrikam: Tenant
) -> None:
    decision = services.access_decision(tenant=fabrikam, token_roles=["Customer.Reader"])
    assert alice.entra_object_id is not None
    services.entra_sign_in_complete(
        user=alice,
        tenant_id=fabrikam.entra_tenant_id,
        object_id=alice.entra_object_id,
        display_name="Alice A.",
        decision=decision,
        token_roles=["Customer.Reader"],
        refresh_token="refresh-token-value",
    )
    assert list(Membership.objects.filter(user=alice).values_list("role", flat=True)) == [
        Role.CUSTOMER_READER
    ]
    credential = EntraCredential.objects.get(user=alice)
    assert b"refresh-token-value" not in bytes(credential.refresh_token_encrypted)
    assert crypto.decrypt(credential.refresh_token_encrypted) == "refresh-token-value"
    alice.refresh_from_db()
    assert alice.display_name == "Alice A."


def test_sign_in_freshness_follows_the_configured_age(alice: User, settings: Settings) -> None:
    settings.REAUTHENTICATE_AFTER_SECONDS = 600
    EntraCredential.objects.create(
        user=alice,
        refresh_token_encrypted=crypto.encrypt("x"),
        signed_in_at=timezone.now() - timedelta(minutes=5),
    )
    assert services.sign_in_is_fresh(user=alice)
    EntraCredential.objects.filter(user=alice).update(
        signed_in_at=timezone.now() - timedelta(minutes=11)
    )
    assert not services.sign_in_is_fresh(user=alice)


def test_encryption_keys_rotate(settings: Settings) -> None:
    from cryptography.fernet import Fernet, InvalidToken

    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.TOKEN_ENCRYPTION_KEYS = [old]
    secret = crypto.encrypt("token")
    settings.TOKEN_ENCRYPTION_KEYS = [new, old]
    assert crypto.decrypt(secret) == "token"
    settings.TOKEN_ENCRYPTION_KEYS = [new]
    with pytest.raises(InvalidToken):
        crypto.decrypt(secret)


def test_unique_identity_is_tenant_and_object_id(
    alice: User, django_user_model: type[User]
) -> None:
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        django_user_model.objects.create(
            username="other",
            entra_tenant_id=alice.entra_tenant_id,
            entra_object_id=alice.entra_object_id,
        )
    # Same object id in another tenant is another person.
    django_user_model.objects.create(
        username="elsewhere", entra_tenant_id=uuid.uuid4(), entra_object_id=alice.entra_object_id
    )
