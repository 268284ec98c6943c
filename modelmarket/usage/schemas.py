from __future__ import annotations

from datetime import date, datetime

from ninja import Schema
from pydantic import Field

from modelmarket.core.api.schemas import StrictIn

TRACK_MAX_EVENTS = 1000


class TrackedEventIn(StrictIn):
    """One call your self-hosted model served. Ranges are checked by the server, each failure with its own code."""

    event_id: str = Field(
        description="Your id for this call, 1 to 100 characters. Resending it is harmless: it is counted once "
        "(ids are per model, so other creators' ids never collide with yours)."
    )
    status: str = Field(
        default="succeeded",
        description="succeeded, accepted, invalid_input, rejected, upstream_error, timeout, client_disconnected "
        "or server_error.",
    )
    started_at: datetime = Field(
        description="When the call started, with a UTC offset; not in the future, at most 7 days old."
    )
    latency_ms: int = Field(description="Total time, 0 to 3,600,000 ms.")
    input_tokens: int = 0
    output_tokens: int = 0
    compute_ms: int = 0
    ttfb_ms: int | None = Field(default=None, description="Time to first byte; not more than latency_ms.")
    version: str | None = Field(default=None, max_length=64, description="One of the listing's versions.")
    http_status: int | None = None
    error_code: str = Field(default="", max_length=64)
    stream: bool = False
    request_id: str = Field(default="", max_length=100)


class TrackIn(StrictIn):
    model: str = Field(min_length=1, max_length=120, description="The slug of your listing.")
    events: list[TrackedEventIn] = Field(min_length=1, max_length=TRACK_MAX_EVENTS)


class TrackOut(Schema):
    model: str
    received: int
    recorded: int = Field(description="Events new to us; the rest were already recorded (resent ids).")
    duplicates: int


class MoneyOut(Schema):
    amount_minor: int = Field(description="In the currency's minor units (cents for USD).")
    currency: str


class UsageCountersOut(Schema):
    requests: int = Field(description="Calls that were not rejected.")
    succeeded: int
    errors: int = Field(description="Calls the model failed (provider error or timeout).")
    rejected: int = Field(
        description="Calls refused before the model (auth, entitlement, rate limit, quota)."
    )
    input_tokens: int
    output_tokens: int
    compute_ms: int


class UsagePointOut(UsageCountersOut):
    start: datetime
    costs: list[MoneyOut]


class UsageTotalsOut(UsageCountersOut):
    costs: list[MoneyOut]


class UsageStatsOut(Schema):
    granularity: str
    since: datetime
    until: datetime
    model: str | None
    key: int | None
    points: list[UsagePointOut]
    totals: UsageTotalsOut


class QuotaUseOut(Schema):
    limit: int
    used: int


class QuotaOut(Schema):
    plan: str = Field(description="The plan's id, or `free` for the platform's free tier.")
    period: str = Field(description="`day` (UTC) or `month`.")
    requests: QuotaUseOut | None
    tokens: QuotaUseOut | None


class SummaryItemOut(Schema):
    model: str
    requests: int
    input_tokens: int
    output_tokens: int
    cost: MoneyOut
    quota: QuotaOut | None = Field(
        description="The caller's plan quotas on this model and their use in the quota's period; null without quotas."
    )


class UsageSummaryOut(Schema):
    period_start: date
    period_end: date = Field(description="Exclusive: the first day of the next month.")
    items: list[SummaryItemOut]


class LatencyOut(Schema):
    average: int | None
    p50: int | None
    p95: int | None


class ModelAnalyticsOut(UsageCountersOut):
    model: str
    unique_buyers: int
    error_rate: float
    latency_ms: LatencyOut = Field(description="Of succeeded calls; p50/p95 within about 9%.")
    revenue: list[MoneyOut] = Field(
        description="The creator's earnings from this model in the range (after the platform fee, net of refunds), "
        "per currency."
    )


class AnalyticsPointOut(UsageCountersOut):
    day: date
    error_rate: float


class AnalyticsTotalsOut(UsageCountersOut):
    error_rate: float
    revenue: list[MoneyOut] = Field(description="Earnings of all the models in the range, per currency.")


class CreatorAnalyticsOut(Schema):
    since: date
    until: date = Field(description="Inclusive.")
    models: list[ModelAnalyticsOut]
    series: list[AnalyticsPointOut]
    totals: AnalyticsTotalsOut
