"""A subscription's listings for the mirror: its three independent listings sent at once,
through the real gateway and SDK against the emulator."""

import threading
from typing import Any

import pytest
from pytest_django import Settings

from accounts.models import Tenant
from azure_gateway import Forbidden, tenant_gateway
from deployments import listings, sync
from deployments.models import SyncRun
from emulator.server import EmulatorServer

FABRIKAM_SUBSCRIPTION = "a8c02436-e607-478d-aa9c-f223ff5aabfd"
PARALLEL = ("denyAssignments", "/resources", "jitRequests")


class WatchedGateway:
    """The real gateway; notes which thread made each call and how many were in flight."""

    def __init__(self, gateway: Any) -> None:
        self._gateway = gateway
        self._lock = threading.Lock()
        self.threads: dict[str, str] = {}
        self.in_flight = 0
        self.most_in_flight = 0

    def __getattr__(self, name: str) -> Any:
        call = getattr(self._gateway, name)

        def watched(*args: Any) -> Any:
            with self._lock:
                self.threads[name] = threading.current_thread().name
                self.in_flight += 1
                self.most_in_flight = max(self.most_in_flight, self.in_flight)
            try:
                return call(*args)
            finally:
                with self._lock:
                    self.in_flight -= 1

        return watched


def _read(tenant: Tenant) -> tuple[listings.SubscriptionListings, WatchedGateway]:
    with tenant_gateway(str(tenant.entra_tenant_id)) as gateway:
        watched = WatchedGateway(gateway)
        return listings.read_subscription(watched, FABRIKAM_SUBSCRIPTION), watched


def test_the_three_listings_after_the_applications_are_sent_at_once(
    azure: EmulatorServer, fabrikam: Tenant, settings: Settings
) -> None:
    for path in PARALLEL:
        azure.inject_fault(kind="latency", latency_ms=300, count=1, path=path)
    read, watched = _read(fabrikam)
    assert read.apps.items and read.denies and read.resources and read.jit_requests
    assert watched.threads["read_managed_apps"] == threading.current_thread().name
    others = [watched.threads[name] for name in watched.threads if name != "read_managed_apps"]
    assert len(others) == 3 and all(name.startswith("arm-listing") for name in others)
    assert watched.most_in_flight >= 2  # each waited 300 ms in Azure while the others were sent

    settings.ARM_PARALLEL_LISTINGS = 1
    one_by_one, watched = _read(fabrikam)
    assert set(watched.threads.values()) == {threading.current_thread().name}
    assert watched.most_in_flight == 1
    assert one_by_one.digest == read.digest  # the same answers either way


def test_a_refused_listing_fails_the_read_once_none_is_left_running(
    azure: EmulatorServer, fabrikam: Tenant
) -> None:
    azure.inject_fault(kind="latency", latency_ms=300, count=1, path="denyAssignments")
    azure.inject_fault(kind="status", status=403, count=1, path="/resources")
    with tenant_gateway(str(fabrikam.entra_tenant_id)) as gateway:
        watched = WatchedGateway(gateway)
        with pytest.raises(Forbidden):
            listings.read_subscription(watched, FABRIKAM_SUBSCRIPTION)
        assert watched.in_flight == 0  # the slow deny-assignment listing was waited for
        assert "read_subscription_deny_assignments" in watched.threads


def test_throttled_answers_to_the_parallel_listings_count_for_the_run(
    azure: EmulatorServer, fabrikam: Tenant
) -> None:
    # A short Retry-After is waited out inside the SDK, on the listing's own thread; the run
    # still records the 429s.
    azure.inject_fault(kind="throttle", count=2, retry_after=0, path="/resources")
    azure.inject_fault(kind="throttle", count=1, retry_after=0, path="jitRequests")
    run = SyncRun.objects.create(tenant=fabrikam)
    sync.run_tenant_sync(run_id=run.pk)
    run.refresh_from_db()
    assert run.state == SyncRun.State.SUCCEEDED, run.error
    assert run.throttled_responses == 3
    clean = SyncRun.objects.create(tenant=fabrikam)
    sync.run_tenant_sync(run_id=clean.pk)
    clean.refresh_from_db()
    assert clean.throttled_responses == 0
