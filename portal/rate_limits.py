"""Abuse limits on the endpoints an outsider can reach (sign-in, the marketplace webhook) and on
the actions that change access (decisions, cancellations, revocations, requests, policies).

Fixed-window counters in the default cache: Redis when configured, so a limit holds across web
processes; the embedded in-memory cache counts per process. Each client's window starts at an
offset of its own, so windows do not all reopen at once. With Redis, the counters one request
needs are counted in a single round trip (a pipeline of INCR and EXPIRE NX, GET to only read).
The rates are settings (`RATE_LIMITS`); a reached limit answers 429 with Retry-After and a page
that says what to do.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import time
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import wraps
from typing import Any, TypeVar, cast

from django.conf import settings
from django.core.cache import caches
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from portal.redis_cache import ReusingRedisCache

logger = logging.getLogger(__name__)

View = TypeVar("View", bound=Callable[..., HttpResponse])

_PERIOD_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True)
class Usage:
    """Where one client stands against one limit in its current window. A limit of 0 means
    the count failed (see `count`): nothing is limited then."""

    count: int
    limit: int
    time_left: int

    @property
    def should_limit(self) -> bool:
        """This request went past the limit (for a counter this request incremented)."""
        return self.limit > 0 and self.count > self.limit

    @property
    def used_up(self) -> bool:
        """The next counted request would go past the limit (for a counter only read)."""
        return self.limit > 0 and self.count >= self.limit


NOT_COUNTED = Usage(count=0, limit=0, time_left=0)


def client_ip(request: HttpRequest) -> str:
    """The address that connected, or, behind the portal's own proxy
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


def parse_rate(rate: str) -> tuple[int, int]:
    """ "20/m" → (20, 60); "100/5m" → (100, 300). The settings check the form (env_rate)."""
    limit, _, per = rate.partition("/")
    return int(limit), int(per[:-1] or 1) * _PERIOD_UNITS[per[-1]]


def _client(request: HttpRequest, key: str) -> str:
    if key == "user_or_ip" and request.user.is_authenticated:
        return f"user:{request.user.pk}"
    if key in ("ip", "user_or_ip"):
        return f"ip:{client_ip(request)}"
    raise ValueError(f"unknown rate-limit key {key!r}")


@dataclass(frozen=True)
class _Counter:
    name: str
    incremented: bool
    cache_key: str
    limit: int
    time_left: int


def count(
    request: HttpRequest,
    *,
    key: str,
    increment: Iterable[str] = (),
    read: Iterable[str] = (),
) -> dict[str, Usage]:
    """Count this request against each limit in `increment` and read where the client stands
    against each in `read`, by `key` ("ip" or "user_or_ip"); the names are `RATE_LIMITS` keys.

    When the cache cannot count (Redis down), every limit is open rather than shut: a limit
    guards against abuse, and must not lock customers out of deciding while the cache
    recovers."""
    client = _client(request, key)
    digest = hashlib.sha256(client.encode()).hexdigest()[:32]
    offset = zlib.crc32(client.encode())
    now = int(time.time())
    counters = []
    for incremented, names in ((True, increment), (False, read)):
        for name in names:
            limit, period = parse_rate(str(settings.RATE_LIMITS[name]))
            shift = offset % period
            window_end = ((now - shift) // period + 1) * period + shift
            cache_key = f"rate:{name}:{period}:{window_end}:{digest}"
            counters.append(_Counter(name, incremented, cache_key, limit, window_end - now))
    try:
        counts = _counted(counters)
    except Exception as exc:  # the cache backend's own errors (redis.ConnectionError, ...)
        names = ", ".join(counter.name for counter in counters)
        logger.warning(
            "Rate limit %s not counted: the cache failed (%s)", names, type(exc).__name__
        )
        return {counter.name: NOT_COUNTED for counter in counters}
    return {
        counter.name: Usage(count=counted, limit=counter.limit, time_left=counter.time_left)
        for counter, counted in zip(counters, counts, strict=True)
    }


def _counted(counters: list[_Counter]) -> list[int]:
    # A key outlives its window by a second, so a count read at the window's very end holds.
    backend = caches["default"]
    if isinstance(backend, ReusingRedisCache):
        return _counted_in_one_round_trip(backend, counters)
    counts = []
    for counter in counters:
        if counter.incremented:
            backend.add(counter.cache_key, 0, counter.time_left + 1)
            counts.append(int(backend.incr(counter.cache_key)))
        else:
            counts.append(int(backend.get(counter.cache_key, 0)))
    return counts


def _counted_in_one_round_trip(backend: ReusingRedisCache, counters: list[_Counter]) -> list[int]:
    django_backend: Any = backend  # its client and key functions are untyped in the stubs
    pipeline = django_backend._cache.get_client(write=True).pipeline(transaction=False)
    for counter in counters:
        redis_key = django_backend.make_and_validate_key(counter.cache_key)
        if counter.incremented:
            pipeline.incr(redis_key)
            pipeline.expire(redis_key, counter.time_left + 1, nx=True)
        else:
            pipeline.get(redis_key)
    replies = iter(pipeline.execute())
    counts = []
    for counter in counters:
        counts.append(int(next(replies) or 0))
        if counter.incremented:
            next(replies)  # EXPIRE's answer
    return counts


def usage(request: HttpRequest, name: str, *, key: str, increment: bool) -> Usage:
    """Where `key` ("ip" or "user_or_ip") stands against `RATE_LIMITS[name]`, counting this
    request when `increment`."""
    if increment:
        return count(request, key=key, increment=[name])[name]
    return count(request, key=key, read=[name])[name]


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
            if used.should_limit:
                return too_many_requests(request, retry_after=used.time_left)
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
