"""Reads of listings and versions, with the permission checks folded in.

Public means published or deprecated and not deleted. Anything else is visible only to its creator and to staff;
to everyone else it does not exist (NotFound). Seeing a listing is not editing it: others get PermissionDenied."""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet

from modelmarket.catalog.models import PUBLIC_CONDITION, AIModel, ModelVersion
from modelmarket.catalog.vocabulary import ModelStatus
from modelmarket.core.exceptions import NotFound, PermissionDenied

PUBLIC_STATUSES = (ModelStatus.PUBLISHED, ModelStatus.DEPRECATED)


def user_is_catalog_staff(user: Any) -> bool:
    return bool(user is not None and user.is_authenticated and user.has_perm("catalog.moderate_aimodel"))


def public_models() -> QuerySet[AIModel]:
    return AIModel.objects.filter(PUBLIC_CONDITION)


def models_visible_to(viewer: Any) -> QuerySet[AIModel]:
    """Public listings, plus the viewer's own in any state (deleted ones too, so they can be restored), plus
    everything for staff."""
    if user_is_catalog_staff(viewer):
        return AIModel.objects.all()
    if viewer is not None and viewer.is_authenticated:
        return AIModel.objects.filter(
            Q(status__in=PUBLIC_STATUSES, deleted_at__isnull=True) | Q(creator=viewer)
        )
    return public_models()


def model_get_for_viewer(*, viewer: Any, slug: str) -> AIModel:
    try:
        return models_visible_to(viewer).select_related("creator").get(slug=slug)
    except AIModel.DoesNotExist:
        raise NotFound("No such model.", code="model_not_found") from None


def model_get_for_editing(*, actor: Any, slug: str) -> AIModel:
    """The listing if `actor` may change it. Not visible: NotFound; visible but someone else's: PermissionDenied."""
    model = model_get_for_viewer(viewer=actor, slug=slug)
    if model.creator_id != getattr(actor, "pk", None) and not user_is_catalog_staff(actor):
        raise PermissionDenied("Only the model's creator can change it.", code="not_model_owner")
    return model


def models_pending_review(*, actor: Any) -> QuerySet[AIModel]:
    """Listings waiting for staff, oldest first. NotFound for anyone who is not catalog staff."""
    if not user_is_catalog_staff(actor):
        raise NotFound()
    return AIModel.objects.filter(status=ModelStatus.PENDING_REVIEW, deleted_at__isnull=True).order_by(
        "updated_at", "pk"
    )


def models_owned_by(*, creator: Any, include_deleted: bool = False) -> QuerySet[AIModel]:
    models = AIModel.objects.filter(creator=creator)
    return models if include_deleted else models.filter(deleted_at__isnull=True)


def versions_visible_to(*, viewer: Any, model: AIModel) -> QuerySet[ModelVersion]:
    versions = model.versions.all()
    if model.creator_id == getattr(viewer, "pk", None) or user_is_catalog_staff(viewer):
        return versions
    return versions.filter(published_at__isnull=False)


def version_get_for_viewer(*, viewer: Any, model: AIModel, version: str) -> ModelVersion:
    try:
        return versions_visible_to(viewer=viewer, model=model).get(version=version)
    except ModelVersion.DoesNotExist:
        raise NotFound("No such version.", code="version_not_found") from None


def default_version(model: AIModel) -> ModelVersion | None:
    return model.versions.filter(is_default=True).first()
