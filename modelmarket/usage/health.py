"""Reads for the usage pages that the API's selectors do not cover: a listing's live health over the last 24 hours
(the model page) and the calls per day of each of a creator's listings (the analytics page's per-model charts).

Both read rollups only, in one query each whatever the number of listings. Times are UTC."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from typing import TypedDict

from django.db.models import Sum
from django.utils import timezone

from modelmarket.accounts.models import User
from modelmarket.catalog.selectors.models import models_owned_by
from modelmarket.usage.models import ModelUsageDaily, UsageHourly

HEALTH_WINDOW_HOURS = 24


class ModelHealth(TypedDict):
    calls: int
    errors: int
    error_rate: float  # errors / calls, 0..1
    error_percent: float
    latency_avg_ms: int | None


def model_health_24h(model_id: int, *, now: datetime | None = None) -> ModelHealth:
    """Calls, error rate and average latency (of succeeded calls) of one listing over the last 24 hours: the
    current hour and the 23 before it, from the hourly rollup. One query (one index seek per hour: the rollup's
    key starts with the hour).

    The hourly rollup counts only calls made by a known user, so calls a creator reports for a self-hosted model
    (`/usage/track`, no buyer) are not in it. It holds no latency histogram, hence no p50 here (the creator's
    analytics have p50/p95 per day)."""
    current = (now or timezone.now()).astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    hours = [current - timedelta(hours=index) for index in range(HEALTH_WINDOW_HOURS)]
    sums = UsageHourly.objects.filter(hour__in=hours, model_id=model_id).aggregate(
        requests=Sum("requests"),
        succeeded=Sum("succeeded"),
        errors=Sum("errors"),
        latency_ms_sum=Sum("latency_ms_sum"),
    )
    calls, errors = sums["requests"] or 0, sums["errors"] or 0
    succeeded, latency_ms_sum = sums["succeeded"] or 0, sums["latency_ms_sum"] or 0
    return {
        "calls": calls,
        "errors": errors,
        "error_rate": round(errors / calls, 4) if calls else 0.0,
        "error_percent": round(100 * errors / calls, 2) if calls else 0.0,
        "latency_avg_ms": round(latency_ms_sum / succeeded) if succeeded else None,
    }


def creator_calls_per_day(*, creator: User, since: date, until: date) -> dict[str, dict[date, int]]:
    """{model slug: {day: calls}} for the creator's own listings (not deleted) over whole days [since, until];
    days without calls are absent. One query. (Candidate for `selectors.py`, beside `creator_analytics`.)"""
    rows = (
        ModelUsageDaily.objects.filter(
            day__gte=since, day__lte=until, model__in=models_owned_by(creator=creator).values("pk")
        )
        .values_list("model__slug", "day", "requests")
        .order_by()
    )
    calls: dict[str, dict[date, int]] = defaultdict(dict)
    for slug, day, requests in rows:
        calls[slug][day] = requests
    return dict(calls)
