"""The marketplace notification endpoint: `<path>/resource?sig=<secret>`."""

import json
import time
from typing import Any

import pytest
from django.test import Client
from pytest_django import DjangoCaptureOnCommitCallbacks, Settings
from pytest_django.live_server_helper import LiveServer

from accounts.models import Tenant, User
from deployments.models import MarketplaceEvent, Subscription, SyncRun
from emulator.server import EmulatorServer
from tests.responses import ClientResponse

APP_ID = (
    "/subscriptions/a8c02436-e607-478d-aa9c-f223ff5aabfd/resourceGroups/fabrikam-apps"
    "/providers/Microsoft.Solutions/applications/fabrikam-monitoring"
)
URL = "/hooks/marketplace/resource"


def _payload(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "eventType": "PUT",
        "applicationId": APP_ID,
        "eventTime": "2026-11-28T10:15:30.1234567Z",
        "provisioningState": "Succeeded",
        "billingDetails": {"resourceUsageId": "7b4b4bcb-5f4f-4d2c-a5fd-5b7b4a4b0d1c"},
        "plan": {
            "publisher": "contoso",
            "product": "contoso-monitoring",
            "name": "jit-manual",
            "version": "1.2.0",
        },
    }
    body.update(overrides)
    return body


def _post(
    client: Client, settings: Settings, body: dict[str, Any] | str, sig: str | None = None
) -> ClientResponse:
    return client.post(
        f"{URL}?sig={sig or settings.MARKETPLACE_WEBHOOK_SECRET}",
        data=json.dumps(body) if not isinstance(body, str) else body,
        content_type="application/json",
    )


@pytest.fixture
def fabrikam_subscription(fabrikam: Tenant) -> Subscription:
    return Subscription.objects.create(
        subscription_id="a8c02436-e607-478d-aa9c-f223ff5aabfd", tenant=fabrikam
    )


def test_a_notification_for_a_known_subscription_queues_a_sync_of_that_app(
    client: Client,
    settings: Settings,
    fabrikam_subscription: Subscription,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    with django_capture_on_commit_callbacks(execute=False) as queued:
        response = _post(client, settings, _payload())
    assert response.status_code == 200
    assert response.json() == {"status": "accepted", "outcome": "queued"}
    event = MarketplaceEvent.objects.get()
    assert (event.event_type, event.provisioning_state) == ("PUT", "Succeeded")
    assert event.customer_tenant == fabrikam_subscription.tenant
    assert event.event_time.microsecond == 123456
    run = SyncRun.objects.get()
    assert run.application_arm_id == APP_ID
    assert len(queued) == 1


def test_the_same_notification_twice_is_kept_once(
    client: Client, settings: Settings, fabrikam_subscription: Subscription
) -> None:
    assert _post(client, settings, _payload()).json()["status"] == "accepted"
    assert _post(client, settings, _payload()).json()["status"] == "duplicate"
    assert MarketplaceEvent.objects.count() == 1
    assert SyncRun.objects.count() == 1


@pytest.mark.django_db
def test_an_unknown_subscription_is_recorded_as_unmatched(
    client: Client, settings: Settings
) -> None:
    response = _post(client, settings, _payload())
    assert response.json() == {"status": "accepted", "outcome": "unmatched"}
    assert SyncRun.objects.count() == 0


@pytest.mark.django_db
def test_the_leading_slash_of_the_application_id_is_optional(
    client: Client, settings: Settings
) -> None:
    assert _post(client, settings, _payload(applicationId=APP_ID[1:])).status_code == 200
    assert MarketplaceEvent.objects.get().application_arm_id == APP_ID


@pytest.mark.django_db
@pytest.mark.parametrize("sig", ["", "wrong", "emulator-webhook-secre"])
def test_a_missing_or_wrong_secret_is_rejected_and_changes_nothing(
    client: Client, settings: Settings, sig: str
) -> None:
    response = client.post(
        f"{URL}?sig={sig}", data=json.dumps(_payload()), content_type="application/json"
    )
    assert response.status_code == 401
    assert MarketplaceEvent.objects.count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("{not json", "not JSON"),
        ("[1, 2]", "JSON object"),
        (_payload(eventType="POST"), "unknown eventType/provisioningState"),
        (
            _payload(eventType="PATCH", provisioningState="Deleted"),
            "unknown eventType/provisioningState",
        ),
        (_payload(applicationId="/subscriptions/x/resourceGroups/y"), "applicationId"),
        (_payload(eventTime="yesterday"), "eventTime"),
        (_payload(plan="gold"), "plan"),
    ],
)
def test_malformed_notifications_get_400_with_a_reason_and_change_nothing(
    client: Client, settings: Settings, body: dict[str, Any] | str, reason: str
) -> None:
    response = _post(client, settings, body)
    assert response.status_code == 400
    assert reason in response.json()["error"]
    assert MarketplaceEvent.objects.count() == 0


@pytest.mark.django_db
def test_only_post_is_accepted(client: Client, settings: Settings) -> None:
    assert client.get(f"{URL}?sig={settings.MARKETPLACE_WEBHOOK_SECRET}").status_code == 405


@pytest.mark.django_db
def test_without_a_configured_secret_the_endpoint_is_off(
    client: Client, settings: Settings
) -> None:
    settings.MARKETPLACE_WEBHOOK_SECRET = None
    assert _post(client, settings, _payload(), sig="anything").status_code == 404


@pytest.mark.django_db(transaction=True)
def test_a_purchase_in_azure_reaches_the_portal_through_the_emulators_notification(
    azure: EmulatorServer,
    live_server: LiveServer,
    settings: Settings,
    fabrikam: Tenant,
    contoso: Tenant,
) -> None:
    Subscription.objects.create(
        subscription_id="a8c02436-e607-478d-aa9c-f223ff5aabfd", tenant=fabrikam
    )
    azure.set_notification_url(
        f"{live_server.url}/hooks/marketplace?sig={settings.MARKETPLACE_WEBHOOK_SECRET}"
    )
    alice = "2029a5ca-c529-486a-ba15-f25657670ce5"
    import requests

    response = requests.post(
        f"{azure.https_url}/_emulator/act/purchase",
        json={
            "as": alice,
            "subscription": "a8c02436-e607-478d-aa9c-f223ff5aabfd",
            "name": "fabrikam-backup-2",
            "offer": "backup-jit-auto",
        },
        verify=azure.ca_bundle,
        timeout=10,
    )
    assert response.status_code in (200, 201, 202), response.text
    deadline = time.monotonic() + 20
    while (
        time.monotonic() < deadline
        and not MarketplaceEvent.objects.filter(
            application_arm_id__icontains="fabrikam-backup-2", provisioning_state="Succeeded"
        ).exists()
    ):
        time.sleep(0.2)
    event = MarketplaceEvent.objects.get(
        application_arm_id__icontains="fabrikam-backup-2", provisioning_state="Succeeded"
    )
    assert event.customer_tenant == fabrikam
    assert SyncRun.objects.filter(application_arm_id=event.application_arm_id).exists()
    # The queued sync of that one application brings it into the mirror.
    from deployments import sync
    from deployments.models import ManagedApplication

    run = SyncRun.objects.filter(application_arm_id=event.application_arm_id).first()
    assert run is not None
    sync.run_application_sync(run_id=run.pk)
    run.refresh_from_db()
    assert run.state == SyncRun.State.SUCCEEDED, run.error
    app = ManagedApplication.objects.get(arm_id__iexact=event.application_arm_id)
    assert (app.customer_tenant, app.provisioning_state) == (fabrikam, "Succeeded")
    assert app.offer is not None
    assert app.offer.publisher_tenant == contoso


@pytest.mark.django_db
def test_an_application_sync_of_a_deleted_app_marks_it_vanished(
    azure: EmulatorServer,
    fabrikam: Tenant,
    contoso: Tenant,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    from deployments import sync
    from deployments.models import ManagedApplication

    source = next(
        a for a in azure.state.applications.values() if a.subscription_id.startswith("a8c02436")
    )
    run = SyncRun.objects.create(tenant=fabrikam, application_arm_id=source.id)
    sync.run_application_sync(run_id=run.pk)
    assert ManagedApplication.objects.get(arm_id__iexact=source.id).vanished_at is None
    with azure.state.lock:
        azure.state.remove_application(source)
    again = SyncRun.objects.create(tenant=fabrikam, application_arm_id=source.id)
    sync.run_application_sync(run_id=again.pk)
    assert ManagedApplication.objects.get(arm_id__iexact=source.id).vanished_at is not None


def test_a_new_purchase_is_announced_on_the_publishers_customers_page(
    client: Client, settings: Settings, pat: User, fabrikam_subscription: Subscription, alice: User
) -> None:
    _post(client, settings, _payload())
    client.force_login(pat)
    page = client.get("/apps/customers/").content.decode()
    assert "New purchases in the last day" in page
    assert "fabrikam-monitoring" in page and "by Fabrikam" in page
    # Customers do not see the publisher's notifications.
    assert list(MarketplaceEvent.objects.visible_to(alice)) == []
