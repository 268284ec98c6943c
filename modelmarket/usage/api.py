"""Usage API: creators report calls of self-hosted models; callers read their own usage; creators read their
listings' analytics. All reads come from rollups (see `usage/models.py`)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Query, Router, Schema
from pydantic import Field

from modelmarket.accounts.authentication import BearerKeyAuth, HeaderKeyAuth, api_auth
from modelmarket.accounts.models import ApiKeyScope, User
from modelmarket.core.api.schemas import ERROR_RESPONSES
from modelmarket.usage import selectors
from modelmarket.usage.schemas import CreatorAnalyticsOut, TrackIn, TrackOut, UsageStatsOut, UsageSummaryOut
from modelmarket.usage.services.track import TrackedCall, usage_events_track

router = Router(tags=["usage"])
READ = api_auth(ApiKeyScope.READ)
# Machine to machine only: an API key with the inference scope, owned by the listing's creator. No browser session.
TRACK = [BearerKeyAuth(ApiKeyScope.INFERENCE), HeaderKeyAuth(ApiKeyScope.INFERENCE)]


def _user(request: HttpRequest) -> User:
    return request.auth  # type: ignore[attr-defined]


class StatsQuery(Schema):
    """Plain strings, so that a bad value is a 400 naming it (`invalid_granularity`, `invalid_timestamp`...)."""

    granularity: str | None = Field(default=None, description="hour or day (default).")
    since: str | None = Field(
        default=None,
        description="ISO 8601 date or date-time (UTC without offset); default 24 h / 30 days ago.",
    )
    until: str | None = Field(
        default=None, description="ISO 8601, exclusive; default now (its bucket included)."
    )
    model: str | None = Field(default=None, description="A model slug.")
    key: int | None = Field(
        default=None, description="One of your API key ids; 0 for calls made without a key."
    )


class AnalyticsQuery(Schema):
    since: str | None = Field(default=None, description="First day (UTC), default 29 days before until.")
    until: str | None = Field(default=None, description="Last day (UTC), inclusive; default today.")
    model: str | None = Field(default=None, description="One of your listings' slugs.")


@router.post("/usage/track", response={200: TrackOut, **ERROR_RESPONSES}, auth=TRACK)
def track_usage(request: HttpRequest, payload: TrackIn) -> dict[str, Any]:
    """Report calls your self-hosted model served (up to 1,000 per request), so they count in your analytics.
    Needs an API key with the `inference` scope, owned by the listing's creator. Idempotent per `event_id`;
    one invalid event and nothing is recorded (422 with the event's index)."""
    calls = [TrackedCall(**event.model_dump()) for event in payload.events]
    result = usage_events_track(actor=_user(request), model_slug=payload.model, calls=calls)
    return {
        "model": result.model.slug,
        "received": result.received,
        "recorded": result.recorded,
        "duplicates": result.received - result.recorded,
    }


@router.get("/usage/stats", response={200: UsageStatsOut, **ERROR_RESPONSES}, auth=READ)
def usage_stats(request: HttpRequest, query: Query[StatsQuery]) -> dict[str, Any]:
    """Your own usage as a series of hours or days (at most 14 days hourly, 366 days daily)."""
    period = selectors.stats_range(granularity=query.granularity, since=query.since, until=query.until)
    series = selectors.usage_series(
        user=_user(request), period=period, model_slug=query.model, api_key_id=query.key
    )
    return {
        "granularity": period.granularity,
        "since": period.since,
        "until": period.until,
        "model": series.model.slug if series.model else None,
        "key": series.api_key_id,
        "points": series.points,
        "totals": series.totals,
    }


@router.get("/usage/summary", response={200: UsageSummaryOut, **ERROR_RESPONSES}, auth=READ)
def usage_summary(request: HttpRequest) -> dict[str, Any]:
    """Your totals per model for the current calendar month (UTC)."""
    summary = selectors.usage_month_summary(user=_user(request))
    return {"period_start": summary.period_start, "period_end": summary.period_end, "items": summary.items}


@router.get(
    "/creator/analytics",
    response={200: CreatorAnalyticsOut, **ERROR_RESPONSES},
    auth=READ,
    tags=["creator"],
)
def creator_analytics(request: HttpRequest, query: Query[AnalyticsQuery]) -> dict[str, Any]:
    """Your listings' calls, unique buyers, error rate and latency, with a daily series (at most 92 days)."""
    since, until = selectors.analytics_range(since=query.since, until=query.until)
    analytics = selectors.creator_analytics(
        creator=_user(request), since=since, until=until, model_slug=query.model
    )
    return {
        "since": analytics.since,
        "until": analytics.until,
        "models": analytics.models,
        "series": analytics.series,
        "totals": analytics.totals,
    }
