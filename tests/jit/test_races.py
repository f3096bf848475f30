"""Races, run with real threads against the real database (and the emulator where Azure is
involved): whatever arrives at the same moment, each outcome happens once and is audited once.

Each test prints what ran at once and what came out (`pytest -s`)."""

import dataclasses
import datetime as dt
import threading
from collections.abc import Callable, Sequence
from typing import TypeVar, cast

import pytest
from django.db import connection

from accounts.models import Role, User
from azure_gateway.records import JitApprover
from deployments.models import ManagedApplication
from emulator.server import EmulatorServer
from jit import batch, mirror, services, tasks
from jit.batch import BatchOutcome, BatchRefused
from jit.errors import NotAllowed
from jit.models import AuditEvent, JitRequest, Operation, State
from tests.conftest import make_person
from tests.jit import test_services
from tests.jit.conftest import CAROL
from tests.jit.test_services import decided_in_azure

# The JIT service tests' fixtures: a pending request, and one on the PIM channel.
pending = test_services.pending
pim = test_services.pim
pim_pending = test_services.pim_pending

pytestmark = pytest.mark.django_db(transaction=True)

RACERS = 4

T = TypeVar("T")


def at_once(*calls: Callable[[], T]) -> list[T | Exception]:
    """Run the calls in threads released together; return each one's result or exception."""
    start = threading.Barrier(len(calls))
    outcomes: list[T | Exception | None] = [None] * len(calls)

    def run(index: int, call: Callable[[], T]) -> None:
        try:
            start.wait()
            outcomes[index] = call()
        except Exception as exc:  # the race's loser: reported, not raised
            outcomes[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a racer hung"
    # Each racer has finished and left its result or exception in its place.
    return cast(list[T | Exception], outcomes)


def count(jit: JitRequest, action: str) -> int:
    return jit.audit_events.filter(action=action).count()


def report(name: str, outcomes: Sequence[object], **counts: object) -> None:
    kinds = [type(o).__name__ for o in outcomes]
    print(f"\n{name}: {len(outcomes)} at once -> {kinds}; {counts}")


def test_two_approvers_deciding_at_once_make_one_decision(
    pim_pending: JitRequest, alice: User, signed_in: Callable[[User], User]
) -> None:
    carol = signed_in(
        make_person(
            pim_pending.application.customer_tenant, CAROL, "Carol Chen", Role.CUSTOMER_ADMIN
        )
    )
    pim_pending.application.jit_approvers = []  # any admin of the tenant may approve
    pim_pending.application.save()

    def decide(person: User, approve: bool) -> Callable[[], Operation | None]:
        return lambda: services.jit_request_decide(
            jit_request=JitRequest.objects.get(pk=pim_pending.pk),
            by=person,
            approve=approve,
            justification="racing",
        )

    outcomes = at_once(decide(alice, True), decide(carol, False), decide(alice, True))
    operations = Operation.objects.filter(jit_request=pim_pending, kind=Operation.Kind.DECIDE)
    report("decisions", outcomes, operations=operations.count())
    assert not [o for o in outcomes if isinstance(o, Exception)], outcomes
    assert operations.count() == 1
    assert {o.pk if isinstance(o, Operation) else o for o in outcomes} == {operations.get().pk}
    assert count(pim_pending, AuditEvent.Action.DECIDED) == 1

    # The worker then gets the submission several times at once: ARM is told once.
    decide_op = operations.get()
    at_once(*[lambda: tasks.submit_operation(decide_op.pk)] * RACERS)
    pim_pending.refresh_from_db()
    decide_op.refresh_from_db()
    outcomes_recorded = sum(
        count(pim_pending, action)
        for action in (
            AuditEvent.Action.APPROVED,
            AuditEvent.Action.DENIED,
            AuditEvent.Action.DECISION_FAILED,
        )
    )
    print(f"won by {decide_op.by}: {decide_op.status}, request {pim_pending.state}")
    assert outcomes_recorded == 1
    if decide_op.by == alice:
        assert decide_op.status == Operation.Status.DONE
        assert pim_pending.state == State.APPROVED
    else:
        # Azure lists only Alice as approver of this application: Carol's decision is refused
        # there, and the request stays pending for someone Azure accepts.
        assert decide_op.status == Operation.Status.FAILED
        assert pim_pending.state == State.PENDING


def test_a_decision_in_azure_seen_by_several_refreshes_at_once_is_recorded_once(
    pending: JitRequest, alice: User, azure: EmulatorServer
) -> None:
    services.jit_request_decide(jit_request=pending, by=alice, approve=True, justification="ok")
    decided_in_azure(azure, pending, by=str(alice.entra_object_id))

    outcomes = at_once(
        *[lambda: mirror.jit_request_refresh(JitRequest.objects.get(pk=pending.pk))] * RACERS,
        lambda: mirror.jit_requests_reconcile_scope(),
    )
    report(
        "refreshes",
        outcomes,
        approved=count(pending, AuditEvent.Action.APPROVED),
        grant_started=count(pending, AuditEvent.Action.GRANT_STARTED),
    )
    assert not [o for o in outcomes if isinstance(o, Exception)], outcomes
    pending.refresh_from_db()
    assert pending.state == State.APPROVED
    assert count(pending, AuditEvent.Action.APPROVED) == 1
    assert count(pending, AuditEvent.Action.GRANT_STARTED) == 1


def test_a_decision_racing_the_timeout_leaves_one_outcome(
    pending: JitRequest, alice: User, azure: EmulatorServer
) -> None:
    azure.advance_clock(dt.timedelta(hours=25))  # Azure has timed the request out

    def decide() -> Operation | None:
        return services.jit_request_decide(
            jit_request=JitRequest.objects.get(pk=pending.pk),
            by=alice,
            approve=True,
            justification="just in time?",
        )

    outcomes = at_once(
        decide, *[lambda: mirror.jit_request_refresh(JitRequest.objects.get(pk=pending.pk))] * 3
    )
    report("decision vs timeout", outcomes, timeouts=count(pending, AuditEvent.Action.TIMED_OUT))
    pending.refresh_from_db()
    assert pending.state == State.TIMEOUT
    assert count(pending, AuditEvent.Action.TIMED_OUT) == 1
    assert count(pending, AuditEvent.Action.APPROVED) == 0
    # The decision either came first (recorded, then overtaken by Azure's timeout) or was
    # refused because the request no longer waited; never recorded after the timeout.
    refused = isinstance(outcomes[0], NotAllowed)
    assert refused or count(pending, AuditEvent.Action.DECIDED) == 1
    assert not [o for o in outcomes[1:] if isinstance(o, Exception)], outcomes


def test_an_expiry_seen_by_several_refreshes_at_once_ends_the_grant_once(
    pending: JitRequest, alice: User, azure: EmulatorServer
) -> None:
    services.jit_request_decide(jit_request=pending, by=alice, approve=True, justification="ok")
    decided_in_azure(azure, pending, by=str(alice.entra_object_id))
    mirror.jit_request_refresh(pending)
    azure.advance_clock(dt.timedelta(hours=3))  # past the two-hour grant

    outcomes = at_once(
        *[lambda: mirror.jit_request_refresh(JitRequest.objects.get(pk=pending.pk))] * RACERS
    )
    report("expiry", outcomes, grant_ended=count(pending, AuditEvent.Action.GRANT_ENDED))
    assert not [o for o in outcomes if isinstance(o, Exception)], outcomes
    pending.refresh_from_db()
    assert pending.state == State.EXPIRED
    assert pending.grant_ended_at is not None
    assert count(pending, AuditEvent.Action.GRANT_ENDED) == 1


def _pending_requests(
    count_: int, signed_in: Callable[[User], User], pat: User, alice: User, app: ManagedApplication
) -> list[JitRequest]:
    """Requests Pat files through the portal, accepted by the emulator and pending."""
    signed_in(pat)
    signed_in(alice)
    jits = []
    for _ in range(count_):
        jit = test_services.request_as(pat, app)
        test_services.submit(test_services.only_operation(jit, "create"))
        jit.refresh_from_db()
        assert jit.state == State.PENDING
        jits.append(jit)
    return jits


def _carol(app: ManagedApplication, signed_in: Callable[[User], User]) -> User:
    carol = signed_in(make_person(app.customer_tenant, CAROL, "Carol Chen", Role.CUSTOMER_ADMIN))
    app.jit_approvers = []  # any admin of the tenant may decide here
    app.save()
    return carol


def test_two_approvers_batch_deciding_overlapping_sets_decide_each_request_once(
    pim: None,
    signed_in: Callable[[User], User],
    pat: User,
    alice: User,
    monitoring: ManagedApplication,
) -> None:
    carol = _carol(monitoring, signed_in)
    # Azure accepts both of them too (otherwise a loser may come after the winner's decision
    # failed there, and rightly succeed): the policy names both before the requests are made.
    signed_in(alice)
    policy = services.current_policy(monitoring)
    both = tuple(
        JitApprover(id=str(p.entra_object_id), type="user", display_name=str(p))
        for p in (alice, carol)
    )
    change = services.jit_policy_update(
        application=monitoring, by=alice, policy=dataclasses.replace(policy, approvers=both)
    )
    test_services.submit(change)
    assert change.status == Operation.Status.DONE, change.error_message
    a, b, c = _pending_requests(3, signed_in, pat, alice, monitoring)

    def decide(person: User, jits: list[JitRequest]) -> Callable[[], BatchOutcome]:
        return lambda: batch.jit_requests_decide(
            ids=[str(j.pk) for j in jits], by=person, approve=True, justification="racing"
        )

    outcomes = at_once(decide(alice, [a, b]), decide(carol, [b, c]))
    operations = Operation.objects.filter(kind=Operation.Kind.DECIDE)
    report("batches", outcomes, operations=operations.count())
    won = [o for o in outcomes if isinstance(o, BatchOutcome)]
    lost = [o for o in outcomes if isinstance(o, Exception)]
    assert len(won) == 1 and len(lost) == 1, outcomes
    assert isinstance(lost[0], BatchRefused), lost
    winner, loser = (alice, carol) if isinstance(outcomes[0], BatchOutcome) else (carol, alice)
    decided = {j.pk for j in won[0].decided}
    untouched = ({a.pk, b.pk, c.pk} - decided).pop()
    print(f"won by {winner}; {loser} refused: {lost[0]}")

    # Each request is decided once, by the winner alone; the loser's batch left nothing at all.
    assert sorted(operations.values_list("jit_request", flat=True)) == sorted(decided)
    assert set(operations.values_list("by", flat=True)) == {winner.pk}
    assert not AuditEvent.objects.filter(actor=loser, action=AuditEvent.Action.DECIDED).exists()
    for jit in JitRequest.objects.filter(pk__in=[a.pk, b.pk, c.pk]):
        expected = 1 if jit.pk in decided else 0
        assert count(jit, AuditEvent.Action.DECIDED) == expected
        outcomes_recorded = sum(
            count(jit, action)
            for action in (
                AuditEvent.Action.APPROVED,
                AuditEvent.Action.DENIED,
                AuditEvent.Action.DECISION_FAILED,
            )
        )
        assert outcomes_recorded == expected, jit.name  # Azure was told once, or not at all
    assert JitRequest.objects.get(pk=untouched).state == State.PENDING
    for jit in JitRequest.objects.filter(pk__in=decided):
        assert jit.state == State.APPROVED, jit.name


def test_hand_off_batches_at_once_each_record_every_request_of_theirs(
    signed_in: Callable[[User], User],
    pat: User,
    alice: User,
    monitoring: ManagedApplication,
) -> None:
    """The hand-off channel records what each approver said (a later recording replaces the
    earlier one, as for single decisions): each batch whole, nothing lost, nothing doubled."""
    a, b, c = _pending_requests(3, signed_in, pat, alice, monitoring)
    carol = _carol(monitoring, signed_in)

    outcomes = at_once(
        lambda: batch.jit_requests_decide(
            ids=[str(a.pk), str(b.pk)], by=alice, approve=True, justification="yes"
        ),
        lambda: batch.jit_requests_decide(
            ids=[str(b.pk), str(c.pk)], by=carol, approve=False, justification="no"
        ),
    )
    report("hand-off batches", outcomes, decided=AuditEvent.objects.filter(action="decision.recorded").count())  # fmt: skip
    assert not [o for o in outcomes if isinstance(o, Exception)], outcomes
    assert [count(j, AuditEvent.Action.DECIDED) for j in (a, b, c)] == [1, 2, 1]
    b.refresh_from_db()
    last = b.audit_events.filter(action=AuditEvent.Action.DECIDED).order_by("pk").last()
    assert last is not None and b.handoff_by == last.actor  # the page shows the last word
    assert not Operation.objects.filter(kind=Operation.Kind.DECIDE).exists()
