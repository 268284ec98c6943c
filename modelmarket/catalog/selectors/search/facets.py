"""Facet counts of a search: how many of everything it matched (all pages) fall under each task, license, source
and (top) tag. Counts are shared by every caller for CATALOG_FACETS_CACHE_SECONDS."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import connection

from modelmarket.catalog.models import AIModel, Tag
from modelmarket.catalog.vocabulary import Source, Task

TOP_TAGS = 20
TOP_LICENSES = 30


@dataclass(frozen=True)
class FacetValue:
    value: str
    label: str
    count: int


@dataclass(frozen=True)
class Facets:
    """Counts over everything the search matched (all pages). `total` is that number of listings."""

    total: int
    task: list[FacetValue] = field(default_factory=list)
    license: list[FacetValue] = field(default_factory=list)
    source: list[FacetValue] = field(default_factory=list)
    tag: list[FacetValue] = field(default_factory=list)


def facets_cached(matched: tuple[str, tuple[Any, ...]]) -> Facets:
    """Facet counts for a filter set, shared by all callers for CATALOG_FACETS_CACHE_SECONDS: counting tags over most
    of the catalog costs hundreds of milliseconds, and counts a minute old are what every large catalog shows."""
    if not settings.CATALOG_FACETS_CACHE_SECONDS:
        return _facets(matched)
    key = "catalog:facets:" + hashlib.sha256(repr(matched).encode()).hexdigest()
    facets: Facets | None = cache.get(key)
    if facets is None:
        facets = _facets(matched)
        cache.set(key, facets, settings.CATALOG_FACETS_CACHE_SECONDS)
    return facets


def _facets(matched: tuple[str, tuple[Any, ...]]) -> Facets:
    """Task, license, source and top-tag counts over the `matched` rows (id, task, license, source), in two queries:
    one GROUP BY over the three columns (summed per column here; at most tasks x licenses x sources rows) and one
    for the top tags."""
    matched_sql, params = matched
    through = AIModel.tags.through._meta.db_table
    tag_table = Tag._meta.db_table
    combinations_sql = f"SELECT task, license, source, COUNT(*) FROM ({matched_sql}) matched GROUP BY 1, 2, 3"  # noqa: S608
    tags_sql = f"""
        SELECT tag.slug, COUNT(*) AS uses FROM ({matched_sql}) matched
        JOIN {through} link ON link.aimodel_id = matched.id
        JOIN {tag_table} tag ON tag.id = link.tag_id
        GROUP BY tag.slug ORDER BY uses DESC, tag.slug LIMIT {TOP_TAGS}
    """  # noqa: S608 - table names from model metadata; values are bound parameters
    rows: list[tuple[str, str, int]] = []
    with connection.cursor() as cursor:
        cursor.execute(combinations_sql, params)
        for task, license_id, source, count in cursor.fetchall():
            rows += [("task", task, count), ("license", license_id, count), ("source", source, count)]
        cursor.execute(tags_sql, params)
        rows += [("tag", slug, count) for slug, count in cursor.fetchall()]
    return _facets_from_rows(rows)


def _facets_from_rows(rows: list[tuple[str, str, int]]) -> Facets:
    totals: dict[str, dict[str, int]] = {"task": {}, "license": {}, "source": {}, "tag": {}}
    for kind, value, count in rows:
        totals[kind][value] = totals[kind].get(value, 0) + int(count)
    grouped = {kind: list(counts.items()) for kind, counts in totals.items()}
    labels: dict[str, Mapping[str, str]] = {
        "task": dict(Task.choices),
        "source": dict(Source.choices),
        "license": {},
        "tag": {},
    }

    def ordered(kind: str, limit: int | None = None) -> list[FacetValue]:
        values = sorted(grouped[kind], key=lambda item: (-item[1], item[0]))[:limit]
        return [FacetValue(value, str(labels[kind].get(value, value)), count) for value, count in values]

    return Facets(
        total=sum(count for _, count in grouped["task"]),
        task=ordered("task"),
        license=ordered("license", TOP_LICENSES),
        source=ordered("source"),
        tag=ordered("tag"),
    )
