"""The tally of refused marketplace webhook requests: one row per hour and reason.

`count_rejection` adds one to the row of the current hour, creating it on the first refusal of
that hour. Two web processes refusing at the same moment both count: the increment is an
UPDATE with F(), and the row that one of them creates first is incremented by the other when
its own INSERT hits the unique constraint. Rows older than `KEEP` go when a new hour's row is
created, so the table never holds more than a few thousand rows.
"""

from __future__ import annotations

import datetime as dt

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from deployments.models import WebhookRejection

KEEP = dt.timedelta(days=30)


def start_of_hour(moment: dt.datetime) -> dt.datetime:
    return moment.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)


def count_rejection(reason: WebhookRejection.Reason, *, at: dt.datetime | None = None) -> None:
    """Add one refusal for `reason` (one of the fixed choices, never text from the request)."""
    reason = WebhookRejection.Reason(reason)  # anything else is a bug: ValueError
    hour = start_of_hour(at or timezone.now())
    rows = WebhookRejection.objects.filter(hour=hour, reason=reason)
    with transaction.atomic():
        if rows.update(count=F("count") + 1):
            return
        try:
            with transaction.atomic():  # a savepoint: PostgreSQL aborts the transaction otherwise
                WebhookRejection.objects.create(hour=hour, reason=reason, count=1)
        except IntegrityError:
            # Another process created the row between our UPDATE and INSERT.
            rows.update(count=F("count") + 1)
            return
        WebhookRejection.objects.filter(hour__lt=hour - KEEP).delete()
