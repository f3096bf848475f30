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
