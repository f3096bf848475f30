"""The outbox sweep: operations that were saved but never reached a worker (the broker was down
at commit) or whose worker died mid-submission are queued again.

A queued submission that the sweep duplicates is harmless: `services.operation_submit` claims an
operation with a conditional UPDATE and holds it for `CLAIM_LEASE`, and every ARM call it makes
is idempotent.
"""

from __future__ import annotations

import datetime as dt

from django.db.models import Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from jit import services
from jit.models import Operation

# Longer than the tasks' own retry backoff (at most about 12 minutes), so the sweep does not
# hurry a submission that waits for Azure's Retry-After.
QUEUED_FOR_TOO_LONG = dt.timedelta(minutes=15)
# After this many claims an operation is given up on, with a message on its page.
MAX_ATTEMPTS = 20


def stale_operations(now: dt.datetime | None = None) -> list[tuple[int, int]]:
    """(id, attempts) of each operation the sweep should queue again."""
    now = now or timezone.now()
    return list(
        Operation.objects.annotate(last_touched=Coalesce("claimed_at", "created_at"))
        .filter(
            Q(status=Operation.Status.QUEUED, last_touched__lt=now - QUEUED_FOR_TOO_LONG)
            | Q(status=Operation.Status.RUNNING, claimed_at__lt=now - services.CLAIM_LEASE)
        )
        .order_by("pk")
        .values_list("pk", "attempts")
    )


def requeue_stale_operations(now: dt.datetime | None = None) -> list[int]:
    """Queue each stale operation again (or give up on it); returns the ids queued."""
    from jit import tasks
    from portal.queueing import publish

    queued = []
    for pk, attempts in stale_operations(now):
        if attempts >= MAX_ATTEMPTS:
            services.operation_give_up(
                operation_id=pk, message=f"Azure could not be reached in {attempts} attempts."
            )
        elif publish(tasks.submit_operation, pk):
            queued.append(pk)
    return queued
