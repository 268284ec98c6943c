"""The shared outbound HTTP client: timeouts, which failures are retried, backoff, Retry-After, rate-limit pauses
and the time budget. Transport-level fakes; an injected clock records the waits instead of waiting."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from modelmarket.core.http import (
    RetryingClient,
    RetryPolicy,
    Timeouts,
    UpstreamRejected,
    UpstreamThrottled,
    UpstreamUnavailable,
    backoff_delay,
    ietf_ratelimit_wait,
    make_http_client,
    parse_retry_after,
    raise_for_upstream_status,
)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def scripted(
    *answers: httpx.Response | type[httpx.TransportError],
) -> tuple[list[httpx.Request], httpx.MockTransport]:
    """A transport answering each request with the next answer (the last one repeats)."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        answer = answers[min(len(seen), len(answers)) - 1]
        if isinstance(answer, type):
            raise answer("scripted", request=request)
        return answer

    return seen, httpx.MockTransport(handler)


def retrying(transport: httpx.MockTransport, clock: Clock, **policy: float) -> RetryingClient:
    return RetryingClient(
        make_http_client(base_url="https://api.example.com", transport=transport),
        policy=RetryPolicy(**policy),  # type: ignore[arg-type]
        sleep=clock.sleep,
        clock=clock,
        random_fraction=lambda: 1.0,
        service_name="Example",
    )


def test_client_has_explicit_connect_read_write_and_pool_timeouts():
    client = make_http_client(timeouts=Timeouts(connect_seconds=2.0, read_seconds=7.0))
    assert client.timeout == httpx.Timeout(connect=2.0, read=7.0, write=30.0, pool=5.0)
    assert make_http_client().timeout == httpx.Timeout(connect=5.0, read=30.0, write=30.0, pool=5.0)
    assert client.follow_redirects is False


def test_429_waits_for_retry_after_then_succeeds():
    clock = Clock()
    seen, transport = scripted(
        httpx.Response(429, headers={"Retry-After": "3"}, json={"detail": "Request was throttled."}),
        httpx.Response(200, json={"ok": True}),
    )
    response = retrying(transport, clock).get("/v1/things")
    assert response.json() == {"ok": True}
    assert len(seen) == 2
    assert clock.sleeps == [3.0]


def test_503_is_retried_with_exponential_backoff_then_succeeds():
    clock = Clock()
    seen, transport = scripted(httpx.Response(503), httpx.Response(502), httpx.Response(200, json=[]))
    response = retrying(transport, clock).get("/v1/things")
    assert response.status_code == 200
    assert len(seen) == 3
    assert clock.sleeps == [1.0, 2.0]


def test_backoff_jitter_keeps_between_half_and_all_of_the_step_and_is_capped():
    policy = RetryPolicy(backoff_base_seconds=1.0, backoff_max_seconds=30.0)
    assert backoff_delay(attempt=3, policy=policy, random_fraction=0.0) == 2.0
    assert backoff_delay(attempt=3, policy=policy, random_fraction=1.0) == 4.0
    assert backoff_delay(attempt=10, policy=policy, random_fraction=1.0) == 30.0


def test_5xx_that_persists_raises_unavailable_after_the_last_attempt():
    clock = Clock()
    seen, transport = scripted(httpx.Response(503, text="upstream down"))
    with pytest.raises(UpstreamUnavailable) as caught:
        retrying(transport, clock, max_attempts=4).get("/v1/things")
    assert len(seen) == 4
    assert clock.sleeps == [1.0, 2.0, 4.0]
    assert caught.value.upstream_status == 503
    assert caught.value.attempts == 4
    assert caught.value.code == "upstream_unavailable"
    assert caught.value.message == "Example failed (HTTP 503); gave up: after 4 attempts."


def test_401_is_not_retried_and_becomes_rejected():
    clock = Clock()
    seen, transport = scripted(
        httpx.Response(401, json={"detail": "You did not pass a valid authentication token"})
    )
    response = retrying(transport, clock).get("/v1/things")
    assert response.status_code == 401
    assert len(seen) == 1
    assert clock.sleeps == []
    with pytest.raises(UpstreamRejected) as caught:
        raise_for_upstream_status(response, service_name="Example")
    assert caught.value.upstream_status == 401
    assert caught.value.url == "https://api.example.com/v1/things"


@pytest.mark.parametrize("status", [400, 403, 404, 409, 422, 500])
def test_other_error_statuses_are_returned_without_retry(status):
    clock = Clock()
    seen, transport = scripted(httpx.Response(status))
    assert retrying(transport, clock).get("/v1/things").status_code == status
    assert len(seen) == 1
    assert clock.sleeps == []


def test_connect_errors_and_timeouts_are_retried_for_a_get():
    clock = Clock()
    seen, transport = scripted(httpx.ConnectError, httpx.ReadTimeout, httpx.Response(200, json={}))
    assert retrying(transport, clock).get("/v1/things").status_code == 200
    assert len(seen) == 3
    assert clock.sleeps == [1.0, 2.0]


def test_a_post_is_not_repeated_after_a_read_timeout_or_a_503():
    clock = Clock()
    seen, transport = scripted(httpx.ReadTimeout)
    with pytest.raises(UpstreamUnavailable) as caught:
        retrying(transport, clock).request("POST", "/v1/charges", json={})
    assert len(seen) == 1
    assert caught.value.message == "Example failed (ReadTimeout); gave up: after 1 attempt."
    seen, transport = scripted(httpx.Response(503))
    assert retrying(transport, clock).request("POST", "/v1/charges", json={}).status_code == 503
    assert len(seen) == 1
    assert clock.sleeps == []


def test_a_post_is_repeated_after_a_connect_error_and_a_429_and_when_marked_idempotent():
    clock = Clock()
    seen, transport = scripted(
        httpx.ConnectError, httpx.Response(429, headers={"Retry-After": "2"}), httpx.Response(201, json={})
    )
    assert retrying(transport, clock).request("POST", "/v1/charges", json={}).status_code == 201
    assert len(seen) == 3
    seen, transport = scripted(httpx.Response(503), httpx.Response(201, json={}))
    client = retrying(transport, clock)
    assert client.request("POST", "/v1/charges", json={}, idempotent=True).status_code == 201
    assert clock.sleeps == [1.0, 2.0, 1.0]


def test_retry_after_beyond_the_time_budget_fails_at_once_without_waiting():
    clock = Clock()
    seen, transport = scripted(httpx.Response(429, headers={"Retry-After": "600"}))
    with pytest.raises(UpstreamThrottled) as caught:
        retrying(transport, clock, total_budget_seconds=120.0).get("/v1/things")
    assert len(seen) == 1
    assert clock.sleeps == []
    assert caught.value.code == "upstream_rate_limited"
    assert caught.value.retry_after_seconds == 600.0
    assert caught.value.message == (
        "Example kept rate limiting us (HTTP 429); gave up: the next wait (600 s) would exceed the 120 s time budget."
    )


def test_persistent_429_stops_when_the_budget_is_spent():
    clock = Clock()
    seen, transport = scripted(httpx.Response(429, headers={"Retry-After": "50"}))
    with pytest.raises(UpstreamThrottled):
        retrying(transport, clock, total_budget_seconds=120.0, max_attempts=10).get("/v1/things")
    assert clock.sleeps == [50.0, 50.0]
    assert len(seen) == 3


def test_ratelimit_header_with_nothing_left_pauses_the_next_request_for_the_window():
    clock = Clock()
    headers = {"RateLimit": '"api";r=0;t=42', "RateLimit-Policy": '"fixed window";"api";q=500;w=300'}
    seen, transport = scripted(httpx.Response(200, headers=headers, json=[]))
    client = retrying(transport, clock)
    client.get("/api/models")
    assert clock.sleeps == []
    client.get("/api/models")
    assert clock.sleeps == [42.0]
    assert len(seen) == 2


def test_ratelimit_header_with_requests_left_does_not_pause():
    response = httpx.Response(200, headers={"RateLimit": '"api";r=12;t=42'})
    assert ietf_ratelimit_wait(response) is None
    assert ietf_ratelimit_wait(httpx.Response(200)) is None
    assert (
        ietf_ratelimit_wait(httpx.Response(200, headers={"RateLimit": "limit=100, remaining=0, reset=9"}))
        == 9.0
    )


def test_retry_after_reads_seconds_and_http_dates():
    now = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after("Sat, 01 Mar 2025 12:00:30 GMT", now=now) == 30.0
    assert parse_retry_after("Sat, 01 Mar 2025 11:00:00 GMT", now=now) == 0.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None
