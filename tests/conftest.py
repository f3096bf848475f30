"""The cast used across the suite, with the demo scenario's tenant and person ids.

alice: Customer.Admin of Fabrikam      bob: Customer.Reader of Fabrikam
charlie: Customer.Admin of Northwind    pat: Publisher.Support of Contoso (the publisher)
"""

import uuid
from collections.abc import Iterator

import pytest
from pytest_django import Settings

from accounts.models import Membership, Role, Side, Tenant, User
from emulator.server import EmulatorServer
from portal.security_headers import content_security_policy

CONTOSO = uuid.UUID("0ec098e5-b929-47d3-a4de-b2f969d0ba5b")
FABRIKAM = uuid.UUID("3197bd27-109d-45f9-bdce-8200dec65df6")
NORTHWIND = uuid.UUID("c721af65-e2e9-4315-add6-935f3d17c8d6")

ALICE = uuid.UUID("2029a5ca-c529-486a-ba15-f25657670ce5")
BOB = uuid.UUID("447c311b-ab1a-4a25-aeaf-983783794f74")
CHARLIE = uuid.UUID("9c6395d3-4420-4edc-8a5f-facb2cebda2d")
PAT = uuid.UUID("fe96399b-4112-4390-b6f7-5d487005120c")


def make_tenant(
    tenant_id: uuid.UUID | str, name: str, side: str, state: str = Tenant.State.ALLOWED
) -> Tenant:
    return Tenant.objects.create(
        entra_tenant_id=tenant_id, display_name=name, side=side, state=state
    )


def make_person(tenant: Tenant, object_id: uuid.UUID | str, name: str, role: str) -> User:
    user = User.objects.create(
        username=f"{tenant.entra_tenant_id}/{object_id}",
        display_name=name,
        entra_tenant_id=tenant.entra_tenant_id,
        entra_object_id=object_id,
    )
    Membership.objects.create(user=user, tenant=tenant, role=role)
    return user


@pytest.fixture
def contoso(db: None) -> Tenant:
    return make_tenant(CONTOSO, "Contoso Software", Side.PUBLISHER)


@pytest.fixture
def fabrikam(db: None) -> Tenant:
    return make_tenant(FABRIKAM, "Fabrikam", Side.CUSTOMER)


@pytest.fixture
def northwind(db: None) -> Tenant:
    return make_tenant(NORTHWIND, "Northwind Traders", Side.CUSTOMER)


@pytest.fixture
def alice(fabrikam: Tenant) -> User:
    return make_person(fabrikam, ALICE, "Alice Archer", Role.CUSTOMER_ADMIN)


@pytest.fixture
def bob(fabrikam: Tenant) -> User:
    return make_person(fabrikam, BOB, "Bob Baker", Role.CUSTOMER_READER)


@pytest.fixture
def charlie(northwind: Tenant) -> User:
    return make_person(northwind, CHARLIE, "Charlie Cole", Role.CUSTOMER_ADMIN)


@pytest.fixture
def pat(contoso: Tenant) -> User:
    return make_person(contoso, PAT, "Pat Patel", Role.PUBLISHER_SUPPORT)


@pytest.fixture(scope="session")
def emulator_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorServer]:
    """One local Azure emulator for the session, on ephemeral ports, over HTTPS."""
    server = EmulatorServer(
        scenario="demo",
        var_dir=tmp_path_factory.mktemp("azure-emulator"),
        port=0,
        http_port=0,
        throttling=False,
    )
    server.start()
    yield server
    server.stop()


@pytest.fixture
def azure(emulator_server: EmulatorServer, settings: Settings) -> EmulatorServer:
    """The emulator, reset to the demo scenario, with the portal's Azure settings pointing at it."""
    emulator_server.set_notification_url(None)
    emulator_server.reset(scenario="demo")
    settings.ENTRA_LOGIN_URL = emulator_server.https_url
    settings.ENTRA_SIGNIN_URL = emulator_server.http_url
    settings.CONTENT_SECURITY_POLICY = content_security_policy(emulator_server.http_url)
    settings.GRAPH_URL = emulator_server.https_url
    settings.ARM_URL = emulator_server.https_url
    settings.AZURE_CA_BUNDLE = emulator_server.ca_bundle
    settings.AZURE_PORTAL_JIT_URL = (
        emulator_server.http_url + "/_portal/jitAccess?application={application_id_quoted}"
    )
    return emulator_server


def store_sign_in(azure: EmulatorServer, user: User) -> User:
    """What a sign-in leaves behind: a stored credential whose cached ARM token is fresh."""
    import datetime as dt

    from django.utils import timezone

    from accounts import crypto
    from accounts.models import EntraCredential

    token = azure.token_for(str(user.entra_object_id))
    user.email = f"{user.display_name.split()[0].lower()}@example.test"
    user.save()
    EntraCredential.objects.update_or_create(
        user=user,
        defaults={
            "refresh_token_encrypted": crypto.encrypt("not-used-while-the-token-is-fresh"),
            "arm_token_encrypted": crypto.encrypt(token),
            "arm_token_expires_at": timezone.now() + dt.timedelta(hours=1),
            "signed_in_at": timezone.now(),
        },
    )
    return user
