"""ARM's request pipeline: the route table of every resource-provider module, the caller from its
bearer token, the api-version check, throttling, and the ids and rate-limit headers ARM adds."""

import datetime as dt
import functools
import re
from typing import TYPE_CHECKING

import jwt
from werkzeug.wrappers import Request, Response

from emulator import jit
from emulator.arm import (
    application_definitions,
    applications,
    jit_requests,
    operations,
    pim,
    rbac,
    resources,
)
from emulator.arm.core import ArmContext, Route, check_api_version
from emulator.authz import Principal
from emulator.entra.tokens import ARM_ALIASES
from emulator.http import ArmError, error_response
from emulator.ids import new_id

if TYPE_CHECKING:
    from emulator.server import EmulatorServer

ROUTES: list[Route] = [
    *operations.routes(),
    *applications.routes(),
    *application_definitions.routes(),
    *jit_requests.routes(),
    *rbac.routes(),
    *pim.routes(),
    *resources.routes(),
]
SUBSCRIPTION_PATH = re.compile(r"^/subscriptions/([^/]+)", re.IGNORECASE)
ARM_AUDIENCES = [*ARM_ALIASES, *(a + "/" for a in ARM_ALIASES)]


def handle(server: "EmulatorServer", request: Request, path: str) -> Response:
    """An ARM call: route, authenticate, check the api-version, throttle, run the handler under
    the state lock, and add ARM's response headers."""
    request_id = new_id()
    extra: dict[str, str] = {}
    try:
        response = _call(server, request, path, extra)
    except ArmError as error:
        response = error_response(error)
    # No handler sets ARM's request ids, so they are added without looking for earlier values.
    response.headers.add("x-ms-request-id", request_id)
    response.headers.add(
        "x-ms-correlation-request-id",
        request.headers.get("x-ms-correlation-request-id", request_id),
    )
    response.headers.add(
        "x-ms-routing-request-id",
        f"WESTEUROPE:{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%SZ}:{request_id}",
    )
    client_request_id = request.headers.get("x-ms-client-request-id")
    if client_request_id:
        response.headers.add("x-ms-client-request-id", client_request_id)
    for key, value in extra.items():
        response.headers.setdefault(key, value)
    response.headers["Cache-Control"] = "no-cache"
    return response


def _call(server: "EmulatorServer", request: Request, path: str, extra: dict[str, str]) -> Response:
    route, route_params, path_known = find_route(request.method, path)
    principal = authenticate(server, request)
    if route is None:
        if path_known:
            raise ArmError(
                405,
                "MethodNotAllowed",
                f"The requested resource does not support http method '{request.method}'.",
            )
        raise ArmError(
            404,
            "InvalidResourceType",
            f"The resource type could not be found for path '{path}'.",
        )
    params = dict(route_params)
    query = {k.lower(): v for k, v in request.args.items()}
    version = check_api_version(route.family, query)
    kind = "writes" if route.write else "reads"
    sub = SUBSCRIPTION_PATH.match(path)
    verdict = server.throttle.take(
        sub.group(1).lower() if sub else principal.tenant_id, principal.oid, kind
    )
    limit_header = f"x-ms-ratelimit-remaining-{'subscription' if sub else 'tenant'}-{kind}"
    extra[limit_header] = str(verdict.remaining)
    if not verdict.allowed:
        raise ArmError(
            429,
            "TooManyRequests",
            f"Number of '{kind[:-1]}' requests for subscription '{sub.group(1) if sub else ''}' actor '{principal.oid}' "
            "exceeded. Please try again after some time.",
            headers={"Retry-After": str(verdict.retry_after)},
        )
    ctx = ArmContext(
        request, server.state, server.https_url, path, params, principal, query, version
    )
    with server.state.lock:
        jit.tick(server.state)
        return route.handler(ctx)


def authenticate(server: "EmulatorServer", request: Request) -> Principal:
    """The caller of an ARM request, from its bearer token, or ARM's 401."""
    header = request.headers.get("Authorization", "")
    if not header.lower().startswith("bearer "):
        raise ArmError(
            401,
            "AuthenticationFailed",
            "Authentication failed. The 'Authorization' header is missing.",
            headers={
                "WWW-Authenticate": f'Bearer authorization_uri="{server.https_url}/common", error="invalid_token", error_description="The authentication failed because of missing \'Authorization\' header."'
            },
        )
    try:
        claims = server.identity.verify(header[7:].strip(), ARM_AUDIENCES)
    except jwt.ExpiredSignatureError as exc:
        raise expired_token_error(server.https_url) from exc
    except jwt.InvalidTokenError as exc:
        raise ArmError(
            401,
            "InvalidAuthenticationToken",
            f"The access token is invalid. ({exc})",
            headers={
                "WWW-Authenticate": f'Bearer authorization_uri="{server.https_url}/common", error="invalid_token", error_description="The access token is invalid."'
            },
        ) from exc
    return Principal(
        oid=claims["oid"],
        tenant_id=claims["tid"],
        app_id=claims.get("appid", ""),
        name=claims.get("name", ""),
        is_app=claims.get("idtyp") == "app",
    )


def expired_token_error(https_url: str) -> ArmError:
    """401 ExpiredAuthenticationToken, as ARM answers an expired bearer token."""
    now = dt.datetime.now(dt.UTC).strftime("%m/%d/%Y %H:%M:%S")
    return ArmError(
        401,
        "ExpiredAuthenticationToken",
        f"The access token expiry UTC time '{now}' is earlier than current UTC time '{now}'.",
        headers={
            "WWW-Authenticate": f'Bearer authorization_uri="{https_url}/common", error="invalid_token", error_description="The access token has expired."'
        },
    )


@functools.lru_cache(maxsize=16_384)  # the routes never change; clients repeat their paths
def find_route(method: str, path: str) -> tuple[Route | None, tuple[tuple[str, str], ...], bool]:
    """The first route serving `method` on `path`, its path parameters, and whether any route
    (for any method) matches the path."""
    path_known = False
    for candidate in ROUTES:
        found = candidate.pattern.match(path)
        if found:
            path_known = True
            if method in candidate.methods:
                params = tuple((k, v) for k, v in found.groupdict().items() if v is not None)
                return candidate, params, True
    return None, (), path_known
