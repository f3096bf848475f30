"""/readyz: 200 when the database and the broker answer and every migration is applied, 503
naming the failed check otherwise; the public never learns which backends are in use."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.recorder import MigrationRecorder
from django.test import Client, override_settings

from accounts.models import User
from tests.portal.conftest import UnreachableDatabase

BACKEND_NAMES = (b"sqlite", b"postgres", b"redis", b"filesystem", b"127.0.0.1", b"localhost")


def assert_names_no_backend(content: bytes) -> None:
    for name in BACKEND_NAMES:
        assert name not in content.lower()


@pytest.mark.django_db
def test_readyz_is_200_when_everything_answers(client: Client) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready"}
    assert "no-cache" in response["Cache-Control"]
    assert_names_no_backend(response.content)


@pytest.mark.django_db
def test_readyz_is_503_naming_the_broker_when_it_is_unreachable(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    # Port 1 on loopback: nothing listens there, the connection is refused at once.
    with override_settings(CELERY_BROKER_URL="redis://:secret@127.0.0.1:1/0"):
        response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "failed": ["broker"]}
    assert_names_no_backend(response.content)
    assert "Readiness check failed: broker" in caplog.text
    assert "secret" not in caplog.text


@pytest.mark.django_db
def test_readyz_is_503_naming_migrations_when_one_is_not_applied(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    # The newest migration of the jit app is recorded as not applied, as after deploying code
    # with a new migration before `migrate` ran. The test's transaction puts the record back.
    executor = MigrationExecutor(connection)
    app_label, name = executor.loader.graph.leaf_nodes("jit")[0]
    MigrationRecorder(connection).record_unapplied(app_label, name)

    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "failed": ["migrations"]}
    assert "Readiness check failed: migrations (1 unapplied)" in caplog.text


@pytest.mark.django_db
def test_readyz_is_200_for_migrations_this_code_does_not_know(client: Client) -> None:
    # While old processes still run during an upgrade, the new release's migrations are
    # applied already: old code stays ready.
    MigrationRecorder(connection).record_applied("jit", "9999_from_a_newer_release")
    assert client.get("/readyz").status_code == 200


@pytest.mark.django_db(transaction=True)
def test_readyz_is_503_naming_only_the_database_when_it_is_down(
    client: Client, database: UnreachableDatabase, caplog: pytest.LogCaptureFixture
) -> None:
    database.down()
    response = client.get("/readyz")
    assert response.status_code == 503
    # Migrations cannot be read without the database: they are not reported as a second failure.
    assert response.json() == {"status": "unavailable", "failed": ["database"]}
    assert_names_no_backend(response.content)
    assert "Readiness check failed: database" in caplog.text
    database.up()
    assert client.get("/readyz").status_code == 200


@pytest.mark.django_db
def test_readyz_tells_operators_nothing_more(client: Client) -> None:
    # Unlike /healthz, /readyz has one answer for everyone: it never reads the session.
    client.force_login(User.objects.create(username="operator", is_staff=True))
    with override_settings(CELERY_BROKER_URL="redis://127.0.0.1:1/0"):
        response = client.get("/readyz")
    assert response.json() == {"status": "unavailable", "failed": ["broker"]}


@pytest.mark.django_db
def test_readyz_answers_only_get(client: Client) -> None:
    assert client.post("/readyz").status_code == 405
