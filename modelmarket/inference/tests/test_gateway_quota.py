"""Quotas hold exactly across gateway worker processes: several forked processes, each running its own gateway
application (own caches, own meter), fire concurrent calls at one free listing whose daily quota is 50."""

from __future__ import annotations

import multiprocessing
import os
import traceback
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from django.db import connections
from starlette.testclient import TestClient

from conftest import requires_postgres, requires_redis
from modelmarket.catalog.demo.loader import demo_catalog_load
from modelmarket.inference.gateway.app import build_app
from modelmarket.usage.models import UsageEvent

QUOTA = 50
PROCESSES = 4
CALLS_PER_PROCESS = 50  # 200 in all
IRIS = "iris-species-classifier"
SETOSA = {"sepal_length_cm": 5.1, "sepal_width_cm": 3.5, "petal_length_cm": 1.4, "petal_width_cm": 0.2}

pytestmark = [
    pytest.mark.multiprocess,
    pytest.mark.skipif(os.name != "posix", reason="the multi-process tests fork"),
]


def _worker(raw_key: str, results: Any) -> None:
    """One gateway worker process: its own application, 8 concurrent callers."""
    connections.close_all()
    try:
        with TestClient(build_app()) as gateway:

            def one(_: int) -> int:
                response = gateway.post(
                    f"/api/v1/models/{IRIS}/inference",
                    json={"input": SETOSA},
                    headers={"Authorization": f"Bearer {raw_key}"},
                )
                return response.status_code

            with ThreadPoolExecutor(8) as pool:
                statuses: list[Any] = list(pool.map(one, range(CALLS_PER_PROCESS)))
    except Exception:  # report it to the parent instead of leaving it waiting
        statuses = [traceback.format_exc()]
    connections.close_all()
    results.put(statuses)


def _statuses(raw_key: str) -> list[int]:
    connections.close_all()
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    workers = [context.Process(target=_worker, args=(raw_key, results)) for _ in range(PROCESSES)]
    for worker in workers:
        worker.start()
    statuses = [status for _ in workers for status in results.get(timeout=300)]
    for worker in workers:
        worker.join(timeout=60)
    failures = [status for status in statuses if isinstance(status, str)]
    assert not failures, failures[0]
    return statuses


def _run(settings: Any, buyer: Any, creator: Any, api_key_for: Any) -> None:
    settings.GATEWAY_FREE_REQUESTS_PER_DAY = QUOTA
    settings.GATEWAY_FREE_REQUESTS_PER_MINUTE = 0  # only the quota limits here
    demo_catalog_load(uploader=creator)
    raw_key = api_key_for(buyer, requests_per_minute=10_000)
    statuses = _statuses(raw_key)
    assert len(statuses) == PROCESSES * CALLS_PER_PROCESS
    assert statuses.count(200) == QUOTA
    assert statuses.count(402) == PROCESSES * CALLS_PER_PROCESS - QUOTA
    # Every call metered, refused ones included, by whichever process served it.
    assert UsageEvent.objects.filter(status="succeeded").count() == QUOTA
    assert UsageEvent.objects.filter(status="rejected").count() == PROCESSES * CALLS_PER_PROCESS - QUOTA


@requires_postgres
@requires_redis
def test_a_quota_of_50_admits_exactly_50_of_200_concurrent_calls_with_redis(
    transactional_db, settings, buyer, creator, api_key_for
):
    _run(settings, buyer, creator, api_key_for)


@requires_postgres
def test_a_quota_of_50_admits_exactly_50_of_200_concurrent_calls_with_the_database(
    transactional_db, settings, buyer, creator, api_key_for
):
    settings.REDIS_URL = ""  # the embedded default's store: conditional upserts in one transaction
    _run(settings, buyer, creator, api_key_for)
