"""Races in the ARM mirror, with real threads, the real database and the emulator: syncs of one
tenant asked for at once, one run delivered to several workers, a tenant sync overlapping an
application sync, and one webhook delivered twice at the same moment."""

import json

import pytest
from django.test import Client
from pytest_django import Settings

from accounts.models import Tenant
from deployments import runs, sync
from deployments.models import ManagedApplication, ManagedResource, MarketplaceEvent, SyncRun
from deployments.runs import queue_tenant_sync
from emulator.server import EmulatorServer
from tests.deployments.test_webhook import URL, _payload
from tests.jit.test_races import at_once, report

pytestmark = pytest.mark.django_db(transaction=True)

FABRIKAM_SUBSCRIPTION = "a8c02436-e607-478d-aa9c-f223ff5aabfd"


def mirror_snapshot() -> tuple[list[tuple[str, str]], list[str]]:
    return (
        sorted(ManagedApplication.objects.values_list("arm_id", "provisioning_state")),
        sorted(ManagedResource.objects.values_list("arm_id", flat=True)),
    )


def test_syncs_of_one_tenant_asked_for_at_once_queue_one_run(
    azure: EmulatorServer, fabrikam: Tenant
) -> None:
    outcomes = at_once(*[lambda: queue_tenant_sync(tenant=fabrikam)] * 4)
    report("queue", outcomes, runs=SyncRun.objects.count())
    assert not [o for o in outcomes if isinstance(o, Exception)], outcomes
    assert SyncRun.objects.count() == 1
    assert {run.pk for run in outcomes if not isinstance(run, Exception)} == {
        SyncRun.objects.get().pk
    }


def test_one_run_delivered_to_several_workers_at_once_runs_once(
    azure: EmulatorServer, fabrikam: Tenant, contoso: Tenant
) -> None:
    run = queue_tenant_sync(tenant=fabrikam)
    before = azure.state.requests_logged

    outcomes = at_once(*[lambda: sync.run_tenant_sync(run_id=run.pk)] * 3)

    run.refresh_from_db()
    arm = [
        entry
        for entry in azure.state.requests_log
        if entry["seq"] >= before and entry["path"].startswith(("/subscriptions", "/providers"))
    ]
    calls = len(arm)
    report("claims", outcomes, state=run.state, arm_calls=calls, counted=run.calls_made)
    assert not [o for o in outcomes if isinstance(o, Exception)], outcomes
    assert run.state == SyncRun.State.SUCCEEDED, run.error
    assert calls == run.calls_made  # only the run that claimed it talked to ARM
    mirrored = mirror_snapshot()
    # A second, sequential sync finds exactly what the raced one wrote.
    again = queue_tenant_sync(tenant=fabrikam)
    sync.run_tenant_sync(run_id=again.pk)
    assert mirror_snapshot() == mirrored
    assert len(mirrored[0]) == len(set(mirrored[0]))


def test_a_tenant_sync_and_an_application_sync_at_once_agree(
    azure: EmulatorServer, fabrikam: Tenant, contoso: Tenant
) -> None:
    first = queue_tenant_sync(tenant=fabrikam)
    sync.run_tenant_sync(run_id=first.pk)
    expected = mirror_snapshot()
    app = ManagedApplication.objects.order_by("pk").first()
    assert app is not None
    tenant_run = queue_tenant_sync(tenant=fabrikam)
    app_runs = [
        runs.queue_application_sync(tenant=fabrikam, application_arm_id=app.arm_id)
        for _ in range(2)
    ]

    outcomes = at_once(
        lambda: sync.run_tenant_sync(run_id=tenant_run.pk),
        *[lambda run=run: sync.run_application_sync(run_id=run.pk) for run in app_runs],
    )

    states = list(SyncRun.objects.order_by("pk").values_list("state", "error"))
    report("overlap", outcomes, runs=states)
    assert not [o for o in outcomes if isinstance(o, Exception)], outcomes
    assert all(state == SyncRun.State.SUCCEEDED for state, _ in states), states
    assert mirror_snapshot() == expected


def test_one_webhook_delivered_twice_at_once_is_recorded_once(
    settings: Settings, fabrikam: Tenant
) -> None:
    from deployments.models import Subscription

    Subscription.objects.create(subscription_id=FABRIKAM_SUBSCRIPTION, tenant=fabrikam)
    body = json.dumps(_payload())

    def deliver() -> tuple[int, str]:
        response = Client().post(
            f"{URL}?sig={settings.MARKETPLACE_WEBHOOK_SECRET}",
            data=body,
            content_type="application/json",
        )
        return response.status_code, response.json()["status"]

    outcomes = at_once(*[deliver] * 4)
    report("webhook", outcomes, events=MarketplaceEvent.objects.count())
    assert (
        sorted(o for o in outcomes if not isinstance(o, Exception))
        == [(200, "accepted")] + [(200, "duplicate")] * 3
    )
    assert MarketplaceEvent.objects.count() == 1
    assert SyncRun.objects.filter(application_arm_id__gt="").count() == 1


def test_a_sync_that_ends_while_another_is_being_queued_does_not_lose_the_new_one(
    fabrikam: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The moment between a refused insert (a run of the tenant is open) and the read of that
    # open run: a worker finishes it just then. Queueing must not fail; it queues anew.
    busy = SyncRun.objects.create(tenant=fabrikam, state=SyncRun.State.RUNNING)
    read_open_runs = SyncRun.objects.filter
    ended: list[int] = []

    def the_open_run_ends_first(*args: object, **kwargs: object) -> object:
        if not ended:
            ended.append(read_open_runs(pk=busy.pk).update(state=SyncRun.State.SUCCEEDED))
        return read_open_runs(*args, **kwargs)

    monkeypatch.setattr(SyncRun.objects, "filter", the_open_run_ends_first)
    queued = queue_tenant_sync(tenant=fabrikam)
    assert ended == [1]
    assert queued.pk != busy.pk
    assert queued.state == SyncRun.State.QUEUED
    assert SyncRun.objects.filter(tenant=fabrikam, state=SyncRun.State.QUEUED).count() == 1
