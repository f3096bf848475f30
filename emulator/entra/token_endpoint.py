"""Entra's token endpoint: the authorization_code (with PKCE), refresh_token, client_credentials
and on-behalf-of grants, and the scope parsing they share."""

import base64
import datetime as dt
import hashlib
import secrets
import time
from dataclasses import dataclass
from typing import Any

import jwt
from werkzeug.wrappers import Response

from emulator.entra.oauth import OAuthError, check_secret, find_client, tenant_id_or_error
from emulator.entra.tokens import ARM_ALIASES, ARM_RESOURCE, GRAPH_RESOURCE, TokenIssuer
from emulator.http import json_response
from emulator.records import AppRegistration, Person

OIDC_SCOPES = {"openid", "profile", "email", "offline_access"}
REFRESH_LIFETIME = 90 * 24 * 3600


@dataclass(frozen=True)
class TokenRequest:
    resource: str | None  # None = only OpenID scopes
    # resource scopes as granted (e.g. https://management.azure.com/user_impersonation)
    scopes: list[str]
    oidc: set[str]


def parse_scopes(text: str, client_id: str) -> TokenRequest:
    resources: set[str] = set()
    granted: list[str] = []
    oidc: set[str] = set()
    for scope in text.split():
        if scope.lower() in OIDC_SCOPES:
            oidc.add(scope.lower())
            continue
        if scope.startswith(("https://", "api://")) or "/" in scope:
            resource, _, permission = scope.rpartition("/")
        else:
            resource, permission = GRAPH_RESOURCE, scope
        resource = resource.rstrip("/")
        if resource in ARM_ALIASES:
            resource = ARM_RESOURCE
        if resource in (client_id, f"api://{client_id}"):
            resource = client_id
        resources.add(resource)
        if resource == ARM_RESOURCE:
            granted.append(f"{ARM_RESOURCE}/user_impersonation")
        elif resource == GRAPH_RESOURCE:
            granted.append("User.Read" if permission == ".default" else permission)
        else:
            granted.append(
                f"api://{client_id}/{'access_as_user' if permission == '.default' else permission}"
            )
    if len(resources) > 1:
        raise OAuthError(
            400,
            "invalid_scope",
            28000,
            "Provided value for the input parameter scope is not valid because it contains more than one resource.",
        )
    return TokenRequest(next(iter(resources), None), sorted(set(granted)), oidc)


def token(
    issuer: TokenIssuer, tenant: str, form: dict[str, str], basic: tuple[str, str] | None
) -> Response:
    try:
        return json_response(
            _token(issuer, tenant, form, basic), headers={"Cache-Control": "no-store"}
        )
    except OAuthError as error:
        return error.response()


def _token(
    issuer: TokenIssuer, tenant: str, form: dict[str, str], basic: tuple[str, str] | None
) -> dict[str, Any]:
    tenant_id = tenant_id_or_error(issuer.state, tenant)
    client_id = form.get("client_id") or (basic[0] if basic else "")
    secret = form.get("client_secret") or (basic[1] if basic else None)
    app = find_client(issuer.state, client_id, tenant)
    check_secret(app, secret)
    grant = form.get("grant_type", "")
    with issuer.state.lock:
        if grant == "client_credentials":
            return _client_credentials(issuer, app, tenant_id, tenant, form)
        if grant == "authorization_code":
            return _authorization_code(issuer, app, tenant_id, form)
        if grant == "refresh_token":
            return _refresh(issuer, app, tenant_id, form)
        if grant == "urn:ietf:params:oauth:grant-type:jwt-bearer":
            return _on_behalf_of(issuer, app, tenant_id, form)
    raise OAuthError(
        400,
        "unsupported_grant_type",
        70003,
        f"The app requested an unsupported grant type '{grant}'.",
    )


def _client_credentials(
    issuer: TokenIssuer,
    app: AppRegistration,
    tenant_id: str | None,
    tenant: str,
    form: dict[str, str],
) -> dict[str, Any]:
    scope = form.get("scope", "")
    if not scope.endswith("/.default"):
        raise OAuthError(
            400,
            "invalid_scope",
            1002012,
            f"The provided value for scope {scope} is not valid. Client credential flows must have a scope "
            "value with /.default suffixed to the resource identifier (application ID URI).",
        )
    if tenant_id is None:
        raise OAuthError(
            400,
            "invalid_request",
            50059,
            "No tenant-identifying information found in either the request or implied by any provided credentials.",
        )
    sp_oid = app.service_principals.get(tenant_id)
    if sp_oid is None:
        raise OAuthError(
            400,
            "unauthorized_client",
            700016,
            f"Application with identifier '{app.client_id}' was not found in the directory '{tenant}'.",
        )
    request = parse_scopes(scope, app.client_id)
    audience = request.resource or GRAPH_RESOURCE
    return {
        "token_type": "Bearer",
        "expires_in": issuer.token_lifetime,
        "ext_expires_in": issuer.token_lifetime,
        "access_token": issuer.access_token(
            tenant_id=tenant_id, oid=sp_oid, audience=audience, app_id=app.client_id
        ),
    }


def _user_tokens(
    issuer: TokenIssuer,
    app: AppRegistration,
    person: Person,
    request: TokenRequest,
    nonce: str | None,
) -> dict[str, Any]:
    audience = request.resource or GRAPH_RESOURCE
    scopes = request.scopes or ["User.Read"]
    body: dict[str, Any] = {
        "token_type": "Bearer",
        "scope": " ".join(scopes + sorted(request.oidc - {"offline_access"})),
        "expires_in": issuer.token_lifetime,
        "ext_expires_in": issuer.token_lifetime,
        "access_token": issuer.access_token(
            tenant_id=person.tenant_id,
            oid=person.oid,
            audience=audience,
            app_id=app.client_id,
            scopes=scopes,
        ),
    }
    if "openid" in request.oidc:
        body["id_token"] = issuer.id_token(person, app.client_id, nonce)
    if "offline_access" in request.oidc:
        refresh = secrets.token_urlsafe(48)
        issuer.state.refresh_tokens[refresh] = {
            "client_id": app.client_id,
            "oid": person.oid,
            "expires_at": time.time() + REFRESH_LIFETIME,
        }
        body["refresh_token"] = refresh
    return body


def _authorization_code(
    issuer: TokenIssuer, app: AppRegistration, tenant_id: str | None, form: dict[str, str]
) -> dict[str, Any]:
    code = issuer.state.auth_codes.get(form.get("code", ""))
    if code is None or code["client_id"] != app.client_id or time.time() > code["expires_at"]:
        raise OAuthError(
            400,
            "invalid_grant",
            70008,
            "The provided authorization code or refresh token has expired due to inactivity. Send a new "
            "interactive authorization request for this user and resource.",
        )
    if code["used"]:
        raise OAuthError(
            400,
            "invalid_grant",
            54005,
            "OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an "
            "existing refresh token.",
        )
    code["used"] = True
    if form.get("redirect_uri", "") != code["redirect_uri"]:
        raise OAuthError(
            400,
            "invalid_grant",
            50011,
            f"The redirect URI '{form.get('redirect_uri', '')}' specified in the request does not match the "
            f"redirect URI used to obtain the authorization code for the application '{app.client_id}'.",
        )
    if code["code_challenge"]:
        verifier = form.get("code_verifier", "")
        if code["code_challenge_method"] == "S256":
            digest = hashlib.sha256(verifier.encode()).digest()
            computed = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
        else:
            computed = verifier
        if computed != code["code_challenge"]:
            raise OAuthError(
                400,
                "invalid_grant",
                50148,
                "The code_verifier does not match the code_challenge supplied in the authorization request for PKCE.",
            )
    person = issuer.state.people[code["oid"]]
    if tenant_id and tenant_id != person.tenant_id:
        raise OAuthError(
            400,
            "invalid_grant",
            50020,
            f"User account '{person.upn}' does not exist in tenant '{tenant_id}'.",
        )
    request = parse_scopes(form.get("scope") or code["scope"], app.client_id)
    return _user_tokens(issuer, app, person, request, code["nonce"])


def _refresh(
    issuer: TokenIssuer, app: AppRegistration, tenant_id: str | None, form: dict[str, str]
) -> dict[str, Any]:
    record = issuer.state.refresh_tokens.get(form.get("refresh_token", ""))
    if record is None or record["client_id"] != app.client_id:
        raise OAuthError(
            400,
            "invalid_grant",
            9002313,
            "Invalid request. Request is malformed or invalid. - [The refresh token is invalid or was issued to another client.]",
        )
    if time.time() > record["expires_at"]:
        raise OAuthError(
            400,
            "invalid_grant",
            700082,
            "The refresh token has expired due to inactivity. The token was issued on "
            f"{dt.datetime.fromtimestamp(record['expires_at'] - REFRESH_LIFETIME, dt.UTC).isoformat()} and was "
            "inactive for 90.00:00:00.",
        )
    person = issuer.state.people[record["oid"]]
    request = parse_scopes(form.get("scope", ""), app.client_id)
    request = TokenRequest(request.resource, request.scopes, request.oidc | {"offline_access"})
    return _user_tokens(issuer, app, person, request, None)


def _on_behalf_of(
    issuer: TokenIssuer, app: AppRegistration, tenant_id: str | None, form: dict[str, str]
) -> dict[str, Any]:
    if form.get("requested_token_use") != "on_behalf_of":
        raise OAuthError(
            400,
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'requested_token_use'.",
        )
    try:
        claims = issuer.verify(form.get("assertion", ""), [app.client_id, f"api://{app.client_id}"])
    except jwt.InvalidTokenError as exc:
        raise OAuthError(
            400,
            "invalid_grant",
            50013,
            f"Assertion failed signature validation or is invalid. [{exc}]",
        ) from exc
    person = issuer.state.people.get(claims["oid"])
    if person is None:
        raise OAuthError(400, "invalid_grant", 50013, "The assertion is not a user token.")
    request = parse_scopes(form.get("scope", ""), app.client_id)
    return _user_tokens(issuer, app, person, request, None)
