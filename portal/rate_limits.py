"""Abuse limits on the endpoints an outsider can reach (sign-in, the marketplace webhook) and on
the actions that change access (decisions, cancellations, revocations, requests, policies).

Counting is django-ratelimit's, in the default cache: Redis when configured, so a limit holds
across web processes; the embedded in-memory cache counts per process. The rates are settings
(`RATE_LIMITS`); a reached limit answers 429 with Retry-After and a page that says what to do.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django_ratelimit.core import get_usage

logger = logging.getLogger(__name__)

View = TypeVar("View", bound=Callable[..., HttpResponse])


def client_ip(request: HttpRequest) -> str:
    """RATELIMIT_IP_META_KEY: the address that connected, or, behind the portal's own proxy
    (`RATE_LIMIT_TRUST_FORWARDED_FOR`), the address that proxy added last to X-Forwarded-For.
    The earlier entries are the client's to invent, so they are never trusted."""
    remote = str(request.META.get("REMOTE_ADDR") or "0.0.0.0")
    if settings.RATE_LIMIT_TRUST_FORWARDED_FOR:
        forwarded = str(request.META.get("HTTP_X_FORWARDED_FOR", "")).split(",")[-1].strip()
        try:
            return str(ipaddress.ip_address(forwarded))
        except ValueError:
            pass
    return remote


def usage(request: HttpRequest, name: str, *, key: str, increment: bool) -> dict[str, Any]:
    """Where `key` ("ip" or "user_or_ip") stands against `RATE_LIMITS[name]`.

    When the cache cannot count (Redis down), the limit is open rather than shut: a limit guards
    against abuse, and must not lock customers out of deciding while the cache recovers."""
    rate = str(settings.RATE_LIMITS[name])
    try:
        result = get_usage(request, group=f"portal.{name}", key=key, rate=rate, increment=increment)
    except Exception as exc:  # the cache backend's own errors (redis.ConnectionError, ...)
        logger.warning("Rate limit %s not counted: the cache failed (%s)", name, type(exc).__name__)
        result = None
    if result is None:
        return {"count": 0, "limit": 0, "should_limit": False, "time_left": 0}
    return cast(dict[str, Any], result)


def limit(name: str, *, key: str, methods: tuple[str, ...] | None = None) -> Callable[[View], View]:
    """Answer 429 once `key` ("ip" or "user_or_ip") passes `RATE_LIMITS[name]`. Every request
    of `methods` (all when None) counts, refused ones too, so hammering does not reopen the
    window."""

    def decorator(view: View) -> View:
        @wraps(view)
        def limited(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if methods is not None and request.method not in methods:
                return view(request, *args, **kwargs)
            used = usage(request, name, key=key, increment=True)
            if used["should_limit"]:
                return too_many_requests(request, retry_after=used["time_left"])
            return view(request, *args, **kwargs)

        return cast(View, limited)

    return decorator


def too_many_requests(request: HttpRequest, *, retry_after: int = 60) -> HttpResponse:
    """The page shown when a limit is reached (htmx shows its own message, see portal.js);
    JSON for a JSON request such as a webhook delivery."""
    seconds = max(1, int(retry_after))
    response: HttpResponse
    if request.content_type == "application/json":
        response = JsonResponse(
            {"error": f"too many requests; try again in {seconds} seconds"}, status=429
        )
    else:
        response = render(request, "429.html", {"retry_after": seconds}, status=429)
    response["Retry-After"] = str(seconds)
    return response
