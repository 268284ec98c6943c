"""SQLite full-text search: the FTS5 table `catalog_aimodel_fts` (migration 0002), kept by triggers
(`catalog.search_index`), ranked by bm25 with per-column weights.

The person's words are quoted before they reach FTS5 MATCH, so no input can be read as FTS5 syntax."""

from __future__ import annotations

from django.db.models import FloatField, QuerySet
from django.db.models.expressions import RawSQL

from modelmarket.catalog.models import AIModel
from modelmarket.catalog.selectors.search.params import WORD

# Column weights for FTS5 bm25, in the FTS table's column order: name, summary, search_tags, creator_name, card.
FTS_WEIGHTS = (10.0, 4.0, 5.0, 2.0, 1.0)
FTS_TABLE = "catalog_aimodel_fts"


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
    """Restrict `models` to listings matching `text` and annotate `rank` (bm25, higher is better)."""
    table = AIModel._meta.db_table
    match = fts5_match_expression(text)
    if not match:
        return models.none()
    weights = ", ".join(str(weight) for weight in FTS_WEIGHTS)
    # A join (not IN): FTS5 computes bm25 only for rows of the MATCH in the same query. extra() is the ORM's one
    # way to add a table to FROM; it is confined to this function.
    return models.extra(  # noqa: S610 - constant SQL; the user's text is a bound parameter
        tables=[FTS_TABLE],
        where=[f"{FTS_TABLE}.rowid = {table}.id", f"{FTS_TABLE} MATCH %s"],
        params=[match],
    ).annotate(rank=RawSQL(f"-bm25({FTS_TABLE}, {weights})", [], output_field=FloatField()))  # noqa: S611
