"""Which Entra path goes where: the HTTPS endpoints under `/{tenant}/...` (discovery, keys, token
and the browser pages), and the browser pages alone, which the plain-HTTP port serves too."""

import re

from werkzeug.wrappers import Request, Response

from emulator.entra import discovery, sign_in, token_endpoint
from emulator.entra.tokens import TokenIssuer
from emulator.http import json_response
from emulator.state import State

TENANT_PATH = re.compile(r"^/(?P<tenant>[^/]+)/(?P<rest>.+)$")


def browser_page(state: State, request: Request, tenant: str, rest: str) -> Response | None:
    """The sign-in page and its form, admin consent, sign-out; None for any other path.

    `rest` is the path after the tenant, lower-cased, without a trailing slash."""
    if rest == "oauth2/v2.0/authorize" and request.method in ("GET", "POST"):
        return sign_in.authorize(state, request, tenant)
    if rest in ("adminconsent", "v2.0/adminconsent") and request.method in ("GET", "POST"):
        return sign_in.authorize(state, request, tenant, admin_consent=True)
    if rest == "oauth2/v2.0/logout":
        return sign_in.logout(request)
    return None


def handle(issuer: TokenIssuer, request: Request, path: str) -> Response:
    """An Entra call on the HTTPS port."""
    found = TENANT_PATH.match(path)
    if not found:
        return json_response(
            {"error": "not_found", "error_description": f"No such endpoint: {path}"}, 404
        )
    tenant, rest = found.group("tenant"), found.group("rest").lower().rstrip("/")
    if rest in ("v2.0/.well-known/openid-configuration", ".well-known/openid-configuration"):
        if (
            tenant.lower() not in ("common", "organizations")
            and issuer.state.tenant(tenant) is None
        ):
            return json_response(
                {
                    "error": "invalid_tenant",
                    "error_description": f"AADSTS90002: Tenant '{tenant}' not found.",
                },
                400,
            )
        return json_response(discovery.openid_configuration(issuer, tenant))
    if rest in ("discovery/v2.0/keys", "discovery/keys"):
        return json_response(issuer.jwks())
    if rest == "discovery/instance":
        return json_response(discovery.instance_discovery(issuer, tenant))
    page = browser_page(issuer.state, request, tenant, rest)
    if page is not None:
        return page
    if rest == "oauth2/v2.0/token" and request.method == "POST":
        auth = request.authorization
        basic = (
            (auth.username or "", auth.password or "") if auth and auth.type == "basic" else None
        )
        return token_endpoint.token(issuer, tenant, request.form.to_dict(), basic)
    return json_response(
        {"error": "not_found", "error_description": f"No such endpoint: {path}"}, 404
    )
