"""The mirror of ARM: offers, managed applications, what is inside their managed resource groups,
and a record of every sync. ARM is the truth; rows are upserted by ARM id and never edited by hand.

A resync that finds nothing new writes no mirrored row, so "last confirmed from Azure" is the
finish time of the tenant's latest successful SyncRun, not a column on each row.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING, ClassVar

from django.db import models
from django.db.models import Exists, Q
from django.db.models.functions import Upper
from django.utils import timezone

from accounts import scoping
from accounts.models import Tenant

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

    from accounts.models import User


class LockLevel(models.TextChoices):
    READ_ONLY = "ReadOnly", "Read-only"
    CAN_NOT_DELETE = "CanNotDelete", "Cannot delete"
    NONE = "None", "No lock"


class OfferQuerySet(models.QuerySet["Offer"]):
    def visible_to(self, user: User | AnonymousUser) -> OfferQuerySet:
        """Publishers see their own offers. Customers see the Marketplace offers (public
        listings, so they can judge one before installing it) and the offers of their own apps;
        a Service Catalog definition stays private to the tenants that use it."""
        customer_tenants = scoping.customer_tenants_of(user)
        marketplace = Q(kind=Offer.Kind.MARKETPLACE, publisher_tenant__isnull=False)
        if not customer_tenants.exists():
            marketplace = Q(pk__in=[])
        return self.filter(
            Q(publisher_tenant__in=scoping.publisher_tenants_of(user))
            | marketplace
            | Q(applications__customer_tenant__in=customer_tenants)
        ).distinct()


class Offer(models.Model):
    """What a publisher sells: a Marketplace plan version or a Service Catalog definition."""

    class Kind(models.TextChoices):
        MARKETPLACE = "MarketPlace", "Azure Marketplace"
        SERVICE_CATALOG = "ServiceCatalog", "Service Catalog"

    # Marketplace: "plan:{publisher}/{product}/{plan}/{version}"; Service Catalog: the
    # application definition's ARM id. Lower-cased: ARM ids are case-insensitive.
    key = models.CharField(max_length=600, unique=True)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    publisher_tenant = models.ForeignKey(
        Tenant, on_delete=models.PROTECT, related_name="offers", null=True, blank=True
    )
    definition_arm_id = models.CharField(max_length=600, blank=True)
    publisher_name = models.CharField(max_length=200, blank=True)
    product = models.CharField(max_length=200, blank=True)
    plan = models.CharField(max_length=200, blank=True)
    version = models.CharField(max_length=50, blank=True)
    display_name = models.CharField(max_length=300)
    description = models.TextField(blank=True)
    lock_level = models.CharField(max_length=20, choices=LockLevel.choices, default=LockLevel.NONE)
    authorizations = models.JSONField(default=list, blank=True)
    jit_offered = models.BooleanField(default=False)
    allowed_actions = models.JSONField(default=list, blank=True)
    allowed_data_actions = models.JSONField(default=list, blank=True)
    notification_endpoint = models.URLField(max_length=600, blank=True)
    first_seen_at = models.DateTimeField(default=timezone.now, editable=False)

    objects = OfferQuerySet.as_manager()

    class Meta:
        ordering: ClassVar = ["display_name", "plan", "version"]

    def __str__(self) -> str:
        if self.kind == self.Kind.MARKETPLACE and self.plan:
            return f"{self.display_name} · {self.plan} {self.version}".strip()
        return self.display_name

    @property
    def publisher_display(self) -> str:
        """The publisher's tenant name when the portal knows it, else the plan's publisher id."""
        if self.publisher_tenant and self.publisher_tenant.display_name:
            return self.publisher_tenant.display_name
        return self.publisher_name


class ManagedApplicationQuerySet(models.QuerySet["ManagedApplication"]):
    def visible_to(self, user: User | AnonymousUser) -> ManagedApplicationQuerySet:
        """Customers see their tenants' apps; publishers see the apps of their offers."""
        return self.filter(
            Q(customer_tenant__in=scoping.customer_tenants_of(user))
            | Q(offer__publisher_tenant__in=scoping.publisher_tenants_of(user))
        )

    def present(self) -> ManagedApplicationQuerySet:
        """Applications ARM still lists."""
        return self.filter(vanished_at__isnull=True)

    def span_several_tenants(self) -> bool:
        """Whether these applications belong to more than one customer tenant (reads two rows
        at most, whatever the fleet)."""
        return len(self.order_by().values("customer_tenant").distinct()[:2]) > 1


class ManagedApplication(models.Model):
    """A customer's instance of an offer, deployed into a managed resource group."""

    class ApprovalMode(models.TextChoices):
        NOT_SPECIFIED = "NotSpecified", "Not specified"
        AUTO = "AutoApprove", "Automatic approval"
        MANUAL = "ManualApprove", "Manual approval"

    arm_id = models.CharField(max_length=600, unique=True)
    customer_tenant = models.ForeignKey(
        Tenant, on_delete=models.PROTECT, related_name="applications"
    )
    offer = models.ForeignKey(
        Offer, on_delete=models.PROTECT, related_name="applications", null=True, blank=True
    )
    subscription_id = models.CharField(max_length=64)
    resource_group = models.CharField(max_length=90)
    name = models.CharField(max_length=64)
    location = models.CharField(max_length=40, blank=True)
    kind = models.CharField(max_length=30, blank=True)
    managed_resource_group_id = models.CharField(max_length=600, blank=True)
    provisioning_state = models.CharField(max_length=30, blank=True)
    management_mode = models.CharField(max_length=30, blank=True)
    publisher_tenant_id = models.CharField(max_length=64, blank=True)
    jit_enabled = models.BooleanField(default=False)
    jit_approval_mode = models.CharField(
        max_length=20, choices=ApprovalMode.choices, default=ApprovalMode.NOT_SPECIFIED
    )
    jit_approvers = models.JSONField(default=list, blank=True)
    jit_maximum_duration = models.DurationField(null=True, blank=True)
    support_contact = models.JSONField(default=dict, blank=True)
    parameters = models.JSONField(default=dict, blank=True)
    outputs = models.JSONField(default=dict, blank=True)
    support_url = models.URLField(max_length=600, blank=True)
    first_seen_at = models.DateTimeField(default=timezone.now, editable=False)
    vanished_at = models.DateTimeField(null=True, blank=True)

    objects = ManagedApplicationQuerySet.as_manager()

    class Meta:
        ordering: ClassVar = ["name"]
        indexes: ClassVar = [
            models.Index(fields=["customer_tenant", "vanished_at"]),
            # ARM ids compare without case: a notification's application sync looks its id up
            # with `arm_id__iexact`, which only this index answers without reading every row.
            models.Index(Upper("arm_id"), name="managedapp_upper_arm_id_idx"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def managed_resource_group_name(self) -> str:
        return self.managed_resource_group_id.rstrip("/").rsplit("/", 1)[-1]


class Subscription(models.Model):
    """An Azure subscription of a tenant, as the portal's service principal there sees it."""

    subscription_id = models.CharField(max_length=64, unique=True)
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="subscriptions")
    display_name = models.CharField(max_length=200, blank=True)
    state = models.CharField(max_length=20, blank=True)
    vanished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering: ClassVar = ["display_name"]
        indexes: ClassVar = [
            # Every marketplace notification finds its tenant by `subscription_id__iexact`.
            models.Index(Upper("subscription_id"), name="subscription_upper_id_idx"),
        ]

    def __str__(self) -> str:
        return self.display_name or self.subscription_id


class ManagedResource(models.Model):
    """A resource inside an application's managed resource group."""

    application = models.ForeignKey(
        ManagedApplication, on_delete=models.CASCADE, related_name="resources"
    )
    arm_id = models.CharField(max_length=800, unique=True)
    name = models.CharField(max_length=200)
    type = models.CharField(max_length=200)
    location = models.CharField(max_length=40, blank=True)
    first_seen_at = models.DateTimeField(default=timezone.now, editable=False)
    vanished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering: ClassVar = ["type", "name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.type})"


class SyncRunQuerySet(models.QuerySet["SyncRun"]):
    def visible_to(self, user: User | AnonymousUser) -> SyncRunQuerySet:
        """Sync runs of the tenants a person belongs to, and of customers of their offers."""
        return self.filter(
            Q(tenant__in=scoping.customer_tenants_of(user))
            | Q(
                tenant__applications__offer__publisher_tenant__in=scoping.publisher_tenants_of(user)
            )
        ).distinct()


class SyncRun(models.Model):
    """One pass of the ARM mirror over a tenant (or a single application), with what it changed."""

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="sync_runs")
    application_arm_id = models.CharField(max_length=600, blank=True)
    state = models.CharField(max_length=20, choices=State.choices, default=State.QUEUED)
    queued_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    calls_made = models.PositiveIntegerField(default=0)
    # ARM's 429 answers during the run, retried ones included.
    throttled_responses = models.PositiveIntegerField("429s from ARM", default=0)
    rows_created = models.PositiveIntegerField(default=0)
    rows_updated = models.PositiveIntegerField(default=0)
    rows_removed = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    # {subscription id or "/subscriptions": {"digest", "compared_at"}}: what ARM answered for each
    # subscription, and for the subscription list, when a sync last compared it with the mirror
    # in full (see deployments/sync.py).
    subscription_digests = models.JSONField(default=dict, blank=True)

    objects = SyncRunQuerySet.as_manager()

    class Meta:
        ordering: ClassVar = ["-queued_at"]
        indexes: ClassVar = [
            # A tenant's last successful sync, and its latest run: looked up for every row of
            # the list pages.
            models.Index(
                fields=["tenant", "state", "-finished_at"], name="syncrun_last_success_idx"
            ),
            models.Index(
                fields=["tenant", "application_arm_id", "-queued_at", "-id"],
                name="syncrun_latest_idx",
            ),
            # The tenant's previous run of any kind, whose digests a sync compares with.
            models.Index(fields=["tenant", "-started_at"], name="syncrun_previous_idx"),
        ]
        constraints: ClassVar = [
            # At most one unfinished whole-tenant sync per tenant: the claim that keeps two
            # workers from syncing the same tenant at once.
            models.UniqueConstraint(
                fields=["tenant"],
                condition=Q(state__in=["queued", "running"], application_arm_id=""),
                name="one_open_tenant_sync",
            )
        ]

    def __str__(self) -> str:
        return f"Sync of {self.tenant} ({self.get_state_display()})"


class MarketplaceEventQuerySet(models.QuerySet["MarketplaceEvent"]):
    def visible_to(self, user: User | AnonymousUser) -> MarketplaceEventQuerySet:
        """Notifications reach the publisher's endpoint: only its people see them."""
        return self.filter(Exists(scoping.publisher_tenants_of(user)))

    def recent_purchases(self, *, since: dt.datetime) -> MarketplaceEventQuerySet:
        """New installations Azure announced (PUT) since a moment, newest first."""
        return self.filter(event_type="PUT", received_at__gte=since).order_by("-received_at")


class MarketplaceEvent(models.Model):
    """A notification Azure sent about an application (PUT, PATCH or DELETE), kept once."""

    class Outcome(models.TextChoices):
        QUEUED = "queued", "Sync queued"
        UNMATCHED = "unmatched", "Subscription not known yet"

    application_arm_id = models.CharField(max_length=600)
    event_type = models.CharField(max_length=10)
    provisioning_state = models.CharField(max_length=30)
    event_time = models.DateTimeField()
    received_at = models.DateTimeField(default=timezone.now, editable=False)
    outcome = models.CharField(max_length=20, choices=Outcome.choices)
    customer_tenant = models.ForeignKey(
        Tenant, on_delete=models.SET_NULL, null=True, blank=True, related_name="marketplace_events"
    )
    plan = models.JSONField(default=dict, blank=True)
    payload = models.JSONField()

    objects = MarketplaceEventQuerySet.as_manager()

    class Meta:
        verbose_name = "Marketplace notification"
        ordering: ClassVar = ["-received_at"]
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["application_arm_id", "event_type", "provisioning_state", "event_time"],
                name="unique_marketplace_event",
            )
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.provisioning_state} {self.application_arm_id}"

    @property
    def application_name(self) -> str:
        return self.application_arm_id.rstrip("/").rsplit("/", 1)[-1]


# --- Permission X-ray: what each side may do, and when that changed ------------------------------


class RoleDefinition(models.Model):
    """An Azure role definition the portal has read, by GUID, so pages can name roles offline."""

    guid = models.CharField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    role_type = models.CharField(max_length=30, blank=True)
    description = models.TextField(blank=True)
    # [{actions, notActions, dataActions, notDataActions}], as ARM lists them
    permissions = models.JSONField(default=list, blank=True)
    refreshed_at = models.DateTimeField(null=True, blank=True, help_text="Last read from Azure.")

    class Meta:
        ordering: ClassVar = ["name"]

    def __str__(self) -> str:
        return self.name


class PermissionSnapshot(models.Model):
    """What the publisher and the customer may do in one application, as of the last change.

    `state` is the comparable picture the sync builds (see deployments/permissions/snapshot.py); the row is
    written only when that picture changes, and each change also leaves a PermissionChangeEvent.
    """

    application = models.OneToOneField(
        ManagedApplication, on_delete=models.CASCADE, related_name="permission_snapshot"
    )
    state = models.JSONField(default=dict)
    # deployments/permissions/risk.py's score of `state`, kept so pages can sort by it.
    risk_score = models.PositiveSmallIntegerField(default=0)
    first_seen_at = models.DateTimeField(default=timezone.now, editable=False)
    changed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes: ClassVar = [
            models.Index(fields=["-risk_score"], name="permissionsnapshot_risk_idx"),
        ]

    def __str__(self) -> str:
        return f"Permissions of {self.application}"


class ElevationQuerySet(models.QuerySet["Elevation"]):
    def since(self, moment: dt.datetime) -> ElevationQuerySet:
        """Elevations that were still running (or had not started) at `moment`."""
        return self.filter(end__gte=moment)


class Elevation(models.Model):
    """A JIT request that granted, or may grant, the publisher a role: the timeline's bars."""

    application = models.ForeignKey(
        ManagedApplication, on_delete=models.CASCADE, related_name="elevations"
    )
    arm_id = models.CharField(max_length=600, unique=True)
    principal_id = models.CharField(max_length=64)
    role_definition_id = models.CharField(max_length=64)
    state = models.CharField(max_length=20)  # jitRequestState
    start = models.DateTimeField()
    end = models.DateTimeField()

    objects = ElevationQuerySet.as_manager()

    class Meta:
        verbose_name = "elevation on the timeline"
        verbose_name_plural = "elevations on the timeline"
        ordering: ClassVar = ["-start"]

    def __str__(self) -> str:
        return f"{self.state} elevation of {self.principal_id} in {self.application}"

    def is_active(self, now: dt.datetime) -> bool:
        return self.state == "Approved" and self.start <= now < self.end


class PermissionChangeEventQuerySet(models.QuerySet["PermissionChangeEvent"]):
    def visible_to(self, user: User | AnonymousUser) -> PermissionChangeEventQuerySet:
        """Changes in apps a person may see (their tenants' apps, or apps of their offers)."""
        return self.filter(application__in=ManagedApplication.objects.visible_to(user))


class PermissionChangeEvent(models.Model):
    """A difference between two syncs in who may do what in an application."""

    application = models.ForeignKey(
        ManagedApplication, on_delete=models.CASCADE, related_name="permission_changes"
    )
    customer_tenant = models.ForeignKey(
        Tenant, on_delete=models.CASCADE, related_name="permission_changes"
    )
    at = models.DateTimeField(default=timezone.now, db_index=True)
    aspects = models.JSONField(default=list)  # e.g. ["jitPolicy", "roles"]
    lines = models.JSONField(default=list)  # plain-language sentences, one per difference
    before = models.JSONField(default=dict)
    after = models.JSONField(default=dict)
    mailed_at = models.DateTimeField(null=True, blank=True)

    objects = PermissionChangeEventQuerySet.as_manager()

    class Meta:
        verbose_name = "permission change"
        ordering: ClassVar = ["-at", "-pk"]
        indexes: ClassVar = [
            # The periodic retry of unsent mails reads only these.
            models.Index(
                fields=["id"],
                condition=Q(mailed_at__isnull=True),
                name="permissionchange_unsent_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"Permission change in {self.application} at {self.at:%Y-%m-%d %H:%M}"

    def differences(self) -> list[tuple[str, str, str]]:
        """(aspect, before, after) as indented JSON, for the "before and after" detail."""
        return [
            (
                aspect,
                json.dumps(self.before.get(aspect), indent=1, sort_keys=True),
                json.dumps(self.after.get(aspect), indent=1, sort_keys=True),
            )
            for aspect in self.aspects
        ]


class WebhookRejection(models.Model):
    """How many marketplace webhook requests were refused in one hour, and why: a tally, not a
    log (one row per hour and reason, so it stays small whatever is thrown at the endpoint).
    Written by `deployments.rejections`; read by the operations dashboard."""

    class Reason(models.TextChoices):
        BAD_SECRET = "bad_secret", "Missing or wrong secret"
        LOCKED_OUT = "locked_out", "Too many wrong secrets from the address"
        RATE_LIMITED = "rate_limited", "Too many deliveries from the address"
        TOO_LARGE = "too_large", "Body too large"
        BAD_BODY = "bad_body", "Body not a valid notification"

    hour = models.DateTimeField(help_text="The start of the hour (UTC) the rejections fell in.")
    reason = models.CharField(max_length=20, choices=Reason.choices)
    count = models.PositiveIntegerField(default=0)

    class Meta:
        ordering: ClassVar = ["-hour", "reason"]
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["hour", "reason"], name="unique_webhook_rejection_hour")
        ]

    def __str__(self) -> str:
        return f"{self.count} x {self.get_reason_display()} at {self.hour:%Y-%m-%d %H:00}"
