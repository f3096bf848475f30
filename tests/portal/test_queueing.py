"""The broker's queue depth, as the operations dashboard and the metrics read it."""

import uuid

from celery import Celery

from portal.celery import app
from portal.queueing import queue_depth


def test_queue_depth_counts_the_messages_waiting_in_a_queue() -> None:
    queue = f"depth-{uuid.uuid4().hex[:8]}"
    assert queue_depth(queue) == 0  # never declared: empty, not unknown
    try:
        for _ in range(3):
            app.send_task("portal.depth_probe", queue=queue)
        assert queue_depth(queue) == 3
    finally:
        with app.connection_for_write() as connection:
            connection.default_channel.queue_purge(queue)  # type: ignore[attr-defined]
    assert queue_depth(queue) == 0


def test_queue_depth_is_unknown_when_the_broker_cannot_be_reached() -> None:
    down = Celery("broker-down", set_as_current=False)
    down.conf["broker_url"] = down.conf["broker_read_url"] = "redis://127.0.0.1:1/0"
    down.conf.broker_connection_timeout = 1
    down.conf.broker_connection_retry = False
    down.conf.broker_connection_max_retries = 0
    try:
        assert queue_depth("portal", celery_app=down) is None
    finally:
        down.close()
