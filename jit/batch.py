"""Batch decisions: one approver decides several pending requests of one publisher in one step.

Each request still goes through `services.jit_request_decide`, so each is audited on its own and
follows its tenant's approval channel: hand-off records the decision and the approver makes it in
Azure (the steps come from `handoff_steps`); PIM queues one decide operation per request. The
batch is all or nothing: every posted id must name a request this person may decide now
(`JitRequest.objects.decidable_by`), all of one publisher, or nothing at all is written.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

from django.db import transaction

from accounts.models import Tenant, User
from deployments.models import ManagedApplication
from jit import handoff, hints, services
from jit.errors import NotAllowed
from jit.models import JitRequest, JitRequestQuerySet, Operation, State
from portal.guids import canonical_guid

# Enough for the morning after an incident; more than this is better looked at in smaller steps.
MAX_BATCH = 50
# How much of a posted value a refusal repeats.
ECHO_LENGTH = 40


class BatchRefused(NotAllowed):
    """The batch was refused as a whole; `problems` names each reason, one sentence each."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__(" ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Publisher:
    key: str  # the publisher's Entra tenant id, or what names it when that is unknown
    name: str


def publisher_of(application: ManagedApplication) -> Publisher:
    """Who publishes the application, by Entra tenant id when the portal knows it."""
    offer = application.offer
    tenant = offer.publisher_tenant if offer else None
    tenant_id = str(tenant.entra_tenant_id) if tenant else application.publisher_tenant_id
    name = (offer.publisher_display if offer else "") or (
        f"Publisher tenant {tenant_id}" if tenant_id else "Unknown publisher"
    )
    key = canonical_guid(tenant_id) if tenant_id else f"name:{name.lower()}"
    return Publisher(key=key, name=name)


def _echo(value: str) -> str:
    shown = value if len(value) <= ECHO_LENGTH else value[:ECHO_LENGTH] + "…"
    return repr(shown)


def _decidable(user: User) -> JitRequestQuerySet:
    return JitRequest.objects.decidable_by(user).select_related(
        "application",
        "application__customer_tenant",
        "application__offer",
        "application__offer__publisher_tenant",
    )


def _why_not(jit: JitRequest, user: User) -> str:
    """Why a request this person can see is not theirs to decide now, in words."""
    oid = canonical_guid(user.entra_object_id) if user.entra_object_id else None
    if jit.state != State.PENDING:
        return f"{jit.name} is no longer waiting for a decision ({jit.get_state_display()})."
    if jit.requested_by_id == user.pk or (oid and oid in (jit.requester_oid, jit.principal_id)):
        return f"{jit.name} is your own request: someone else has to decide it."
    return f"{jit.name}: you are not one of the approvers of {jit.application.name}."


def selection(*, ids: Sequence[str], by: User) -> list[JitRequest]:
    """The requests named by the posted ids, if every one may be decided by this person now and
    all are of one publisher; otherwise `BatchRefused` naming each problem. Reads only."""
    if not ids:
        raise BatchRefused(["Select at least one request."])
    if len(ids) > MAX_BATCH:
        raise BatchRefused(
            [f"At most {MAX_BATCH} requests can be decided in one step; {len(ids)} were selected."]
        )
    problems: list[str] = []
    wanted: list[uuid.UUID] = []
    for raw in ids:
        try:
            pk = uuid.UUID(str(raw))
        except ValueError:
            problems.append(f"{_echo(str(raw))} is not a request id.")
            continue
        if pk in wanted:
            problems.append(f"{_echo(str(raw))} was selected twice.")
            continue
        wanted.append(pk)
    found = {jit.pk: jit for jit in _decidable(by).filter(pk__in=wanted)}
    missing = [pk for pk in wanted if pk not in found]
    if missing:
        # Name what this person may see; an id outside their scope learns nothing more.
        visible = {
            jit.pk: jit
            for jit in JitRequest.objects.visible_to(by)
            .filter(pk__in=missing)
            .select_related("application")
        }
        for pk in missing:
            jit = visible.get(pk)
            problems.append(
                _why_not(jit, by) if jit else f"{_echo(str(pk))} is not a request you can decide."
            )
    chosen = [found[pk] for pk in wanted if pk in found]
    publishers = {publisher_of(jit.application) for jit in chosen}
    if len(publishers) > 1:
        names = ", ".join(sorted(p.name for p in publishers))
        problems.append(
            f"These requests come from several publishers ({names}): decide one publisher's "
            "requests at a time."
        )
    if problems:
        raise BatchRefused(problems)
    return chosen


@dataclass(frozen=True)
class BatchOutcome:
    approve: bool
    justification: str
    decided: list[JitRequest]
    operations: list[Operation] = field(default_factory=list)  # the PIM channel's, one each


def jit_requests_decide(
    *, ids: Sequence[str], by: User, approve: bool, justification: str
) -> BatchOutcome:
    """Decide every named request the same way with the same reason, each through
    `jit_request_decide` (its own audit event, its channel), in one transaction: the first
    refusal undoes the whole batch."""
    with transaction.atomic():
        chosen = selection(ids=ids, by=by)
        operations = []
        # One order for every batch: two batches over the same rows take their locks alike.
        for jit in sorted(chosen, key=lambda j: str(j.pk)):
            try:
                operation = services.jit_request_decide(
                    jit_request=jit,
                    by=by,
                    approve=approve,
                    justification=justification,
                    exclusive=True,
                )
            except NotAllowed as exc:
                raise BatchRefused([f"{jit.name}: {exc}"]) from exc
            if operation is not None:
                operations.append(operation)
    return BatchOutcome(
        approve=approve, justification=justification, decided=chosen, operations=operations
    )


# What the pages show --------------------------------------------------------------------------


@dataclass(frozen=True)
class InboxRow:
    jit: JitRequest
    warnings: list[str]  # the titles of its risk hints' warnings


@dataclass(frozen=True)
class InboxGroup:
    publisher: Publisher
    rows: list[InboxRow]


def inbox_groups(
    user: User, *, limit: int = MAX_BATCH, warnings: bool = False
) -> tuple[list[InboxGroup], int]:
    """The requests this person may decide, by publisher, at most `limit` of them (oldest first:
    nearest their timeout), and how many there are in all. With `warnings`, each row carries the
    titles of its risk hints' warnings (about six queries a request, so the requests list leaves
    them to `jit:inbox_warnings` and keeps its own queries few, whatever the inbox holds)."""
    pending = list(_decidable(user).order_by("created_at"))
    groups: dict[Publisher, list[InboxRow]] = {}
    for jit in pending[:limit]:
        found = (
            [h.title for h in hints.request_hints(jit) if h.level == "warning"] if warnings else []
        )
        groups.setdefault(publisher_of(jit.application), []).append(InboxRow(jit, found))
    ordered = sorted(groups.items(), key=lambda item: item[0].name.lower())
    return [InboxGroup(publisher, rows) for publisher, rows in ordered], len(pending)


@dataclass(frozen=True)
class AzureStep:
    """One application's decisions to make in the Azure portal."""

    application: ManagedApplication
    url: str  # the application's JIT Access page (or the first request's, see `links`)
    requests: list[tuple[JitRequest, str]]  # each request with where it is decided

    @property
    def one_link(self) -> bool:
        """Whether every request of the application is decided on the same page."""
        return len({url for _, url in self.requests}) == 1


def handoff_steps(requests: Sequence[JitRequest]) -> list[AzureStep]:
    """What the approver still has to click in Azure for the hand-off channel's requests: one
    step per application, its requests in the order they were asked for."""
    by_app: dict[int, list[JitRequest]] = {}
    for jit in requests:
        if jit.application.customer_tenant.approval_channel != Tenant.ApprovalChannel.PIM:
            by_app.setdefault(jit.application_id, []).append(jit)
    steps = []
    for jits in by_app.values():
        jits.sort(key=lambda j: j.created_at)
        links = [(jit, handoff.azure_decision_url(jit)) for jit in jits]
        steps.append(AzureStep(application=jits[0].application, url=links[0][1], requests=links))
    return sorted(steps, key=lambda s: (str(s.application.customer_tenant), s.application.name))
