"""JIT forms and pages against hostile input: any value in any field re-renders the form with a
message or is accepted, never a 500, and nothing is written on rejection; any stored date, even at
the calendar's edge, still renders."""

import datetime as dt

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from hypothesis import HealthCheck, event, example, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from accounts.models import User
from deployments.models import ManagedApplication
from jit.batch import MAX_BATCH
from jit.models import AuditEvent, JitRequest, Operation, State
from tests.jit.conftest import CONTRIBUTOR
from tests.jit.test_views import as_, make_request
from tests.responses import ClientResponse

pytestmark = pytest.mark.django_db

PROPERTY = hypothesis_settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
# Text a browser could send, plus the characters that break things further down: NUL, lone
# surrogates (sent as UTF-8 they cannot be; the test client encodes what it can), very long runs.
hostile_text = st.text(max_size=60) | st.sampled_from(
    ["", " ", "\x00", "9999-12-31T23:59", "0001-01-01T00:00", "2026-02-30T10:00", "x" * 5000, "-1"]
)


def _request_new(
    client: Client, pat: User, app: ManagedApplication, data: dict[str, str]
) -> ClientResponse:
    return as_(client, pat).post(reverse("jit:request_new", args=[app.pk]), data)


def test_a_start_years_ahead_is_refused_with_a_message(
    client: Client, pat: User, monitoring: ManagedApplication
) -> None:
    response = _request_new(
        client,
        pat,
        monitoring,
        {
            "role": CONTRIBUTOR,
            "start_now": "0",
            "start_at": "9999-12-31T20:00",
            "hours": "2",
            "justification": "Later",
        },
    )
    assert response.status_code == 200
    assert "at most 30 days ahead" in response.text
    assert not JitRequest.objects.exists()


def test_a_start_within_the_bound_is_accepted(
    client: Client, pat: User, monitoring: ManagedApplication
) -> None:
    start = (timezone.now() + dt.timedelta(days=29)).strftime("%Y-%m-%dT%H:%M")
    response = _request_new(
        client,
        pat,
        monitoring,
        {
            "role": CONTRIBUTOR,
            "start_now": "0",
            "start_at": start,
            "hours": "2",
            "justification": "Planned",
        },
    )
    assert response.status_code == 302
    assert JitRequest.objects.count() == 1


@pytest.mark.parametrize(
    ("start", "duration"),
    [
        (dt.datetime(9999, 12, 31, 20, tzinfo=dt.UTC), dt.timedelta(hours=8)),
        (dt.datetime(1, 1, 1, tzinfo=dt.UTC), dt.timedelta(hours=8)),
        (timezone.now(), dt.timedelta(days=999_999)),
    ],
    ids=["ending after year 9999", "starting in year 1", "lasting a million days"],
)
@pytest.mark.parametrize("state", [State.PENDING, State.APPROVED, State.EXPIRED])
def test_any_stored_date_still_renders_every_page_that_shows_it(
    client: Client,
    pat: User,
    alice: User,
    monitoring: ManagedApplication,
    start: dt.datetime,
    duration: dt.timedelta,
    state: str,
) -> None:
    jit = make_request(monitoring, pat, state=state)
    JitRequest.objects.filter(pk=jit.pk).update(start=start, duration=duration, created_at=start)
    for person in (pat, alice):
        for url in (
            reverse("jit:requests"),
            reverse("jit:request_detail", args=[jit.pk]),
            reverse("jit:request_status", args=[jit.pk]),
            reverse("jit:audit"),
            reverse("jit:audit_csv"),
        ):
            response = as_(client, person).get(url)
            assert response.status_code == 200, (url, response.status_code)


@PROPERTY
@given(
    role=hostile_text | st.just(CONTRIBUTOR),
    start_now=hostile_text | st.sampled_from(["0", "1"]),
    start_at=hostile_text,
    hours=hostile_text | st.sampled_from(["1", "2", "8"]),
    justification=hostile_text,
    ticket=hostile_text,
)
def test_any_elevation_form_input_is_accepted_or_re_rendered(
    client: Client,
    pat: User,
    monitoring: ManagedApplication,
    role: str,
    start_now: str,
    start_at: str,
    hours: str,
    justification: str,
    ticket: str,
) -> None:
    before = (JitRequest.objects.count(), Operation.objects.count())
    response = _request_new(
        client,
        pat,
        monitoring,
        {
            "role": role,
            "start_now": start_now,
            "start_at": start_at,
            "hours": hours,
            "justification": justification,
            "ticket_reference": ticket,
        },
    )
    assert response.status_code in (200, 302)
    if response.status_code == 200:
        assert "is-invalid" in response.text or "invalid-feedback" in response.text
        assert (JitRequest.objects.count(), Operation.objects.count()) == before


@PROPERTY
@given(decision=hostile_text | st.sampled_from(["approve", "deny"]), justification=hostile_text)
def test_any_decision_input_is_recorded_or_refused_with_a_reason(
    client: Client,
    alice: User,
    monitoring: ManagedApplication,
    pat: User,
    decision: str,
    justification: str,
) -> None:
    jit = JitRequest.objects.filter(name="jithostile1").first() or make_request(
        monitoring, pat, name="jithostile1"
    )
    JitRequest.objects.filter(pk=jit.pk).update(state=State.PENDING, handoff_decision="")
    response = as_(client, alice).post(
        reverse("jit:decide", args=[jit.pk]),
        {"decision": decision, "justification": justification},
        headers={"HX-Request": "true"},
    )
    assert response.status_code in (200, 400)
    jit.refresh_from_db()
    if response.status_code == 400:
        assert jit.handoff_decision == ""


# Batch decisions: ids of any shape, duplicates, far too many, no reason, unknown decisions.
REAL = ("jitbatch0", "jitbatch1")
OTHER_TENANT = "jitbatchnw"


def _batch_ids(draw_ids: list[str], named: dict[str, str]) -> list[str]:
    return [named.get(value, value) for value in draw_ids]


batch_ids = (
    st.lists(st.sampled_from(REAL), min_size=1, max_size=2)
    | st.lists(
        hostile_text | st.uuids().map(str) | st.sampled_from([*REAL, OTHER_TENANT]), max_size=8
    )
    | st.integers(min_value=MAX_BATCH + 1, max_value=400).map(lambda n: [REAL[0]] * n)
)


@PROPERTY
@given(
    ids=batch_ids,
    decision=st.sampled_from(["approve", "deny"]) | hostile_text,
    justification=st.just("Planned work") | hostile_text,
)
@example(ids=list(REAL), decision="approve", justification="Planned work")
def test_any_batch_decision_input_is_recorded_whole_or_refused_with_nothing_written(
    client: Client,
    alice: User,
    pat: User,
    monitoring: ManagedApplication,
    northwind_monitoring: ManagedApplication,
    ids: list[str],
    decision: str,
    justification: str,
) -> None:
    named = {}
    for name, app in ((REAL[0], monitoring), (REAL[1], monitoring), (OTHER_TENANT, northwind_monitoring)):  # fmt: skip
        jit = JitRequest.objects.filter(name=name).first() or make_request(app, pat, name=name)
        named[name] = str(jit.pk)
    JitRequest.objects.filter(name__in=named).update(state=State.PENDING, handoff_decision="")
    posted = _batch_ids(ids, named)
    decided_before = AuditEvent.objects.filter(action=AuditEvent.Action.DECIDED).count()

    response = as_(client, alice).post(
        reverse("jit:decide_batch"),
        {"requests": posted, "decision": decision, "justification": justification},
    )

    assert response.status_code in (302, 400)
    event(f"answered {response.status_code}")
    decided = AuditEvent.objects.filter(action=AuditEvent.Action.DECIDED).count() - decided_before
    if response.status_code == 400:
        assert "Nothing was recorded" in response.text
        assert decided == 0
        assert not JitRequest.objects.exclude(handoff_decision="").exists()
    else:
        assert decision in ("approve", "deny") and justification.strip()
        assert set(posted) <= {named[REAL[0]], named[REAL[1]]}
        assert decided == len(posted) == len(set(posted))
    assert not Operation.objects.filter(kind=Operation.Kind.DECIDE).exists()
