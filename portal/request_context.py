"""The request id, the person in the log context, one access line and one latency sample per
request.

`RequestContextMiddleware` comes right after WhiteNoise in settings.MIDDLEWARE (static files are
neither logged nor measured) and wraps everything else, so its duration covers the other
middleware and the view. `UserContextMiddleware` comes right after Django's
AuthenticationMiddleware.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable
from typing import Any

from django.contrib.auth.middleware import get_user
from django.http import HttpRequest, HttpResponse
from django.utils.functional import SimpleLazyObject

from portal import log_context, metrics
from portal.rate_limits import client_ip

access_log = logging.getLogger("portal.access")

REQUEST_ID_HEADER = "X-Request-ID"
# What a proxy or a client may hand us as the request id; anything else is replaced, never logged.
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
_MAX_LOGGED_PATH = 500


def request_id_from(header: str | None) -> str:
    """The incoming X-Request-ID when it is a short plain token, else a new one."""
    if header is not None and _SANE_REQUEST_ID.fullmatch(header):
        return header
    return uuid.uuid4().hex


def loggable_path(path: str) -> str:
    """The path (never the query string), with control characters escaped and its length capped."""
    if not path.isprintable():
        path = path.encode("unicode_escape").decode("ascii")
    return path[:_MAX_LOGGED_PATH]


class RequestContextMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = request_id_from(request.headers.get(REQUEST_ID_HEADER))
        started = time.perf_counter()
        with log_context.scope(request_id=request_id):
            response = self.get_response(request)
            seconds = time.perf_counter() - started
            match = request.resolver_match
            view = match.view_name if match is not None and match.view_name else "unmatched"
            metrics.observe_request(
                view=view, method=request.method or "", status=response.status_code, seconds=seconds
            )
            duration_ms = round(seconds * 1000, 1)
            path = loggable_path(request.path)
            access_log.info(
                "%s %s %s %sms",
                request.method,
                path,
                response.status_code,
                duration_ms,
                extra={
                    "method": request.method,
                    "path": path,
                    "status": response.status_code,
                    "view": view,
                    "duration_ms": duration_ms,
                    "client": client_ip(request),
                },
            )
        response[REQUEST_ID_HEADER] = request_id
        return response


def _logged(user: Any) -> Any:
    if getattr(user, "is_authenticated", False):
        log_context.bind(user=user.pk, tenant=getattr(user, "entra_tenant_id", None))
    return user


class UserContextMiddleware:
    """Puts the person's pk and Entra tenant id (both on the user row) in the log context when
    something first reads `request.user`, as Django would: it costs no query of its own, and a
    request that never looks at the person (health checks, static answers) logs none."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.user = SimpleLazyObject(lambda: _logged(get_user(request)))  # type: ignore[assignment]
        return self.get_response(request)
