"""JIT tasks: ids in, quiet return when the row is gone, safe to run twice.

Task names are a wire contract (beat entries in jit/schedule.py name them).
"""

from __future__ import annotations

import random
import time
from typing import Any

from celery import shared_task
from celery.app.task import Task
from django.conf import settings
from django.db.models import F, Value
from django.db.models.functions import Concat

from accounts.models import Tenant
from accounts.tokens import TokenServiceUnavailable
from azure_gateway import Throttled, Transient
from deployments.models import ManagedApplication
from jit import activity, mirror, notifications, outbox, services, windows
from jit.models import AuditEvent, JitRequest, State

MAX_RETRIES = 8


def backoff(retries: int) -> float:
    """Exponential backoff with jitter: about 2, 4, 8 … seconds, capped at ten minutes."""
    return min(600.0, 2.0 ** (retries + 1)) * random.uniform(0.8, 1.2)


def _retry(task: Task[Any, Any], exc: Exception) -> None:
    countdown = exc.retry_after if isinstance(exc, Throttled) else backoff(task.request.retries)
    raise task.retry(exc=exc, countdown=countdown, max_retries=MAX_RETRIES)


@shared_task(name="jit.submit_operation", bind=True, acks_late=True, max_retries=MAX_RETRIES)
def submit_operation(self: Task[Any, Any], operation_id: int) -> None:
    """Submit one outbox operation to ARM as the person who made it."""
    try:
        outbox.operation_submit(operation_id=operation_id)
    except (Transient, TokenServiceUnavailable) as exc:
        if self.request.retries >= MAX_RETRIES:
            outbox.operation_give_up(operation_id=operation_id, message=str(exc))
            return
        _retry(self, exc)


@shared_task(name="jit.requeue_stale_operations")
def requeue_stale_operations() -> int:
    """Queue again the operations that never reached a worker or lost theirs."""
    return len(outbox.requeue_stale_operations())


@shared_task(name="jit.reconcile_requests")
def reconcile_requests() -> None:
    """Queue the reconciliations: the publisher's JIT scope (one listing for every customer),
    and each customer tenant with requests living in its own subscriptions."""
    if mirror.publisher_scope():
        reconcile_scope_requests.delay()
    tenant_ids = (
        ManagedApplication.objects.filter(jit_enabled=True, vanished_at__isnull=True)
        .values_list("customer_tenant_id", flat=True)
        .distinct()
    )
    if mirror.publisher_scope():
        # Only tenants with open requests made in their subscriptions (the application scope,
        # or before the publisher's scope was configured).
        tenant_ids = tenant_ids.filter(
            jit_requests__state__in=[State.PENDING, State.APPROVED, State.UNKNOWN],
            jit_requests__arm_id__istartswith=Concat(
                Value("/subscriptions/"), F("subscription_id"), Value("/")
            ),
        )
    for tenant_id in tenant_ids:
        reconcile_tenant_requests.delay(tenant_id)


@shared_task(
    name="jit.reconcile_scope_requests", bind=True, acks_late=True, max_retries=MAX_RETRIES
)
def reconcile_scope_requests(self: Task[Any, Any]) -> None:
    """Mirror every request in the publisher's JIT scope from ARM."""
    try:
        mirror.jit_requests_reconcile_scope()
    except Transient as exc:
        _retry(self, exc)


@shared_task(
    name="jit.reconcile_tenant_requests", bind=True, acks_late=True, max_retries=MAX_RETRIES
)
def reconcile_tenant_requests(self: Task[Any, Any], tenant_id: int) -> None:
    """Mirror the requests living in one customer tenant's subscriptions from ARM."""
    tenant = Tenant.objects.filter(pk=tenant_id).first()
    if tenant is None:
        return
    try:
        mirror.jit_requests_reconcile(tenant=tenant)
    except Transient as exc:
        _retry(self, exc)


@shared_task(name="jit.watch_request", bind=True, acks_late=True, max_retries=MAX_RETRIES)
def watch_request(self: Task[Any, Any], jit_request_id: str, started: float | None = None) -> None:
    """Read a pending request again and again while a decision recorded here is made in Azure,
    so the outcome shows within seconds; gives up after JIT_WATCH_MINUTES."""
    started = started or time.time()
    jit = (
        JitRequest.objects.filter(pk=jit_request_id, state=State.PENDING)
        .select_related("application", "application__customer_tenant")
        .first()
    )
    if jit is None:
        return
    try:
        mirror.jit_request_refresh(jit)
    except Transient as exc:
        _retry(self, exc)
    if self.request.is_eager:
        return  # run in-process (tests): one look; a worker keeps looking
    still_pending = JitRequest.objects.filter(pk=jit.pk, state=State.PENDING).exists()
    if still_pending and time.time() - started < settings.JIT_WATCH_MINUTES * 60:
        watch_request.apply_async((jit_request_id, started), countdown=settings.JIT_WATCH_INTERVAL)


@shared_task(name="jit.send_timeout_warnings")
def send_timeout_warnings() -> int:
    """Warn approvers of requests about to time out (each request once)."""
    return services.jit_timeout_warnings_send()


@shared_task(name="jit.run_approval_windows")
def run_approval_windows() -> None:
    """Plan, announce, open and close approval windows (every minute; safe to overlap)."""
    windows.approval_windows_tick()


@shared_task(name="jit.send_notifications", bind=True, acks_late=True, max_retries=3)
def send_notifications(self: Task[Any, Any], event_id: int) -> None:
    """Send the e-mails an audit event calls for."""
    event = (
        AuditEvent.objects.filter(pk=event_id)
        .select_related("jit_request", "application", "tenant")
        .first()
    )
    if event is None:
        return
    try:
        notifications.notify(event)
    except OSError as exc:  # the mail server is unreachable
        raise self.retry(exc=exc, countdown=backoff(self.request.retries)) from None


@shared_task(
    name="jit.fetch_elevation_activity", bind=True, acks_late=True, max_retries=MAX_RETRIES
)
def fetch_elevation_activity(self: Task[Any, Any], jit_request_id: str) -> None:
    """Copy the elevated principal's activity during a grant from the activity log."""
    jit = JitRequest.objects.filter(pk=jit_request_id).select_related("application").first()
    if jit is None:
        return
    try:
        activity.elevation_activity_fetch(jit_request=jit)
    except Transient as exc:
        _retry(self, exc)
