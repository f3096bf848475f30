"""Approval windows: recurring times, set by a customer admin per application, during which the
portal switches the application's JIT policy to automatic approval and back (jit/windows.py).

Imported by jit/models.py, so Django sees these models as the jit app's.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, ClassVar

from django.db import models
from django.db.models import Q
from django.utils import timezone

from accounts import scoping
from accounts.models import User
from deployments.models import ManagedApplication

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
WEEKDAY_ABBREVIATIONS = tuple(day[:3] for day in WEEKDAYS)


class ApprovalWindowQuerySet(models.QuerySet["ApprovalWindow"]):
    def visible_to(self, user: User | AnonymousUser) -> ApprovalWindowQuerySet:
        """Windows on apps of the person's customer tenants (readers see the schedule)."""
        return self.filter(
            application__customer_tenant__in=scoping.customer_tenants_of(user),
            deleted_at__isnull=True,
        )

    def editable_by(self, user: User | AnonymousUser) -> ApprovalWindowQuerySet:
        """Windows a customer admin of the app's tenant may change (the policy editors)."""
        return self.filter(
            application__customer_tenant__in=scoping.administered_tenants_of(user),
            deleted_at__isnull=True,
        )

    def live(self) -> ApprovalWindowQuerySet:
        """Windows that still make occurrences: enabled and not deleted."""
        return self.filter(enabled=True, deleted_at__isnull=True)


class ApprovalWindow(models.Model):
    """A recurring time, in a time zone, when requests for one app are approved automatically.

    `weekdays` are the days the window *starts* on (0 is Monday); a window whose end is not after
    its start ends on the next day (22:00-02:00), and one whose end equals its start lasts 24 h.
    """

    application = models.ForeignKey(
        ManagedApplication, on_delete=models.CASCADE, related_name="approval_windows"
    )
    weekdays = models.JSONField(default=list)
    start_time = models.TimeField("local start")
    end_time = models.TimeField("local end")
    time_zone = models.CharField(max_length=64)
    enabled = models.BooleanField(default=True)
    created_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    # The admin whose Azure sign-in the window switches the policy with: whoever created it or
    # last saved it (a window never runs as someone who did not set its current times).
    acts_as = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now)
    # Occurrences start after this moment: a slot already under way when the window is saved
    # is not opened (nobody was told in advance).
    effective_from = models.DateTimeField(default=timezone.now)
    # Occurrences exist up to here; the beat plans further ahead when it gets near.
    planned_until = models.DateTimeField(null=True, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)

    objects = ApprovalWindowQuerySet.as_manager()

    class Meta:
        ordering: ClassVar = ["application", "start_time", "pk"]

    def __str__(self) -> str:
        return f"{self.days_label} {self.start_time:%H:%M}-{self.end_time:%H:%M} {self.time_zone}"

    @property
    def length(self) -> dt.timedelta:
        """Length in local clock time (24 h when end equals start)."""
        start = self.start_time.hour * 60 + self.start_time.minute
        end = self.end_time.hour * 60 + self.end_time.minute
        return dt.timedelta(minutes=(end - start) % 1440 or 1440)

    @property
    def crosses_midnight(self) -> bool:
        return self.end_time <= self.start_time

    @property
    def days_label(self) -> str:
        return ", ".join(WEEKDAY_ABBREVIATIONS[d] for d in sorted(self.weekdays))


class OccurrenceState(models.TextChoices):
    SCHEDULED = "scheduled", "Scheduled"
    NOTIFIED = "notified", "Approvers told"
    OPENING = "opening", "Switching to automatic"
    OPEN = "open", "Open"
    CLOSING = "closing", "Restoring manual approval"
    CLOSED = "closed", "Closed"
    FAILED = "failed", "Failed"


# While in these states the application may be on automatic approval because of the window.
ACTIVE_STATES = (OccurrenceState.OPENING, OccurrenceState.OPEN, OccurrenceState.CLOSING)


class ApprovalWindowOccurrenceQuerySet(models.QuerySet["ApprovalWindowOccurrence"]):
    def visible_to(self, user: User | AnonymousUser) -> ApprovalWindowOccurrenceQuerySet:
        return self.filter(application__customer_tenant__in=scoping.customer_tenants_of(user))

    def needing_attention(self, now: dt.datetime) -> ApprovalWindowOccurrenceQuerySet:
        """What a banner shows: windows switching or open, a restore that failed, and an open
        that failed while its window would still be running."""
        return self.filter(
            Q(state__in=ACTIVE_STATES)
            | Q(state=OccurrenceState.FAILED, failed_step="restore")
            | Q(state=OccurrenceState.FAILED, failed_step="open", ends_at__gt=now)
        )


class ApprovalWindowOccurrence(models.Model):
    """One occurrence of a window, in UTC, and how far the portal got with it."""

    window = models.ForeignKey(ApprovalWindow, on_delete=models.CASCADE, related_name="occurrences")
    application = models.ForeignKey(
        ManagedApplication, on_delete=models.CASCADE, related_name="approval_window_occurrences"
    )
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    state = models.CharField(
        max_length=10, choices=OccurrenceState.choices, default=OccurrenceState.SCHEDULED
    )
    notified_at = models.DateTimeField(null=True, blank=True)
    opened_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    # Who the switch ran as (the window's acts_as when it opened); the restore runs as them too.
    opened_as = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # The approval mode found when the window opened; blank when the window changed nothing.
    previous_approval_mode = models.CharField(max_length=20, blank=True)
    switched = models.BooleanField(default=False)
    open_operation = models.ForeignKey(
        "jit.Operation", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    close_operation = models.ForeignKey(
        "jit.Operation", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    restore_attempts = models.PositiveIntegerField(default=0)
    retry_restore_at = models.DateTimeField(null=True, blank=True)
    failed_step = models.CharField(max_length=10, blank=True)  # "open" or "restore"
    note = models.TextField(blank=True)

    objects = ApprovalWindowOccurrenceQuerySet.as_manager()

    class Meta:
        ordering: ClassVar = ["starts_at", "pk"]
        constraints: ClassVar = [
            # Planned twice (two beats, two workers): the second insert is ignored.
            models.UniqueConstraint(fields=["window", "starts_at"], name="one_occurrence_per_start")
        ]
        indexes: ClassVar = [models.Index(fields=["state", "starts_at"])]

    def __str__(self) -> str:
        return f"{self.window} at {self.starts_at:%Y-%m-%d %H:%M} UTC ({self.get_state_display()})"

    @property
    def is_active(self) -> bool:
        return self.state in ACTIVE_STATES
