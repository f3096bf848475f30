"""The requests page says how old the states it shows are: the last full listing of the
publisher's JIT scope, flagged when the minute-by-minute listing has stopped."""

import datetime as dt

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from pytest_django import Settings

from accounts.models import Tenant, User
from azure_gateway import publisher_gateway
from deployments.models import ManagedApplication
from emulator.server import EmulatorServer
from jit import mirror
from jit.models import ScopeListing

pytestmark = pytest.mark.django_db

FRESHNESS = 'id="requests-freshness"'


def _freshness(client: Client, user: User) -> str:
    client.force_login(user)
    page = client.get(reverse("jit:requests")).content.decode()
    assert FRESHNESS in page
    return page.split(FRESHNESS, 1)[1].split("</p>", 1)[0]


def test_a_listing_of_the_scope_is_what_the_page_dates(
    client: Client,
    azure: EmulatorServer,
    fabrikam: Tenant,
    monitoring: ManagedApplication,
    backup: ManagedApplication,
    pat: User,
    alice: User,
) -> None:
    assert "have not been listed from Azure yet" in _freshness(client, pat)

    mirror.jit_requests_reconcile_scope()

    listing = ScopeListing.objects.get()
    with publisher_gateway() as gateway:
        in_azure = gateway.list_jit_requests_at(mirror.publisher_scope())
    assert listing.requests_listed == len(in_azure) > 0
    for person in (pat, alice):
        line = _freshness(client, person)
        assert "States as Azure listed them" in line
        assert "Out of date" not in line


def test_a_listing_missed_for_minutes_is_flagged(
    client: Client, azure: EmulatorServer, pat: User
) -> None:
    ScopeListing.objects.create(
        scope=mirror.publisher_scope().lower(),
        listed_at=timezone.now() - dt.timedelta(minutes=20),
    )

    assert "Out of date" in _freshness(client, pat)


def test_requests_living_with_each_customer_are_dated_by_their_syncs(
    client: Client, settings: Settings, pat: User
) -> None:
    settings.PUBLISHER_JIT_SCOPE = "application"
    client.force_login(pat)
    assert FRESHNESS not in client.get(reverse("jit:requests")).content.decode()


def test_a_long_list_is_counted_up_to_a_cap_and_paged_on(
    client: Client, pat: User, monitoring: ManagedApplication, monkeypatch: pytest.MonkeyPatch
) -> None:
    from jit.models import JitRequest
    from portal import pagination

    monkeypatch.setattr(pagination, "COUNT_CAP", 30)
    now = timezone.now()
    JitRequest.objects.bulk_create(
        JitRequest(
            application=monitoring,
            arm_id=f"{monitoring.arm_id}/jitRequests/many{n}",
            name=f"many{n:03d}",
            principal_id="fe96399b-4112-4390-b6f7-5d487005120c",
            role_definition_id="b24988ac-6180-42a0-ab88-20f7382dd24c",
            start=now,
            duration=dt.timedelta(hours=1),
            state="Pending",
            created_at=now - dt.timedelta(minutes=n),
        )
        for n in range(60)
    )
    client.force_login(pat)

    first = client.get(reverse("jit:requests")).content.decode()
    assert "Page 1 of more than 30 requests" in first
    assert "many000" in first and "many025" not in first
    third = client.get(reverse("jit:requests"), {"page": 3}).content.decode()
    assert "many050" in third and "many059" in third
    assert "Next" not in third.split('aria-label="Pages"', 1)[1]
