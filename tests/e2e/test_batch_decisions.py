"""A customer admin approves two pending requests of one publisher in one step, with one reason,
in a real browser: the portal records each decision on its own, lists what to click in "the
Azure portal" (the emulator's stand-in), and shows each outcome once ARM confirms it."""

import re

from playwright.sync_api import Page, expect

from accounts.models import Tenant
from emulator.server import EmulatorServer
from jit import tasks
from jit.models import AuditEvent, JitRequest, Operation, State
from tests.e2e.conftest import assert_accessible, emulator_act, screenshot, sign_in
from tests.e2e.test_customer_admin import ALICE, _second_pending_request

REASON = "INC-7: both are needed to restore the monitoring agents"


def test_customer_admin_approves_two_requests_in_one_step(
    demo: dict[str, Tenant], azure: EmulatorServer, page: Page
) -> None:
    second = _second_pending_request(azure, demo)
    first = JitRequest.objects.get(name="jitpend1")
    sign_in(page, "Alice Archer")
    page.get_by_role("navigation").get_by_role("link", name="Requests").click()

    inbox = page.get_by_role("region", name="Waiting for your decision")
    contoso = inbox.get_by_role("group", name=re.compile("From Contoso Software"))
    boxes = contoso.get_by_role("checkbox")
    expect(boxes).to_have_count(2)
    expect(contoso.get_by_text("Look closer").first).to_be_visible()  # the warnings, in short
    assert_accessible(page, "the inbox with its checkboxes")
    screenshot(page, "admin-batch-inbox")

    boxes.nth(0).check()
    boxes.nth(1).check()
    page.get_by_role("button", name="Approve selected").click()  # no reason given
    problems = inbox.get_by_role("alert")
    expect(problems).to_contain_text("Nothing was recorded")
    expect(problems).to_contain_text("Give a reason")
    expect(boxes.nth(0)).to_be_checked()  # the selection is kept
    expect(boxes.nth(1)).to_be_checked()
    expect(contoso.get_by_text("Look closer").first).to_be_visible()  # reloaded with the page
    screenshot(page, "admin-batch-refused")
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.DECIDED).exists()

    page.get_by_label("Reason for these decisions").fill(REASON)
    page.get_by_role("button", name="Approve selected").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("2 approvals recorded")
    steps = page.get_by_role("region", name="Now make these decisions in Azure")
    expect(steps).to_contain_text("fabrikam-monitoring")
    expect(steps).to_contain_text("Approve jitpend1")
    expect(steps).to_contain_text("Approve jitpend2")
    expect(steps.get_by_role("link", name="Open fabrikam-monitoring in Azure")).to_have_count(1)
    assert_accessible(page, "the batch summary")
    screenshot(page, "admin-batch-summary")

    # Each decision went into the trail on its own; nothing was sent to ARM.
    for jit in (first, second):
        (event,) = jit.audit_events.filter(action=AuditEvent.Action.DECIDED)
        assert event.reason == REASON and event.after["decision"] == "approve"
    assert not Operation.objects.filter(kind="decide").exists()

    # The blade lists both requests; Alice approves them there.
    with page.context.expect_page() as opened:
        steps.get_by_role("link", name="Open fabrikam-monitoring in Azure").click()
    blade = opened.value
    expect(blade.get_by_text("jitpend1", exact=True)).to_be_visible()
    expect(blade.get_by_text("jitpend2", exact=True)).to_be_visible()
    blade.close()
    for jit in (first, second):
        emulator_act(
            azure,
            "decide",
            {
                "as": ALICE,
                "jit_request_id": jit.arm_id,
                "decision": "Approve",
                "justification": REASON,
            },
        )
        tasks.watch_request(str(jit.pk))  # what the worker does while Azure decides

    # The summary follows Azure by itself.
    decisions = page.get_by_role("list", name="The decisions").locator(".badge")
    expect(decisions).to_have_text(["Approved", "Approved"])
    expect(steps).to_have_count(0)
    expect(page.get_by_role("status")).to_contain_text("Azure has answered for every request")
    screenshot(page, "admin-batch-confirmed")
    assert {j.state for j in JitRequest.objects.filter(pk__in=[first.pk, second.pk])} == {
        State.APPROVED
    }


def test_the_batch_inbox_reads_on_a_phone(
    demo: dict[str, Tenant], azure: EmulatorServer, phone_page: Page
) -> None:
    _second_pending_request(azure, demo)
    sign_in(phone_page, "Alice Archer")
    phone_page.goto("/jit/")
    inbox = phone_page.get_by_role("region", name="Waiting for your decision")
    expect(inbox.get_by_role("checkbox")).to_have_count(2)
    expect(inbox.get_by_role("button", name="Approve selected")).to_be_visible()
    assert_accessible(phone_page, "the batch inbox on a phone, dark")
    path = screenshot(phone_page, "admin-batch-inbox-phone")
    inbox.screenshot(path=str(path.with_name("admin-batch-inbox-phone-detail.png")))
