from pathlib import Path

import pytest
from django.test import Client, override_settings
from pytest_django import Settings

from accounts.models import User


@pytest.fixture
def operator_client(client: Client, db: None) -> Client:
    client.force_login(User.objects.create(username="operator", is_staff=True))
    return client


@pytest.mark.django_db
def test_healthz_reports_ok_and_nothing_else_to_the_public(client: Client) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    for backend in (b"sqlite", b"postgresql", b"redis", b"filesystem"):
        assert backend not in response.content.lower()


def test_operators_see_each_check(operator_client: Client) -> None:
    body = operator_client.get("/healthz").json()
    assert body["status"] == "ok"
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["broker"]["ok"] is True


@pytest.mark.django_db
def test_healthz_is_503_when_redis_broker_is_unreachable(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    # Port 1 on loopback: nothing listens there, the connection is refused at once.
    with override_settings(CELERY_BROKER_URL="redis://:secret@127.0.0.1:1/0"):
        response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable"}
    assert "Health check failed: broker" in caplog.text
    assert "secret" not in caplog.text


def test_operators_see_which_check_failed(operator_client: Client) -> None:
    with override_settings(CELERY_BROKER_URL="redis://:secret@127.0.0.1:1/0"):
        response = operator_client.get("/healthz")
    body = response.json()
    assert body["checks"]["broker"]["ok"] is False
    assert body["checks"]["database"]["ok"] is True
    assert b"secret" not in response.content


@pytest.mark.django_db
def test_healthz_is_503_when_filesystem_queue_folder_is_missing(
    client: Client, settings: Settings, tmp_path: Path
) -> None:
    settings.CELERY_BROKER_URL = "filesystem://localhost/"
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {"data_folder_in": str(tmp_path / "gone")}
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable"}


@pytest.mark.django_db
def test_healthz_answers_only_get(client: Client) -> None:
    assert client.post("/healthz").status_code == 405
