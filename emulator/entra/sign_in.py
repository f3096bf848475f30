"""Entra's browser pages: authorize (the sign-in page that picks a scenario person, silent sign-in,
the authorization code), admin consent, and sign-out."""

import html
import secrets
import time
import urllib.parse

from werkzeug.wrappers import Request, Response

from emulator.entra.oauth import OAuthError, find_client, redirect_allowed, tenant_id_or_error
from emulator.ids import new_id, stable_id
from emulator.records import AppRegistration, Person
from emulator.state import State

CODE_LIFETIME = 600


def authorize(state: State, request: Request, tenant: str, admin_consent: bool = False) -> Response:
    """The sign-in page; with `admin_consent` the picked person consents for their tenant."""
    params = request.values.to_dict()
    try:
        tenant_id = tenant_id_or_error(state, tenant)
        app = find_client(state, params.get("client_id", ""), tenant)
    except OAuthError as error:
        return _error_page(error)
    redirect_uri = params.get("redirect_uri", "")
    if not redirect_allowed(app, redirect_uri):
        return _error_page(
            OAuthError(
                400,
                "invalid_request",
                50011,
                f"The redirect URI '{redirect_uri}' specified in the request does not match the redirect URIs "
                f"configured for the application '{app.client_id}'.",
            )
        )
    if not admin_consent and params.get("response_type", "code") != "code":
        return _redirect_error(
            params,
            "unsupported_response_type",
            "AADSTS700054: response_type is not enabled for the application.",
        )
    with state.lock:
        people = [p for p in state.people.values() if tenant_id is None or p.tenant_id == tenant_id]
        chosen = params.get("emulator_user") if request.method == "POST" else None
        if params.get("prompt") == "none" and not chosen:
            hint = params.get("login_hint", "").lower()
            match = [p for p in people if p.upn.lower() == hint]
            if not match:
                return _redirect_error(
                    params,
                    "login_required",
                    "AADSTS50058: A silent sign-in request was sent but no user is signed in.",
                )
            chosen = match[0].oid
        if chosen and admin_consent:
            person = state.people.get(chosen)
            if person is None or person not in people:
                return _error_page(
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
            state.sp_index.clear()
            values = {"admin_consent": "True", "tenant": person.tenant_id}
            if params.get("scope"):
                values["scope"] = params["scope"]
            return _redirect(params, values)
        if chosen:
            person = state.people.get(chosen)
            if person is None or person not in people:
                return _error_page(
                    OAuthError(
                        400,
                        "invalid_request",
                        50034,
                        "The user account does not exist in this directory.",
                    )
                )
            code = secrets.token_urlsafe(32)
            state.auth_codes[code] = {
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
            return _redirect(params, {"code": code, "session_state": new_id()})
        tenants = {t.id: t.name for t in state.tenants.values()}
    return _sign_in_page(params, people, tenants, app)


def _redirect(params: dict[str, str], values: dict[str, str]) -> Response:
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


def _redirect_error(params: dict[str, str], error: str, description: str) -> Response:
    return _redirect(params, {"error": error, "error_description": description})


def _error_page(error: OAuthError) -> Response:
    body = (
        "<!doctype html><html><head><title>Sign in - error</title></head><body>"
        f"<h1>Sorry, but we're having trouble signing you in.</h1><p>AADSTS{error.code}: {html.escape(error.description)}</p>"
        "</body></html>"
    )
    return Response(body, status=400, mimetype="text/html")


def _sign_in_page(
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


def logout(request: Request) -> Response:
    target = request.args.get("post_logout_redirect_uri")
    if target:
        response = Response(status=302)
        response.headers["Location"] = target
        return response
    return Response("<!doctype html><p>You signed out of your account.</p>", mimetype="text/html")
