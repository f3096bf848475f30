"""The urllib3 transport under the SDK pipeline: proxies, request bodies, both response kinds,
and connection errors as azure-core's own."""

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, overload

import pytest
from azure.core.exceptions import ServiceRequestError
from azure.core.pipeline import Pipeline
from azure.core.pipeline.transport import HttpRequest as LegacyHttpRequest
from azure.core.pipeline.transport import HttpResponse as LegacyHttpResponse
from azure.core.rest import HttpRequest, HttpResponse

from azure_gateway.transport import Urllib3Transport

PROXY_SETTINGS = (
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
    "ALL_PROXY",
    "all_proxy",
)


@pytest.fixture(autouse=True)
def no_proxy_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (*PROXY_SETTINGS, "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)


class _EchoServer(ThreadingHTTPServer):
    seen: list[dict[str, Any]]


class _Echo(BaseHTTPRequestHandler):
    """Answers every request with what it received, as JSON; remembers the request lines."""

    server: _EchoServer

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        received = {
            "line": self.requestline,
            "headers": {k.lower(): v for k, v in self.headers.items()},
            "body": self.rfile.read(length).decode(),
        }
        self.server.seen.append(received)
        if self.command == "CONNECT":  # a proxy that refuses every tunnel
            self.send_response(502)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = json.dumps(received).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_CONNECT = _answer

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def echo() -> Iterator[_EchoServer]:
    server = _EchoServer(("127.0.0.1", 0), _Echo)
    server.seen = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _url(server: _EchoServer, path: str = "/") -> str:
    return f"http://127.0.0.1:{server.server_address[1]}{path}"


@overload
def _send(transport: Urllib3Transport, request: HttpRequest) -> HttpResponse: ...
@overload
def _send(transport: Urllib3Transport, request: LegacyHttpRequest) -> LegacyHttpResponse: ...
def _send(
    transport: Urllib3Transport, request: HttpRequest | LegacyHttpRequest
) -> HttpResponse | LegacyHttpResponse:
    with Pipeline(transport, policies=[]) as pipeline:
        response: HttpResponse | LegacyHttpResponse = pipeline.run(request).http_response
        return response


def test_a_form_is_sent_url_encoded_and_the_answer_read_whole(echo: _EchoServer) -> None:
    request = HttpRequest("POST", _url(echo, "/token"), data={"scope": "a b", "grant": "x&y"})
    response = _send(Urllib3Transport(None), request)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    received = response.json()
    assert received["body"] == "scope=a+b&grant=x%26y"
    assert received["headers"]["content-type"] == "application/x-www-form-urlencoded"
    assert received["headers"]["accept-encoding"] == "gzip, deflate"


def test_legacy_requests_get_legacy_responses(echo: _EchoServer) -> None:
    response = _send(Urllib3Transport(None), LegacyHttpRequest("GET", _url(echo, "/legacy")))
    assert response.status_code == 200
    assert json.loads(response.text())["line"] == "GET /legacy HTTP/1.1"
    assert b"".join(response.stream_download(None)) == response.body()  # type: ignore[arg-type]  # the transport's stream needs no pipeline


def test_environment_proxies_apply_per_host_and_no_proxy_is_honoured(
    monkeypatch: pytest.MonkeyPatch, echo: _EchoServer
) -> None:
    proxy = _url(echo).rstrip("/").replace("http://", "http://pat:s%40cret@")
    monkeypatch.setenv("HTTPS_PROXY", proxy)
    monkeypatch.setenv("HTTP_PROXY", proxy)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    transport = Urllib3Transport(None)

    with pytest.raises(ServiceRequestError):  # the proxy refuses the tunnel
        _send(transport, HttpRequest("GET", "https://management.azure.com/subscriptions"))
    tunnel = echo.seen[-1]
    assert tunnel["line"].startswith("CONNECT management.azure.com:443 HTTP/")
    assert tunnel["headers"]["proxy-authorization"] == "Basic cGF0OnNAY3JldA=="  # pat:s@cret

    direct = _send(transport, HttpRequest("GET", _url(echo, "/direct")))
    assert direct.json()["line"] == "GET /direct HTTP/1.1"  # not "GET http://…": no proxy
    assert len(echo.seen) == 2


def test_a_hosts_proxy_is_looked_up_once(
    monkeypatch: pytest.MonkeyPatch, echo: _EchoServer
) -> None:
    transport = Urllib3Transport(None)
    _send(transport, HttpRequest("GET", _url(echo, "/first")))
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # nothing listens there
    second = _send(transport, HttpRequest("GET", _url(echo, "/second")))
    assert second.json()["line"] == "GET /second HTTP/1.1"


def test_a_refused_connection_is_a_service_request_error() -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    with pytest.raises(ServiceRequestError):
        _send(Urllib3Transport(None), HttpRequest("GET", f"http://127.0.0.1:{port}/"))


def test_tls_is_verified_with_the_bundle_the_transport_was_made_with() -> None:
    transport = Urllib3Transport("/etc/ssl/certs/ca-certificates.crt")
    with pytest.raises(ValueError, match="CA bundle"):
        transport.send(HttpRequest("GET", "https://example.test/"), connection_verify=False)
