"""Every filter but text: the column filters (shared by the listings table and the PostgreSQL search documents,
which name those columns alike) and the tag filter."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, QuerySet

from modelmarket.catalog.models import AIModel, Tag
from modelmarket.catalog.selectors.search.params import ModelSearch

# SQL operator of `filter_conditions` -> the ORM lookup that means the same.
FILTER_LOOKUPS = {"=": "exact", ">=": "gte"}


def filter_conditions(search: ModelSearch) -> list[tuple[str, str, Any]]:
    """Every filter but text and tags, as (column, SQL operator, value). The listings table and the PostgreSQL
    search documents name these columns alike, so one list serves both."""
    equal_to: dict[str, Any] = {
        "task": search.task,
        "license": search.license,
        "commercial_use": search.commercial_use,
        "source": search.source,
        "creator_id": search.creator,
        "pricing": search.pricing,
    }
    conditions: list[tuple[str, str, Any]] = [
        (column, "=", value) for column, value in equal_to.items() if value is not None
    ]
    if search.min_rating is not None:
        conditions.append(("rating_average", ">=", search.min_rating))
    return conditions


def tagged_model_ids(tags: tuple[str, ...]) -> QuerySet[Any] | None:
    """Ids of listings carrying every tag in `tags` (None without tags), as a subquery: one grouped pass over the
    tag links (not one semi-join per tag). Tag ids first (a tiny query, so build this once per search): filtering
    links by tag_id lets the database use the link index. An unknown tag leaves fewer ids than tags, so no listing
    reaches the count below; [0] (no such id) keeps the SQL valid when none is known."""
    if not tags:
        return None
    tag_ids = list(Tag.objects.filter(slug__in=tags).values_list("id", flat=True)) or [0]
    return (
        AIModel.tags.through.objects.filter(tag_id__in=tag_ids)
        .values("aimodel_id")
        .annotate(matched=Count("tag_id", distinct=True))
        .filter(**{"matched": len(tags)})  # an annotation the type stubs cannot see
        .values("aimodel_id")
    )
