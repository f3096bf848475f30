"""One HTTP connection pool per thread, shared by every SDK client and credential.

A gateway is made per tenant or per person; without sharing, each would open its own TLS
connections (one per SDK client, plus the credential's), and a sync of thousands of tenants would
spend most of its time in TLS handshakes. requests sessions are not promised to be thread-safe,
so each thread (a web request thread, a Celery worker) gets its own.
"""

from __future__ import annotations

import threading

import requests
from azure.core.pipeline.transport import RequestsTransport

_local = threading.local()


def shared_transport(ca_bundle: str | None) -> RequestsTransport:
    """The calling thread's transport trusting `ca_bundle` (None: the system's CAs)."""
    transports: dict[str | None, RequestsTransport] = _local.__dict__.setdefault("transports", {})
    if ca_bundle not in transports:
        # The CA bundle is passed on every request, where requests lets no environment variable
        # override it; proxies from the environment still apply.
        session = requests.Session()
        transports[ca_bundle] = RequestsTransport(
            session=session, session_owner=False, connection_verify=ca_bundle or True
        )
    return transports[ca_bundle]
