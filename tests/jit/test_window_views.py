"""The approval window pages: admins add, change and delete windows; readers see the schedule;
another tenant gets 404; hostile input is refused with a message, never a 500."""

import datetime as dt
from collections.abc import Iterator
from typing import cast

import pytest
from django.http import StreamingHttpResponse
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from accounts.models import User
from deployments.models import ManagedApplication
from jit import window_services, windows
from jit.window_forms import ApprovalWindowForm
from jit.window_models import ApprovalWindow, ApprovalWindowOccurrence, OccurrenceState
from tests.jit.test_views import as_

pytestmark = pytest.mark.django_db

PROPERTY = hypothesis_settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
SUNDAY_NIGHT = {
    "weekdays": ["6"],
    "start_time": "02:00",
    "end_time": "06:00",
    "time_zone": "Europe/Berlin",
    "enabled": "on",
}


def windows_url(app: ManagedApplication) -> str:
    return reverse("jit:windows", args=[app.pk])


def a_window(app: ManagedApplication, by: User, **changes: object) -> ApprovalWindow:
    fields: dict[str, object] = {
        "weekdays": [6],
        "start_time": dt.time(2),
        "end_time": dt.time(6),
        "time_zone": "Europe/Berlin",
    }
    fields.update(changes)
    return window_services.approval_window_save(application=app, by=by, **fields)  # type: ignore[arg-type]


def test_admin_adds_a_window_and_sees_when_it_opens_next(
    client: Client, alice: User, monitoring: ManagedApplication
) -> None:
    response = as_(client, alice).post(windows_url(monitoring), SUNDAY_NIGHT, follow=True)
    assert response.status_code == 200
    window = ApprovalWindow.objects.get()
    assert (window.created_by, window.acts_as, window.weekdays) == (alice, alice, [6])
    text = response.content.decode()
    assert "Window saved. Next: Sun" in text
    assert "Next window: Sun" in text
    assert "manual approval returns at 06:00 (Europe/Berlin)" in text
    assert "not</strong> approved by it" in text

    policy = as_(client, alice).get(reverse("jit:policy", args=[monitoring.pk])).content.decode()
    assert "Next window: Sun" in policy
    assert "Manage approval windows" in policy


def test_reader_sees_the_schedule_but_cannot_change_it(
    client: Client, alice: User, bob: User, monitoring: ManagedApplication
) -> None:
    window = a_window(monitoring, alice)
    page = as_(client, bob).get(windows_url(monitoring))
    assert page.status_code == 200
    assert "Next window: Sun" in page.content.decode()
    assert "Add a window" not in page.content.decode()

    assert as_(client, bob).post(windows_url(monitoring), SUNDAY_NIGHT).status_code == 403
    url = reverse("jit:window", args=[monitoring.pk, window.pk])
    assert as_(client, bob).post(url, {"action": "delete"}).status_code == 403
    assert ApprovalWindow.objects.live().count() == 1


def test_other_tenant_gets_404_for_the_windows(
    client: Client, alice: User, charlie: User, monitoring: ManagedApplication
) -> None:
    window = a_window(monitoring, alice)
    assert as_(client, charlie).get(windows_url(monitoring)).status_code == 404
    assert as_(client, charlie).post(windows_url(monitoring), SUNDAY_NIGHT).status_code == 404
    url = reverse("jit:window", args=[monitoring.pk, window.pk])
    assert as_(client, charlie).get(url).status_code == 404
    assert as_(client, charlie).post(url, {"action": "delete"}).status_code == 404
    assert ApprovalWindow.objects.live().count() == 1


def test_publisher_gets_404_for_the_windows(
    client: Client, pat: User, monitoring: ManagedApplication
) -> None:
    assert as_(client, pat).get(windows_url(monitoring)).status_code == 404


def test_admin_changes_a_window_and_it_acts_as_her(
    client: Client, alice: User, carol: User, monitoring: ManagedApplication
) -> None:
    window = a_window(monitoring, alice)
    url = reverse("jit:window", args=[monitoring.pk, window.pk])
    assert "Set up by Alice Archer" in as_(client, carol).get(url).content.decode()
    response = as_(client, carol).post(
        url, {**SUNDAY_NIGHT, "weekdays": ["5", "6"], "end_time": "05:00", "action": "save"}
    )
    assert response.status_code == 302
    window.refresh_from_db()
    assert (window.weekdays, window.end_time, window.acts_as) == ([5, 6], dt.time(5), carol)
    assert window.created_by == alice


def test_admin_deletes_a_window(
    client: Client, alice: User, monitoring: ManagedApplication
) -> None:
    window = a_window(monitoring, alice)
    url = reverse("jit:window", args=[monitoring.pk, window.pk])
    assert as_(client, alice).post(url, {"action": "delete"}).status_code == 302
    assert not ApprovalWindow.objects.visible_to(alice).exists()
    assert as_(client, alice).get(url).status_code == 404


def test_windows_cannot_be_added_when_jit_is_off(
    client: Client, alice: User, monitoring: ManagedApplication
) -> None:
    ManagedApplication.objects.filter(pk=monitoring.pk).update(jit_enabled=False)
    page = as_(client, alice).get(windows_url(monitoring)).content.decode()
    assert "windows cannot be added" in page
    response = as_(client, alice).post(windows_url(monitoring), SUNDAY_NIGHT)
    assert response.status_code == 200
    assert "JIT access is off" in response.content.decode()
    assert not ApprovalWindow.objects.exists()


def test_overlapping_windows_are_refused_even_across_time_zones(
    client: Client, alice: User, monitoring: ManagedApplication
) -> None:
    a_window(monitoring, alice)  # Sun 02:00-06:00 Berlin = 01:00-05:00 UTC in winter
    response = as_(client, alice).post(
        windows_url(monitoring),
        {**SUNDAY_NIGHT, "start_time": "04:00", "end_time": "07:00", "time_zone": "UTC"},
    )
    assert response.status_code == 200
    assert "overlaps another window" in response.content.decode()
    touching = {**SUNDAY_NIGHT, "start_time": "06:00", "end_time": "08:00"}
    assert as_(client, alice).post(windows_url(monitoring), touching).status_code == 302
    assert ApprovalWindow.objects.count() == 2


def test_a_window_over_midnight_is_accepted(
    client: Client, alice: User, monitoring: ManagedApplication
) -> None:
    data = {**SUNDAY_NIGHT, "weekdays": ["5"], "start_time": "22:00", "end_time": "02:00"}
    assert as_(client, alice).post(windows_url(monitoring), data).status_code == 302
    window = ApprovalWindow.objects.get()
    assert window.crosses_midnight
    assert window.length == dt.timedelta(hours=4)


def test_the_policy_form_offers_the_mode_to_restore_while_a_window_is_open(
    client: Client, alice: User, monitoring: ManagedApplication
) -> None:
    window = a_window(
        monitoring, alice, weekdays=list(range(7)), start_time=dt.time(0), end_time=dt.time(0)
    )
    now = timezone.now()
    ApprovalWindowOccurrence.objects.create(
        window=window,
        application=monitoring,
        starts_at=now - dt.timedelta(hours=1),
        ends_at=now + dt.timedelta(hours=1),
        state=OccurrenceState.OPEN,
        switched=True,
        previous_approval_mode="ManualApprove",
        opened_as=alice,
    )
    ManagedApplication.objects.filter(pk=monitoring.pk).update(jit_approval_mode="AutoApprove")
    page = as_(client, alice).get(reverse("jit:policy", args=[monitoring.pk])).content.decode()
    assert "Approval window open on fabrikam-monitoring" in page
    assert (
        'value="ManualApprove" class="form-check-input" id="id_approval_mode_0" required checked'
        in page
    )
    requests = as_(client, alice).get(reverse("jit:requests")).content.decode()
    assert "Approval window open on fabrikam-monitoring" in requests


hostile = st.text(max_size=40) | st.sampled_from(
    ["", "\x00", "24:00", "-1:00", "99:99", "02:00:30", "x" * 5000, "../../etc/passwd",
     "Europe/../../etc", "EUROPE/BERLIN", "7", "-1", "99999999999999999999", "0x1"]
)  # fmt: skip


@PROPERTY
@given(weekdays=st.lists(hostile, max_size=9), start=hostile, end=hostile, zone=hostile)
def test_the_form_refuses_hostile_input_with_messages(
    monitoring: ManagedApplication, weekdays: list[str], start: str, end: str, zone: str
) -> None:
    form = ApprovalWindowForm(
        {"weekdays": weekdays, "start_time": start, "end_time": end, "time_zone": zone},
        application=monitoring,
    )
    if form.is_valid():
        assert set(form.cleaned_data["weekdays"]) <= set(range(7))
    else:
        assert form.errors


@PROPERTY
@given(weekdays=st.lists(hostile, max_size=9), start=hostile, end=hostile, zone=hostile)
def test_the_windows_page_never_fails_on_hostile_input(
    client: Client,
    alice: User,
    monitoring: ManagedApplication,
    weekdays: list[str],
    start: str,
    end: str,
    zone: str,
) -> None:
    before = ApprovalWindow.objects.count()
    data = {"weekdays": weekdays, "start_time": start, "end_time": end, "time_zone": zone}
    response = as_(client, alice).post(windows_url(monitoring), data)
    assert response.status_code in (200, 302)
    if response.status_code == 200:
        assert ApprovalWindow.objects.count() == before
    ApprovalWindow.objects.all().delete()  # keep the next example free of overlaps


def test_window_events_show_in_the_audit_trail(
    client: Client, alice: User, monitoring: ManagedApplication
) -> None:
    window = a_window(monitoring, alice, weekdays=list(range(7)))
    windows.approval_windows_tick(now=timezone.now())
    first = ApprovalWindowOccurrence.objects.filter(window=window).order_by("starts_at").first()
    assert first is not None
    windows.approval_windows_tick(now=first.starts_at - dt.timedelta(hours=1))
    page = as_(client, alice).get(reverse("jit:audit")).content.decode()
    assert "Approval window announced" in page
    assert "Approval window (set up by Alice Archer)" in page
    response = cast(StreamingHttpResponse, as_(client, alice).get(reverse("jit:audit_csv")))
    csv = b"".join(cast(Iterator[bytes], response.streaming_content)).decode()
    assert "Approval window announced" in csv


def test_a_window_on_an_automatic_app_says_it_changes_nothing(
    client: Client, alice: User, backup: ManagedApplication
) -> None:
    window_services.approval_window_save(
        application=backup,
        by=alice,
        weekdays=[6],
        start_time=dt.time(2),
        end_time=dt.time(6),
        time_zone="UTC",
    )
    page = as_(client, alice).get(windows_url(backup)).content.decode()
    assert "would change nothing and restore nothing" in page


def test_saving_a_window_unchanged_hands_it_over_without_replanning(
    client: Client, alice: User, carol: User, monitoring: ManagedApplication
) -> None:
    window = a_window(monitoring, alice)
    windows.approval_windows_tick(now=timezone.now())
    planned = list(ApprovalWindowOccurrence.objects.values_list("pk", flat=True))
    assert planned
    url = reverse("jit:window", args=[monitoring.pk, window.pk])
    assert as_(client, carol).post(url, {**SUNDAY_NIGHT, "action": "save"}).status_code == 302
    window.refresh_from_db()
    assert window.acts_as == carol
    assert list(ApprovalWindowOccurrence.objects.values_list("pk", flat=True)) == planned
