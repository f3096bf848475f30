"""While the database or the broker is down: pages answer 503 with a page that says so and
recover by themselves; a change saved while the broker is down is still saved, and its task is
queued by the sweep once the broker is back."""

import logging
import time
from collections.abc import Iterator

import pytest
from celery import Celery, Task
from django.test import Client

from accounts.models import User
from portal import queueing
from portal.celery import app
from tests.portal.conftest import UnreachableDatabase

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def unreachable_task() -> Iterator[Task[[], str]]:
    """A task of a Celery app whose broker is a port where nothing listens."""
    down = Celery("broker-down", broker="redis://127.0.0.1:1/0", set_as_current=False)
    # Set in the configuration too: CELERY_BROKER_URL in the environment outranks `broker=`.
    down.conf["broker_url"] = down.conf["broker_write_url"] = "redis://127.0.0.1:1/0"
    down.conf.broker_connection_timeout = 1
    down.conf.task_publish_retry_policy = app.conf.task_publish_retry_policy

    @down.task(name="portal.ping")
    def ping() -> str:
        return "pong"

    yield ping
    down.close()


@pytest.mark.parametrize(
    "path", ["/", "/jit/", "/apps/applications/", "/accounts/profile/", "/jit/audit.csv"]
)
def test_pages_answer_503_while_the_database_is_down_and_recover(
    client: Client, alice: User, database: UnreachableDatabase, path: str
) -> None:
    client.force_login(alice)
    database.down()
    during_outage = client.get(path)
    assert during_outage.status_code == 503  # each needs the session, kept in the database
    assert b"temporarily unavailable" in during_outage.content
    assert during_outage["Retry-After"] == "30"
    assert "no-store" in during_outage["Cache-Control"]
    database.up()
    assert client.get(path).status_code == 200


def test_a_signed_in_page_is_503_not_500_without_the_database(
    client: Client, alice: User, database: UnreachableDatabase, caplog: pytest.LogCaptureFixture
) -> None:
    client.force_login(alice)
    database.down()
    response = client.get("/jit/")
    assert response.status_code == 503
    assert "Answering 503" in caplog.text


def test_healthz_answers_503_json_without_the_database(
    client: Client, database: UnreachableDatabase
) -> None:
    database.down()
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable"}


def test_a_task_that_cannot_be_queued_is_logged_and_the_caller_carries_on(
    unreachable_task: Task[[], str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="portal.queueing")
    started = time.monotonic()
    assert queueing.publish(unreachable_task) is False
    assert time.monotonic() - started < 10  # the web request is not held for long
    assert "Could not queue portal.ping" in caplog.text
    assert "a sweep will queue it again" in caplog.text
