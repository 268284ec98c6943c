"""Named generation counters: cheap "something changed" signals for in-process caches across many processes.

A service that changes cached data calls `generation_bump(name)`; it takes effect when the transaction commits.
Readers poll `generation_read(name)` (or the Redis key directly, from async code) and drop their caches when the
value moves. Redis holds the counters when REDIS_URL is set, else the `core_cachegeneration` table."""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import connection, transaction

logger = logging.getLogger(__name__)

GATEWAY = "gateway"  # API keys, listings, versions and grants cached by the inference gateway


def generation_redis_key(name: str) -> str:
    return f"{settings.REDIS_KEY_PREFIX}:generation:{name}"


def _increment(name: str) -> None:
    if settings.REDIS_URL:
        from modelmarket.core.redis import redis_client

        try:
            redis_client().incr(generation_redis_key(name))
            return
        except Exception:
            logger.exception("could not bump generation %s in Redis", name)
            return
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO core_cachegeneration (name, value) VALUES (%s, 1) "
            "ON CONFLICT (name) DO UPDATE SET value = core_cachegeneration.value + 1",
            [name],
        )


def generation_bump(name: str = GATEWAY) -> None:
    """Tell every process caching `name` data to drop it, once the surrounding transaction commits (at once outside
    one), so no reader reloads the old rows."""
    transaction.on_commit(lambda: _increment(name))


def generation_read(name: str = GATEWAY) -> int:
    if settings.REDIS_URL:
        from modelmarket.core.redis import redis_client

        return int(redis_client().get(generation_redis_key(name)) or 0)
    from modelmarket.core.models import CacheGeneration

    return int(CacheGeneration.objects.filter(name=name).values_list("value", flat=True).first() or 0)
