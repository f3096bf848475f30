"""Retention: old notifications and mailed permission changes go, in batches; unsent changes and
the audit trail stay."""

import datetime as dt
import logging

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from pytest_django import Settings

from accounts.models import Tenant
from deployments import retention, tasks
from deployments.models import ManagedApplication, MarketplaceEvent, PermissionChangeEvent
from deployments.schedule import BEAT_SCHEDULE
from jit.models import AuditEvent

pytestmark = pytest.mark.django_db

# Rows this close to the cutoff are on a clear side of it however long the test takes.
MARGIN = dt.timedelta(minutes=5)


def make_event(app: ManagedApplication, *, age: dt.timedelta) -> MarketplaceEvent:
    moment = timezone.now() - age
    return MarketplaceEvent.objects.create(
        application_arm_id=app.arm_id,
        event_type="PUT",
        provisioning_state="Succeeded",
        event_time=moment,
        received_at=moment,
        outcome=MarketplaceEvent.Outcome.QUEUED,
        customer_tenant=app.customer_tenant,
        payload={},
    )


def make_change(
    app: ManagedApplication, *, age: dt.timedelta, mailed: bool = True
) -> PermissionChangeEvent:
    moment = timezone.now() - age
    return PermissionChangeEvent.objects.create(
        application=app,
        customer_tenant=app.customer_tenant,
        at=moment,
        lines=["The publisher may now delete resources."],
        mailed_at=moment + dt.timedelta(minutes=1) if mailed else None,
    )


def test_notifications_older_than_the_retention_are_deleted(
    fabrikam_app: ManagedApplication, settings: Settings
) -> None:
    settings.WEBHOOK_EVENT_RETENTION_DAYS = 30
    days = dt.timedelta(days=30)
    inside = make_event(fabrikam_app, age=days - MARGIN)
    outside = make_event(fabrikam_app, age=days + MARGIN)
    recent = make_event(fabrikam_app, age=dt.timedelta(hours=1))

    assert retention.prune_marketplace_events() == 1

    assert set(MarketplaceEvent.objects.all()) == {inside, recent}
    assert not MarketplaceEvent.objects.filter(pk=outside.pk).exists()


def test_mailed_changes_older_than_the_retention_are_deleted_unsent_ones_kept(
    fabrikam_app: ManagedApplication, settings: Settings
) -> None:
    settings.PERMISSION_CHANGE_RETENTION_DAYS = 120
    days = dt.timedelta(days=120)
    inside = make_change(fabrikam_app, age=days - MARGIN)
    outside = make_change(fabrikam_app, age=days + MARGIN)
    unsent_old = make_change(fabrikam_app, age=days * 3, mailed=False)
    unsent_recent = make_change(fabrikam_app, age=dt.timedelta(hours=1), mailed=False)

    assert retention.prune_permission_changes() == 1

    assert set(PermissionChangeEvent.objects.all()) == {inside, unsent_old, unsent_recent}
    assert not PermissionChangeEvent.objects.filter(pk=outside.pk).exists()


def test_rows_are_deleted_a_bounded_batch_per_statement(
    fabrikam_app: ManagedApplication, settings: Settings
) -> None:
    settings.WEBHOOK_EVENT_RETENTION_DAYS = 30
    old = [make_event(fabrikam_app, age=dt.timedelta(days=31 + n)) for n in range(7)]
    kept = make_event(fabrikam_app, age=dt.timedelta(days=1))

    with CaptureQueriesContext(connection) as queries:
        assert retention.prune_marketplace_events(batch_size=3) == len(old)

    deletes = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("DELETE")]
    ids_per_delete = [sql.split(" IN (", 1)[1].split(")", 1)[0].count(",") + 1 for sql in deletes]
    assert ids_per_delete == [3, 3, 1]
    assert list(MarketplaceEvent.objects.all()) == [kept]


def test_a_second_run_deletes_nothing(
    fabrikam_app: ManagedApplication, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    settings.WEBHOOK_EVENT_RETENTION_DAYS = 30
    settings.PERMISSION_CHANGE_RETENTION_DAYS = 90
    for n in range(3):
        make_event(fabrikam_app, age=dt.timedelta(days=40 + n))
        make_change(fabrikam_app, age=dt.timedelta(days=100 + n))
    make_change(fabrikam_app, age=dt.timedelta(days=100), mailed=False)

    with caplog.at_level(logging.INFO, logger="deployments.retention"):
        first = tasks.prune_old_records()
    assert first == {"marketplace_events": 3, "permission_changes": 3}
    assert "Pruned 3 marketplace notifications" in caplog.text
    assert "Pruned 3 mailed permission changes" in caplog.text

    assert tasks.prune_old_records() == {"marketplace_events": 0, "permission_changes": 0}
    assert PermissionChangeEvent.objects.count() == 1  # the unsent one


def test_pruning_leaves_the_audit_trail_alone(
    fabrikam: Tenant, fabrikam_app: ManagedApplication, settings: Settings
) -> None:
    settings.WEBHOOK_EVENT_RETENTION_DAYS = 1
    settings.PERMISSION_CHANGE_RETENTION_DAYS = 90
    settings.SYNC_RUN_RETENTION_DAYS = 1
    years_ago = timezone.now() - dt.timedelta(days=5 * 365)
    audit = AuditEvent.objects.create(
        at=years_ago,
        action=AuditEvent.Action.POLICY_CHANGED,
        actor_name="Alice Archer",
        tenant=fabrikam,
        application=fabrikam_app,
        reason="Long ago",
    )
    make_event(fabrikam_app, age=dt.timedelta(days=5 * 365))
    make_change(fabrikam_app, age=dt.timedelta(days=5 * 365))

    tasks.prune_old_records()
    tasks.prune_sync_runs()

    assert list(AuditEvent.objects.all()) == [audit]
    assert AuditEvent.objects.get().at == years_ago
    assert not MarketplaceEvent.objects.exists()
    assert not PermissionChangeEvent.objects.exists()


def test_pruning_runs_daily() -> None:
    entry = BEAT_SCHEDULE["deployments-prune-old-records"]
    assert entry == {"task": "deployments.prune_old_records", "schedule": 24 * 60 * 60.0}
    assert tasks.prune_old_records.name == "deployments.prune_old_records"
