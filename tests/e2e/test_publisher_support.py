"""A publisher support engineer finds a customer, asks for elevation, sees it granted without
reloading, watches the time left, and cancels another request, in a real browser."""

from playwright.sync_api import Dialog, Page, expect

from accounts.models import Tenant
from jit.models import JitRequest, State
from tests.e2e.conftest import run_queued_operations, screenshot, sign_in


def _request_elevation(page: Page, app_name: str, *, hours: str, why: str) -> Page:
    page.goto("/apps/customers/")
    page.get_by_label("Search").fill("Fabri")
    customers = page.locator("#customer_list")
    expect(customers.get_by_role("link", name="Northwind Traders")).to_have_count(0)  # htmx search
    customers.get_by_role("link", name="Fabrikam").click()
    expect(page.get_by_role("heading", name="Fabrikam", exact=True)).to_be_visible()
    page.get_by_role("link", name=app_name, exact=True).click()
    page.get_by_role("link", name="Request elevation").click()
    expect(page.get_by_role("heading", name=f"Request elevation on {app_name}")).to_be_visible()
    page.get_by_label("Role on the managed resource group").select_option(label="Contributor")
    page.get_by_label("Duration").select_option(label=hours)
    page.get_by_label("Why you need it").fill(why)
    page.get_by_label("Ticket reference").fill("SR-2211")
    return page


def test_publisher_asks_for_elevation_and_sees_it_granted_without_reloading(
    demo: dict[str, Tenant], page: Page
) -> None:
    sign_in(page, "Pat Patel")
    page.get_by_role("navigation").get_by_role("link", name="Customers").click()
    expect(page.get_by_role("heading", name="Customers")).to_be_visible()
    screenshot(page, "publisher-customers")

    _request_elevation(page, "fabrikam-backup", hours="1 hour", why="Backup job fails since Monday")
    screenshot(page, "publisher-request-form")
    page.get_by_role("button", name="Send request").click()

    status = page.locator("#request_status")
    expect(status).to_contain_text("sending it to Azure")
    screenshot(page, "publisher-request-submitting")
    page.evaluate("window.notReloaded = true")
    assert run_queued_operations() == 1  # the worker submits it as Pat; Fabrikam auto-approves
    expect(status.locator(".badge").first).to_have_text("Approved")
    countdown = status.locator("[data-countdown]")
    expect(countdown).to_be_visible()
    assert page.evaluate("window.notReloaded") is True

    first = countdown.inner_text()
    expect(countdown).not_to_have_text(first)  # it counts down by itself, second by second
    assert "min" in countdown.inner_text()
    screenshot(page, "publisher-request-active", readme=True)
    jit = JitRequest.objects.get(application__name="fabrikam-backup", requested_by__isnull=False)
    assert jit.state == State.APPROVED


def test_publisher_cancels_a_pending_request(demo: dict[str, Tenant], page: Page) -> None:
    sign_in(page, "Pat Patel")
    _request_elevation(page, "fabrikam-monitoring", hours="2 hours", why="Alert rules to review")
    page.get_by_role("button", name="Send request").click()
    status = page.locator("#request_status")
    expect(status).to_contain_text("sending it to Azure")
    run_queued_operations()
    expect(status.locator(".badge").first).to_have_text("Pending")  # Fabrikam decides by hand
    screenshot(page, "publisher-request-pending")

    dialogs: list[str] = []

    def accept(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.accept()

    page.once("dialog", accept)
    page.get_by_role("button", name="Cancel request").click()
    expect(status).to_contain_text("submitting to Azure")
    assert dialogs and "Cancel" in dialogs[0]
    run_queued_operations()
    expect(status.locator(".badge").first).to_have_text("Canceled")
    screenshot(page, "publisher-request-canceled")

    jit = JitRequest.objects.get(
        application__name="fabrikam-monitoring", requested_by__isnull=False
    )
    assert jit.state == State.CANCELED


def test_publisher_follows_a_customers_pending_requests_and_searches_another(
    demo: dict[str, Tenant], page: Page
) -> None:
    sign_in(page, "Pat Patel")
    page.goto("/apps/customers/")
    row = page.locator("#customer_list tr", has_text="Fabrikam")
    row.get_by_role("link", name="1", exact=True).click()  # the JIT pending badge
    expect(page.get_by_role("heading", name="Just-in-time requests")).to_be_visible()
    expect(page.get_by_label("Customer")).to_have_value('"Fabrikam"')  # the whole name only
    expect(page.get_by_label("State")).to_have_value("Pending")
    requests = page.get_by_role("table")
    expect(requests.get_by_role("link", name="jitpend1")).to_be_visible()
    expect(requests).not_to_contain_text("Northwind")
    screenshot(page, "publisher-requests-of-a-customer")

    page.get_by_label("Customer").fill("northwind")
    page.get_by_label("State").select_option(label="Any state")
    page.get_by_role("button", name="Filter").click()
    expect(requests).to_contain_text("Northwind Traders")
    expect(requests).not_to_contain_text("Fabrikam")
    expect(page.get_by_label("Customer")).to_have_value("northwind")
