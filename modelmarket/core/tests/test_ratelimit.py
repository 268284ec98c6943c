from __future__ import annotations

import multiprocessing
import os
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.conf import settings
from django.db import connections
from django.test import Client

from conftest import requires_postgres, requires_redis
from modelmarket.core.ratelimit import rate_limit_hit

LIMIT = 25
PROCESSES = 3
THREADS_PER_PROCESS = 8
REQUESTS_PER_PROCESS = 30  # 90 requests in all against a limit of 25


def _fire_requests(raw_key: str, results: multiprocessing.Queue) -> None:
    """Runs in a child process: send REQUESTS_PER_PROCESS concurrent requests, report the status codes."""
    connections.close_all()

    def one(_: int) -> int:
        status = Client(HTTP_AUTHORIZATION=f"Bearer {raw_key}").get("/api/v1/me").status_code
        connections.close_all()
        return status

    with ThreadPoolExecutor(THREADS_PER_PROCESS) as pool:
        statuses = list(pool.map(one, range(REQUESTS_PER_PROCESS)))
    results.put(statuses)


def _statuses_from_processes(raw_key: str) -> list[int]:
    # All requests must fall in one window: with an hour-long window, wait out its last seconds if we are in them.
    window = settings.API_RATE_LIMIT_WINDOW_SECONDS
    if time.time() % window > window - 15:
        time.sleep(window - time.time() % window + 0.1)
    connections.close_all()
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    workers = [context.Process(target=_fire_requests, args=(raw_key, results)) for _ in range(PROCESSES)]
    for worker in workers:
        worker.start()
    statuses = [status for _ in workers for status in results.get(timeout=120)]
    for worker in workers:
        worker.join(timeout=30)
        assert worker.exitcode == 0
    return statuses


@pytest.mark.multiprocess
@requires_postgres
@requires_redis
def test_exactly_the_limit_passes_across_processes_with_redis(transactional_db, settings, buyer, api_key_for):
    settings.API_RATE_LIMIT_WINDOW_SECONDS = 3600  # forked children inherit it
    raw_key = api_key_for(buyer, requests_per_minute=LIMIT)
    statuses = _statuses_from_processes(raw_key)
    assert len(statuses) == PROCESSES * REQUESTS_PER_PROCESS
    assert statuses.count(200) == LIMIT
    assert statuses.count(429) == PROCESSES * REQUESTS_PER_PROCESS - LIMIT


@pytest.mark.multiprocess
@requires_postgres
def test_exactly_the_limit_passes_across_processes_with_the_database(
    transactional_db, settings, buyer, api_key_for
):
    settings.REDIS_URL = ""  # the embedded default's store: one atomic upsert per request
    settings.API_RATE_LIMIT_WINDOW_SECONDS = 3600
    raw_key = api_key_for(buyer, requests_per_minute=LIMIT)
    statuses = _statuses_from_processes(raw_key)
    assert statuses.count(200) == LIMIT
    assert statuses.count(429) == PROCESSES * REQUESTS_PER_PROCESS - LIMIT


def test_counter_allows_exactly_the_limit_then_refuses(db):
    decisions = [rate_limit_hit("test:sequential", limit=3) for _ in range(5)]
    assert [decision.allowed for decision in decisions] == [True, True, True, False, False]
    assert [decision.remaining for decision in decisions] == [2, 1, 0, 0, 0]
    assert all(1 <= decision.reset_seconds <= 60 for decision in decisions)


def test_key_limit_answers_429_with_retry_after_and_headers(buyer, api_key_for):
    client = Client(HTTP_X_API_KEY=api_key_for(buyer, requests_per_minute=2))
    first, second, third = (client.get("/api/v1/me") for _ in range(3))
    assert [first.status_code, second.status_code, third.status_code] == [200, 200, 429]
    assert first["X-RateLimit-Limit"] == "2"
    assert first["X-RateLimit-Remaining"] == "1"
    assert second["X-RateLimit-Remaining"] == "0"
    assert third.json()["error"]["code"] == "rate_limited"
    assert int(third["Retry-After"]) == int(third["X-RateLimit-Reset"])
    assert 1 <= int(third["Retry-After"]) <= 60
    assert third["RateLimit-Policy"] == '"fixed window";"default";q=2;w=60'


def test_anonymous_callers_are_limited_per_ip(db, settings):
    settings.API_ANONYMOUS_REQUESTS_PER_MINUTE = 2
    here, elsewhere = Client(REMOTE_ADDR="203.0.113.1"), Client(REMOTE_ADDR="203.0.113.2")
    assert [here.get("/api/v1/me").status_code for _ in range(3)] == [401, 401, 429]
    assert elsewhere.get("/api/v1/me").status_code == 401


def test_invalid_keys_are_limited_per_ip_so_guessing_is_slow(db, settings):
    settings.API_ANONYMOUS_REQUESTS_PER_MINUTE = 2
    client = Client(REMOTE_ADDR="203.0.113.9")
    statuses = [
        client.get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer mm_guess{i}").status_code for i in range(3)
    ]
    assert statuses == [401, 401, 429]


def test_keys_do_not_share_a_window(buyer, api_key_for):
    one = Client(HTTP_X_API_KEY=api_key_for(buyer, requests_per_minute=1))
    other = Client(HTTP_X_API_KEY=api_key_for(buyer, requests_per_minute=1))
    assert [one.get("/api/v1/me").status_code, one.get("/api/v1/me").status_code] == [200, 429]
    assert other.get("/api/v1/me").status_code == 200


def test_forwarded_for_is_trusted_only_behind_configured_proxies(db, settings):
    settings.API_ANONYMOUS_REQUESTS_PER_MINUTE = 1
    spoofing = Client(REMOTE_ADDR="203.0.113.5")
    assert spoofing.get("/api/v1/me", HTTP_X_FORWARDED_FOR="198.51.100.1").status_code == 401
    # Without a trusted proxy the header is ignored: a new forged address does not buy a new window.
    assert spoofing.get("/api/v1/me", HTTP_X_FORWARDED_FOR="198.51.100.2").status_code == 429
    settings.TRUSTED_PROXY_COUNT = 1
    assert spoofing.get("/api/v1/me", HTTP_X_FORWARDED_FOR="198.51.100.3").status_code == 401


pytestmark = pytest.mark.skipif(os.name != "posix", reason="the multi-process tests fork")
