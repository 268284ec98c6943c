"""Global fixed-window rate limits: one counter per (bucket, window) in a store every worker shares.

Redis when REDIS_URL is set (one Lua script: increment and expire atomically), the database otherwise (one
INSERT ... ON CONFLICT DO UPDATE ... RETURNING). Both count every attempt, so of any number of concurrent requests
exactly `limit` are allowed in a window, whichever process serves them."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from django.conf import settings
from django.db import connection, transaction
from django.http import HttpRequest

logger = logging.getLogger(__name__)

_REDIS_INCREMENT = """
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return count
"""


@dataclass(frozen=True, slots=True)
class RateLimitDecision:
    allowed: bool
    limit: int
    remaining: int
    reset_seconds: int
    window_seconds: int

    def headers(self) -> dict[str, str]:
        headers = {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(self.reset_seconds),
            "RateLimit": f'"default";r={self.remaining};t={self.reset_seconds}',
            "RateLimit-Policy": f'"fixed window";"default";q={self.limit};w={self.window_seconds}',
        }
        if not self.allowed:
            headers["Retry-After"] = str(self.reset_seconds)
        return headers


def _count_in_redis(counter_key: str, ttl_seconds: int) -> int:
    from modelmarket.core.redis import redis_client

    return int(redis_client().eval(_REDIS_INCREMENT, 1, counter_key, ttl_seconds))


def _count_in_database(bucket: str, window_start: int) -> int:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO core_ratelimitcounter (bucket, window_start, count) VALUES (%s, %s, 1) "
            "ON CONFLICT (bucket, window_start) DO UPDATE SET count = core_ratelimitcounter.count + 1 "
            "RETURNING count",
            [bucket, window_start],
        )
        row = cursor.fetchone()
    return int(row[0])


def rate_limit_hit(bucket: str, *, limit: int, window_seconds: int | None = None) -> RateLimitDecision:
    """Count one request against `bucket` and say whether it is within `limit` for the current window."""
    window_seconds = window_seconds or settings.API_RATE_LIMIT_WINDOW_SECONDS
    now = time.time()
    window_start = int(now // window_seconds * window_seconds)
    reset_seconds = max(1, int(window_start + window_seconds - now + 0.999))
    if settings.REDIS_URL:
        try:
            count = _count_in_redis(
                f"{settings.REDIS_KEY_PREFIX}:rl:{bucket}:{window_start}", window_seconds + 5
            )
        except Exception:
            # Fail open: a Redis outage must not take the whole API down with it. /readyz reports the outage.
            logger.exception("rate limit store unreachable; allowing the request")
            return RateLimitDecision(True, limit, limit, reset_seconds, window_seconds)
    else:
        count = _count_in_database(bucket, window_start)
    return RateLimitDecision(count <= limit, limit, max(0, limit - count), reset_seconds, window_seconds)


def client_ip(request: HttpRequest) -> str:
    """The caller's address, trusting X-Forwarded-For only as far as TRUSTED_PROXY_COUNT proxies."""
    return client_address(request.META.get("REMOTE_ADDR", ""), request.META.get("HTTP_X_FORWARDED_FOR", ""))


def client_address(remote: str, forwarded_for: str) -> str:
    """`client_ip` for any server: the peer's address and the X-Forwarded-For header as received."""
    hops = settings.TRUSTED_PROXY_COUNT
    forwarded = [part.strip() for part in forwarded_for.split(",") if part.strip()]
    if hops and len(forwarded) >= hops:
        return forwarded[-hops]
    return remote or "unknown"
