"""The ARM mirror: read what a customer tenant exposes and bring the database in step.

Rows are upserted by ARM id and written only when a value changed, so a resync that finds nothing
new writes no mirrored row. What ARM no longer lists is marked vanished, not deleted.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from django.db import models, transaction
from django.utils import timezone

from accounts.models import Side, Tenant
from azure_gateway import (
    AuthenticationFailed,
    AzureError,
    AzureGateway,
    Forbidden,
    NotFound,
    Throttled,
    Transient,
    count_responses,
    tenant_gateway,
)
from azure_gateway.records import (
    ApplicationDefinitionRecord,
    DenyAssignmentRecord,
    ManagedAppRecord,
    ResourceRecord,
    SubscriptionRecord,
)
from deployments import listings
from deployments.models import (
    LockLevel,
    ManagedApplication,
    ManagedResource,
    Offer,
    Subscription,
    SyncRun,
)
from deployments.permissions import snapshot
from deployments.upsert import upsert
from portal import metrics

log = logging.getLogger(__name__)
R = TypeVar("R")

MAX_RETRIES = 5
# A subscription whose ARM answers are the same as at its last full comparison is not compared
# again, except this often: then built-in roles read afresh, custom roles and anything written to
# the mirror by other means are compared too.
FULL_COMPARISON_EVERY = snapshot.BUILT_IN_ROLE_MAX_AGE
ACTIVE_SUBSCRIPTION_STATES = {"Enabled", "Warned", "PastDue", ""}
# The key of the tenant's subscription list among a run's digests (the others are subscription
# ids); the ARM path of that listing.
SUBSCRIPTION_LIST = "/subscriptions"


class RetryableTask(Protocol):
    """The bits of a bound Celery task the sync uses to ask for a retry."""

    @property
    def request(self) -> Any: ...

    def retry(self, *, exc: BaseException, countdown: float) -> BaseException: ...


@dataclass
class Tally:
    created: int = 0
    updated: int = 0
    removed: int = 0
    calls: int = 0
    # HTTP answers that were 429 (retried ones too), from azure_gateway's count_responses().
    throttled: int = 0
    # What the run saw per subscription, kept on the SyncRun for the next run to compare with.
    digests: dict[str, dict[str, str]] = field(default_factory=dict)

    def count(self, outcome: str | None) -> None:
        if outcome == "created":
            self.created += 1
        elif outcome == "updated":
            self.updated += 1


class CountingGateway:
    """Counts the gateway calls a sync makes (from any thread), for the SyncRun record."""

    def __init__(self, gateway: AzureGateway, tally: Tally) -> None:
        self._gateway = gateway
        self._tally = tally
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._gateway, name)
        if not callable(attribute):
            return attribute

        def counted(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                self._tally.calls += 1
            return attribute(*args, **kwargs)

        return counted


@dataclass
class SyncContext:
    tenant: Tenant
    gateway: AzureGateway
    tally: Tally
    now: dt.datetime = field(default_factory=timezone.now)
    # Offers mirrored by this sync, by key (None: the offer could not be read).
    offers: dict[str, Offer | None] = field(default_factory=dict)
    definitions: dict[str, ApplicationDefinitionRecord | None] = field(default_factory=dict)
    # Read once per subscription in a whole-tenant sync (keyed by lower-cased resource group
    # id), instead of two calls per application; None means "ask per application".
    denies_by_group: dict[str, list[DenyAssignmentRecord]] | None = None
    resources_by_group: dict[str, list[ResourceRecord]] | None = None
    # What the database holds for the applications being mirrored, read up front by
    # `_load_stored_rows` with one query per kind.
    stored_offers: dict[str, Offer] = field(default_factory=dict)
    publishers: dict[str, Tenant] = field(default_factory=dict)
    stored_resources: dict[int, dict[str, ManagedResource]] = field(default_factory=dict)
    permissions: snapshot.SyncCache = field(default_factory=snapshot.SyncCache)


# --- Running a SyncRun ----------------------------------------------------------------------------


def run_tenant_sync(*, run_id: int, task: RetryableTask | None = None) -> None:
    """Claim a queued whole-tenant SyncRun and mirror that tenant; a second claim does nothing."""
    _run(run_id=run_id, task=task, work=_mirror_tenant)


def run_application_sync(*, run_id: int, task: RetryableTask | None = None) -> None:
    """Claim a queued single-application SyncRun and mirror that application."""
    _run(run_id=run_id, task=task, work=_mirror_one_application)


def _run(
    *, run_id: int, task: RetryableTask | None, work: Callable[[SyncContext, SyncRun], None]
) -> None:
    claimed = SyncRun.objects.filter(pk=run_id, state=SyncRun.State.QUEUED).update(
        state=SyncRun.State.RUNNING, started_at=timezone.now()
    )
    if not claimed:
        return  # already running, finished, or gone: a duplicate delivery
    run = SyncRun.objects.select_related("tenant").get(pk=run_id)
    tally = Tally()
    try:
        with (
            count_responses() as responses,
            tenant_gateway(str(run.tenant.entra_tenant_id)) as gateway,
        ):
            try:
                context = SyncContext(run.tenant, CountingGateway(gateway, tally), tally)
                work(context, run)
            finally:
                tally.throttled = responses.throttled
    except (Throttled, Transient) as exc:
        retries = task.request.retries if task else MAX_RETRIES
        if task is not None and retries < MAX_RETRIES:
            SyncRun.objects.filter(pk=run_id, state=SyncRun.State.RUNNING).update(
                state=SyncRun.State.QUEUED,
                calls_made=models.F("calls_made") + tally.calls,
                throttled_responses=models.F("throttled_responses") + tally.throttled,
            )
            delay = exc.retry_after if isinstance(exc, Throttled) else min(300, 5 * 2**retries)
            raise task.retry(exc=exc, countdown=delay) from None
        _finish(run, tally, error=_explain(exc))
    except AzureError as exc:
        _finish(run, tally, error=_explain(exc))
    else:
        _finish(run, tally, error="")


def _finish(run: SyncRun, tally: Tally, *, error: str) -> None:
    SyncRun.objects.filter(pk=run.pk).update(
        state=SyncRun.State.FAILED if error else SyncRun.State.SUCCEEDED,
        finished_at=timezone.now(),
        calls_made=models.F("calls_made") + tally.calls,
        throttled_responses=models.F("throttled_responses") + tally.throttled,
        rows_created=tally.created,
        rows_updated=tally.updated,
        rows_removed=tally.removed,
        error=error,
        subscription_digests={} if error else tally.digests,
    )
    metrics.observe_sync(
        application=bool(run.application_arm_id), succeeded=not error, started_at=run.started_at
    )
    if error:
        log.warning("Sync of tenant %s failed: %s", run.tenant, error)


def _explain(exc: AzureError) -> str:
    """What went wrong, and what to do about it, for the pages and the admin."""
    if isinstance(exc, AuthenticationFailed):
        return (
            f"Azure did not let the portal sign in to this tenant ({exc.code or 'no code'}). "
            "An administrator of the tenant must grant the portal admin consent."
        )
    if isinstance(exc, Forbidden):
        return (
            f"Azure refused access ({exc.code}: {exc.message}). Give the portal's service "
            "principal the Reader role on the subscriptions that hold managed applications."
        )
    if isinstance(exc, Throttled | Transient):
        return (
            f"Azure was unavailable or throttling ({exc.code or exc.status}); the next scheduled "
            "sync will try again."
        )
    return f"Azure answered {exc.status or ''} {exc.code}: {exc.message}".strip()


# --- Mirroring --------------------------------------------------------------------------------------


def _mirror_tenant(context: SyncContext, run: SyncRun) -> None:
    """Mirror every application of the tenant's active subscriptions.

    ARM is read first, outside any transaction. A listing whose digest is what it was at its last
    full comparison (less than FULL_COMPARISON_EVERY ago) is confirmed without reading its records
    or its rows; when the subscription list and every active subscription are confirmed, the run
    reads no mirrored row. Otherwise the mirror is brought in step in one transaction: a failure
    part-way leaves it as it was (nothing half-written), and the database commits once.
    """
    previous = _previous_digests(run)
    subscriptions = context.gateway.read_subscriptions()
    subscriptions_confirmed = _confirm(context, previous, SUBSCRIPTION_LIST, subscriptions.digest)
    subscription_records = subscriptions.records()
    active = [
        r.subscription_id for r in subscription_records if r.state in ACTIVE_SUBSCRIPTION_STATES
    ]
    unchanged: set[str] = set()
    records: list[ManagedAppRecord] = []
    denies: dict[str, list[DenyAssignmentRecord]] = defaultdict(list)
    resources: dict[str, list[ResourceRecord]] = defaultdict(list)
    for subscription_id in active:
        contents = listings.read_subscription(context.gateway, subscription_id)
        if _confirm(context, previous, subscription_id, contents.digest):
            unchanged.add(subscription_id.lower())
            continue
        records.extend(contents.apps.records())
        for deny in listings.records(contents.denies):
            denies[deny.scope.lower().rstrip("/")].append(deny)
        for resource in listings.records(contents.resources):
            resources["/".join(resource.id.split("/")[:5]).lower()].append(resource)
        context.permissions.jit_requests[subscription_id] = listings.records(contents.jit_requests)
    if subscriptions_confirmed and len(unchanged) == len(active):
        return  # the mirror is what the last comparison left, and ARM answers the same
    context.denies_by_group, context.resources_by_group = denies, resources
    with transaction.atomic():
        if not subscriptions_confirmed:
            _mirror_subscriptions(context, subscription_records)
        _mirror_applications(context, records, unchanged)


def _mirror_applications(
    context: SyncContext, records: list[ManagedAppRecord], unchanged: set[str]
) -> None:
    """Upsert the applications ARM listed, and mark vanished those of compared subscriptions
    it no longer lists (`unchanged`: lower-cased ids of the confirmed subscriptions)."""
    existing_apps = {
        app.arm_id.lower(): app
        for app in ManagedApplication.objects.filter(customer_tenant=context.tenant)
    }
    compared = [
        app.pk for app in existing_apps.values() if app.subscription_id.lower() not in unchanged
    ]
    if records or compared:
        _load_stored_rows(context, ManagedApplication.objects.filter(pk__in=compared), records)
    seen_apps = set()
    for record in records:
        seen_apps.add(record.id.lower())
        _mirror_application(context, record, existing_apps.get(record.id.lower()))
    snapshot.write_new_rows(context.permissions)
    for key, app in existing_apps.items():
        listed = key in seen_apps or app.subscription_id.lower() in unchanged
        if not listed and app.vanished_at is None:
            ManagedApplication.objects.filter(pk=app.pk).update(vanished_at=context.now)
            context.tally.removed += 1


def _confirm(
    context: SyncContext, previous: dict[str, dict[str, str]], key: str, digest: str
) -> bool:
    """Keep the digest of what ARM answered for `key` (a subscription id, or SUBSCRIPTION_LIST)
    for the next run; True when it equals the last full comparison's and that is recent."""
    last = previous.get(key)
    if last and last.get("digest") == digest and _recent(last, context.now):
        context.tally.digests[key] = last
        return True
    context.tally.digests[key] = {"digest": digest, "compared_at": context.now.isoformat()}
    return False


def _previous_digests(run: SyncRun) -> dict[str, dict[str, str]]:
    """The digests of the tenant's last sync, unless anything else synced it since."""
    last = (
        SyncRun.objects.filter(tenant_id=run.tenant_id, started_at__isnull=False)
        .exclude(pk=run.pk)
        .order_by("-started_at")
        .only("state", "application_arm_id", "subscription_digests")
        .first()
    )
    if last is None or last.application_arm_id or last.state != SyncRun.State.SUCCEEDED:
        return {}
    digests: dict[str, dict[str, str]] = last.subscription_digests
    return digests


def _recent(digest: dict[str, str], now: dt.datetime) -> bool:
    try:
        compared_at = dt.datetime.fromisoformat(digest["compared_at"])
    except (KeyError, TypeError, ValueError):
        return False
    return now - compared_at < FULL_COMPARISON_EVERY


def _mirror_one_application(context: SyncContext, run: SyncRun) -> None:
    """Mirror the run's one application: ARM first, then the writes in one transaction."""
    try:
        record: ManagedAppRecord | None = context.gateway.get_managed_app(run.application_arm_id)
    except NotFound:
        record = None
    with transaction.atomic():
        existing = ManagedApplication.objects.filter(arm_id__iexact=run.application_arm_id).first()
        if record is None:
            if existing is not None and existing.vanished_at is None:
                ManagedApplication.objects.filter(pk=existing.pk).update(vanished_at=context.now)
                context.tally.removed += 1
            return
        stored = (
            ManagedApplication.objects.filter(pk=existing.pk)
            if existing
            else ManagedApplication.objects.none()
        )
        _load_stored_rows(context, stored, [record])
        _mirror_application(context, record, existing)
        snapshot.write_new_rows(context.permissions)


def _load_stored_rows(
    context: SyncContext,
    applications: models.QuerySet[ManagedApplication],
    records: list[ManagedAppRecord],
) -> None:
    """Read what the database holds for these applications and offers, a query per kind."""
    keys = {key for record in records if (key := _offer_key(record))}
    context.stored_offers = {offer.key: offer for offer in Offer.objects.filter(key__in=keys)}
    publisher_ids = {
        tenant_id for record in records if (tenant_id := _tenant_uuid(record.publisher_tenant_id))
    }
    publishers = Tenant.objects.filter(side=Side.PUBLISHER, entra_tenant_id__in=publisher_ids)
    context.publishers = {str(tenant.entra_tenant_id): tenant for tenant in publishers}
    context.stored_resources = defaultdict(dict)
    for resource in ManagedResource.objects.filter(application__in=applications):
        context.stored_resources[resource.application_id][resource.arm_id.lower()] = resource
    snapshot.load_stored_rows(context.permissions, applications)


def _tenant_uuid(value: str) -> str | None:
    try:
        return str(uuid.UUID(value))
    except (TypeError, ValueError):
        return None


def _mirror_subscriptions(context: SyncContext, records: list[SubscriptionRecord]) -> None:
    """Upsert the tenant's subscriptions and mark vanished those ARM no longer lists."""
    existing = {s.subscription_id: s for s in Subscription.objects.filter(tenant=context.tenant)}
    for record in records:
        row = existing.pop(record.subscription_id, None)
        values = {
            "tenant": context.tenant,
            "display_name": record.display_name,
            "state": record.state,
            "vanished_at": None,
        }
        context.tally.count(
            upsert(Subscription, row, {"subscription_id": record.subscription_id}, values)
        )
    for row in existing.values():
        if row.vanished_at is None:
            Subscription.objects.filter(pk=row.pk).update(vanished_at=context.now)
            context.tally.removed += 1


def _mirror_application(
    context: SyncContext, record: ManagedAppRecord, existing: ManagedApplication | None
) -> None:
    deny = _deny_assignment(context, record)
    offer = _mirror_offer(context, record, deny)
    policy = record.jit_policy
    support = record.support
    values: dict[str, Any] = {
        "customer_tenant": context.tenant,
        "offer": offer,
        "subscription_id": record.subscription_id,
        "resource_group": record.resource_group,
        "name": record.name,
        "location": record.location,
        "kind": record.kind,
        "managed_resource_group_id": record.managed_resource_group_id,
        "provisioning_state": record.provisioning_state,
        "management_mode": record.management_mode,
        "publisher_tenant_id": record.publisher_tenant_id,
        "jit_enabled": bool(policy and policy.enabled),
        "jit_approval_mode": policy.approval_mode if policy else "NotSpecified",
        "jit_approvers": [
            {"id": a.id, "type": a.type, "displayName": a.display_name}
            for a in (policy.approvers if policy else ())
        ],
        "jit_maximum_duration": policy.maximum_duration if policy else None,
        "support_contact": (
            {"name": support.name, "email": support.email, "phone": support.phone}
            if support
            else {}
        ),
        "support_url": record.support_url or "",
        "parameters": dict(record.parameters),
        "outputs": dict(record.outputs),
        "vanished_at": None,
    }
    if existing is None:
        app = ManagedApplication.objects.create(arm_id=record.id, **values)
        context.tally.created += 1
    else:
        app = existing
        context.tally.count(upsert(ManagedApplication, existing, {"arm_id": record.id}, values))
    snapshot.mirror_permissions(context, app, record, deny)
    if record.managed_resource_group_id:
        _mirror_resources(context, app)


def _mirror_resources(context: SyncContext, app: ManagedApplication) -> None:
    existing = dict(context.stored_resources.get(app.pk, {}))
    group = app.managed_resource_group_id.lower().rstrip("/")
    if context.resources_by_group is not None:
        records = context.resources_by_group.get(group, [])
    else:
        try:
            records = list(context.gateway.list_resources(app.managed_resource_group_id))
        except NotFound:
            records = []  # the managed resource group is gone (or not created yet)
    new_rows = []
    for record in records:
        values = {
            "application": app,
            "name": record.name,
            "type": record.type,
            "location": record.location or "",
            "vanished_at": None,
        }
        row = existing.pop(record.id.lower(), None)
        if row is None:
            new_rows.append(ManagedResource(arm_id=record.id, **values))
        else:
            context.tally.count(upsert(ManagedResource, row, {"arm_id": record.id}, values))
    ManagedResource.objects.bulk_create(new_rows)
    context.tally.created += len(new_rows)
    gone = [row.pk for row in existing.values() if row.vanished_at is None]
    if gone:
        ManagedResource.objects.filter(pk__in=gone).update(vanished_at=context.now)
        context.tally.removed += len(gone)


def _deny_assignment(context: SyncContext, record: ManagedAppRecord) -> DenyAssignmentRecord | None:
    """The managed app's system deny assignment on its managed resource group, if it has one."""
    if not record.managed_resource_group_id:
        return None
    group = record.managed_resource_group_id.lower().rstrip("/")
    if context.denies_by_group is not None:
        assignments = context.denies_by_group.get(group, [])
    else:
        try:
            assignments = context.gateway.list_deny_assignments(record.managed_resource_group_id)
        except (NotFound, Forbidden):
            return None
    for assignment in assignments:
        if assignment.is_system_protected or record.id.lower() in assignment.display_name.lower():
            return assignment
    return None


def _lock_level(deny: DenyAssignmentRecord | None) -> str:
    """ReadOnly denies every action, CanNotDelete only deletes; no deny assignment means no lock."""
    if deny is None:
        return LockLevel.NONE
    actions = {action.lower() for entry in deny.permissions for action in entry.actions}
    return LockLevel.READ_ONLY if "*" in actions else LockLevel.CAN_NOT_DELETE


def _allowed_actions(deny: DenyAssignmentRecord | None) -> tuple[list[str], list[str]]:
    """What the customer may do beyond reading: the deny assignment's exclusions."""
    if deny is None:
        return [], []
    actions = sorted(
        {a for entry in deny.permissions for a in entry.not_actions if a.lower() != "*/read"}
    )
    data_actions = sorted({a for entry in deny.permissions for a in entry.not_data_actions})
    return actions, data_actions


def _mirror_offer(
    context: SyncContext, record: ManagedAppRecord, deny: DenyAssignmentRecord | None
) -> Offer | None:
    key = _offer_key(record)
    if key is None:
        return None
    if key in context.offers:
        return context.offers[key]
    publisher_tenant = context.publishers.get(_tenant_uuid(record.publisher_tenant_id) or "")
    if record.plan is not None:
        allowed, allowed_data = _allowed_actions(deny)
        values: dict[str, Any] = {
            "kind": Offer.Kind.MARKETPLACE,
            "publisher_tenant": publisher_tenant,
            "publisher_name": record.plan.publisher,
            "product": record.plan.product,
            "plan": record.plan.name,
            "version": record.plan.version,
            # ARM carries no display name for a Marketplace offer; its product id reads well enough.
            "display_name": record.plan.product.replace("-", " ").replace("_", " ").title(),
            "lock_level": _lock_level(deny),
            "authorizations": _authorizations(record.authorizations),
            "jit_offered": record.jit_policy is not None,
            "allowed_actions": allowed,
            "allowed_data_actions": allowed_data,
        }
    else:
        definition = _definition(context, record.application_definition_id or "")
        if definition is None:
            context.offers[key] = None
            return None
        values = {
            "kind": Offer.Kind.SERVICE_CATALOG,
            "publisher_tenant": publisher_tenant,
            "definition_arm_id": definition.id,
            "display_name": definition.display_name or definition.name,
            "description": definition.description,
            "lock_level": definition.lock_level or LockLevel.NONE,
            "authorizations": _authorizations(definition.authorizations),
            "jit_offered": record.jit_policy is not None,
            "allowed_actions": list(definition.allowed_actions),
            "allowed_data_actions": list(definition.allowed_data_actions),
            "notification_endpoint": definition.notification_uri or "",
        }
    existing = context.stored_offers.get(key)
    context.tally.count(upsert(Offer, existing, {"key": key}, values, shared=True))
    # upsert keeps an existing row up to date; a new one is read back (another worker's sync
    # may have created it first).
    offer = existing or Offer.objects.get(key=key)
    context.offers[key] = offer
    return offer


def _definition(context: SyncContext, definition_id: str) -> ApplicationDefinitionRecord | None:
    if not definition_id:
        return None
    if definition_id.lower() not in context.definitions:
        try:
            context.definitions[definition_id.lower()] = context.gateway.get_application_definition(
                definition_id
            )
        except (NotFound, Forbidden):
            context.definitions[definition_id.lower()] = None
    return context.definitions[definition_id.lower()]


def _offer_key(record: ManagedAppRecord) -> str | None:
    if record.plan is not None:
        plan = record.plan
        return f"plan:{plan.publisher}/{plan.product}/{plan.name}/{plan.version}".lower()
    if record.application_definition_id:
        return record.application_definition_id.lower()
    return None


def _authorizations(authorizations: Any) -> list[dict[str, str]]:
    return [
        {"principalId": a.principal_id, "roleDefinitionId": a.role_definition_id}
        for a in authorizations
    ]
