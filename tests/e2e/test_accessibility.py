"""axe-core finds no serious or critical violation on the main pages, at desktop and phone width,
in the light and the dark theme."""

from collections.abc import Callable, Iterator
from typing import Literal

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, ViewportSize
from pytest_django.live_server_helper import LiveServer

from accounts.models import Tenant
from jit.models import JitRequest
from tests.e2e.conftest import assert_accessible, screenshot, sign_in

VARIANTS: dict[str, tuple[ViewportSize, Literal["light", "dark"]]] = {
    "desktop-light": ({"width": 1280, "height": 900}, "light"),
    "desktop-dark": ({"width": 1280, "height": 900}, "dark"),
    "phone-light": ({"width": 390, "height": 844}, "light"),
    "phone-dark": ({"width": 390, "height": 844}, "dark"),
}


@pytest.fixture(params=list(VARIANTS))
def variant(
    request: pytest.FixtureRequest, chromium: Browser, portal: LiveServer
) -> Iterator[tuple[str, Callable[[], Page]]]:
    viewport, scheme = VARIANTS[request.param]

    def open_page() -> Page:
        context = chromium.new_context(base_url=portal.url, viewport=viewport, color_scheme=scheme)
        context.set_default_timeout(15_000)
        opened.append(context)
        return context.new_page()

    opened: list[BrowserContext] = []
    yield request.param, open_page
    for context in opened:
        context.close()


def _check(page: Page, name: str, where: str) -> None:
    assert page.evaluate("document.documentElement.dataset.bsTheme") in ("light", "dark")
    assert_accessible(page, f"{where} ({name})")
    screenshot(page, f"a11y-{name}-{where}", readme=(name, where) == ("phone-dark", "request"))


def test_main_pages_have_no_serious_accessibility_violations(
    demo: dict[str, Tenant], variant: tuple[str, Callable[[], Page]]
) -> None:
    name, open_page = variant
    pending = JitRequest.objects.get(name="jitpend1")

    page = open_page()
    page.goto("/auth/login/")
    _check(page, name, "sign-in")
    sign_in(page, "Alice Archer")
    for where, path in [
        ("my-apps", "/apps/applications/"),
        ("app", f"/apps/applications/{pending.application_id}/"),
        ("requests", "/jit/"),
        ("request", f"/jit/requests/{pending.pk}/"),
        ("catalog", "/apps/catalog/"),
        ("audit", "/jit/audit/"),
        ("profile", "/accounts/profile/"),
    ]:
        page.goto(path)
        _check(page, name, where)

    page = open_page()
    sign_in(page, "Pat Patel")
    page.goto("/apps/customers/")
    _check(page, name, "customers")
    page.goto(f"/apps/customers/{pending.application.customer_tenant_id}/")
    _check(page, name, "customer")
    page.goto("/jit/?customer=Fabrikam")
    _check(page, name, "publisher-requests")
    page.goto("/permissions/changes/?tenant=Fabrikam")
    _check(page, name, "publisher-changes")
