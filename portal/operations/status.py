"""What the operations dashboard shows, read in a fixed number of queries whatever the data.

Counts and hourly figures are aggregated in the database (TruncHour, Count, Max). The median sync
duration is the one figure computed here: over every successful run when there are at most
`MEDIAN_SAMPLE`, else over an even sample of them (every n-th by id), so the rows read stay
bounded. Everything works the same on SQLite and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import math
import statistics
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, cast

from django.db.models import (
    Count,
    DurationField,
    ExpressionWrapper,
    F,
    Max,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
)
from django.db.models.functions import Mod, TruncHour
from django.utils import timezone

from accounts.models import Side, Tenant
from deployments.models import MarketplaceEvent, SyncRun, WebhookRejection
from deployments.runs import STALE_AFTER
from deployments.schedule import BEAT_SCHEDULE
from jit.models import Operation
from portal.queueing import queue_depth

# The sync of every tenant is queued this often (its default; operators may change it in the
# admin's periodic tasks) and a run may take STALE_AFTER before beat gives up on it: a tenant
# whose last success is older than both together has missed at least one round.
SYNC_INTERVAL = dt.timedelta(
    seconds=cast(float, BEAT_SCHEDULE["deployments-sync-all-tenants"]["schedule"])
)
STALE_SYNC_AFTER = SYNC_INTERVAL + STALE_AFTER

TOP = 20
TREND_HOURS = 7 * 24
INTAKE_HOURS = 48
FAILED_OPERATIONS_SINCE = dt.timedelta(days=7)
MEDIAN_SAMPLE = 5000


def start_of_hour(moment: dt.datetime) -> dt.datetime:
    return moment.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)


def hours_until(now: dt.datetime, count: int) -> list[dt.datetime]:
    """The starts of the last `count` hours, the current one last."""
    last = start_of_hour(now)
    return [last - dt.timedelta(hours=count - 1 - i) for i in range(count)]


@dataclass(frozen=True)
class TenantGroup:
    count: int
    tenants: list[Tenant]  # the first TOP, annotated with last_success_at and last_* of the run


@dataclass(frozen=True)
class Tenants:
    never_synced: TenantGroup
    failing: TenantGroup
    stale: TenantGroup
    stale_after: dt.timedelta

    @property
    def stale_after_minutes(self) -> int:
        return int(self.stale_after.total_seconds() // 60)


def _synced_tenants() -> QuerySet[Tenant]:
    """The tenants beat syncs, with their last success and last finished whole-tenant run."""
    whole = SyncRun.objects.filter(tenant=OuterRef("pk"), application_arm_id="")
    success = whole.filter(state=SyncRun.State.SUCCEEDED).order_by("-finished_at")
    finished = whole.filter(finished_at__isnull=False).order_by("-finished_at", "-pk")
    return Tenant.objects.filter(side=Side.CUSTOMER, state=Tenant.State.ALLOWED).annotate(
        last_success_at=Subquery(success.values("finished_at")[:1]),
        last_run_id=Subquery(finished.values("pk")[:1]),
        last_state=Subquery(finished.values("state")[:1]),
        last_finished_at=Subquery(finished.values("finished_at")[:1]),
        last_error=Subquery(finished.values("error")[:1]),
    )


def tenants(now: dt.datetime) -> Tenants:
    """Four queries: the counts, then the first TOP of each group."""
    groups = {
        "never_synced": (Q(last_success_at__isnull=True), ("created_at", "pk")),
        "failing": (Q(last_state=SyncRun.State.FAILED), ("-last_finished_at", "pk")),
        # Failing tenants are stale too; they are listed once, under failing.
        "stale": (
            Q(last_success_at__lt=now - STALE_SYNC_AFTER) & ~Q(last_state=SyncRun.State.FAILED),
            ("last_success_at", "pk"),
        ),
    }
    synced = _synced_tenants()
    counts = synced.aggregate(
        **{name: Count("pk", filter=condition) for name, (condition, _) in groups.items()}
    )
    found = {
        name: TenantGroup(
            count=counts[name], tenants=list(synced.filter(condition).order_by(*order)[:TOP])
        )
        for name, (condition, order) in groups.items()
    }
    return Tenants(**found, stale_after=STALE_SYNC_AFTER)


@dataclass(frozen=True)
class SyncHour:
    hour: dt.datetime
    finished: int
    failed: int
    median_seconds: float | None  # of successful runs
    max_seconds: float | None
    throttled: int = 0  # ARM's 429 answers during the runs that finished in the hour


@dataclass(frozen=True)
class SyncTrend:
    hours: list[SyncHour]
    succeeded: int
    failed: int
    sampled_every: int  # 1: the median is over every successful run
    throttled: int = 0


def _seconds(duration: dt.timedelta | None) -> float | None:
    return None if duration is None else duration.total_seconds()


def sync_trend(now: dt.datetime) -> SyncTrend:
    """Per hour over the last week: finished and failed runs, median and longest success. Two
    queries: the hourly aggregates, then the durations for the median (or a sample of them)."""
    hours = hours_until(now, TREND_HOURS)
    finished = SyncRun.objects.filter(finished_at__gte=hours[0])
    duration = ExpressionWrapper(F("finished_at") - F("started_at"), output_field=DurationField())
    succeeded = Q(state=SyncRun.State.SUCCEEDED, started_at__isnull=False)
    rows = (
        finished.annotate(hour=TruncHour("finished_at"))
        .values("hour")
        .annotate(
            finished=Count("pk"),
            failed=Count("pk", filter=Q(state=SyncRun.State.FAILED)),
            succeeded=Count("pk", filter=succeeded),
            longest=Max(duration, filter=succeeded),
            throttled=Sum("throttled_responses"),
        )
        .order_by("hour")
    )
    per_hour = {row["hour"]: row for row in rows}
    total = sum(row["succeeded"] for row in per_hour.values())
    every = max(1, math.ceil(total / MEDIAN_SAMPLE))
    sample = finished.filter(succeeded).annotate(hour=TruncHour("finished_at"), took=duration)
    if every > 1:
        sample = sample.annotate(slot=Mod("pk", every)).filter(slot=0)
    durations: dict[dt.datetime, list[float]] = defaultdict(list)
    for hour, took in sample.order_by().values_list("hour", "took"):
        durations[hour].append(took.total_seconds())
    empty: dict[str, Any] = {"finished": 0, "failed": 0, "longest": None, "throttled": 0}
    trend = [
        SyncHour(
            hour=hour,
            finished=per_hour.get(hour, empty)["finished"],
            failed=per_hour.get(hour, empty)["failed"],
            median_seconds=statistics.median(durations[hour]) if durations.get(hour) else None,
            max_seconds=_seconds(per_hour.get(hour, empty)["longest"]),
            throttled=per_hour.get(hour, empty)["throttled"] or 0,
        )
        for hour in hours
    ]
    return SyncTrend(
        hours=trend,
        succeeded=total,
        failed=sum(h.failed for h in trend),
        sampled_every=every,
        throttled=sum(h.throttled for h in trend),
    )


@dataclass(frozen=True)
class Queue:
    depth: int | None  # None: the broker could not be asked
    queued_runs: int
    running_runs: int
    oldest_queued_run_at: dt.datetime | None
    unfinished_operations: int
    oldest_operation_at: dt.datetime | None  # created_at of the oldest queued or running one


@dataclass(frozen=True)
class Operations:
    failed_count: int
    failed: list[Operation]  # the latest TOP failed in the last FAILED_OPERATIONS_SINCE
    retrying_count: int
    retrying: list[Operation]  # unfinished after more than one attempt, oldest first
    failed_since: dt.timedelta


def queue_and_operations(now: dt.datetime) -> tuple[Queue, Operations]:
    """Four queries: open runs, operations' counts, then the two lists of operations."""
    runs = SyncRun.objects.filter(
        state__in=[SyncRun.State.QUEUED, SyncRun.State.RUNNING]
    ).aggregate(
        queued=Count("pk", filter=Q(state=SyncRun.State.QUEUED)),
        running=Count("pk", filter=Q(state=SyncRun.State.RUNNING)),
        oldest=Min("queued_at", filter=Q(state=SyncRun.State.QUEUED)),
    )
    unfinished = Q(status__in=[Operation.Status.QUEUED, Operation.Status.RUNNING])
    failed = Q(status=Operation.Status.FAILED, finished_at__gte=now - FAILED_OPERATIONS_SINCE)
    retrying = unfinished & Q(attempts__gt=1)
    ops = Operation.objects.aggregate(
        unfinished=Count("pk", filter=unfinished),
        oldest=Min("created_at", filter=unfinished),
        failed=Count("pk", filter=failed),
        retrying=Count("pk", filter=retrying),
    )
    listed = Operation.objects.select_related("application", "jit_request")
    queue = Queue(
        depth=queue_depth(),
        queued_runs=runs["queued"],
        running_runs=runs["running"],
        oldest_queued_run_at=runs["oldest"],
        unfinished_operations=ops["unfinished"],
        oldest_operation_at=ops["oldest"],
    )
    operations = Operations(
        failed_count=ops["failed"],
        failed=list(listed.filter(failed).order_by("-finished_at", "-pk")[:TOP]),
        retrying_count=ops["retrying"],
        retrying=list(listed.filter(retrying).order_by("created_at", "pk")[:TOP]),
        failed_since=FAILED_OPERATIONS_SINCE,
    )
    return queue, operations


@dataclass(frozen=True)
class IntakeHour:
    hour: dt.datetime
    events: int
    rejections: int


@dataclass(frozen=True)
class Intake:
    hours: list[IntakeHour]
    events: int
    outcomes: list[tuple[str, int]]  # (label, count), every outcome
    rejections: int
    reasons: list[tuple[str, int]]  # (label, count), every reason


def intake(now: dt.datetime) -> Intake:
    """Marketplace notifications kept and webhook requests refused, per hour over two days. Two
    queries, each grouped by hour and outcome (or reason)."""
    hours = hours_until(now, INTAKE_HOURS)
    events: dict[dt.datetime, int] = defaultdict(int)
    outcomes: dict[str, int] = defaultdict(int)
    for hour, outcome, count in (
        MarketplaceEvent.objects.filter(received_at__gte=hours[0])
        .annotate(hour=TruncHour("received_at"))
        .values("hour", "outcome")
        .annotate(count=Count("pk"))
        .order_by()
        .values_list("hour", "outcome", "count")
    ):
        events[hour] += count
        outcomes[outcome] += count
    refused: dict[dt.datetime, int] = defaultdict(int)
    reasons: dict[str, int] = defaultdict(int)
    for hour, reason, count in (
        WebhookRejection.objects.filter(hour__gte=hours[0])
        .values("hour", "reason")
        .annotate(count=Sum("count"))
        .order_by()
        .values_list("hour", "reason", "count")
    ):
        refused[start_of_hour(hour)] += count
        reasons[reason] += count
    return Intake(
        hours=[IntakeHour(hour, events[hour], refused[hour]) for hour in hours],
        events=sum(outcomes.values()),
        outcomes=[(o.label, outcomes[o.value]) for o in MarketplaceEvent.Outcome],
        rejections=sum(reasons.values()),
        reasons=[(r.label, reasons[r.value]) for r in WebhookRejection.Reason],
    )


@dataclass(frozen=True)
class Dashboard:
    now: dt.datetime
    tenants: Tenants
    sync: SyncTrend
    queue: Queue
    operations: Operations
    intake: Intake


def dashboard(now: dt.datetime | None = None) -> Dashboard:
    now = now or timezone.now()
    queue, operations = queue_and_operations(now)
    return Dashboard(
        now=now,
        tenants=tenants(now),
        sync=sync_trend(now),
        queue=queue,
        operations=operations,
        intake=intake(now),
    )
