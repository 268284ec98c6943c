"""Writes to listings and versions: create, edit, publish, review, deprecate, delete and restore.

Every function is keyword-only and atomic. Permission checks come from the selectors (`model_get_for_editing`)
or are made here against the actor's roles."""

from __future__ import annotations

import re
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.text import slugify

from modelmarket.accounts.models import CreatorProfile, User
from modelmarket.accounts.selectors import creator_profile_for
from modelmarket.catalog.models import AIModel, ModelVersion, Tag
from modelmarket.catalog.selectors.models import user_is_catalog_staff
from modelmarket.catalog.vocabulary import Modality, ModelStatus, Pricing, Source, Task, ValidationStatus
from modelmarket.core.exceptions import BadRequest, Conflict, PermissionDenied
from modelmarket.core.generation import generation_bump
from modelmarket.inference.ssrf import checked_upstream_url

SEMVER = re.compile(r"^(0|[1-9]\d{0,8})\.(0|[1-9]\d{0,8})\.(0|[1-9]\d{0,8})(?:-([0-9A-Za-z.-]{1,40}))?$")
SPDX_ID = re.compile(r"^[a-z0-9][a-z0-9.+-]{0,63}$")
SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,118}[a-z0-9])?$")
MAX_TAGS = 20
# Fields a creator edits; on synced listings an edit marks the field as the creator's, so sync leaves it alone.
EDITABLE_FIELDS = (
    "name",
    "summary",
    "card_markdown",
    "task",
    "input_modalities",
    "output_modalities",
    "license",
    "commercial_use",
    "tags",
    "endpoint_url",
)
PUBLISHABLE_FILE_STATES = (ValidationStatus.VALID, ValidationStatus.DOWNLOAD_ONLY)


# --- Validation helpers -------------------------------------------------------------------------------------------
def _check_choice(value: str, choices: type[Any], code: str, label: str) -> str:
    if value not in choices.values:
        raise BadRequest(f"Unknown {label} '{value}'.", code=code, details={"allowed": list(choices.values)})
    return value


def _check_modalities(values: list[str] | tuple[str, ...]) -> list[str]:
    for value in values:
        _check_choice(value, Modality, "invalid_modality", "modality")
    return list(dict.fromkeys(values))


def _check_license(value: str) -> str:
    value = value.strip().lower()
    if not SPDX_ID.match(value):
        raise BadRequest("The license must be an SPDX id such as apache-2.0 or mit.", code="invalid_license")
    return value


def tag_slugs(tags: list[str] | tuple[str, ...]) -> list[str]:
    slugs = list(dict.fromkeys(slugify(tag)[:50] for tag in tags if slugify(tag)))
    if len(slugs) > MAX_TAGS:
        raise BadRequest(f"At most {MAX_TAGS} tags.", code="too_many_tags")
    return slugs


def parse_semver(version: str) -> tuple[int, int, int, str]:
    match = SEMVER.match(version.strip())
    if not match:
        raise BadRequest(
            "Versions are semantic versions: MAJOR.MINOR.PATCH with an optional -prerelease.",
            code="invalid_version",
        )
    return int(match[1]), int(match[2]), int(match[3]), match[4] or ""


# --- Shared plumbing (also used by provider sync and the demo loader) ---------------------------------------------
def tags_set(*, model: AIModel, tags: list[str] | tuple[str, ...]) -> None:
    """Replace the listing's tags (creating missing ones) and refresh the search copy."""
    slugs = tag_slugs(tags)
    existing = {tag.slug: tag for tag in Tag.objects.filter(slug__in=slugs)}
    missing = [Tag(slug=slug, name=slug.replace("-", " ")) for slug in slugs if slug not in existing]
    Tag.objects.bulk_create(missing, ignore_conflicts=True)
    model.tags.set(Tag.objects.filter(slug__in=slugs))
    model.search_tags = " ".join(slugs)
    AIModel.objects.filter(pk=model.pk).update(search_tags=model.search_tags)


def creator_display_name(user: User) -> str:
    profile = creator_profile_for(user=user)
    return profile.display_name if profile else user.public_name


def _unique_slug(base: str) -> str:
    base = (slugify(base) or "model")[:100].strip("-") or "model"
    candidate, number = base, 2
    while AIModel.objects.filter(slug=candidate).exists():
        candidate, number = f"{base}-{number}", number + 1
    return candidate


def _require_creator_profile(actor: User) -> CreatorProfile | None:
    if user_is_catalog_staff(actor):
        return creator_profile_for(user=actor)
    profile = creator_profile_for(user=actor)
    if profile is None or profile.status == CreatorProfile.Status.REJECTED:
        raise PermissionDenied(
            "Apply to become a creator before publishing models.", code="creator_profile_required"
        )
    return profile


def actor_publishes_directly(actor: User) -> bool:
    """Verified creators and staff publish at once; creators awaiting verification go through review."""
    profile = creator_profile_for(user=actor)
    verified = profile is not None and profile.status == CreatorProfile.Status.VERIFIED
    return verified or user_is_catalog_staff(actor)


# --- Listings -----------------------------------------------------------------------------------------------------
def model_create(
    *,
    actor: User,
    name: str,
    task: str,
    license: str,
    summary: str = "",
    card_markdown: str = "",
    slug: str | None = None,
    input_modalities: list[str] | tuple[str, ...] = (),
    output_modalities: list[str] | tuple[str, ...] = (),
    commercial_use: bool = False,
    tags: list[str] | tuple[str, ...] = (),
    source: str = Source.UPLOADED,
    external_id: str = "",
    endpoint_url: str = "",
) -> AIModel:
    """Create a draft listing owned by `actor`, who needs a creator profile (pending or verified)."""
    _require_creator_profile(actor)
    name = name.strip()
    if not name:
        raise BadRequest("Give the model a name.", code="invalid_name")
    if slug is not None and not SLUG.match(slug):
        raise BadRequest("Slugs use lower-case letters, digits and dashes.", code="invalid_slug")
    _check_choice(task, Task, "invalid_task", "task")
    _check_choice(source, Source, "invalid_source", "source")
    if source == Source.OPENAI_COMPATIBLE and not endpoint_url:
        raise BadRequest("An OpenAI-compatible listing needs its server's URL.", code="endpoint_required")
    endpoint_url = checked_upstream_url(endpoint_url)
    if source in (Source.HUGGINGFACE, Source.REPLICATE) and not external_id:
        raise BadRequest("A provider listing needs the provider's model id.", code="external_id_required")
    try:
        with transaction.atomic():
            model = AIModel.objects.create(
                slug=slug or _unique_slug(name),
                name=name[:120],
                summary=summary.strip()[:300],
                card_markdown=card_markdown,
                task=task,
                input_modalities=_check_modalities(input_modalities),
                output_modalities=_check_modalities(output_modalities),
                license=_check_license(license),
                commercial_use=commercial_use,
                creator=actor,
                creator_name=creator_display_name(actor),
                source=source,
                external_id=external_id.strip(),
                endpoint_url=endpoint_url.strip(),
            )
            tags_set(model=model, tags=tags)
            generation_bump()  # the gateway may have cached "no such model" for this slug
    except IntegrityError as exc:
        if "slug" in str(exc).lower() or (slug and AIModel.objects.filter(slug=slug).exists()):
            raise Conflict("That slug is taken.", code="slug_taken", details={"slug": slug}) from None
        raise Conflict("This provider model is already listed.", code="duplicate_listing") from None
    return model


def model_update(*, actor: User, model: AIModel, changes: dict[str, Any]) -> AIModel:
    """Apply `changes` (a subset of EDITABLE_FIELDS) to a listing the actor may edit (see model_get_for_editing)."""
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise BadRequest(
            "These fields cannot be changed.", code="invalid_fields", details={"fields": sorted(unknown)}
        )
    cleaners: dict[str, Any] = {
        "name": _clean_name,
        "summary": lambda value: value.strip()[:300],
        "task": lambda value: _check_choice(value, Task, "invalid_task", "task"),
        "input_modalities": _check_modalities,
        "output_modalities": _check_modalities,
        "license": _check_license,
        "endpoint_url": checked_upstream_url,
    }
    cleaned = {field: cleaners.get(field, lambda value: value)(value) for field, value in changes.items()}
    with transaction.atomic():
        model = AIModel.objects.select_for_update().get(pk=model.pk)
        for field, value in cleaned.items():
            if field != "tags":
                setattr(model, field, value)
        if model.source != Source.UPLOADED:
            model.locally_edited_fields = sorted(set(model.locally_edited_fields) | set(cleaned))
        model.save()
        if "tags" in cleaned:
            tags_set(model=model, tags=cleaned["tags"])
    generation_bump()
    return model


def _clean_name(value: str) -> str:
    if not value.strip():
        raise BadRequest("Give the model a name.", code="invalid_name")
    return value.strip()[:120]


def model_publish(*, actor: User, model: AIModel) -> AIModel:
    """Publish a listing (verified creators and staff) or send it to review (creators awaiting verification).

    It needs a published default version."""
    if model.deleted_at is not None:
        raise Conflict("Restore the model before publishing it.", code="model_deleted")
    if model.status in (ModelStatus.PUBLISHED, ModelStatus.PENDING_REVIEW):
        return model
    if not model.versions.filter(is_default=True, published_at__isnull=False).exists():
        raise Conflict("Publish a version and make it the default first.", code="no_published_version")
    with transaction.atomic():
        model = AIModel.objects.select_for_update().get(pk=model.pk)
        if actor_publishes_directly(actor):
            model.status = ModelStatus.PUBLISHED
            model.published_at = model.published_at or timezone.now()
        else:
            model.status = ModelStatus.PENDING_REVIEW
        model.save(update_fields=["status", "published_at", "updated_at"])
    generation_bump()
    return model


def model_review(*, actor: User, model: AIModel, approve: bool, note: str = "") -> AIModel:
    """Staff decide a listing that is pending review."""
    if not user_is_catalog_staff(actor):
        raise PermissionDenied("Only staff review models.", code="not_staff")
    with transaction.atomic():
        model = AIModel.objects.select_for_update().get(pk=model.pk)
        if model.status != ModelStatus.PENDING_REVIEW:
            raise Conflict("This model is not waiting for review.", code="not_pending_review")
        model.status = ModelStatus.PUBLISHED if approve else ModelStatus.REJECTED
        model.review_note = note.strip()
        if approve:
            model.published_at = model.published_at or timezone.now()
        model.save(update_fields=["status", "review_note", "published_at", "updated_at"])
    generation_bump()
    return model


def model_deprecate(*, actor: User, model: AIModel) -> AIModel:
    if model.status != ModelStatus.PUBLISHED:
        raise Conflict("Only published models can be deprecated.", code="not_published")
    AIModel.objects.filter(pk=model.pk).update(status=ModelStatus.DEPRECATED, updated_at=timezone.now())
    model.refresh_from_db()
    generation_bump()
    return model


def model_delete(*, actor: User, model: AIModel) -> AIModel:
    """Soft delete: hidden everywhere, files kept, restorable by its creator or staff."""
    AIModel.objects.filter(pk=model.pk, deleted_at__isnull=True).update(
        deleted_at=timezone.now(), updated_at=timezone.now()
    )
    model.refresh_from_db()
    generation_bump()
    return model


def model_restore(*, actor: User, model: AIModel) -> AIModel:
    AIModel.objects.filter(pk=model.pk).update(deleted_at=None, updated_at=timezone.now())
    model.refresh_from_db()
    generation_bump()
    return model


# --- Versions -----------------------------------------------------------------------------------------------------
def version_create(
    *,
    actor: User,
    model: AIModel,
    version: str,
    changelog: str = "",
    input_schema: dict[str, Any] | None = None,
    output_schema: dict[str, Any] | None = None,
    runtime: dict[str, Any] | None = None,
) -> ModelVersion:
    major, minor, patch, prerelease = parse_semver(version)
    for schema in (input_schema, output_schema):
        if schema is not None and not isinstance(schema, dict):
            raise BadRequest("Schemas are JSON Schema objects.", code="invalid_schema")
    try:
        with transaction.atomic():
            generation_bump()
            return ModelVersion.objects.create(
                model=model,
                version=version.strip(),
                major=major,
                minor=minor,
                patch=patch,
                prerelease=prerelease,
                changelog=changelog,
                input_schema=input_schema or {},
                output_schema=output_schema or {},
                runtime=runtime or {},
            )
    except IntegrityError:
        raise Conflict(f"Version {version} already exists.", code="version_exists") from None


def version_update(*, actor: User, version: ModelVersion, changes: dict[str, Any]) -> ModelVersion:
    """Edit a draft version. Published versions are immutable (deprecate and publish a new one instead)."""
    allowed = {"changelog", "input_schema", "output_schema", "runtime"}
    if set(changes) - allowed:
        raise BadRequest("These fields cannot be changed.", code="invalid_fields")
    with transaction.atomic():
        version = ModelVersion.objects.select_for_update().get(pk=version.pk)
        if version.is_published:
            raise Conflict("Published versions cannot change.", code="version_immutable")
        for field, value in changes.items():
            setattr(version, field, value)
        version.save()
    generation_bump()
    return version


def version_publish(*, actor: User, version: ModelVersion) -> ModelVersion:
    """Freeze a version. Uploaded models need at least one file and every file validated (valid or download-only).
    The first published version becomes the default."""
    with transaction.atomic():
        version = ModelVersion.objects.select_for_update().select_related("model").get(pk=version.pk)
        if version.is_published:
            return version
        files = list(version.files.all())
        if version.model.source == Source.UPLOADED and not files:
            raise Conflict("Upload the model's files first.", code="version_has_no_files")
        blocking = [file.name for file in files if file.validation_status not in PUBLISHABLE_FILE_STATES]
        if blocking:
            raise Conflict(
                "Every file must pass validation before the version is published.",
                code="files_not_validated",
                details={"files": blocking},
            )
        version.published_at = timezone.now()
        version.save(update_fields=["published_at", "updated_at"])
        if not version.model.versions.filter(is_default=True).exists():
            _make_default(version)
    generation_bump()
    return version


def _make_default(version: ModelVersion) -> None:
    ModelVersion.objects.filter(model_id=version.model_id, is_default=True).exclude(pk=version.pk).update(
        is_default=False
    )
    ModelVersion.objects.filter(pk=version.pk).update(is_default=True)
    version.is_default = True


def version_set_default(*, actor: User, version: ModelVersion) -> ModelVersion:
    if not version.is_published:
        raise Conflict("Only a published version can be the default.", code="version_not_published")
    if version.deprecated_at is not None:
        raise Conflict("A deprecated version cannot be the default.", code="version_deprecated")
    with transaction.atomic():
        AIModel.objects.select_for_update().filter(
            pk=version.model_id
        ).first()  # one default change at a time
        _make_default(version)
    generation_bump()
    return version


def version_deprecate(
    *, actor: User, version: ModelVersion, note: str = "", effective_at: Any = None
) -> ModelVersion:
    """Mark a published version deprecated from `effective_at` (now by default). Deprecating the default moves the
    default to the newest other active version; the last active version cannot be deprecated (deprecate the model)."""
    if not version.is_published:
        raise Conflict("Only published versions can be deprecated.", code="version_not_published")
    with transaction.atomic():
        AIModel.objects.select_for_update().filter(pk=version.model_id).first()
        if version.is_default:
            successor = (
                version.model.versions.filter(
                    ~Q(pk=version.pk), published_at__isnull=False, deprecated_at__isnull=True
                )
                .order_by("-major", "-minor", "-patch", "prerelease")
                .first()
            )
            if successor is None:
                raise Conflict(
                    "Publish another version before deprecating the only active one.",
                    code="last_active_version",
                )
            _make_default(successor)
        ModelVersion.objects.filter(pk=version.pk).update(
            deprecated_at=effective_at or timezone.now(),
            deprecation_note=note.strip()[:500],
            is_default=False,
        )
    version.refresh_from_db()
    generation_bump()
    return version


def model_pricing_set(*, model_id: int, pricing: str) -> None:
    """The price badge and `pricing` filter, kept current by billing from the model's plans."""
    _check_choice(pricing, Pricing, "invalid_pricing", "pricing")
    AIModel.objects.filter(pk=model_id).exclude(pricing=pricing).update(pricing=pricing)
