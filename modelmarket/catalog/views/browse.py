"""Discovery pages: the catalog (search, facets, live filtering, infinite scroll), header autocomplete, a listing's
page and a creator's public profile. Each view parses the request, calls one selector and renders; htmx requests
get a partial of the same template (`{% partialdef %}`), chosen with `request.htmx`."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import urlencode

from django.http import Http404, HttpRequest
from django.template.response import TemplateResponse
from django.urls import URLPattern, path
from django.utils.cache import patch_vary_headers

from modelmarket.billing.selectors.plans import plans_for_model_page
from modelmarket.catalog.markdown import render_markdown
from modelmarket.catalog.selectors.search import (
    SORT_LABELS,
    ModelPage,
    ModelSearch,
    ModelSearchResult,
    creator_public_get,
    model_autocomplete,
    model_page_for_viewer,
    model_search,
    model_search_params,
    model_search_params_from_query,
)
from modelmarket.catalog.vocabulary import Pricing, Source, Task
from modelmarket.core.exceptions import BadRequest, NotFound
from modelmarket.usage.health import model_health_24h

CATALOG_TEMPLATE = "catalog/browse/catalog.html"
RATING_CHOICES = [("4", "4 ★ and up"), ("3", "3 ★ and up"), ("2", "2 ★ and up")]


def _htmx_partial(request: HttpRequest) -> bool:
    """An htmx request that wants a fragment (a history restore after a cache miss wants the whole page)."""
    htmx: Any = getattr(request, "htmx", None)
    return bool(htmx) and not htmx.history_restore_request


def _next_url(request: HttpRequest, next_cursor: str | None) -> str | None:
    if not next_cursor:
        return None
    query = request.GET.copy()
    query["cursor"] = next_cursor
    return f"{request.path}?{urlencode(sorted(query.lists()), doseq=True)}"


def _render(
    request: HttpRequest, template: str, context: dict[str, Any], status: int = 200
) -> TemplateResponse:
    response = TemplateResponse(request, template, context, status=status)
    patch_vary_headers(response, ("HX-Request",))  # the same URL answers a page or a fragment
    return response


def catalog(request: HttpRequest) -> TemplateResponse:
    """`/models/`: filters live in the query string, so every state is a shareable URL."""
    error: BadRequest | None = None
    try:
        search = model_search_params_from_query(request.GET)
        result: ModelSearchResult | None = model_search(
            search, with_facets=not _htmx_partial(request) or None
        )
    except BadRequest as exc:
        error, search, result = exc, ModelSearch(), None
    context = {
        "search": search,
        "result": result,
        "error": error,
        "search_query": search.q,
        "next_url": _next_url(request, result.next_cursor if result else None),
        "sort_choices": SORT_LABELS.items(),
        "pricing_choices": Pricing.choices,
        "rating_choices": RATING_CHOICES,
        "selected_tags": set(search.tags),
        "selected_rating": f"{search.min_rating.normalize():f}" if search.min_rating is not None else "",
        "extra_tags": _selected_tags_missing_from_facets(search, result),
        "filters_applied": search.filters_applied(),
    }
    template = CATALOG_TEMPLATE
    if _htmx_partial(request):
        template += "#page" if search.cursor and not error else "#body"
    return _render(request, template, context, status=400 if error else 200)


def _selected_tags_missing_from_facets(search: ModelSearch, result: ModelSearchResult | None) -> list[str]:
    """Selected tags stay visible (and can be unticked) even when they are not among the top tags."""
    shown = {facet.value for facet in result.facets.tag} if result and result.facets else set()
    return [tag for tag in search.tags if tag not in shown]


def suggest(request: HttpRequest) -> TemplateResponse:
    """Options for the header search box's listbox (htmx fills it as the person types)."""
    query = request.GET.get("q", "")[:200]
    return _render(
        request,
        "catalog/browse/suggest.html",
        {"suggestions": model_autocomplete(query), "query": " ".join(query.split())},
    )


def model_detail(request: HttpRequest, slug: str) -> TemplateResponse:
    try:
        page = model_page_for_viewer(viewer=request.user, slug=slug)
    except NotFound:
        raise Http404("No such model.") from None
    changelogs = {version.pk: render_markdown(version.changelog) for version in page.versions}
    context = {
        "page": page,
        "model": page.model,
        "card_html": render_markdown(page.model.card_markdown),
        "versions": [(version, changelogs[version.pk]) for version in page.versions],
        "is_owner": page.model.creator_id == request.user.pk,
        "task_label": dict(Task.choices).get(page.model.task, page.model.task),
        "source_label": dict(Source.choices).get(page.model.source, page.model.source),
        "playground": _playground(page),
        "health": model_health_24h(page.model.pk),  # one query: the hourly rollup's last 24 hours
        "pricing_plans": plans_for_model_page(model=page.model, viewer=request.user),
        # Sent with the Buy forms as their Idempotency-Key: a double click or a resubmitted form is one order.
        "checkout_key": uuid.uuid4().hex,
    }
    return _render(request, "catalog/browse/model.html", context)


CHAT_TASKS = frozenset({Task.CHAT, Task.TEXT_GENERATION})
IMAGE_KEYS = ("width", "height", "min", "max")


def _playground(page: ModelPage) -> dict[str, Any] | None:
    """What the playground script needs (rendered with `json_script`), or None when the default version cannot be
    called. Only public facts about the version: never the runtime's URLs, model ids or credentials."""
    version = page.default_version
    runtime = (version.runtime or {}) if version else {}
    if version is None or not runtime.get("provider"):
        return None
    image = runtime.get("image")
    schema = version.input_schema or {}
    declared = schema.get("properties")
    properties: dict[str, Any] = declared if isinstance(declared, dict) else {}
    # PostgreSQL's jsonb does not keep key order; the runtime's feature order (the schema's own names) restores it.
    order = runtime.get("feature_order")
    if not (isinstance(order, list) and sorted(map(str, order)) == sorted(properties)):
        order = list(properties)
    return {
        "endpoint": f"/api/v1/models/{page.model.slug}/inference",
        "version": version.version,
        "task": page.model.task,
        "mode": "chat" if page.model.task in CHAT_TASKS else "form",
        "input_schema": schema,
        "field_order": order,
        "image": {key: image[key] for key in IMAGE_KEYS if key in image} if isinstance(image, dict) else None,
    }


def creator_profile(request: HttpRequest, user_id: int) -> TemplateResponse:
    try:
        creator = creator_public_get(user_id=user_id)
        search = model_search_params(creator=user_id, cursor=request.GET.get("cursor"))
        result = model_search(search, with_facets=False)
    except NotFound:
        raise Http404("No such creator.") from None
    except BadRequest as exc:  # a tampered cursor
        return _render(request, "catalog/browse/creator.html", {"error": exc}, status=400)
    context = {
        "creator": creator,
        "search": search,
        "result": result,
        "next_url": _next_url(request, result.next_cursor),
    }
    if _htmx_partial(request) and search.cursor:
        return _render(request, f"{CATALOG_TEMPLATE}#page", context)
    return _render(request, "catalog/browse/creator.html", context)


urlpatterns: list[URLPattern] = [
    path("models/", catalog, name="catalog"),
    path("search/suggest/", suggest, name="catalog_suggest"),
    path("creators/<int:user_id>/", creator_profile, name="creator_profile_public"),
    path("models/<slug:slug>/", model_detail, name="model_detail"),
]
