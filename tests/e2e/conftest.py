"""Browser tests: Debian's Chromium driven by Playwright against the live portal and the emulator.

Playwright's sync API runs an event loop in the test thread, which makes Django refuse ORM calls
from that thread unless told it is safe; these tests only use the ORM to set up and inspect rows.
"""

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page, sync_playwright
from pytest_django.live_server_helper import LiveServer

from accounts.models import Tenant
from emulator.server import EmulatorServer

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
def chromium() -> Iterator[Browser]:
    assert Path(CHROMIUM).exists(), (
        "Chromium is missing: bin/test installs it (apt-get install chromium)"
    )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def portal(azure: EmulatorServer, live_server: LiveServer, transactional_db: None) -> LiveServer:
    """The live portal with the emulator behind it."""
    return live_server


def watch_csp(page: Page) -> list[str]:
    """Chromium's console reports each thing the Content-Security-Policy refused."""
    refused: list[str] = []
    page.on(
        "console",
        lambda message: (
            refused.append(f"{page.url}: {message.location}: {message.text[:60]}")
            if "Content Security Policy" in message.text
            else None
        ),
    )
    return refused


@pytest.fixture
def page(chromium: Browser, portal: LiveServer) -> Iterator[Page]:
    context = chromium.new_context(
        base_url=portal.url,
        viewport={"width": 1280, "height": 900},
        locale="en-US",
        timezone_id="Asia/Kolkata",  # a viewer away from UTC (and without summer time)
    )
    context.set_default_timeout(15_000)
    page = context.new_page()
    refused = watch_csp(page)
    yield page
    context.close()
    assert refused == [], "the page broke its own Content-Security-Policy:\n" + "\n".join(refused)


@pytest.fixture
def phone_page(chromium: Browser, portal: LiveServer) -> Iterator[Page]:
    context = chromium.new_context(
        base_url=portal.url, viewport={"width": 390, "height": 844}, color_scheme="dark"
    )
    context.set_default_timeout(15_000)
    page = context.new_page()
    refused = watch_csp(page)
    yield page
    context.close()
    assert refused == [], "the page broke its own Content-Security-Policy:\n" + "\n".join(refused)


def sign_in(page: Page, person: str) -> None:
    """Sign in through the emulator's sign-in page as the named person (e.g. "Alice Archer")."""
    page.goto("/auth/login/")
    page.get_by_role("button", name="Sign in with Microsoft").click()
    page.get_by_role("button", name=person).click()
    page.wait_for_url(lambda url: "/oauth2/" not in url)


DOCS_SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def screenshot(page: Page, name: str, *, readme: bool = False) -> Path:
    """A full-page screenshot under var/screenshots. With E2E_README_SCREENSHOTS=1, those marked
    readme are also written, viewport only, to docs/screenshots for the README."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    if readme and os.environ.get("E2E_README_SCREENSHOTS") == "1":
        DOCS_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(DOCS_SCREENSHOTS / f"{name}.png"))
    return path


# The demo world, mirrored from the emulator the way the portal's own tasks do it -----------------


@pytest.fixture
def demo(portal: LiveServer, azure: EmulatorServer) -> dict[str, Tenant]:
    """Contoso, Fabrikam and Northwind allowed; their applications synced from the emulator and
    the JIT requests made in "the Azure portal" adopted by the reconciliation."""
    from accounts.models import Side
    from deployments import sync
    from deployments.models import SyncRun
    from jit import mirror
    from tests.conftest import CONTOSO, FABRIKAM, NORTHWIND, make_tenant

    tenants = {
        "contoso": make_tenant(CONTOSO, "Contoso Software", Side.PUBLISHER),
        "fabrikam": make_tenant(FABRIKAM, "Fabrikam", Side.CUSTOMER),
        "northwind": make_tenant(NORTHWIND, "Northwind Traders", Side.CUSTOMER),
    }
    for name in ("fabrikam", "northwind"):
        run = SyncRun.objects.create(tenant=tenants[name])
        sync.run_tenant_sync(run_id=run.pk)
        run.refresh_from_db()
        assert run.state == SyncRun.State.SUCCEEDED, run.error
    mirror.jit_requests_reconcile_scope()
    return tenants


def emulator_act(azure: EmulatorServer, action: str, body: dict[str, Any]) -> dict[str, Any]:
    """Something a person does outside the portal, in "the Azure portal" of the emulator."""
    import requests

    response = requests.post(
        f"{azure.https_url}/_emulator/act/{action}", json=body, verify=azure.ca_bundle, timeout=10
    )
    assert response.status_code in (200, 201, 202), response.text
    result: dict[str, Any] = response.json()
    return result


def run_queued_operations() -> int:
    """What the worker does with the JIT outbox: submit each queued operation to ARM."""
    from jit import outbox
    from jit.models import Operation

    queued = list(
        Operation.objects.filter(status=Operation.Status.QUEUED).values_list("pk", flat=True)
    )
    for pk in queued:
        outbox.operation_submit(operation_id=pk)
    return len(queued)


def reconcile() -> None:
    """The periodic reconciliation of the JIT requests in the publisher's scope."""
    from jit import mirror

    mirror.jit_requests_reconcile_scope()


def assert_accessible(page: Page, where: str) -> None:
    """axe-core (vendored) finds no serious or critical violation on the page as it is now."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        # Loaded from the portal's own static files: the pages' CSP refuses inline scripts.
        origin = "{0.scheme}://{0.netloc}".format(urlsplit(page.url))
        page.add_script_tag(url=f"{origin}/static/vendor/axe/axe.min.js")
    violations = page.evaluate(
        """async () => {
          const result = await axe.run(document, {resultTypes: ["violations"]});
          return result.violations
            .filter(v => v.impact === "serious" || v.impact === "critical")
            .map(v => ({id: v.id, impact: v.impact, help: v.help,
                        nodes: v.nodes.slice(0, 5).map(n => n.target.join(" ") + ": " + n.failureSummary)}));
        }"""
    )
    assert violations == [], f"{where}: " + "\n".join(
        f"{v['impact']} {v['id']} ({v['help']}):\n  " + "\n  ".join(v["nodes"]) for v in violations
    )
