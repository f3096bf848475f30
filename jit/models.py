"""Just-in-time elevation: requests mirrored from ARM, the portal's outbox of work to submit to
ARM as a person, and the append-only audit trail.

ARM is the truth for a request's state; the portal adds one state of its own, `Submitting`, for a
request it has recorded but ARM has not confirmed yet.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import TYPE_CHECKING, Any, ClassVar

from django.db import models
from django.db.models import F, Q, Value
from django.db.models.functions import Concat
from django.utils import timezone

from accounts import scoping
from accounts.models import Tenant, User
from deployments.models import ManagedApplication
from portal import moments
from portal.guids import canonical_guid

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

# ARM times a request out when nobody decides it within a day (azure-domain.md §2.3).
DECISION_TIMEOUT = dt.timedelta(hours=24)
TIMEOUT_WARNING_BEFORE = dt.timedelta(hours=1)

BUILTIN_ROLES = {
    "8e3af657-a8ff-443c-a75c-2fe8c4bcb635": "Owner",
    "b24988ac-6180-42a0-ab88-20f7382dd24c": "Contributor",
    "acdd72a7-3385-48ef-bd42-f606fba81ae7": "Reader",
    "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9": "User Access Administrator",
}


def role_name(role_definition_id: str) -> str:
    guid = role_definition_id.rstrip("/").rsplit("/", 1)[-1].lower()
    return BUILTIN_ROLES.get(guid, guid)


class State(models.TextChoices):
    SUBMITTING = "Submitting", "Submitting"
    PENDING = "Pending", "Pending"
    APPROVED = "Approved", "Approved"
    DENIED = "Denied", "Denied"
    CANCELED = "Canceled", "Canceled"
    EXPIRED = "Expired", "Expired"
    TIMEOUT = "Timeout", "Timed out"
    FAILED = "Failed", "Failed"
    # The portal's own: ARM answers 404 for the request, or stopped listing it.
    GONE = "Gone", "No longer in Azure"
    # ARM's enums are open strings: a state this portal does not know (kept in `arm_state`).
    UNKNOWN = "Unknown", "Unknown state"


FINAL_STATES = (
    State.DENIED,
    State.CANCELED,
    State.EXPIRED,
    State.TIMEOUT,
    State.FAILED,
    State.GONE,
)


def state_from_arm(arm_state: str) -> str:
    """The row's state for ARM's `jitRequestState`; "NotSpecified" and new values are Unknown."""
    known = {value.lower(): value for value in State.values}
    value = known.get(str(arm_state or "").lower())
    if value is None or value in (State.SUBMITTING, State.GONE, State.UNKNOWN):
        return State.UNKNOWN
    return value


class Decision(models.TextChoices):
    APPROVE = "approve", "Approve"
    DENY = "deny", "Deny"


def _customer_or_publisher(user: User | AnonymousUser, prefix: str = "") -> Q:
    customers, publishers = scoping.visible_tenant_ids(user)
    return Q(**{f"{prefix}customer_tenant__in": customers}) | Q(
        **{f"{prefix}offer__publisher_tenant__in": publishers}
    )


def approver_allows(application: ManagedApplication, user: User) -> bool:
    """Whether the app's policy lets this person approve.

    An empty list means any admin of the tenant. Group approvers cannot be checked here (the portal
    does not mirror group membership), so a policy naming a group lets admins try and ARM decides.
    """
    approvers: list[dict[str, Any]] = application.jit_approvers or []
    if not approvers:
        return True
    oid = canonical_guid(user.entra_object_id)
    return any(
        str(a.get("type", "")).lower() == "group" or canonical_guid(a.get("id")) == oid
        for a in approvers
    )


class JitRequestQuerySet(models.QuerySet["JitRequest"]):
    def visible_to(self, user: User | AnonymousUser) -> JitRequestQuerySet:
        """Requests on apps of the person's customer tenants or of their publisher's offers."""
        return self.filter(_customer_or_publisher(user, "application__"))

    def decidable_by(self, user: User | AnonymousUser) -> JitRequestQuerySet:
        """Pending requests this person may approve or deny: an admin of the customer tenant, an
        allowed approver under the app's policy, and not the requester."""
        if not user.is_authenticated:
            return self.none()
        apps = ManagedApplication.objects.filter(
            customer_tenant__in=scoping.administered_tenants_of(user), jit_enabled=True
        )
        allowed = [app.pk for app in apps if approver_allows(app, user)]
        # Nobody decides a request they filed or one that would elevate themselves.
        own = Q(requested_by=user)
        if user.entra_object_id:
            oid = canonical_guid(user.entra_object_id)  # rows hold ids in this spelling too
            own |= Q(requester_oid=oid) | Q(principal_id=oid)
        return self.filter(state=State.PENDING, application__in=allowed).exclude(own)

    def cancelable_by(self, user: User | AnonymousUser) -> JitRequestQuerySet:
        """Open requests the publisher side may withdraw (pending or granted)."""
        return self.filter(
            state__in=[State.PENDING, State.APPROVED],
            application__offer__publisher_tenant__in=scoping.publisher_tenants_of(user),
        )

    def revocable_by(self, user: User | AnonymousUser) -> JitRequestQuerySet:
        """Granted requests a customer admin may end early: those living in the customer's own
        subscription (a DELETE elsewhere, in the publisher's scope, is not theirs to make)."""
        own_subscription = Concat(
            Value("/subscriptions/"), F("application__subscription_id"), Value("/")
        )
        return self.filter(
            state=State.APPROVED,
            application__customer_tenant__in=scoping.administered_tenants_of(user),
            arm_id__istartswith=own_subscription,
        )

    def open(self) -> JitRequestQuerySet:
        """Requests whose state may still change in ARM."""
        return self.filter(
            state__in=[State.SUBMITTING, State.PENDING, State.APPROVED, State.UNKNOWN]
        )


class JitRequest(models.Model):
    """A publisher's request for time-boxed elevation (`Microsoft.Solutions/jitRequests`)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    application = models.ForeignKey(
        ManagedApplication, on_delete=models.PROTECT, related_name="jit_requests"
    )
    arm_id = models.CharField(max_length=600, unique=True)
    name = models.CharField(max_length=260)  # the portal's are 10; adopted ones keep ARM's
    requested_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="jit_requests"
    )
    requester_oid = models.CharField(max_length=64, blank=True)
    requester_name = models.CharField(max_length=200, blank=True)
    principal_id = models.CharField(max_length=64)
    role_definition_id = models.CharField(max_length=64)
    start = models.DateTimeField()
    duration = models.DurationField()
    justification = models.TextField(blank=True)
    ticket_reference = models.CharField(max_length=100, blank=True)
    state = models.CharField(max_length=20, choices=State.choices, default=State.SUBMITTING)
    arm_state = models.CharField("ARM's jitRequestState", max_length=40, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    state_changed_at = models.DateTimeField(default=timezone.now)
    decided_by_name = models.CharField(max_length=200, blank=True)
    decision_reason = models.TextField(blank=True)
    grant_started_at = models.DateTimeField(null=True, blank=True)
    grant_ended_at = models.DateTimeField(null=True, blank=True)
    timeout_warned_at = models.DateTimeField(null=True, blank=True)
    activity_fetched_at = models.DateTimeField(null=True, blank=True)
    error_code = models.CharField(max_length=100, blank=True)
    error_message = models.TextField(blank=True)
    # Hand-off channel: the decision a customer admin recorded here before making it in Azure.
    # It is what they said they would do, never proof: the state comes from ARM alone.
    handoff_decision = models.CharField(max_length=10, choices=Decision.choices, blank=True)
    handoff_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    handoff_by_name = models.CharField(max_length=200, blank=True)
    handoff_reason = models.TextField(blank=True)
    handoff_at = models.DateTimeField(null=True, blank=True)

    objects = JitRequestQuerySet.as_manager()

    class Meta:
        verbose_name = "JIT request"
        ordering: ClassVar = ["-created_at"]
        indexes: ClassVar = [
            models.Index(fields=["state", "created_at"]),
            # The lists read the newest first across thousands of customers.
            models.Index(fields=["created_at"], name="jit_request_created_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.name} on {self.application}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        # Who a request elevates and who filed it are compared with people's object ids:
        # one spelling (see portal.guids), whatever ARM or a form sent.
        self.principal_id = canonical_guid(self.principal_id)
        if self.requester_oid:
            self.requester_oid = canonical_guid(self.requester_oid)
        super().save(*args, **kwargs)

    @property
    def role_name(self) -> str:
        return role_name(self.role_definition_id)

    @property
    def end(self) -> dt.datetime:
        return moments.plus(self.start, self.duration)

    @property
    def times_out_at(self) -> dt.datetime:
        return moments.plus(self.created_at, DECISION_TIMEOUT)

    def is_active(self, now: dt.datetime | None = None) -> bool:
        now = now or timezone.now()
        return self.state == State.APPROVED and self.start <= now < self.end

    @property
    def is_final(self) -> bool:
        return self.state in FINAL_STATES


# Operation kinds a request may have only one live (or done) of: the constraint below.
ONCE_PER_REQUEST_KINDS = ("create", "decide", "cancel", "revoke")


class OperationQuerySet(models.QuerySet["Operation"]):
    def unfinished(self) -> OperationQuerySet:
        return self.filter(status__in=[Operation.Status.QUEUED, Operation.Status.RUNNING])


class Operation(models.Model):
    """Outbox: something a person did in the portal that a task still has to submit to ARM as
    them. Written in the same transaction as the change and its audit event."""

    class Kind(models.TextChoices):
        CREATE = "create", "Create request"
        CANCEL = "cancel", "Cancel request"
        DECIDE = "decide", "Decision"
        REVOKE = "revoke", "Revoke grant"
        POLICY = "policy", "Policy change"

    class Status(models.TextChoices):
        QUEUED = "queued", "Submitting"
        RUNNING = "running", "Submitting"
        DONE = "done", "Confirmed by Azure"
        FAILED = "failed", "Failed"

    kind = models.CharField(max_length=10, choices=Kind.choices)
    jit_request = models.ForeignKey(
        JitRequest, on_delete=models.CASCADE, null=True, blank=True, related_name="operations"
    )
    application = models.ForeignKey(
        ManagedApplication, on_delete=models.CASCADE, related_name="jit_operations"
    )
    by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="jit_operations")
    payload = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    attempts = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    claimed_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    error_code = models.CharField(max_length=100, blank=True)
    error_message = models.TextField(blank=True)
    what_to_do = models.TextField(blank=True)

    objects = OperationQuerySet.as_manager()

    class Meta:
        verbose_name = "JIT outbox operation"
        ordering: ClassVar = ["-created_at"]
        constraints: ClassVar = [
            # One live decision, cancel or revoke per request: a double click, or two approvers
            # at once, find the first one's row here and apply nothing.
            models.UniqueConstraint(
                fields=["jit_request", "kind"],
                condition=Q(kind__in=list(ONCE_PER_REQUEST_KINDS)) & ~Q(status="failed"),
                name="one_live_operation_per_request_and_kind",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.get_status_display()})"

    @property
    def is_submitting(self) -> bool:
        return self.status in (self.Status.QUEUED, self.Status.RUNNING)


class AuditEventQuerySet(models.QuerySet["AuditEvent"]):
    def visible_to(self, user: User | AnonymousUser) -> AuditEventQuerySet:
        """Events of the person's customer tenants, and of the apps of their publisher's offers."""
        customers, publishers = scoping.visible_tenant_ids(user)
        return self.filter(
            Q(tenant__in=customers) | Q(application__offer__publisher_tenant__in=publishers)
        )

    def update(self, **kwargs: Any) -> int:
        raise TypeError("audit events are append-only")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise TypeError("audit events are append-only")


class AuditEvent(models.Model):
    """One entry of the append-only audit trail: who did what, when, why, before and after."""

    class Action(models.TextChoices):
        REQUESTED = "request.created", "Elevation requested"
        SUBMITTED = "request.submitted", "Request accepted by Azure"
        REQUEST_FAILED = "request.failed", "Request failed"
        CANCEL_REQUESTED = "request.cancel", "Cancellation requested"
        CANCELED = "request.canceled", "Request canceled"
        TIMED_OUT = "request.timeout", "Request timed out"
        DECIDED = "decision.recorded", "Decision recorded"
        APPROVED = "decision.approved", "Approved"
        DENIED = "decision.denied", "Denied"
        DECISION_FAILED = "decision.failed", "Decision failed"
        GRANT_STARTED = "grant.started", "Grant started"
        GRANT_ENDED = "grant.ended", "Grant ended"
        REVOKE_REQUESTED = "grant.revoke", "Revoke requested"
        POLICY_CHANGE_REQUESTED = "policy.requested", "Policy change requested"
        POLICY_CHANGED = "policy.changed", "Policy changed"
        POLICY_FAILED = "policy.failed", "Policy change failed"
        TIMEOUT_WARNING = "request.timeout_warning", "Timeout warning sent"
        REQUEST_GONE = "request.gone", "No longer in Azure"
        STATE_UNKNOWN = "request.unknown_state", "Unknown state reported by Azure"
        SELF_ADDED_APPROVER = (
            "decision.self_added_approver",
            "Decided by an approver who added themselves",
        )
        WINDOW_NOTICE = "window.notice", "Approval window announced"
        WINDOW_CANCELED = "window.canceled", "Announced approval window called off"
        WINDOW_OPENED = "window.opened", "Approval window opened"
        WINDOW_ALREADY_AUTOMATIC = "window.already_automatic", "Approval window: already automatic"
        WINDOW_OPEN_FAILED = "window.open_failed", "Approval window could not open"
        WINDOW_CLOSED = "window.closed", "Approval window closed"
        WINDOW_ENDED_BY_POLICY_CHANGE = (
            "window.ended_by_change",
            "Approval window ended by a change",
        )
        WINDOW_NOT_RESTORED = "window.not_restored", "Approval window: mode left as changed"
        WINDOW_RESTORE_FAILED = "window.restore_failed", "Approval window could not restore"

    at = models.DateTimeField(default=timezone.now, editable=False, db_index=True)
    action = models.CharField(max_length=40, choices=Action.choices)
    actor = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    actor_name = models.CharField(max_length=200, blank=True)  # kept when the user row goes
    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="jit_audit_events")
    application = models.ForeignKey(
        ManagedApplication, on_delete=models.PROTECT, related_name="jit_audit_events"
    )
    jit_request = models.ForeignKey(
        JitRequest, on_delete=models.PROTECT, null=True, blank=True, related_name="audit_events"
    )
    reason = models.TextField(blank=True)
    before = models.JSONField(default=dict, blank=True)
    after = models.JSONField(default=dict, blank=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        verbose_name = "JIT audit event"
        ordering: ClassVar = ["-at", "-pk"]
        # The trail's order, read backwards a page at a time.
        indexes: ClassVar = [models.Index(fields=["at", "id"], name="jit_audit_at_id_idx")]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.get_action_display()}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise TypeError("audit events are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise TypeError("audit events are append-only")


class ElevationActivity(models.Model):
    """What the elevated principal did in the managed resource group while a grant was active,
    copied from the activity log for the customer's review."""

    jit_request = models.ForeignKey(JitRequest, on_delete=models.CASCADE, related_name="activities")
    event_id = models.CharField(max_length=200)
    at = models.DateTimeField()
    operation = models.CharField(max_length=300)
    status = models.CharField(max_length=40, blank=True)
    caller = models.CharField(max_length=200, blank=True)
    resource_id = models.CharField(max_length=800, blank=True)

    class Meta:
        verbose_name = "elevation activity"
        verbose_name_plural = "elevation activities"
        ordering: ClassVar = ["at"]
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["jit_request", "event_id"], name="unique_activity")
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.operation}"


class ScopeListing(models.Model):
    """When the portal last listed every request in a JIT scope: how old the request pages'
    states may be (a change in Azure shows after the next listing at the latest)."""

    scope = models.CharField(max_length=600, unique=True)
    listed_at = models.DateTimeField()
    requests_listed = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = "JIT scope listing"

    def __str__(self) -> str:
        return f"{self.scope} listed {self.listed_at:%Y-%m-%d %H:%M}"


# The approval windows' models live in their own module; importing them here registers them.
from jit.window_models import (  # noqa: E402
    ApprovalWindow as ApprovalWindow,
)
from jit.window_models import (  # noqa: E402
    ApprovalWindowOccurrence as ApprovalWindowOccurrence,
)
