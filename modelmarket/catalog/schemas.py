"""Public (buyer-facing) catalog schemas, shared by the catalog API and other apps' endpoints that list models.

`ModelCardOut` is one listing as search results show it; `ModelDetailOut` adds the card, versions and files.
Build the data with `model_card_data(model)` / `model_detail_data(...)`: cards read only the listing's own columns
(tags come from the `search_tags` copy, the creator from `creator_name`), so a list of cards costs no query per row."""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Any

from django.urls import reverse
from ninja import Schema

from modelmarket.catalog.models import AIModel, ModelFile, ModelVersion
from modelmarket.catalog.vocabulary import Source, Task


class CreatorBriefOut(Schema):
    """Who offers a listing. `id` is the creator's user id: `/creators/{id}/` and the `creator` search filter."""

    id: int
    name: str
    profile_url: str


class ModelCardOut(Schema):
    """One listing as result lists show it. Build it with `model_card_data(model)` (plain data, so pydantic
    validates it quickly: a page of 100 cards costs well under a millisecond)."""

    slug: str
    name: str
    summary: str
    task: str
    task_label: str
    license: str
    commercial_use: bool
    pricing: str
    source: str
    status: str
    featured: bool
    tags: list[str]
    creator: CreatorBriefOut
    rating_average: float
    rating_count: int
    download_count: int
    call_count: int
    favorite_count: int
    published_at: datetime | None
    url: str


TASK_LABELS = {value: str(label) for value, label in Task.choices}


def model_card_data(model: AIModel) -> dict[str, Any]:
    """The `ModelCardOut` fields of `model`, from its own columns only (no query)."""
    return {
        "slug": model.slug,
        "name": model.name,
        "summary": model.summary,
        "task": model.task,
        "task_label": TASK_LABELS.get(model.task, model.task),
        "license": model.license,
        "commercial_use": model.commercial_use,
        "pricing": model.pricing,
        "source": model.source,
        "status": model.status,
        "featured": model.featured,
        "tags": model.search_tags.split(),
        "creator": {
            "id": model.creator_id,
            "name": model.creator_name,
            "profile_url": f"{_creators_prefix()}{model.creator_id}/",
        },
        "rating_average": float(model.rating_average),
        "rating_count": model.rating_count,
        "download_count": model.download_count,
        "call_count": model.call_count,
        "favorite_count": model.favorite_count,
        "published_at": model.published_at,
        "url": f"{_models_prefix()}{model.slug}/",
    }


@cache
def _models_prefix() -> str:
    return reverse("catalog")


@cache
def _creators_prefix() -> str:
    return reverse("creator_profile_public", args=[1]).removesuffix("1/")


class FacetValueOut(Schema):
    value: str
    label: str
    count: int


class FacetsOut(Schema):
    """Counts over every listing the search matched. `total` is how many that is."""

    total: int
    task: list[FacetValueOut]
    license: list[FacetValueOut]
    source: list[FacetValueOut]
    tag: list[FacetValueOut]


class ModelListOut(Schema):
    """One page. `next_cursor` (also in the `Link` header) fetches the next; null on the last page. `facets` is
    sent with the first page only (later pages of the same search have the same counts)."""

    items: list[ModelCardOut]
    next_cursor: str | None
    sort: str
    facets: FacetsOut | None


class SuggestionOut(Schema):
    slug: str
    name: str
    task: str
    creator_name: str
    url: str


class AutocompleteOut(Schema):
    suggestions: list[SuggestionOut]


class FileOut(Schema):
    id: int
    name: str
    size_bytes: int
    sha256: str
    content_type: str
    file_format: str
    validation_status: str
    download_url: str


class VersionPublicOut(Schema):
    version: str
    changelog: str
    is_default: bool
    published_at: datetime | None
    deprecated_at: datetime | None
    deprecation_note: str
    files: list[FileOut]


class ModelDetailOut(ModelCardOut):
    """A listing's page as JSON: the card as raw markdown and as sanitized HTML, versions (newest first) with
    their files, and modalities. Drafts and other non-public states are visible to their creator and staff only."""

    card_markdown: str
    card_html: str
    input_modalities: list[str]
    output_modalities: list[str]
    source_label: str
    external_id: str
    default_version: str | None
    versions: list[VersionPublicOut]


SOURCE_LABELS = {value: str(label) for value, label in Source.choices}


def model_detail_data(
    model: AIModel,
    *,
    tags: list[str],
    card_html: str,
    versions: list[ModelVersion],
    default_version: str | None,
) -> dict[str, Any]:
    return {
        **model_card_data(model),
        "tags": tags,
        "card_markdown": model.card_markdown,
        "card_html": card_html,
        "input_modalities": model.input_modalities,
        "output_modalities": model.output_modalities,
        "source_label": SOURCE_LABELS.get(model.source, model.source),
        "external_id": model.external_id,
        "default_version": default_version,
        "versions": [
            {
                "version": version.version,
                "changelog": version.changelog,
                "is_default": version.is_default,
                "published_at": version.published_at,
                "deprecated_at": version.deprecated_at,
                "deprecation_note": version.deprecation_note,
                "files": [_file_data(model, file) for file in version.files.all()],
            }
            for version in versions
        ],
    }


def _file_data(model: AIModel, file: ModelFile) -> dict[str, Any]:
    return {
        "id": file.pk,
        "name": file.name,
        "size_bytes": file.size_bytes,
        "sha256": file.sha256,
        "content_type": file.content_type,
        "file_format": file.file_format,
        "validation_status": file.validation_status,
        "download_url": f"{_models_prefix()}{model.slug}/files/{file.pk}/download/",
    }
