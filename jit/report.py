"""The elevation report: per month, the hours of elevated access, who held them, why, who
approved, and what was changed while elevated; for customers and, across customers, publishers.

Figures come from the mirror alone (requests, their grant times, the activity-log copy), read in
a fixed number of queries whatever the month holds. Scope is `JitRequest.objects.visible_to`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from django.db.models import Q
from django.utils import timezone

from accounts import scoping
from deployments.permissions.names import fallback_name, principal_names
from jit.activity import is_grant_itself
from jit.models import ElevationActivity, JitRequest, State
from jit.report_chart import week_label

if TYPE_CHECKING:
    from accounts.models import User

# No grant lasts longer (ARM's policy maximum is far shorter): how far before the month a grant
# may have started and still reach into it.
LONGEST_GRANT = dt.timedelta(days=31)
FIRST_YEAR, LAST_YEAR = 2000, 2100
MAX_SEARCH = 200
# A customer is flagged when its hours (or requests) are over this many times the median of the
# publisher's customers with any request that month, and over it by at least OUTLIER_MARGIN.
OUTLIER_FACTOR = 2.0
OUTLIER_HOURS_MARGIN = 4.0
OUTLIER_REQUESTS_MARGIN = 2
NOT_GRANTED = {
    State.DENIED: "denied",
    State.TIMEOUT: "timed out",
    State.CANCELED: "canceled",
    State.FAILED: "failed",
    State.GONE: "gone",
}
GRANTED_OUTCOMES = ("granted", "active", "ended early")
_MONTH = re.compile(r"([0-9]{4})-([0-9]{2})")


class BadParameter(ValueError):
    """A query parameter the report cannot use; the message says why (shown with a 400)."""


@dataclass(frozen=True)
class Month:
    year: int
    month: int

    @classmethod
    def parse(cls, text: str | None, *, now: dt.datetime | None = None) -> Month:
        """`YYYY-MM`; nothing means the current month (UTC)."""
        if not text:
            today = (now or timezone.now()).astimezone(dt.UTC)
            return cls(today.year, today.month)
        match = _MONTH.fullmatch(text.strip())
        if match is None:
            raise BadParameter("month must look like 2026-03 (year, dash, two-digit month).")
        year, month = int(match[1]), int(match[2])
        if not 1 <= month <= 12:
            raise BadParameter("month must be between 01 and 12.")
        if not FIRST_YEAR <= year <= LAST_YEAR:
            raise BadParameter(f"the year must be between {FIRST_YEAR} and {LAST_YEAR}.")
        return cls(year, month)

    @property
    def start(self) -> dt.datetime:
        return dt.datetime(self.year, self.month, 1, tzinfo=dt.UTC)

    @property
    def end(self) -> dt.datetime:
        return self.next.start

    @property
    def next(self) -> Month:
        return Month(self.year + self.month // 12, self.month % 12 + 1)

    @property
    def previous(self) -> Month:
        return Month(self.year - (self.month == 1), (self.month - 2) % 12 + 1)

    @property
    def param(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def label(self) -> str:
        return f"{self.start:%B %Y}"

    def weeks(self) -> list[tuple[dt.datetime, dt.datetime]]:
        """Weeks from Monday, clipped to the month."""
        weeks, begin = [], self.start
        while begin < self.end:
            monday = begin - dt.timedelta(days=begin.weekday())
            finish = min(self.end, monday + dt.timedelta(days=7))
            weeks.append((begin, finish))
            begin = finish
        return weeks


@dataclass(frozen=True)
class Filters:
    tenant: str = ""  # a customer, searched as the JIT pages do: part of a name, or a tenant id
    application: int | None = None  # a ManagedApplication pk

    @classmethod
    def parse(cls, tenant: str | None, application: str | None) -> Filters:
        tenant = (tenant or "").strip()
        if len(tenant) > MAX_SEARCH or "\x00" in tenant:
            raise BadParameter(
                f"tenant must be a name or tenant id of at most {MAX_SEARCH} characters."
            )
        parsed_app = None
        text = (application or "").strip()
        if text:
            if not (text.isascii() and text.isdigit() and len(text) <= 9):
                raise BadParameter("app must be an application's number from the list.")
            parsed_app = int(text)
        return cls(tenant, parsed_app)


@dataclass(frozen=True)
class Elevation:
    """One request of the month: granted (with its hours) or not."""

    jit: JitRequest
    who: str
    approval: str
    granted: bool
    began: dt.datetime | None  # the grant, clipped to the month
    ended: dt.datetime | None
    hours: float
    changes: int
    deletes: int
    outcome: str  # "granted", "active", "denied", "timed out", ...

    @property
    def customer(self) -> str:
        return str(self.jit.application.customer_tenant)

    @property
    def application(self) -> str:
        return self.jit.application.name


@dataclass(frozen=True)
class CustomerLine:
    tenant_id: str
    name: str
    hours: float
    requests: int
    granted: int
    not_granted: int
    changes: int
    deletes: int
    hours_flagged: bool = False
    requests_flagged: bool = False


@dataclass(frozen=True)
class Report:
    month: Month
    filters: Filters
    generated_at: dt.datetime
    elevations: list[Elevation]
    weeks: list[tuple[dt.datetime, dt.datetime]]
    roles: list[str]
    hours_by_week: list[dict[str, float]]  # one per week: role -> hours
    customers: list[CustomerLine] = field(default_factory=list)
    median_hours: float = 0.0
    median_requests: float = 0.0

    @property
    def total_hours(self) -> float:
        return round(sum(e.hours for e in self.elevations), 2)

    @property
    def granted(self) -> list[Elevation]:
        return [e for e in self.elevations if e.granted]

    @property
    def outcome_counts(self) -> dict[str, int]:
        """How many of the month's requests ended each way (never granted ones included)."""
        return dict(Counter(e.outcome for e in self.elevations))

    @property
    def not_granted(self) -> list[tuple[str, int]]:
        """(outcome, count) of the month's requests that were not granted, e.g. ("denied", 2)."""
        counts = self.outcome_counts
        return sorted((k, n) for k, n in counts.items() if k not in GRANTED_OUTCOMES)

    @property
    def not_granted_total(self) -> int:
        return sum(n for _, n in self.not_granted)

    @property
    def week_rows(self) -> list[tuple[str, list[float], float]]:
        """The chart's numbers: (week, hours per role in `roles` order, total) per week."""
        return [
            (
                week_label(begin, end),
                [round(week.get(role, 0.0), 1) for role in self.roles],
                round(sum(week.values()), 1),
            )
            for (begin, end), week in zip(self.weeks, self.hours_by_week, strict=True)
        ]

    @property
    def changes(self) -> int:
        return sum(e.changes for e in self.elevations)

    @property
    def deletes(self) -> int:
        return sum(e.deletes for e in self.elevations)


def month_rows(user: User, month: Month, filters: Filters) -> list[JitRequest]:
    """The person's visible requests asked in the month or whose grant may reach into it."""
    rows = JitRequest.objects.visible_to(user).filter(
        Q(created_at__gte=month.start, created_at__lt=month.end)
        | Q(start__gte=month.start - LONGEST_GRANT, start__lt=month.end)
    )
    if filters.tenant:
        rows = rows.filter(scoping.tenant_named(filters.tenant, "application__customer_tenant__"))
    if filters.application is not None:
        rows = rows.filter(application_id=filters.application)
    return list(
        rows.exclude(state=State.SUBMITTING)
        .select_related("application", "application__customer_tenant")
        .order_by("start", "created_at", "pk")
    )


def grant_window(jit: JitRequest, now: dt.datetime) -> tuple[dt.datetime, dt.datetime] | None:
    """When the grant actually ran: from its recorded start (or the planned one) to its recorded
    end, else the planned end, else now while it is active; never past the planned end or now."""
    started = jit.grant_started_at
    if started is None and not (jit.state in (State.APPROVED, State.EXPIRED) and jit.start <= now):
        return None
    begin = started or jit.start
    finish = min(jit.grant_ended_at or jit.end, jit.end, now)
    return (begin, finish) if finish > begin else None


def _hours(window: tuple[dt.datetime, dt.datetime] | None, a: dt.datetime, b: dt.datetime) -> float:
    if window is None:
        return 0.0
    begin, finish = max(window[0], a), min(window[1], b)
    return max(0.0, (finish - begin).total_seconds() / 3600)


def approval_text(jit: JitRequest) -> str:
    """Who approved or denied, as far as the portal knows; Azure never says who clicked."""
    if jit.decided_by_name and not jit.decided_by_name.startswith("Azure"):
        return jit.decided_by_name
    if jit.handoff_by_name:
        return f"recorded by {jit.handoff_by_name}"
    if jit.state in (State.APPROVED, State.EXPIRED) or jit.grant_started_at:
        if jit.application.jit_approval_mode == "AutoApprove":
            return "automatic (the policy approves every request)"
        return "in Azure (Azure does not say who)"
    if jit.state == State.DENIED:
        return "in Azure (Azure does not say who)"
    return ""


def _changes(rows: list[JitRequest]) -> dict[object, tuple[int, int]]:
    """(writes and deletes that succeeded, of which deletes) per request: one query."""
    by_pk = {jit.pk: jit for jit in rows}
    counts: dict[object, list[int]] = defaultdict(lambda: [0, 0])
    activities = ElevationActivity.objects.filter(
        jit_request_id__in=list(by_pk), status__iexact="Succeeded"
    ).only("jit_request_id", "operation", "at")
    for activity in activities:
        jit = by_pk[activity.jit_request_id]
        operation = activity.operation.lower()
        if not operation.endswith(("/write", "/delete")) or is_grant_itself(
            activity.operation, activity.at, jit
        ):
            continue
        counts[jit.pk][0] += 1
        counts[jit.pk][1] += operation.endswith("/delete")
    return {pk: (c[0], c[1]) for pk, c in counts.items()}


def elevation_report(
    user: User, month: Month, filters: Filters | None = None, *, now: dt.datetime | None = None
) -> Report:
    """The month's report as this person may see it."""
    now = now or timezone.now()
    filters = filters or Filters()
    rows = month_rows(user, month, filters)
    changes = _changes(rows)
    names = principal_names({jit.principal_id for jit in rows if not jit.requester_name})
    weeks = month.weeks()
    hours_by_week: list[dict[str, float]] = [defaultdict(float) for _ in weeks]
    elevations = []
    for jit in rows:
        window = grant_window(jit, now)
        hours = _hours(window, month.start, month.end)
        created_in_month = month.start <= jit.created_at < month.end
        if hours <= 0 and not created_in_month:
            continue
        for i, (a, b) in enumerate(weeks):
            part = _hours(window, a, b)
            if part:
                hours_by_week[i][jit.role_name] += part
        count, deletes = changes.get(jit.pk, (0, 0))
        granted = window is not None
        elevations.append(
            Elevation(
                jit=jit,
                who=jit.requester_name
                or names.get(jit.principal_id.lower())
                or fallback_name(jit.principal_id),
                approval=approval_text(jit),
                granted=granted,
                began=max(window[0], month.start) if window else None,
                ended=min(window[1], month.end) if window else None,
                hours=round(hours, 2),
                changes=count,
                deletes=deletes,
                outcome=_outcome(jit, granted, now),
            )
        )
    roles = sorted({role for week in hours_by_week for role in week})
    report = Report(
        month=month,
        filters=filters,
        generated_at=now,
        elevations=elevations,
        weeks=weeks,
        roles=roles,
        hours_by_week=[dict(week) for week in hours_by_week],
    )
    return _with_customers(report)


def _outcome(jit: JitRequest, granted: bool, now: dt.datetime) -> str:
    if granted:
        if jit.is_active(now) and jit.grant_ended_at is None:
            return "active"
        return "ended early" if jit.state in (State.CANCELED, State.GONE) else "granted"
    if jit.state in NOT_GRANTED:
        return NOT_GRANTED[State(jit.state)]
    if jit.state == State.APPROVED:
        return "approved, not started"
    return str(jit.get_state_display()).lower()


@dataclass
class _Tally:
    name: str
    hours: float = 0.0
    requests: int = 0
    granted: int = 0
    changes: int = 0
    deletes: int = 0


def _with_customers(report: Report) -> Report:
    """Per customer tenant: hours and requests against the median of the customers in the report
    (those with at least one request that month)."""
    tallies: dict[str, _Tally] = {}
    for e in report.elevations:
        tenant = e.jit.application.customer_tenant
        tally = tallies.setdefault(str(tenant.entra_tenant_id), _Tally(str(tenant)))
        tally.hours += e.hours
        tally.requests += 1
        tally.granted += e.granted
        tally.changes += e.changes
        tally.deletes += e.deletes
    if not tallies:
        return report
    median_hours = statistics.median(t.hours for t in tallies.values())
    median_requests = statistics.median(t.requests for t in tallies.values())
    several = len(tallies) > 1
    customers = [
        CustomerLine(
            tenant_id=tenant_id,
            name=t.name,
            hours=round(t.hours, 2),
            requests=t.requests,
            granted=t.granted,
            not_granted=t.requests - t.granted,
            changes=t.changes,
            deletes=t.deletes,
            hours_flagged=several
            and t.hours > median_hours * OUTLIER_FACTOR
            and t.hours - median_hours >= OUTLIER_HOURS_MARGIN,
            requests_flagged=several
            and t.requests > median_requests * OUTLIER_FACTOR
            and t.requests - median_requests >= OUTLIER_REQUESTS_MARGIN,
        )
        for tenant_id, t in sorted(tallies.items(), key=lambda item: (-item[1].hours, item[1].name))
    ]
    return dataclasses.replace(
        report,
        customers=customers,
        median_hours=round(median_hours, 2),
        median_requests=median_requests,
    )
