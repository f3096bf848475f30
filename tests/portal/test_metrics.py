"""GET /metrics: off without a token, refused without the right one, and what it says."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

import pytest
from django.db import DatabaseError
from django.test import Client
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families
from pytest_django import Settings

from accounts.models import Tenant, User
from deployments.models import ManagedApplication, SyncRun
from emulator.server import EmulatorServer
from jit.models import Operation, State
from portal import metrics
from tests.deployments.conftest import make_jit_request

TOKEN = "metrics-token-for-the-tests-0123456789"
pytestmark = pytest.mark.django_db


@pytest.fixture
def token(settings: Settings) -> str:
    settings.METRICS_TOKEN = TOKEN
    return TOKEN


def scrape(client: Client) -> dict[str, list[tuple[str, dict[str, str], float]]]:
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200, response.content[:300]
    assert response["Content-Type"].startswith("text/plain")
    assert "no-store" in response["Cache-Control"]
    samples: dict[str, list[tuple[str, dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(response.content.decode()):
        samples[family.name] = [(s.name, s.labels, s.value) for s in family.samples]
    return samples


def value(samples: dict[str, list[tuple[str, dict[str, str], float]]], name: str) -> float:
    ((_, _, found),) = samples[name]
    return found


def test_metrics_are_off_without_a_token(client: Client, settings: Settings) -> None:
    settings.METRICS_TOKEN = None
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 404


@pytest.mark.parametrize(
    "authorization",
    [None, "", "Bearer", "Bearer wrong", f"Basic {TOKEN}", f"Bearer {TOKEN}x", "Bearer ünï"],
)
def test_a_missing_or_wrong_token_is_refused(
    client: Client, token: str, authorization: str | None
) -> None:
    headers = {} if authorization is None else {"HTTP_AUTHORIZATION": authorization}
    response = client.get("/metrics", **headers)  # type: ignore[arg-type]
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert b"portal_" not in response.content


def test_only_get_is_answered(client: Client, token: str) -> None:
    response = client.post("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 405


@pytest.mark.parametrize(
    "query", ["?%ff%fe", "?a=%00&a=" + "9" * 500, "?format=json&" + "x=1&" * 200, "?%zz"]
)
def test_hostile_query_strings_change_nothing(client: Client, token: str, query: str) -> None:
    assert client.get("/metrics" + query, HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 200
    assert client.get("/metrics" + query).status_code == 401


def test_request_latency_is_recorded_by_view_name_never_by_path(client: Client, token: str) -> None:
    client.get("/healthz")
    client.get(f"/no-such-page-{uuid.uuid4().hex}/")
    client.generic("BREW", "/healthz")
    samples = scrape(client)["portal_http_request_duration_seconds"]
    counts = {
        (labels["view"], labels["method"], labels["status"]): sample_value
        for name, labels, sample_value in samples
        if name.endswith("_count")
    }
    assert counts[("healthz", "GET", "2xx")] >= 1
    assert counts[("unmatched", "GET", "4xx")] >= 1
    assert ("healthz", "other", "4xx") in counts  # an unknown method is not a label value
    assert not any("no-such-page" in view for view, _, _ in counts)


def test_arm_calls_are_counted_after_a_real_gateway_call(
    client: Client, token: str, azure: EmulatorServer
) -> None:
    from azure_gateway import tenant_gateway
    from tests.azure.conftest import FABRIKAM, FABRIKAM_SUB

    with tenant_gateway(FABRIKAM) as gateway:
        list(gateway.list_managed_apps(FABRIKAM_SUB))
    samples = scrape(client)["portal_arm_requests"]
    operation = "GET /subscriptions/{}/providers/Microsoft.Solutions/applications"
    totals = [
        sample_value
        for name, labels, sample_value in samples
        if name == "portal_arm_requests_total"
        and labels == {"operation": operation, "status": "2xx"}
    ]
    assert totals and totals[0] >= 1


def _application(tenant: Tenant) -> ManagedApplication:
    return ManagedApplication.objects.create(
        customer_tenant=tenant,
        arm_id=f"/subscriptions/{uuid.uuid4()}/resourceGroups/rg/providers/Microsoft.Solutions/applications/a",
        name="a",
    )


def test_gauges_match_the_rows(
    client: Client, token: str, fabrikam: Tenant, alice: User, settings: Settings
) -> None:
    app = _application(fabrikam)
    for state in (State.PENDING, State.PENDING, State.APPROVED):
        make_jit_request(app, state=state)
    old = timezone.now() - dt.timedelta(minutes=10)
    Operation.objects.create(kind=Operation.Kind.POLICY, application=app, by=alice, created_at=old)
    Operation.objects.create(kind=Operation.Kind.POLICY, application=app, by=alice)
    Operation.objects.create(
        kind=Operation.Kind.POLICY, application=app, by=alice, status=Operation.Status.DONE
    )
    SyncRun.objects.create(
        tenant=fabrikam, state=SyncRun.State.SUCCEEDED, finished_at=timezone.now()
    )

    samples = scrape(client)

    assert value(samples, "portal_scrape_error") == 0
    assert value(samples, "portal_jit_pending_requests") == 2
    assert value(samples, "portal_unfinished_operations") == 2
    assert 590 < value(samples, "portal_oldest_unfinished_operation_seconds") < 700
    assert value(samples, "portal_last_successful_sync_age_seconds") < 60
    assert value(samples, "portal_queue_depth") >= 0


def test_a_database_error_during_the_scrape_is_a_gauge_not_a_500(
    client: Client, token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> int:
        raise DatabaseError("no database")

    monkeypatch.setattr("django.db.models.query.QuerySet.count", broken)
    samples = scrape(client)
    assert value(samples, "portal_scrape_error") == 1
    assert "portal_jit_pending_requests" not in samples


def test_an_unknown_queue_depth_is_left_out(
    client: Client, token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("portal.queueing.queue_depth", lambda queue=None: None)
    assert "portal_queue_depth" not in scrape(client)


def test_sync_runs_and_decisions_are_timed() -> None:
    started = timezone.now() - dt.timedelta(seconds=30)
    metrics.observe_sync(application=False, succeeded=True, started_at=started)
    metrics.observe_decision(created_at=started, finished_at=timezone.now(), outcome="done")
    sync = metrics.SYNC_DURATION.labels(kind="tenant", outcome="succeeded")
    assert sync._sum.get() >= 30


def test_multiprocess_mode_adds_up_every_process_files(
    client: Client,
    token: str,
    settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from prometheus_client import CollectorRegistry, Counter
    from prometheus_client import values as prometheus_values

    # What another process (a Celery worker, another gunicorn worker) wrote to the directory.
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    monkeypatch.setattr(
        prometheus_values,
        "ValueClass",
        prometheus_values.get_value_class(),  # type: ignore[no-untyped-call]
    )
    Counter("portal_other_process_things", "a test counter", registry=CollectorRegistry()).inc(3)
    settings.PROMETHEUS_MULTIPROC_DIR = str(tmp_path)

    samples = scrape(client)

    assert value(samples, "portal_other_process_things") == 3
    assert value(samples, "portal_scrape_error") == 0
