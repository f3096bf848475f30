import pytest
from django.test import Client
from pytest_django import DjangoCaptureOnCommitCallbacks

from accounts.adapters import NO_ACCESS_SESSION_KEY
from accounts.models import Tenant, User


def test_profile_shows_your_roles_and_what_they_allow(client: Client, alice: User) -> None:
    client.force_login(alice)
    response = client.get("/accounts/profile/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "Customer admin" in page
    assert "Approve or deny publisher elevation requests" in page
    assert str(alice.entra_object_id) in page


def test_profile_of_a_reader_says_they_change_nothing(client: Client, bob: User) -> None:
    client.force_login(bob)
    page = client.get("/accounts/profile/").content.decode()
    assert "Customer reader" in page
    assert "Change nothing" in page
    assert "Customer admin" not in page


def test_profile_shows_only_your_own_memberships(
    client: Client, alice: User, charlie: User
) -> None:
    client.force_login(charlie)
    page = client.get("/accounts/profile/").content.decode()
    assert "Northwind Traders" in page
    assert "Fabrikam" not in page
    assert str(alice.entra_object_id) not in page


@pytest.mark.django_db
def test_profile_needs_sign_in(client: Client) -> None:
    response = client.get("/accounts/profile/")
    assert response.status_code == 302
    assert response["Location"].startswith("/auth/login/")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("reason", "expected"),
    [
        ("pending", "waiting for review"),
        ("blocked", "has been blocked"),
        ("no_role", "you hold no role in the portal"),
    ],
)
def test_no_access_page_explains_what_to_ask_for(
    client: Client, reason: str, expected: str
) -> None:
    session = client.session
    session[NO_ACCESS_SESSION_KEY] = {
        "reason": reason,
        "tenant": "Fabrikam",
        "tenant_id": "3197bd27-109d-45f9-bdce-8200dec65df6",
        "name": "Dave Dunn",
    }
    session.save()
    response = client.get("/accounts/no-access/")
    assert response.status_code == 403
    assert expected in response.content.decode()


@pytest.mark.django_db
def test_login_page_offers_entra_sign_in_by_post(client: Client) -> None:
    page = client.get("/auth/login/").content.decode()
    assert 'action="/auth/entra/login/?process=login' in page
    assert 'method="post"' in page


def test_operators_queue_a_sync_from_the_tenant_admin(
    admin_client: Client,
    fabrikam: Tenant,
    contoso: Tenant,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    from deployments.models import SyncRun

    with django_capture_on_commit_callbacks(execute=False) as queued:
        response = admin_client.post(
            "/admin/accounts/tenant/",
            {"action": "sync_now", "_selected_action": [fabrikam.pk, contoso.pk]},
            follow=True,
        )
    assert "Queued a sync of 1 tenant(s). Skipped 1" in response.content.decode()
    assert SyncRun.objects.get().tenant == fabrikam
    assert len(queued) == 1
