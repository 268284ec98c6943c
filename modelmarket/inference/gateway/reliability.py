"""Retries within the call's time budget, and a circuit breaker per upstream server.

Only retryable failures are retried (`ProviderError.retryable`: connection failures, upstream 502/503/504 and 429),
with exponential backoff and jitter, honouring the upstream's Retry-After when it fits in the time left. A breaker
opens after `failure_threshold` consecutive upstream failures and refuses calls for `open_seconds`, then lets one
trial call through (half-open); a success closes it."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from modelmarket.inference.providers.base import (
    CallContext,
    ProviderError,
    UpstreamBadResponse,
    UpstreamTimeout,
    UpstreamUnavailable,
)

T = TypeVar("T")

# Failures that say the upstream is unwell (and count towards opening its breaker); a refusal of the caller's
# input or of the listing's credentials does not.
UPSTREAM_FAULTS = (UpstreamUnavailable, UpstreamTimeout, UpstreamBadResponse)


class CircuitOpen(UpstreamUnavailable):
    status = 503
    code = "upstream_circuit_open"
    retryable = False


@dataclass
class _Breaker:
    failures: int = 0
    opened_at: float | None = None
    trial_running: bool = False


class CircuitBreakers:
    def __init__(self, *, failure_threshold: int = 5, open_seconds: float = 10.0) -> None:
        self.failure_threshold = failure_threshold
        self.open_seconds = open_seconds
        self._breakers: dict[str, _Breaker] = {}

    def before_call(self, upstream: str) -> None:
        """Raises CircuitOpen while the upstream's breaker is open (or its half-open trial is running)."""
        breaker = self._breakers.get(upstream)
        if breaker is None or breaker.opened_at is None:
            return
        waited = time.monotonic() - breaker.opened_at
        if waited < self.open_seconds or breaker.trial_running:
            retry_after = max(1.0, self.open_seconds - waited)
            raise CircuitOpen(
                "This model's provider is failing; calls are paused briefly.", retry_after=retry_after
            )
        breaker.trial_running = True

    def record(self, upstream: str, *, failed: bool) -> None:
        breaker = self._breakers.setdefault(upstream, _Breaker())
        breaker.trial_running = False
        if not failed:
            breaker.failures, breaker.opened_at = 0, None
            return
        breaker.failures += 1
        if breaker.failures >= self.failure_threshold or breaker.opened_at is not None:
            breaker.opened_at = time.monotonic()

    def is_open(self, upstream: str) -> bool:
        breaker = self._breakers.get(upstream)
        return breaker is not None and breaker.opened_at is not None


async def with_retries[T](
    attempt: Callable[[], Awaitable[T]],
    *,
    ctx: CallContext,
    breakers: CircuitBreakers,
    upstream: str,
    max_attempts: int = 3,
    backoff_seconds: float = 0.2,
) -> tuple[T, int]:
    """Run `attempt` until it succeeds, fails for good, or the deadline leaves no room for another wait.
    Returns the result and the number of attempts made."""
    for number in range(1, max_attempts + 1):
        breakers.before_call(upstream)
        try:
            result = await attempt()
        except ProviderError as error:
            breakers.record(upstream, failed=isinstance(error, UPSTREAM_FAULTS))
            if not error.retryable or number == max_attempts:
                raise
            wait = backoff_seconds * 2 ** (number - 1) * (0.5 + random.random())  # noqa: S311 (jitter)
            if error.retry_after is not None:
                wait = max(wait, error.retry_after)
            if wait >= ctx.deadline - time.monotonic():
                raise
            await asyncio.sleep(wait)
            continue
        breakers.record(upstream, failed=False)
        return result, number
    raise AssertionError("unreachable: the loop returns or raises")
