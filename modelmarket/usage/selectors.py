"""Metering reads: a caller's usage over time, this month's totals per model, and a creator's analytics.

Everything here reads the rollups (`models.py`), never raw events, so the cost depends on the caller's number of
models, keys and days, not on their number of calls. Times are UTC. What a caller may not see is NotFound."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django.db.models import BigIntegerField, Case, Count, Exists, F, OuterRef, Q, QuerySet, Sum, Value, When
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from modelmarket.accounts.models import User
from modelmarket.accounts.selectors import api_key_get
from modelmarket.billing.selectors.creator_revenue import creator_revenue_by_model
from modelmarket.catalog.models import AIModel
from modelmarket.catalog.selectors.models import models_owned_by, models_visible_to
from modelmarket.core.exceptions import BadRequest, NotFound
from modelmarket.usage.latency import percentiles_ms
from modelmarket.usage.models import (
    ModelBuyerDays,
    ModelLatencyDaily,
    ModelUsageDaily,
    UsageDaily,
    UsageHourly,
)
from modelmarket.usage.rollup_keys import buyer_window_masks

GRANULARITIES = {"hour": timedelta(hours=1), "day": timedelta(days=1)}
# The widest range one /usage/stats request may span, and the default (ending now) when `since` is not given.
MAX_RANGE = {"hour": timedelta(days=14), "day": timedelta(days=366)}
DEFAULT_RANGE = {"hour": timedelta(hours=24), "day": timedelta(days=30)}
ANALYTICS_DEFAULT_DAYS = 30
ANALYTICS_MAX_DAYS = 92
USAGE_SUMS = (
    "requests",
    "succeeded",
    "errors",
    "rejected",
    "input_tokens",
    "output_tokens",
    "compute_ms",
)
MODEL_SUMS = (*USAGE_SUMS, "latency_ms_sum")


def _sums(names: tuple[str, ...]) -> dict[str, Sum]:
    return {name: Sum(name) for name in names}


def _zero(names: tuple[str, ...]) -> dict[str, int]:
    return dict.fromkeys(names, 0)


# --- Parsing the range parameters -------------------------------------------------------------------------------


def _moment(value: str | None, name: str) -> datetime | None:
    """An ISO 8601 date or date-time; without an offset it is UTC."""
    if value is None or value == "":
        return None
    try:
        parsed = parse_datetime(value)
        if parsed is None:
            day = parse_date(value)
            parsed = datetime.combine(day, time()) if day else None
    except ValueError:
        parsed = None
    if parsed is None:
        raise BadRequest(
            f"{name} must be an ISO 8601 date or date-time.",
            code="invalid_timestamp",
            details={"field": name},
        )
    return parsed.replace(tzinfo=UTC) if timezone.is_naive(parsed) else parsed.astimezone(UTC)


def _floor(moment: datetime, granularity: str) -> datetime:
    moment = moment.replace(minute=0, second=0, microsecond=0)
    return moment.replace(hour=0) if granularity == "day" else moment


def _ceil(moment: datetime, granularity: str) -> datetime:
    floored = _floor(moment, granularity)
    return floored if floored == moment else floored + GRANULARITIES[granularity]


@dataclass(frozen=True)
class StatsRange:
    granularity: str
    since: datetime  # inclusive, on a bucket boundary
    until: datetime  # exclusive, on a bucket boundary

    def starts(self) -> list[datetime]:
        """The start of every bucket in the range."""
        step = GRANULARITIES[self.granularity]
        count = int((self.until - self.since) / step)
        return [self.since + step * index for index in range(count)]

    def days(self) -> list[date]:
        """Every UTC day the range touches."""
        first, last = self.since.date(), (self.until - timedelta(microseconds=1)).date()
        return [first + timedelta(days=index) for index in range((last - first).days + 1)]


def stats_range(
    *, granularity: str | None, since: str | None, until: str | None, now: datetime | None = None
) -> StatsRange:
    """Whole buckets covering [since, until): default `until` is now (its bucket included), default `since` a day
    (hourly) or 30 days (daily) before. At most 14 days hourly or 366 days daily."""
    granularity = granularity or "day"
    if granularity not in GRANULARITIES:
        raise BadRequest(
            "granularity must be hour or day.",
            code="invalid_granularity",
            details={"allowed": ["hour", "day"]},
        )
    end = _ceil(_moment(until, "until") or now or timezone.now(), granularity)
    start = _floor(_moment(since, "since") or end - DEFAULT_RANGE[granularity], granularity)
    if start >= end:
        raise BadRequest("since must be before until.", code="invalid_range")
    if end - start > MAX_RANGE[granularity]:
        raise BadRequest(
            f"A {granularity}ly series spans at most {MAX_RANGE[granularity].days} days.",
            code="range_too_large",
            details={"max_days": MAX_RANGE[granularity].days},
        )
    return StatsRange(granularity=granularity, since=start, until=end)


# --- /usage/stats -----------------------------------------------------------------------------------------------


def usage_model_for_filter(*, user: User, slug: str, days: list[date]) -> AIModel:
    """A model the caller may filter their usage of `days` by: one they can see, or one they used on those days (a
    listing taken down since still shows in their own history)."""
    used = UsageDaily.objects.filter(day__in=days, user_id=user.pk, model=OuterRef("pk"))
    try:
        return AIModel.objects.filter(
            Q(pk__in=models_visible_to(user).values("pk")) | Q(Exists(used)), slug=slug
        ).get()
    except AIModel.DoesNotExist:
        raise NotFound("No such model.", code="model_not_found") from None


@dataclass
class UsageSeries:
    range: StatsRange
    model: AIModel | None
    api_key_id: int | None
    points: list[dict[str, Any]]
    totals: dict[str, Any]


def _costs(by_currency: dict[str, int]) -> list[dict[str, Any]]:
    return [
        {"amount_minor": amount, "currency": currency} for currency, amount in sorted(by_currency.items())
    ]


def usage_series(
    *, user: User, period: StatsRange, model_slug: str | None = None, api_key_id: int | None = None
) -> UsageSeries:
    """The caller's own usage per hour or day over `period`, every bucket present (zeros where nothing happened),
    optionally for one model and one of their API keys (0 means calls made without a key, in the playground).
    Costs are per currency."""
    model = usage_model_for_filter(user=user, slug=model_slug, days=period.days()) if model_slug else None
    if api_key_id:
        api_key_get(user=user, key_id=api_key_id)  # the caller's own key, or NotFound
    hourly = period.granularity == "hour"
    time_field = "hour" if hourly else "day"
    # Every bucket named: the rollup keys start with the time, so this is one index seek per bucket.
    starts = period.starts()
    rows = (UsageHourly if hourly else UsageDaily).objects.filter(
        **{f"{time_field}__in": starts if hourly else [start.date() for start in starts]}, user_id=user.pk
    )
    if model is not None:
        rows = rows.filter(model=model)
    if api_key_id is not None:
        rows = rows.filter(api_key_id=api_key_id)
    grouped = rows.values(time_field, "currency").annotate(**_sums((*USAGE_SUMS, "cost_minor"))).order_by()
    buckets: dict[datetime, dict[str, Any]] = {}
    for row in grouped:
        moment = row[time_field]
        if not hourly:
            moment = datetime.combine(moment, time(), tzinfo=UTC)
        bucket = buckets.setdefault(moment, {**_zero(USAGE_SUMS), "costs": defaultdict(int)})
        for name in USAGE_SUMS:
            bucket[name] += row[name] or 0
        bucket["costs"][row["currency"]] += row["cost_minor"] or 0
    points = []
    totals: dict[str, Any] = {**_zero(USAGE_SUMS), "costs": defaultdict(int)}
    for moment in starts:
        bucket = buckets.get(moment) or {**_zero(USAGE_SUMS), "costs": {}}
        for name in USAGE_SUMS:
            totals[name] += bucket[name]
        for currency, amount in bucket["costs"].items():
            totals["costs"][currency] += amount
        points.append(
            {"start": moment, **{name: bucket[name] for name in USAGE_SUMS}, "costs": _costs(bucket["costs"])}
        )
    totals["costs"] = _costs(totals["costs"])
    return UsageSeries(range=period, model=model, api_key_id=api_key_id, points=points, totals=totals)


# --- /usage/summary ---------------------------------------------------------------------------------------------


def month_bounds(now: datetime) -> tuple[date, date]:
    """The calendar month (UTC) holding `now`: first day, and first day of the next month."""
    first = now.astimezone(UTC).date().replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    return first, following


@dataclass
class UsageSummary:
    period_start: date
    period_end: date  # exclusive
    items: list[dict[str, Any]] = field(default_factory=list)


def usage_month_summary(*, user: User, now: datetime | None = None) -> UsageSummary:
    """The caller's totals per model (and currency) for the current calendar month in UTC, most used first.

    One item per model; a model paid for in two currencies this month has one item per currency, each with the
    requests and tokens billed in it. `quota` is the caller's plan for the model, with its request and token quotas
    and what is used of them in the quota's period (null without quotas: the model's owner, or a plan with none)."""
    first, following = month_bounds(now or timezone.now())
    rows = (
        UsageDaily.objects.filter(
            day__in=[first + timedelta(days=index) for index in range((following - first).days)],
            user_id=user.pk,
        )
        .values("model_id", "model__slug", "currency")
        .annotate(**_sums(("requests", "input_tokens", "output_tokens", "cost_minor")))
        .order_by("-requests", "model__slug", "currency")
        .values_list("model__slug", "currency", "requests", "input_tokens", "output_tokens", "cost_minor")
    )
    totals = list(rows)
    quotas = _plan_quotas(
        user=user,
        slugs={row[0] for row in totals},
        today=(now or timezone.now()).astimezone(UTC).date(),
        month=(first, following),
    )
    items = [
        {
            "model": slug,
            "requests": requests or 0,
            "input_tokens": input_tokens or 0,
            "output_tokens": output_tokens or 0,
            "cost": {"amount_minor": cost_minor or 0, "currency": currency},
            "quota": quotas.get(slug),
        }
        for slug, currency, requests, input_tokens, output_tokens, cost_minor in totals
    ]
    return UsageSummary(period_start=first, period_end=following, items=items)


def _plan_quotas(
    *, user: User, slugs: set[str], today: date, month: tuple[date, date]
) -> dict[str, dict[str, Any]]:
    """The caller's quotas per model as the gateway enforces them (the same entitlement code decides), with the
    usage of each quota's period (today, or this month) from the daily rollup. A fixed number of queries."""
    from modelmarket.billing.selectors.entitlements import gateway_access_many
    from modelmarket.core.exceptions import ApplicationError
    from modelmarket.inference.entitlements import grant_from_access

    models = {
        model_id: (slug, pricing)
        for model_id, slug, pricing in AIModel.objects.filter(slug__in=slugs)
        .exclude(creator_id=user.pk)  # a creator's own models have no quota
        .values_list("pk", "slug", "pricing")
    }
    accesses = gateway_access_many(user_id=user.pk, model_ids=models)
    month_days = [month[0] + timedelta(days=index) for index in range((month[1] - month[0]).days)]
    used: dict[tuple[int, str], tuple[int, int]] = {}
    for period, days in (("day", [today]), ("month", month_days)):
        for model_id, requests, tokens in (
            UsageDaily.objects.filter(day__in=days, user_id=user.pk, model_id__in=list(models))
            .values("model_id")
            .annotate(requests=Sum("requests"), tokens=Sum(F("input_tokens") + F("output_tokens")))
            .values_list("model_id", "requests", "tokens")
        ):
            used[(model_id, period)] = (requests or 0, tokens or 0)
    quotas = {}
    for model_id, (slug, pricing) in models.items():
        try:
            grant = grant_from_access(accesses[model_id], slug=slug, pricing=pricing)
        except ApplicationError:
            continue  # no plan any more: nothing to measure against
        if not grant.request_quota and not grant.token_quota:
            continue
        requests, tokens = used.get((model_id, grant.quota_period), (0, 0))
        quotas[slug] = {
            "plan": grant.plan,
            "period": grant.quota_period,
            "requests": {"limit": grant.request_quota, "used": requests} if grant.request_quota else None,
            "tokens": {"limit": grant.token_quota, "used": tokens} if grant.token_quota else None,
        }
    return quotas


# --- /creator/analytics -----------------------------------------------------------------------------------------


def analytics_range(
    *, since: str | None, until: str | None, now: datetime | None = None
) -> tuple[date, date]:
    """Whole UTC days [since, until], both inclusive: by default the last 30 days, today included; at most 92."""
    today = (now or timezone.now()).astimezone(UTC).date()
    last = _moment(until, "until")
    last_day = last.date() if last else today
    first = _moment(since, "since")
    first_day = first.date() if first else last_day - timedelta(days=ANALYTICS_DEFAULT_DAYS - 1)
    if first_day > last_day:
        raise BadRequest("since must not be after until.", code="invalid_range")
    if (last_day - first_day).days + 1 > ANALYTICS_MAX_DAYS:
        raise BadRequest(
            f"Analytics span at most {ANALYTICS_MAX_DAYS} days.",
            code="range_too_large",
            details={"max_days": ANALYTICS_MAX_DAYS},
        )
    return first_day, last_day


@dataclass
class CreatorAnalytics:
    since: date
    until: date
    models: list[dict[str, Any]]
    series: list[dict[str, Any]]
    totals: dict[str, Any]


def _error_rate(errors: int, requests: int) -> float:
    return round(errors / requests, 4) if requests else 0.0


def _average_latency(latency_ms_sum: int, succeeded: int) -> int | None:
    return round(latency_ms_sum / succeeded) if succeeded else None


def _grouped_sums(rows: QuerySet[Any], group: str, names: tuple[str, ...]) -> dict[Any, dict[str, int]]:
    """{group value: {name: sum}} in one GROUP BY query."""
    grouped = rows.values(group).annotate(**_sums(names)).order_by().values_list(group, *names)
    return {
        row[0]: {name: int(value or 0) for name, value in zip(names, row[1:], strict=True)} for row in grouped
    }


def _usage_by_model_and_day(
    in_range: dict[str, Any],
) -> tuple[dict[int, dict[str, int]], dict[date, dict[str, int]]]:
    """Sums per listing and per day, each summed by the database from the covering index (summing the rows in
    Python instead cost 60 ms for a creator with a hundred listings)."""
    rows = ModelUsageDaily.objects.filter(**in_range)
    return _grouped_sums(rows, "model_id", MODEL_SUMS), _grouped_sums(rows, "day", MODEL_SUMS)


def _unique_buyers(model_ids: list[int], since: date, until: date) -> dict[int, int]:
    """{listing id: buyers with a call on some day in [since, until]}, from the day bits of `ModelBuyerDays`."""
    masks = buyer_window_masks(since, until)
    hit = Case(
        *(When(window=window, then=F("days").bitand(mask)) for window, mask in masks),
        default=Value(0),
        output_field=BigIntegerField(),
    )
    return dict(
        ModelBuyerDays.objects.filter(model__in=model_ids, window__in=[window for window, _ in masks])
        .alias(hit=hit)
        .filter(hit__gt=0)
        .values("model_id")
        .annotate(count=Count("user_id", distinct=True))
        .order_by()
        .values_list("model_id", "count")
    )


def _latency_percentiles(in_range: dict[str, Any]) -> dict[int, list[int | None]]:
    """{listing id: [p50, p95] in ms} over the range, from the histograms summed per listing and bucket. (Working
    the percentiles out in SQL with window functions, to fetch a row per listing instead of one per bucket, was
    measured no faster.)"""
    histograms: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for model_id, bucket, count in (
        ModelLatencyDaily.objects.filter(**in_range)
        .values("model_id", "bucket")
        .annotate(total=Sum("count"))
        .order_by()
        .values_list("model_id", "bucket", "total")
    ):
        histograms[model_id].append((bucket, count))
    return {model_id: percentiles_ms(counts, (0.5, 0.95)) for model_id, counts in histograms.items()}


def creator_analytics(
    *, creator: User, since: date, until: date, model_slug: str | None = None
) -> CreatorAnalytics:
    """Traffic of the caller's own listings (not deleted) over whole days [since, until]: per model calls, unique
    buyers, error rate, p50/p95 latency of succeeded calls (from the latency histogram, within about 9%) and the
    creator's earnings per currency (billing's ledger), and a daily series over all of them (or one, with
    `model_slug`). Six queries whatever the number of listings."""
    listings = models_owned_by(creator=creator)
    if model_slug:
        listings = listings.filter(slug=model_slug)
    models = dict(listings.order_by("slug").values_list("pk", "slug"))
    if model_slug and not models:
        raise NotFound("No such model among your listings.", code="model_not_found")
    # The ids themselves rather than a subquery: PostgreSQL then estimates the rows of each listing and walks the
    # rollups' indexes instead of scanning a whole table (22 ms to 2 ms for the buyers of 111 listings).
    in_range = {"day__gte": since, "day__lte": until, "model__in": list(models)}
    per_model, daily = _usage_by_model_and_day(in_range)
    buyers = _unique_buyers(list(models), since, until)
    latency = _latency_percentiles(in_range)
    revenue = creator_revenue_by_model(creator_id=creator.pk, model_ids=models, since=since, until=until)
    items: list[dict[str, Any]] = []
    for model_id, slug in models.items():
        sums = per_model.get(model_id) or _zero(MODEL_SUMS)
        p50, p95 = latency.get(model_id, [None, None])
        items.append(
            {
                "model": slug,
                **{name: sums[name] for name in USAGE_SUMS},
                "unique_buyers": buyers.get(model_id, 0),
                "error_rate": _error_rate(sums["errors"], sums["requests"]),
                "latency_ms": {
                    "average": _average_latency(sums["latency_ms_sum"], sums["succeeded"]),
                    "p50": p50,
                    "p95": p95,
                },
                "revenue": revenue.get(model_id, []),
            }
        )
    items.sort(key=lambda item: (-item["requests"], item["model"]))
    series: list[dict[str, Any]] = []
    day = since
    while day <= until:
        sums = daily.get(day) or _zero(MODEL_SUMS)
        series.append(
            {
                "day": day,
                **{name: sums[name] for name in USAGE_SUMS},
                "error_rate": _error_rate(sums["errors"], sums["requests"]),
            }
        )
        day += timedelta(days=1)
    totals: dict[str, Any] = {name: sum(point[name] for point in series) for name in USAGE_SUMS}
    totals["error_rate"] = _error_rate(totals["errors"], totals["requests"])
    per_currency: dict[str, int] = defaultdict(int)
    for amounts in revenue.values():
        for amount in amounts:
            per_currency[str(amount["currency"])] += int(amount["amount_minor"])  # type: ignore[call-overload]
    totals["revenue"] = [
        {"amount_minor": total, "currency": currency} for currency, total in sorted(per_currency.items())
    ]
    return CreatorAnalytics(since=since, until=until, models=items, series=series, totals=totals)
