"""Celery tasks of the deployments app. They pass ids, call the sync, and are safe to run twice:
the sync claims its SyncRun with a conditional update, so a duplicate delivery does nothing."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from deployments import retention, runs, sync
from deployments.permissions import mail


@shared_task(name="deployments.sync_tenant", bind=True, acks_late=True, max_retries=None)
def sync_tenant(self: Any, run_id: int) -> None:
    """Mirror one customer tenant (a queued SyncRun)."""
    sync.run_tenant_sync(run_id=run_id, task=self)


@shared_task(name="deployments.sync_application", bind=True, acks_late=True, max_retries=None)
def sync_application(self: Any, run_id: int) -> None:
    """Mirror one application after a marketplace notification (a queued SyncRun)."""
    sync.run_application_sync(run_id=run_id, task=self)


@shared_task(name="deployments.sync_all_tenants")
def sync_all_tenants() -> int:
    """The periodic fan-out: one sync per allowed customer tenant. Returns how many were queued."""
    return len(runs.sync_all_tenants())


@shared_task(name="deployments.send_unsent_change_mails")
def send_unsent_change_mails() -> int:
    """Send again the permission change mails that could not be sent. Returns the messages sent."""
    return mail.send_unsent_change_mails()


@shared_task(name="deployments.prune_sync_runs")
def prune_sync_runs() -> int:
    """Delete old finished sync runs. Returns how many were deleted."""
    return runs.prune_sync_runs()


@shared_task(name="deployments.prune_old_records")
def prune_old_records() -> dict[str, int]:
    """Delete old marketplace notifications and old mailed permission changes (a second run finds
    nothing left to delete). Returns how many rows each kind lost."""
    return retention.prune_old_records()
