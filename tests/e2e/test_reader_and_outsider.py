"""A reader sees everything and can change nothing; a person of another tenant reaches neither
the application nor its requests."""

from playwright.sync_api import APIResponse, Page, expect

from accounts.models import Tenant
from jit.models import JitRequest, Operation, State
from tests.e2e.conftest import screenshot, sign_in

CHANGES = ["Approve", "Deny", "Record approval", "Record denial", "Revoke access now", "Cancel request", "End my access now",
           "Save to Azure", "Request elevation"]  # fmt: skip


def _post(page: Page, path: str, data: dict[str, str | float | bool]) -> APIResponse:
    """A hand-made POST with the session and a valid CSRF token: only the server's rules stop it."""
    token = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
    return page.request.post(path, form=data, headers={"X-CSRFToken": token, "Referer": page.url})


def _no_change_buttons(page: Page) -> None:
    for name in CHANGES:
        expect(page.get_by_role("button", name=name, exact=True)).to_have_count(0)
        expect(page.get_by_role("link", name=name, exact=True)).to_have_count(0)


def test_reader_sees_everything_and_can_change_nothing(demo: dict[str, Tenant], page: Page) -> None:
    pending = JitRequest.objects.get(name="jitpend1")
    active = JitRequest.objects.get(name="jitact1")
    app = pending.application
    sign_in(page, "Bob Baker")

    page.get_by_role("navigation").get_by_role("link", name="My applications").click()
    expect(page.get_by_role("link", name="fabrikam-monitoring")).to_be_visible()
    page.goto(f"/apps/applications/{app.pk}/")
    expect(page.get_by_role("heading", name="fabrikam-monitoring")).to_be_visible()
    _no_change_buttons(page)

    page.goto("/jit/")
    expect(page.get_by_role("link", name="jitpend1")).to_be_visible()
    expect(page.get_by_role("region", name="Waiting for your decision")).to_have_count(0)
    screenshot(page, "reader-requests")
    for jit in (pending, active):
        page.goto(f"/jit/requests/{jit.pk}/")
        expect(page.locator("#request_status .badge").first).to_have_text(jit.get_state_display())
        _no_change_buttons(page)
    expect(page.get_by_label("Reason for your decision")).to_have_count(0)
    screenshot(page, "reader-request")

    page.goto(f"/jit/apps/{app.pk}/policy/")
    expect(page.get_by_text("Only admins of Fabrikam can change this policy.")).to_be_visible()
    _no_change_buttons(page)
    page.goto("/jit/audit/")
    expect(page.get_by_role("heading", name="JIT audit trail")).to_be_visible()

    forged = _post(page, f"/jit/requests/{pending.pk}/decide/",
                   {"decision": "approve", "justification": "forged"})  # fmt: skip
    assert forged.status == 403
    assert _post(page, f"/jit/requests/{active.pk}/revoke/", {"reason": "forged"}).status == 403
    assert _post(page, f"/jit/apps/{app.pk}/policy/",
                 {"approval_mode": "AutoApprove", "maximum_hours": "24"}).status == 403  # fmt: skip
    assert not Operation.objects.exists()
    pending.refresh_from_db()
    assert pending.state == State.PENDING


def test_another_tenant_reaches_neither_the_app_nor_its_requests(
    demo: dict[str, Tenant], page: Page
) -> None:
    pending = JitRequest.objects.get(name="jitpend1")
    app = pending.application
    sign_in(page, "Charlie Cole")

    page.goto("/apps/applications/")
    expect(page.get_by_role("link", name="northwind-monitoring")).to_be_visible()
    expect(page.get_by_role("link", name="fabrikam-monitoring")).to_have_count(0)
    page.goto("/jit/")
    expect(page.get_by_role("link", name="jitnw1")).to_be_visible()
    expect(page.get_by_role("link", name="jitpend1")).to_have_count(0)

    for path in (f"/apps/applications/{app.pk}/", f"/jit/requests/{pending.pk}/",
                 f"/jit/requests/{pending.pk}/status/", f"/jit/apps/{app.pk}/policy/",
                 f"/permissions/applications/{app.pk}/"):  # fmt: skip
        response = page.goto(path)
        assert response is not None and response.status == 404, path
    screenshot(page, "outsider-404")
    forged = _post(page, f"/jit/requests/{pending.pk}/decide/",
                   {"decision": "approve", "justification": "forged"})  # fmt: skip
    assert forged.status == 404
    assert not Operation.objects.exists()
