"""SQLite full-text search: the FTS5 table `catalog_aimodel_fts` (migration 0002), kept by triggers
(`catalog.search_index`), ranked by bm25 with per-column weights.

The person's words are quoted before they reach FTS5 MATCH, so no input can be read as FTS5 syntax. A single
unfinished word (see `unfinished_word`) is not ranked: its tiers are read from FTS5 in rowid order, which FTS5 serves
from its index and stops at the page."""

from __future__ import annotations

from typing import Any

from django.db.models import FloatField, QuerySet
from django.db.models.expressions import RawSQL

from modelmarket.catalog.models import AIModel
from modelmarket.catalog.selectors.models import PUBLIC_STATUSES
from modelmarket.catalog.selectors.search.cursors import after_cursor, decode_cursor
from modelmarket.catalog.selectors.search.filters import filter_conditions
from modelmarket.catalog.selectors.search.params import WORD, ModelSearch
from modelmarket.catalog.selectors.search.unfinished_word import (
    NAME_TIER,
    OTHER_TIER,
    lone_word,
    tier_after_cursor,
)

# Column weights for FTS5 bm25, in the FTS table's column order: name, summary, search_tags, creator_name, card.
FTS_WEIGHTS = (10.0, 4.0, 5.0, 2.0, 1.0)
FTS_TABLE = "catalog_aimodel_fts"
LISTINGS_TABLE = AIModel._meta.db_table
PUBLIC = "listing.status IN (%s, %s) AND listing.deleted_at IS NULL"
PUBLIC_PARAMS = [str(status) for status in PUBLIC_STATUSES]


def _words(text: str) -> list[str]:
    """Whitespace-separated chunks reduced to their word characters (the only characters any index keeps)."""
    return [" ".join(WORD.findall(chunk)) for chunk in text.split() if WORD.search(chunk)]


def fts5_match_expression(text: str, *, prefix_last: bool = True, column: str | None = None) -> str:
    """A safe FTS5 MATCH string: each chunk becomes a quoted phrase (so `"`, `*`, `NEAR(`, `OR`, `-`, `:` are text,
    not syntax), all phrases required, the last one also as a prefix. Empty when there is nothing to match."""
    phrases = ['"' + chunk.replace('"', '""') + '"' for chunk in _words(text)]
    if not phrases:
        return ""
    if prefix_last:
        phrases[-1] += "*"
    expression = " ".join(phrases)
    return f"{{{column}}} : ({expression})" if column else expression


def with_text_match(models: QuerySet[AIModel], text: str) -> QuerySet[AIModel]:
    """Restrict `models` to listings matching `text`, joined to their FTS5 row (relevance_page reads bm25 there)."""
    match = fts5_match_expression(text)
    if not match:
        return models.none()
    # A join (not IN): FTS5 computes bm25 only for rows of the MATCH in the same query. extra() is the ORM's one
    # way to add a table to FROM; it is confined to this module.
    return models.extra(  # noqa: S610 - constant SQL; the user's text is a bound parameter
        tables=[FTS_TABLE],
        where=[f"{FTS_TABLE}.rowid = {LISTINGS_TABLE}.id", f"{FTS_TABLE} MATCH %s"],
        params=[match],
    )


def relevance_page(
    models: QuerySet[AIModel], search: ModelSearch, *, tagged: QuerySet[Any] | None
) -> QuerySet[AIModel]:
    """`models` (`with_text_match`: the listings `search` matches) by relevance, best first, after the cursor."""
    weights = ", ".join(str(weight) for weight in FTS_WEIGHTS)
    rank, rank_params = f"-bm25({FTS_TABLE}, {weights})", list[Any]()
    word = lone_word(search.q)
    if word is not None:
        models, rank, rank_params = _word_page(models, search, word, rank, tagged=tagged)
    ranked = models.annotate(rank=RawSQL(rank, rank_params, output_field=FloatField()))  # noqa: S611
    page = ranked.order_by("-rank", "-id")
    if not search.cursor:
        return page
    value, last_id = decode_cursor(search.cursor, search.sort)
    return after_cursor(page, "rank", value, last_id)


def _word_page(
    models: QuerySet[AIModel], search: ModelSearch, word: str, rank: str, *, tagged: QuerySet[Any] | None
) -> tuple[QuerySet[AIModel], str, list[Any]]:
    """For a single word (see `unfinished_word`): `models` cut to the next page of each tier unless the word is
    finished, and the rank (bm25 when finished, else the tier), as SQL and parameters."""
    finished, finished_params = _finished_sql(word)
    name_match = fts5_match_expression(word, column="name")
    named, named_params = _tier_sql(search, tagged, name_match, NAME_TIER)
    others_match = f"{fts5_match_expression(word)} NOT {name_match}"
    others, others_params = _tier_sql(search, tagged, others_match, OTHER_TIER)
    tiers = f"SELECT id FROM ({named}) UNION ALL SELECT id FROM ({others})"  # noqa: S608 - constant SQL
    models = models.extra(  # noqa: S610 - constant SQL; values are bound parameters
        where=[f"({finished} OR {FTS_TABLE}.rowid IN ({tiers}))"],
        params=[*finished_params, *named_params, *others_params],
    )
    tier = f"CASE WHEN {LISTINGS_TABLE}.id IN ({named}) THEN {NAME_TIER} ELSE {OTHER_TIER} END"
    return models, f"CASE WHEN {finished} THEN {rank} ELSE {tier} END", [*finished_params, *named_params]


def _finished_sql(word: str) -> tuple[str, list[Any]]:
    """Some public listing has `word` whole (see `unfinished_word`)."""
    sql = (
        f"EXISTS (SELECT 1 FROM {FTS_TABLE}(%s) hit JOIN {LISTINGS_TABLE} listing ON listing.id = hit.rowid "  # noqa: S608
        f"WHERE {PUBLIC})"
    )
    return sql, [fts5_match_expression(word, prefix_last=False), *PUBLIC_PARAMS]


def _tier_sql(
    search: ModelSearch, tagged: QuerySet[Any] | None, match: str, tier: float
) -> tuple[str, list[Any]]:
    """Ids of the next `limit + 1` public listings matching `match` and every filter of `search`, newest first:
    FTS5 reads its index in rowid order and the LIMIT stops it."""
    include, below_id = tier_after_cursor(search, tier)
    conditions, params = [PUBLIC], list[Any](PUBLIC_PARAMS)
    for column, operator, value in filter_conditions(search):
        conditions.append(f"listing.{column} {operator} %s")
        params.append(value)
    if tagged is not None:
        tagged_sql, tagged_params = tagged.query.sql_with_params()
        conditions.append(f"listing.id IN ({tagged_sql})")
        params += tagged_params
    if not include:
        conditions.append("0")
    elif below_id is not None:
        conditions.append("hit.rowid < %s")  # on the FTS5 side, so that its index starts there
        params.append(below_id)
    sql = (
        f"SELECT listing.id FROM {FTS_TABLE}(%s) hit JOIN {LISTINGS_TABLE} listing ON listing.id = hit.rowid "  # noqa: S608
        f"WHERE {' AND '.join(conditions)} ORDER BY hit.rowid DESC LIMIT %s"
    )
    return sql, [match, *params, search.limit + 1]
