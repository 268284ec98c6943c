"""The fixed logarithmic latency scale behind `ModelLatencyDaily` and the p50/p95 that creators see.

Bucket 0 holds 0 ms. Bucket b >= 1 holds latencies in [2^((b-1)/4), 2^(b/4)) ms: four buckets per doubling, each
about 19% wide, so reporting a bucket's geometric middle is within about 9% of any latency in it. The last bucket
(89, from about 70 minutes) takes everything longer. The scale is part of the stored data: changing it means
rebuilding the histogram rollups."""

from __future__ import annotations

import math
from collections.abc import Iterable

BUCKETS_PER_DOUBLING = 4
LAST_BUCKET = 89


def latency_bucket(latency_ms: int) -> int:
    if latency_ms <= 0:
        return 0
    return min(LAST_BUCKET, math.floor(math.log2(latency_ms) * BUCKETS_PER_DOUBLING) + 1)


def bucket_value_ms(bucket: int) -> int:
    """The latency a bucket stands for: its geometric middle, in whole milliseconds."""
    if bucket <= 0:
        return 0
    return round(2 ** ((bucket - 0.5) / BUCKETS_PER_DOUBLING))


def percentiles_ms(counts: Iterable[tuple[int, int]], fractions: tuple[float, ...]) -> list[int | None]:
    """Percentiles (e.g. 0.5, 0.95) from (bucket, count) pairs in any order; None for each when there is no data.
    Nearest-rank: the value of the bucket holding the ceil(fraction * total)-th call."""
    ordered = sorted((bucket, count) for bucket, count in counts if count > 0)
    total = sum(count for _, count in ordered)
    if total == 0:
        return [None for _ in fractions]
    results: list[int | None] = []
    for fraction in fractions:
        rank = max(1, math.ceil(fraction * total))
        seen = 0
        for bucket, count in ordered:
            seen += count
            if seen >= rank:
                results.append(bucket_value_ms(bucket))
                break
    return results
