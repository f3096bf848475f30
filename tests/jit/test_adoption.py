"""Adopting requests the portal did not see being made: one transaction for many, the same
rows and events as one by one, no mail for history, nothing written twice."""

import dataclasses
import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from pytest_django import DjangoCaptureOnCommitCallbacks

from azure_gateway.records import JitRequestRecord
from deployments.models import Elevation, ManagedApplication
from jit import adoption
from jit.models import AuditEvent, JitRequest, State
from tests.jit.conftest import PAT
from tests.jit.test_mirror import record_for

pytestmark = pytest.mark.django_db

Action = AuditEvent.Action


def _records(app: ManagedApplication, count: int) -> list[JitRequestRecord]:
    return [record_for(app.arm_id, name=f"adopt{n:04d}") for n in range(count)]


def test_an_expired_grant_is_recorded_as_history_without_mail(
    monitoring: ManagedApplication,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    now = timezone.now()
    record = dataclasses.replace(
        record_for(monitoring.arm_id, name="jitold1"),
        state="Expired",
        start=now - dt.timedelta(days=3),
    )

    with django_capture_on_commit_callbacks() as callbacks:
        assert adoption.adopt_requests([(monitoring, record)], now=now) == 1

    jit = JitRequest.objects.get()
    assert jit.state == State.EXPIRED
    assert jit.grant_started_at == record.start
    assert jit.grant_ended_at == record.end  # its scheduled end, not when the portal saw it
    actions = list(jit.audit_events.order_by("at").values_list("action", flat=True))
    assert actions == [Action.REQUESTED, Action.GRANT_STARTED, Action.GRANT_ENDED]
    # One queued task: copying the grant's activity (still in the activity log); no mail.
    assert len(callbacks) == 1
    assert Elevation.objects.get(arm_id=record.id).state == "Expired"


def test_a_running_grant_is_mailed_and_a_grant_older_than_the_activity_log_is_not_fetched(
    monitoring: ManagedApplication,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    now = timezone.now()
    running = dataclasses.replace(record_for(monitoring.arm_id, name="jitrun1"), state="Approved")
    ancient = dataclasses.replace(
        record_for(monitoring.arm_id, name="jitanc1"),
        state="Expired",
        start=now - dt.timedelta(days=200),
    )

    with django_capture_on_commit_callbacks() as callbacks:
        adoption.adopt_requests([(monitoring, running), (monitoring, ancient)], now=now)

    assert len(callbacks) == 1  # the running grant's "grant started" mail
    started = AuditEvent.objects.get(action=Action.GRANT_STARTED, jit_request__name="jitrun1")
    assert started.at == running.start
    assert JitRequest.objects.get(name="jitrun1").grant_ended_at is None


def test_a_pending_request_records_no_grant(monitoring: ManagedApplication) -> None:
    adoption.adopt_requests([(monitoring, record_for(monitoring.arm_id, name="jitpen1"))])

    jit = JitRequest.objects.get()
    assert (jit.state, jit.grant_started_at, jit.grant_ended_at) == (State.PENDING, None, None)
    assert list(jit.audit_events.values_list("action", flat=True)) == [Action.REQUESTED]
    assert jit.justification == adoption.ADOPTED_JUSTIFICATION


def test_ids_are_kept_in_one_spelling(monitoring: ManagedApplication) -> None:
    record = record_for(monitoring.arm_id)
    shouted = dataclasses.replace(
        record,
        authorizations=(dataclasses.replace(record.authorizations[0], principal_id=PAT.upper()),),
    )

    adoption.adopt_requests([(monitoring, shouted)])

    assert JitRequest.objects.get().principal_id == PAT.lower()


def test_a_request_adopted_meanwhile_by_another_worker_is_not_written_twice(
    monitoring: ManagedApplication,
) -> None:
    records = _records(monitoring, 3)
    adoption.adopt_requests([(monitoring, records[0])])

    # The second worker read the listing before the first one's rows were there.
    assert adoption.adopt_requests([(monitoring, r) for r in records]) == 2

    assert JitRequest.objects.count() == 3
    assert AuditEvent.objects.filter(action=Action.REQUESTED).count() == 3


def test_statements_do_not_grow_with_the_number_of_requests(
    monitoring: ManagedApplication,
) -> None:
    def statements(count: int, prefix: str) -> int:
        records = [
            dataclasses.replace(r, name=f"{prefix}{r.name}", id=f"{r.id}{prefix}", state="Expired")
            for r in _records(monitoring, count)
        ]
        with CaptureQueriesContext(connection) as queries:
            adoption.adopt_requests([(monitoring, r) for r in records])
        return len(queries.captured_queries)

    assert statements(3, "a") == statements(30, "b")
