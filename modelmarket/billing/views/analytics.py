"""Billing pages: payment analytics for creators (`/creator/revenue/`, their own models) and staff (`/staff/revenue/`,
every model, or one creator's with `?creator=<id>`). Both read `selectors.analytics.payment_analytics` — the same
selector behind `/api/v1/creator/revenue` and `/api/v1/staff/revenue` — and draw server-side SVG bar charts with
usage's `bar_chart` helper and `templates/usage/bar_chart.html`, with a table beside each chart carrying the numbers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest
from django.template.response import TemplateResponse
from django.urls import URLPattern, path
from django.views.decorators.http import require_GET

from modelmarket.accounts.models import User
from modelmarket.billing.money import format_money
from modelmarket.billing.selectors.analytics import PaymentAnalytics, payment_analytics
from modelmarket.core.exceptions import NotFound
from modelmarket.usage.views import bar_chart, day_label

RANGE_DAYS = (7, 30, 90)
DEFAULT_RANGE_DAYS = 30


@dataclass(frozen=True)
class MoneyBar:
    """A bar of usage's chart whose `value` is the formatted amount ("" for zero, so no bar is drawn)."""

    label: str
    value: str
    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True)
class MoneyChart:
    """Usage's BarChart with amounts shown as money: the same attributes `usage/bar_chart.html` reads."""

    title: str
    width: int
    height: int
    bars: list[MoneyBar]
    maximum: str
    summary: str


def money_chart(points: Sequence[tuple[str, int]], *, currency: str, title: str) -> MoneyChart:
    """Bars scaled by `bar_chart` (minor units, exact at any size) labelled with `format_money` amounts."""
    chart = bar_chart(points, title=title)
    texts = [format_money(value, currency) for _, value in points]
    bars = [
        MoneyBar(
            label=bar.label,
            value=text if bar.value else "",
            x=bar.x,
            y=bar.y,
            width=bar.width,
            height=bar.height,
        )
        for bar, text in zip(chart.bars, texts, strict=True)
    ]
    values = ", ".join(f"{label}: {text}" for (label, _), text in zip(points, texts, strict=True))
    return MoneyChart(
        title=chart.title,
        width=chart.width,
        height=chart.height,
        bars=bars,
        maximum=format_money(chart.maximum, currency) if chart.maximum else "",
        summary=f"{chart.title}. {values}." if points else f"{chart.title}: no data.",
    )


def _range_days(value: str | None) -> int:
    return int(value) if value in {str(days) for days in RANGE_DAYS} else DEFAULT_RANGE_DAYS


def _percent(rate: float | None) -> float | None:
    return None if rate is None else rate * 100


def _context(result: PaymentAnalytics) -> dict[str, Any]:
    span = f"{day_label(result.since)} to {day_label(result.until)}"
    currencies = []
    for item in result.currencies:
        currencies.append(
            {
                "currency": item.currency,
                "revenue_text": format_money(item.revenue_minor, item.currency),
                "share_text": format_money(item.creator_share_minor, item.currency),
                "fee_text": format_money(item.platform_fee_minor, item.currency),
                "refunded_text": format_money(item.refunded_minor, item.currency),
                "chart": money_chart(
                    [(day_label(day), amount) for day, amount in item.days],
                    currency=item.currency,
                    title=f"{item.currency} revenue per day, {span}",
                ),
                "days": [
                    {"day": day, "text": format_money(amount, item.currency)}
                    for day, amount in reversed(item.days)
                    if amount
                ],
            }
        )
    top_charts = [
        {
            "currency": code,
            "chart": money_chart(
                [(model.model_name, model.revenue_minor) for model in models],
                currency=code,
                title=f"Top models by {code} revenue, {span}",
            ),
            "rows": [
                {"name": model.model_name, "text": format_money(model.revenue_minor, code)}
                for model in models
            ],
        }
        for code, models in sorted(result.top_models.items())
    ]
    models = [
        {
            "item": item,
            "revenue_text": format_money(item.revenue_minor, item.currency),
            "share_text": format_money(item.creator_share_minor, item.currency),
            "fee_text": format_money(item.platform_fee_minor, item.currency),
            "sales_text": format_money(item.sales_minor, item.currency),
            "usage_text": format_money(item.usage_minor, item.currency),
        }
        for item in result.models
    ]
    return {
        "analytics": result,
        "days": result.days,
        "range_days": RANGE_DAYS,
        "currencies": currencies,
        "top_charts": top_charts,
        "models": models,
        "orders": result.orders,
        "conversion_percent": _percent(result.orders.conversion_rate),
        "failure_percent": _percent(result.orders.failure_rate),
    }


@login_required
@require_GET
def creator_revenue(request: HttpRequest) -> TemplateResponse:
    """Creators only: anyone else gets a 404, like the other creator pages."""
    user: User = request.user  # type: ignore[assignment]
    try:
        result = payment_analytics(actor=user, days=_range_days(request.GET.get("days")))
    except NotFound:
        raise Http404("No such page.") from None
    context = {**_context(result), "staff_view": False}
    return TemplateResponse(request, "billing/analytics_dashboard.html", context)


@login_required
@require_GET
def staff_revenue(request: HttpRequest) -> TemplateResponse:
    user: User = request.user  # type: ignore[assignment]
    if not user.is_staff:
        raise Http404("No such page.")
    creator = None
    creator_id = request.GET.get("creator", "")
    if creator_id:
        valid = creator_id.isascii() and creator_id.isdigit() and len(creator_id) <= 12
        creator = User.objects.filter(pk=int(creator_id)).first() if valid else None
        if creator is None:
            raise Http404("No such creator.")
    result = payment_analytics(actor=user, days=_range_days(request.GET.get("days")), creator=creator)
    context = {**_context(result), "staff_view": True}
    return TemplateResponse(request, "billing/analytics_dashboard.html", context)


urlpatterns: list[URLPattern] = [
    path("creator/revenue/", creator_revenue, name="billing_creator_analytics"),
    path("staff/revenue/", staff_revenue, name="billing_staff_analytics"),
]
