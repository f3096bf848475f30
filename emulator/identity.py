"""Entra ID v2.0 endpoints (discovery, JWKS, authorize with a sign-in page, token) and Graph."""

import base64
import datetime as dt
import hashlib
import html
import secrets
import threading
import time
import urllib.parse
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from werkzeug.wrappers import Request, Response

from emulator.http import json_response
from emulator.ids import new_id, stable_id
from emulator.records import AppRegistration, Person
from emulator.state import State

ARM_RESOURCE = "https://management.azure.com"
GRAPH_RESOURCE = "https://graph.microsoft.com"
ARM_ALIASES = {ARM_RESOURCE, "https://management.core.windows.net"}
OIDC_SCOPES = {"openid", "profile", "email", "offline_access"}
MULTI_TENANT = {"organizations", "common"}
CODE_LIFETIME = 600
REFRESH_LIFETIME = 90 * 24 * 3600
VERIFIED_TOKENS_KEPT = 4096  # verified access tokens remembered (each client resends its own)
P2_SKU = {
    "skuId": "84a661c4-e949-4bd2-a560-ed7766fcaf2b",
    "skuPartNumber": "AAD_PREMIUM_P2",
    "servicePlans": [
        {
            "servicePlanId": "eec0eb4f-6444-4f95-aba0-50c24d67f998",
            "servicePlanName": "AAD_PREMIUM_P2",
            "provisioningStatus": "Success",
            "appliesTo": "User",
        },
        {
            "servicePlanId": "41781fb2-bc02-4b7c-bd55-b576c07bb09d",
            "servicePlanName": "AAD_PREMIUM",
            "provisioningStatus": "Success",
            "appliesTo": "User",
        },
    ],
}
P1_SKU = {
    "skuId": "078d2b04-f1bd-4111-bbd4-b4b1b354cef4",
    "skuPartNumber": "AAD_PREMIUM",
    "servicePlans": [
        {
            "servicePlanId": "41781fb2-bc02-4b7c-bd55-b576c07bb09d",
            "servicePlanName": "AAD_PREMIUM",
            "provisioningStatus": "Success",
            "appliesTo": "User",
        },
    ],
}


def _times_hold(claims: dict[str, Any], now: float) -> bool:
    """The checks jwt.decode makes on a token's times (no leeway): issued, valid and unexpired."""
    return claims["iat"] <= now and claims.get("nbf", claims["iat"]) <= now < claims["exp"]


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


@dataclass(frozen=True)
class TokenRequest:
    resource: str | None  # None = only OpenID scopes
    scopes: list[
        str
    ]  # resource scopes as granted (e.g. https://management.azure.com/user_impersonation)
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


class Identity:
    """Issues and verifies RS256 tokens and serves the Entra and Graph endpoints."""

    def __init__(self, state: State, key: rsa.RSAPrivateKey, token_lifetime: int = 3600) -> None:
        self.state = state
        self.key = key
        self.token_lifetime = token_lifetime
        public = key.public_key().public_numbers()
        self.kid = hashlib.sha256(str(public.n).encode()).hexdigest()[:32]
        self.https_base = ""
        self.http_base = ""
        # (token, audiences) -> claims of tokens whose signature and claims checked out
        self._verified: dict[tuple[str, tuple[str, ...]], dict[str, Any]] = {}
        self._verified_lock = threading.Lock()

    # Tokens ------------------------------------------------------------------------------------

    def issuer(self, tenant_id: str) -> str:
        return f"{self.https_base}/{tenant_id}/v2.0"

    def sign(self, claims: dict[str, Any]) -> str:
        return jwt.encode(
            claims, self.key, algorithm="RS256", headers={"kid": self.kid, "typ": "JWT"}
        )

    def access_token(
        self,
        *,
        tenant_id: str,
        oid: str,
        audience: str,
        app_id: str,
        scopes: list[str] | None = None,
        lifetime: int | None = None,
    ) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "aud": audience,
            "iss": self.issuer(tenant_id),
            "iat": now,
            "nbf": now,
            "exp": now + (lifetime if lifetime is not None else self.token_lifetime),
            "tid": tenant_id,
            "oid": oid,
            "sub": oid,
            "appid": app_id,
            "azp": app_id,
            "ver": "2.0",
            "uti": secrets.token_urlsafe(16),
        }
        person = self.state.people.get(oid)
        if person:
            claims.update(
                idtyp="user",
                name=person.name,
                preferred_username=person.upn,
                upn=person.upn,
                scp=" ".join(s.rpartition("/")[2] for s in (scopes or [])) or "user_impersonation",
            )
        else:
            claims.update(idtyp="app", roles=[])
        return self.sign(claims)

    def id_token(self, person: Person, client_id: str, nonce: str | None) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "aud": client_id,
            "iss": self.issuer(person.tenant_id),
            "iat": now,
            "nbf": now,
            "exp": now + self.token_lifetime,
            "tid": person.tenant_id,
            "oid": person.oid,
            "sub": stable_id("pairwise", client_id, person.oid).replace("-", ""),
            "name": person.name,
            "preferred_username": person.upn,
            "email": person.upn,
            "ver": "2.0",
        }
        if person.roles:  # Entra leaves the claim out when no app role is assigned
            claims["roles"] = list(person.roles)
        if nonce:
            claims["nonce"] = nonce
        return self.sign(claims)

    def verify(self, token: str, audiences: list[str]) -> dict[str, Any]:
        """Decode a token this emulator issued; raises jwt.InvalidTokenError otherwise.

        A client sends the same token with every call until it expires, and checking the RSA
        signature is most of an ARM call's work, so a token that passed is remembered by its exact
        text and the audiences asked for. While its times still hold it is not decoded again;
        once they do not, it is, and fails as it would have. Revocation is checked every time.
        """
        key = (token, tuple(audiences))
        claims = self._verified.get(key)
        if claims is None or not _times_hold(claims, time.time()):
            claims = jwt.decode(
                token,
                self.key.public_key(),
                algorithms=["RS256"],
                audience=audiences,
                options={"require": ["exp", "iat", "tid", "oid"], "verify_iss": False},
            )
            self._remember(key, claims)
        if claims["iat"] < self.state.tokens_not_before:
            raise jwt.ExpiredSignatureError("token revoked by the emulator control API")
        return dict(claims)

    def _remember(self, key: tuple[str, tuple[str, ...]], claims: dict[str, Any]) -> None:
        with self._verified_lock:
            if len(self._verified) >= VERIFIED_TOKENS_KEPT:
                # Make room in one sweep: drop expired tokens, then the older half of the rest.
                now = time.time()
                live = [(k, c) for k, c in self._verified.items() if _times_hold(c, now)]
                self._verified = dict(live[-(VERIFIED_TOKENS_KEPT // 2) :])
            self._verified[key] = claims

    def jwks(self) -> dict[str, Any]:
        numbers = self.key.public_key().public_numbers()

        def b64(value: int) -> str:
            raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
            return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

        return {
            "keys": [
                {
                    "kty": "RSA",
                    "use": "sig",
                    "kid": self.kid,
                    "x5t": self.kid,
                    "n": b64(numbers.n),
                    "e": b64(numbers.e),
                    "alg": "RS256",
                }
            ]
        }

    # Endpoints ---------------------------------------------------------------------------------

    def openid_configuration(self, tenant: str) -> dict[str, Any]:
        known = self.state.tenant(tenant)
        tid = known.id if known else "{tenantid}"
        return {
            "token_endpoint": f"{self.https_base}/{tenant}/oauth2/v2.0/token",
            "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
            "jwks_uri": f"{self.https_base}/{tenant}/discovery/v2.0/keys",
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "issuer": f"{self.https_base}/{tid}/v2.0",
            "request_uri_parameter_supported": False,
            "userinfo_endpoint": f"{self.https_base}/oidc/userinfo",
            "authorization_endpoint": f"{self.http_base}/{tenant}/oauth2/v2.0/authorize",
            "device_authorization_endpoint": f"{self.https_base}/{tenant}/oauth2/v2.0/devicecode",
            "http_logout_supported": True,
            "frontchannel_logout_supported": True,
            "end_session_endpoint": f"{self.http_base}/{tenant}/oauth2/v2.0/logout",
            "claims_supported": [
                "sub",
                "iss",
                "aud",
                "exp",
                "iat",
                "nonce",
                "preferred_username",
                "name",
                "tid",
                "ver",
                "oid",
                "roles",
                "email",
            ],
            "kerberos_endpoint": f"{self.https_base}/{tenant}/kerberos",
            "tenant_region_scope": "EU" if known else None,
            "cloud_instance_name": "microsoftonline.com",
            "cloud_graph_host_name": "graph.windows.net",
            "msgraph_host": "graph.microsoft.com",
            "rbac_url": "https://pas.windows.net",
        }

    def _client(self, client_id: str, tenant: str) -> AppRegistration:
        app = self.state.apps.get(client_id)
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

    def _check_secret(self, app: AppRegistration, secret: str | None) -> None:
        if secret not in app.secrets:
            raise OAuthError(
                401,
                "invalid_client",
                7000215,
                "Invalid client secret provided. Ensure the secret being sent in the request is the client "
                f"secret value, not the client secret ID, for a secret added to app '{app.client_id}'.",
            )

    def _tenant_or_error(self, tenant: str) -> str | None:
        """The tenant GUID, None for organizations/common, OAuthError for an unknown tenant."""
        if tenant.lower() in MULTI_TENANT:
            return None
        known = self.state.tenant(tenant)
        if known is None:
            raise OAuthError(
                400,
                "invalid_request",
                90002,
                f"Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing "
                "into the correct cloud.",
            )
        return known.id

    def redirect_allowed(self, app: AppRegistration, redirect_uri: str) -> bool:
        if redirect_uri in app.redirect_uris:
            return True
        parts = urllib.parse.urlsplit(redirect_uri)
        return parts.scheme == "http" and parts.hostname in ("127.0.0.1", "localhost")

    def token(self, tenant: str, form: dict[str, str], basic: tuple[str, str] | None) -> Response:
        try:
            return json_response(
                self._token(tenant, form, basic), headers={"Cache-Control": "no-store"}
            )
        except OAuthError as error:
            return error.response()

    def _token(
        self, tenant: str, form: dict[str, str], basic: tuple[str, str] | None
    ) -> dict[str, Any]:
        tenant_id = self._tenant_or_error(tenant)
        client_id = form.get("client_id") or (basic[0] if basic else "")
        secret = form.get("client_secret") or (basic[1] if basic else None)
        app = self._client(client_id, tenant)
        self._check_secret(app, secret)
        grant = form.get("grant_type", "")
        with self.state.lock:
            if grant == "client_credentials":
                return self._client_credentials(app, tenant_id, tenant, form)
            if grant == "authorization_code":
                return self._authorization_code(app, tenant_id, form)
            if grant == "refresh_token":
                return self._refresh(app, tenant_id, form)
            if grant == "urn:ietf:params:oauth:grant-type:jwt-bearer":
                return self._on_behalf_of(app, tenant_id, form)
        raise OAuthError(
            400,
            "unsupported_grant_type",
            70003,
            f"The app requested an unsupported grant type '{grant}'.",
        )

    def _client_credentials(
        self, app: AppRegistration, tenant_id: str | None, tenant: str, form: dict[str, str]
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
            "expires_in": self.token_lifetime,
            "ext_expires_in": self.token_lifetime,
            "access_token": self.access_token(
                tenant_id=tenant_id, oid=sp_oid, audience=audience, app_id=app.client_id
            ),
        }

    def _user_tokens(
        self, app: AppRegistration, person: Person, request: TokenRequest, nonce: str | None
    ) -> dict[str, Any]:
        audience = request.resource or GRAPH_RESOURCE
        scopes = request.scopes or ["User.Read"]
        body: dict[str, Any] = {
            "token_type": "Bearer",
            "scope": " ".join(scopes + sorted(request.oidc - {"offline_access"})),
            "expires_in": self.token_lifetime,
            "ext_expires_in": self.token_lifetime,
            "access_token": self.access_token(
                tenant_id=person.tenant_id,
                oid=person.oid,
                audience=audience,
                app_id=app.client_id,
                scopes=scopes,
            ),
        }
        if "openid" in request.oidc:
            body["id_token"] = self.id_token(person, app.client_id, nonce)
        if "offline_access" in request.oidc:
            refresh = secrets.token_urlsafe(48)
            self.state.refresh_tokens[refresh] = {
                "client_id": app.client_id,
                "oid": person.oid,
                "expires_at": time.time() + REFRESH_LIFETIME,
            }
            body["refresh_token"] = refresh
        return body

    def _authorization_code(
        self, app: AppRegistration, tenant_id: str | None, form: dict[str, str]
    ) -> dict[str, Any]:
        code = self.state.auth_codes.get(form.get("code", ""))
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
        person = self.state.people[code["oid"]]
        if tenant_id and tenant_id != person.tenant_id:
            raise OAuthError(
                400,
                "invalid_grant",
                50020,
                f"User account '{person.upn}' does not exist in tenant '{tenant_id}'.",
            )
        request = parse_scopes(form.get("scope") or code["scope"], app.client_id)
        return self._user_tokens(app, person, request, code["nonce"])

    def _refresh(
        self, app: AppRegistration, tenant_id: str | None, form: dict[str, str]
    ) -> dict[str, Any]:
        record = self.state.refresh_tokens.get(form.get("refresh_token", ""))
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
        person = self.state.people[record["oid"]]
        request = parse_scopes(form.get("scope", ""), app.client_id)
        request = TokenRequest(request.resource, request.scopes, request.oidc | {"offline_access"})
        return self._user_tokens(app, person, request, None)

    def _on_behalf_of(
        self, app: AppRegistration, tenant_id: str | None, form: dict[str, str]
    ) -> dict[str, Any]:
        if form.get("requested_token_use") != "on_behalf_of":
            raise OAuthError(
                400,
                "invalid_request",
                900144,
                "The request body must contain the following parameter: 'requested_token_use'.",
            )
        try:
            claims = self.verify(
                form.get("assertion", ""), [app.client_id, f"api://{app.client_id}"]
            )
        except jwt.InvalidTokenError as exc:
            raise OAuthError(
                400,
                "invalid_grant",
                50013,
                f"Assertion failed signature validation or is invalid. [{exc}]",
            ) from exc
        person = self.state.people.get(claims["oid"])
        if person is None:
            raise OAuthError(400, "invalid_grant", 50013, "The assertion is not a user token.")
        request = parse_scopes(form.get("scope", ""), app.client_id)
        return self._user_tokens(app, person, request, None)

    # Interactive sign-in -----------------------------------------------------------------------

    def authorize(self, request: Request, tenant: str, admin_consent: bool = False) -> Response:
        """The sign-in page; with `admin_consent` the picked person consents for their tenant."""
        params = request.values.to_dict()
        try:
            tenant_id = self._tenant_or_error(tenant)
            app = self._client(params.get("client_id", ""), tenant)
        except OAuthError as error:
            return self._error_page(error)
        redirect_uri = params.get("redirect_uri", "")
        if not self.redirect_allowed(app, redirect_uri):
            return self._error_page(
                OAuthError(
                    400,
                    "invalid_request",
                    50011,
                    f"The redirect URI '{redirect_uri}' specified in the request does not match the redirect URIs "
                    f"configured for the application '{app.client_id}'.",
                )
            )
        if not admin_consent and params.get("response_type", "code") != "code":
            return self._redirect_error(
                params,
                "unsupported_response_type",
                "AADSTS700054: response_type is not enabled for the application.",
            )
        with self.state.lock:
            people = [
                p
                for p in self.state.people.values()
                if tenant_id is None or p.tenant_id == tenant_id
            ]
            chosen = params.get("emulator_user") if request.method == "POST" else None
            if params.get("prompt") == "none" and not chosen:
                hint = params.get("login_hint", "").lower()
                match = [p for p in people if p.upn.lower() == hint]
                if not match:
                    return self._redirect_error(
                        params,
                        "login_required",
                        "AADSTS50058: A silent sign-in request was sent but no user is signed in.",
                    )
                chosen = match[0].oid
            if chosen and admin_consent:
                person = self.state.people.get(chosen)
                if person is None or person not in people:
                    return self._error_page(
                        OAuthError(
                            400,
                            "invalid_request",
                            50034,
                            "The user account does not exist in this directory.",
                        )
                    )
                # Consent creates the app's service principal in the consenting tenant.
                app.service_principals.setdefault(
                    person.tenant_id,
                    stable_id("service-principal", app.client_id, person.tenant_id),
                )
                self.state.sp_index.clear()
                values = {"admin_consent": "True", "tenant": person.tenant_id}
                if params.get("scope"):
                    values["scope"] = params["scope"]
                return self._redirect(params, values)
            if chosen:
                person = self.state.people.get(chosen)
                if person is None or person not in people:
                    return self._error_page(
                        OAuthError(
                            400,
                            "invalid_request",
                            50034,
                            "The user account does not exist in this directory.",
                        )
                    )
                code = secrets.token_urlsafe(32)
                self.state.auth_codes[code] = {
                    "client_id": app.client_id,
                    "redirect_uri": redirect_uri,
                    "scope": params.get("scope", ""),
                    "oid": person.oid,
                    "nonce": params.get("nonce"),
                    "code_challenge": params.get("code_challenge"),
                    "code_challenge_method": params.get("code_challenge_method", "plain"),
                    "expires_at": time.time() + CODE_LIFETIME,
                    "used": False,
                }
                return self._redirect(params, {"code": code, "session_state": new_id()})
            tenants = {t.id: t.name for t in self.state.tenants.values()}
        return self._sign_in_page(params, people, tenants, app)

    def _redirect(self, params: dict[str, str], values: dict[str, str]) -> Response:
        if params.get("state") is not None:
            values["state"] = params["state"]
        redirect_uri = params["redirect_uri"]
        if params.get("response_mode") == "form_post":
            fields = "".join(
                f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
                for k, v in values.items()
            )
            page = (
                f'<html><body onload="document.forms[0].submit()"><form method="post" action="{html.escape(redirect_uri)}">'
                f"{fields}<noscript><button>Continue</button></noscript></form></body></html>"
            )
            return Response(page, mimetype="text/html")
        separator = "&" if "?" in redirect_uri else "?"
        response = Response(status=302)
        response.headers["Location"] = redirect_uri + separator + urllib.parse.urlencode(values)
        return response

    def _redirect_error(self, params: dict[str, str], error: str, description: str) -> Response:
        return self._redirect(params, {"error": error, "error_description": description})

    def _error_page(self, error: OAuthError) -> Response:
        body = (
            "<!doctype html><html><head><title>Sign in - error</title></head><body>"
            f"<h1>Sorry, but we're having trouble signing you in.</h1><p>AADSTS{error.code}: {html.escape(error.description)}</p>"
            "</body></html>"
        )
        return Response(body, status=400, mimetype="text/html")

    def _sign_in_page(
        self,
        params: dict[str, str],
        people: list[Person],
        tenants: dict[str, str],
        app: AppRegistration,
    ) -> Response:
        hidden = "".join(
            f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
            for k, v in params.items()
            if k != "emulator_user"
        )
        hint = params.get("login_hint", "").lower()
        rows = []
        for person in sorted(people, key=lambda p: (tenants.get(p.tenant_id, ""), p.name)):
            roles = ", ".join(person.roles) or "no app role"
            marker = " autofocus" if person.upn.lower() == hint else ""
            rows.append(
                f'<li><button type="submit" name="emulator_user" value="{person.oid}"{marker}>'
                f"<strong>{html.escape(person.name)}</strong> &lt;{html.escape(person.upn)}&gt;</button> "
                f"<small>{html.escape(tenants.get(person.tenant_id, ''))} &middot; {html.escape(roles)}</small></li>"
            )
        body = (
            "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>Sign in to your account</title>"
            "<style>body{font-family:system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem}"
            "li{list-style:none;margin:.5rem 0}button{font:inherit;padding:.4rem .8rem;cursor:pointer}"
            "small{color:#555}</style></head><body>"
            f"<h1>Sign in</h1><p>to <strong>{html.escape(app.name)}</strong> (local Azure emulator). Pick an account:</p>"
            f"<form method='post'>{hidden}<ul>{''.join(rows) or '<li>No accounts in this tenant.</li>'}</ul></form>"
            "</body></html>"
        )
        return Response(body, mimetype="text/html")

    def logout(self, request: Request) -> Response:
        target = request.args.get("post_logout_redirect_uri")
        if target:
            response = Response(status=302)
            response.headers["Location"] = target
            return response
        return Response(
            "<!doctype html><p>You signed out of your account.</p>", mimetype="text/html"
        )

    # Graph -------------------------------------------------------------------------------------

    def graph(self, request: Request, path: str) -> Response:
        header = request.headers.get("Authorization", "")
        try:
            claims = self.verify(
                header.removeprefix("Bearer ").strip(),
                [GRAPH_RESOURCE, "00000003-0000-0000-c000-000000000000"],
            )
        except jwt.InvalidTokenError as exc:
            return json_response(
                {
                    "error": {
                        "code": "InvalidAuthenticationToken",
                        "message": f"Access token validation failure. {exc}",
                    }
                },
                401,
            )
        with self.state.lock:
            tenant = self.state.tenants.get(claims["tid"])
            person = self.state.people.get(claims["oid"])
            lowered = path.lower().rstrip("/")
            if lowered == "/v1.0/me":
                if person is None:
                    return json_response(
                        {
                            "error": {
                                "code": "BadRequest",
                                "message": "/me request is only valid with delegated authentication flow.",
                            }
                        },
                        400,
                    )
                return json_response(graph_user(person))
            if lowered == "/v1.0/subscribedskus":
                skus = (
                    [P2_SKU, P1_SKU]
                    if tenant and tenant.p2
                    else [P1_SKU]
                    if tenant and tenant.kind == "customer"
                    else []
                )
                return json_response(
                    {
                        "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#subscribedSkus",
                        "value": [
                            {
                                "accountId": claims["tid"],
                                "accountName": tenant.name if tenant else "",
                                "appliesTo": "User",
                                "capabilityStatus": "Enabled",
                                "consumedUnits": 10,
                                "id": f"{claims['tid']}_{sku['skuId']}",
                                "prepaidUnits": {
                                    "enabled": 25,
                                    "suspended": 0,
                                    "warning": 0,
                                    "lockedOut": 0,
                                },
                                "servicePlans": sku["servicePlans"],
                                "skuId": sku["skuId"],
                                "skuPartNumber": sku["skuPartNumber"],
                                "subscribedSkus": [],
                            }
                            for sku in skus
                        ],
                    }
                )
            if lowered == "/v1.0/organization" and tenant:
                return json_response(
                    {
                        "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#organization",
                        "value": [
                            {
                                "id": tenant.id,
                                "displayName": tenant.name,
                                "verifiedDomains": [
                                    {
                                        "name": tenant.domain,
                                        "isDefault": True,
                                        "isInitial": True,
                                        "type": "Managed",
                                    }
                                ],
                            }
                        ],
                    }
                )
        return json_response(
            {
                "error": {
                    "code": "Request_ResourceNotFound",
                    "message": f"Resource '{path}' does not exist.",
                }
            },
            404,
        )


def graph_user(person: Person) -> dict[str, Any]:
    return {
        "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users/$entity",
        "businessPhones": [],
        "displayName": person.name,
        "givenName": person.given_name,
        "jobTitle": person.job_title,
        "mail": person.upn,
        "mobilePhone": None,
        "officeLocation": None,
        "preferredLanguage": "en-US",
        "surname": person.surname,
        "userPrincipalName": person.upn,
        "mailNickname": person.upn.split("@")[0],
        "companyName": None,
        "id": person.oid,
    }
