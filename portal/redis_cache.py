"""Django's Redis cache, keeping one `redis.Redis` per connection pool.

Django's client builds a new `redis.Redis` for every cache call. Building one registers about
170 response callbacks in a case-insensitive dict: a few tenths of a millisecond of CPU each
time, five times for every webhook delivery (its two rate-limit counters) and more per counted
action. A `redis.Redis` over a pool is safe to share between threads, so one per pool is kept.
"""

from __future__ import annotations

from typing import Any

from django.core.cache.backends.redis import RedisCache, RedisCacheClient


class ReusingRedisCacheClient(RedisCacheClient):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clients: dict[int, Any] = {}

    def get_client(self, key: Any = None, *, write: bool = False) -> Any:
        django_client: Any = self  # its pool and client class are private, so untyped in the stubs
        pool = django_client._get_connection_pool(write)
        client = self._clients.get(id(pool))
        if client is None:
            client = self._clients.setdefault(id(pool), django_client._client(connection_pool=pool))
        return client


class ReusingRedisCache(RedisCache):
    def __init__(self, server: str, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._class = ReusingRedisCacheClient
