"""Batch decisions: several pending requests of one publisher decided in one step, each audited on
its own through the single decision's service, all or nothing."""

import datetime as dt
import uuid
from collections.abc import Callable

import pytest
from django.test import Client
from django.urls import reverse
from pytest_django import DjangoCaptureOnCommitCallbacks, Settings

from accounts.models import Side, Tenant, User
from deployments.models import ManagedApplication, Offer
from emulator.server import EmulatorServer
from jit import batch, tasks
from jit.batch import MAX_BATCH, BatchRefused
from jit.models import AuditEvent, JitRequest, Operation, State
from tests.conftest import make_tenant
from tests.jit import test_services
from tests.jit.conftest import FABRIKAM_SUB, _app
from tests.jit.test_services import (
    _arm,
    arm_writes,
    decided_in_azure,
    only_operation,
    request_as,
    submit,
)
from tests.jit.test_views import as_, make_request

pytestmark = pytest.mark.django_db

pim = test_services.pim

DECIDED = AuditEvent.Action.DECIDED


def nothing_written() -> bool:
    """No decision of any kind is left behind: no recorded hand-off, no operation, no event."""
    return (
        not JitRequest.objects.exclude(handoff_decision="").exists()
        and not Operation.objects.filter(kind=Operation.Kind.DECIDE).exists()
        and not AuditEvent.objects.filter(
            action__in=[DECIDED, AuditEvent.Action.SELF_ADDED_APPROVER]
        ).exists()
    )


def ids(*jits: JitRequest) -> list[str]:
    return [str(jit.pk) for jit in jits]


@pytest.fixture
def three_pending(
    signed_in: Callable[[User], User], pat: User, alice: User, monitoring: ManagedApplication
) -> list[JitRequest]:
    """Three requests Pat filed through the portal, accepted by the emulator and pending."""
    signed_in(pat)
    signed_in(alice)
    jits = []
    for hours in (1, 2, 4):
        jit = request_as(pat, monitoring, hours=hours)
        submit(only_operation(jit, "create"))
        jit.refresh_from_db()
        assert jit.state == State.PENDING
        jits.append(jit)
    return jits


@pytest.fixture
def other_publisher_app(fabrikam: Tenant) -> ManagedApplication:
    """A Fabrikam application sold by another publisher, alice its approver as well."""
    tailwind = make_tenant(uuid.uuid4(), "Tailwind Apps", Side.PUBLISHER)
    offer = Offer.objects.create(
        key="plan:tailwind/tw-backup/jit/1.0.0",
        kind="MarketPlace",
        publisher_tenant=tailwind,
        display_name="Tailwind Backup",
        jit_offered=True,
    )
    return _app(
        fabrikam, offer, FABRIKAM_SUB, "rg-tw", "fabrikam-tw-backup", "ManualApprove", [], 8,
        "westeurope",
    )  # fmt: skip


# The hand-off channel (the default) --------------------------------------------------------------


def test_a_batch_records_each_decision_on_its_own_and_azure_confirms_each(
    three_pending: list[JitRequest],
    alice: User,
    azure: EmulatorServer,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    before = len(azure.state.requests_log)
    with django_capture_on_commit_callbacks() as callbacks:
        outcome = batch.jit_requests_decide(
            ids=ids(*three_pending), by=alice, approve=True, justification="After INC-7"
        )

    assert [j.pk for j in outcome.decided] == [j.pk for j in three_pending]
    assert outcome.operations == []  # nothing queued for ARM: Azure decides in its portal
    assert arm_writes(azure, before) == []
    assert len(callbacks) == 3  # one watch of ARM per request
    for jit in three_pending:
        jit.refresh_from_db()
        assert (jit.state, jit.handoff_decision, jit.handoff_reason) == (
            State.PENDING,
            "approve",
            "After INC-7",
        )
        (event,) = jit.audit_events.filter(action=DECIDED)
        assert (event.actor, event.reason) == (alice, "After INC-7")
        assert event.after == {
            "decision": "approve",
            "channel": "handoff",
            "confirmed_by_azure": False,
        }

    for jit in three_pending:
        decided_in_azure(azure, jit, by=str(alice.entra_object_id))
        tasks.watch_request(str(jit.pk))
    for jit in three_pending:
        jit.refresh_from_db()
        assert jit.state == State.APPROVED
        assert jit.audit_events.filter(action=AuditEvent.Action.APPROVED).count() == 1


def test_the_handoff_steps_name_each_application_once(
    alice: User, pat: User, monitoring: ManagedApplication, azure: EmulatorServer
) -> None:
    assert monitoring.offer is not None
    second_app = _app(
        monitoring.customer_tenant, monitoring.offer, FABRIKAM_SUB, "rg-logs", "fabrikam-logs",
        "ManualApprove", [], 8, "westeurope",
    )  # fmt: skip
    first, second = (
        make_request(monitoring, pat, name="jitb1"),
        make_request(monitoring, pat, name="jitb2"),
    )
    third = make_request(second_app, pat, name="jitb3")

    steps = batch.handoff_steps([third, second, first])

    assert [s.application.name for s in steps] == ["fabrikam-logs", "fabrikam-monitoring"]
    assert [[j.name for j, _ in s.requests] for s in steps] == [["jitb3"], ["jitb1", "jitb2"]]
    assert all(s.one_link for s in steps)  # the application's JIT Access page, once
    assert "%2Fapplications%2Ffabrikam-logs" in steps[0].url


# The PIM channel ---------------------------------------------------------------------------------


def test_pim_channel_queues_one_decision_per_request_and_azure_applies_each(
    pim: None,
    three_pending: list[JitRequest],
    alice: User,
    azure: EmulatorServer,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    with django_capture_on_commit_callbacks(execute=True):  # the worker, eagerly
        outcome = batch.jit_requests_decide(
            ids=ids(*three_pending[:2]), by=alice, approve=True, justification="Planned"
        )

    assert len(outcome.operations) == 2
    for jit in three_pending[:2]:
        jit.refresh_from_db()
        (operation,) = jit.operations.filter(kind=Operation.Kind.DECIDE)
        assert operation.status == Operation.Status.DONE
        assert operation.payload == {"approve": True, "justification": "Planned"}
        assert jit.state == State.APPROVED
        assert _arm(azure, jit).state == "Approved"
        assert jit.audit_events.filter(action=DECIDED).count() == 1
        assert jit.audit_events.filter(action=AuditEvent.Action.APPROVED).count() == 1
    third = three_pending[2]
    assert _arm(azure, third).state == "Pending"
    assert not third.operations.filter(kind=Operation.Kind.DECIDE).exists()


def test_a_refusal_midway_leaves_nothing_half_written(
    pim: None,
    three_pending: list[JitRequest],
    alice: User,
    pat: User,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    """The last request (in the batch's writing order) already has a decision on its way: the
    others were written first in the transaction, and are undone with it."""
    last = max(three_pending, key=lambda j: str(j.pk))
    Operation.objects.create(
        kind=Operation.Kind.DECIDE, jit_request=last, application=last.application, by=alice
    )
    events = AuditEvent.objects.count()

    with django_capture_on_commit_callbacks() as callbacks, pytest.raises(BatchRefused) as refused:
        batch.jit_requests_decide(
            ids=ids(*three_pending), by=alice, approve=True, justification="ok"
        )

    assert refused.value.problems == [
        f"{last.name}: Alice Archer's decision of this request is already on its way to Azure."
    ]
    assert callbacks == []  # nothing queued either
    assert AuditEvent.objects.count() == events
    assert Operation.objects.filter(kind=Operation.Kind.DECIDE).count() == 1


# Who may decide what -----------------------------------------------------------------------------


def test_a_request_that_is_not_decidable_refuses_the_whole_batch_by_name(
    alice: User, pat: User, charlie: User, monitoring: ManagedApplication,
    northwind_monitoring: ManagedApplication,
) -> None:  # fmt: skip
    fine = make_request(monitoring, pat, name="jitok1")
    decided = make_request(monitoring, pat, name="jitdone1", state=State.DENIED)
    own = make_request(monitoring, pat, name="jitown1")
    JitRequest.objects.filter(pk=own.pk).update(requested_by=alice)
    elsewhere = make_request(northwind_monitoring, pat, name="jitnw1")

    with pytest.raises(BatchRefused) as refused:
        batch.jit_requests_decide(
            ids=ids(fine, decided, own, elsewhere), by=alice, approve=True, justification="ok"
        )

    assert refused.value.problems == [
        "jitdone1 is no longer waiting for a decision (Denied).",
        "jitown1 is your own request: someone else has to decide it.",
        f"'{elsewhere.pk}' is not a request you can decide.",  # another tenant's: no name
    ]
    assert nothing_written()


def test_an_admin_who_is_not_an_approver_is_refused(
    carol: User, pat: User, monitoring: ManagedApplication
) -> None:
    jit = make_request(monitoring, pat, name="jitc1")
    with pytest.raises(BatchRefused) as refused:
        batch.jit_requests_decide(ids=ids(jit), by=carol, approve=True, justification="ok")
    assert refused.value.problems == [
        "jitc1: you are not one of the approvers of fabrikam-monitoring."
    ]
    assert nothing_written()


def test_requests_of_several_publishers_are_refused(
    alice: User, pat: User, monitoring: ManagedApplication, other_publisher_app: ManagedApplication
) -> None:
    contoso = make_request(monitoring, pat, name="jitp1")
    tailwind = make_request(other_publisher_app, pat, name="jitp2")

    with pytest.raises(BatchRefused) as refused:
        batch.jit_requests_decide(
            ids=ids(contoso, tailwind), by=alice, approve=False, justification="No"
        )

    assert refused.value.problems == [
        "These requests come from several publishers (Contoso Software, Tailwind Apps): decide "
        "one publisher's requests at a time."
    ]
    assert nothing_written()


@pytest.mark.parametrize(
    ("posted", "problem"),
    [
        ([], "Select at least one request."),
        (["nope"], "'nope' is not a request id."),
        (["x" * 500], f"'{'x' * 40}…' is not a request id."),
        (
            [str(uuid.UUID(int=1))] * (MAX_BATCH + 1),
            f"At most {MAX_BATCH} requests can be decided in one step; 51 were selected.",
        ),
    ],
    ids=["none", "not an id", "a long value", "too many"],
)
def test_what_is_not_a_selection_is_refused(alice: User, posted: list[str], problem: str) -> None:
    with pytest.raises(BatchRefused) as refused:
        batch.jit_requests_decide(ids=posted, by=alice, approve=True, justification="ok")
    assert refused.value.problems == [problem]


def test_a_request_selected_twice_is_refused(
    alice: User, pat: User, monitoring: ManagedApplication
) -> None:
    jit = make_request(monitoring, pat, name="jitdup1")
    with pytest.raises(BatchRefused) as refused:
        batch.jit_requests_decide(
            ids=[str(jit.pk), str(jit.pk).upper()], by=alice, approve=True, justification="ok"
        )
    assert refused.value.problems == [f"'{str(jit.pk).upper()}' was selected twice."]
    assert nothing_written()


def test_a_batch_needs_a_reason(alice: User, pat: User, monitoring: ManagedApplication) -> None:
    jit = make_request(monitoring, pat, name="jitr1")
    with pytest.raises(BatchRefused) as refused:
        batch.jit_requests_decide(ids=ids(jit), by=alice, approve=True, justification="  ")
    assert refused.value.problems == ["jitr1: Give a reason: Azure records it with the decision."]
    assert nothing_written()


# The pages ---------------------------------------------------------------------------------------


@pytest.fixture
def two_pending(monitoring: ManagedApplication, pat: User) -> list[JitRequest]:
    return [
        make_request(monitoring, pat, name="jitv1"),
        make_request(monitoring, pat, name="jitv2"),
    ]


def test_the_inbox_offers_checkboxes_by_publisher_with_each_requests_warnings(
    client: Client, alice: User, two_pending: list[JitRequest]
) -> None:
    page = as_(client, alice).get(reverse("jit:requests")).content.decode()

    assert f'action="{reverse("jit:decide_batch")}"' in page
    assert 'method="post"' in page and "csrfmiddlewaretoken" in page
    assert page.count("<fieldset") == 1
    assert "From Contoso Software" in page
    for jit in two_pending:
        assert f'value="{jit.pk}" id="batch-{jit.pk}"' in page
        assert f'<label class="form-check-label" for="batch-{jit.pk}">' in page
        assert reverse("jit:request_detail", args=[jit.pk]) in page
    assert (
        "asks for <strong>Contributor</strong> on fabrikam-monitoring for <strong>4 h</strong>"
        in page
    )
    assert f'hx-get="{reverse("jit:inbox_warnings")}" hx-trigger="load"' in page
    assert "Approve selected" in page and "Deny selected" in page
    assert "<script>" not in page


def test_the_inbox_warnings_arrive_in_each_row(
    client: Client, alice: User, two_pending: list[JitRequest]
) -> None:
    fragment = as_(client, alice).get(reverse("jit:inbox_warnings")).content.decode()
    for jit in two_pending:
        assert f'<div id="warnings-{jit.pk}" hx-swap-oob="true"' in fragment
    assert "Contributor: role not read yet" in fragment  # each warning, in short
    assert "First request by this person" in fragment


def test_reader_and_publisher_see_no_batch_form(
    client: Client, bob: User, pat: User, two_pending: list[JitRequest]
) -> None:
    for person in (bob, pat):
        page = as_(client, person).get(reverse("jit:requests")).content.decode()
        assert reverse("jit:decide_batch") not in page
        fragment = client.get(reverse("jit:inbox_warnings")).content.decode()
        assert "warnings-" not in fragment


def test_approver_decides_two_requests_in_one_step_and_sees_what_to_click_in_azure(
    client: Client, alice: User, two_pending: list[JitRequest], settings: Settings
) -> None:
    settings.AZURE_PORTAL_JIT_URL = "https://portal.azure.test/jit?app={application_id_quoted}"
    response = as_(client, alice).post(
        reverse("jit:decide_batch"),
        {"requests": ids(*two_pending), "decision": "approve", "justification": "After INC-7"},
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("jit:batch_done")
    for jit in two_pending:
        assert jit.audit_events.filter(action=DECIDED, actor=alice).count() == 1

    page = client.get(reverse("jit:batch_done")).content.decode()
    assert "2 approvals recorded" in page
    assert "Now make these decisions in Azure" in page
    assert page.count("https://portal.azure.test/jit?app=") == 1  # one link per application
    assert "Approve <strong>jitv1</strong>" in page and "Approve <strong>jitv2</strong>" in page
    assert 'hx-trigger="every 3s"' in page  # follows Azure until it confirms


def test_a_refused_batch_re_renders_the_list_naming_each_problem_and_keeps_the_selection(
    client: Client, alice: User, two_pending: list[JitRequest]
) -> None:
    JitRequest.objects.filter(pk=two_pending[1].pk).update(state=State.APPROVED)
    response = as_(client, alice).post(
        reverse("jit:decide_batch"),
        {"requests": [*ids(*two_pending), "junk"], "decision": "approve", "justification": "ok"},
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert "Nothing was recorded" in page
    assert "jitv2 is no longer waiting for a decision (Approved)." in page
    assert "&#x27;junk&#x27; is not a request id." in page
    assert f'value="{two_pending[0].pk}" id="batch-{two_pending[0].pk}" checked' in page
    assert ">ok</textarea>" in page
    assert nothing_written()


def test_a_batch_without_a_reason_or_decision_says_so_and_names_the_selection_problems(
    client: Client, alice: User, two_pending: list[JitRequest]
) -> None:
    response = as_(client, alice).post(
        reverse("jit:decide_batch"), {"requests": ["junk"], "decision": "maybe"}
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert "Give a reason" in page
    assert "Choose Approve selected or Deny selected." in page
    assert "&#x27;junk&#x27; is not a request id." in page
    assert nothing_written()


def test_reader_cannot_decide_a_batch(
    client: Client, bob: User, two_pending: list[JitRequest]
) -> None:
    response = as_(client, bob).post(
        reverse("jit:decide_batch"),
        {"requests": ids(*two_pending), "decision": "approve", "justification": "x"},
    )
    assert response.status_code == 400
    assert "you are not one of the approvers" in response.content.decode()
    assert nothing_written()


def test_other_tenant_cannot_decide_a_batch_and_learns_no_names(
    client: Client, charlie: User, two_pending: list[JitRequest]
) -> None:
    response = as_(client, charlie).post(
        reverse("jit:decide_batch"),
        {"requests": ids(*two_pending), "decision": "approve", "justification": "x"},
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert f"&#x27;{two_pending[0].pk}&#x27; is not a request you can decide." in page
    assert "jitv1" not in page and "fabrikam-monitoring" not in page
    assert nothing_written()


def test_a_batch_needs_post_and_a_recent_sign_in(
    client: Client, alice: User, two_pending: list[JitRequest], settings: Settings
) -> None:
    client = as_(client, alice)
    assert client.get(reverse("jit:decide_batch")).status_code == 405

    settings.REAUTHENTICATE_AFTER_SECONDS = 600
    User.objects.filter(pk=alice.pk).update(last_login=dt.datetime(2020, 1, 1, tzinfo=dt.UTC))
    response = client.post(
        reverse("jit:decide_batch"),
        {"requests": ids(*two_pending), "decision": "approve", "justification": "x"},
    )
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))
    assert nothing_written()


def test_the_summary_without_a_batch_points_back_to_the_list(
    client: Client, alice: User, bob: User, charlie: User
) -> None:
    for person in (alice, bob, charlie):
        response = as_(client, person).get(reverse("jit:batch_done"))
        assert response.status_code == 200
        assert "No decisions to show" in response.content.decode()


def test_the_summary_shows_only_what_the_person_may_see(
    client: Client, alice: User, charlie: User, two_pending: list[JitRequest]
) -> None:
    """A summary is read back through the viewer's scope, whatever the session holds."""
    client = as_(client, charlie)
    session = client.session
    session["jit_last_batch"] = {"ids": ids(*two_pending), "approve": True, "reason": "x", "at": ""}
    session.save()
    page = client.get(reverse("jit:batch_done")).content.decode()
    assert "jitv1" not in page and "No decisions to show" in page


def test_the_list_names_the_limit_when_more_wait_than_one_batch_holds(
    client: Client, alice: User, pat: User, monitoring: ManagedApplication, settings: Settings
) -> None:
    for n in range(3):
        make_request(monitoring, pat, name=f"jitmany{n}")
    groups, total = batch.inbox_groups(alice, limit=2, warnings=True)
    assert total == 3
    assert sum(len(g.rows) for g in groups) == 2
    page = as_(client, alice).get(reverse("jit:requests")).content.decode()
    assert page.count('name="requests"') == 3


def test_on_the_pim_channel_the_summary_follows_each_submission(
    client: Client, alice: User, fabrikam: Tenant, two_pending: list[JitRequest]
) -> None:
    fabrikam.approval_channel = Tenant.ApprovalChannel.PIM
    fabrikam.save()
    response = as_(client, alice).post(
        reverse("jit:decide_batch"),
        {"requests": ids(*two_pending), "decision": "deny", "justification": "Not now"},
    )
    assert response.status_code == 302
    assert Operation.objects.filter(kind=Operation.Kind.DECIDE).count() == 2

    page = client.get(reverse("jit:batch_done")).content.decode()
    assert "2 denials recorded" in page
    assert page.count("submitting to Azure…") == 2
    assert "Now make" not in page  # Azure is told by the portal: nothing to click there
    fragment = client.get(reverse("jit:batch_done"), headers={"HX-Request": "true"})
    assert fragment.content.decode().startswith('<div id="batch_status"')


def test_a_post_with_thousands_of_ids_is_refused_before_anything_is_read(
    client: Client, alice: User, two_pending: list[JitRequest]
) -> None:
    response = as_(client, alice).post(
        reverse("jit:decide_batch"),
        {"requests": [str(two_pending[0].pk)] * 5000, "decision": "approve", "justification": "x"},
    )
    assert response.status_code == 400  # Django's own limit on the number of fields
    assert nothing_written()
