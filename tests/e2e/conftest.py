"""Browser tests: Debian's Chromium driven by Playwright against the live portal and the emulator.

Playwright's sync API runs an event loop in the test thread, which makes Django refuse ORM calls
from that thread unless told it is safe; these tests only use the ORM to set up and inspect rows.
"""

import os
import shutil
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(
    os.environ.get("E2E_SCREENSHOTS", Path(__file__).resolve().parents[2] / "var" / "screenshots")
)


@pytest.fixture(scope="session")
def chromium() -> Browser:
    assert Path(CHROMIUM).exists(), (
        "Chromium is missing: bin/test installs it (apt-get install chromium)"
    )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def portal(azure, live_server, transactional_db):
    """The live portal with the emulator behind it."""
    return live_server


@pytest.fixture
def page(chromium, portal) -> Page:
    context = chromium.new_context(base_url=portal.url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def phone_page(chromium, portal) -> Page:
    context = chromium.new_context(
        base_url=portal.url, viewport={"width": 390, "height": 844}, color_scheme="dark"
    )
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield page
    context.close()


def sign_in(page: Page, person: str) -> None:
    """Sign in through the emulator's sign-in page as the named person (e.g. "Alice Archer")."""
    page.goto("/auth/login/")
    page.get_by_role("button", name="Sign in with Microsoft").click()
    page.get_by_role("button", name=person).click()
    page.wait_for_url(lambda url: "/oauth2/" not in url)


def screenshot(page: Page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
