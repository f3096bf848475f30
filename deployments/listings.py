"""What a sync reads from ARM for one subscription, with the independent listings in parallel.

A subscription's applications are listed first; when it holds any, its deny assignments,
resources and JIT requests are three more listings that depend on nothing but the subscription,
so they are sent at once from a small pool of threads. Against ARM, whose answers take tens to
hundreds of milliseconds, that turns four round trips per subscription into two; the calls and
their number are the same, so is the read budget they use.
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from django.conf import settings

from azure_gateway import AzureGateway, Forbidden, Listing, NotFound
from azure_gateway.records import (
    DenyAssignmentRecord,
    JitRequestRecord,
    ManagedAppRecord,
    ResourceRecord,
)

R = TypeVar("R")

_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


@dataclass
class SubscriptionListings:
    """The listings a subscription's applications are mirrored from, as ARM answered them."""

    apps: Listing[ManagedAppRecord]
    # Not read when the subscription holds no managed application.
    denies: Listing[DenyAssignmentRecord] | None = None
    resources: Listing[ResourceRecord] | None = None
    jit_requests: Listing[JitRequestRecord] | None = None

    @property
    def digest(self) -> str:
        listings = (self.apps, self.denies, self.resources, self.jit_requests)
        text = "/".join(listing.digest if listing else "-" for listing in listings)
        return hashlib.sha256(text.encode()).hexdigest()


def read_subscription(gateway: AzureGateway, subscription_id: str) -> SubscriptionListings:
    """Every listing of one subscription; an error in any of them is raised here, after the
    others have finished (none is left running)."""
    listings = SubscriptionListings(apps=gateway.read_managed_apps(subscription_id))
    if not listings.apps.items:
        return listings
    if settings.ARM_PARALLEL_LISTINGS <= 1:
        listings.denies = gateway.read_subscription_deny_assignments(subscription_id)
        listings.resources = gateway.read_subscription_resources(subscription_id)
        listings.jit_requests = _jit_requests_if_offered(gateway, subscription_id)
        return listings
    denies = _in_parallel(gateway.read_subscription_deny_assignments, subscription_id)
    resources = _in_parallel(gateway.read_subscription_resources, subscription_id)
    jit_requests = _in_parallel(_jit_requests_if_offered, gateway, subscription_id)
    try:
        listings.denies = denies.result()
        listings.resources = resources.result()
        listings.jit_requests = jit_requests.result()
    finally:
        for future in (denies, resources, jit_requests):
            future.cancel()
            with contextlib.suppress(BaseException):
                future.result()  # wait: a failed run must not leave a listing in flight
    return listings


def _jit_requests_if_offered(
    gateway: AzureGateway, subscription_id: str
) -> Listing[JitRequestRecord] | None:
    # Answered 404 or 403 where the subscription's offers have no JIT access.
    with contextlib.suppress(NotFound, Forbidden):
        return gateway.read_jit_requests(subscription_id)
    return None


def _in_parallel(call: Callable[..., R], *args: Any) -> Future[R]:
    global _pool
    with _pool_lock:
        if _pool is None:  # started on first use, in the process that syncs (after a fork)
            _pool = ThreadPoolExecutor(
                max_workers=settings.ARM_PARALLEL_LISTINGS, thread_name_prefix="arm-listing"
            )
    # The caller's context goes along: its log fields and its count of throttled answers.
    context = contextvars.copy_context()
    return _pool.submit(context.run, call, *args)


def records(listing: Listing[R] | None) -> list[R]:
    return listing.records() if listing else []
