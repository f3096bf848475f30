"""A customer admin reviews an application, tightens its JIT policy, approves one elevation
request and denies another with a reason, in a real browser. Decisions go through the hand-off
channel: recorded in the portal, made in "the Azure portal" (the emulator's stand-in for the
JIT Access blade), and shown once ARM confirms them."""

from playwright.sync_api import Dialog, Page, expect

from accounts.models import Tenant
from emulator.server import EmulatorServer
from jit import tasks
from jit.models import JitRequest, Operation, State
from tests.e2e.conftest import (
    emulator_act,
    reconcile,
    run_queued_operations,
    screenshot,
    sign_in,
)

PAT = "fe96399b-4112-4390-b6f7-5d487005120c"
ALICE = "2029a5ca-c529-486a-ba15-f25657670ce5"


def _second_pending_request(azure: EmulatorServer, demo: dict[str, Tenant]) -> JitRequest:
    """Pat asks for elevation in "the Azure portal"; the reconciliation adopts the request."""
    monitoring = JitRequest.objects.get(name="jitpend1").application
    emulator_act(
        azure,
        "jit-request",
        {"as": PAT, "application_id": monitoring.arm_id, "name": "jitpend2", "duration": "PT2H"},
    )
    reconcile()
    return JitRequest.objects.get(name="jitpend2")


def test_customer_admin_reviews_an_app_and_its_permissions(
    demo: dict[str, Tenant], page: Page
) -> None:
    sign_in(page, "Alice Archer")
    page.get_by_role("navigation").get_by_role("link", name="My applications").click()
    expect(page.get_by_role("heading", name="My applications")).to_be_visible()
    screenshot(page, "admin-my-apps", readme=True)

    page.get_by_role("link", name="fabrikam-monitoring").click()
    expect(page.get_by_role("heading", name="fabrikam-monitoring")).to_be_visible()
    expect(page.get_by_text("1 waiting for a decision")).to_be_visible()
    screenshot(page, "admin-app")

    page.get_by_role("link", name="Who may do what").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("fabrikam-monitoring")
    expect(page.locator("#risk")).to_contain_text("a person must approve")
    screenshot(page, "admin-app-permissions")

    # Every application ranked by what the publisher can do without her yes: standing Owner
    # first, the gated fabrikam-monitoring below it.
    page.goto("/permissions/")
    first_row = page.locator("tbody tr").first
    expect(first_row).to_contain_text("High risk")
    expect(first_row).to_contain_text("Full control, access included, at all times")
    expect(first_row).to_contain_text("Standing access")  # not "Needs attention: Nothing"
    monitoring = page.locator("tbody tr", has_text="fabrikam-monitoring")
    expect(monitoring).not_to_contain_text("High risk")
    screenshot(page, "admin-permissions-by-risk")
    first_row.get_by_role("link").first.click()
    expect(page.locator("#risk")).to_contain_text("only when the application is deployed")
    screenshot(page, "admin-app-permissions-standing-owner")


def test_customer_admin_changes_the_jit_policy(demo: dict[str, Tenant], page: Page) -> None:
    sign_in(page, "Alice Archer")
    page.goto("/jit/")
    page.get_by_role("button", name="JIT policies").click()
    page.get_by_role("link", name="fabrikam-monitoring", exact=True).click()
    expect(
        page.get_by_role("heading", name="Just-in-time access policy of fabrikam-monitoring")
    ).to_be_visible()
    now_in_azure = page.locator("dl").first
    expect(now_in_azure).to_contain_text("8 h")

    page.get_by_label("Maximum duration (hours)").fill("6")
    page.get_by_label("Why the change").fill("Shorter windows after the spring review")
    page.get_by_role("button", name="Save to Azure").click()
    expect(page.get_by_text("Writing the policy to Azure")).to_be_visible()
    screenshot(page, "admin-policy-submitting")

    assert run_queued_operations() == 1  # what the worker does
    expect(now_in_azure).to_contain_text("6 h")  # the page picked it up by itself
    expect(page.get_by_text("Writing the policy to Azure")).to_have_count(0)
    screenshot(page, "admin-policy")


def test_customer_admin_approves_one_request_and_denies_another(
    demo: dict[str, Tenant], azure: EmulatorServer, page: Page
) -> None:
    second = _second_pending_request(azure, demo)
    sign_in(page, "Alice Archer")
    page.get_by_role("navigation").get_by_role("link", name="Requests").click()
    inbox = page.get_by_role("region", name="Waiting for your decision")
    expect(inbox.get_by_role("listitem")).to_have_count(2)
    screenshot(page, "admin-inbox", readme=True)

    page.goto(f"/jit/requests/{JitRequest.objects.get(name='jitpend1').pk}/")
    status = page.locator("#request_status")
    expect(status).to_contain_text("Pending")
    requested = page.locator("h1 + p time[data-local]")
    expect(requested).to_contain_text("GMT+5:30")  # in the viewer's zone, not UTC

    page.get_by_role("button", name="Record approval").click()  # no reason given
    expect(page.get_by_label("Reason for your decision")).to_have_attribute("aria-invalid", "true")
    expect(status).to_contain_text("Give a reason")

    page.route("**/decide/", lambda route: route.fulfill(status=502, body="Bad gateway"))
    page.get_by_label("Reason for your decision").fill("Planned maintenance, ticket 4711")
    page.get_by_role("button", name="Record approval").click()
    error = page.get_by_role("alert").filter(has_text="could not complete that (error 502)")
    expect(error).to_be_visible()
    screenshot(page, "admin-decision-error")
    page.unroute("**/decide/")
    page.get_by_role("button", name="Record approval").click()
    expect(error).to_be_hidden()
    expect(status).to_contain_text("Azure has not confirmed it yet")
    expect(status.locator(".badge").first).to_have_text("Pending")  # nothing claimed early
    screenshot(page, "admin-approve-in-azure")

    # "Open the request in Azure" leads to the application's JIT Access blade, where the
    # decision is really made.
    with page.context.expect_page() as opened:
        status.get_by_role("link", name="Open the request in Azure").click()
    blade = opened.value
    expect(blade.get_by_text("jitpend1", exact=True)).to_be_visible()
    screenshot(blade, "azure-blade-stand-in")
    blade.close()
    jit = JitRequest.objects.get(name="jitpend1")
    emulator_act(
        azure,
        "decide",
        {"as": ALICE, "jit_request_id": jit.arm_id, "decision": "Approve", "justification": "ok"},
    )
    tasks.watch_request(str(jit.pk))  # what the worker does while the decision is made in Azure
    expect(status.locator(".badge").first).to_have_text("Approved")
    expect(status).to_contain_text("left")
    expect(status).to_contain_text("Azure confirmed the outcome")
    # The poll that saw Azure's answer also brought the history up to date.
    expect(page.locator("#request_history")).to_contain_text("Decision recorded: approve")
    expect(page.locator("#request_history")).to_contain_text("Approved")
    expect(page.locator("#request_activity")).to_contain_text("when the grant ends")
    screenshot(page, "admin-approved")

    page.goto(f"/jit/requests/{second.pk}/")
    page.get_by_label("Reason for your decision").fill("Not during the quarter-end freeze")
    dialogs: list[str] = []

    def dismiss(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.once("dialog", dismiss)
    page.get_by_role("button", name="Record denial").click()
    expect(page.get_by_role("button", name="Record denial")).to_be_enabled()
    assert dialogs and dialogs[0].startswith("Deny this request?")
    second.refresh_from_db()
    assert not second.handoff_decision  # "no" records nothing

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Record denial").click()
    expect(status).to_contain_text("Azure has not confirmed it yet")
    emulator_act(
        azure,
        "decide",
        {"as": ALICE, "jit_request_id": second.arm_id, "decision": "Deny", "justification": "no"},
    )
    reconcile()
    expect(status.locator(".badge").first).to_have_text("Denied")
    expect(status).to_contain_text("Not during the quarter-end freeze")
    screenshot(page, "admin-denied")

    second.refresh_from_db()
    assert second.state == State.DENIED
    assert JitRequest.objects.get(name="jitpend1").state == State.APPROVED
    assert not Operation.objects.filter(kind="decide").exists()  # nothing was sent to ARM
