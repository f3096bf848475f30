"""Queueing background work after a commit without letting a broker outage undo a saved change.

Every change is saved first, with a row that says what is still to do (an outbox operation, a
queued sync run). If the broker cannot take the task at that moment, the request still succeeds
and the sweeps that look for unfinished rows queue it again once the broker is back
(`jit.requeue_stale_operations`, the stale-run check of `deployments.sync_all_tenants`).
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction
from kombu.exceptions import OperationalError

log = logging.getLogger(__name__)


def publish(task: Any, *args: Any) -> bool:
    """Send the task now; False (and a warning) when the broker cannot be reached."""
    try:
        task.delay(*args)
    except (OperationalError, OSError) as exc:
        log.warning(
            "Could not queue %s%r (%s: the broker is unreachable); a sweep will queue it again",
            task.name,
            args,
            type(exc).__name__,
        )
        return False
    return True


def publish_on_commit(task: Any, *args: Any) -> None:
    """Send the task once the current transaction commits (at once outside one)."""
    transaction.on_commit(lambda: publish(task, *args))


def queue_depth(queue: str | None = None) -> int | None:
    """Messages waiting in the broker's task queue (the default queue unless named), or None
    when the broker cannot be asked."""
    from django.conf import settings

    from portal.celery import app

    name = queue or settings.CELERY_TASK_DEFAULT_QUEUE
    try:
        with app.connection_for_read() as connection:
            channel: Any = connection.default_channel  # kombu types it as StdChannel
            _name, count, _consumers = channel.queue_declare(queue=name, passive=True)
    except Exception as exc:  # any broker failure means "unknown", not a 500
        # A queue that was never declared (no task sent yet) is empty, not an outage.
        if "NOT_FOUND" in str(exc) or type(exc).__name__ == "ChannelError":
            return 0
        log.warning("Could not read the depth of queue %s (%s)", name, type(exc).__name__)
        return None
    return int(count)
