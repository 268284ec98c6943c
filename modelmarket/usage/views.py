"""Usage pages: a buyer's usage dashboard and a creator's analytics. Each view parses the query string, reads through
the usage selectors (the same ones behind `/api/v1/usage/*` and `/api/v1/creator/analytics`) and renders.

Charts are inline SVG drawn on the server (the CSP allows no inline scripts or style attributes): `bar_chart` turns a
series into bars with coordinates, `templates/usage/bar_chart.html` draws them, and a table beside each chart carries
the same numbers for screen readers and for anyone who prefers reading them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, timedelta
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest
from django.template.response import TemplateResponse
from django.utils import timezone
from django.views.decorators.http import require_GET

from modelmarket.accounts.models import User
from modelmarket.accounts.selectors import api_key_list, user_is_creator
from modelmarket.billing.money import format_money
from modelmarket.core.exceptions import ApplicationError
from modelmarket.usage import selectors
from modelmarket.usage.health import creator_calls_per_day

RANGE_DAYS = (7, 30, 90)
DEFAULT_RANGE_DAYS = 30
CHART_WIDTH = 600
CHART_HEIGHT = 160
CHART_GAP = 1


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


# --- Charts -------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Bar:
    label: str
    value: int
    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True)
class BarChart:
    title: str
    width: int
    height: int
    bars: list[Bar]
    maximum: int

    @property
    def summary(self) -> str:
        """The chart's numbers in words, for its `<title>` and `aria-label`."""
        values = ", ".join(f"{bar.label}: {bar.value}" for bar in self.bars)
        return f"{self.title}. {values}." if self.bars else f"{self.title}: no data."


def bar_chart(points: Sequence[tuple[str, int]], *, title: str) -> BarChart:
    """Bars for `points` ((label, value) in order) scaled to the tallest, in a CHART_WIDTH x CHART_HEIGHT box with
    the origin at the bottom. A zero value draws no bar; an all-zero series a flat chart."""
    maximum = max((value for _, value in points), default=0)
    slot = CHART_WIDTH / len(points) if points else CHART_WIDTH
    bars = []
    for index, (label, value) in enumerate(points):
        height = round(CHART_HEIGHT * value / maximum, 2) if maximum else 0.0
        bars.append(
            Bar(
                label=label,
                value=value,
                x=round(index * slot, 2),
                y=round(CHART_HEIGHT - height, 2),
                width=round(max(slot - CHART_GAP, 0.5), 2),
                height=height,
            )
        )
    return BarChart(title=title, width=CHART_WIDTH, height=CHART_HEIGHT, bars=bars, maximum=maximum)


def day_label(day: date) -> str:
    """ "Jun 5": short, and without the platform-specific `%-d`."""
    return f"{day:%b} {day.day}"


def money(amount_minor: int, currency: str) -> str:
    """Exact, in the currency's decimals (billing's money module): never through a float."""
    try:
        return format_money(amount_minor, currency)
    except ApplicationError:  # a currency billing does not know (usage reported by a self-hosted model)
        return f"{amount_minor} {currency} (minor units)"


def _costs_text(costs: list[dict[str, Any]]) -> str:
    return (
        " + ".join(money(cost["amount_minor"], cost["currency"]) for cost in costs if cost["amount_minor"])
        or "0"
    )


# --- Buyer: /account/usage/ ---------------------------------------------------------------------------------------
def _range_days(value: str | None) -> int:
    return int(value) if value in {str(days) for days in RANGE_DAYS} else DEFAULT_RANGE_DAYS


def _quota(item: dict[str, Any]) -> dict[str, int] | None:
    """A quota bar's numbers (requests, else tokens, in the quota's period); None without a quota."""
    quota = item["quota"]
    if not quota:
        return None
    use = quota.get("requests") or quota.get("tokens")
    if not use:
        return None
    what = "requests" if quota.get("requests") else "tokens"
    return {
        "limit": use["limit"],
        "used": min(use["used"], use["limit"]),
        "what": what,
        "period": quota["period"],
    }


def _key_rows(user: User, period: selectors.StatsRange) -> list[dict[str, Any]]:
    """The range's totals per API key (plus calls made without one), through the same selector as
    `/usage/stats?key=`: one query for the key list, two per key. Keys revoked before the range are skipped."""
    rows = []
    keys = [
        key for key in api_key_list(user=user) if key.revoked_at is None or key.revoked_at >= period.since
    ]
    for name, key_id in [*((key.name, key.pk) for key in keys), ("No key (playground)", 0)]:
        totals = selectors.usage_series(user=user, period=period, api_key_id=key_id).totals
        if totals["requests"] or totals["rejected"]:
            rows.append({"name": name, **totals, "cost": _costs_text(totals["costs"])})
    return rows


@login_required
@require_GET
def usage_dashboard(request: HttpRequest) -> TemplateResponse:
    user = _user(request)
    days = _range_days(request.GET.get("days"))
    today = timezone.now().astimezone(UTC).date()
    period = selectors.stats_range(
        granularity="day", since=(today - timedelta(days=days - 1)).isoformat(), until=None
    )
    series = selectors.usage_series(user=user, period=period)
    summary = selectors.usage_month_summary(user=user)
    labels = [day_label(point["start"]) for point in series.points]
    context = {
        "days": days,
        "range_days": RANGE_DAYS,
        "period": period,
        "series": series,
        "points": [
            {
                **point,
                "tokens": point["input_tokens"] + point["output_tokens"],
                "cost": _costs_text(point["costs"]),
            }
            for point in series.points
        ],
        "totals_cost": _costs_text(series.totals["costs"]),
        "totals_tokens": series.totals["input_tokens"] + series.totals["output_tokens"],
        "requests_chart": bar_chart(
            [(label, point["requests"]) for label, point in zip(labels, series.points, strict=True)],
            title=f"Requests per day, last {days} days",
        ),
        "tokens_chart": bar_chart(
            [
                (label, point["input_tokens"] + point["output_tokens"])
                for label, point in zip(labels, series.points, strict=True)
            ],
            title=f"Tokens per day, last {days} days",
        ),
        "summary": summary,
        "month_items": [
            {**item, "cost_text": money(**item["cost"]), "quota_bar": _quota(item)} for item in summary.items
        ],
        "month_cost": _month_cost(summary.items),
        "keys": _key_rows(user, period),
    }
    return TemplateResponse(request, "usage/dashboard.html", context)


def _month_cost(items: list[dict[str, Any]]) -> str:
    by_currency: dict[str, int] = {}
    for item in items:
        currency = item["cost"]["currency"]
        by_currency[currency] = by_currency.get(currency, 0) + item["cost"]["amount_minor"]
    return _costs_text(
        [{"amount_minor": amount, "currency": code} for code, amount in sorted(by_currency.items())]
    )


# --- Creator: /creator/analytics/ ---------------------------------------------------------------------------------
def _day_labels(since: date, until: date) -> list[date]:
    return [since + timedelta(days=index) for index in range((until - since).days + 1)]


@login_required
@require_GET
def creator_analytics(request: HttpRequest) -> TemplateResponse:
    """Creators only: anyone else gets a 404, like the other creator pages."""
    user = _user(request)
    if not user_is_creator(user):
        raise Http404("No such page.")
    days = _range_days(request.GET.get("days"))
    since, until = selectors.analytics_range(
        since=(timezone.now().astimezone(UTC).date() - timedelta(days=days - 1)).isoformat(), until=None
    )
    analytics = selectors.creator_analytics(creator=user, since=since, until=until)
    calls = creator_calls_per_day(creator=user, since=since, until=until)
    day_list = _day_labels(since, until)
    models = []
    for item in analytics.models:
        per_day = calls.get(item["model"], {})
        chart = bar_chart(
            [(day_label(day), per_day.get(day, 0)) for day in day_list],
            title=f"Calls per day of {item['model']}, {day_label(since)} to {day_label(until)}",
        )
        revenue = " + ".join(money(**amount) for amount in item["revenue"] if amount["amount_minor"])
        models.append(
            {**item, "error_percent": item["error_rate"] * 100, "chart": chart, "revenue_text": revenue}
        )
    context = {
        "days": days,
        "range_days": RANGE_DAYS,
        "analytics": analytics,
        "models": models,
        "totals_error_percent": analytics.totals["error_rate"] * 100,
    }
    return TemplateResponse(request, "usage/creator_analytics.html", context)
