"""Queueing and scheduling sync runs: one open whole-tenant run per tenant, stale runs closed,
old runs pruned. Running a run is `deployments.sync`.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.db import IntegrityError, models, transaction
from django.utils import timezone

from accounts.models import Side, Tenant
from deployments import retention
from deployments.models import SyncRun
from portal.queueing import publish_on_commit

log = logging.getLogger(__name__)

# A run queued or running for longer than this lost its worker; beat closes it and queues anew.
STALE_AFTER = dt.timedelta(minutes=15)
# Tries at queueing a tenant's sync while other syncs of it open and finish meanwhile.
QUEUE_ATTEMPTS = 5


def queue_tenant_sync(*, tenant: Tenant) -> SyncRun:
    """Queue a whole-tenant sync, or return the one already queued or running."""
    from deployments.tasks import sync_tenant

    for _ in range(QUEUE_ATTEMPTS):
        try:
            with transaction.atomic():
                run = SyncRun.objects.create(tenant=tenant)
                publish_on_commit(sync_tenant, run.pk)
                return run
        except IntegrityError:
            # The unique constraint on open runs: another sync of this tenant is under way...
            open_run = SyncRun.objects.filter(
                tenant=tenant,
                application_arm_id="",
                state__in=[SyncRun.State.QUEUED, SyncRun.State.RUNNING],
            ).first()
            if open_run is not None:
                return open_run
            # ...or was, and finished between the insert and this read: queue anew.
    raise RuntimeError(f"could not queue a sync of {tenant}: open runs kept appearing and ending")


def queue_application_sync(*, tenant: Tenant, application_arm_id: str) -> SyncRun:
    """Queue a sync of one application (after a marketplace notification). Inside a transaction
    the run is part of it (no savepoint: nothing here is worth one), and the task is sent when
    that transaction commits."""
    from deployments.tasks import sync_application

    with transaction.atomic(savepoint=False):
        run = SyncRun.objects.create(tenant=tenant, application_arm_id=application_arm_id)
        publish_on_commit(sync_application, run.pk)
    return run


def sync_all_tenants() -> list[SyncRun]:
    """Queue a sync of every allowed customer tenant; give up on runs whose worker vanished."""
    cutoff = timezone.now() - STALE_AFTER
    SyncRun.objects.filter(
        models.Q(state=SyncRun.State.RUNNING, started_at__lt=cutoff)
        | models.Q(state=SyncRun.State.QUEUED, queued_at__lt=cutoff)
    ).update(
        state=SyncRun.State.FAILED,
        finished_at=timezone.now(),
        error="The sync did not finish (its worker stopped); a new one was queued.",
    )
    tenants = Tenant.objects.filter(side=Side.CUSTOMER, state=Tenant.State.ALLOWED)
    return [queue_tenant_sync(tenant=tenant) for tenant in tenants]


def prune_sync_runs(*, batch_size: int = retention.BATCH_SIZE) -> int:
    """Delete finished runs older than SYNC_RUN_RETENTION_DAYS, except each tenant's last
    successful one (pages show when a tenant was last synced). Returns how many were deleted."""
    cutoff = timezone.now() - dt.timedelta(days=settings.SYNC_RUN_RETENTION_DAYS)
    last_successes = (
        Tenant.objects.annotate(
            run=models.Subquery(
                SyncRun.objects.filter(tenant=models.OuterRef("pk"), state=SyncRun.State.SUCCEEDED)
                .order_by("-finished_at")
                .values("pk")[:1]
            )
        )
        .filter(run__isnull=False)  # NOT IN with a NULL would keep everything
        .values("run")
    )
    deleted = retention.delete_in_batches(
        SyncRun.objects.filter(finished_at__lt=cutoff).exclude(pk__in=last_successes),
        batch_size=batch_size,
    )
    log.info("Pruned %d finished sync runs older than %s", deleted, f"{cutoff:%Y-%m-%d}")
    return deleted
