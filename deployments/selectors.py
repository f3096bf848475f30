"""Reads that build the deployments pages.

Each function returns a queryset (or a small record) that a page renders with a fixed number of
SQL queries whatever the row count: related rows come through select_related, per-tenant sync facts
through subquery annotations, never through a query per row.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.db.models import (
    Case,
    Count,
    Exists,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce, Lower
from django.utils import timezone

from accounts import scoping
from accounts.models import Tenant
from deployments.models import (
    ManagedApplication,
    ManagedApplicationQuerySet,
    ManagedResource,
    MarketplaceEvent,
    Offer,
    SyncRun,
)
from jit.models import JitRequest
from jit.models import State as JitState

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

    from accounts.models import User

    Person = User | AnonymousUser

# The beat schedule syncs every tenant every 15 minutes; data older than two periods means at
# least one scheduled sync did not succeed, so pages warn.
STALE_AFTER = dt.timedelta(minutes=30)

# A queued sync normally starts within seconds; after this the page says no worker took it.
WORKER_LATE_AFTER = dt.timedelta(minutes=2)

OPEN_STATES = (SyncRun.State.QUEUED, SyncRun.State.RUNNING)

# ARM provisioning states, grouped the way the pages count and colour them.
SUCCEEDED_STATES = ("Succeeded",)
FAILED_STATES = ("Failed", "Canceled")
REMOVING_STATES = ("Deleting", "Deleted")

# Well-known built-in role GUIDs, so an authorization reads "Owner" rather than a GUID.
BUILTIN_ROLES = {
    "8e3af657-a8ff-443c-a75c-2fe8c4bcb635": "Owner",
    "b24988ac-6180-42a0-ab88-20f7382dd24c": "Contributor",
    "acdd72a7-3dfc-45b4-8b96-c5e3e8a0f8d0": "Reader",
    "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9": "User Access Administrator",
}


# Tenants ------------------------------------------------------------------------------------------


def publisher_customers(user: Person) -> QuerySet[Tenant]:
    """Customer tenants with an application of one of the person's publisher tenants' offers."""
    apps = ManagedApplication.objects.filter(
        offer__publisher_tenant__in=scoping.publisher_tenants_of(user)
    )
    return Tenant.objects.filter(pk__in=apps.values("customer_tenant"))


def refreshable_tenants(user: Person) -> QuerySet[Tenant]:
    """Tenants whose mirror a person may ask to refresh: their own customer tenants (readers too:
    a refresh only re-reads Azure) and, for publishers, the customers of their offers."""
    return Tenant.objects.filter(
        Q(pk__in=scoping.customer_tenants_of(user).values("pk"))
        | Q(pk__in=publisher_customers(user).values("pk"))
    )


def _last_success(tenant_ref: str) -> Subquery:
    return Subquery(
        SyncRun.objects.filter(tenant=OuterRef(tenant_ref), state=SyncRun.State.SUCCEEDED)
        .order_by("-finished_at")
        .values("finished_at")[:1]
    )


def _latest_run(tenant_ref: str, field: str) -> Subquery:
    return Subquery(
        SyncRun.objects.filter(tenant=OuterRef(tenant_ref), application_arm_id="")
        .order_by("-queued_at", "-pk")
        .values(field)[:1]
    )


@dataclass(frozen=True)
class SyncStatus:
    """What a page says about how fresh a tenant's mirror is."""

    tenant: Tenant
    run: SyncRun | None  # the latest whole-tenant run, or the one being polled
    last_success_at: dt.datetime | None
    can_refresh: bool

    @property
    def is_open(self) -> bool:
        return self.run is not None and self.run.state in OPEN_STATES

    @property
    def is_waiting_long(self) -> bool:
        """Queued for minutes: no worker is taking syncs, which operators need to know."""
        if self.run is None or self.run.state != SyncRun.State.QUEUED:
            return False
        return timezone.now() - self.run.queued_at > WORKER_LATE_AFTER

    @property
    def poll_seconds(self) -> int:
        return 10 if self.is_waiting_long else 2

    @property
    def failed(self) -> bool:
        return self.run is not None and self.run.state == SyncRun.State.FAILED

    @property
    def never_synced(self) -> bool:
        return self.last_success_at is None

    @property
    def is_stale(self) -> bool:
        if self.last_success_at is None:
            return False
        return timezone.now() - self.last_success_at > STALE_AFTER

    @property
    def stale_after_minutes(self) -> int:
        return int(STALE_AFTER.total_seconds() // 60)

    @property
    def schedule_minutes(self) -> int:
        return self.stale_after_minutes // 2


def sync_statuses(user: Person, tenants: QuerySet[Tenant]) -> list[SyncStatus]:
    """The sync status of each tenant, in three queries whatever the number of tenants."""
    rows = list(
        tenants.annotate(
            last_success_at=_last_success("pk"),
            latest_run_pk=_latest_run("pk", "pk"),
            refreshable=Exists(refreshable_tenants(user).filter(pk=OuterRef("pk"))),
        )
    )
    runs = SyncRun.objects.in_bulk([t.latest_run_pk for t in rows if t.latest_run_pk])
    return [
        SyncStatus(
            tenant=t,
            run=runs.get(t.latest_run_pk),
            last_success_at=t.last_success_at,
            can_refresh=bool(t.refreshable),
        )
        for t in rows
    ]


def sync_status_for_run(user: Person, run: SyncRun) -> SyncStatus:
    """The status a polling fragment shows for one run it follows."""
    tenant = Tenant.objects.annotate(last_success_at=_last_success("pk")).get(pk=run.tenant_id)
    return SyncStatus(
        tenant=tenant,
        run=run,
        last_success_at=tenant.last_success_at,
        can_refresh=refreshable_tenants(user).filter(pk=tenant.pk).exists(),
    )


# Applications -------------------------------------------------------------------------------------

APP_SORTS = {
    "name": ("name_lower", "pk"),
    "-name": ("-name_lower", "-pk"),
    "state": ("provisioning_state", "name_lower", "pk"),
    "-state": ("-provisioning_state", "name_lower", "pk"),
    "offer": ("offer__display_name", "offer__plan", "name_lower", "pk"),
    "-offer": ("-offer__display_name", "-offer__plan", "name_lower", "pk"),
    "customer": ("customer_tenant__display_name", "name_lower", "pk"),
    "-customer": ("-customer_tenant__display_name", "name_lower", "pk"),
    "confirmed": (F("last_confirmed_at").asc(nulls_first=True), "name_lower", "pk"),
    "-confirmed": (F("last_confirmed_at").desc(nulls_last=True), "name_lower", "pk"),
}


def _pending_requests(app_ref: str) -> Coalesce:
    """How many JIT requests of an application wait for a customer's decision."""
    pending = (
        JitRequest.objects.filter(application=OuterRef(app_ref), state=JitState.PENDING)
        .order_by()
        .values("application")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(pending), Value(0))


def _app_rows(apps: QuerySet[ManagedApplication]) -> QuerySet[ManagedApplication]:
    return apps.select_related("offer", "offer__publisher_tenant", "customer_tenant").annotate(
        name_lower=Lower("name"),
        last_confirmed_at=_last_success("customer_tenant"),
        pending_requests=_pending_requests("pk"),
    )


def _search_apps(apps: QuerySet[ManagedApplication], text: str) -> QuerySet[ManagedApplication]:
    if not text:
        return apps
    return apps.filter(
        Q(name__icontains=text)
        | Q(resource_group__icontains=text)
        | Q(offer__display_name__icontains=text)
        | Q(offer__plan__icontains=text)
        | Q(offer__publisher_name__icontains=text)
        | Q(customer_tenant__display_name__icontains=text)
    )


def customer_apps(user: Person) -> ManagedApplicationQuerySet:
    """Applications installed in the person's own customer tenants (what "My applications" lists)."""
    return ManagedApplication.objects.visible_to(user).filter(
        customer_tenant__in=scoping.customer_tenants_of(user)
    )


def my_app_rows(
    user: Person, *, search: str = "", sort: str = "name"
) -> QuerySet[ManagedApplication]:
    apps = _search_apps(customer_apps(user).present(), search)
    return _app_rows(apps).order_by(*APP_SORTS.get(sort, APP_SORTS["name"]))


def tenant_app_rows(
    user: Person, tenant: Tenant, *, search: str = "", sort: str = "name"
) -> QuerySet[ManagedApplication]:
    """A customer tenant's applications as the person (a publisher) sees them."""
    apps = ManagedApplication.objects.visible_to(user).present().filter(customer_tenant=tenant)
    return _app_rows(_search_apps(apps, search)).order_by(*APP_SORTS.get(sort, APP_SORTS["name"]))


def pending_request_count(app: ManagedApplication) -> int:
    return JitRequest.objects.filter(application=app, state=JitState.PENDING).count()


def app_resources(app: ManagedApplication) -> QuerySet[ManagedResource]:
    return app.resources.filter(vanished_at__isnull=True).order_by("type", "name")


def is_publisher_of(user: Person, app: ManagedApplication) -> bool:
    """Whether the person sees this application from the publisher's side."""
    if app.offer is None or app.offer.publisher_tenant_id is None:
        return False
    return scoping.publisher_tenants_of(user).filter(pk=app.offer.publisher_tenant_id).exists()


@dataclass(frozen=True)
class TemplateValue:
    """One ARM template parameter or output."""

    name: str
    type: str
    value: str | None  # JSON text for objects, arrays and numbers
    secret: bool


def template_values(values: dict[str, Any]) -> list[TemplateValue]:
    """ARM gives parameters and outputs as {name: {"type": ..., "value": ...}}; secure strings
    come back without a value, and we never show one if they did."""
    rows = []
    for name, entry in sorted(values.items(), key=lambda item: item[0].lower()):
        if isinstance(entry, dict) and ("value" in entry or "type" in entry):
            kind = str(entry.get("type", ""))
            value = entry.get("value")
        else:
            kind, value = "", entry
        secret = kind.lower() in ("securestring", "secureobject")
        if secret or value is None:
            value = None
        elif not isinstance(value, str):
            value = json.dumps(value, ensure_ascii=False)
        rows.append(TemplateValue(name, kind, value, secret))
    return rows


def azure_portal_url(app: ManagedApplication) -> str:
    """The same application in the Azure portal, in the customer's directory."""
    return f"https://portal.azure.com/#@{app.customer_tenant.entra_tenant_id}/resource{app.arm_id}"


# Publisher views ----------------------------------------------------------------------------------


def publisher_apps(user: Person) -> ManagedApplicationQuerySet:
    """Applications of the person's publisher tenants' offers, across customers."""
    return ManagedApplication.objects.visible_to(user).filter(
        offer__publisher_tenant__in=scoping.publisher_tenants_of(user)
    )


def publisher_offers(user: Person) -> QuerySet[Offer]:
    """The offers of the person's publisher tenants. Offer.visible_to shows a publisher all of
    these; its join over every installation (for customers' offers) is not needed here."""
    return Offer.objects.filter(publisher_tenant__in=scoping.publisher_tenants_of(user))


def _app_filter(prefix: str, *, offer: Offer | None, plan: str, state: str) -> Q:
    q = Q(**{f"{prefix}vanished_at__isnull": True})
    if offer is not None:
        q &= Q(**{f"{prefix}offer": offer})
    if plan:
        q &= Q(**{f"{prefix}offer__plan": plan})
    if state == "succeeded":
        q &= Q(**{f"{prefix}provisioning_state__in": SUCCEEDED_STATES})
    elif state == "failed":
        q &= Q(**{f"{prefix}provisioning_state__in": FAILED_STATES})
    elif state == "in_progress":
        q &= ~Q(
            **{
                f"{prefix}provisioning_state__in": SUCCEEDED_STATES
                + FAILED_STATES
                + REMOVING_STATES
            }
        )
    elif state == "removing":
        q &= Q(**{f"{prefix}provisioning_state__in": REMOVING_STATES})
    return q


CUSTOMER_SORTS = {
    "name": ("name_lower", "pk"),
    "-name": ("-name_lower", "-pk"),
    "apps": ("-app_count", "name_lower", "pk"),
    "-apps": ("app_count", "name_lower", "pk"),
    "failed": ("-failed_count", "name_lower", "pk"),
    "synced": (F("last_success_at").asc(nulls_first=True), "name_lower", "pk"),
    "-synced": (F("last_success_at").desc(nulls_last=True), "name_lower", "pk"),
}


def customer_rows(
    publisher_ids: list[int],
    *,
    search: str = "",
    offer: Offer | None = None,
    plan: str = "",
    state: str = "",
    sort: str = "name",
) -> QuerySet[Tenant]:
    """The publisher's customer tenants in the chosen order, with their last sync and pending
    JIT requests. `publisher_ids`: the viewer's publisher tenants.

    With a filter, only customers with a matching application are listed. Per-tenant figures are
    subqueries that PostgreSQL computes for the page's rows only; sorted by name (the default) it
    reads the tenants in the order of their name index and stops at the page, however many
    customers there are. The application counts by state of the shown page come from
    `with_app_counts`; only the one a sort needs is computed here, for every customer.
    """
    tenants = Tenant.objects.filter(
        pk__in=ManagedApplication.objects.filter(offer__publisher_tenant__in=publisher_ids).values(
            "customer_tenant"
        )
    )
    if search:
        tenants = tenants.filter(display_name__icontains=search)
    if offer is not None or plan or state:
        matching = ManagedApplication.objects.filter(
            offer__publisher_tenant__in=publisher_ids
        ).filter(_app_filter("", offer=offer, plan=plan, state=state))
        tenants = tenants.filter(pk__in=matching.values("customer_tenant"))
    if sort not in CUSTOMER_SORTS:
        sort = "name"
    if sort in ("apps", "-apps", "failed"):
        apps = ManagedApplication.objects.filter(
            customer_tenant=OuterRef("pk"), offer__publisher_tenant__in=publisher_ids
        ).filter(_app_filter("", offer=offer, plan=plan, state=state))
        if sort == "failed":
            apps = apps.filter(provisioning_state__in=FAILED_STATES)
        per_tenant = apps.order_by().values("customer_tenant").annotate(n=Count("pk")).values("n")
        key = "failed_count" if sort == "failed" else "app_count"
        tenants = tenants.annotate(**{key: Coalesce(Subquery(per_tenant), Value(0))})
    return tenants.annotate(
        name_lower=Lower("display_name"),
        pending_requests=Coalesce(
            Subquery(
                JitRequest.objects.filter(
                    application__customer_tenant=OuterRef("pk"),
                    application__offer__publisher_tenant__in=publisher_ids,
                    state=JitState.PENDING,
                )
                .order_by()
                .values("application__customer_tenant")
                .annotate(n=Count("pk"))
                .values("n")
            ),
            Value(0),
        ),
        last_success_at=_last_success("pk"),
        latest_run_state=_latest_run("pk", "state"),
    ).order_by(*CUSTOMER_SORTS[sort])


APP_COUNTS = ("app_count", "succeeded_count", "in_progress_count", "failed_count", "removing_count")


def with_app_counts(
    tenants: list[Tenant],
    publisher_ids: list[int],
    *,
    offer: Offer | None = None,
    plan: str = "",
    state: str = "",
) -> list[Tenant]:
    """The given tenants (a page of `customer_rows`) with `app_count`, `succeeded_count`,
    `in_progress_count`, `failed_count` and `removing_count` set, from one grouped query over
    their applications of the publisher's offers, and `is_stale_sync`. With a filter, the counts
    cover matching applications only."""
    settled = SUCCEEDED_STATES + FAILED_STATES + REMOVING_STATES
    counts = (
        ManagedApplication.objects.filter(
            customer_tenant__in=[t.pk for t in tenants], offer__publisher_tenant__in=publisher_ids
        )
        .filter(_app_filter("", offer=offer, plan=plan, state=state))
        .order_by()
        .values("customer_tenant")
        .annotate(
            app_count=Count("pk"),
            succeeded_count=Count("pk", filter=Q(provisioning_state__in=SUCCEEDED_STATES)),
            in_progress_count=Count("pk", filter=~Q(provisioning_state__in=settled)),
            failed_count=Count("pk", filter=Q(provisioning_state__in=FAILED_STATES)),
            removing_count=Count("pk", filter=Q(provisioning_state__in=REMOVING_STATES)),
        )
    )
    by_tenant: dict[int, dict[str, object]] = {row["customer_tenant"]: dict(row) for row in counts}
    stale_before = timezone.now() - STALE_AFTER
    for tenant in tenants:
        figures = by_tenant.get(tenant.pk, {})
        for name in APP_COUNTS:
            setattr(tenant, name, figures.get(name, 0))
        last = tenant.last_success_at  # type: ignore[attr-defined]  # annotated by customer_rows
        tenant.is_stale_sync = last is not None and last < stale_before  # type: ignore[attr-defined]  # read by the page
    return tenants


def plans_of(offers: list[Offer]) -> list[str]:
    """The distinct plan names of some offers, for a filter menu."""
    return sorted({offer.plan for offer in offers if offer.plan}, key=str.lower)


def fleet_rows(user: Person) -> QuerySet[Offer]:
    """Each offer version of the publisher with how many applications and customers run it."""
    present = Q(applications__vanished_at__isnull=True)
    return (
        publisher_offers(user)
        .annotate(
            app_count=Count("applications", filter=present, distinct=True),
            customer_count=Count("applications__customer_tenant", filter=present, distinct=True),
            failed_count=Count(
                "applications",
                filter=present & Q(applications__provisioning_state__in=FAILED_STATES),
                distinct=True,
            ),
        )
        .order_by("display_name", "plan", "version")
    )


# Catalog ------------------------------------------------------------------------------------------


def catalog_rows(user: Person) -> QuerySet[Offer]:
    """Offers the person may see, with how many of their visible applications run each.

    A person sees every application of their own publisher tenants' offers and, of other offers,
    the applications in their customer tenants (ManagedApplication.visible_to). So the count is
    taken one way or the other per offer, each an index lookup, rather than testing both
    conditions on every installation of every offer.
    """

    def installs(apps: ManagedApplicationQuerySet) -> Coalesce:
        per_offer = (
            apps.present()
            .filter(offer=OuterRef("pk"))
            .order_by()
            .values("offer")
            .annotate(n=Count("pk"))
            .values("n")
        )
        return Coalesce(Subquery(per_offer), Value(0))

    return (
        Offer.objects.filter(Exists(Offer.objects.visible_to(user).filter(pk=OuterRef("pk"))))
        .select_related("publisher_tenant")
        .annotate(
            install_count=Case(
                When(
                    publisher_tenant__in=scoping.publisher_tenants_of(user),
                    then=installs(ManagedApplication.objects.all()),
                ),
                default=installs(customer_apps(user)),
            )
        )
        .order_by("display_name", "plan", "version")
    )


@dataclass(frozen=True)
class AuthorizationRow:
    principal_id: str
    role_id: str
    role_name: str


def authorization_rows(offer: Offer) -> list[AuthorizationRow]:
    rows = []
    for entry in offer.authorizations or []:
        if not isinstance(entry, dict):
            continue
        role_id = str(entry.get("roleDefinitionId", "")).rsplit("/", 1)[-1].lower()
        rows.append(
            AuthorizationRow(
                principal_id=str(entry.get("principalId", "")),
                role_id=role_id,
                role_name=BUILTIN_ROLES.get(role_id, ""),
            )
        )
    return rows


PURCHASE_NOTICE_HOURS = 24


def recent_purchases(user: User) -> list[MarketplaceEvent]:
    """Installations Azure announced in the last day, for the notice on the Customers page."""
    since = timezone.now() - dt.timedelta(hours=PURCHASE_NOTICE_HOURS)
    events = MarketplaceEvent.objects.visible_to(user).recent_purchases(since=since)
    return list(events.select_related("customer_tenant")[:5])
