"""A customer admin sets up an approval window on the demo's fabrikam-monitoring in a real
browser, sees when it opens next, and, once the beat has opened it (the outbox PATCHing the
emulator as her), the banners on the policy page, the requests list and a request of the app."""

import datetime as dt
import zoneinfo

from django.utils import timezone
from playwright.sync_api import Page, expect

from accounts.models import Tenant
from deployments.models import ManagedApplication
from jit import windows
from jit.models import JitRequest
from jit.window_models import ApprovalWindow, ApprovalWindowOccurrence, OccurrenceState
from tests.e2e.conftest import assert_accessible, run_queued_operations, screenshot, sign_in

BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def test_customer_admin_sets_up_an_approval_window(demo: dict[str, Tenant], page: Page) -> None:
    app = ManagedApplication.objects.get(name="fabrikam-monitoring")
    sign_in(page, "Alice Archer")
    page.goto(f"/jit/apps/{app.pk}/policy/")
    expect(page.locator("#next_window")).to_contain_text("No approval window is planned")
    page.get_by_role("link", name="Manage approval windows").click()
    expect(
        page.get_by_role("heading", name="Approval windows of fabrikam-monitoring")
    ).to_be_visible()

    # A window under way right now in Berlin: from the last full hour for three hours.
    start = timezone.now().astimezone(BERLIN).replace(minute=0, second=0, microsecond=0)
    start -= dt.timedelta(hours=1)
    end = start + dt.timedelta(hours=3)
    page.get_by_label(WEEKDAYS[start.weekday()]).check()
    page.get_by_label("From (local time)").fill(f"{start:%H:%M}")
    page.get_by_label("Until (local time)").fill(f"{end:%H:%M}")
    page.get_by_label("Time zone").select_option("Europe/Berlin")
    page.get_by_role("button", name="Add window").click()
    expect(page.get_by_text("Window saved. Next:")).to_be_visible()
    # Saved during its own slot: that one is skipped, the next is a week later.
    next_week = start + dt.timedelta(days=7)
    expect(page.locator("#next_window")).to_contain_text(
        f"Next window: {next_week:%a} {next_week.day} {next_week:%b %H:%M}"
    )
    expect(page.locator("#next_window")).to_contain_text("Europe/Berlin")
    screenshot(page, "admin-approval-windows")
    assert_accessible(page, "approval windows")

    page.goto(f"/jit/apps/{app.pk}/policy/")
    expect(page.locator("#next_window")).to_contain_text("Next window:")
    expect(page.get_by_text("manual approval returns at")).to_be_visible()
    screenshot(page, "admin-policy-next-window")

    # As if saved a week ago: the slot under way now counts, and the beat opens it.
    ApprovalWindow.objects.update(effective_from=timezone.now() - dt.timedelta(days=7))
    windows.approval_windows_tick()
    assert run_queued_operations() == 1  # the worker PATCHes automatic approval as Alice
    windows.approval_windows_tick()
    assert ApprovalWindowOccurrence.objects.get(starts_at__lte=timezone.now()).state == (
        OccurrenceState.OPEN
    )

    page.goto(f"/jit/apps/{app.pk}/policy/")
    banner = page.get_by_role("status").filter(
        has_text="Approval window open on fabrikam-monitoring"
    )
    expect(banner).to_contain_text(f"Manual approval returns at {end:%H:%M} (Europe/Berlin)")
    expect(banner).to_contain_text("already pending when it opened still need a decision")
    expect(page.locator("dl").first).to_contain_text(
        f"set by the approval window until {end:%H:%M}"
    )
    expect(page.locator("dl").first).to_contain_text("Automatic")
    expect(page.locator("#next_window")).to_contain_text("Window now:")
    # The form offers the mode the window will restore, not the window's automatic approval.
    expect(page.get_by_label("Manual: an approver must approve each request")).to_be_checked()
    screenshot(page, "admin-policy-window-open")
    assert_accessible(page, "policy page with an open window")

    page.goto("/jit/")
    expect(page.get_by_text("Approval window open on fabrikam-monitoring")).to_be_visible()
    screenshot(page, "admin-requests-window-open")

    page.goto(f"/jit/requests/{JitRequest.objects.get(name='jitpend1').pk}/")
    expect(page.get_by_text("Approval window open on fabrikam-monitoring")).to_be_visible()
    expect(page.get_by_text("made before the window opened")).to_be_visible()
    screenshot(page, "admin-request-window-open")


def test_a_restore_that_failed_is_loud_on_the_policy_page(
    demo: dict[str, Tenant], page: Page
) -> None:
    from accounts.models import EntraCredential, User
    from jit import window_services

    app = ManagedApplication.objects.get(name="fabrikam-monitoring")
    sign_in(page, "Alice Archer")  # her sign-in is what the window will act with
    alice = User.objects.get(display_name="Alice Archer")
    # A window that ended an hour ago (today, from four hours ago, for three hours).
    start = timezone.now().astimezone(BERLIN).replace(minute=0, second=0, microsecond=0)
    start -= dt.timedelta(hours=4)
    window = window_services.approval_window_save(
        application=app,
        by=alice,
        weekdays=[start.weekday()],
        start_time=start.time(),
        end_time=(start + dt.timedelta(hours=3)).time(),
        time_zone="Europe/Berlin",
        now=timezone.now() - dt.timedelta(days=7),
    )
    opened = start.astimezone(dt.UTC) + dt.timedelta(minutes=1)
    windows.approval_windows_tick(now=opened)
    assert run_queued_operations() == 1
    windows.approval_windows_tick(now=opened)
    assert (
        ApprovalWindowOccurrence.objects.filter(window=window, state=OccurrenceState.OPEN).count()
        == 1
    )

    EntraCredential.objects.filter(user=alice).delete()  # she signed out everywhere
    windows.approval_windows_tick()  # now, an hour after its end: the restore cannot run

    page.context.clear_cookies()
    sign_in(page, "Carol Chen")
    page.goto(f"/jit/apps/{app.pk}/policy/")
    alert = page.get_by_role("alert").filter(has_text="still on automatic approval")
    expect(alert).to_contain_text("could not be restored")
    expect(alert).to_contain_text("Azure portal")
    expect(alert).to_contain_text("keeps trying")
    # The form starts from the mode to restore, so one click on Save fixes it.
    expect(page.get_by_label("Manual: an approver must approve each request")).to_be_checked()
    screenshot(page, "admin-policy-restore-failed")

    page.goto(f"/jit/apps/{app.pk}/windows/{window.pk}/")
    expect(page.get_by_role("button", name="Save window")).to_be_visible()
    screenshot(page, "admin-approval-window-edit")
    assert_accessible(page, "approval window edit page")
