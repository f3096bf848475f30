"""Credentials for ARM: app-only (client secret) and delegated (a token the portal already holds)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from azure.core.credentials import AccessToken, AccessTokenInfo, TokenRequestOptions
from azure.identity import ClientSecretCredential

from azure_gateway.transport import shared_transport

# Returns (access_token, expires_on as Unix seconds) for the ARM scope.
TokenProvider = Callable[[], tuple[str, int]]


class DelegatedCredential:
    """A TokenCredential over a callable that returns the signed-in person's ARM access token.

    The provider redeems the person's refresh token (the accounts app owns that); this class only
    adapts it to azure-core. The bearer policy caches the token and asks again within five minutes
    of its expiry. A provider that cannot produce a token should raise
    `azure_gateway.errors.AuthenticationFailed`; it reaches the caller unchanged.
    """

    def __init__(self, token_provider: TokenProvider) -> None:
        self._token_provider = token_provider

    def get_token(
        self,
        *scopes: str,
        claims: str | None = None,
        tenant_id: str | None = None,
        enable_cae: bool = False,
        **kwargs: Any,
    ) -> AccessToken:
        token, expires_on = self._token_provider()
        return AccessToken(token, int(expires_on))

    def get_token_info(
        self, *scopes: str, options: TokenRequestOptions | None = None
    ) -> AccessTokenInfo:
        token, expires_on = self._token_provider()
        return AccessTokenInfo(token, int(expires_on))


def client_secret_credential(
    *,
    tenant_id: str,
    client_id: str,
    client_secret: str,
    authority: str,
    ca_bundle: str | None,
) -> ClientSecretCredential:
    """An app-only credential; `disable_instance_discovery` keeps MSAL off login.microsoftonline.com
    when the authority is elsewhere (MSAL would otherwise validate it there first)."""
    options: dict[str, Any] = {
        "authority": authority,
        "disable_instance_discovery": True,
        "transport": shared_transport(ca_bundle),
    }
    if ca_bundle:
        options["connection_verify"] = ca_bundle
    return ClientSecretCredential(tenant_id, client_id, client_secret, **options)
