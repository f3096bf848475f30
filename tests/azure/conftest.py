"""An in-process emulator for the gateway tests, and gateways pointed at it through settings."""

import time

import pytest
from pytest_django import Settings

from azure_gateway import gateway_for_token, publisher_gateway, tenant_gateway
from azure_gateway.gateway import SdkAzureGateway
from emulator.server import EmulatorServer

FABRIKAM = "3197bd27-109d-45f9-bdce-8200dec65df6"
NORTHWIND = "c721af65-e2e9-4315-add6-935f3d17c8d6"
FABRIKAM_SUB = "a8c02436-e607-478d-aa9c-f223ff5aabfd"
NORTHWIND_SUB = "7de4da82-cfe9-46de-840f-81ac7c289eee"
CONTOSO_SUB = "d3abb81d-851b-4948-87e4-035350bd1eee"

ALICE = "2029a5ca-c529-486a-ba15-f25657670ce5"  # Owner of Fabrikam's subscription, JIT approver
BOB = "447c311b-ab1a-4a25-aeaf-983783794f74"  # Reader of Fabrikam's subscription
PAT = "fe96399b-4112-4390-b6f7-5d487005120c"  # publisher support, in the offers' authorizations
PUBLISHER_APP_SP = "c245099c-5407-493f-9eeb-4b52d12f3024"

OWNER = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
CONTRIBUTOR = "b24988ac-6180-42a0-ab88-20f7382dd24c"
READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7"


def app_id(subscription: str, resource_group: str, name: str) -> str:
    return (
        f"/subscriptions/{subscription}/resourceGroups/{resource_group}"
        f"/providers/Microsoft.Solutions/applications/{name}"
    )


MONITORING = app_id(FABRIKAM_SUB, "rg-monitoring", "fabrikam-monitoring")
BACKUP = app_id(FABRIKAM_SUB, "rg-backup", "fabrikam-backup")
SANDBOX = app_id(FABRIKAM_SUB, "rg-sandbox", "fabrikam-sandbox")
MONITORING_MRG = f"/subscriptions/{FABRIKAM_SUB}/resourceGroups/mrg-fabrikam-monitoring"
SANDBOX_MRG = f"/subscriptions/{FABRIKAM_SUB}/resourceGroups/mrg-fabrikam-sandbox"


@pytest.fixture
def emulator(emulator_server: EmulatorServer, settings: Settings) -> EmulatorServer:
    """The emulator, reset to the demo scenario, with the portal's settings pointing at it."""
    emulator_server.reset(scenario="demo")
    settings.ARM_URL = emulator_server.https_url
    settings.ENTRA_LOGIN_URL = emulator_server.https_url
    settings.AZURE_CA_BUNDLE = emulator_server.ca_bundle
    settings.ARM_POLLING_INTERVAL = 1
    return emulator_server


class TokenProvider:
    """What the accounts app will pass: a callable returning (access token, expires_on); it
    remembers each call."""

    def __init__(self, server: EmulatorServer, oid: str, lifetime: int) -> None:
        self.server = server
        self.oid = oid
        self.lifetime = lifetime
        self.calls: list[str] = []

    def __call__(self) -> tuple[str, int]:
        self.calls.append(self.oid)
        return self.server.token_for(self.oid, lifetime=self.lifetime), int(
            time.time()
        ) + self.lifetime


def token_provider(server: EmulatorServer, oid: str, lifetime: int = 3600) -> TokenProvider:
    return TokenProvider(server, oid, lifetime)


@pytest.fixture
def as_alice(emulator: EmulatorServer) -> SdkAzureGateway:
    return gateway_for_token(token_provider(emulator, ALICE))


@pytest.fixture
def as_bob(emulator: EmulatorServer) -> SdkAzureGateway:
    return gateway_for_token(token_provider(emulator, BOB))


@pytest.fixture
def as_pat(emulator: EmulatorServer) -> SdkAzureGateway:
    return gateway_for_token(token_provider(emulator, PAT))


@pytest.fixture
def fabrikam_app(emulator: EmulatorServer) -> SdkAzureGateway:
    """The portal's service principal in Fabrikam (Reader on its subscription)."""
    return tenant_gateway(FABRIKAM)


@pytest.fixture
def publisher_app(emulator: EmulatorServer) -> SdkAzureGateway:
    return publisher_gateway()
