"""Delegated ARM tokens from the stored refresh token, against the emulator over HTTPS."""

import pytest
import requests
from pytest_django.live_server_helper import LiveServer

from accounts import crypto
from accounts.models import EntraCredential, Tenant, User
from accounts.tokens import SignInRequired, arm_access_token
from emulator.server import EmulatorServer
from tests.accounts.test_sign_in import Browser
from tests.conftest import ALICE, FABRIKAM

FABRIKAM_SUBSCRIPTION = "a8c02436-e607-478d-aa9c-f223ff5aabfd"

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def signed_in_alice(azure: EmulatorServer, live_server: LiveServer) -> User:
    Tenant.objects.create(
        entra_tenant_id=FABRIKAM, display_name="Fabrikam", side="customer", state="allowed"
    )
    Browser(live_server.url).sign_in_as(str(ALICE))
    return User.objects.get(entra_object_id=ALICE)


def test_arm_token_is_accepted_by_arm_as_the_person(
    azure: EmulatorServer, signed_in_alice: User
) -> None:
    token, expires_on = arm_access_token(signed_in_alice)
    response = requests.get(
        f"{azure.https_url}/subscriptions/{FABRIKAM_SUBSCRIPTION}/providers/Microsoft.Solutions/applications",
        params={"api-version": "2023-12-01-preview"},
        headers={"Authorization": f"Bearer {token}"},
        verify=azure.ca_bundle,
        timeout=10,
    )
    assert response.status_code == 200, response.text
    assert expires_on > 0


def test_arm_token_is_cached_encrypted_and_reused(
    azure: EmulatorServer, signed_in_alice: User
) -> None:
    first, _ = arm_access_token(signed_in_alice)
    credential = EntraCredential.objects.get(user=signed_in_alice)
    assert credential.arm_token_encrypted is not None
    assert first.encode() not in bytes(credential.arm_token_encrypted)
    refresh_before = crypto.decrypt(credential.refresh_token_encrypted)
    second, _ = arm_access_token(signed_in_alice)
    assert second == first
    credential.refresh_from_db()
    assert crypto.decrypt(credential.refresh_token_encrypted) == refresh_before


def test_a_token_close_to_expiry_is_renewed_and_the_refresh_token_rotated(
    azure: EmulatorServer, signed_in_alice: User
) -> None:
    from datetime import timedelta

    from django.utils import timezone

    arm_access_token(signed_in_alice)
    credential = EntraCredential.objects.get(user=signed_in_alice)
    old_refresh = crypto.decrypt(credential.refresh_token_encrypted)
    EntraCredential.objects.filter(pk=credential.pk).update(
        arm_token_expires_at=timezone.now() + timedelta(minutes=2)
    )
    renewed, _ = arm_access_token(signed_in_alice)
    credential.refresh_from_db()
    assert crypto.decrypt(credential.refresh_token_encrypted) != old_refresh
    assert credential.arm_token_expires_at is not None
    assert credential.arm_token_expires_at > timezone.now() + timedelta(minutes=30)
    assert renewed


def test_an_expired_refresh_token_asks_for_a_new_sign_in(
    azure: EmulatorServer, signed_in_alice: User
) -> None:
    refresh = crypto.decrypt(
        EntraCredential.objects.get(user=signed_in_alice).refresh_token_encrypted
    )
    azure.state.refresh_tokens[refresh]["expires_at"] = 0
    with pytest.raises(SignInRequired, match="AADSTS700082"):
        arm_access_token(signed_in_alice)


def test_no_stored_sign_in_asks_for_one(azure: EmulatorServer, alice: User) -> None:
    with pytest.raises(SignInRequired):
        arm_access_token(alice)
