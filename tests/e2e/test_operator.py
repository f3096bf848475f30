"""An operator syncs it from Azure through the admin site."""

from playwright.sync_api import Page, expect

from accounts.models import Tenant
from deployments import sync
from deployments.models import ManagedApplication, SyncRun
from tests.e2e.conftest import screenshot, sign_in


def test_operator_syncs_a_tenant_from_the_admin(demo: dict[str, Tenant], page: Page) -> None:
    sign_in(page, "Olivia Ortiz")
    page.goto("/admin/")
    expect(page.get_by_role("heading", name="Site administration")).to_be_visible()
    page.get_by_role("link", name="Tenants", exact=True).click()
    row = page.get_by_role("row").filter(has_text="Northwind Traders")
    row.get_by_role("checkbox").check()
    page.get_by_label("Action:").select_option(label="Sync the selected tenants from Azure now")
    page.get_by_role("button", name="Go").click()
    expect(page.get_by_text("Queued a sync of 1 tenant(s).")).to_be_visible()
    screenshot(page, "operator-sync-queued")

    run = SyncRun.objects.get(tenant=demo["northwind"], state=SyncRun.State.QUEUED)
    sync.run_tenant_sync(run_id=run.pk)  # what the worker does with the queued task

    page.goto(f"/admin/deployments/syncrun/{run.pk}/change/")
    expect(page.locator(".field-state")).to_contain_text("Succeeded")
    screenshot(page, "operator-sync-done")
    assert ManagedApplication.objects.filter(customer_tenant=demo["northwind"]).count() == 2


def test_operator_reads_the_fleet_on_the_dashboard_and_the_admin(
    demo: dict[str, Tenant], page: Page
) -> None:
    for tenant in (demo["fabrikam"], demo["northwind"]):
        run = SyncRun.objects.create(tenant=tenant)
        sync.run_tenant_sync(run_id=run.pk)
    sign_in(page, "Olivia Ortiz")
    page.goto("/admin/")
    screenshot(page, "operator-admin-index")
    page.get_by_role("link", name="Operations dashboard").first.click()
    expect(page.get_by_role("heading", name="Sync durations and failures")).to_be_visible()
    expect(page.get_by_role("heading", name="Throttling by Azure Resource Manager")).to_be_visible()
    screenshot(page, "operator-dashboard")

    page.goto("/admin/accounts/tenant/")
    row = page.get_by_role("row").filter(has_text="Fabrikam")
    expect(row).to_contain_text("Succeeded")
    screenshot(page, "operator-tenants")
    page.goto("/admin/jit/auditevent/")
    screenshot(page, "operator-audit-trail")
    page.goto("/admin/deployments/permissionsnapshot/")
    screenshot(page, "operator-permission-snapshots")
