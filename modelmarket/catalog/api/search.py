"""Buyer-facing catalog reads: search with facets, autocomplete, and a listing's detail.

Public reads need no authentication. The detail endpoint also accepts an API key or the browser session, so a
creator (or staff) can read their own drafts; everyone else gets 404 for what is not public."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import Query, Schema
from pydantic import Field

from modelmarket.accounts.authentication import api_auth_optional
from modelmarket.catalog.api.router import router
from modelmarket.catalog.markdown import render_markdown
from modelmarket.catalog.schemas import (
    AutocompleteOut,
    ModelDetailOut,
    ModelListOut,
    model_card_data,
    model_detail_data,
)
from modelmarket.catalog.selectors.search import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    SORT_FIELDS,
    model_autocomplete,
    model_page_for_viewer,
    model_search,
    model_search_params,
)
from modelmarket.core.api.pagination import add_next_link
from modelmarket.core.api.schemas import ERROR_RESPONSES


class ModelSearchQuery(Schema):
    """Filters are plain strings so that an unknown value is a 400 `invalid_filter` naming the field (with the
    allowed values for fixed vocabularies), not a generic validation error."""

    q: str | None = Field(default=None, description="Words to find in name, summary, tags, creator and card.")
    task: str | None = Field(default=None, description="A task id, e.g. text-generation.")
    tag: list[str] = Field(
        default_factory=list, description="Tag slugs; repeat for several (all must match)."
    )
    license: str | None = Field(default=None, description="An SPDX license id, lower case, e.g. apache-2.0.")
    commercial_use: str | None = Field(default=None, description="true or false.")
    source: str | None = Field(
        default=None, description="uploaded, huggingface, replicate or openai_compatible."
    )
    creator: str | None = Field(default=None, description="The creator's user id.")
    pricing: str | None = Field(default=None, description="free or paid.")
    min_rating: str | None = Field(default=None, description="Minimum average rating, 0 to 5.")
    sort: str | None = Field(
        default=None,
        description=f"One of {', '.join(SORT_FIELDS)}. Default: relevance with q, trending without.",
    )
    cursor: str | None = Field(default=None, description="next_cursor from the previous page.")
    limit: str | None = Field(default=None, description=f"1 to {MAX_LIMIT}; default {DEFAULT_LIMIT}.")


class AutocompleteQuery(Schema):
    q: str = Field(
        default="", max_length=200, description="What the person has typed so far (2+ characters)."
    )


@router.get(
    "/models",
    response={200: ModelListOut, **ERROR_RESPONSES},
    auth=None,
    summary="Search public models",
    operation_id="catalog_search_models",
)
def search_models(
    request: HttpRequest, response: HttpResponse, filters: Query[ModelSearchQuery]
) -> dict[str, Any]:
    """Full-text search (ranked) with filters, sorting, cursor pagination (`next_cursor`, and a `Link` header) and
    facet counts for task, license, source and the top tags."""
    search = model_search_params(**filters.dict())
    result = model_search(search)
    add_next_link(request, response, result.next_cursor)
    return {
        "items": [model_card_data(model) for model in result.items],
        "next_cursor": result.next_cursor,
        "sort": search.sort,
        "facets": result.facets,
    }


@router.get(
    "/models/autocomplete",
    response={200: AutocompleteOut, **ERROR_RESPONSES},
    auth=None,
    summary="Suggest public models by name",
    operation_id="catalog_autocomplete_models",
)
def autocomplete_models(request: HttpRequest, query: Query[AutocompleteQuery]) -> dict[str, Any]:
    """Up to 10 models whose name (or a word in it) starts with `q`; typo-tolerant on PostgreSQL."""
    suggestions = [
        {**suggestion.__dict__, "url": f"/models/{suggestion.slug}/"}
        for suggestion in model_autocomplete(query.q)
    ]
    return {"suggestions": suggestions}


@router.get(
    "/models/{slug}",
    response={200: ModelDetailOut, **ERROR_RESPONSES},
    auth=api_auth_optional(),
    summary="A model's public page as JSON",
    operation_id="catalog_get_model",
)
def get_model(request: HttpRequest, slug: str) -> dict[str, Any]:
    """The listing with its card (markdown and sanitized HTML), versions and files. Drafts and other unpublished
    listings are visible to their creator and staff; to everyone else they are 404."""
    page = model_page_for_viewer(viewer=request.user, slug=slug)
    return model_detail_data(
        page.model,
        tags=[tag.slug for tag in page.tags],
        card_html=str(render_markdown(page.model.card_markdown)),
        versions=page.versions,
        default_version=page.default_version.version if page.default_version else None,
    )
