"""Reads of model files, with the permission checks folded in (see selectors/models.py for the rules).

A file is visible exactly when its version is: published versions of visible listings to everyone who sees the
listing, draft versions to the creator and staff only. Anything else is NotFound."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from modelmarket.catalog.models import AIModel, ModelFile, ModelVersion
from modelmarket.catalog.selectors.models import (
    default_version,
    model_get_for_editing,
    model_get_for_viewer,
    version_get_for_viewer,
    versions_visible_to,
)
from modelmarket.core.exceptions import NotFound


def version_get_for_file_editing(*, actor: Any, slug: str, version: str) -> ModelVersion:
    """The version whose files `actor` may change: NotFound if the listing or version is not visible to them,
    PermissionDenied if they see it but do not own it (nor are staff). Drafts are checked by the services."""
    model = model_get_for_editing(actor=actor, slug=slug)
    found = version_get_for_viewer(viewer=actor, model=model, version=version)
    found.model = model
    return found


def files_of_version(version: ModelVersion) -> QuerySet[ModelFile]:
    return ModelFile.objects.filter(version=version).order_by("name")


def files_for_viewer(
    *, viewer: Any, slug: str, version: str | None = None
) -> tuple[ModelVersion | None, QuerySet[ModelFile]]:
    """The files of `version` (by default the listing's default version, or for its owner and staff, when no
    version is published yet, the newest draft) and that version."""
    model = model_get_for_viewer(viewer=viewer, slug=slug)
    if version is not None:
        chosen: ModelVersion | None = version_get_for_viewer(viewer=viewer, model=model, version=version)
    else:
        chosen = default_version(model) or versions_visible_to(viewer=viewer, model=model).first()
    if chosen is None:
        return None, ModelFile.objects.none()
    chosen.model = model
    return chosen, files_of_version(chosen).select_related("version")


def file_get_for_viewer(*, viewer: Any, slug: str, file_id: int) -> ModelFile:
    """One file of a listing the viewer sees, from a version the viewer sees; NotFound otherwise."""
    model: AIModel = model_get_for_viewer(viewer=viewer, slug=slug)
    versions = versions_visible_to(viewer=viewer, model=model)
    try:
        file = ModelFile.objects.select_related("version").get(pk=file_id, version__in=versions)
    except ModelFile.DoesNotExist:
        raise NotFound("No such file.", code="file_not_found") from None
    file.version.model = model
    return file


def file_get_for_editing(*, actor: Any, slug: str, file_id: int) -> ModelFile:
    """A file of a listing `actor` may change (NotFound / PermissionDenied as model_get_for_editing)."""
    model = model_get_for_editing(actor=actor, slug=slug)
    try:
        file = ModelFile.objects.select_related("version").get(pk=file_id, version__model=model)
    except ModelFile.DoesNotExist:
        raise NotFound("No such file.", code="file_not_found") from None
    file.version.model = model
    return file
