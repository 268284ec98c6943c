from __future__ import annotations

import functools

import redis
from django.conf import settings


@functools.cache
def redis_client(url: str | None = None) -> redis.Redis:
    """One pooled client per process (redis-py resets its pool in a forked child). Short timeouts: Redis sits on
    the request path, and a stuck Redis must fail a check quickly rather than hold the request."""
    return redis.Redis.from_url(
        url or settings.REDIS_URL,
        socket_timeout=0.5,
        socket_connect_timeout=0.5,
        retry_on_timeout=False,
        health_check_interval=30,
    )
