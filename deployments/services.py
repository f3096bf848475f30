"""Workflows of the deployments app: keeping the ARM mirror in step."""

from __future__ import annotations

from django.db import IntegrityError, transaction

from accounts.models import Tenant
from deployments.models import SyncRun
from portal.queueing import publish_on_commit


def queue_tenant_sync(*, tenant: Tenant) -> SyncRun:
    """Queue a whole-tenant sync, or return the one already queued or running."""
    from deployments.tasks import sync_tenant

    try:
        with transaction.atomic():
            run = SyncRun.objects.create(tenant=tenant)
            publish_on_commit(sync_tenant, run.pk)
            return run
    except IntegrityError:
        # The unique constraint on open runs: another sync of this tenant is already under way.
        return SyncRun.objects.filter(
            tenant=tenant,
            application_arm_id="",
            state__in=[SyncRun.State.QUEUED, SyncRun.State.RUNNING],
        ).get()
