"""Faults proof: JIT requests and decisions go through the portal's services and tasks while the
emulator injects server errors, 429s with Retry-After, dropped connections, lost answers (the
call carried out, the answer never arrives) and latency on every ARM call. Afterwards each
request and each decision exists in Azure exactly once, none is lost or doubled, every audit
trail is complete, and a resync changes nothing because the mirror already equals Azure.

`FAULT_PROOF_SIZE` (default 1000) sets how many requests, and decisions, are made; run with
`bin/test tests/jit/test_faults.py -s` to see the figures."""

import collections
import os
import time
from collections.abc import Callable
from typing import Any, TypeVar

import pytest
from pytest_django import DjangoCaptureOnCommitCallbacks, Settings

from accounts.models import User
from deployments.models import ManagedApplication
from emulator.server import EmulatorServer
from jit import mirror, services
from jit.models import AuditEvent, JitRequest, Operation, State, state_from_arm
from tests.jit import test_services
from tests.jit.test_services import request_as

pytestmark = pytest.mark.django_db

T = TypeVar("T")

SIZE = int(os.environ.get("FAULT_PROOF_SIZE", "1000"))
ARM = "/subscriptions/"
# About one ARM call in eight fails; a submission retries 8 times, so a decision (four calls
# an attempt) is given up on far less than once in a thousand runs. The emulator's dice are
# seeded, so a run is repeatable.
FAULTS = [
    {"kind": "status", "status": 500, "rate": 0.03},
    {"kind": "status", "status": 503, "rate": 0.01, "retry_after": 0},
    {"kind": "throttle", "rate": 0.03, "retry_after": 0},
    {"kind": "drop", "rate": 0.02},
    {"kind": "lost_answer", "rate": 0.03},
    {"kind": "latency", "latency_ms": 2, "rate": 0.1},
]
SEED = 20261206
ROUND = 50

pim = test_services.pim


def faulted_calls(azure: EmulatorServer, since: int) -> dict[int, int]:
    """What the emulator answered to the ARM calls since `since`, by status (0: no answer)."""
    statuses = collections.Counter(
        entry["status"]
        for entry in azure.state.requests_log
        if entry["seq"] >= since and entry["path"].startswith(ARM)
    )
    return dict(sorted(statuses.items()))


def trail(jit: JitRequest) -> collections.Counter[str]:
    return collections.Counter(jit.audit_events.values_list("action", flat=True))


def test_requests_and_decisions_under_faults_happen_once_each(
    pim: None,
    signed_in: Callable[[User], User],
    pat: User,
    alice: User,
    monitoring: ManagedApplication,
    azure: EmulatorServer,
    settings: Settings,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    def committed(call: Callable[..., T], **kwargs: Any) -> T:
        """Run a service as a view does: its queued tasks run (here, in-process) on commit."""
        with django_capture_on_commit_callbacks(execute=True):
            return call(**kwargs)

    settings.ARM_POLLING_INTERVAL = 0
    signed_in(pat)
    signed_in(alice)
    mirror.jit_requests_reconcile_scope()  # the scenario's own requests, adopted before
    already = set(azure.state.jit_requests)
    adopted = list(JitRequest.objects.values_list("pk", flat=True))
    azure.faults.random.seed(SEED)
    for fault in FAULTS:
        azure.inject_fault(path=ARM, **fault)
    since = azure.state.requests_logged

    ours = JitRequest.objects.filter(application=monitoring).exclude(pk__in=adopted)
    creating = deciding = 0.0
    # In rounds, as approvers work: a round's requests are made, then decided.
    for round_start in range(0, SIZE, ROUND):
        began = time.monotonic()
        for _ in range(min(ROUND, SIZE - round_start)):
            committed(request_as, pat=pat, app=monitoring, hours=1)
        made = time.monotonic()
        waiting = list(ours.filter(state=State.PENDING).order_by("pk"))
        assert len(waiting) == min(ROUND, SIZE - round_start), list(
            Operation.objects.exclude(status=Operation.Status.DONE).values_list(
                "status", "error_code", "error_message"
            )
        )
        for jit in waiting:
            committed(
                services.jit_request_decide,
                jit_request=jit,
                by=alice,
                approve=True,
                justification="ok",
            )
        creating += made - began
        deciding += time.monotonic() - made
    requests = list(ours.order_by("pk"))

    calls = faulted_calls(azure, since)
    azure.faults.clear()
    failed = list(
        Operation.objects.exclude(status=Operation.Status.DONE).values_list(
            "kind", "error_code", "error_message"
        )
    )
    in_azure = {
        key: jit
        for key, jit in azure.state.jit_requests.items()
        if jit.application_id.lower() == monitoring.arm_id.lower() and key not in already
    }
    wrong_state = [
        j.name for j in requests if JitRequest.objects.get(pk=j.pk).state != State.APPROVED
    ]
    incomplete = []
    expected: collections.Counter[str] | None = None
    for jit in ours:
        actions = trail(jit)
        if expected is None:
            expected = actions
        if actions != expected or any(n != 1 for n in actions.values()):
            incomplete.append((jit.name, dict(actions)))
    changed = mirror.jit_requests_reconcile_scope()
    differs = [
        jit.name for jit in ours if state_from_arm(in_azure[jit.arm_id.lower()].state) != jit.state
    ]

    print(
        f"\n{SIZE} requests in {creating:.1f} s, {SIZE} decisions in {deciding:.1f} s; "
        f"ARM answers by status: {calls}"
        f"\nfailed operations: {len(failed)}; in Azure: {len(in_azure)}; not approved: "
        f"{len(wrong_state)}; incomplete trails: {len(incomplete)}; changed by the resync: "
        f"{changed}; mirror differing from Azure: {len(differs)}"
    )
    assert calls.get(0, 0) > 0 and calls.get(500, 0) > 0 and calls.get(429, 0) > 0  # faults hit
    assert failed == []
    assert len(requests) == SIZE
    assert len(in_azure) == SIZE  # none lost, none doubled
    assert {j.arm_id.lower() for j in requests} == set(in_azure)
    assert all(j.state == "Approved" for j in in_azure.values())
    assert wrong_state == []
    assert incomplete == [], incomplete[:5]
    assert expected is not None
    assert set(expected) >= {
        AuditEvent.Action.REQUESTED,
        AuditEvent.Action.DECIDED,
        AuditEvent.Action.APPROVED,
        AuditEvent.Action.GRANT_STARTED,
    }
    assert not changed
    assert differs == []


def test_a_decision_whose_answer_was_lost_is_recognised_as_made(
    pim: None,
    signed_in: Callable[[User], User],
    pat: User,
    alice: User,
    monitoring: ManagedApplication,
    azure: EmulatorServer,
    settings: Settings,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    """Azure approved, the answer never came back: the retry finds Alice's review on the stage
    and records her approval, instead of failing on a stage no longer assigned to her."""
    settings.ARM_POLLING_INTERVAL = 0
    signed_in(pat)
    signed_in(alice)
    with django_capture_on_commit_callbacks(execute=True):
        jit = request_as(pat, monitoring)
    azure.inject_fault(kind="lost_answer", count=1, method="PATCH", path="/stages/")
    with django_capture_on_commit_callbacks(execute=True):
        operation = services.jit_request_decide(
            jit_request=jit, by=alice, approve=True, justification="Planned work"
        )

    assert operation is not None
    operation.refresh_from_db()
    jit.refresh_from_db()
    assert (operation.status, operation.attempts) == (Operation.Status.DONE, 2)
    assert jit.state == State.APPROVED
    approved = jit.audit_events.get(action=AuditEvent.Action.APPROVED)
    assert approved.actor == alice
    assert not jit.audit_events.filter(action=AuditEvent.Action.DECISION_FAILED).exists()
