"""Rate limits and quotas for gateway calls, global across workers and processes.

One admission check per call, all or nothing: the caller's requests-per-minute (the API key's own limit, or the
default; the browser session's for the playground), the plan's requests-per-minute, the plan's request quota and its
token quota for the period. Either every counter moves or none does, so a refused call uses up nothing.

Redis: one Lua script (one round trip). Without Redis: conditional upserts (`... DO UPDATE SET count = count + 1
WHERE count < limit RETURNING count`) inside one transaction, rolled back when any counter is full. Both are exact
under any concurrency: 200 concurrent calls against a quota of 50 admit exactly 50.

Tokens are known only after the call, so the token quota admits while `used < quota` and the call's tokens are
added afterwards (`tokens_add`, written in batches every 100 ms)."""

from __future__ import annotations

import asyncio
import calendar
import contextlib
import functools
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import connection, transaction

from modelmarket.core.ratelimit import RateLimitDecision
from modelmarket.inference.entitlements import Grant, QuotaPeriod

WINDOW_SECONDS = 60
TOKEN_FLUSH_SECONDS = 0.1
logger = logging.getLogger(__name__)

_ADMIT = """
local window_ttl, period_ttl = tonumber(ARGV[1]), tonumber(ARGV[2])
local limits = {tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])}
local used = {}
for i = 1, 4 do
  used[i] = tonumber(redis.call('GET', KEYS[i]) or '0')
  if limits[i] > 0 and used[i] >= limits[i] then return {i, used[1]} end
end
for i = 1, 3 do
  if limits[i] > 0 then
    used[i] = redis.call('INCR', KEYS[i])
    if used[i] == 1 then redis.call('EXPIRE', KEYS[i], i < 3 and window_ttl or period_ttl) end
  end
end
return {0, used[1], used[2], used[3]}
"""

# Which limit refused the call, in the order the script checks them.
REFUSALS = {
    1: "rate_limited",
    2: "plan_rate_limited",
    3: "request_quota_exhausted",
    4: "token_quota_exhausted",
}


@dataclass(frozen=True, slots=True)
class Admission:
    allowed: bool
    refusal: str  # "" when allowed, else a REFUSALS value
    limit: int  # the caller's requests per minute
    remaining: int
    reset_seconds: int
    period_reset_seconds: int

    def headers(self) -> dict[str, str]:
        """The rate-limit headers of the caller's per-minute limit (Retry-After only when a per-minute limit
        refused the call: an exhausted quota is a 402, not a wait)."""
        throttled = self.refusal in ("rate_limited", "plan_rate_limited")
        decision = RateLimitDecision(
            not throttled, self.limit, self.remaining, self.reset_seconds, WINDOW_SECONDS
        )
        return decision.headers()


def period_bounds(period: QuotaPeriod, now: float) -> tuple[int, int]:
    """(start, end) of the UTC day or calendar month containing `now`, as Unix seconds."""
    return _period_bounds(period, int(now // 86400))  # Unix time has 86400 s in every UTC day


@functools.lru_cache(maxsize=16)
def _period_bounds(period: QuotaPeriod, day: int) -> tuple[int, int]:
    if period == "day":
        return day * 86400, (day + 1) * 86400
    moment = datetime.fromtimestamp(day * 86400, UTC)
    start = datetime(moment.year, moment.month, 1, tzinfo=UTC)
    days = calendar.monthrange(moment.year, moment.month)[1]
    return int(start.timestamp()), int(start.timestamp()) + days * 86400


@dataclass(frozen=True, slots=True)
class Buckets:
    caller: str  # "key:<id>" or "session:<user id>"
    plan: str  # "<user id>:<model id>"
    period_start: int
    window_start: int

    def redis_keys(self) -> list[str]:
        prefix = f"{settings.REDIS_KEY_PREFIX}:gw"
        return [
            f"{prefix}:rpm:{self.caller}:{self.window_start}",
            f"{prefix}:plan-rpm:{self.plan}:{self.window_start}",
            f"{prefix}:quota-requests:{self.plan}:{self.period_start}",
            _tokens_key(self.plan, self.period_start),
        ]


@dataclass(frozen=True, slots=True)
class TokenTally:
    """Where a call's tokens count against its plan's token quota: the plan bucket and the quota period the call
    started in. A long job (202) keeps it, to count its tokens when it ends (`tokens_add_now`)."""

    bucket: str  # "<user id>:<model id>"
    period_start: int
    period_end: int

    def as_json(self) -> dict[str, Any]:
        return {"bucket": self.bucket, "period_start": self.period_start, "period_end": self.period_end}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TokenTally:
        return cls(str(data["bucket"]), int(data["period_start"]), int(data["period_end"]))


def token_tally(*, user_id: int, model_id: int, grant: Grant) -> TokenTally | None:
    """The tally a call's tokens go to (the quota period running now); None when its plan has no token quota."""
    if not grant.token_quota:
        return None
    period_start, period_end = period_bounds(grant.quota_period, time.time())
    return TokenTally(f"{user_id}:{model_id}", period_start, period_end)


def tokens_add_now(tally: TokenTally, tokens: int, *, redis_url: str = "") -> None:
    """Count tokens against a token quota at once, from synchronous code (a long job's end): in Redis when
    `redis_url` is given, else in the database (in the caller's transaction)."""
    if tokens <= 0:
        return
    if redis_url:
        from modelmarket.core.redis import redis_client

        key = _tokens_key(tally.bucket, tally.period_start)
        pipe = redis_client(redis_url).pipeline(transaction=False)
        pipe.incrby(key, tokens)
        pipe.expire(key, max(60, tally.period_end - int(time.time()) + 60))
        pipe.execute()
    else:
        _tokens_add_in_database([(f"tokens:{tally.bucket}", tally.period_start, tokens)])


def _tokens_key(bucket: str, period_start: int) -> str:
    return f"{settings.REDIS_KEY_PREFIX}:gw:quota-tokens:{bucket}:{period_start}"


class Limiter:
    """Admission and token accounting for one gateway worker. `redis` is a `redis.asyncio.Redis` or None."""

    def __init__(self, redis: Any | None) -> None:
        self.redis = redis
        self._admit_script = redis.register_script(_ADMIT) if redis is not None else None
        self.pending_tokens: dict[tuple[str, int, int], int] = {}

    def buckets(self, *, caller: str, user_id: int, model_id: int, grant: Grant, now: float) -> Buckets:
        period_start, _ = period_bounds(grant.quota_period, now)
        return Buckets(
            caller, f"{user_id}:{model_id}", period_start, int(now // WINDOW_SECONDS * WINDOW_SECONDS)
        )

    async def admit(
        self, *, caller: str, caller_limit: int, user_id: int, model_id: int, grant: Grant
    ) -> Admission:
        now = time.time()
        buckets = self.buckets(caller=caller, user_id=user_id, model_id=model_id, grant=grant, now=now)
        _, period_end = period_bounds(grant.quota_period, now)
        limits = [
            caller_limit,
            grant.requests_per_minute or 0,
            grant.request_quota or 0,
            grant.token_quota or 0,
        ]
        if self._admit_script is not None:
            result = await self._admit_script(
                keys=buckets.redis_keys(), args=[WINDOW_SECONDS + 5, period_end - int(now) + 60, *limits]
            )
            refused, caller_used = int(result[0]), int(result[1])
        else:
            refused, caller_used = await _admit_in_database(buckets, limits)
        reset = max(1, int(buckets.window_start + WINDOW_SECONDS - now + 0.999))
        return Admission(
            allowed=refused == 0,
            refusal=REFUSALS.get(refused, ""),
            limit=caller_limit,
            remaining=max(0, caller_limit - caller_used),
            reset_seconds=reset,
            period_reset_seconds=max(1, period_end - int(now)),
        )

    def tokens_add(self, *, user_id: int, model_id: int, grant: Grant, tokens: int) -> None:
        """Count a finished call's tokens against the plan's token quota (when it has one). Tallied in memory and
        written by `tokens_flush` every TOKEN_FLUSH_SECONDS, so a call costs one round trip to the store, not two;
        the period is fixed now, so tokens used just before midnight count for that day."""
        tally = token_tally(user_id=user_id, model_id=model_id, grant=grant)
        if tally is None or tokens <= 0:
            return
        key = (tally.bucket, tally.period_start, tally.period_end)
        self.pending_tokens[key] = self.pending_tokens.get(key, 0) + tokens

    async def tokens_flush(self) -> None:
        """Write the tallied tokens: one pipeline to Redis, or one transaction. A failed write keeps the tally."""
        if not self.pending_tokens:
            return
        pending, self.pending_tokens = self.pending_tokens, {}
        try:
            if self.redis is not None:
                now = int(time.time())
                async with self.redis.pipeline(transaction=False) as pipe:
                    for (bucket, period_start, period_end), tokens in pending.items():
                        key = _tokens_key(bucket, period_start)
                        pipe.incrby(key, tokens)
                        pipe.expire(key, period_end - now + 60)
                    await pipe.execute()
            else:
                rows = [(f"tokens:{bucket}", start, tokens) for (bucket, start, _), tokens in pending.items()]
                await sync_to_async(_tokens_add_in_database, thread_sensitive=False)(rows)
        except Exception:
            logger.exception("writing token usage failed; keeping it for the next try")
            for tally, tokens in pending.items():
                self.pending_tokens[tally] = self.pending_tokens.get(tally, 0) + tokens

    async def run_token_flusher(self, stopping: asyncio.Event) -> None:
        while not stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), timeout=TOKEN_FLUSH_SECONDS)
            await self.tokens_flush()


class _Refused(Exception):
    """Rolls the admission transaction back. `used` is the caller's per-minute count, for the headers."""

    def __init__(self, index: int, used: int) -> None:
        self.index, self.used = index, used


def _conditional_increment(table: str, column: str, bucket: str, start: int, limit: int) -> int | None:
    """Add one to the counter unless it has reached `limit`; the new count, or None when it was full."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (bucket, {column}, count) VALUES (%s, %s, 1) "  # noqa: S608 (our own names)
            f"ON CONFLICT (bucket, {column}) DO UPDATE SET count = {table}.count + 1 "
            f"WHERE {table}.count < %s RETURNING count",
            [bucket, start, limit],
        )
        row = cursor.fetchone()
    return int(row[0]) if row else None


def _admit_in_database_sync(buckets: Buckets, limits: list[int]) -> tuple[int, int]:
    caller_limit, plan_rpm, request_quota, token_quota = limits
    try:
        with transaction.atomic():
            if token_quota:
                with connection.cursor() as cursor:
                    cursor.execute(
                        "SELECT count FROM inference_quotacounter WHERE bucket = %s AND period_start = %s",
                        [f"tokens:{buckets.plan}", buckets.period_start],
                    )
                    row = cursor.fetchone()
                if row and int(row[0]) >= token_quota:
                    raise _Refused(4, 0)
            checks = [
                (
                    1,
                    "core_ratelimitcounter",
                    "window_start",
                    f"gw:{buckets.caller}",
                    buckets.window_start,
                    caller_limit,
                ),
                (
                    2,
                    "core_ratelimitcounter",
                    "window_start",
                    f"gw-plan:{buckets.plan}",
                    buckets.window_start,
                    plan_rpm,
                ),
                (
                    3,
                    "inference_quotacounter",
                    "period_start",
                    f"requests:{buckets.plan}",
                    buckets.period_start,
                    request_quota,
                ),
            ]
            caller_used = 0
            for index, table, column, bucket, start, limit in checks:
                if not limit:
                    continue
                count = _conditional_increment(table, column, bucket, start, limit)
                if count is None:
                    raise _Refused(index, caller_limit if index == 1 else caller_used)
                if index == 1:
                    caller_used = count
            return 0, caller_used
    except _Refused as refused:
        return refused.index, refused.used


async def _admit_in_database(buckets: Buckets, limits: list[int]) -> tuple[int, int]:
    return await sync_to_async(_admit_in_database_sync, thread_sensitive=False)(buckets, limits)


def _tokens_add_in_database(rows: list[tuple[str, int, int]]) -> None:
    with transaction.atomic(), connection.cursor() as cursor:
        for bucket, period_start, tokens in rows:
            cursor.execute(
                "INSERT INTO inference_quotacounter (bucket, period_start, count) VALUES (%s, %s, %s) "
                "ON CONFLICT (bucket, period_start) DO UPDATE SET count = inference_quotacounter.count + %s",
                [bucket, period_start, tokens, tokens],
            )
