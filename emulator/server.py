"""The emulator process: one HTTPS port for everything, one plain-HTTP port for the sign-in page."""

import base64
import datetime as dt
import errno
import functools
import re
import threading
import time
import traceback
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import jwt
from cheroot import wsgi
from cheroot.ssl.builtin import BuiltinSSLAdapter
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from emulator import blade, control, jit, scenarios
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
from emulator.assumptions import checked_assumptions
from emulator.authz import Principal
from emulator.entra import discovery, sign_in, token_endpoint
from emulator.entra.tokens import ARM_ALIASES, TokenIssuer
from emulator.faults import Fault, Faults, fault_from_json
from emulator.graph import graph
from emulator.http import ArmError, error_response, json_response
from emulator.ids import new_id
from emulator.state import State
from emulator.throttling import Throttle
from emulator.tls import ensure_tls_files, load_or_create_signing_key
from emulator.webhooks import WebhookSender

ROUTES: list[Route] = [
    *operations.routes(),
    *applications.routes(),
    *application_definitions.routes(),
    *jit_requests.routes(),
    *rbac.routes(),
    *pim.routes(),
    *resources.routes(),
]
TENANT_PATH = re.compile(r"^/(?P<tenant>[^/]+)/(?P<rest>.+)$")
SUBSCRIPTION_PATH = re.compile(r"^/subscriptions/([^/]+)", re.IGNORECASE)
SLASHES = re.compile(r"/+")
ARM_AUDIENCES = [*ARM_ALIASES, *(a + "/" for a in ARM_ALIASES)]
LOG_LIMIT = 50_000


SECRET_FIELDS = re.compile(r"(client_secret|assertion|refresh_token|code_verifier)=[^&]*")


def redact(text: str) -> str:
    """Keep secrets out of the requests log (it is readable through the control API)."""
    return SECRET_FIELDS.sub(r"\1=***", text)


class EmulatorApp:
    """The WSGI application behind the HTTPS port."""

    def __init__(self, server: "EmulatorServer") -> None:
        self.server = server
        self.state = server.state
        self.identity = server.identity

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        started = time.monotonic()
        path = SLASHES.sub("/", request.path)
        if path.startswith("/_emulator"):
            response = control.handle(self.server, request, path)
            return response(environ, start_response)
        entry = self._log(request, path)
        try:
            faults = self.server.faults.fire(request.method, path)
            response = self._faulted(faults, path) or self._dispatch(request, path)
            if any(fault.kind == "lost_answer" for fault in faults):
                # The call was carried out; the network then lost the answer.
                raise ConnectionResetError(errno.ECONNRESET, "answer lost by an injected fault")
        except ArmError as error:
            response = error_response(error)
        except ConnectionResetError:
            entry["status"] = 0
            raise  # an injected dropped connection: the server closes it without an answer
        except Exception:  # a bug in the emulator: answer like ARM, keep the traceback visible
            traceback.print_exc()
            response = error_response(
                ArmError(500, "InternalServerError", "The emulator failed to process the request.")
            )
        entry["status"] = response.status_code
        entry["duration_ms"] = round((time.monotonic() - started) * 1000, 1)
        return response(environ, start_response)

    def _log(self, request: Request, path: str) -> dict[str, Any]:
        body = request.get_data(cache=True)
        entry: dict[str, Any] = {
            "time": dt.datetime.now(dt.UTC).isoformat(),
            "method": request.method,
            "path": path,
            "query": request.query_string.decode(errors="replace"),
            "client_request_id": request.headers.get("x-ms-client-request-id"),
            "body": redact(body[:4096].decode(errors="replace")) if body else None,
            "status": None,
        }
        with self.state.lock:
            # Numbered by a counter, not the log's length: `requests?since=N` stays right after
            # the oldest entries are dropped.
            entry["seq"] = self.state.requests_logged
            self.state.requests_logged += 1
            self.state.requests_log.append(entry)
            if len(self.state.requests_log) > LOG_LIMIT:
                del self.state.requests_log[: LOG_LIMIT // 10]
        return entry

    def _faulted(self, faults: list[Fault], path: str) -> Response | None:
        for fault in faults:
            if fault.kind == "latency":
                time.sleep(fault.latency_ms / 1000)
            elif fault.kind == "drop":
                # The HTTPS server closes the connection without answering, as a network
                # failure would look to the client.
                raise ConnectionResetError(errno.ECONNRESET, "dropped by an injected fault")
            elif fault.kind == "throttle":
                raise ArmError(
                    429,
                    "TooManyRequests",
                    "The request is being throttled as the limit has been reached for operation type.",
                    headers={"Retry-After": str(fault.retry_after)},
                )
            elif fault.kind == "status":
                headers = (
                    {"Retry-After": str(fault.retry_after)} if fault.status in (429, 503) else {}
                )
                raise ArmError(
                    fault.status,
                    "InternalServerError" if fault.status >= 500 else "InjectedFault",
                    "Encountered internal server error. Diagnostic information: injected by the emulator.",
                    headers=headers,
                )
            elif fault.kind == "expired_token" and path.lower().startswith(
                ("/subscriptions", "/providers")
            ):
                raise self._expired_error()
            elif fault.kind == "claims_challenge" and path.lower().startswith(
                ("/subscriptions", "/providers")
            ):
                raise self._claims_challenge()
        return None

    def _expired_error(self) -> ArmError:
        now = dt.datetime.now(dt.UTC).strftime("%m/%d/%Y %H:%M:%S")
        return ArmError(
            401,
            "ExpiredAuthenticationToken",
            f"The access token expiry UTC time '{now}' is earlier than current UTC time '{now}'.",
            headers={
                "WWW-Authenticate": f'Bearer authorization_uri="{self.server.https_url}/common", error="invalid_token", error_description="The access token has expired."'
            },
        )

    def _claims_challenge(self) -> ArmError:
        """A continuous access evaluation challenge: the SDK fetches a new token and retries once."""
        claims = base64.b64encode(
            b'{"access_token":{"nbf":{"essential":true,"value":"1700000000"}}}'
        ).decode()
        return ArmError(
            401,
            "InvalidAuthenticationToken",
            "Continuous access evaluation resulted in challenge with result: InteractionRequired.",
            headers={
                "WWW-Authenticate": f'Bearer authorization_uri="{self.server.https_url}/common/oauth2/authorize", '
                f'error="insufficient_claims", claims="{claims}"'
            },
        )

    def _dispatch(self, request: Request, path: str) -> Response:
        lowered = path.lower()
        if lowered.startswith("/v1.0/"):
            return graph(self.identity, request, path)
        if (
            lowered.startswith(("/subscriptions", "/providers", "/tenants"))
            or lowered == "/subscriptions"
        ):
            return self._arm(request, path.rstrip("/") or "/")
        return identity_routes(self.identity, request, path)

    def _principal(self, request: Request) -> Principal:
        header = request.headers.get("Authorization", "")
        if not header.lower().startswith("bearer "):
            raise ArmError(
                401,
                "AuthenticationFailed",
                "Authentication failed. The 'Authorization' header is missing.",
                headers={
                    "WWW-Authenticate": f'Bearer authorization_uri="{self.server.https_url}/common", error="invalid_token", error_description="The authentication failed because of missing \'Authorization\' header."'
                },
            )
        try:
            claims = self.identity.verify(header[7:].strip(), ARM_AUDIENCES)
        except jwt.ExpiredSignatureError as exc:
            raise self._expired_error() from exc
        except jwt.InvalidTokenError as exc:
            raise ArmError(
                401,
                "InvalidAuthenticationToken",
                f"The access token is invalid. ({exc})",
                headers={
                    "WWW-Authenticate": f'Bearer authorization_uri="{self.server.https_url}/common", error="invalid_token", error_description="The access token is invalid."'
                },
            ) from exc
        return Principal(
            oid=claims["oid"],
            tenant_id=claims["tid"],
            app_id=claims.get("appid", ""),
            name=claims.get("name", ""),
            is_app=claims.get("idtyp") == "app",
        )

    def _arm(self, request: Request, path: str) -> Response:
        request_id = new_id()
        extra: dict[str, str] = {}
        try:
            response = self._arm_call(request, path, extra)
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

    def _arm_call(self, request: Request, path: str, extra: dict[str, str]) -> Response:
        route, route_params, path_known = find_route(request.method, path)
        principal = self._principal(request)
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
        verdict = self.server.throttle.take(
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
            request, self.state, self.server.https_url, path, params, principal, query, version
        )
        with self.state.lock:
            jit.tick(self.state)
            return route.handler(ctx)


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


def identity_routes(identity: TokenIssuer, request: Request, path: str) -> Response:
    found = TENANT_PATH.match(path)
    if not found:
        return json_response(
            {"error": "not_found", "error_description": f"No such endpoint: {path}"}, 404
        )
    tenant, rest = found.group("tenant"), found.group("rest").lower().rstrip("/")
    if rest in ("v2.0/.well-known/openid-configuration", ".well-known/openid-configuration"):
        if (
            tenant.lower() not in ("common", "organizations")
            and identity.state.tenant(tenant) is None
        ):
            return json_response(
                {
                    "error": "invalid_tenant",
                    "error_description": f"AADSTS90002: Tenant '{tenant}' not found.",
                },
                400,
            )
        return json_response(discovery.openid_configuration(identity, tenant))
    if rest in ("discovery/v2.0/keys", "discovery/keys"):
        return json_response(identity.jwks())
    if rest == "discovery/instance":
        return json_response(discovery.instance_discovery(identity, tenant))
    if rest == "oauth2/v2.0/authorize" and request.method in ("GET", "POST"):
        return sign_in.authorize(identity.state, request, tenant)
    if rest in ("adminconsent", "v2.0/adminconsent") and request.method in ("GET", "POST"):
        return sign_in.authorize(identity.state, request, tenant, admin_consent=True)
    if rest == "oauth2/v2.0/logout":
        return sign_in.logout(request)
    if rest == "oauth2/v2.0/token" and request.method == "POST":
        auth = request.authorization
        basic = (
            (auth.username or "", auth.password or "") if auth and auth.type == "basic" else None
        )
        return token_endpoint.token(identity, tenant, request.form.to_dict(), basic)
    return json_response(
        {"error": "not_found", "error_description": f"No such endpoint: {path}"}, 404
    )


class SignInApp:
    """The plain-HTTP app: only what a browser opens (sign-in page, its form POST, sign-out, the
    JIT Access blade stand-in)."""

    def __init__(self, identity: TokenIssuer) -> None:
        self.identity = identity

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        found = TENANT_PATH.match(request.path)
        rest = found.group("rest").lower().rstrip("/") if found else ""
        if found and rest == "oauth2/v2.0/authorize" and request.method in ("GET", "POST"):
            response = sign_in.authorize(self.identity.state, request, found.group("tenant"))
        elif (
            found
            and rest in ("adminconsent", "v2.0/adminconsent")
            and request.method in ("GET", "POST")
        ):
            response = sign_in.authorize(
                self.identity.state, request, found.group("tenant"), admin_consent=True
            )
        elif found and rest == "oauth2/v2.0/logout":
            response = sign_in.logout(request)
        elif request.path.rstrip("/") == "/_portal/jitAccess" and request.method in ("GET", "POST"):
            response = blade.jit_access(self.identity.state, request)
        else:
            response = Response("Only the sign-in page is served over plain HTTP.", status=404)
        return response(environ, start_response)


class QuietHandler(WSGIRequestHandler):
    """Access logs go to the requests log (control API), not to stderr."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


class EmulatorServer:
    """Runs the emulator on 127.0.0.1 in background threads (tests, demo) or in the foreground."""

    def __init__(
        self,
        scenario: str = "demo",
        var_dir: str | Path = "var",
        port: int = 0,
        http_port: int = 0,
        throttling: bool = True,
        control_key: str | None = None,
        scenario_params: dict[str, Any] | None = None,
        host: str = "127.0.0.1",
        webhook_ca_bundle: str | None = None,
        verbose: bool = False,
        notification_url: str | None = None,
        assumptions: Iterable[str] = (),
    ) -> None:
        self.assumptions = checked_assumptions(list(assumptions))
        self.verbose = verbose
        self.notification_url = notification_url
        self.scenario = scenario
        self.scenario_params = scenario_params
        self.directory = Path(var_dir) / "emulator"
        self.host = host
        self.port = port
        self.http_port = http_port
        self.control_key = control_key
        self.state = State()
        self.tls = ensure_tls_files(self.directory)
        self.identity = TokenIssuer(
            self.state, load_or_create_signing_key(self.directory / "signing.key")
        )
        self.throttle = Throttle(enabled=throttling)
        self.faults = Faults()
        self.webhook_sender = WebhookSender(self.state, webhook_ca_bundle)
        self._https: wsgi.Server | None = None
        self._http: BaseWSGIServer | None = None
        self._threads: list[threading.Thread] = []

    @property
    def ca_bundle(self) -> str:
        return str(self.tls.ca_cert)

    @property
    def https_url(self) -> str:
        return f"https://{self.host}:{self.port}"

    @property
    def http_url(self) -> str:
        return f"http://{self.host}:{self.http_port}"

    def _load(self, params: dict[str, Any] | None) -> None:
        self.state.assumptions = set(self.assumptions)  # a reset returns to the start-up set
        scenarios.load(self.state, self.scenario, params)
        if self.notification_url:
            self.set_notification_url(self.notification_url)

    def set_notification_url(self, url: str | None) -> None:
        """Point every offer and application at one notification endpoint (e.g. the portal's)."""
        with self.state.lock:
            self.notification_url = url
            for offer in self.state.offers.values():
                offer.notification_url = url
            for app in self.state.applications.values():
                app.notification_url = url

    def start(self) -> None:
        self._load(self.scenario_params)
        handler = WSGIRequestHandler if self.verbose else QuietHandler
        # ARM keeps HTTPS connections alive; werkzeug's server closes each one, which would make
        # every call pay a TLS handshake. cheroot keeps them open.
        self._https = wsgi.Server(
            (self.host, self.port), EmulatorApp(self), numthreads=16, server_name="emulator"
        )
        self._https.ssl_adapter = BuiltinSSLAdapter(
            str(self.tls.server_cert), str(self.tls.server_key)
        )
        self._https.prepare()
        self._http = make_server(
            self.host,
            self.http_port,
            SignInApp(self.identity),
            threaded=True,
            request_handler=handler,
        )
        self.port = self._https.bind_addr[1]
        self.http_port = self._http.server_port
        self.identity.https_base = self.https_url
        self.identity.http_base = self.http_url
        for name, serve in (("https", self._https.serve), ("http", self._http.serve_forever)):
            thread = threading.Thread(target=serve, name=f"emulator-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)
        self.webhook_sender.start()

    def stop(self) -> None:
        if self._https is not None:
            self._https.stop()
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
        for thread in self._threads:
            thread.join(timeout=5)
        self._threads.clear()
        self.webhook_sender.stop()

    def reset(self, scenario: str | None = None, **params: Any) -> None:
        """Reload a scenario (default: the current one), clear faults and throttling buckets."""
        if scenario is not None:
            self.scenario = scenario
            self.scenario_params = params or None
        self._load(params or self.scenario_params)
        self.faults.clear()
        self.throttle.reset()

    def advance_clock(self, delta: dt.timedelta) -> None:
        with self.state.lock:
            self.state.clock.advance(delta)
            jit.tick(self.state)

    def inject_fault(self, **fault: Any) -> Fault:
        return self.faults.add(fault_from_json(fault))

    def token_for(
        self, oid: str, resource: str = "https://management.azure.com", lifetime: int | None = None
    ) -> str:
        """A delegated access token for a scenario person (tests and the control API)."""
        with self.state.lock:
            person = self.state.people[oid]
            client_id = next(iter(self.state.apps))
        return self.identity.access_token(
            tenant_id=person.tenant_id,
            oid=oid,
            audience=resource,
            app_id=client_id,
            lifetime=lifetime,
            scopes=[f"{resource}/user_impersonation"],
        )
