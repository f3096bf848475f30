"""A synced Fabrikam, signed-in people and a clean cache for the permission tests."""

from collections.abc import Callable, Iterator
from typing import Protocol

import pytest
from django.core.cache import cache
from pytest_django import DjangoCaptureOnCommitCallbacks

from accounts.models import Tenant, User
from deployments import sync
from deployments.models import ManagedApplication, SyncRun
from deployments.runs import queue_tenant_sync
from emulator.server import EmulatorServer
from jit.mirror import jit_requests_reconcile_scope
from tests.conftest import store_sign_in as sign_in

CONTRIBUTOR = "b24988ac-6180-42a0-ab88-20f7382dd24c"
OWNER = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
PUBLISHER_APP_SP = "c245099c-5407-493f-9eeb-4b52d12f3024"


class Resync(Protocol):
    """The `resync` fixture: sync a tenant (Fabrikam unless told) and return its finished run."""

    def __call__(self, tenant: Tenant = ...) -> SyncRun: ...


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    cache.clear()
    yield
    cache.clear()


def run_sync(tenant: Tenant, capture: DjangoCaptureOnCommitCallbacks) -> SyncRun:
    """Queue and run a whole-tenant sync, running on-commit work (the change mails) too."""
    with capture(execute=False):
        run = queue_tenant_sync(tenant=tenant)
    with capture(execute=True):
        sync.run_tenant_sync(run_id=run.pk)
    run.refresh_from_db()
    assert run.state == "succeeded", run.error
    return run


@pytest.fixture
def resync(
    azure: EmulatorServer,
    fabrikam: Tenant,
    contoso: Tenant,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> Resync:
    def resync(tenant: Tenant = fabrikam) -> SyncRun:
        return run_sync(tenant, django_capture_on_commit_callbacks)

    return resync


@pytest.fixture
def synced(resync: Resync) -> dict[str, ManagedApplication]:
    """Fabrikam as the scheduler leaves it: the tenant synced, then the publisher's JIT scope
    reconciled (the demo's requests live there, so that is where their elevations come from)."""
    resync()
    jit_requests_reconcile_scope()
    return {app.name: app for app in ManagedApplication.objects.select_related("offer")}


@pytest.fixture
def signed_in(azure: EmulatorServer) -> Callable[[User], User]:
    return lambda user: sign_in(azure, user)
