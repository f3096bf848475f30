"""Retention: old rows the portal deletes once a day, a bounded batch per statement.

- Marketplace notifications (`MarketplaceEvent`) received more than WEBHOOK_EVENT_RETENTION_DAYS
  ago. The "new purchases" notice reads the last day of them; Azure retries one for 10 hours at
  most, so a retry still finds its first copy and is not recorded twice.
- Permission changes (`PermissionChangeEvent`) older than PERMISSION_CHANGE_RETENTION_DAYS whose
  mail was sent. One whose mail was never sent is kept: the periodic retry still owes it. The
  timeline of the last 90 days and the changes feed read them, hence the setting's minimum.
- Finished sync runs: `deployments.runs.prune_sync_runs`, through `delete_in_batches`.

The JIT audit trail (`jit.AuditEvent`) is append-only and never deleted.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone

from deployments.models import MarketplaceEvent, PermissionChangeEvent

log = logging.getLogger(__name__)

# Rows per DELETE statement: each batch is its own short transaction, so a first prune of a big
# table neither holds a long transaction nor locks the table for long.
BATCH_SIZE = 5000


def delete_in_batches(rows: models.QuerySet[Any], *, batch_size: int = BATCH_SIZE) -> int:
    """Delete the rows of a query, `batch_size` primary keys per DELETE, until none is left.
    Returns how many rows of the query's model were deleted."""
    model = rows.model
    deleted = 0
    while True:
        batch = list(rows.order_by("pk").values_list("pk", flat=True)[:batch_size])
        if not batch:
            return deleted
        _, per_model = model._default_manager.filter(pk__in=batch).delete()
        deleted += per_model.get(model._meta.label, 0)


def prune_marketplace_events(*, batch_size: int = BATCH_SIZE) -> int:
    """Delete notifications received more than WEBHOOK_EVENT_RETENTION_DAYS ago."""
    cutoff = timezone.now() - dt.timedelta(days=settings.WEBHOOK_EVENT_RETENTION_DAYS)
    deleted = delete_in_batches(
        MarketplaceEvent.objects.filter(received_at__lt=cutoff), batch_size=batch_size
    )
    log.info("Pruned %d marketplace notifications older than %s", deleted, f"{cutoff:%Y-%m-%d}")
    return deleted


def prune_permission_changes(*, batch_size: int = BATCH_SIZE) -> int:
    """Delete permission changes older than PERMISSION_CHANGE_RETENTION_DAYS whose mail was sent;
    unsent ones are kept."""
    cutoff = timezone.now() - dt.timedelta(days=settings.PERMISSION_CHANGE_RETENTION_DAYS)
    deleted = delete_in_batches(
        PermissionChangeEvent.objects.filter(at__lt=cutoff, mailed_at__isnull=False),
        batch_size=batch_size,
    )
    log.info("Pruned %d mailed permission changes older than %s", deleted, f"{cutoff:%Y-%m-%d}")
    return deleted


def prune_old_records(*, batch_size: int = BATCH_SIZE) -> dict[str, int]:
    """Every prune of this module; how many rows each kind lost."""
    return {
        "marketplace_events": prune_marketplace_events(batch_size=batch_size),
        "permission_changes": prune_permission_changes(batch_size=batch_size),
    }
