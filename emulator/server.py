"""The emulator process: one HTTPS port for everything, one plain-HTTP port for the sign-in page.

`EmulatorServer` starts and stops both, owns the state, the token issuer, throttling, faults and
webhooks; `EmulatorApp` logs each HTTPS call, applies injected faults and hands it to the control
API, Graph, ARM (`emulator.arm.dispatch`) or Entra (`emulator.entra.routes`)."""

import datetime as dt
import errno
import re
import threading
import time
import traceback
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from cheroot import wsgi
from cheroot.ssl.builtin import BuiltinSSLAdapter
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from emulator import blade, control, jit, scenarios
from emulator.arm import dispatch
from emulator.assumptions import checked_assumptions
from emulator.entra import routes as entra_routes
from emulator.entra.routes import TENANT_PATH, browser_page
from emulator.entra.tokens import TokenIssuer
from emulator.faults import Fault, Faults, fault_from_json
from emulator.faults import apply as apply_faults
from emulator.graph import graph
from emulator.http import ArmError, error_response
from emulator.state import State
from emulator.throttling import Throttle
from emulator.tls import ensure_tls_files, load_or_create_signing_key
from emulator.webhooks import WebhookSender

SLASHES = re.compile(r"/+")
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
            apply_faults(faults, path, self.server.https_url)
            response = self._dispatch(request, path)
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

    def _dispatch(self, request: Request, path: str) -> Response:
        lowered = path.lower()
        if lowered.startswith("/v1.0/"):
            return graph(self.identity, request, path)
        if (
            lowered.startswith(("/subscriptions", "/providers", "/tenants"))
            or lowered == "/subscriptions"
        ):
            return dispatch.handle(self.server, request, path.rstrip("/") or "/")
        return entra_routes.handle(self.identity, request, path)


class SignInApp:
    """The plain-HTTP app: only what a browser opens (sign-in page, its form POST, sign-out, the
    JIT Access blade stand-in)."""

    def __init__(self, state: State) -> None:
        self.state = state

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        found = TENANT_PATH.match(request.path)
        response = None
        if found:
            rest = found.group("rest").lower().rstrip("/")
            response = browser_page(self.state, request, found.group("tenant"), rest)
        jit_blade = request.path.rstrip("/") == "/_portal/jitAccess"
        if response is None and jit_blade and request.method in ("GET", "POST"):
            response = blade.jit_access(self.state, request)
        if response is None:
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
            SignInApp(self.state),
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
