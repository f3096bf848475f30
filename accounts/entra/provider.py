from __future__ import annotations

from typing import Any

from allauth.socialaccount.providers.microsoft.provider import MicrosoftGraphProvider
from django.http import HttpRequest
from django.utils.crypto import get_random_string

from accounts.entra.views import EntraOAuth2Adapter

NONCE_SESSION_KEY = "entra_sign_in_nonce"


class EntraProvider(MicrosoftGraphProvider):
    """allauth's Microsoft provider, extended to request and validate an ID token.

    The ID token gives the tenant id, object id and app roles, which the Graph profile that
    allauth reads does not carry.
    """

    id = "entra"
    name = "Microsoft Entra ID"
    oauth2_adapter_class = EntraOAuth2Adapter
    pkce_enabled_default = True

    def get_auth_params_from_request(self, request: HttpRequest, action: Any) -> dict[str, str]:
        params: dict[str, str] = super().get_auth_params_from_request(request, action)
        nonce = get_random_string(32)
        request.session[NONCE_SESSION_KEY] = nonce
        params["nonce"] = nonce
        return params

    def extract_uid(self, data: dict[str, Any]) -> str:
        # Object ids are unique within a tenant only: the person is (tenant, object id).
        return f"{data['tid']}/{data['oid']}"

    def extract_common_fields(self, data: dict[str, Any]) -> dict[str, Any]:
        return {
            "username": f"{data['tid']}/{data['oid']}",
            "email": data.get("mail") or data.get("userPrincipalName") or "",
            "first_name": data.get("givenName") or "",
            "last_name": data.get("surname") or "",
        }


provider_classes = [EntraProvider]
