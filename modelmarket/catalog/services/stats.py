"""Listing statistics: the trending score behind the catalog's default sort.

trending = ln(1 + calls) * 2 + ln(1 + downloads) + ln(1 + favorites) + rating bonus + freshness bonus.
Calls weigh most (they are paid use); logarithms keep a handful of giants from drowning everything; a new listing
gets a boost that fades over its first 30 days. One UPDATE recomputes every public listing."""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Case, F, FloatField, Value, When
from django.db.models.functions import Cast, Ln
from django.utils import timezone

from modelmarket.catalog.models import AIModel
from modelmarket.catalog.selectors.models import PUBLIC_STATUSES

FRESH_DAYS = 30


def trending_scores_refresh() -> int:
    """Recompute `trending_score` for every public listing; returns how many rows changed."""
    now = timezone.now()
    freshness = Case(
        When(published_at__gte=now - timedelta(days=7), then=Value(3.0)),
        When(published_at__gte=now - timedelta(days=FRESH_DAYS), then=Value(1.5)),
        default=Value(0.0),
        output_field=FloatField(),
    )
    rating_bonus = Case(
        When(rating_count__gte=5, then=Cast(F("rating_average"), FloatField()) - Value(3.0)),
        default=Value(0.0),
        output_field=FloatField(),
    )
    score = (
        Ln(Cast(F("call_count"), FloatField()) + Value(1.0)) * Value(2.0)
        + Ln(Cast(F("download_count"), FloatField()) + Value(1.0))
        + Ln(Cast(F("favorite_count"), FloatField()) + Value(1.0))
        + rating_bonus
        + freshness
    )
    return AIModel.objects.filter(status__in=PUBLIC_STATUSES, deleted_at__isnull=True).update(
        trending_score=score
    )
