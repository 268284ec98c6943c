"""PostgreSQL full-text search: the search documents `catalog_aimodel_search` (migration 0005: one narrow row per
public listing with its weighted tsvector and the filter columns, kept by triggers), with a GIN index.

The text goes through `websearch_to_tsquery` (quotes, `or`, `-word`) and the last plain word is added as a `word:*`
prefix query built from word characters only. Relevance is `ts_rank_cd` with length normalization, except for a
single unfinished word (see `unfinished_word`): its name tier reads a GIN index on the name's part of the vector
(migration 0006), whose statistics let the planner walk ids backwards when many names have the word and read that
index when few do."""

from __future__ import annotations

from typing import Any

from django.db.models import FloatField, QuerySet
from django.db.models.expressions import RawSQL

from modelmarket.catalog.models import AIModel
from modelmarket.catalog.selectors.models import public_models
from modelmarket.catalog.selectors.search.cursors import decode_cursor
from modelmarket.catalog.selectors.search.filters import filter_conditions
from modelmarket.catalog.selectors.search.params import WORD, ModelSearch
from modelmarket.catalog.selectors.search.unfinished_word import (
    NAME_TIER,
    OTHER_TIER,
    lone_word,
    tier_after_cursor,
)

SEARCH_DOCUMENTS_TABLE = "catalog_aimodel_search"
# The name's part of a document's vector (weight A, migration 0005): the expression migration 0006 indexes.
NAME_PART = "ts_filter(document.search_vector, '{a}')"
# A quoted word or prefix as a tsquery (two parameters, both the word): stemmed as English, unless English drops it
# as a stop word ('in' on the way to 'instruct', 'the'), which would match nothing; then as typed (`simple`).
WORD_QUERY = "COALESCE(NULLIF(to_tsquery('english', %s), ''::tsquery), to_tsquery('simple', %s))"
# Some public listing has the word whole: it is finished (the parameters are the quoted word, twice).
FINISHED = f"EXISTS (SELECT 1 FROM {SEARCH_DOCUMENTS_TABLE} WHERE search_vector @@ {WORD_QUERY})"  # noqa: S608


def _twice(value: str) -> list[str]:
    """The parameters of WORD_QUERY."""
    return [value, value]


def _tsquery_sql(text: str) -> tuple[str, list[str]]:
    """SQL for a tsquery: websearch syntax for the text, with the last plain word also matched as a prefix."""
    chunks = text.split()
    last = chunks[-1] if chunks else ""
    if WORD.fullmatch(last):
        head = " ".join(chunks[:-1])
        prefix = f"'{last.lower()}':*"  # word characters only: nothing in it can be tsquery syntax
        if not head:
            return WORD_QUERY, _twice(prefix)
        return f"(websearch_to_tsquery('english', %s) && {WORD_QUERY})", [head, *_twice(prefix)]
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
    filters, filter_params = _filters_sql(search, tagged=tagged)
    sql = f"FROM {SEARCH_DOCUMENTS_TABLE} document, (SELECT {tsquery} AS query) search_query "
    return sql + "WHERE document.search_vector @@ search_query.query" + filters, params + filter_params


def _filters_sql(search: ModelSearch, *, tagged: QuerySet[Any] | None) -> tuple[str, list[Any]]:
    """` AND ...` over `document` for every filter of `search` but the text."""
    sql, params = "", []
    for column, operator, value in filter_conditions(search):
        sql += f" AND document.{column} {operator} %s"
        params.append(value)
    if tagged is not None:
        tagged_sql, tagged_params = tagged.query.sql_with_params()
        sql += f" AND document.model_id IN ({tagged_sql})"
        params += tagged_params
    return sql, params


def relevance_page(search: ModelSearch, *, tagged: QuerySet[Any] | None) -> QuerySet[AIModel]:
    """The next `limit + 1` listings by relevance, chosen on the narrow search documents alone: only that page is
    read from the listings table. Ranked text ranks every match, so the page holds the best-ranked ones."""
    word = lone_word(search.q)
    if word is None:
        ranked, params = _ranked_sql(search, tagged=tagged)
        best = f"SELECT model_id FROM ({ranked}) best"  # noqa: S608 - constant SQL; values are bound parameters
        page_rank, page_rank_params = _rank_sql(search.q)
    else:
        best, params = _word_page_sql(search, word, tagged=tagged)
        page_rank, page_rank_params = _word_rank_sql(search.q, word)
    table = AIModel._meta.db_table
    return (
        public_models()
        .filter(pk__in=RawSQL(best, params))  # noqa: S611
        .annotate(
            # The same rank again, for the page only, to order it and write the cursor.
            rank=RawSQL(  # noqa: S611 - constant SQL; the text is a bound parameter
                f"(SELECT {page_rank} FROM {SEARCH_DOCUMENTS_TABLE} document WHERE document.model_id = {table}.id)",  # noqa: S608
                page_rank_params,
                output_field=FloatField(),
            )
        )
        .order_by("-rank", "-id")
    )


def _rank_sql(text: str) -> tuple[str, list[str]]:
    tsquery, params = _tsquery_sql(text)
    # float8 so the value survives a round trip through the cursor exactly (float4 would not compare equal)
    return f"ts_rank_cd(document.search_vector, {tsquery}, 1)::float8", params


def _ranked_sql(search: ModelSearch, *, tagged: QuerySet[Any] | None) -> tuple[str, list[Any]]:
    """(model_id, rank) of the next `limit + 1` matches by rank, after the cursor."""
    documents, params = search_documents_sql(search, tagged=tagged)
    rank = "ts_rank_cd(document.search_vector, search_query.query, 1)::float8"
    after = ""
    if search.cursor:
        value, last_id = decode_cursor(search.cursor, search.sort)
        after = "WHERE rank < %s OR (rank = %s AND model_id < %s)"
        params += [value, value, last_id]
    # OFFSET 0 keeps the cursor condition out of the scan, where it would rank every match a second time.
    sql = (
        f"SELECT model_id, rank FROM (SELECT document.model_id, {rank} AS rank {documents} OFFSET 0) ranked {after} "  # noqa: S608 - table names are constants; values are bound parameters
        "ORDER BY rank DESC, model_id DESC LIMIT %s"
    )
    return sql, [*params, search.limit + 1]


def _word_page_sql(search: ModelSearch, word: str, *, tagged: QuerySet[Any] | None) -> tuple[str, list[Any]]:
    """Ids of the next `limit + 1` matches of a single word (see `unfinished_word`), in one statement: ranked when
    the word is finished; otherwise the name tier, read in id order up to the page, then, only when it ends within
    the page, the other matches. Those are gathered whole (MATERIALIZED): a walk in id order could read every
    document when statistics overestimate them, and a page reaches them only once the name tier is done."""
    filters, filter_params = _filters_sql(search, tagged=tagged)
    ranked, ranked_params = _ranked_sql(search, tagged=tagged)
    named_after, named_params = _tier_sql(search, NAME_TIER)
    others_after, others_params = _tier_sql(search, OTHER_TIER)
    # The index on the name's part serves the name tier; elsewhere a weight-A query asks the same of the whole
    # vector without building its name part row by row (`ts_filter` copies the vector).
    name_match = f"{NAME_PART} @@ {WORD_QUERY}"
    size = search.limit + 1
    sql = f"""
        WITH finished AS MATERIALIZED (SELECT {FINISHED} AS yes),
        named AS MATERIALIZED (
            SELECT document.model_id FROM {SEARCH_DOCUMENTS_TABLE} document
            WHERE NOT (SELECT yes FROM finished) AND {name_match}{filters}{named_after}
            ORDER BY document.model_id DESC LIMIT %s
        ),
        others AS MATERIALIZED (
            SELECT document.model_id FROM {SEARCH_DOCUMENTS_TABLE} document
            WHERE NOT (SELECT yes FROM finished) AND (SELECT count(*) FROM named) < %s
                AND document.search_vector @@ {WORD_QUERY}
                AND NOT document.search_vector @@ {WORD_QUERY}{filters}{others_after}
        )
        SELECT model_id FROM (
            SELECT model_id, rank FROM ({ranked}) ranked_page WHERE (SELECT yes FROM finished)
            UNION ALL SELECT model_id, {NAME_TIER}::float8 FROM named
            UNION ALL (SELECT model_id, {OTHER_TIER}::float8 FROM others ORDER BY model_id DESC LIMIT %s)
        ) candidates ORDER BY rank DESC, model_id DESC LIMIT %s
    """  # noqa: S608 - table names and tiers are constants; values are bound parameters
    # Word characters only: nothing in these can be tsquery syntax.
    exact, prefix, in_name = f"'{word}'", f"'{word}':*", f"'{word}':*A"
    params = [*_twice(exact), *_twice(prefix), *filter_params, *named_params, size]
    params += [size, *_twice(prefix), *_twice(in_name), *filter_params, *others_params]
    return sql, [*params, *ranked_params, size, size]


def _tier_sql(search: ModelSearch, tier: float) -> tuple[str, list[int]]:
    include, below_id = tier_after_cursor(search, tier)
    if not include:
        return " AND FALSE", []
    if below_id is None:
        return "", []
    return " AND document.model_id < %s", [below_id]


def _word_rank_sql(text: str, word: str) -> tuple[str, list[str]]:
    """A page row's rank for a single word: its relevance when the word is finished, else its tier."""
    rank, rank_params = _rank_sql(text)
    sql = (
        f"CASE WHEN {FINISHED} THEN {rank} "
        f"WHEN document.search_vector @@ {WORD_QUERY} THEN {NAME_TIER}::float8 "
        f"ELSE {OTHER_TIER}::float8 END"
    )
    return sql, [*_twice(f"'{word}'"), *rank_params, *_twice(f"'{word}':*A")]
