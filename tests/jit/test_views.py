"""JIT pages: who sees what, who may do what; another tenant's request is a 404."""

import datetime as dt
import re
from collections.abc import Iterator
from typing import Any, cast

import pytest
from django.http import StreamingHttpResponse
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from pytest_django import DjangoCaptureOnCommitCallbacks

from accounts.models import Tenant, User
from deployments.models import ManagedApplication
from jit.models import AuditEvent, JitRequest, Operation, State
from tests.jit.conftest import CONTRIBUTOR, PAT
from tests.responses import ClientResponse

pytestmark = pytest.mark.django_db


def make_request(
    app: ManagedApplication,
    pat: User,
    *,
    state: str = State.PENDING,
    name: str = "jitview1",
    **fields: Any,
) -> JitRequest:
    jit = JitRequest.objects.create(
        application=app,
        arm_id=f"{app.arm_id.rsplit('/providers/', 1)[0]}/providers/Microsoft.Solutions/jitRequests/{name}",
        name=name,
        requested_by=pat,
        requester_oid=PAT,
        requester_name="Pat Patel",
        principal_id=PAT,
        role_definition_id=CONTRIBUTOR,
        start=timezone.now(),
        duration=dt.timedelta(hours=4),
        justification="Disk alert",
        state=state,
        **fields,
    )
    AuditEvent.objects.create(
        action=AuditEvent.Action.REQUESTED,
        actor=pat,
        actor_name="Pat Patel",
        tenant=app.customer_tenant,
        application=app,
        jit_request=jit,
        reason='=HYPERLINK("http://evil")',
    )
    return jit


@pytest.fixture
def pending(monitoring: ManagedApplication, pat: User) -> JitRequest:
    return make_request(monitoring, pat)


@pytest.fixture
def active(backup: ManagedApplication, pat: User) -> JitRequest:
    return make_request(backup, pat, state=State.APPROVED, name="jitview2")


def as_(client: Client, user: User) -> Client:
    client.force_login(user)
    return client


# Requests list ----------------------------------------------------------------------------------


def test_publisher_sees_requests_across_customers_and_can_ask(
    client: Client, pat: User, pending: JitRequest, monitoring: ManagedApplication
) -> None:
    response = as_(client, pat).get(reverse("jit:requests"))
    assert response.status_code == 200
    assert pending.name in response.text
    assert reverse("jit:request_new", args=[monitoring.pk]) in response.text
    assert "Waiting for your decision" not in response.text


def test_approver_sees_the_inbox(client: Client, alice: User, pending: JitRequest) -> None:
    response = as_(client, alice).get(reverse("jit:requests"))
    assert "Waiting for your decision" in response.text
    assert reverse("jit:request_detail", args=[pending.pk]) in response.text


def test_reader_sees_requests_but_no_inbox(client: Client, bob: User, pending: JitRequest) -> None:
    response = as_(client, bob).get(reverse("jit:requests"))
    assert pending.name in response.text
    assert "Waiting for your decision" not in response.text


def test_other_customer_sees_none_of_them(
    client: Client, charlie: User, pending: JitRequest
) -> None:
    response = as_(client, charlie).get(reverse("jit:requests"))
    assert response.status_code == 200
    assert pending.name not in response.text


def test_requests_filter_by_state(
    client: Client, pat: User, pending: JitRequest, active: JitRequest
) -> None:
    response = as_(client, pat).get(reverse("jit:requests"), {"state": "Approved"})
    assert active.name in response.text
    assert pending.name not in response.text


def test_requests_filter_by_customer_name_or_tenant_id(
    client: Client,
    pat: User,
    pending: JitRequest,
    northwind_monitoring: ManagedApplication,
    fabrikam: Tenant,
    northwind: Tenant,
) -> None:
    other = make_request(northwind_monitoring, pat, name="jitnw1")
    client = as_(client, pat)
    for search in ("fabri", "FABRIKAM", str(fabrikam.entra_tenant_id)):
        page = client.get(reverse("jit:requests"), {"customer": search}).content.decode()
        assert pending.name in page and other.name not in page, search
    page = client.get(reverse("jit:requests"), {"customer": "Northwind"}).content.decode()
    assert other.name in page and pending.name not in page
    assert 'value="Northwind"' in page  # the search box keeps what was typed


def test_requests_filter_offers_a_search_box_not_a_menu_of_customers(
    client: Client, pat: User, pending: JitRequest
) -> None:
    page = as_(client, pat).get(reverse("jit:requests")).content.decode()
    assert '<input type="search" name="customer" id="id_customer"' in page
    assert '<select name="customer"' not in page
    assert '<label class="form-label small" for="id_customer">Customer</label>' in page


@pytest.mark.parametrize(("name", "value"), [("customer", "Fabrikam"), ("requester", "Pat")])
def test_requests_pages_keep_the_filter(
    client: Client, pat: User, monitoring: ManagedApplication, name: str, value: str
) -> None:
    for n in range(26):
        make_request(monitoring, pat, name=f"jitpg{n}", state=State.DENIED)
    page = as_(client, pat).get(reverse("jit:requests"), {name: value}).content.decode()
    assert f"{name}={value}&amp;page=2" in page


def test_pending_badges_link_to_the_customers_pending_requests(
    client: Client, pat: User, pending: JitRequest, fabrikam: Tenant
) -> None:
    client = as_(client, pat)
    customers = client.get(reverse("deployments:customers")).content.decode()
    link = f"{reverse('jit:requests')}?customer=%22Fabrikam%22&amp;state=Pending"
    assert link in customers
    page = client.get(link.replace("&amp;", "&")).content.decode()
    assert pending.name in page
    assert "No request matches these filters." not in page


def test_requests_need_sign_in(client: Client) -> None:
    response = client.get(reverse("jit:requests"))
    assert response.status_code == 302


# Request page and status ------------------------------------------------------------------------


def test_approver_sees_the_request_with_decision_buttons(
    client: Client, alice: User, pending: JitRequest
) -> None:
    response = as_(client, alice).get(reverse("jit:request_detail", args=[pending.pk]))
    assert response.status_code == 200
    assert "Disk alert" in response.text
    assert reverse("jit:decide", args=[pending.pk]) in response.text


def test_reader_sees_the_request_without_buttons(
    client: Client, bob: User, pending: JitRequest
) -> None:
    response = as_(client, bob).get(reverse("jit:request_detail", args=[pending.pk]))
    assert response.status_code == 200
    assert reverse("jit:decide", args=[pending.pk]) not in response.text


def test_publisher_sees_cancel_but_not_decide(
    client: Client, pat: User, pending: JitRequest
) -> None:
    response = as_(client, pat).get(reverse("jit:request_detail", args=[pending.pk]))
    assert reverse("jit:cancel", args=[pending.pk]) in response.text
    assert reverse("jit:decide", args=[pending.pk]) not in response.text


def test_other_tenant_gets_404_for_the_request(
    client: Client, charlie: User, pending: JitRequest
) -> None:
    for name in ("jit:request_detail", "jit:request_status"):
        assert as_(client, charlie).get(reverse(name, args=[pending.pk])).status_code == 404


def test_status_fragment_polls_while_submitting(
    client: Client, alice: User, pending: JitRequest
) -> None:
    Operation.objects.create(
        kind="decide", jit_request=pending, application=pending.application, by=alice
    )
    response = as_(client, alice).get(reverse("jit:request_status", args=[pending.pk]))
    assert response.status_code == 200
    assert 'id="request_status"' in response.text
    assert 'hx-trigger="every 1s"' in response.text
    assert "submitting to Azure" in response.text


def test_status_fragment_for_a_reader(client: Client, bob: User, pending: JitRequest) -> None:
    response = as_(client, bob).get(reverse("jit:request_status", args=[pending.pk]))
    assert response.status_code == 200
    assert "Approve" not in response.text


# Decide, cancel, revoke -------------------------------------------------------------------------


def test_approver_records_a_decision_and_azure_is_watched_for_it(
    client: Client,
    alice: User,
    pending: JitRequest,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    with django_capture_on_commit_callbacks() as callbacks:
        response = as_(client, alice).post(
            reverse("jit:decide", args=[pending.pk]),
            {"decision": "approve", "justification": "Planned"},
            headers={"HX-Request": "true"},
        )
    assert response.status_code == 200
    assert "Azure has not confirmed it yet" in response.text
    assert "Open in Azure" in response.text
    pending.refresh_from_db()
    assert (pending.handoff_decision, pending.handoff_reason) == ("approve", "Planned")
    assert pending.state == "Pending"  # only Azure decides
    assert not Operation.objects.exists()
    assert len(callbacks) == 1  # the watch task


def test_decision_without_a_reason_is_refused(
    client: Client, alice: User, pending: JitRequest
) -> None:
    response = as_(client, alice).post(
        reverse("jit:decide", args=[pending.pk]), {"decision": "deny", "justification": ""}
    )
    assert response.status_code == 400
    assert "Give a reason" in response.text
    assert not Operation.objects.exists()


def test_reader_cannot_decide(client: Client, bob: User, pending: JitRequest) -> None:
    response = as_(client, bob).post(
        reverse("jit:decide", args=[pending.pk]), {"decision": "approve", "justification": "x"}
    )
    assert response.status_code == 403
    assert not Operation.objects.exists()


def test_other_tenant_cannot_decide(client: Client, charlie: User, pending: JitRequest) -> None:
    response = as_(client, charlie).post(
        reverse("jit:decide", args=[pending.pk]), {"decision": "approve", "justification": "x"}
    )
    assert response.status_code == 404


def test_deciding_needs_post(client: Client, alice: User, pending: JitRequest) -> None:
    assert as_(client, alice).get(reverse("jit:decide", args=[pending.pk])).status_code == 405


def test_a_decided_request_cannot_be_decided_again(
    client: Client, alice: User, pending: JitRequest
) -> None:
    JitRequest.objects.filter(pk=pending.pk).update(state=State.DENIED)
    response = as_(client, alice).post(
        reverse("jit:decide", args=[pending.pk]), {"decision": "approve", "justification": "x"}
    )
    assert response.status_code == 403


def test_publisher_cancels(client: Client, pat: User, pending: JitRequest) -> None:
    response = as_(client, pat).post(reverse("jit:cancel", args=[pending.pk]))
    assert response.status_code == 302
    assert Operation.objects.get().kind == "cancel"


def test_customer_cannot_cancel_a_publisher_request(
    client: Client, bob: User, pending: JitRequest
) -> None:
    assert as_(client, bob).post(reverse("jit:cancel", args=[pending.pk])).status_code == 403


def test_other_tenant_cannot_cancel(client: Client, charlie: User, pending: JitRequest) -> None:
    assert as_(client, charlie).post(reverse("jit:cancel", args=[pending.pk])).status_code == 404


def test_admin_revokes_an_active_grant(client: Client, alice: User, active: JitRequest) -> None:
    response = as_(client, alice).post(reverse("jit:revoke", args=[active.pk]), {"reason": "Done"})
    assert response.status_code == 302
    assert Operation.objects.get().kind == "revoke"


def test_an_overlong_revoke_reason_is_refused_not_dropped(
    client: Client, alice: User, active: JitRequest
) -> None:
    url = reverse("jit:revoke", args=[active.pk])
    response = as_(client, alice).post(url, {"reason": "x" * 1001}, HTTP_HX_REQUEST="true")
    assert response.status_code == 400
    assert "Not revoked" in response.text and "at most 1000 characters" in response.text
    assert not Operation.objects.exists()


def test_reader_cannot_revoke(client: Client, bob: User, active: JitRequest) -> None:
    assert as_(client, bob).post(reverse("jit:revoke", args=[active.pk])).status_code == 403


def test_other_tenant_cannot_revoke(client: Client, charlie: User, active: JitRequest) -> None:
    assert as_(client, charlie).post(reverse("jit:revoke", args=[active.pk])).status_code == 404


# Publisher's request form -----------------------------------------------------------------------


def test_publisher_requests_elevation(
    client: Client,
    pat: User,
    monitoring: ManagedApplication,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    url = reverse("jit:request_new", args=[monitoring.pk])
    page = as_(client, pat).get(url)
    assert page.status_code == 200
    assert "Contributor" in page.text
    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(
            url,
            {"role": CONTRIBUTOR, "start_now": "1", "hours": "4", "justification": "Patch"},
        )
    jit = JitRequest.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("jit:request_detail", args=[jit.pk])
    assert (jit.state, jit.duration, jit.requested_by) == (
        State.SUBMITTING,
        dt.timedelta(hours=4),
        pat,
    )
    assert len(callbacks) == 1


def test_request_form_refuses_more_than_the_policy_maximum(
    client: Client, pat: User, backup: ManagedApplication
) -> None:
    response = as_(client, pat).post(
        reverse("jit:request_new", args=[backup.pk]),
        {"role": CONTRIBUTOR, "start_now": "1", "hours": "8", "justification": "Patch"},
    )
    assert response.status_code == 200
    assert "is-invalid" in response.text
    assert not JitRequest.objects.exists()


def test_request_form_needs_a_future_start_when_later(
    client: Client, pat: User, monitoring: ManagedApplication
) -> None:
    response = as_(client, pat).post(
        reverse("jit:request_new", args=[monitoring.pk]),
        {"role": CONTRIBUTOR, "start_now": "0", "hours": "2", "justification": "Patch"},
    )
    assert "Pick when the access should start" in response.text


def test_customers_cannot_request_elevation(
    client: Client, alice: User, bob: User, monitoring: ManagedApplication
) -> None:
    for person in (alice, bob):
        response = as_(client, person).get(reverse("jit:request_new", args=[monitoring.pk]))
        assert response.status_code == 404


def test_other_tenant_cannot_open_the_request_form(
    client: Client, charlie: User, monitoring: ManagedApplication
) -> None:
    response = as_(client, charlie).get(reverse("jit:request_new", args=[monitoring.pk]))
    assert response.status_code == 404


# Policy editor ----------------------------------------------------------------------------------


def test_admin_changes_the_policy(
    client: Client,
    alice: User,
    monitoring: ManagedApplication,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    url = reverse("jit:policy", args=[monitoring.pk])
    assert "Save to Azure" in as_(client, alice).get(url).text
    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(
            url,
            {
                "approval_mode": "ManualApprove",
                "approvers": [str(alice.entra_object_id)],
                "maximum_hours": "4",
                "reason": "Tighter window",
            },
        )
    assert response.status_code == 302
    operation = Operation.objects.get(kind="policy")
    assert operation.payload["maximum_duration"] == 4 * 3600
    assert len(callbacks) == 1
    event = AuditEvent.objects.get(action=AuditEvent.Action.POLICY_CHANGE_REQUESTED)
    assert event.before["maximum_duration"] == 8 * 3600 and event.reason == "Tighter window"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"approval_mode": "ManualApprove", "maximum_hours": "4"}, "at least one approver"),
        ({"approval_mode": "AutoApprove", "maximum_hours": "30"}, "less than or equal to 24"),
        (
            {"approval_mode": "AutoApprove", "maximum_hours": "2", "extra_approver_id": "nope"},
            "valid UUID",
        ),
        (
            {
                "approval_mode": "AutoApprove",
                "maximum_hours": "2",
                "extra_approver_id": "8e0ac5f6-0e58-4118-a66b-9e89f5ee44f4",
            },
            "a name people recognise",
        ),
    ],
)
def test_policy_validation_errors(
    client: Client, alice: User, monitoring: ManagedApplication, data: dict[str, str], message: str
) -> None:
    response = as_(client, alice).post(reverse("jit:policy", args=[monitoring.pk]), data)
    assert response.status_code == 200
    assert message in response.text
    assert not Operation.objects.exists()


def test_reader_sees_the_policy_but_cannot_change_it(
    client: Client, bob: User, monitoring: ManagedApplication
) -> None:
    url = reverse("jit:policy", args=[monitoring.pk])
    page = as_(client, bob).get(url)
    assert page.status_code == 200
    assert "Save to Azure" not in page.text
    response = client.post(url, {"approval_mode": "AutoApprove", "maximum_hours": "2"})
    assert response.status_code == 403
    assert not Operation.objects.exists()


def test_publisher_and_other_tenant_get_404_for_the_policy(
    client: Client, pat: User, charlie: User, monitoring: ManagedApplication
) -> None:
    for person in (pat, charlie):
        response = as_(client, person).get(reverse("jit:policy", args=[monitoring.pk]))
        assert response.status_code == 404


def test_policy_page_explains_jit_cannot_be_switched_on(
    client: Client, alice: User, monitoring: ManagedApplication
) -> None:
    ManagedApplication.objects.filter(pk=monitoring.pk).update(jit_enabled=False)
    response = as_(client, alice).get(reverse("jit:policy", args=[monitoring.pk]))
    assert "cannot switch it on now" in response.text
    assert "Save to Azure" not in response.text


# Audit trail ------------------------------------------------------------------------------------


def test_customer_reads_the_audit_trail(client: Client, bob: User, pending: JitRequest) -> None:
    response = as_(client, bob).get(reverse("jit:audit"))
    assert response.status_code == 200
    assert "Elevation requested" in response.text
    assert pending.name in response.text


def test_audit_filters_by_application_name(
    client: Client, alice: User, pending: JitRequest, backup: ManagedApplication
) -> None:
    response = as_(client, alice).get(reverse("jit:audit"), {"application": "backup"})
    assert pending.name not in response.text
    assert "No event matches these filters." in response.text
    response = as_(client, alice).get(reverse("jit:audit"), {"application": "Monitoring"})
    assert pending.name in response.text


def test_audit_filters_by_customer_name(
    client: Client, pat: User, pending: JitRequest, northwind_monitoring: ManagedApplication
) -> None:
    other = make_request(northwind_monitoring, pat, name="jitnw2")
    response = as_(client, pat).get(reverse("jit:audit"), {"tenant": "northwind"})
    assert other.name in response.text and pending.name not in response.text
    assert '<input type="search" name="tenant" id="id_tenant"' in response.text
    assert '<select name="tenant"' not in response.text


def test_other_tenant_reads_none_of_the_audit_trail(
    client: Client, charlie: User, pending: JitRequest
) -> None:
    response = as_(client, charlie).get(reverse("jit:audit"))
    assert pending.name not in response.text


def streamed(response: ClientResponse) -> bytes:
    """The body of a streaming answer: the test client passes on the view's
    StreamingHttpResponse, though its type says HttpResponse."""
    content = cast(StreamingHttpResponse, response).streaming_content
    assert isinstance(content, Iterator)
    return b"".join(content)


def test_audit_csv_export(client: Client, alice: User, pending: JitRequest) -> None:
    response = as_(client, alice).get(reverse("jit:audit_csv"))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    body = streamed(response).decode()
    header, row, *_ = body.splitlines()
    assert header.startswith("time (UTC),event,who,customer,application,request,reason")
    assert "Elevation requested,Pat Patel,Fabrikam,fabrikam-monitoring,jitview1" in row
    assert "'=HYPERLINK" in row  # a formula in a reason stays text in a spreadsheet


def test_other_tenant_csv_has_only_the_header(
    client: Client, charlie: User, pending: JitRequest
) -> None:
    response = as_(client, charlie).get(reverse("jit:audit_csv"))
    assert len(streamed(response).decode().splitlines()) == 1


def test_an_empty_requests_list_says_what_comes_next(
    client: Client, pat: User, bob: User, monitoring: ManagedApplication
) -> None:
    page = as_(client, pat).get(reverse("jit:requests")).content.decode()
    assert "No just-in-time requests yet." in page
    assert "Request elevation" in page
    page = as_(client, bob).get(reverse("jit:requests"), {"state": "Denied"}).content.decode()
    assert "No request matches these filters." in page


def test_the_request_menu_lists_apps_by_customer_then_name(
    client: Client,
    pat: User,
    monitoring: ManagedApplication,
    backup: ManagedApplication,
    northwind_monitoring: ManagedApplication,
) -> None:
    page = as_(client, pat).get(reverse("jit:requests")).content.decode()
    menu = page.split('<ul class="dropdown-menu dropdown-menu-end">', 1)[1].split("</ul>", 1)[0]
    names = re.findall(r'class="dropdown-item"[^>]*>([^<]+) <', menu)
    assert names == ["fabrikam-backup", "fabrikam-monitoring", "northwind-monitoring"]


def test_a_large_fleet_is_reached_through_customers_not_a_menu_of_every_app(
    client: Client, pat: User, northwind: Tenant
) -> None:
    from tests.deployments.conftest import make_app, make_offer

    offer = make_offer(pat.memberships.get().tenant)
    for n in range(16):
        make_app(northwind, offer, f"app-{n}", jit_enabled=True)
    client.force_login(pat)
    page = client.get(reverse("jit:requests")).content.decode()
    assert f'href="{reverse("deployments:customers")}"' in page
    assert "Request elevation…" in page
    assert "dropdown-item" not in page.split("Request elevation…")[0].rsplit("<div", 1)[-1]
