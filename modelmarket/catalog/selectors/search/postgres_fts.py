"""PostgreSQL full-text search: the search documents `catalog_aimodel_search` (migration 0005: one narrow row per
public listing with its weighted tsvector and the filter columns, kept by triggers), with a GIN index.

The text goes through `websearch_to_tsquery` (quotes, `or`, `-word`) and the last plain word is added as a `word:*`
prefix query built from word characters only. Relevance is `ts_rank_cd` with length normalization."""

from __future__ import annotations

from typing import Any

from django.db.models import FloatField, QuerySet
from django.db.models.expressions import RawSQL

from modelmarket.catalog.models import AIModel
from modelmarket.catalog.selectors.models import public_models
from modelmarket.catalog.selectors.search.cursors import decode_cursor
from modelmarket.catalog.selectors.search.filters import filter_conditions
from modelmarket.catalog.selectors.search.params import WORD, ModelSearch

SEARCH_DOCUMENTS_TABLE = "catalog_aimodel_search"


def _tsquery_sql(text: str) -> tuple[str, list[str]]:
    """SQL for a tsquery: websearch syntax for the text, with the last plain word also matched as a prefix."""
    chunks = text.split()
    last = chunks[-1] if chunks else ""
    if WORD.fullmatch(last):
        head = " ".join(chunks[:-1])
        prefix = f"'{last.lower()}':*"  # word characters only: nothing in it can be tsquery syntax
        sql = "(websearch_to_tsquery('english', %s) && to_tsquery('english', %s))"
        return sql, [head, prefix]
    return "websearch_to_tsquery('english', %s)", [text]


def with_text_match(models: QuerySet[AIModel], text: str) -> QuerySet[AIModel]:
    """Restrict `models` to listings matching `text`. No `rank`: relevance pages come from `relevance_page`."""
    documents, params = search_documents_sql(ModelSearch(q=text), tagged=None)
    return models.filter(pk__in=RawSQL(f"SELECT document.model_id {documents}", params))  # noqa: S611


def search_documents_sql(search: ModelSearch, *, tagged: QuerySet[Any] | None) -> tuple[str, list[Any]]:
    """`FROM ... WHERE ...` over the search documents (migration 0005: one row per public listing) that match the
    text and every filter of `search` (`tagged`: see `tagged_model_ids`): the listings `model_search` filters to,
    without reading the listings table. Names `document` (the row) and `search_query` (the tsquery)."""
    tsquery, params = _tsquery_sql(search.q)
    conditions = ["document.search_vector @@ search_query.query"]
    for column, operator, value in filter_conditions(search):
        conditions.append(f"document.{column} {operator} %s")
        params.append(value)
    if tagged is not None:
        tagged_sql, tagged_params = tagged.query.sql_with_params()
        conditions.append(f"document.model_id IN ({tagged_sql})")
        params += tagged_params
    sql = f"FROM {SEARCH_DOCUMENTS_TABLE} document, (SELECT {tsquery} AS query) search_query WHERE "
    return sql + " AND ".join(conditions), params


def relevance_page(search: ModelSearch, *, tagged: QuerySet[Any] | None) -> QuerySet[AIModel]:
    """The next `limit + 1` listings by relevance, ranked on the narrow search documents alone: only that page is
    read from the listings table. The ranking still covers every match, so the page holds the best-ranked ones."""
    documents, params = search_documents_sql(search, tagged=tagged)
    # float8 so the value survives a round trip through the cursor exactly (float4 would not compare equal)
    rank = "ts_rank_cd(document.search_vector, search_query.query, 1)::float8"
    after = ""
    if search.cursor:
        value, last_id = decode_cursor(search.cursor, search.sort)
        after = "WHERE rank < %s OR (rank = %s AND model_id < %s)"
        params += [value, value, last_id]
    # OFFSET 0 keeps the cursor condition out of the scan, where it would rank every match a second time.
    best = (
        f"SELECT model_id FROM (SELECT document.model_id, {rank} AS rank {documents} OFFSET 0) ranked {after} "  # noqa: S608 - table names are constants; values are bound parameters
        "ORDER BY rank DESC, model_id DESC LIMIT %s"
    )
    page_rank, page_rank_params = _tsquery_sql(search.q)
    table = AIModel._meta.db_table
    return (
        public_models()
        .filter(pk__in=RawSQL(best, [*params, search.limit + 1]))  # noqa: S611
        .annotate(
            # The same rank again, for the page only, to order it and write the cursor.
            rank=RawSQL(  # noqa: S611 - constant SQL; the text is a bound parameter
                f"(SELECT ts_rank_cd(document.search_vector, {page_rank}, 1)::float8 FROM {SEARCH_DOCUMENTS_TABLE} "  # noqa: S608
                f"document WHERE document.model_id = {table}.id)",
                page_rank_params,
                output_field=FloatField(),
            )
        )
        .order_by("-rank", "-id")
    )
