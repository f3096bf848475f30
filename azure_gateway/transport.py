"""The HTTP transport under every SDK client and credential: urllib3 connection pools, one
transport per thread.

A gateway is made per tenant or per person; without sharing, each would open its own TLS
connections (one per SDK client, plus the credential's), and a sync of thousands of tenants would
spend most of its time in TLS handshakes. So each thread (a web request thread, a Celery worker)
keeps one transport, whose pools keep connections alive.

azure-core's default transport goes through requests, whose per-request bookkeeping (sessions,
cookies, hooks, adapters, a proxy lookup in the environment) cost the sync as much CPU as the rest
of the SDK pipeline. This one hands each request straight to urllib3, which requests uses
underneath; the SDK pipeline (credentials, retries, redirects, logging, errors) is unchanged.
"""

from __future__ import annotations

import threading
import urllib.parse
from collections.abc import Iterator, MutableMapping
from typing import Any

import certifi
import urllib3
from azure.core.exceptions import (
    ServiceRequestError,
    ServiceRequestTimeoutError,
    ServiceResponseError,
    ServiceResponseTimeoutError,
)
from azure.core.pipeline.transport import HttpRequest as LegacyHttpRequest
from azure.core.pipeline.transport import HttpResponse as LegacyHttpResponse
from azure.core.pipeline.transport import HttpTransport
from azure.core.rest import HttpRequest

# azure-core's base for the responses of its own transports; the public HttpResponse is abstract.
from azure.core.rest._http_response_impl import HttpResponseImpl
from requests.utils import get_environ_proxies

# azure-core's defaults (ConnectionConfiguration), in seconds.
CONNECTION_TIMEOUT = 300
READ_TIMEOUT = 300
# Connections kept per host and transport. Each answer is read whole, which hands its connection
# back at once; a thread sends one request at a time, except that a sync sends a subscription's
# three independent listings at once through its thread's pipeline (deployments/listings.py).
# Beyond this, urllib3 would open a connection for a request and drop it after.
CONNECTIONS_PER_HOST = 4

_local = threading.local()


def shared_transport(ca_bundle: str | None) -> Urllib3Transport:
    """The calling thread's transport trusting `ca_bundle` (None: the CAs certifi ships, like
    requests)."""
    transports: dict[str | None, Urllib3Transport] = _local.__dict__.setdefault("transports", {})
    if ca_bundle not in transports:
        transports[ca_bundle] = Urllib3Transport(ca_bundle)
    return transports[ca_bundle]


class Urllib3Transport(HttpTransport):  # type: ignore[type-arg]  # serves both the legacy and the new request types
    """An azure-core transport over urllib3. Proxies come from the environment (HTTPS_PROXY,
    NO_PROXY…, read once per scheme and host) or from the SDK's ProxyPolicy."""

    def __init__(self, ca_bundle: str | None) -> None:
        self._ca_bundle = ca_bundle or certifi.where()
        self._direct = self._pool_manager()
        self._via_proxy: dict[str, urllib3.PoolManager] = {}
        self._environment_proxies: dict[tuple[str, str], dict[str, str]] = {}

    def __enter__(self) -> Urllib3Transport:
        return self

    def __exit__(self, *args: Any) -> None:
        pass  # shared by every client of the thread: closing one client must not close it

    def open(self) -> None:
        pass

    def close(self) -> None:
        self._direct.clear()
        for manager in self._via_proxy.values():
            manager.clear()

    def send(
        self,
        request: HttpRequest | LegacyHttpRequest,
        *,
        proxies: MutableMapping[str, str] | None = None,
        **kwargs: Any,
    ) -> HttpResponseImpl | LegacyHttpResponse:
        verify = kwargs.pop("connection_verify", True)
        if verify not in (True, self._ca_bundle):
            raise ValueError("This transport verifies TLS with the CA bundle it was made with.")
        if request.files:
            raise ValueError("This transport does not send multipart file uploads.")
        timeout = urllib3.Timeout(
            connect=kwargs.pop("connection_timeout", CONNECTION_TIMEOUT),
            read=kwargs.pop("read_timeout", READ_TIMEOUT),
        )
        headers = dict(request.headers)
        headers.setdefault("Accept-Encoding", "gzip, deflate")
        try:
            answer = self._manager_for(request.url, proxies).urlopen(
                request.method,
                request.url,
                body=_body(request.data),
                headers=headers,
                timeout=timeout,
                retries=False,  # the SDK's RetryPolicy retries; urllib3 raises the error itself
                redirect=False,  # and its RedirectPolicy follows redirects
                preload_content=True,
            )
        except urllib3.exceptions.NewConnectionError as error:  # before its base class below
            raise ServiceRequestError(error, error=error) from error
        except urllib3.exceptions.ConnectTimeoutError as error:
            raise ServiceRequestTimeoutError(error, error=error) from error
        except urllib3.exceptions.ReadTimeoutError as error:
            raise ServiceResponseTimeoutError(error, error=error) from error
        except (urllib3.exceptions.SSLError, urllib3.exceptions.ProxyError) as error:
            raise ServiceRequestError(error, error=error) from error
        except urllib3.exceptions.HTTPError as error:  # dropped or garbled responses
            raise ServiceResponseError(error, error=error) from error
        if isinstance(request, HttpRequest):
            return _Response(request, answer)
        return _LegacyResponse(request, answer)

    def _manager_for(
        self, url: str, proxies: MutableMapping[str, str] | None
    ) -> urllib3.PoolManager:
        parts = urllib.parse.urlsplit(url)
        if proxies is None:
            key = (parts.scheme, parts.netloc)
            if key not in self._environment_proxies:
                self._environment_proxies[key] = get_environ_proxies(url)
            proxies = self._environment_proxies[key]
        proxy = proxies.get(parts.scheme) or proxies.get("all")
        if not proxy:
            return self._direct
        if proxy not in self._via_proxy:
            self._via_proxy[proxy] = self._pool_manager(proxy)
        return self._via_proxy[proxy]

    def _pool_manager(self, proxy: str | None = None) -> urllib3.PoolManager:
        options: dict[str, Any] = {
            "maxsize": CONNECTIONS_PER_HOST,
            "cert_reqs": "CERT_REQUIRED",
            "ca_certs": self._ca_bundle,
        }
        if proxy is None:
            return urllib3.PoolManager(**options)
        login = urllib.parse.urlsplit(proxy)
        if login.username:
            credentials = f"{urllib.parse.unquote(login.username)}:"
            credentials += urllib.parse.unquote(login.password or "")
            options["proxy_headers"] = urllib3.make_headers(proxy_basic_auth=credentials)
        return urllib3.ProxyManager(proxy, **options)


def _body(data: Any) -> Any:
    """What requests would send for `data`: a dict (a form, as MSAL posts) is URL-encoded."""
    if isinstance(data, dict):
        return urllib.parse.urlencode(data, doseq=True)
    return data


class _Response(HttpResponseImpl):
    """The response to an `azure.core.rest.HttpRequest`, read whole."""

    def __init__(self, request: HttpRequest, answer: urllib3.BaseHTTPResponse) -> None:
        super().__init__(
            request=request,
            internal_response=answer,
            status_code=answer.status,
            reason=answer.reason or "",
            headers=answer.headers,
            content_type=answer.headers.get("Content-Type"),
            stream_download_generator=_stream_whole_body,
        )
        self._content = answer.data


class _LegacyResponse(LegacyHttpResponse):
    """The response to a legacy `azure.core.pipeline.transport.HttpRequest` (some generated
    clients still convert their requests to those), read whole."""

    def __init__(self, request: LegacyHttpRequest, answer: urllib3.BaseHTTPResponse) -> None:
        super().__init__(request, answer)
        self.status_code = answer.status
        self.headers = answer.headers
        self.reason = answer.reason or ""
        self.content_type = answer.headers.get("Content-Type")
        self._content = answer.data

    def body(self) -> bytes:
        return self._content

    def stream_download(self, pipeline: Any, **kwargs: Any) -> Iterator[bytes]:
        return _stream_whole_body(pipeline, self)


def _stream_whole_body(pipeline: Any, response: Any, **kwargs: Any) -> Iterator[bytes]:
    """Responses are read whole (ARM answers are small), so a "stream" is that one body."""
    yield response.body() if isinstance(response, _LegacyResponse) else response.content
