"""A synced Fabrikam, signed-in people and a clean cache for the permission tests."""

import datetime as dt

import pytest
from django.core.cache import cache
from django.utils import timezone

from accounts import crypto
from accounts.models import EntraCredential
from deployments import sync
from deployments.models import ManagedApplication
from deployments.services import queue_tenant_sync

CONTRIBUTOR = "b24988ac-6180-42a0-ab88-20f7382dd24c"
OWNER = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
PUBLISHER_APP_SP = "c245099c-5407-493f-9eeb-4b52d12f3024"


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


def run_sync(tenant, capture):
    """Queue and run a whole-tenant sync, running on-commit work (the change mails) too."""
    with capture(execute=False):
        run = queue_tenant_sync(tenant=tenant)
    with capture(execute=True):
        sync.run_tenant_sync(run_id=run.pk)
    run.refresh_from_db()
    assert run.state == "succeeded", run.error
    return run


@pytest.fixture
def resync(azure, fabrikam, contoso, django_capture_on_commit_callbacks):
    return lambda tenant=fabrikam: run_sync(tenant, django_capture_on_commit_callbacks)


@pytest.fixture
def synced(resync):
    resync()
    return {app.name: app for app in ManagedApplication.objects.select_related("offer")}


def sign_in(azure, user):
    """What a sign-in leaves behind: a stored credential with a fresh delegated ARM token."""
    token = azure.token_for(str(user.entra_object_id))
    user.email = f"{user.display_name.split()[0].lower()}@example.test"
    user.save()
    EntraCredential.objects.update_or_create(
        user=user,
        defaults={
            "refresh_token_encrypted": crypto.encrypt("not-used-while-the-token-is-fresh"),
            "arm_token_encrypted": crypto.encrypt(token),
            "arm_token_expires_at": timezone.now() + dt.timedelta(hours=1),
            "signed_in_at": timezone.now(),
        },
    )
    return user


@pytest.fixture
def signed_in(azure):
    return lambda user: sign_in(azure, user)
