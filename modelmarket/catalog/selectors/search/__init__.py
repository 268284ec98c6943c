"""Catalog search: the one reader of the full-text indexes (FTS5 on SQLite, migration 0002; the search documents on
PostgreSQL, migration 0005), shared by the API and the pages.

`model_search_params()` turns raw input (query-string strings or typed API values) into a validated `ModelSearch`,
raising BadRequest with a stable code for anything it cannot take; `model_search()` runs it and returns one page,
the next cursor and facet counts; `model_autocomplete()` suggests listings by name as the person types.

Only public listings (published or deprecated, not deleted) are ever returned. The `creator` filter takes the
creator's user id (creator profiles have no slug; `/creators/<user id>/` uses the same id).

Text matching: every word the person typed must match (in name, summary, tags, creator or card) and the last word
also matches as a prefix, so results follow the typing. On SQLite the words are quoted before they reach FTS5
MATCH, so no input can be read as FTS5 syntax; on PostgreSQL the text goes through `websearch_to_tsquery` (quotes,
`or`, `-word`) and the last plain word is added as a `word:*` prefix query built from word characters only.

Relevance: bm25 (SQLite) or ts_rank_cd (PostgreSQL), weighted by field. A single word no public listing has whole
is one still being typed ('instr'): its matches list names having a word that starts with it first, then the others,
newest first within each (`unfinished_word`).

Modules: `params` (input), `filters`, `sqlite_fts` and `postgres_fts` (text matching and relevance),
`unfinished_word`, `cursors`, `facets`, `query` (`model_search`), `autocomplete`, `pages` (a listing's page, a
creator's page).
"""

from modelmarket.catalog.selectors.search.autocomplete import (
    AUTOCOMPLETE_LIMIT,
    AUTOCOMPLETE_MIN_LENGTH,
    Suggestion,
    model_autocomplete,
)
from modelmarket.catalog.selectors.search.facets import Facets, FacetValue
from modelmarket.catalog.selectors.search.pages import (
    CreatorPage,
    ModelPage,
    creator_public_get,
    model_page_for_viewer,
)
from modelmarket.catalog.selectors.search.params import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    MAX_QUERY_LENGTH,
    SORT_FIELDS,
    SORT_LABELS,
    ModelSearch,
    model_search_params,
    model_search_params_from_query,
)
from modelmarket.catalog.selectors.search.query import ModelSearchResult, model_search
from modelmarket.catalog.selectors.search.sqlite_fts import fts5_match_expression

__all__ = [
    "AUTOCOMPLETE_LIMIT",
    "AUTOCOMPLETE_MIN_LENGTH",
    "DEFAULT_LIMIT",
    "MAX_LIMIT",
    "MAX_QUERY_LENGTH",
    "SORT_FIELDS",
    "SORT_LABELS",
    "CreatorPage",
    "FacetValue",
    "Facets",
    "ModelPage",
    "ModelSearch",
    "ModelSearchResult",
    "Suggestion",
    "creator_public_get",
    "fts5_match_expression",
    "model_autocomplete",
    "model_page_for_viewer",
    "model_search",
    "model_search_params",
    "model_search_params_from_query",
]
