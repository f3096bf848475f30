"""Signing in as each kind of person, in a real browser."""

from playwright.sync_api import Page

from accounts.models import Tenant
from tests.conftest import FABRIKAM
from tests.e2e.conftest import screenshot, sign_in


def _allow_fabrikam() -> None:
    Tenant.objects.create(
        entra_tenant_id=FABRIKAM, display_name="Fabrikam", side="customer", state="allowed"
    )


def test_customer_admin_signs_in_and_reads_what_her_role_allows(page: Page) -> None:
    _allow_fabrikam()
    sign_in(page, "Alice Archer")
    page.get_by_role("navigation").get_by_role("link", name="Profile").click()
    assert page.get_by_role("heading", name="Your profile").is_visible()
    assert page.get_by_text("Customer admin").first.is_visible()
    assert page.get_by_text("Approve or deny publisher elevation requests").is_visible()
    screenshot(page, "profile-customer-admin")


def test_a_person_without_a_role_is_told_what_to_ask_for(page: Page) -> None:
    _allow_fabrikam()
    sign_in(page, "Dave Dunn")
    assert page.get_by_text("you hold no role in the portal").is_visible()
    assert page.get_by_role("link", name="Sign in again").is_visible()
    screenshot(page, "no-role")


def test_a_new_tenant_waits_for_review_and_sees_no_data(page: Page) -> None:
    sign_in(page, "Tom Turner")
    assert page.get_by_text("waiting for review").is_visible()
    page.goto("/accounts/profile/")
    assert "/auth/login/" in page.url  # not signed in: nothing was created
    screenshot(page, "tenant-pending")


def test_sign_in_page_reads_well_on_a_phone_in_dark_mode(phone_page: Page) -> None:
    phone_page.goto("/auth/login/")
    assert phone_page.get_by_role("button", name="Sign in with Microsoft").is_visible()
    assert phone_page.evaluate("document.documentElement.dataset.bsTheme") == "dark"
    screenshot(phone_page, "sign-in-phone-dark")


def test_signing_out_needs_a_post_and_ends_the_session(page: Page) -> None:
    _allow_fabrikam()
    sign_in(page, "Alice Archer")
    page.get_by_role("button", name="Sign out").click()
    page.goto("/accounts/profile/")
    assert "/auth/login/" in page.url
