"""The Redis cache backend and the Celery result setting (no Redis server needed: clients
connect lazily)."""

from __future__ import annotations

from django.core.cache.backends.redis import RedisCache

from deployments.tasks import sync_application
from portal.redis_cache import ReusingRedisCache
from portal.tasks import ping


def test_the_portal_backend_keeps_one_client_per_pool() -> None:
    cache = ReusingRedisCache("redis://127.0.0.1:6379/15", {})
    first = cache._cache.get_client(write=True)
    assert cache._cache.get_client(write=True) is first
    assert cache._cache.get_client(write=False) is first  # one server: reads share its pool


def test_djangos_own_backend_builds_a_client_per_call() -> None:
    # What the portal backend exists for; if Django starts reusing clients, it can go.
    cache = RedisCache("redis://127.0.0.1:6379/15", {})
    assert cache._cache.get_client(write=True) is not cache._cache.get_client(write=True)


def test_only_ping_keeps_a_result() -> None:
    assert sync_application.ignore_result is True
    assert ping.ignore_result is False
