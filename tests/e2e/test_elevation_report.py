"""The elevation report in a real browser: a customer admin reads a month of the demo's history,
its chart and rows, and downloads the CSV and the PDF; the publisher compares its customers."""

import csv
import io
from pathlib import Path

from playwright.sync_api import Page, expect

from accounts.models import Tenant
from jit.activity import elevation_activity_fetch
from jit.models import JitRequest, State
from jit.report import Month
from tests.e2e.conftest import SCREENSHOTS, assert_accessible, screenshot, sign_in


def _history_month(name: str = "jith09") -> str:
    """The month of one of the demo's past requests (`jith09` made changes and a delete), the
    activity log of every grant copied as the worker does after a grant ends."""
    for jit in JitRequest.objects.filter(state=State.EXPIRED, activity_fetched_at__isnull=True):
        elevation_activity_fetch(jit_request=jit)
    start = JitRequest.objects.get(name=name).start
    return Month(start.year, start.month).param


def test_customer_admin_reads_a_month_and_downloads_it(
    demo: dict[str, Tenant], page: Page, tmp_path: Path
) -> None:
    month = _history_month()
    sign_in(page, "Alice Archer")
    page.goto("/jit/")
    page.get_by_role("link", name="Elevation report").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Elevation report")
    page.goto(f"/jit/report/?month={month}")
    expect(page.locator("svg.report-chart")).to_be_visible()
    expect(page.locator(".report-legend")).to_contain_text("Contributor")
    row = page.locator("tbody tr", has_text="jith09")
    expect(row).to_contain_text("Migrate the alert rules to the new workspace")
    expect(row).to_contain_text("CHG-1047")
    expect(row).to_contain_text("1 delete")
    expect(page.locator("#report-chart-table")).to_be_visible()
    assert "Northwind" not in page.content()
    assert_accessible(page, "elevation report")
    screenshot(page, "report-customer-month")

    with page.expect_download() as download:
        page.get_by_role("link", name="Download CSV").click()
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    assert saved.name == f"elevation-report-{month}.csv"
    rows = list(csv.DictReader(io.StringIO(saved.read_text())))
    jith09 = next(r for r in rows if r["request"] == "jith09")
    assert jith09["ticket"] == "CHG-1047" and jith09["deletes"] == "1"
    assert {r["customer"] for r in rows} == {"Fabrikam"}

    with page.expect_download() as download:
        page.get_by_role("link", name="Download PDF").click()
    pdf = SCREENSHOTS / "report-customer-month.pdf"  # kept beside the screenshots, to look at
    download.value.save_as(pdf)
    assert pdf.read_bytes().startswith(b"%PDF")

    page.goto("/jit/report/?month=2001-01")
    expect(
        page.get_by_text("No elevation was requested or granted in January 2001")
    ).to_be_visible()
    screenshot(page, "report-customer-empty-month")


def test_publisher_compares_its_customers(demo: dict[str, Tenant], page: Page) -> None:
    month = _history_month("jith12")  # Northwind's
    sign_in(page, "Pat Patel")
    page.goto(f"/jit/report/?month={month}")
    customers = page.locator("#customers-title").locator("xpath=..")
    expect(customers).to_contain_text("Northwind Traders")
    expect(customers).to_contain_text("median")
    screenshot(page, "report-publisher-month")
    customers.get_by_role("link", name="This customer only").first.click()
    expect(page.locator("h1 + p")).not_to_contain_text("customers of")
    screenshot(page, "report-publisher-one-customer")

    # Paula's Owner grant beside Pat's Contributor ones: two roles stacked, each in the legend.
    page.goto(f"/jit/report/?month={_history_month('jith04')}")
    expect(page.locator(".report-legend")).to_contain_text("Owner")
    expect(page.locator(".report-legend")).to_contain_text("Contributor")
    expect(page.locator("#report-chart-table thead")).to_contain_text("Owner")
    screenshot(page, "report-publisher-two-roles")
