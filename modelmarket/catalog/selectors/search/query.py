"""Running a search: one page of public listings in the requested order, its cursor and its facet counts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.db.models import QuerySet

from modelmarket.catalog.models import AIModel
from modelmarket.catalog.selectors.models import public_models
from modelmarket.catalog.selectors.search import postgres_fts, sqlite_fts
from modelmarket.catalog.selectors.search.cursors import after_cursor, decode_cursor, encode_cursor
from modelmarket.catalog.selectors.search.facets import Facets, facets_cached
from modelmarket.catalog.selectors.search.filters import FILTER_LOOKUPS, filter_conditions, tagged_model_ids
from modelmarket.catalog.selectors.search.params import SORT_FIELDS, ModelSearch

# Never needed by a result card; the card text alone may be 100 kB per row.
LIST_DEFERRED_FIELDS = (
    "card_markdown",
    "external_data",
    "review_note",
    "locally_edited_fields",
    "endpoint_url",
)


@dataclass(frozen=True)
class ModelSearchResult:
    items: list[AIModel]
    next_cursor: str | None
    facets: Facets | None
    search: ModelSearch


def model_search(search: ModelSearch, *, with_facets: bool | None = None) -> ModelSearchResult:
    """One page of public listings for `search`, in three queries (page, two for facets) whatever the page size.

    Facets are computed for the first page only unless `with_facets` says otherwise: later pages of the same
    search have the same counts."""
    tagged = tagged_model_ids(search.tags)
    models = _filtered(search, tagged=tagged)
    sort_field = SORT_FIELDS[search.sort]
    if search.sort == "relevance" and search.q:
        page = _relevance_page(search, models, tagged=tagged)  # after the cursor
    else:
        # Every sort reads an index on its column (see AIModel.Meta.indexes) in its own order.
        page = models.order_by(f"-{sort_field}", "-id")
        if search.cursor:
            value, last_id = decode_cursor(search.cursor, search.sort)
            page = after_cursor(page, sort_field, value, last_id)
    # Cards read tags from the `search_tags` copy: no tag query per page.
    rows = list(page.defer(*LIST_DEFERRED_FIELDS)[: search.limit + 1])
    items = rows[: search.limit]
    next_cursor = None
    if len(rows) > search.limit:
        last = items[-1]
        next_cursor = encode_cursor(search.sort, getattr(last, sort_field), last.pk)
    compute_facets = with_facets if with_facets is not None else not search.cursor
    facets = facets_cached(_matched_sql(search, models, tagged=tagged)) if compute_facets else None
    return ModelSearchResult(items=items, next_cursor=next_cursor, facets=facets, search=search)


def _matched_sql(
    search: ModelSearch, models: QuerySet[AIModel], *, tagged: QuerySet[Any] | None
) -> tuple[str, tuple[Any, ...]]:
    """SQL for (id, task, license, source) of everything `search` matches (`models`). Text searches on PostgreSQL
    read the search documents, which carry those columns, rather than the listings."""
    if search.q and connection.vendor == "postgresql":
        documents, params = postgres_fts.search_documents_sql(search, tagged=tagged)
        sql = f"SELECT document.model_id AS id, document.task, document.license, document.source {documents}"
        return sql, tuple(params)
    return models.order_by().values("id", "task", "license", "source").query.sql_with_params()


def _filtered(search: ModelSearch, *, tagged: QuerySet[Any] | None) -> QuerySet[AIModel]:
    """Public listings matching `search` (`tagged`: see `tagged_model_ids`)."""
    models = public_models()
    for column, operator, value in filter_conditions(search):
        models = models.filter(**{f"{column}__{FILTER_LOOKUPS[operator]}": value})
    if tagged is not None:
        models = models.filter(pk__in=tagged)
    if search.q:
        models = _with_text_match(models, search.q)
    return models


def _relevance_page(
    search: ModelSearch, models: QuerySet[AIModel], *, tagged: QuerySet[Any] | None
) -> QuerySet[AIModel]:
    if connection.vendor == "postgresql":
        return postgres_fts.relevance_page(search, tagged=tagged)
    return sqlite_fts.relevance_page(models, search, tagged=tagged)


def _with_text_match(models: QuerySet[AIModel], text: str) -> QuerySet[AIModel]:
    if connection.vendor == "postgresql":
        return postgres_fts.with_text_match(models, text)
    return sqlite_fts.with_text_match(models, text)
