"""What a creator's listings earned over a range of days, for the usage app's creator analytics: the creator's share
(after the platform fee) of payments and pay-as-you-go charges, net of refunds, per listing and currency."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta

from django.db.models import Sum

from modelmarket.billing.models import AccountKind, LedgerEntry


def creator_revenue_by_model(
    *, creator_id: int, model_ids: Iterable[int], since: date, until: date
) -> dict[int, list[dict[str, object]]]:
    """{listing id: [{"amount_minor", "currency"}, ...]} over whole UTC days [since, until]; one query."""
    start = datetime.combine(since, time.min, tzinfo=UTC)
    end = datetime.combine(until + timedelta(days=1), time.min, tzinfo=UTC)
    revenue: dict[int, list[dict[str, object]]] = defaultdict(list)
    rows = (
        LedgerEntry.objects.filter(
            account__kind=AccountKind.CREATOR_EARNINGS,
            account__user_id=creator_id,
            model_id__in=list(model_ids),
            created_at__gte=start,
            created_at__lt=end,
        )
        .values("model_id", "account__currency_id")
        .annotate(total=Sum("amount_minor"))
        .order_by("model_id", "account__currency_id")
        .values_list("model_id", "account__currency_id", "total")
    )
    for model_id, currency, total in rows:
        revenue[model_id].append({"amount_minor": int(total or 0), "currency": currency})
    return revenue
