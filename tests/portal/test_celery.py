import pytest
from celery.contrib.testing.worker import start_worker

from portal.celery import app
from portal.tasks import ping


@pytest.mark.broker
def test_task_round_trip_through_the_configured_broker() -> None:
    """A real worker (in a thread) consumes from the real broker: filesystem or Redis."""
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        result = ping.delay()
        assert result.get(timeout=30) == "pong"
