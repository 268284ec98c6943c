"""Catalog search: the one reader of the full-text index (migration 0002), shared by the API and the pages.

`model_search_params()` turns raw input (query-string strings or typed API values) into a validated `ModelSearch`,
raising BadRequest with a stable code for anything it cannot take; `model_search()` runs it and returns one page,
the next cursor and facet counts; `model_autocomplete()` suggests listings by name as the person types.

Only public listings (published or deprecated, not deleted) are ever returned. The `creator` filter takes the
creator's user id (creator profiles have no slug; `/creators/<user id>/` uses the same id).

Text matching: every word the person typed must match (in name, summary, tags, creator or card) and the last word
also matches as a prefix, so results follow the typing. On SQLite the words are quoted before they reach FTS5
MATCH, so no input can be read as FTS5 syntax; on PostgreSQL the text goes through `websearch_to_tsquery` (quotes,
`or`, `-word`) and the last plain word is added as a `word:*` prefix query built from word characters only.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.db.models import Count, FloatField, Prefetch, Q, QuerySet
from django.db.models.expressions import RawSQL
from django.utils.dateparse import parse_datetime

from modelmarket.accounts.models import CreatorProfile, User
from modelmarket.catalog.models import AIModel, ModelFile, ModelVersion, Tag
from modelmarket.catalog.selectors.models import (
    PUBLIC_STATUSES,
    model_get_for_viewer,
    public_models,
    versions_visible_to,
)
from modelmarket.catalog.vocabulary import Pricing, Source, Task
from modelmarket.core.exceptions import BadRequest, NotFound

DEFAULT_LIMIT = 24
MAX_LIMIT = 100
MAX_QUERY_LENGTH = 200
MAX_TAG_FILTERS = 10
TOP_TAGS = 20
TOP_LICENSES = 30
AUTOCOMPLETE_LIMIT = 10
AUTOCOMPLETE_MIN_LENGTH = 2

# Sort name -> the field (or annotation) ordered descending, then id descending.
SORT_FIELDS = {
    "relevance": "rank",
    "trending": "trending_score",
    "downloads": "download_count",
    "calls": "call_count",
    "rating": "rating_average",
    "newest": "published_at",
}
SORT_LABELS = {
    "relevance": "Best match",
    "trending": "Trending",
    "downloads": "Most downloaded",
    "calls": "Most called",
    "rating": "Highest rated",
    "newest": "Newest",
}
# Column weights for FTS5 bm25, in the FTS table's column order: name, summary, search_tags, creator_name, card.
FTS_WEIGHTS = (10.0, 4.0, 5.0, 2.0, 1.0)
FTS_TABLE = "catalog_aimodel_fts"
# PostgreSQL: one narrow row per public listing (tsvector and filter columns), kept by triggers (migration 0005).
SEARCH_DOCUMENTS_TABLE = "catalog_aimodel_search"
FILTER_LOOKUPS = {"=": "exact", ">=": "gte"}
# Never needed by a result card; the card text alone may be 100 kB per row.
LIST_DEFERRED_FIELDS = (
    "card_markdown",
    "external_data",
    "review_note",
    "locally_edited_fields",
    "endpoint_url",
)

SLUG_VALUE = re.compile(r"^[a-z0-9][a-z0-9._+-]{0,63}$")
WORD = re.compile(r"\w+")
TRUE_VALUES = {"true", "1", "yes", "on"}
FALSE_VALUES = {"false", "0", "no", "off"}


# --- Parameters -----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ModelSearch:
    """A validated search. `sort` is resolved: relevance when there is text, trending otherwise."""

    q: str = ""
    task: str | None = None
    tags: tuple[str, ...] = ()
    license: str | None = None
    commercial_use: bool | None = None
    source: str | None = None
    creator: int | None = None
    pricing: str | None = None
    min_rating: Decimal | None = None
    sort: str = "trending"
    cursor: str | None = None
    limit: int = DEFAULT_LIMIT

    def filters_applied(self) -> bool:
        return bool(
            self.q
            or self.task
            or self.tags
            or self.license
            or self.commercial_use is not None
            or self.source
            or self.creator
            or self.pricing
            or self.min_rating is not None
        )


def _invalid(field_name: str, value: Any, message: str, **details: Any) -> BadRequest:
    return BadRequest(
        message, code="invalid_filter", details={"field": field_name, "value": str(value)[:100], **details}
    )


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _choice(field_name: str, value: Any, choices: Iterable[str]) -> str | None:
    if _blank(value):
        return None
    allowed = list(choices)
    if value not in allowed:
        raise _invalid(field_name, value, f"Unknown {field_name} '{str(value)[:100]}'.", allowed=allowed)
    return str(value)


def _slug_value(field_name: str, value: Any) -> str | None:
    if _blank(value):
        return None
    text = str(value).strip().lower()
    if not SLUG_VALUE.match(text):
        raise _invalid(
            field_name,
            value,
            f"'{str(value)[:100]}' is not a valid {field_name}: use lower-case letters, digits, '-'.",
        )
    return text


def _boolean(field_name: str, value: Any) -> bool | None:
    if _blank(value) or isinstance(value, bool):
        return value if isinstance(value, bool) else None
    text = str(value).strip().lower()
    if text in TRUE_VALUES:
        return True
    if text in FALSE_VALUES:
        return False
    raise _invalid(field_name, value, f"{field_name} is true or false.")


def _creator_id(value: Any) -> int | None:
    if _blank(value):
        return None
    text = str(value).strip()
    if not text.isdigit() or not 0 < int(text) < 2**63:
        raise _invalid("creator", value, "creator is a creator's user id (a positive whole number).")
    return int(text)


def _rating(value: Any) -> Decimal | None:
    if _blank(value):
        return None
    try:
        rating = Decimal(str(value).strip())
    except InvalidOperation:
        rating = Decimal("NaN")
    if not rating.is_finite() or not 0 <= rating <= 5:
        raise _invalid("min_rating", value, "min_rating is a number from 0 to 5.")
    return rating.quantize(Decimal("0.01"))


def _limit(value: Any) -> int:
    if _blank(value):
        return DEFAULT_LIMIT
    text = str(value).strip()
    if not text.lstrip("-").isdigit() or not 1 <= int(text) <= MAX_LIMIT:
        raise BadRequest(
            f"limit must be between 1 and {MAX_LIMIT}.",
            code="invalid_limit",
            details={"field": "limit", "value": text[:20], "min": 1, "max": MAX_LIMIT},
        )
    return int(text)


def _tags(values: Any) -> tuple[str, ...]:
    if _blank(values):
        return ()
    raw = [values] if isinstance(values, str) else list(values)
    tags = [tag for tag in (_slug_value("tag", value) for value in raw) if tag]
    tags = list(dict.fromkeys(tags))
    if len(tags) > MAX_TAG_FILTERS:
        raise _invalid("tag", ",".join(tags), f"At most {MAX_TAG_FILTERS} tags at once.")
    return tuple(tags)


def model_search_params(
    *,
    q: Any = None,
    task: Any = None,
    tag: Any = None,
    license: Any = None,
    commercial_use: Any = None,
    source: Any = None,
    creator: Any = None,
    pricing: Any = None,
    min_rating: Any = None,
    sort: Any = None,
    cursor: Any = None,
    limit: Any = None,
) -> ModelSearch:
    """Validate raw search input. Blank values mean "no filter". Raises BadRequest: `invalid_filter` (details name
    the field, the value and, for fixed vocabularies, the allowed values), `invalid_sort`, `invalid_limit`."""
    text = " ".join(str(q or "").split())[:MAX_QUERY_LENGTH]
    if not WORD.search(text):  # only punctuation: nothing any index could match, so no text search at all
        text = ""
    if _blank(sort):
        resolved_sort = "relevance" if text else "trending"
    elif sort not in SORT_FIELDS:
        raise BadRequest(
            f"Unknown sort '{str(sort)[:50]}'.",
            code="invalid_sort",
            details={"field": "sort", "value": str(sort)[:50], "allowed": list(SORT_FIELDS)},
        )
    else:
        # Relevance needs text to rank by; without it the most useful order is what is hot.
        resolved_sort = sort if (sort != "relevance" or text) else "trending"
    return ModelSearch(
        q=text,
        task=_choice("task", task, Task.values),
        tags=_tags(tag),
        license=_slug_value("license", license),
        commercial_use=_boolean("commercial_use", commercial_use),
        source=_choice("source", source, Source.values),
        creator=_creator_id(creator),
        pricing=_choice("pricing", pricing, Pricing.values),
        min_rating=_rating(min_rating),
        sort=resolved_sort,
        cursor=None if _blank(cursor) else str(cursor).strip(),
        limit=_limit(limit),
    )


def model_search_params_from_query(query: Mapping[str, Any]) -> ModelSearch:
    """The same, from a QueryDict (pages): `tag` may repeat."""
    getlist = getattr(query, "getlist", None)
    tags = getlist("tag") if getlist else query.get("tag")
    names = ("q", "task", "license", "commercial_use", "source", "creator", "pricing", "min_rating", "sort")
    values = {name: query.get(name) for name in names}
    return model_search_params(**values, tag=tags, cursor=query.get("cursor"), limit=query.get("limit"))


# --- Text matching --------------------------------------------------------------------------------------------
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


def _postgres_tsquery(text: str) -> tuple[str, list[str]]:
    """SQL for a tsquery: websearch syntax for the text, with the last plain word also matched as a prefix."""
    chunks = text.split()
    last = chunks[-1] if chunks else ""
    if WORD.fullmatch(last):
        head = " ".join(chunks[:-1])
        prefix = f"'{last.lower()}':*"  # word characters only: nothing in it can be tsquery syntax
        sql = "(websearch_to_tsquery('english', %s) && to_tsquery('english', %s))"
        return sql, [head, prefix]
    return "websearch_to_tsquery('english', %s)", [text]


def _with_text_search(models: QuerySet[AIModel], text: str) -> QuerySet[AIModel]:
    """Restrict to listings matching `text`. On SQLite also annotate `rank` (higher is better); on PostgreSQL the
    relevance order is read from the search documents instead (`_relevance_page_postgres`)."""
    table = AIModel._meta.db_table
    if connection.vendor == "postgresql":
        documents, params = _postgres_documents(ModelSearch(q=text), tagged=None)
        return models.filter(pk__in=RawSQL(f"SELECT document.model_id {documents}", params))  # noqa: S611
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


def _postgres_documents(search: ModelSearch, *, tagged: QuerySet[Any] | None) -> tuple[str, list[Any]]:
    """`FROM ... WHERE ...` over the search documents (migration 0005: one row per public listing) that match the
    text and every filter of `search` (`tagged`: see `_tagged`): the listings `_filtered` finds, without reading the
    listings table. Names `document` (the row) and `search_query` (the tsquery)."""
    tsquery, params = _postgres_tsquery(search.q)
    conditions = ["document.search_vector @@ search_query.query"]
    for column, operator, value in _filter_conditions(search):
        conditions.append(f"document.{column} {operator} %s")
        params.append(value)
    if tagged is not None:
        tagged_sql, tagged_params = tagged.query.sql_with_params()
        conditions.append(f"document.model_id IN ({tagged_sql})")
        params += tagged_params
    sql = f"FROM {SEARCH_DOCUMENTS_TABLE} document, (SELECT {tsquery} AS query) search_query WHERE "
    return sql + " AND ".join(conditions), params


def _relevance_page_postgres(search: ModelSearch, *, tagged: QuerySet[Any] | None) -> QuerySet[AIModel]:
    """The next `limit + 1` listings by relevance, ranked on the narrow search documents alone: only that page is
    read from the listings table. The ranking still covers every match, so the page holds the best-ranked ones."""
    documents, params = _postgres_documents(search, tagged=tagged)
    # float8 so the value survives a round trip through the cursor exactly (float4 would not compare equal)
    rank = "ts_rank_cd(document.search_vector, search_query.query, 1)::float8"
    after = ""
    if search.cursor:
        value, last_id = _decode_cursor(search.cursor, search.sort)
        after = "WHERE rank < %s OR (rank = %s AND model_id < %s)"
        params += [value, value, last_id]
    # OFFSET 0 keeps the cursor condition out of the scan, where it would rank every match a second time.
    best = (
        f"SELECT model_id FROM (SELECT document.model_id, {rank} AS rank {documents} OFFSET 0) ranked {after} "  # noqa: S608 - table names are constants; values are bound parameters
        "ORDER BY rank DESC, model_id DESC LIMIT %s"
    )
    page_rank, page_rank_params = _postgres_tsquery(search.q)
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


# --- Filters --------------------------------------------------------------------------------------------------
def _filter_conditions(search: ModelSearch) -> list[tuple[str, str, Any]]:
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


def _tagged(tags: tuple[str, ...]) -> QuerySet[Any] | None:
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


def _filtered(search: ModelSearch, *, tagged: QuerySet[Any] | None) -> QuerySet[AIModel]:
    """Public listings matching `search` (`tagged`: see `_tagged`)."""
    models = public_models()
    for column, operator, value in _filter_conditions(search):
        models = models.filter(**{f"{column}__{FILTER_LOOKUPS[operator]}": value})
    if tagged is not None:
        models = models.filter(pk__in=tagged)
    if search.q:
        models = _with_text_search(models, search.q)
    return models


# --- Cursors --------------------------------------------------------------------------------------------------
def _encode_cursor(sort: str, value: Any, last_id: int) -> str:
    if isinstance(value, datetime):
        value = value.isoformat()
    elif isinstance(value, Decimal):
        value = str(value)
    raw = json.dumps([sort, value, last_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _bad_cursor() -> BadRequest:
    return BadRequest(
        "The cursor is not valid for this search.", code="invalid_cursor", details={"field": "cursor"}
    )


def _decode_cursor(cursor: str, sort: str) -> tuple[Any, int]:
    """The (sort value, id) after which the next page starts, checked for the shape this sort writes."""
    try:
        decoded = json.loads(base64.urlsafe_b64decode(cursor.encode("ascii") + b"=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, UnicodeError):
        raise _bad_cursor() from None
    if not (isinstance(decoded, list) and len(decoded) == 3 and decoded[0] == sort):
        raise _bad_cursor()
    _, value, last_id = decoded
    if isinstance(last_id, bool) or not isinstance(last_id, int) or not 0 < last_id < 2**63:
        raise _bad_cursor()
    return _cursor_value(sort, value), last_id


def _cursor_value(sort: str, value: Any) -> Any:
    if sort in ("relevance", "trending"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _bad_cursor()
        return float(value)
    if sort in ("downloads", "calls"):
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**63:
            raise _bad_cursor()
        return value
    if sort == "rating":
        try:
            rating = Decimal(value) if isinstance(value, str) else None
        except InvalidOperation:
            rating = None
        if rating is None or not rating.is_finite():
            raise _bad_cursor()
        return rating
    if value is None:  # newest: listings without a publication date come last
        return None
    try:
        parsed = parse_datetime(value) if isinstance(value, str) else None
    except ValueError:  # well-formed but impossible, e.g. month 13
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise _bad_cursor()
    return parsed


def _after_cursor(models: QuerySet[AIModel], field_name: str, value: Any, last_id: int) -> QuerySet[AIModel]:
    if value is None:
        return models.filter(**{f"{field_name}__isnull": True, "id__lt": last_id})
    after = Q(**{f"{field_name}__lt": value}) | Q(**{field_name: value, "id__lt": last_id})
    if field_name == "published_at":
        after |= Q(published_at__isnull=True)
    return models.filter(after)


# --- Search ---------------------------------------------------------------------------------------------------
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
    tagged = _tagged(search.tags)
    models = _filtered(search, tagged=tagged)
    sort_field = SORT_FIELDS[search.sort]
    if search.sort == "relevance" and search.q and connection.vendor == "postgresql":
        page = _relevance_page_postgres(search, tagged=tagged)  # the cursor is applied before the page is cut
    else:
        # Every sort reads an index on its column (see AIModel.Meta.indexes) in its own order.
        page = models.order_by(f"-{sort_field}", "-id")
        if search.cursor:
            value, last_id = _decode_cursor(search.cursor, search.sort)
            page = _after_cursor(page, sort_field, value, last_id)
    # Cards read tags from the `search_tags` copy: no tag query per page.
    rows = list(page.defer(*LIST_DEFERRED_FIELDS)[: search.limit + 1])
    items = rows[: search.limit]
    next_cursor = None
    if len(rows) > search.limit:
        last = items[-1]
        next_cursor = _encode_cursor(search.sort, getattr(last, sort_field), last.pk)
    compute_facets = with_facets if with_facets is not None else not search.cursor
    facets = _facets_cached(_matched_sql(search, models, tagged=tagged)) if compute_facets else None
    return ModelSearchResult(items=items, next_cursor=next_cursor, facets=facets, search=search)


def _matched_sql(
    search: ModelSearch, models: QuerySet[AIModel], *, tagged: QuerySet[Any] | None
) -> tuple[str, tuple[Any, ...]]:
    """SQL for (id, task, license, source) of everything `search` matches (`models`). Text searches on PostgreSQL
    read the search documents, which carry those columns, rather than the listings."""
    if search.q and connection.vendor == "postgresql":
        documents, params = _postgres_documents(search, tagged=tagged)
        sql = f"SELECT document.model_id AS id, document.task, document.license, document.source {documents}"
        return sql, tuple(params)
    return models.order_by().values("id", "task", "license", "source").query.sql_with_params()


def _facets_cached(matched: tuple[str, tuple[Any, ...]]) -> Facets:
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


# --- Autocomplete ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Suggestion:
    slug: str
    name: str
    task: str
    creator_name: str


def model_autocomplete(text: str, *, limit: int = AUTOCOMPLETE_LIMIT) -> list[Suggestion]:
    """Up to `limit` public listings whose name starts with, or has a word starting with, `text` — names that
    start with it first, then the hottest. On PostgreSQL, names within trigram word-similarity also match (typos).
    Fewer than two characters suggest nothing."""
    text = " ".join(text.split())[:MAX_QUERY_LENGTH].lower()
    if len(text) < AUTOCOMPLETE_MIN_LENGTH:
        return []
    if connection.vendor == "postgresql":
        rows = _autocomplete_postgres(text, limit)
    else:
        rows = _autocomplete_sqlite(text, limit)
    return [
        Suggestion(slug=slug, name=name, task=task, creator_name=creator)
        for slug, name, task, creator in rows
    ]


def _like_prefix(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


PUBLIC_STATUS_VALUES = [str(status) for status in PUBLIC_STATUSES]


def _autocomplete_sqlite(text: str, limit: int) -> list[tuple[str, str, str, str]]:
    match = fts5_match_expression(text, column="name")
    if not match:
        return []
    table = AIModel._meta.db_table
    sql = f"""
        SELECT m.slug, m.name, m.task, m.creator_name FROM {FTS_TABLE} JOIN {table} m ON m.id = {FTS_TABLE}.rowid
        WHERE {FTS_TABLE} MATCH %s AND m.status IN (%s, %s) AND m.deleted_at IS NULL
        ORDER BY lower(m.name) LIKE %s ESCAPE '\\' DESC, m.trending_score DESC, m.id DESC
        LIMIT %s
    """  # noqa: S608 - table names from metadata; values are bound parameters
    with connection.cursor() as cursor:
        cursor.execute(sql, [match, *PUBLIC_STATUS_VALUES, _like_prefix(text), limit])
        return list(cursor.fetchall())


AUTOCOMPLETE_CANDIDATES = 2000
AUTOCOMPLETE_FENCE_MIN_LENGTH = 5


def _autocomplete_postgres(text: str, limit: int) -> list[tuple[str, str, str, str]]:
    """In up to three cheap steps, each only while fewer than `limit` names were found: names starting with `text`
    (a btree prefix index), names with a word starting with it, then names within trigram word-similarity (typos).
    Ranking every fuzzy match at once cost 20-40 ms on 100,000 listings; the first step alone usually suffices."""
    table = AIModel._meta.db_table
    public = f"{table}.status IN (%s, %s) AND {table}.deleted_at IS NULL"
    steps = [
        ("lower(name) LIKE %s ESCAPE '\\'", [_like_prefix(text)], "trending_score DESC, id DESC"),
        ("lower(name) LIKE %s ESCAPE '\\'", ["% " + _like_prefix(text)], "trending_score DESC, id DESC"),
    ]
    if len(text) >= 3:
        steps.append(
            (
                "%s <%% lower(name)",
                [text],
                "word_similarity(%s, lower(name)) DESC, trending_score DESC, id DESC",
            )
        )
    rows: list[tuple[str, str, str, str]] = []
    with connection.cursor() as cursor:
        for condition, params, order in steps:
            found = [row[0] for row in rows]
            order_params = [text] if "%s" in order else []
            # For longer (rarer) text an inner LIMIT fences the match off from the ORDER BY: otherwise the planner
            # may walk the whole trending index looking for a rare prefix (25 ms instead of 0.3 ms). Short text
            # matches many names, and walking the trending index finds them at once.
            fence = f" LIMIT {AUTOCOMPLETE_CANDIDATES}" if len(text) >= AUTOCOMPLETE_FENCE_MIN_LENGTH else ""
            cursor.execute(
                f"SELECT slug, name, task, creator_name FROM (SELECT * FROM {table} WHERE {public} AND {condition}"  # noqa: S608
                + (" AND NOT (slug = ANY(%s))" if found else "")
                + f"{fence}) candidates ORDER BY {order} LIMIT %s",
                [
                    *PUBLIC_STATUS_VALUES,
                    *params,
                    *([found] if found else []),
                    *order_params,
                    limit - len(rows),
                ],
            )
            rows += cursor.fetchall()
            if len(rows) >= limit:
                break
    return rows


# --- Listing and creator pages --------------------------------------------------------------------------------
@dataclass(frozen=True)
class ModelPage:
    """Everything a listing's page shows, read in a fixed number of queries."""

    model: AIModel
    versions: list[ModelVersion]  # newest first, files prefetched (by name)
    tags: list[Tag]
    creator_profile: CreatorProfile | None
    default_version: ModelVersion | None


def model_page_for_viewer(*, viewer: Any, slug: str) -> ModelPage:
    """The listing `slug` as `viewer` may see it (NotFound otherwise; see `model_get_for_viewer`)."""
    model = model_get_for_viewer(viewer=viewer, slug=slug)
    versions = list(
        versions_visible_to(viewer=viewer, model=model).prefetch_related(
            Prefetch("files", queryset=ModelFile.objects.order_by("name"))
        )
    )
    return ModelPage(
        model=model,
        versions=versions,
        tags=list(model.tags.order_by("slug")),
        creator_profile=CreatorProfile.objects.filter(user_id=model.creator_id).first(),
        default_version=next((version for version in versions if version.is_default), None),
    )


@dataclass(frozen=True)
class CreatorPage:
    user: User
    profile: CreatorProfile | None
    public_model_count: int


def creator_public_get(*, user_id: int) -> CreatorPage:
    """A creator's public face: a verified creator, or anyone with public listings. NotFound otherwise."""
    user = User.objects.filter(pk=user_id, is_active=True).select_related("creator_profile").first()
    if user is None:
        raise NotFound("No such creator.", code="creator_not_found")
    profile: CreatorProfile | None = getattr(user, "creator_profile", None)
    count = public_models().filter(creator_id=user.pk).count()
    verified = profile is not None and profile.status == CreatorProfile.Status.VERIFIED
    if not verified and count == 0:
        raise NotFound("No such creator.", code="creator_not_found")
    return CreatorPage(user=user, profile=profile, public_model_count=count)
