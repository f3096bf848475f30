"""The operations dashboard (`admin/operations/`): staff only, linked from the admin index, with
numbers read from the rows, well-formed SVG charts and a query count that does not grow."""

import datetime as dt
import re
import uuid
import xml.etree.ElementTree as ET

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import Side, Tenant, User
from deployments.models import ManagedApplication, MarketplaceEvent, SyncRun, WebhookRejection
from jit.models import Operation
from portal.operations import charts, status
from tests.conftest import make_tenant
from tests.responses import ClientResponse

pytestmark = pytest.mark.django_db

URL = "/admin/operations/"
SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture
def operator_client(client: Client) -> Client:
    client.force_login(User.objects.create(username="operator", is_staff=True))
    return client


@pytest.fixture(autouse=True)
def broker_depth(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(status, "queue_depth", lambda: 7)


def _run(
    tenant: Tenant,
    state: str,
    *,
    finished: dt.datetime,
    took: dt.timedelta = dt.timedelta(seconds=30),
    error: str = "",
    throttled: int = 0,
) -> SyncRun:
    return SyncRun.objects.create(
        tenant=tenant,
        state=state,
        queued_at=finished - took - dt.timedelta(seconds=1),
        started_at=finished - took,
        finished_at=finished,
        error=error,
        throttled_responses=throttled,
    )


def _app(tenant: Tenant) -> ManagedApplication:
    return ManagedApplication.objects.create(
        arm_id=f"/subscriptions/s/resourceGroups/rg/providers/Microsoft.Solutions/applications/{tenant.pk}",
        customer_tenant=tenant,
        subscription_id="s",
        resource_group="rg",
        name="contoso-analytics",
    )


def _svgs(response: ClientResponse) -> list[ET.Element]:
    found = re.findall(
        r"<svg [^>]*class=\"ops-chart\".*?</svg>", response.content.decode(), flags=re.DOTALL
    )
    return [ET.fromstring(svg) for svg in found]


def _figure(response: ClientResponse, element_id: str) -> str:
    match = re.search(rf'id="{element_id}">([^<]*)<', response.content.decode())
    assert match, element_id
    return match.group(1).strip()


@pytest.fixture
def hour() -> dt.datetime:
    """Ten minutes into the hour three hours ago: safely inside one bucket of both windows."""
    return status.start_of_hour(timezone.now()) - dt.timedelta(hours=3, minutes=-10)


@pytest.fixture
def fleet(hour: dt.datetime) -> dict[str, Tenant]:
    now = timezone.now()
    tenants = {
        name: make_tenant(uuid.uuid4(), name, Side.CUSTOMER)
        for name in ("Failing Co", "Stale Co", "Fresh Co", "New Co")
    }
    make_tenant(uuid.uuid4(), "Pending Co", Side.CUSTOMER, state=Tenant.State.PENDING)
    make_tenant(uuid.uuid4(), "Contoso", Side.PUBLISHER)
    succeeded, failed = SyncRun.State.SUCCEEDED, SyncRun.State.FAILED
    _run(tenants["Failing Co"], succeeded, finished=now - dt.timedelta(days=2))
    _run(
        tenants["Failing Co"],
        failed,
        finished=hour,
        error="AuthorizationFailed: no role here",
        throttled=5,
    )
    _run(tenants["Stale Co"], succeeded, finished=hour, took=dt.timedelta(seconds=10), throttled=2)
    _run(tenants["Stale Co"], failed, finished=hour - dt.timedelta(days=1))
    _run(tenants["Stale Co"], succeeded, finished=hour - dt.timedelta(days=1, minutes=-1))
    _run(tenants["Fresh Co"], succeeded, finished=hour, took=dt.timedelta(seconds=60))
    _run(tenants["Fresh Co"], succeeded, finished=hour, took=dt.timedelta(seconds=20))
    _run(tenants["Fresh Co"], succeeded, finished=now - dt.timedelta(minutes=1))
    SyncRun.objects.create(tenant=tenants["Fresh Co"], queued_at=now - dt.timedelta(minutes=20))

    app = _app(tenants["Fresh Co"])
    by = User.objects.create(username="someone")
    Operation.objects.create(
        kind=Operation.Kind.DECIDE,
        application=app,
        by=by,
        status=Operation.Status.FAILED,
        attempts=1,
        finished_at=now - dt.timedelta(hours=1),
        error_code="LinkedAuthorizationFailed",
        what_to_do="Ask the customer admin to approve in the Azure portal.",
    )
    retrying = Operation.objects.create(
        kind=Operation.Kind.CREATE, application=app, by=by, attempts=3
    )
    Operation.objects.filter(pk=retrying.pk).update(created_at=now - dt.timedelta(minutes=45))
    Operation.objects.create(
        kind=Operation.Kind.CANCEL, application=app, by=by, status="done", attempts=2
    )

    for i, outcome in enumerate(["queued", "queued", "unmatched"]):
        event = MarketplaceEvent.objects.create(
            application_arm_id=f"/subscriptions/s/applications/a{i}",
            event_type="PUT",
            provisioning_state="Succeeded",
            event_time=hour,
            outcome=outcome,
            payload={},
        )
        MarketplaceEvent.objects.filter(pk=event.pk).update(received_at=hour)
    start = status.start_of_hour(hour)
    WebhookRejection.objects.create(hour=start, reason="bad_secret", count=4)
    WebhookRejection.objects.create(hour=start, reason="bad_body", count=2)
    WebhookRejection.objects.create(hour=start - dt.timedelta(days=3), reason="bad_body", count=9)
    return tenants


def test_staff_see_every_section_with_the_numbers_of_the_rows(
    operator_client: Client, fleet: dict[str, Tenant], hour: dt.datetime
) -> None:
    response = operator_client.get(URL)
    assert response.status_code == 200
    for heading in (
        "Tenant syncs",
        "Sync durations and failures",
        "Queue",
        "JIT operations",
        "Webhook intake",
        "Throttling by Azure Resource Manager",
    ):
        assert f">{heading}</h2>" in response.content.decode()

    assert _figure(response, "count-failing") == "1"
    assert _figure(response, "count-stale") == "1"
    assert _figure(response, "count-never") == "1"
    board = response.context["board"]
    assert [t.display_name for t in board.tenants.failing.tenants] == ["Failing Co"]
    assert [t.display_name for t in board.tenants.stale.tenants] == ["Stale Co"]
    assert [t.display_name for t in board.tenants.never_synced.tenants] == ["New Co"]
    failing = fleet["Failing Co"]
    assert reverse("admin:accounts_tenant_change", args=[failing.pk]) in response.content.decode()
    assert "AuthorizationFailed: no role here" in response.content.decode()
    assert "no sync has succeeded for 30 minutes" in response.content.decode()

    (in_hour,) = [h for h in board.sync.hours if h.hour == status.start_of_hour(hour)]
    assert (in_hour.finished, in_hour.failed) == (4, 1)
    assert (in_hour.median_seconds, in_hour.max_seconds) == (20.0, 60.0)
    assert board.sync.failed == 2 and board.sync.sampled_every == 1
    assert in_hour.throttled == 7 and board.sync.throttled == 7
    assert "(7 in all)" in response.content.decode()
    assert "<td>4</td><td>1</td><td>20.0 s</td><td>60.0 s</td>" in response.content.decode()

    assert _figure(response, "queue-depth") == "7"
    assert _figure(response, "fact-runs") == "1 / 0"
    assert _figure(response, "fact-oldest-run") == "waiting 20\xa0minutes"
    assert _figure(response, "fact-operations") == "1"
    assert _figure(response, "fact-oldest-operation") == "waiting 45\xa0minutes"

    assert _figure(response, "operations-failed") == "1"
    assert _figure(response, "operations-retrying") == "1"
    assert "LinkedAuthorizationFailed" in response.content.decode()
    failed_op = Operation.objects.get(status="failed")
    assert reverse("admin:jit_operation_change", args=[failed_op.pk]) in response.content.decode()

    assert board.intake.events == 3
    assert board.intake.outcomes == [("Sync queued", 2), ("Subscription not known yet", 1)]
    assert board.intake.rejections == 6  # the row of three days ago is outside the window
    assert ("Missing or wrong secret", 4) in board.intake.reasons
    (intake_hour,) = [h for h in board.intake.hours if h.hour == status.start_of_hour(hour)]
    assert (intake_hour.events, intake_hour.rejections) == (3, 6)
    assert _figure(response, "count-rejections") == "6"


def test_an_unknown_queue_depth_says_unknown(
    operator_client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(status, "queue_depth", lambda: None)
    response = operator_client.get(URL)
    assert _figure(response, "queue-depth") == "unknown"
    assert _figure(response, "fact-depth") == "unknown"
    assert _figure(response, "fact-oldest-run") == "none"


def test_an_empty_installation_renders(operator_client: Client) -> None:
    response = operator_client.get(URL)
    assert response.status_code == 200
    assert _figure(response, "count-failing") == "0"
    assert "Nothing in this window." in response.content.decode()


def test_the_charts_are_well_formed_svg_with_a_title(
    operator_client: Client, fleet: dict[str, Tenant]
) -> None:
    svgs = _svgs(operator_client.get(URL))
    assert len(svgs) == 5
    titles = [svg.find(f"{SVG}title") for svg in svgs]
    assert all(title is not None and title.text for title in titles)
    assert all(svg.get("role") == "img" and svg.get("aria-labelledby") for svg in svgs)
    durations, failures, throttled, events, rejections = svgs
    assert len(durations.findall(f"{SVG}circle")) >= 2  # a median and a longest
    assert len(failures.findall(f"{SVG}rect")) == 2  # two hours with failures
    assert len(throttled.findall(f"{SVG}rect")) == 1  # one hour with 429s
    assert len(events.findall(f"{SVG}rect")) == 1
    assert len(rejections.findall(f"{SVG}rect")) == 1
    for svg in svgs:
        assert [e for e in svg.iter() if "style" in e.attrib] == []


def test_people_who_are_not_staff_are_sent_to_the_admin_sign_in(
    client: Client, alice: User
) -> None:
    anonymous = client.get(URL)
    assert anonymous.status_code == 302
    assert anonymous["Location"].startswith(reverse("admin:login"))
    client.force_login(alice)
    signed_in = client.get(URL)
    assert signed_in.status_code == 302
    assert signed_in["Location"].startswith(reverse("admin:login"))


def test_the_admin_index_links_to_the_dashboard(operator_client: Client) -> None:
    response = operator_client.get(reverse("admin:index"))
    assert response.status_code == 200
    assert f'href="{URL}"' in response.content.decode()
    assert reverse("operations_dashboard") == URL


def test_the_page_sends_the_strict_policy(operator_client: Client) -> None:
    response = operator_client.get(URL)
    assert "'unsafe-inline'" not in response["Content-Security-Policy"]
    assert "no-store" in response["Cache-Control"]


def _many_runs(count: int, tenants: list[Tenant]) -> None:
    now = timezone.now()
    spread = dt.timedelta(days=6) / count  # all inside the window
    runs = []
    for i in range(count):
        finished = now - spread * i
        runs.append(
            SyncRun(
                tenant=tenants[i % len(tenants)],
                state=SyncRun.State.FAILED if i % 10 == 0 else SyncRun.State.SUCCEEDED,
                queued_at=finished - dt.timedelta(seconds=40 + i % 30),
                started_at=finished - dt.timedelta(seconds=30 + i % 30),
                finished_at=finished,
                error="boom" if i % 10 == 0 else "",
            )
        )
    SyncRun.objects.bulk_create(runs, batch_size=2000)


def test_the_query_count_does_not_grow_with_ten_thousand_runs(
    operator_client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenants = [make_tenant(uuid.uuid4(), f"Tenant {i:02}", Side.CUSTOMER) for i in range(40)]
    _many_runs(10, tenants)
    with CaptureQueriesContext(connection) as few:
        assert operator_client.get(URL).status_code == 200

    monkeypatch.setattr(status, "MEDIAN_SAMPLE", 2000)
    _many_runs(10_000, tenants)
    with CaptureQueriesContext(connection) as many:
        response = operator_client.get(URL)
    assert response.status_code == 200
    assert len(many) == len(few)
    board = response.context["board"]
    assert board.sync.succeeded + board.sync.failed == 10_010
    assert board.sync.sampled_every == 5  # 9,009 successes, at most 2,000 read
    medians = [h.median_seconds for h in board.sync.hours if h.median_seconds is not None]
    assert medians and all(30 <= m <= 59 for m in medians)


def test_bars_scale_to_a_round_ceiling() -> None:
    hours = status.hours_until(dt.datetime(2026, 3, 1, 12, tzinfo=dt.UTC), 4)
    chart = charts.bar_chart("t", hours, [0, 3, 0, 6], noun="things")
    assert charts.nice_ceiling(6) == 10 and charts.nice_ceiling(0) == 1
    assert [bar.height for bar in chart.bars] == [
        round((chart.bottom - chart.top) * 0.3, 1),
        round((chart.bottom - chart.top) * 0.6, 1),
    ]
    assert chart.bars[0].title == "Sun 01 Mar 10:00 UTC: 3 things"
    assert [tick.label for tick in chart.y_ticks] == ["0", "2.5", "5", "7.5", "10"]
