"""Sign-in with Entra ID end to end over real HTTP: the portal (live server), the browser's part
played by a requests session, and the emulator's Entra endpoints over HTTPS."""

import re
import uuid
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from pytest_django import Settings
from pytest_django.live_server_helper import LiveServer

from accounts import crypto
from accounts.models import EntraCredential, Membership, Role, Tenant, User
from emulator.server import EmulatorServer
from tests.conftest import ALICE, BOB, CONTOSO, FABRIKAM, PAT

DAVE = "44edde92-224d-4645-a5ce-1950e597f055"  # Fabrikam, no app role
TOM = "15f79364-a942-444c-a1eb-26ecf816a536"  # Tailspin Toys, a tenant nobody reviewed yet

pytestmark = pytest.mark.django_db(transaction=True)


class Browser:
    def __init__(self, portal_url: str) -> None:
        self.portal_url = portal_url
        self.session = requests.Session()

    def start_sign_in(self) -> str:
        """Open the sign-in page and press "Sign in with Microsoft"; returns the authorize URL."""
        page = self.session.get(f"{self.portal_url}/auth/login/")
        match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
        assert match is not None, page.text[:500]
        csrf = match.group(1)
        response = self.session.post(
            f"{self.portal_url}/auth/entra/login/?process=login",
            data={"csrfmiddlewaretoken": csrf},
            headers={"Referer": f"{self.portal_url}/auth/login/"},
            allow_redirects=False,
        )
        assert response.status_code == 302, response.text[:500]
        return response.headers["Location"]

    def pick_account(self, authorize_url: str, object_id: str) -> str:
        """On the emulator's sign-in page, choose a person; returns the portal callback URL."""
        parts = urlsplit(authorize_url)
        params = {k: v[0] for k, v in parse_qs(parts.query).items()}
        response = self.session.post(
            f"{parts.scheme}://{parts.netloc}{parts.path}",
            data={**params, "emulator_user": object_id},
            allow_redirects=False,
        )
        assert response.status_code == 302, response.text[:500]
        return response.headers["Location"]

    def sign_in_as(self, object_id: str) -> requests.Response:
        return self.session.get(self.pick_account(self.start_sign_in(), object_id))


@pytest.fixture
def browser(azure: EmulatorServer, live_server: LiveServer) -> Browser:
    return Browser(live_server.url)


@pytest.fixture
def fabrikam_allowed(db: None) -> Tenant:
    return Tenant.objects.create(
        entra_tenant_id=FABRIKAM, display_name="Fabrikam", side="customer", state="allowed"
    )


def test_authorize_request_uses_pkce_nonce_and_the_organizations_tenant(
    browser: Browser, azure: EmulatorServer
) -> None:
    url = browser.start_sign_in()
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    assert url.startswith(f"{azure.http_url}/organizations/oauth2/v2.0/authorize")
    assert query["code_challenge_method"] == ["S256"]
    assert len(query["nonce"][0]) >= 32
    assert set(query["scope"][0].split()) == {"openid", "profile", "offline_access", "User.Read"}


def test_customer_admin_signs_in_and_gets_a_membership(
    browser: Browser, fabrikam_allowed: Tenant
) -> None:
    final = browser.sign_in_as(str(ALICE))
    assert final.status_code == 200
    user = User.objects.get(entra_object_id=ALICE)
    assert user.entra_tenant_id == FABRIKAM
    assert user.display_name == "Alice Archer"
    assert list(
        Membership.objects.filter(user=user).values_list("tenant__entra_tenant_id", "role")
    ) == [(FABRIKAM, Role.CUSTOMER_ADMIN)]
    credential = EntraCredential.objects.get(user=user)
    refresh_token = crypto.decrypt(credential.refresh_token_encrypted)
    assert refresh_token and refresh_token.encode() not in bytes(credential.refresh_token_encrypted)
    # The profile page is reachable in the same browser session and names her.
    profile = browser.session.get(f"{browser.portal_url}/accounts/profile/")
    assert "Alice Archer" in profile.text
    assert refresh_token not in profile.text


def test_reader_signs_in_with_the_reader_role(browser: Browser, fabrikam_allowed: Tenant) -> None:
    browser.sign_in_as(str(BOB))
    assert Membership.objects.get(user__entra_object_id=BOB).role == Role.CUSTOMER_READER


def test_publisher_support_signs_in_and_the_publisher_tenant_is_allowed_at_once(
    browser: Browser,
) -> None:
    browser.sign_in_as(str(PAT))
    tenant = Tenant.objects.get(entra_tenant_id=CONTOSO)
    assert (tenant.side, tenant.state) == ("publisher", "allowed")
    assert Membership.objects.get(user__entra_object_id=PAT).role == Role.PUBLISHER_SUPPORT


def test_second_sign_in_updates_roles_instead_of_creating_a_second_user(
    browser: Browser, azure: EmulatorServer, fabrikam_allowed: Tenant
) -> None:
    browser.sign_in_as(str(ALICE))
    azure.state.people[str(ALICE)].roles = ["Customer.Reader"]
    browser.session.cookies.clear()
    browser.sign_in_as(str(ALICE))
    assert User.objects.filter(entra_object_id=ALICE).count() == 1
    assert list(
        Membership.objects.filter(user__entra_object_id=ALICE).values_list("role", flat=True)
    ) == [Role.CUSTOMER_READER]


def test_unknown_tenant_lands_on_the_pending_page_and_no_user_is_created(browser: Browser) -> None:
    final = browser.sign_in_as(TOM)
    assert final.status_code == 403
    assert "waiting for review" in final.text
    assert (
        Tenant.objects.get(entra_tenant_id=uuid.UUID("a2d9358c-f752-4d74-8279-47053b42bc40")).state
        == "pending"
    )
    assert not User.objects.filter(entra_object_id=uuid.UUID(TOM)).exists()
    assert not EntraCredential.objects.exists()


def test_blocked_tenant_is_refused(browser: Browser, fabrikam_allowed: Tenant) -> None:
    Tenant.objects.filter(pk=fabrikam_allowed.pk).update(state="blocked")
    final = browser.sign_in_as(str(ALICE))
    assert final.status_code == 403
    assert "has been blocked" in final.text
    assert not User.objects.exists()


def test_person_without_a_role_is_told_what_to_ask_for(
    browser: Browser, fabrikam_allowed: Tenant
) -> None:
    final = browser.sign_in_as(DAVE)
    assert final.status_code == 403
    assert "you hold no role in the portal" in final.text
    assert not User.objects.exists()


def test_denied_consent_ends_on_the_error_page_and_creates_nothing(
    browser: Browser, fabrikam_allowed: Tenant
) -> None:
    authorize_url = browser.start_sign_in()
    state = parse_qs(urlsplit(authorize_url).query)["state"][0]
    final = browser.session.get(
        f"{browser.portal_url}/auth/entra/login/callback/",
        params={
            "error": "access_denied",
            "error_description": "AADSTS65004: User declined to consent",
            "state": state,
        },
    )
    assert "Sign-in cancelled" in final.text
    assert not User.objects.exists()


def test_state_mismatch_is_refused(browser: Browser, fabrikam_allowed: Tenant) -> None:
    callback = browser.pick_account(browser.start_sign_in(), str(ALICE))
    tampered = re.sub(r"state=[^&]+", "state=forged", callback)
    final = browser.session.get(tampered)
    assert "Sign-in did not complete" in final.text
    assert not User.objects.exists()


def test_wrong_audience_is_refused(
    browser: Browser, fabrikam_allowed: Tenant, settings: Settings
) -> None:
    # The ID token is issued for the portal's client id; a portal configured with another id
    # must not accept it.
    callback = browser.pick_account(browser.start_sign_in(), str(ALICE))
    settings.ENTRA_CLIENT_ID = str(uuid.uuid4())
    final = browser.session.get(callback)
    assert "Sign-in did not complete" in final.text
    assert not User.objects.exists()


def test_operator_of_the_publisher_tenant_gets_the_admin_site(
    browser: Browser, azure: EmulatorServer
) -> None:
    olivia = next(p for p in azure.state.people.values() if p.name.startswith("Olivia"))
    browser.sign_in_as(olivia.oid)
    user = User.objects.get(entra_object_id=uuid.UUID(olivia.oid))
    assert user.is_staff and not user.is_superuser
    admin = browser.session.get(f"{browser.portal_url}/admin/")
    assert admin.status_code == 200
    assert "Tenants" in admin.text
    assert "Periodic tasks" in admin.text
    # Ordinary roles do not open the admin site.
    browser.session.cookies.clear()
    browser.sign_in_as(str(PAT))
    assert (
        browser.session.get(f"{browser.portal_url}/admin/", allow_redirects=False).status_code
        == 302
    )


def test_sign_in_learns_the_tenant_name_and_licence_from_graph(
    browser: Browser, azure: EmulatorServer
) -> None:
    wendy = next(p for p in azure.state.people.values() if p.name.startswith("Wendy"))
    browser.sign_in_as(wendy.oid)  # Woodgrove: unknown to the portal, no Entra ID P2
    woodgrove = Tenant.objects.get(entra_tenant_id=uuid.UUID(wendy.tenant_id))
    assert woodgrove.display_name == "Woodgrove Bank"
    assert woodgrove.has_entra_p2 == Tenant.P2.NO
    browser.session.cookies.clear()
    browser.sign_in_as(str(PAT))
    assert Tenant.objects.get(entra_tenant_id=CONTOSO).has_entra_p2 == Tenant.P2.YES
