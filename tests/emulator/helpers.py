"""Clients wired to the in-process emulator, as the portal will build them."""

from typing import Any

from azure.core.credentials import AccessToken
from azure.identity import ClientSecretCredential
from azure.mgmt.authorization import AuthorizationManagementClient
from azure.mgmt.managedapplications import ManagedApplicationsMgmtClient

from emulator.server import EmulatorServer

ARM_SCOPE = "https://management.azure.com/.default"


class StaticToken:
    """A credential holding one delegated token (what the portal has after a user signs in)."""

    def __init__(self, token: str) -> None:
        self.token = token

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken(self.token, 2_000_000_000)


def app_credential(
    server: EmulatorServer, tenant_id: str, client_id: str, secret: str
) -> ClientSecretCredential:
    return ClientSecretCredential(
        tenant_id,
        client_id,
        secret,
        authority=server.https_url,
        disable_instance_discovery=True,
        connection_verify=server.ca_bundle,
    )


def user_credential(server: EmulatorServer, oid: str) -> StaticToken:
    return StaticToken(server.token_for(oid))


def solutions(
    server: EmulatorServer, credential: Any, subscription_id: str, **kwargs: Any
) -> ManagedApplicationsMgmtClient:
    return ManagedApplicationsMgmtClient(
        credential,
        subscription_id,
        base_url=server.https_url,
        credential_scopes=[ARM_SCOPE],
        connection_verify=server.ca_bundle,
        polling_interval=0,
        **kwargs,
    )


def authorization(
    server: EmulatorServer, credential: Any, subscription_id: str, **kwargs: Any
) -> AuthorizationManagementClient:
    return AuthorizationManagementClient(
        credential,
        subscription_id,
        base_url=server.https_url,
        credential_scopes=[ARM_SCOPE],
        connection_verify=server.ca_bundle,
        **kwargs,
    )
