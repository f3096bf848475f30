"""While the database or the broker is down, pages answer 503 with a page that says so, instead
of a 500; they recover by themselves, since every request opens its connections anew."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable

from django import db
from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string
from django.utils.cache import add_never_cache_headers
from django.views import defaults
from kombu.exceptions import OperationalError as BrokerError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

log = logging.getLogger(__name__)

OUTAGES = (
    db.OperationalError,
    db.InterfaceError,
    BrokerError,
    RedisConnectionError,
    RedisTimeoutError,
)
RETRY_AFTER_SECONDS = 30


def is_outage(exc: BaseException | None) -> bool:
    """The error, or one it was raised from, says a backend cannot be reached."""
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, OUTAGES):
            return True
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return False


def unavailable(exc: BaseException) -> HttpResponse:
    # Rendered without the request: its context processors would ask the database again.
    log.warning("Answering 503: %s (%s)", type(exc).__name__, str(exc).splitlines()[0][:200])
    response = HttpResponse(render_to_string("503.html"), status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    add_never_cache_headers(response)
    return response


class OutageMiddleware:
    """Views that meet an outage answer 503 (in DEBUG too, where Django would show its
    traceback page)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        return unavailable(exception) if is_outage(exception) else None


def server_error(request: HttpRequest) -> HttpResponse:
    """handler500: an outage met outside a view (a middleware reading the session) is a 503 too."""
    exc = sys.exc_info()[1]
    if exc is not None and is_outage(exc):
        return unavailable(exc)
    return defaults.server_error(request)
