"""What the authorize and token endpoints share: Entra's OAuth error, and the client, secret,
tenant and redirect URI checks."""

import datetime as dt
import urllib.parse

from werkzeug.wrappers import Response

from emulator.http import json_response
from emulator.ids import new_id
from emulator.records import AppRegistration
from emulator.state import State

MULTI_TENANT = {"organizations", "common"}


class OAuthError(Exception):
    """An Entra token-endpoint error: `{"error", "error_description": "AADSTSnnnn: ...", ...}`."""

    def __init__(self, status: int, error: str, code: int, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.error = error
        self.code = code
        self.description = description

    def response(self) -> Response:
        trace, correlation = new_id(), new_id()
        stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ")
        return json_response(
            {
                "error": self.error,
                "error_description": f"AADSTS{self.code}: {self.description} Trace ID: {trace} "
                f"Correlation ID: {correlation} Timestamp: {stamp}",
                "error_codes": [self.code],
                "timestamp": stamp,
                "trace_id": trace,
                "correlation_id": correlation,
                "error_uri": f"https://login.microsoftonline.com/error?code={self.code}",
            },
            self.status,
        )


def find_client(state: State, client_id: str, tenant: str) -> AppRegistration:
    app = state.apps.get(client_id)
    if app is None:
        raise OAuthError(
            400,
            "unauthorized_client",
            700016,
            f"Application with identifier '{client_id}' was not found in the directory '{tenant}'. "
            "This can happen if the application has not been installed by the administrator of the tenant "
            "or consented to by any user in the tenant.",
        )
    return app


def check_secret(app: AppRegistration, secret: str | None) -> None:
    if secret not in app.secrets:
        raise OAuthError(
            401,
            "invalid_client",
            7000215,
            "Invalid client secret provided. Ensure the secret being sent in the request is the client "
            f"secret value, not the client secret ID, for a secret added to app '{app.client_id}'.",
        )


def tenant_id_or_error(state: State, tenant: str) -> str | None:
    """The tenant GUID, None for organizations/common, OAuthError for an unknown tenant."""
    if tenant.lower() in MULTI_TENANT:
        return None
    known = state.tenant(tenant)
    if known is None:
        raise OAuthError(
            400,
            "invalid_request",
            90002,
            f"Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing "
            "into the correct cloud.",
        )
    return known.id


def redirect_allowed(app: AppRegistration, redirect_uri: str) -> bool:
    if redirect_uri in app.redirect_uris:
        return True
    parts = urllib.parse.urlsplit(redirect_uri)
    return parts.scheme == "http" and parts.hostname in ("127.0.0.1", "localhost")
