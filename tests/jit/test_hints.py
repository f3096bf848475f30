"""Risk hints beside a JIT request: each computed from the mirror, each able to say otherwise."""

import datetime as dt
import zoneinfo
from typing import Any

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from pytest_django import Settings

from accounts.models import User
from deployments.models import ManagedApplication, RoleDefinition
from jit.hints import Hint, request_hints
from jit.models import AuditEvent, ElevationActivity, JitRequest, State
from jit.notifications import notify
from portal.env import parse_business_hours
from tests.jit.conftest import CONTRIBUTOR
from tests.jit.test_views import make_request

pytestmark = pytest.mark.django_db

# A Wednesday, 10:00 UTC.
WEDNESDAY_MORNING = dt.datetime(2026, 12, 2, 10, 0, tzinfo=dt.UTC)
CONTRIBUTOR_GUID = CONTRIBUTOR.rsplit("/", 1)[-1]


@pytest.fixture(autouse=True)
def _business_hours(settings: Settings) -> None:
    settings.CUSTOMER_BUSINESS_HOURS = parse_business_hours("test", "Mon-Fri 08:00-18:00")
    settings.CUSTOMER_TIME_ZONE = "UTC"


def _titles(hints: list[Hint]) -> list[str]:
    return [hint.title for hint in hints]


def _request(app: ManagedApplication, pat: User, name: str, **fields: Any) -> JitRequest:
    created_at = fields.pop("created_at", None)
    jit = make_request(app, pat, name=name, **{"state": fields.pop("state", State.PENDING)})
    JitRequest.objects.filter(pk=jit.pk).update(
        start=fields.pop("start", WEDNESDAY_MORNING),
        duration=fields.pop("duration", dt.timedelta(hours=4)),
        **({"created_at": created_at} if created_at else {}),
        **fields,
    )
    jit.refresh_from_db()
    return jit


def test_the_roles_breadth_in_words_from_its_definition(
    monitoring: ManagedApplication, pat: User
) -> None:
    jit = _request(monitoring, pat, "hint1")
    assert "Contributor: role not read yet" in _titles(request_hints(jit))
    RoleDefinition.objects.create(
        guid=CONTRIBUTOR_GUID,
        name="Contributor",
        permissions=[{"actions": ["*"], "notActions": ["Microsoft.Authorization/*/Write"]}],
    )
    hint = request_hints(jit)[0]
    assert hint.level == "warning"
    assert hint.title == (
        "Contributor lets the publisher create, change and delete anything, but not decide who "
        "has access"
    )


def test_a_request_longer_than_the_publishers_usual_is_flagged(
    monitoring: ManagedApplication, pat: User
) -> None:
    for n in range(4):
        _request(monitoring, pat, f"usual{n}", duration=dt.timedelta(hours=2), state=State.EXPIRED)
    usual = _request(monitoring, pat, "hint2", duration=dt.timedelta(hours=2))
    assert "A usual length: 2 hours" in _titles(request_hints(usual))
    short = _request(monitoring, pat, "hint2b", duration=dt.timedelta(minutes=30))
    assert "Shorter than usual: 30 minutes" in _titles(request_hints(short))
    long = _request(monitoring, pat, "hint3", duration=dt.timedelta(hours=8))
    hint = next(h for h in request_hints(long) if h.title.startswith("Longer"))
    assert hint.title == "Longer than usual: 8 hours"
    assert "usually last 2 hours" in hint.text


def test_too_little_history_says_nothing_about_usual_length(
    monitoring: ManagedApplication, pat: User
) -> None:
    jit = _request(monitoring, pat, "hint4", duration=dt.timedelta(hours=8))
    assert not [t for t in _titles(request_hints(jit)) if "usual" in t.lower()]


def test_outside_business_hours_in_the_customers_time_zone(
    monitoring: ManagedApplication, pat: User, settings: Settings
) -> None:
    inside = _request(monitoring, pat, "hint5", duration=dt.timedelta(hours=2))
    assert "Outside business hours" not in _titles(request_hints(inside))
    sunday = _request(monitoring, pat, "hint6", start=dt.datetime(2026, 12, 6, 2, 0, tzinfo=dt.UTC))
    hint = next(h for h in request_hints(sunday) if h.title == "Outside business hours")
    assert "Runs Sunday 02:00 to Sunday 06:00 (UTC)" in hint.text
    assert "Mon to Fri 08:00 to 18:00" in hint.text
    # 10:00 UTC is 19:00 in Tokyo: after hours there.
    settings.CUSTOMER_TIME_ZONE = "Asia/Tokyo"
    assert "Outside business hours" in _titles(request_hints(inside))
    assert zoneinfo.ZoneInfo("Asia/Tokyo")  # the zone the setting names exists


def test_first_request_by_a_person_then_their_history(
    monitoring: ManagedApplication, pat: User
) -> None:
    first = _request(monitoring, pat, "hint7", created_at=WEDNESDAY_MORNING)
    assert "First request by this person" in _titles(request_hints(first))
    second = _request(monitoring, pat, "hint8", created_at=WEDNESDAY_MORNING + dt.timedelta(days=1))
    titles = _titles(request_hints(second))
    assert "First request by this person" not in titles
    assert "Asked 1 time before" in titles


def test_overlap_with_an_active_grant_of_the_same_application(
    monitoring: ManagedApplication, pat: User
) -> None:
    now = timezone.now()
    _request(monitoring, pat, "grant1", state=State.APPROVED, start=now - dt.timedelta(hours=1))
    asking = _request(monitoring, pat, "hint9", start=now)
    hint = next(h for h in request_hints(asking, now=now) if h.title.startswith("Overlaps"))
    assert hint.title == "Overlaps another elevation"
    assert "Pat Patel holds Contributor until" in hint.text
    later = _request(monitoring, pat, "hint10", start=now + dt.timedelta(hours=5))
    assert not [t for t in _titles(request_hints(later, now=now)) if t.startswith("Overlaps")]


def test_what_the_last_elevation_changed(monitoring: ManagedApplication, pat: User) -> None:
    last = _request(
        monitoring,
        pat,
        "grant2",
        state=State.EXPIRED,
        grant_started_at=WEDNESDAY_MORNING,
        created_at=WEDNESDAY_MORNING - dt.timedelta(hours=1),
    )
    asking = _request(
        monitoring, pat, "hint11", created_at=WEDNESDAY_MORNING + dt.timedelta(days=1)
    )
    assert "Last elevation not reviewed yet" in _titles(request_hints(asking))
    JitRequest.objects.filter(pk=last.pk).update(activity_fetched_at=WEDNESDAY_MORNING)
    assert "The last elevation changed nothing" in _titles(request_hints(asking))
    for n, (operation, status) in enumerate(
        [
            ("Microsoft.Compute/virtualMachines/restart/action", "Started"),
            ("Microsoft.Compute/virtualMachines/restart/action", "Succeeded"),
            ("Microsoft.Compute/virtualMachines/restart/action", "Succeeded"),
            ("Microsoft.Compute/disks/delete", "Succeeded"),
            # The grant's own role assignment, written as it started: not a change.
            ("Microsoft.Authorization/roleAssignments/write", "Succeeded"),
        ]
    ):
        ElevationActivity.objects.create(
            jit_request=last,
            event_id=f"e{n}",
            at=WEDNESDAY_MORNING,
            operation=operation,
            status=status,
        )
    hint = next(h for h in request_hints(asking) if h.title.startswith("The last elevation"))
    assert hint.title == "The last elevation made 3 changes"
    assert hint.level == "warning"  # it deleted something
    assert "restart virtual machines (2 times)" in hint.text and "delete disks" in hint.text


def test_hints_on_the_request_page_and_in_the_approvers_mail(
    client: Client, monitoring: ManagedApplication, pat: User, alice: User
) -> None:
    jit = _request(monitoring, pat, "hint12", start=dt.datetime(2026, 12, 6, 2, 0, tzinfo=dt.UTC))
    client.force_login(alice)
    page = client.get(reverse("jit:request_detail", args=[jit.pk])).content.decode()
    assert "Worth weighing before you decide" in page
    assert "Outside business hours" in page and "First request by this person" in page
    event = AuditEvent.objects.create(
        action=AuditEvent.Action.SUBMITTED,
        tenant=monitoring.customer_tenant,
        application=monitoring,
        jit_request=jit,
    )
    alice.email = "alice@example.test"
    alice.save()
    mail.outbox.clear()
    assert notify(event) == 1
    assert "Worth weighing:" in mail.outbox[0].body
    assert "- Outside business hours. Runs Sunday 02:00" in mail.outbox[0].body
