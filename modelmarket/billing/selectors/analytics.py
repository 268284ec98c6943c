"""Payment analytics for staff (every model) and creators (their own): revenue per day, per model and per currency,
order conversion and failure rates, top models.

Revenue is read from the ledger, not from orders: the creator's share plus the platform's fee of every plan payment
(PAYMENT transactions) and every pay-as-you-go charge (USAGE transactions), i.e. what buyers paid for a model's use,
on the day it was booked (UTC). Credit top-ups are not revenue — the credit becomes revenue when it is spent on a
model — and processor fees are the platform's cost, not a model's revenue. Refunds booked in the window are shown
beside revenue per currency, not subtracted from it. Amounts are grouped by currency and never added across them.

Conversion is read from orders created in the window, whatever happened to them since: created, paid (or paid and
later refunded), failed, expired, cancelled, still pending. Top-up orders belong to no model: staff see them, a
creator's figures only count orders for their own models.

The query count is fixed whatever the data: one for revenue per day, one per model, one per currency, one for
orders, one for orders per model."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django.db.models import Count, Q, Sum, Value
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from modelmarket.accounts.models import User
from modelmarket.accounts.selectors import user_is_creator
from modelmarket.billing.models import (
    AccountKind,
    AmountField,
    LedgerEntry,
    Order,
    OrderStatus,
    TransactionKind,
)
from modelmarket.core.exceptions import BadRequest, NotFound

MAX_DAYS = 366
TOP_MODELS = 5

_REVENUE_ACCOUNTS = Q(account__kind__in=[AccountKind.CREATOR_EARNINGS, AccountKind.PLATFORM_REVENUE])
_REVENUE = Q(transaction__kind__in=[TransactionKind.PAYMENT, TransactionKind.USAGE])
_REFUND = Q(transaction__kind=TransactionKind.REFUND)


@dataclass
class ModelRevenue:
    model_id: int
    model_slug: str
    model_name: str
    currency: str
    revenue_minor: int
    creator_share_minor: int
    platform_fee_minor: int
    sales_minor: int
    usage_minor: int
    orders_created: int = 0
    orders_paid: int = 0


@dataclass
class CurrencyRevenue:
    currency: str
    revenue_minor: int
    creator_share_minor: int
    platform_fee_minor: int
    refunded_minor: int
    days: list[tuple[date, int]] = field(default_factory=list)


@dataclass
class Conversion:
    created: int = 0
    paid: int = 0
    failed: int = 0
    expired: int = 0
    cancelled: int = 0
    pending: int = 0

    @property
    def conversion_rate(self) -> float | None:
        """Paid over created; None when nothing was created (no rate, rather than a misleading zero)."""
        return self.paid / self.created if self.created else None

    @property
    def failure_rate(self) -> float | None:
        """Failed and expired over created."""
        return (self.failed + self.expired) / self.created if self.created else None


@dataclass
class PaymentAnalytics:
    since: date
    until: date
    days: int
    creator: User | None
    currencies: list[CurrencyRevenue]
    models: list[ModelRevenue]
    top_models: dict[str, list[ModelRevenue]]
    orders: Conversion


def _scope(*, actor: User, creator: User | None) -> User | None:
    """Whose models the figures cover: None (all) for staff asking for no one in particular."""
    if actor.is_active and actor.is_staff:
        return creator
    if not user_is_creator(actor) or (creator is not None and creator.pk != actor.pk):
        raise NotFound("No such page.", code="not_found")
    return actor


def analytics_window(days: Any) -> tuple[date, date]:
    """The last `days` UTC days, today included. BadRequest `invalid_days` outside 1..366."""
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_DAYS:
        raise BadRequest(f"days must be a whole number from 1 to {MAX_DAYS}.", code="invalid_days")
    until = timezone.now().astimezone(UTC).date()
    return until - timedelta(days=days - 1), until


def _amount(condition: Q | None = None, *, negate: bool = False) -> Coalesce:
    total = Sum("amount_minor", filter=condition, output_field=AmountField())
    return Coalesce(-total if negate else total, Value(0), output_field=AmountField())


def payment_analytics(*, actor: User, days: int = 30, creator: User | None = None) -> PaymentAnalytics:
    """Staff see every model (or one creator's, given `creator`); creators only their own — asking for anyone
    else's is NotFound, as is asking when not a creator."""
    scope = _scope(actor=actor, creator=creator)
    since, until = analytics_window(days)
    start = datetime.combine(since, time.min, tzinfo=UTC)
    entries = LedgerEntry.objects.filter(_REVENUE_ACCOUNTS, created_at__gte=start, model__isnull=False)
    orders = Order.objects.filter(created_at__gte=start)
    if scope is not None:
        entries = entries.filter(model__creator=scope)
        orders = orders.filter(model__creator=scope)
    currencies = _per_currency(entries, since, until)
    models = _per_model(entries, orders)
    top: dict[str, list[ModelRevenue]] = {}
    for item in sorted(models, key=lambda row: (row.currency, -row.revenue_minor, row.model_name)):
        if item.revenue_minor > 0 and len(top.setdefault(item.currency, [])) < TOP_MODELS:
            top[item.currency].append(item)
    return PaymentAnalytics(
        since=since,
        until=until,
        days=days,
        creator=scope,
        currencies=currencies,
        models=models,
        top_models=top,
        orders=_conversion(orders),
    )


def _per_currency(entries: Any, since: date, until: date) -> list[CurrencyRevenue]:
    totals = (
        entries.values("account__currency_id")
        .annotate(
            revenue=_amount(_REVENUE),
            share=_amount(_REVENUE & Q(account__kind=AccountKind.CREATOR_EARNINGS)),
            fee=_amount(_REVENUE & Q(account__kind=AccountKind.PLATFORM_REVENUE)),
            refunded=_amount(_REFUND, negate=True),
        )
        .order_by("account__currency_id")
    )
    per_day: dict[tuple[str, date], int] = {}
    daily = (
        entries.filter(_REVENUE)
        .annotate(day=TruncDate("created_at", tzinfo=UTC))
        .values("account__currency_id", "day")
        .annotate(revenue=_amount())
        .order_by()
    )
    for row in daily:
        day = row["day"] if isinstance(row["day"], date) else date.fromisoformat(str(row["day"]))
        per_day[(row["account__currency_id"], day)] = row["revenue"]
    day_list = [since + timedelta(days=offset) for offset in range((until - since).days + 1)]
    result = []
    for row in totals:
        code = row["account__currency_id"]
        result.append(
            CurrencyRevenue(
                currency=code,
                revenue_minor=row["revenue"],
                creator_share_minor=row["share"],
                platform_fee_minor=row["fee"],
                refunded_minor=row["refunded"],
                days=[(day, per_day.get((code, day), 0)) for day in day_list],
            )
        )
    return result


def _per_model(entries: Any, orders: Any) -> list[ModelRevenue]:
    rows = (
        entries.filter(_REVENUE)
        .values("model_id", "model__slug", "model__name", "account__currency_id")
        .annotate(
            revenue=_amount(),
            share=_amount(Q(account__kind=AccountKind.CREATOR_EARNINGS)),
            fee=_amount(Q(account__kind=AccountKind.PLATFORM_REVENUE)),
            sales=_amount(Q(transaction__kind=TransactionKind.PAYMENT)),
            usage=_amount(Q(transaction__kind=TransactionKind.USAGE)),
        )
        .order_by("account__currency_id", "-revenue", "model__name")
    )
    counts = {
        (row["model_id"], row["currency_id"]): row
        for row in orders.filter(model__isnull=False)
        .values("model_id", "model__slug", "model__name", "currency_id")
        .annotate(created=Count("id"), paid=Count("id", filter=_PAID))
        .order_by()
    }
    models = []
    for row in rows:
        order_counts = counts.pop((row["model_id"], row["account__currency_id"]), {})
        models.append(
            ModelRevenue(
                model_id=row["model_id"],
                model_slug=row["model__slug"],
                model_name=row["model__name"],
                currency=row["account__currency_id"],
                revenue_minor=row["revenue"],
                creator_share_minor=row["share"],
                platform_fee_minor=row["fee"],
                sales_minor=row["sales"],
                usage_minor=row["usage"],
                orders_created=order_counts.get("created", 0),
                orders_paid=order_counts.get("paid", 0),
            )
        )
    # Models that had orders in the window but no revenue booked in it (all failed or still pending, say).
    for (model_id, currency), row in sorted(
        counts.items(), key=lambda item: (item[0][1], item[1]["model__name"])
    ):
        models.append(
            ModelRevenue(
                model_id=model_id,
                model_slug=row["model__slug"],
                model_name=row["model__name"],
                currency=currency,
                revenue_minor=0,
                creator_share_minor=0,
                platform_fee_minor=0,
                sales_minor=0,
                usage_minor=0,
                orders_created=row["created"],
                orders_paid=row["paid"],
            )
        )
    return models


_PAID = Q(status__in=[OrderStatus.PAID, OrderStatus.REFUNDED])


def _conversion(orders: Any) -> Conversion:
    counts = orders.aggregate(
        created=Count("id"),
        paid=Count("id", filter=_PAID),
        failed=Count("id", filter=Q(status=OrderStatus.FAILED)),
        expired=Count("id", filter=Q(status=OrderStatus.EXPIRED)),
        cancelled=Count("id", filter=Q(status=OrderStatus.CANCELLED)),
        pending=Count("id", filter=Q(status=OrderStatus.PENDING)),
    )
    return Conversion(**{name: int(value or 0) for name, value in counts.items()})
