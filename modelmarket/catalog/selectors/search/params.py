"""Search parameters: raw input (query-string strings or typed API values) turned into a validated `ModelSearch`.

Anything it cannot take raises BadRequest with a stable code: `invalid_filter` (details name the field, the value
and, for fixed vocabularies, the allowed values), `invalid_sort`, `invalid_limit`."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from modelmarket.catalog.vocabulary import Pricing, Source, Task
from modelmarket.core.exceptions import BadRequest

DEFAULT_LIMIT = 24
MAX_LIMIT = 100
MAX_QUERY_LENGTH = 200
MAX_TAG_FILTERS = 10

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

SLUG_VALUE = re.compile(r"^[a-z0-9][a-z0-9._+-]{0,63}$")
WORD = re.compile(r"\w+")
TRUE_VALUES = {"true", "1", "yes", "on"}
FALSE_VALUES = {"false", "0", "no", "off"}


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
