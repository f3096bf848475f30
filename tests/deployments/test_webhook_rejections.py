"""Refused marketplace webhook requests are tallied per hour and reason, and a tally that cannot
be written never changes the refusal."""

import datetime as dt
import json
import threading

import pytest
from django.core.cache import cache
from django.db import DatabaseError, OperationalError, close_old_connections
from django.test import Client
from pytest_django import Settings

from deployments import rejections
from deployments.models import WebhookRejection
from tests.deployments.test_webhook import URL, _payload
from tests.responses import ClientResponse

pytestmark = pytest.mark.django_db
Reason = WebhookRejection.Reason


@pytest.fixture(autouse=True)
def fresh_counters() -> None:
    cache.clear()


def _post(client: Client, query: str, body: str) -> ClientResponse:
    return client.post(f"{URL}?{query}", data=body, content_type="application/json")


def _tally() -> dict[str, int]:
    return dict(WebhookRejection.objects.values_list("reason", "count"))


def test_wrong_secrets_and_bad_bodies_are_counted_by_reason(
    client: Client, settings: Settings
) -> None:
    good = f"sig={settings.MARKETPLACE_WEBHOOK_SECRET}"
    assert _post(client, "sig=wrong", json.dumps(_payload())).status_code == 401
    assert _post(client, "", json.dumps(_payload())).status_code == 401
    assert _post(client, good, "{not json").status_code == 400
    assert _post(client, good, json.dumps(_payload(eventType="POST"))).status_code == 400
    assert _post(client, good, json.dumps(_payload(eventType="POST"))).status_code == 400
    assert _post(client, good, "x" * (70 * 1024)).status_code == 413
    assert _post(client, good, json.dumps(_payload())).status_code == 200  # not counted

    assert _tally() == {"bad_secret": 2, "bad_body": 3, "too_large": 1}
    hours = set(WebhookRejection.objects.values_list("hour", flat=True))
    assert len(hours) == 1
    (hour,) = hours
    assert (hour.minute, hour.second, hour.microsecond) == (0, 0, 0)


def test_rate_limited_and_locked_out_deliveries_are_counted(
    client: Client, settings: Settings
) -> None:
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "webhook_bad_secret": "2/m"}
    body = json.dumps(_payload())
    for _ in range(2):
        assert _post(client, "sig=guess", body).status_code == 401
    locked = _post(client, f"sig={settings.MARKETPLACE_WEBHOOK_SECRET}", body)
    assert locked.status_code == 429
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "webhook": "1/m"}
    cache.clear()
    assert _post(client, f"sig={settings.MARKETPLACE_WEBHOOK_SECRET}", body).status_code == 200
    assert _post(client, f"sig={settings.MARKETPLACE_WEBHOOK_SECRET}", body).status_code == 429
    assert _tally() == {"bad_secret": 2, "locked_out": 1, "rate_limited": 1}


def test_hostile_text_never_becomes_a_reason(client: Client) -> None:
    _post(client, "sig=x&reason=<script>", "{}")
    assert set(WebhookRejection.objects.values_list("reason", flat=True)) == {"bad_secret"}
    with pytest.raises(ValueError):
        rejections.count_rejection("<script>")  # type: ignore[arg-type]


@pytest.mark.parametrize("failure", [DatabaseError, OperationalError])
def test_a_tally_that_cannot_be_written_still_answers_the_refusal(
    client: Client,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    failure: type[DatabaseError],
) -> None:
    def broken(reason: WebhookRejection.Reason) -> None:
        raise failure("no such table: deployments_webhookrejection")

    monkeypatch.setattr(rejections, "count_rejection", broken)
    wrong = _post(client, "sig=wrong", json.dumps(_payload()))
    assert (wrong.status_code, wrong.json()) == (401, {"error": "missing or wrong sig"})
    bad = _post(client, f"sig={settings.MARKETPLACE_WEBHOOK_SECRET}", "{not json")
    assert bad.status_code == 400
    assert "not counted" in caplog.text
    assert WebhookRejection.objects.count() == 0


def test_a_missing_table_still_answers_the_refusal(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real write failing, not a stand-in: the table name points nowhere."""
    monkeypatch.setattr(WebhookRejection._meta, "db_table", "deployments_no_such_table")
    assert _post(client, "sig=wrong", json.dumps(_payload())).status_code == 401


def test_each_hour_has_its_own_row_and_old_hours_are_dropped() -> None:
    now = dt.datetime(2026, 3, 1, 10, 59, 59, tzinfo=dt.UTC)
    rejections.count_rejection(Reason.BAD_SECRET, at=now - rejections.KEEP - dt.timedelta(hours=2))
    rejections.count_rejection(Reason.BAD_SECRET, at=now - dt.timedelta(hours=1))
    rejections.count_rejection(Reason.BAD_SECRET, at=now)
    rejections.count_rejection(Reason.BAD_SECRET, at=now.replace(minute=0))
    rows = list(WebhookRejection.objects.order_by("hour").values_list("hour", "count"))
    assert rows == [
        (dt.datetime(2026, 3, 1, 9, tzinfo=dt.UTC), 1),
        (dt.datetime(2026, 3, 1, 10, tzinfo=dt.UTC), 2),
    ]


@pytest.mark.django_db(transaction=True)
def test_concurrent_refusals_are_all_counted() -> None:
    """Threads on their own connections race for the first row of the hour."""
    at = dt.datetime(2026, 3, 1, 10, 30, tzinfo=dt.UTC)
    start = threading.Barrier(6)
    errors: list[BaseException] = []

    def refuse() -> None:
        try:
            start.wait()
            for _ in range(5):
                rejections.count_rejection(Reason.BAD_BODY, at=at)
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)
        finally:
            close_old_connections()

    threads = [threading.Thread(target=refuse) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert WebhookRejection.objects.get().count == 30
