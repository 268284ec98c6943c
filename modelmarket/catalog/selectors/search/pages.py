"""What a listing's page and a creator's public page show, each read in a fixed number of queries."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Prefetch

from modelmarket.accounts.models import CreatorProfile, User
from modelmarket.catalog.models import AIModel, ModelFile, ModelVersion, Tag
from modelmarket.catalog.selectors.models import model_get_for_viewer, public_models, versions_visible_to
from modelmarket.core.exceptions import NotFound


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
