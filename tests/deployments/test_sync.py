"""The ARM mirror, through the real gateway and SDK against the emulator over HTTPS."""

import datetime as dt
import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from pytest_django import DjangoCaptureOnCommitCallbacks, Settings

from accounts.models import Tenant
from deployments import runs, sync, tasks
from deployments.models import ManagedApplication, ManagedResource, Offer, Subscription, SyncRun
from deployments.runs import queue_tenant_sync
from deployments.tasks import sync_tenant
from emulator.records import Application
from emulator.server import EmulatorServer
from tests.conftest import make_tenant
from tests.deployments.conftest import make_run, pretend_the_sync_memory_aged

FABRIKAM_SUBSCRIPTION = "a8c02436-e607-478d-aa9c-f223ff5aabfd"
TAILSPIN = "a2d9358c-f752-4d74-8279-47053b42bc40"


def _emulated_apps(azure: EmulatorServer, subscription_id: str) -> dict[str, Application]:
    return {
        app.id.lower(): app
        for app in azure.state.applications.values()
        if app.subscription_id == subscription_id
    }


def _sync(
    tenant: Tenant, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> SyncRun:
    with django_capture_on_commit_callbacks(execute=False) as queued:
        run = queue_tenant_sync(tenant=tenant)
    assert len(queued) == 1  # the task is queued once the run row is committed
    sync.run_tenant_sync(run_id=run.pk)
    run.refresh_from_db()
    return run


@pytest.fixture
def mirrored(
    azure: EmulatorServer,
    fabrikam: Tenant,
    contoso: Tenant,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> SyncRun:
    return _sync(fabrikam, django_capture_on_commit_callbacks)


def test_first_sync_mirrors_every_application_with_its_offer_and_resources(
    azure: EmulatorServer, mirrored: SyncRun, fabrikam: Tenant
) -> None:
    assert mirrored.state == SyncRun.State.SUCCEEDED, mirrored.error
    emulated = _emulated_apps(azure, FABRIKAM_SUBSCRIPTION)
    mirrored_apps = {a.arm_id.lower(): a for a in ManagedApplication.objects.all()}
    assert set(mirrored_apps) == set(emulated)
    for key, app in mirrored_apps.items():
        source = emulated[key]
        assert app.customer_tenant == fabrikam
        assert app.provisioning_state == source.provisioning_state
        assert app.jit_enabled == source.jit_enabled
        assert app.managed_resource_group_id.lower() == source.managed_resource_group_id.lower()
        emulated_resources = {
            r.id.lower()
            for r in azure.state.resources.values()
            if r.id.lower().startswith(source.managed_resource_group_id.lower() + "/")
        }
        assert {r.arm_id.lower() for r in app.resources.all()} == emulated_resources
    assert Subscription.objects.get(subscription_id=FABRIKAM_SUBSCRIPTION).tenant == fabrikam
    assert mirrored.rows_created == (
        ManagedApplication.objects.count()
        + ManagedResource.objects.count()
        + Offer.objects.count()
        + Subscription.objects.count()
    )
    assert mirrored.calls_made > len(mirrored_apps)


def test_offers_carry_the_publisher_and_the_permission_model(
    azure: EmulatorServer, mirrored: SyncRun, contoso: Tenant
) -> None:
    for app in ManagedApplication.objects.select_related("offer"):
        source = azure.state.applications[app.arm_id.lower()]
        assert app.offer is not None
        assert app.offer.publisher_tenant == contoso
        assert app.offer.lock_level == source.lock_level
        assert app.offer.jit_offered == (source.jit_access_policy is not None)
        assert [a["principalId"] for a in app.offer.authorizations] == [
            a["principalId"] for a in source.authorizations
        ]
        if source.lock_level != "None":
            assert set(app.offer.allowed_actions) == set(source.allowed_actions)


def test_resync_without_change_writes_no_mirrored_row(
    azure: EmulatorServer,
    mirrored: SyncRun,
    fabrikam: Tenant,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    with CaptureQueriesContext(connection) as queries:
        second = _sync(fabrikam, django_capture_on_commit_callbacks)
    assert second.state == SyncRun.State.SUCCEEDED
    assert (second.rows_created, second.rows_updated, second.rows_removed) == (0, 0, 0)
    writes = [
        q["sql"]
        for q in queries.captured_queries
        if q["sql"].lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))
        and "deployments_syncrun" not in q["sql"]
    ]
    assert writes == []


def test_a_full_comparison_without_change_writes_no_mirrored_row_either(
    azure: EmulatorServer,
    mirrored: SyncRun,
    fabrikam: Tenant,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    pretend_the_sync_memory_aged()
    with CaptureQueriesContext(connection) as queries:
        second = _sync(fabrikam, django_capture_on_commit_callbacks)
    sql = [q["sql"] for q in queries.captured_queries]
    assert any("deployments_permissionsnapshot" in q for q in sql)  # it did compare
    assert (second.rows_created, second.rows_updated, second.rows_removed) == (0, 0, 0)
    writes = [q for q in sql if q.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))]
    role_reads = 'UPDATE "deployments_roledefinition" SET "refreshed_at" = '
    assert [q for q in writes if "deployments_syncrun" not in q and role_reads not in q] == []


def test_a_resync_that_finds_the_same_arm_answers_reads_no_records_or_rows(
    azure: EmulatorServer,
    mirrored: SyncRun,
    fabrikam: Tenant,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    with CaptureQueriesContext(connection) as queries:
        second = _sync(fabrikam, django_capture_on_commit_callbacks)
    sql = " ".join(q["sql"] for q in queries.captured_queries)
    mirrored_tables = (
        "subscription",
        "managedapplication",
        "managedresource",
        "permissionsnapshot",
        "elevation",
        "offer",
    )
    for table in mirrored_tables:
        assert f'"deployments_{table}"' not in sql
    assert second.calls_made == 5  # subscriptions, then apps, denies, resources and JIT requests
    assert second.subscription_digests == mirrored.subscription_digests


def _tamper(app_arm_id: str) -> None:
    ManagedApplication.objects.filter(arm_id__iexact=app_arm_id).update(
        provisioning_state="Tampered"
    )


def test_a_change_made_outside_arm_is_undone_by_the_next_full_comparison(
    azure: EmulatorServer,
    mirrored: SyncRun,
    fabrikam: Tenant,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    source = next(iter(_emulated_apps(azure, FABRIKAM_SUBSCRIPTION).values()))
    _tamper(source.id)
    _sync(fabrikam, django_capture_on_commit_callbacks)
    assert ManagedApplication.objects.get(arm_id__iexact=source.id).provisioning_state == (
        "Tampered"  # ARM answered as before: the subscription was confirmed, not compared
    )
    pretend_the_sync_memory_aged()
    run = _sync(fabrikam, django_capture_on_commit_callbacks)
    assert run.rows_updated == 1
    restored = ManagedApplication.objects.get(arm_id__iexact=source.id)
    assert restored.provisioning_state == source.provisioning_state


def test_after_another_kind_of_sync_the_next_tenant_sync_compares_everything(
    azure: EmulatorServer,
    mirrored: SyncRun,
    fabrikam: Tenant,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    tampered, other = list(_emulated_apps(azure, FABRIKAM_SUBSCRIPTION).values())[:2]
    _tamper(tampered.id)
    with django_capture_on_commit_callbacks(execute=False):
        single = runs.queue_application_sync(tenant=fabrikam, application_arm_id=other.id)
    sync.run_application_sync(run_id=single.pk)
    _sync(fabrikam, django_capture_on_commit_callbacks)
    restored = ManagedApplication.objects.get(arm_id__iexact=tampered.id)
    assert restored.provisioning_state == tampered.provisioning_state


def test_a_changed_jit_policy_is_picked_up(
    azure: EmulatorServer,
    mirrored: SyncRun,
    fabrikam: Tenant,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    source = next(a for a in _emulated_apps(azure, FABRIKAM_SUBSCRIPTION).values() if a.jit_enabled)
    assert source.jit_access_policy is not None
    source.jit_access_policy = {**source.jit_access_policy, "jitApprovalMode": "AutoApprove"}
    run = _sync(fabrikam, django_capture_on_commit_callbacks)
    assert run.rows_updated == 1
    assert (
        ManagedApplication.objects.get(arm_id__iexact=source.id).jit_approval_mode == "AutoApprove"
    )


def test_an_application_that_vanished_from_arm_is_marked_not_deleted(
    azure: EmulatorServer,
    mirrored: SyncRun,
    fabrikam: Tenant,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    source = next(iter(_emulated_apps(azure, FABRIKAM_SUBSCRIPTION).values()))
    with azure.state.lock:
        azure.state.remove_application(source)
    run = _sync(fabrikam, django_capture_on_commit_callbacks)
    gone = ManagedApplication.objects.get(arm_id__iexact=source.id)
    assert gone.vanished_at is not None
    assert run.rows_removed >= 1
    assert gone not in ManagedApplication.objects.present()


def test_a_subscription_gone_from_the_list_is_noticed_by_the_next_resync(
    azure: EmulatorServer,
    mirrored: SyncRun,
    fabrikam: Tenant,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    _sync(fabrikam, django_capture_on_commit_callbacks)  # confirmed: nothing read
    with azure.state.lock:
        gone = azure.state.subscriptions.pop(FABRIKAM_SUBSCRIPTION)
    try:
        run = _sync(fabrikam, django_capture_on_commit_callbacks)
    finally:
        with azure.state.lock:
            azure.state.subscriptions[FABRIKAM_SUBSCRIPTION] = gone
    assert Subscription.objects.get(subscription_id=FABRIKAM_SUBSCRIPTION).vanished_at is not None
    apps = ManagedApplication.objects.filter(subscription_id=FABRIKAM_SUBSCRIPTION)
    assert apps.exists()
    assert not apps.filter(vanished_at__isnull=True).exists()
    assert run.rows_removed == 1 + apps.count()


def test_throttling_is_retried_after_retry_after_and_then_succeeds(
    azure: EmulatorServer, fabrikam: Tenant, contoso: Tenant
) -> None:
    # A Retry-After longer than the gateway waits inline comes back as Throttled; the task
    # puts the run back in the queue and retries (eagerly here, so at once).
    azure.inject_fault(
        kind="throttle", count=1, retry_after=30, path="/providers/Microsoft.Solutions/applications"
    )
    run = SyncRun.objects.create(tenant=fabrikam)
    sync_tenant.apply(args=(run.pk,))
    run.refresh_from_db()
    assert run.state == SyncRun.State.SUCCEEDED, run.error
    assert ManagedApplication.objects.count() == len(_emulated_apps(azure, FABRIKAM_SUBSCRIPTION))
    assert run.throttled_responses == 1  # counted across the retry, for the dashboard


def test_a_sync_counts_the_429s_it_met_even_when_retried_inline(
    azure: EmulatorServer, fabrikam: Tenant
) -> None:
    clean = _sync_without_retries(fabrikam)
    assert clean.throttled_responses == 0
    # A short Retry-After is waited out by the SDK: the run succeeds, and still says so.
    azure.inject_fault(kind="throttle", count=2, retry_after=0, path="/subscriptions")
    run = _sync_without_retries(fabrikam)
    assert run.state == SyncRun.State.SUCCEEDED, run.error
    assert run.throttled_responses == 2


def _sync_without_retries(tenant: Tenant) -> SyncRun:
    run = SyncRun.objects.create(tenant=tenant)
    sync.run_tenant_sync(run_id=run.pk)  # no task, so Throttled and Transient are not retried
    run.refresh_from_db()
    return run


def test_without_retries_left_a_throttled_sync_fails_with_what_to_do(
    azure: EmulatorServer, fabrikam: Tenant
) -> None:
    azure.inject_fault(kind="throttle", count=5, retry_after=30, path="/subscriptions")
    run = _sync_without_retries(fabrikam)
    assert run.state == SyncRun.State.FAILED
    assert "next scheduled sync will try again" in run.error


def test_a_sync_that_fails_part_way_leaves_nothing_written(
    azure: EmulatorServer, fabrikam: Tenant
) -> None:
    # Role definitions are read while the applications are written; failing there must undo the
    # subscriptions and applications already upserted in the same run.
    azure.inject_fault(kind="throttle", count=50, retry_after=30, path="/roleDefinitions/")
    run = _sync_without_retries(fabrikam)
    assert run.state == SyncRun.State.FAILED
    assert run.calls_made > 5  # it got past the listings
    assert not Subscription.objects.exists()
    assert not ManagedApplication.objects.exists()
    assert not Offer.objects.exists()


def test_one_failing_tenant_does_not_stop_the_others(
    azure: EmulatorServer,
    fabrikam: Tenant,
    contoso: Tenant,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    tailspin = Tenant.objects.create(
        entra_tenant_id=TAILSPIN, display_name="Tailspin Toys", side="customer", state="allowed"
    )
    with django_capture_on_commit_callbacks(execute=False):
        queued = runs.sync_all_tenants()
    assert {r.tenant for r in queued} == {fabrikam, tailspin}
    for run in queued:
        sync.run_tenant_sync(run_id=run.pk)
    outcome = {r.tenant.display_name: SyncRun.objects.get(pk=r.pk) for r in queued}
    assert outcome["Tailspin Toys"].state == SyncRun.State.FAILED
    assert "admin consent" in outcome["Tailspin Toys"].error
    assert outcome["Fabrikam"].state == SyncRun.State.SUCCEEDED


def test_a_duplicate_delivery_does_nothing(azure: EmulatorServer, mirrored: SyncRun) -> None:
    before = SyncRun.objects.get(pk=mirrored.pk)
    sync.run_tenant_sync(run_id=mirrored.pk)
    after = SyncRun.objects.get(pk=mirrored.pk)
    assert (after.state, after.finished_at, after.calls_made) == (
        before.state,
        before.finished_at,
        before.calls_made,
    )


def test_only_one_open_sync_per_tenant(
    fabrikam: Tenant, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=False) as queued:
        first = queue_tenant_sync(tenant=fabrikam)
        second = queue_tenant_sync(tenant=fabrikam)
    assert first == second
    assert len(queued) == 1


def test_runs_whose_worker_vanished_are_closed_and_replaced(
    fabrikam: Tenant, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    from datetime import timedelta

    from django.utils import timezone

    stuck = SyncRun.objects.create(
        tenant=fabrikam,
        state=SyncRun.State.RUNNING,
        started_at=timezone.now() - timedelta(hours=1),
    )
    with django_capture_on_commit_callbacks(execute=False):
        (fresh,) = runs.sync_all_tenants()
    stuck.refresh_from_db()
    assert stuck.state == SyncRun.State.FAILED
    assert fresh.pk != stuck.pk and fresh.state == SyncRun.State.QUEUED


def test_old_runs_are_pruned_but_each_tenants_last_success_is_kept(
    fabrikam: Tenant, northwind: Tenant, settings: Settings
) -> None:
    settings.SYNC_RUN_RETENTION_DAYS = 14
    old, older = dt.timedelta(days=20), dt.timedelta(days=30)
    fabrikam_last_success = make_run(fabrikam, ago=older)
    fabrikam_old_failure = make_run(fabrikam, SyncRun.State.FAILED, ago=old)
    fabrikam_older_success = make_run(fabrikam, ago=older + dt.timedelta(days=1))
    northwind_recent = make_run(northwind, ago=dt.timedelta(days=2))
    northwind_old_success = make_run(northwind, ago=old)
    never_succeeded = make_tenant(uuid.uuid4(), "Adatum", "customer")
    adatum_old_failure = make_run(never_succeeded, SyncRun.State.FAILED, ago=old)
    queued = make_run(never_succeeded, SyncRun.State.QUEUED, ago=old)  # not finished: kept

    assert tasks.prune_sync_runs() == 4

    assert set(SyncRun.objects.all()) == {fabrikam_last_success, northwind_recent, queued}
    for gone in (fabrikam_old_failure, fabrikam_older_success, northwind_old_success):
        assert not SyncRun.objects.filter(pk=gone.pk).exists()
    assert not SyncRun.objects.filter(pk=adatum_old_failure.pk).exists()
