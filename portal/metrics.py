"""Prometheus metrics and the `GET /metrics` endpoint (docs/operations.md, "Logs and metrics").

Recorded where things happen: request latency (portal/request_context.py), sync runs
(deployments/sync.py), JIT decisions (jit/outbox.py), ARM's answers (azure_gateway/observe.py).
Read at scrape time: the gauges of `DatabaseCollector`, a few bounded queries.

With PROMETHEUS_MULTIPROC_DIR set, prometheus_client keeps every process's samples in files in
that directory (web workers and Celery workers of one host) and the endpoint adds them up;
without it, each process has its own registry (the demo, the tests).
"""

from __future__ import annotations

import datetime as dt
import hmac
import logging
from collections.abc import Iterator

from django.conf import settings
from django.db import DatabaseError
from django.db.models import Count, Max, Min
from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from azure_gateway.observe import status_class

log = logging.getLogger(__name__)

# Latencies of pages and of Azure-bound work differ by orders of magnitude: two bucket sets.
_REQUEST_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_WORK_BUCKETS = (0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0)

REQUEST_DURATION = Histogram(
    "portal_http_request_duration_seconds",
    "Time to answer a request, by view name, method and status class",
    ["view", "method", "status"],
    buckets=_REQUEST_BUCKETS,
)
SYNC_DURATION = Histogram(
    "portal_sync_duration_seconds",
    "Time from a sync run's start to its end, by kind (tenant, application) and outcome",
    ["kind", "outcome"],
    buckets=_WORK_BUCKETS,
)
DECISION_LATENCY = Histogram(
    "portal_jit_decision_seconds",
    "Time from a person's JIT decision to Azure confirming it (or the portal giving up)",
    ["outcome"],
    buckets=_WORK_BUCKETS,
)

# Methods a label may hold; a client can send any word, and labels must stay few.
_METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}


def observe_request(*, view: str, method: str, status: int, seconds: float) -> None:
    REQUEST_DURATION.labels(
        view=view, method=method if method in _METHODS else "other", status=status_class(status)
    ).observe(seconds)


def observe_sync(*, application: bool, succeeded: bool, started_at: dt.datetime | None) -> None:
    if started_at is None:
        return
    SYNC_DURATION.labels(
        kind="application" if application else "tenant",
        outcome="succeeded" if succeeded else "failed",
    ).observe(max(0.0, (timezone.now() - started_at).total_seconds()))


def observe_decision(*, created_at: dt.datetime, finished_at: dt.datetime, outcome: str) -> None:
    DECISION_LATENCY.labels(outcome=outcome).observe(
        max(0.0, (finished_at - created_at).total_seconds())
    )


class DatabaseCollector(Collector):
    """Gauges read from the database (and the broker) when Prometheus asks: three aggregate
    queries and one broker call. A failure yields `portal_scrape_error 1` instead of an error."""

    def collect(self) -> Iterator[Metric]:
        from deployments.models import SyncRun
        from jit.models import JitRequest, Operation, State
        from portal.queueing import queue_depth

        now = timezone.now()
        try:
            pending = JitRequest.objects.filter(state=State.PENDING).count()
            operations = Operation.objects.unfinished().aggregate(
                count=Count("pk"), oldest=Min("created_at")
            )
            last_success = SyncRun.objects.filter(state=SyncRun.State.SUCCEEDED).aggregate(
                last=Max("finished_at")
            )["last"]
        except DatabaseError as exc:
            log.warning("Metrics: could not read the database (%s)", type(exc).__name__)
            yield _gauge("portal_scrape_error", "1 when the last scrape could not read all", 1)
            return
        yield _gauge("portal_scrape_error", "1 when the last scrape could not read all", 0)
        yield _gauge("portal_jit_pending_requests", "JIT requests waiting for a decision", pending)
        yield _gauge(
            "portal_unfinished_operations",
            "People's actions not yet confirmed by Azure (the outbox)",
            operations["count"],
        )
        oldest = operations["oldest"]
        yield _gauge(
            "portal_oldest_unfinished_operation_seconds",
            "Age of the oldest action not yet confirmed by Azure (0 when there is none)",
            (now - oldest).total_seconds() if oldest else 0,
        )
        if last_success is not None:
            yield _gauge(
                "portal_last_successful_sync_age_seconds",
                "Time since any sync run last succeeded",
                (now - last_success).total_seconds(),
            )
        depth = queue_depth()
        if depth is not None:
            yield _gauge("portal_queue_depth", "Tasks waiting in the Celery queue", depth)


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)


def exposition() -> bytes:
    """The text Prometheus reads: the recorded metrics (of every process, in multiprocess
    mode), then the database gauges."""
    if settings.PROMETHEUS_MULTIPROC_DIR:
        recorded = CollectorRegistry()
        multiprocess.MultiProcessCollector(recorded, path=settings.PROMETHEUS_MULTIPROC_DIR)  # type: ignore[no-untyped-call]
    else:
        recorded = REGISTRY
    gauges = CollectorRegistry()
    gauges.register(DatabaseCollector())
    return generate_latest(recorded) + generate_latest(gauges)


def _authorized(request: HttpRequest, token: str) -> bool:
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        given.strip().encode(), token.encode()
    )


@never_cache
@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus's scrape, with `Authorization: Bearer <METRICS_TOKEN>`; off without a token."""
    token = settings.METRICS_TOKEN
    if not token:
        raise Http404
    if not _authorized(request, token):
        response = HttpResponse("Unauthorized\n", status=401, content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse(exposition(), content_type=CONTENT_TYPE_LATEST)
