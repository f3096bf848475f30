"""The outbox sweep: an operation saved while the broker was down, or whose worker died while
submitting it, reaches ARM exactly once when the sweep runs; a fresh or waiting one is left alone."""

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.utils import timezone
from pytest_django import DjangoCaptureOnCommitCallbacks

from accounts.models import User
from deployments.models import ManagedApplication
from emulator.server import EmulatorServer
from jit import outbox
from jit.models import JitRequest, Operation, State
from tests.jit.test_services import arm_writes, request_as

pytestmark = pytest.mark.django_db


def lost_request(
    pat: User,
    monitoring: ManagedApplication,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> tuple[JitRequest, Operation]:
    """A request saved while the broker was down: its submission task never got queued."""
    with django_capture_on_commit_callbacks(execute=False):
        jit = request_as(pat, monitoring)
    return jit, jit.operations.get(kind=Operation.Kind.CREATE)


def age(operation: Operation, **fields: Any) -> None:
    Operation.objects.filter(pk=operation.pk).update(**fields)


def test_an_operation_that_never_reached_a_worker_is_submitted_once_by_the_sweep(
    signed_in: Callable[[User], User],
    pat: User,
    monitoring: ManagedApplication,
    azure: EmulatorServer,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    signed_in(pat)
    jit, operation = lost_request(pat, monitoring, django_capture_on_commit_callbacks)
    assert outbox.requeue_stale_operations() == []  # not stale yet: it may still be on its way

    age(operation, created_at=timezone.now() - dt.timedelta(minutes=20))
    since = len(azure.state.requests_log)
    assert outbox.requeue_stale_operations() == [operation.pk]
    assert outbox.requeue_stale_operations() == []  # done: the next sweep finds nothing

    operation.refresh_from_db()
    assert operation.status == Operation.Status.DONE
    assert JitRequest.objects.get(pk=jit.pk).state == State.PENDING
    puts = [w for w in arm_writes(azure, since) if w["method"] == "PUT"]
    assert len(puts) == 1


def test_an_operation_whose_worker_died_is_taken_over_after_its_lease(
    signed_in: Callable[[User], User],
    pat: User,
    monitoring: ManagedApplication,
    azure: EmulatorServer,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    signed_in(pat)
    _, operation = lost_request(pat, monitoring, django_capture_on_commit_callbacks)
    age(operation, status=Operation.Status.RUNNING, claimed_at=timezone.now(), attempts=1)
    assert outbox.requeue_stale_operations() == []  # its worker may still be at it

    age(operation, claimed_at=timezone.now() - dt.timedelta(minutes=7))
    assert outbox.requeue_stale_operations() == [operation.pk]
    operation.refresh_from_db()
    assert (operation.status, operation.attempts) == (Operation.Status.DONE, 2)


def test_an_operation_tried_too_often_is_given_up_with_a_message(
    signed_in: Callable[[User], User],
    pat: User,
    monitoring: ManagedApplication,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    signed_in(pat)
    jit, operation = lost_request(pat, monitoring, django_capture_on_commit_callbacks)
    age(
        operation,
        created_at=timezone.now() - dt.timedelta(hours=2),
        claimed_at=timezone.now() - dt.timedelta(hours=1),
        attempts=outbox.MAX_ATTEMPTS,
    )
    assert outbox.requeue_stale_operations() == []
    operation.refresh_from_db()
    assert operation.status == Operation.Status.FAILED
    assert "could not be reached" in operation.error_message
    assert JitRequest.objects.get(pk=jit.pk).state == State.FAILED
