from __future__ import annotations

import time

import pytest

from modelmarket.inference.gateway.reliability import CircuitBreakers, CircuitOpen, with_retries
from modelmarket.inference.providers._http import UpstreamBadRequest
from modelmarket.inference.providers.base import (
    CallContext,
    UpstreamRateLimited,
    UpstreamTimeout,
    UpstreamUnavailable,
)

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _ctx(seconds: float = 10) -> CallContext:
    return CallContext(session=None, deadline=time.monotonic() + seconds)  # type: ignore[arg-type]


def _scripted(*outcomes):
    calls = []

    async def attempt():
        calls.append(1)
        outcome = outcomes[len(calls) - 1]
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    return attempt, calls


async def test_retryable_failures_are_retried_until_success():
    attempt, calls = _scripted(UpstreamUnavailable("503"), UpstreamRateLimited("429", retry_after=0.01), "ok")
    result, attempts = await with_retries(
        attempt, ctx=_ctx(), breakers=CircuitBreakers(), upstream="u", backoff_seconds=0.001
    )
    assert (result, attempts, len(calls)) == ("ok", 3, 3)


@pytest.mark.parametrize(
    "error", [UpstreamBadRequest("400"), UpstreamTimeout("slow")], ids=["caller's input", "timeout"]
)
async def test_failures_that_are_not_retryable_fail_at_once(error):
    attempt, calls = _scripted(error, "never")
    with pytest.raises(type(error)):
        await with_retries(
            attempt, ctx=_ctx(), breakers=CircuitBreakers(), upstream="u", backoff_seconds=0.001
        )
    assert len(calls) == 1


async def test_a_retry_after_longer_than_the_time_left_fails_now_instead_of_waiting():
    attempt, calls = _scripted(UpstreamRateLimited("429", retry_after=30), "never")
    started = time.monotonic()
    with pytest.raises(UpstreamRateLimited):
        await with_retries(attempt, ctx=_ctx(2), breakers=CircuitBreakers(), upstream="u")
    assert len(calls) == 1
    assert time.monotonic() - started < 1


async def test_the_breaker_opens_after_consecutive_faults_then_lets_one_trial_through():
    breakers = CircuitBreakers(failure_threshold=3, open_seconds=0.2)
    for _ in range(3):
        breakers.record("u", failed=True)
    assert breakers.is_open("u")
    with pytest.raises(CircuitOpen) as refused:
        breakers.before_call("u")
    assert refused.value.status == 503
    breakers.before_call("other")  # other upstreams are unaffected
    time.sleep(0.25)
    breakers.before_call("u")  # the half-open trial
    with pytest.raises(CircuitOpen):
        breakers.before_call("u")  # only one trial at a time
    breakers.record("u", failed=False)
    assert not breakers.is_open("u")
    breakers.before_call("u")


async def test_a_failed_trial_reopens_the_breaker():
    breakers = CircuitBreakers(failure_threshold=1, open_seconds=0.1)
    breakers.record("u", failed=True)
    time.sleep(0.15)
    breakers.before_call("u")
    breakers.record("u", failed=True)
    with pytest.raises(CircuitOpen):
        breakers.before_call("u")


async def test_caller_errors_do_not_count_towards_opening_the_breaker():
    breakers = CircuitBreakers(failure_threshold=2)
    attempt, _ = _scripted(UpstreamBadRequest("400"), UpstreamBadRequest("400"), "ok")
    for _ in range(2):
        with pytest.raises(UpstreamBadRequest):
            await with_retries(attempt, ctx=_ctx(), breakers=breakers, upstream="u")
    assert not breakers.is_open("u")
