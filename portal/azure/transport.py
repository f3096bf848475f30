"""One HTTP connection pool per thread, shared by every SDK client and credential.

A gateway is made per tenant or per person; without sharing, each would open its own TLS
connections (one per SDK client, plus the credential's), and a sync of thousands of tenants would
spend most of its time in TLS handshakes. requests sessions are not promised to be thread-safe,
so each thread (a web request thread, a Celery worker) gets its own.
"""

from __future__ import annotations

import threading
from typing import Any
from urllib.parse import urlsplit

import requests
from azure.core.pipeline.transport import RequestsTransport

_local = threading.local()


class _Session(requests.Session):
    """A session that reads proxy settings from the environment once per host.

    requests looks through the whole environment (proxies, NO_PROXY) on every request, which was
    a tenth of a sync's CPU time; the environment does not change while the process runs, and
    NO_PROXY matches by host, so the answer for a scheme and host can be kept.
    """

    def __init__(self) -> None:
        super().__init__()
        self._environment: dict[tuple[Any, ...], dict[str, Any]] = {}

    def merge_environment_settings(
        self, url: str | bytes | None, proxies: Any, stream: Any, verify: Any, cert: Any
    ) -> dict[str, Any]:
        if proxies or not isinstance(url, str):
            return super().merge_environment_settings(url, proxies, stream, verify, cert)
        parts = urlsplit(url)
        key = (parts.scheme, parts.netloc, stream, verify, cert)
        if key not in self._environment:
            self._environment[key] = super().merge_environment_settings(
                url, proxies, stream, verify, cert
            )
        settings = self._environment[key]
        return {**settings, "proxies": dict(settings["proxies"])}


def shared_transport(ca_bundle: str | None) -> RequestsTransport:
    """The calling thread's transport trusting `ca_bundle` (None: the system's CAs)."""
    transports: dict[str | None, RequestsTransport] = _local.__dict__.setdefault("transports", {})
    if ca_bundle not in transports:
        # The CA bundle is passed on every request, where requests lets no environment variable
        # override it; proxies from the environment still apply.
        transports[ca_bundle] = RequestsTransport(
            session=_Session(), session_owner=False, connection_verify=ca_bundle or True
        )
    return transports[ca_bundle]
