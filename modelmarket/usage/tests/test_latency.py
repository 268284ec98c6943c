from __future__ import annotations

import pytest

from modelmarket.usage.latency import LAST_BUCKET, bucket_value_ms, latency_bucket, percentiles_ms


@pytest.mark.parametrize(
    ("latency_ms", "bucket"),
    [(0, 0), (-3, 0), (1, 1), (2, 5), (3, 7), (4, 9), (1000, 40), (1024, 41), (10**9, LAST_BUCKET)],
)
def test_latency_falls_in_its_quarter_doubling_bucket(latency_ms, bucket):
    assert latency_bucket(latency_ms) == bucket


@pytest.mark.parametrize("latency_ms", [5, 17, 120, 999, 2_500, 60_000, 3_600_000])
def test_a_bucket_reports_within_ten_percent_of_its_latencies(latency_ms):
    reported = bucket_value_ms(latency_bucket(latency_ms))
    assert abs(reported - latency_ms) / latency_ms <= 0.1


def test_percentiles_use_the_nearest_rank_bucket():
    counts = [(latency_bucket(100), 90), (latency_bucket(1000), 9), (latency_bucket(10_000), 1)]
    p50, p95, p99, p100 = percentiles_ms(counts, (0.5, 0.95, 0.99, 1.0))
    assert p50 == bucket_value_ms(latency_bucket(100))
    assert p95 == p99 == bucket_value_ms(latency_bucket(1000))
    assert p100 == bucket_value_ms(latency_bucket(10_000))


def test_percentiles_of_nothing_are_none():
    assert percentiles_ms([], (0.5, 0.95)) == [None, None]
    assert percentiles_ms([(3, 0)], (0.5,)) == [None]
