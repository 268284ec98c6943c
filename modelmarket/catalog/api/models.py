"""Creator endpoints: create and edit listings, manage versions, publish, deprecate, delete and restore; staff review.

Reads for buyers (search, detail) live in `search.py`. Listings an actor may not see are 404; listings they can see
but do not own are 403 (see `model_get_for_editing`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.http import HttpRequest
from ninja import Schema, Status
from pydantic import Field

from modelmarket.accounts.authentication import api_auth
from modelmarket.accounts.models import ApiKeyScope, User
from modelmarket.catalog.api.router import router
from modelmarket.catalog.models import AIModel, ModelVersion
from modelmarket.catalog.selectors.models import (
    model_get_for_editing,
    models_owned_by,
    version_get_for_viewer,
    versions_visible_to,
)
from modelmarket.catalog.services import models as services
from modelmarket.core.api.schemas import ERROR_RESPONSES, StrictIn

WRITE = api_auth(ApiKeyScope.MANAGE)
READ = api_auth(ApiKeyScope.READ)


class ModelCreateIn(StrictIn):
    name: str = Field(min_length=1, max_length=120)
    slug: str | None = Field(default=None, min_length=1, max_length=120)
    task: str
    license: str = Field(min_length=1, max_length=64)
    summary: str = Field(default="", max_length=300)
    card_markdown: str = Field(default="", max_length=100_000)
    input_modalities: list[str] = Field(default_factory=list, max_length=7)
    output_modalities: list[str] = Field(default_factory=list, max_length=7)
    commercial_use: bool = False
    tags: list[str] = Field(default_factory=list, max_length=20)
    source: str = "uploaded"
    external_id: str = Field(default="", max_length=200)
    endpoint_url: str = Field(default="", max_length=500)


class ModelUpdateIn(StrictIn):
    name: str | None = Field(default=None, min_length=1, max_length=120)
    summary: str | None = Field(default=None, max_length=300)
    card_markdown: str | None = Field(default=None, max_length=100_000)
    task: str | None = None
    license: str | None = Field(default=None, min_length=1, max_length=64)
    input_modalities: list[str] | None = Field(default=None, max_length=7)
    output_modalities: list[str] | None = Field(default=None, max_length=7)
    commercial_use: bool | None = None
    tags: list[str] | None = Field(default=None, max_length=20)
    endpoint_url: str | None = Field(default=None, max_length=500)


class OwnerModelOut(Schema):
    """A listing as its creator (or staff) sees it, including unpublished state."""

    id: int
    slug: str
    name: str
    summary: str
    task: str
    license: str
    commercial_use: bool
    tags: list[str]
    source: str
    external_id: str
    endpoint_url: str
    status: str
    review_note: str
    pricing: str
    featured: bool
    published_at: datetime | None
    deleted_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @staticmethod
    def resolve_tags(model: AIModel) -> list[str]:
        return model.search_tags.split() if model.search_tags else []


class OwnerModelList(Schema):
    items: list[OwnerModelOut]


class VersionIn(StrictIn):
    version: str = Field(min_length=5, max_length=64)
    changelog: str = Field(default="", max_length=20_000)
    input_schema: dict[str, Any] | None = None
    output_schema: dict[str, Any] | None = None
    runtime: dict[str, Any] | None = None


class VersionUpdateIn(StrictIn):
    changelog: str | None = Field(default=None, max_length=20_000)
    input_schema: dict[str, Any] | None = None
    output_schema: dict[str, Any] | None = None
    runtime: dict[str, Any] | None = None


class VersionDeprecateIn(StrictIn):
    note: str = Field(default="", max_length=500)
    effective_at: datetime | None = None


class VersionOut(Schema):
    version: str
    changelog: str
    is_default: bool
    published_at: datetime | None
    deprecated_at: datetime | None
    deprecation_note: str
    input_schema: dict[str, Any]
    output_schema: dict[str, Any]
    created_at: datetime


class VersionList(Schema):
    items: list[VersionOut]


class ReviewIn(StrictIn):
    approve: bool
    note: str = Field(default="", max_length=2000)


def _actor(request: HttpRequest) -> User:
    return request.auth  # type: ignore[attr-defined]


def _editable(request: HttpRequest, slug: str) -> AIModel:
    return model_get_for_editing(actor=_actor(request), slug=slug)


def _version(request: HttpRequest, slug: str, version: str) -> ModelVersion:
    model = _editable(request, slug)
    return version_get_for_viewer(viewer=_actor(request), model=model, version=version)


@router.get("/creator/models", response={200: OwnerModelList, **ERROR_RESPONSES}, auth=READ, tags=["creator"])
def my_models(request: HttpRequest, include_deleted: bool = False) -> dict[str, Any]:
    """Your own listings in every state, newest change first."""
    models = models_owned_by(creator=_actor(request), include_deleted=include_deleted).order_by("-updated_at")
    return {"items": list(models[:500])}


@router.post("/models", response={201: OwnerModelOut, **ERROR_RESPONSES}, auth=WRITE, tags=["creator"])
def create_model(request: HttpRequest, payload: ModelCreateIn) -> Status[AIModel]:
    """Create a draft listing. You need a creator profile (pending or verified)."""
    return Status(201, services.model_create(actor=_actor(request), **payload.model_dump()))


@router.patch(
    "/models/{slug}", response={200: OwnerModelOut, **ERROR_RESPONSES}, auth=WRITE, tags=["creator"]
)
def update_model(request: HttpRequest, slug: str, payload: ModelUpdateIn) -> AIModel:
    changes = payload.model_dump(exclude_unset=True)
    return services.model_update(actor=_actor(request), model=_editable(request, slug), changes=changes)


@router.delete(
    "/models/{slug}", response={200: OwnerModelOut, **ERROR_RESPONSES}, auth=WRITE, tags=["creator"]
)
def delete_model(request: HttpRequest, slug: str) -> AIModel:
    """Soft delete: hidden everywhere; restore with POST /models/{slug}/restore."""
    return services.model_delete(actor=_actor(request), model=_editable(request, slug))


@router.post(
    "/models/{slug}/restore", response={200: OwnerModelOut, **ERROR_RESPONSES}, auth=WRITE, tags=["creator"]
)
def restore_model(request: HttpRequest, slug: str) -> AIModel:
    return services.model_restore(actor=_actor(request), model=_editable(request, slug))


@router.post(
    "/models/{slug}/publish", response={200: OwnerModelOut, **ERROR_RESPONSES}, auth=WRITE, tags=["creator"]
)
def publish_model(request: HttpRequest, slug: str) -> AIModel:
    """Verified creators publish at once; creators awaiting verification go to staff review."""
    return services.model_publish(actor=_actor(request), model=_editable(request, slug))


@router.post(
    "/models/{slug}/deprecate", response={200: OwnerModelOut, **ERROR_RESPONSES}, auth=WRITE, tags=["creator"]
)
def deprecate_model(request: HttpRequest, slug: str) -> AIModel:
    return services.model_deprecate(actor=_actor(request), model=_editable(request, slug))


@router.post(
    "/models/{slug}/review", response={200: OwnerModelOut, **ERROR_RESPONSES}, auth=WRITE, tags=["staff"]
)
def review_model(request: HttpRequest, slug: str, payload: ReviewIn) -> AIModel:
    return services.model_review(
        actor=_actor(request), model=_editable(request, slug), approve=payload.approve, note=payload.note
    )


@router.get(
    "/models/{slug}/versions", response={200: VersionList, **ERROR_RESPONSES}, auth=READ, tags=["creator"]
)
def list_versions(request: HttpRequest, slug: str) -> dict[str, Any]:
    """All versions of your listing, drafts included."""
    model = _editable(request, slug)
    return {"items": list(versions_visible_to(viewer=_actor(request), model=model))}


@router.post(
    "/models/{slug}/versions", response={201: VersionOut, **ERROR_RESPONSES}, auth=WRITE, tags=["creator"]
)
def create_version(request: HttpRequest, slug: str, payload: VersionIn) -> Status[ModelVersion]:
    model = _editable(request, slug)
    return Status(201, services.version_create(actor=_actor(request), model=model, **payload.model_dump()))


@router.patch(
    "/models/{slug}/versions/{version}",
    response={200: VersionOut, **ERROR_RESPONSES},
    auth=WRITE,
    tags=["creator"],
)
def update_version(request: HttpRequest, slug: str, version: str, payload: VersionUpdateIn) -> ModelVersion:
    """Edit a draft version; published versions are immutable (409)."""
    return services.version_update(
        actor=_actor(request),
        version=_version(request, slug, version),
        changes=payload.model_dump(exclude_unset=True),
    )


@router.post(
    "/models/{slug}/versions/{version}/publish",
    response={200: VersionOut, **ERROR_RESPONSES},
    auth=WRITE,
    tags=["creator"],
)
def publish_version(request: HttpRequest, slug: str, version: str) -> ModelVersion:
    return services.version_publish(actor=_actor(request), version=_version(request, slug, version))


@router.post(
    "/models/{slug}/versions/{version}/default",
    response={200: VersionOut, **ERROR_RESPONSES},
    auth=WRITE,
    tags=["creator"],
)
def set_default_version(request: HttpRequest, slug: str, version: str) -> ModelVersion:
    return services.version_set_default(actor=_actor(request), version=_version(request, slug, version))


@router.post(
    "/models/{slug}/versions/{version}/deprecate",
    response={200: VersionOut, **ERROR_RESPONSES},
    auth=WRITE,
    tags=["creator"],
)
def deprecate_version(
    request: HttpRequest, slug: str, version: str, payload: VersionDeprecateIn
) -> ModelVersion:
    return services.version_deprecate(
        actor=_actor(request),
        version=_version(request, slug, version),
        note=payload.note,
        effective_at=payload.effective_at,
    )
