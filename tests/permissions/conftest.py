"""A synced Fabrikam, signed-in people and a clean cache for the permission tests."""

import pytest
from django.core.cache import cache

from deployments import sync
from deployments.models import ManagedApplication
from deployments.services import queue_tenant_sync
from jit.mirror import jit_requests_reconcile_scope
from tests.conftest import store_sign_in as sign_in

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
    """Fabrikam as the scheduler leaves it: the tenant synced, then the publisher's JIT scope
    reconciled (the demo's requests live there, so that is where their elevations come from)."""
    resync()
    jit_requests_reconcile_scope()
    return {app.name: app for app in ManagedApplication.objects.select_related("offer")}


@pytest.fixture
def signed_in(azure):
    return lambda user: sign_in(azure, user)
