"""Provider sync: mirror Hugging Face and Replicate models into the catalog as published provider listings.

- Upserts by (source, external_id). A new listing is created through the listing services; when two runs race on
  the same model, the database's unique constraint rejects the second insert, which then updates the row the
  first one made: never two listings for one provider model.
- Incremental: a listing whose provider timestamp (`external_updated_at`: Hub `lastModified`, Replicate
  `latest_version.created_at`) and mapped content are unchanged only has its popularity counter and `synced_at`
  refreshed ("unchanged"); a changed one is updated field by field ("updated").
- Fields a person edited on a synced listing (`locally_edited_fields`, recorded by `model_update`) are never
  overwritten. Changing the task protects the modalities that go with it as well.
- Synced listings belong to one platform "mirror" account per source (`catalog.services.mirrors.mirror_account`,
  shared with the demo catalog: `huggingface-mirror@modelmarket.local` with the verified creator profile
  "Hugging Face (mirror)", `replicate-mirror@modelmarket.local` / "Replicate (mirror)"; no usable password),
  created on first use. A listing of the same provider model that
  a creator made themselves is theirs: sync leaves it alone (skipped as `listed_by_creator`). Sync never changes
  a listing's status, so a listing staff hid or a creator deleted stays so.
- Versions: a Hugging Face listing has one version, 1.0.0, running the Hub model by id. A Replicate listing gets a
  version per Replicate version: 1.0.0, then 1.0.1, 1.0.2... each published and made the default when
  `latest_version.id` changes.
- A provider failure that outlasts the retries (5xx, network, a 429 beyond the time budget) ends the run: what was
  synced stays, and the report carries the error.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.text import slugify

from modelmarket.accounts.models import User
from modelmarket.catalog.models import AIModel, ModelVersion
from modelmarket.catalog.providers.base import ProviderClient, ProviderItem, ProviderListing, SkippedItem
from modelmarket.catalog.services.mirrors import mirror_account
from modelmarket.catalog.services.models import (
    SLUG,
    model_create,
    model_publish,
    tags_set,
    version_create,
    version_publish,
    version_set_default,
)
from modelmarket.catalog.vocabulary import Source
from modelmarket.core.exceptions import ApplicationError, BadRequest, Conflict
from modelmarket.core.http import OutboundHTTPError

logger = logging.getLogger(__name__)

SYNCED_FIELDS = (
    "name",
    "summary",
    "card_markdown",
    "task",
    "input_modalities",
    "output_modalities",
    "license",
    "commercial_use",
)
SLUG_ATTEMPTS = 3


# Appended to the slug when `owner-name` is taken by another listing.
SLUG_SUFFIXES = {Source.HUGGINGFACE: "hf", Source.REPLICATE: "replicate"}


class ProviderNotConfigured(BadRequest):
    default_code = "provider_not_configured"


class ListedByCreator(Conflict):
    """The provider model is listed by a creator (not the mirror account); sync does not touch their listing."""

    default_code = "listed_by_creator"


@dataclass
class SyncReport:
    source: str
    search: str = ""
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    failed: int = 0
    skipped_reasons: dict[str, int] = field(default_factory=dict)
    error: str = ""

    @property
    def processed(self) -> int:
        return self.created + self.updated + self.unchanged + self.skipped + self.failed

    def summary(self) -> str:
        reasons = ", ".join(f"{reason} {count}" for reason, count in sorted(self.skipped_reasons.items()))
        line = (
            f"{self.source}: {self.created} created, {self.updated} updated, {self.unchanged} unchanged, "
            f"{self.skipped} skipped{f' ({reasons})' if reasons else ''}, {self.failed} failed"
        )
        return f"{line}; stopped early: {self.error}" if self.error else line

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


# --- Entry point --------------------------------------------------------------------------------------------------
def provider_client(source: str) -> ProviderClient:
    """The configured client for `source`; ProviderNotConfigured when its credentials are missing."""
    from modelmarket.catalog.providers.huggingface import huggingface_client
    from modelmarket.catalog.providers.replicate import replicate_client

    if source == Source.HUGGINGFACE:
        return huggingface_client()
    if source == Source.REPLICATE:
        if not settings.REPLICATE_API_TOKEN:
            raise ProviderNotConfigured("Set REPLICATE_API_TOKEN to sync from Replicate.")
        return replicate_client()
    raise BadRequest(
        f"Unknown provider '{source}'.", code="invalid_source", details={"allowed": list(SLUG_SUFFIXES)}
    )


def catalog_sync(
    *,
    source: str,
    search: str = "",
    limit: int | None = None,
    client: ProviderClient | None = None,
    on_item: Callable[[str], None] | None = None,
) -> SyncReport:
    """Read up to `limit` models (every model when None) from the provider and upsert them. `on_item` hears each
    item's outcome (created, updated, unchanged, skipped, failed), for progress bars."""
    if source not in SLUG_SUFFIXES:
        raise BadRequest(f"Unknown provider '{source}'.", code="invalid_source")
    report = SyncReport(source=source, search=search)
    if limit is not None and limit < 1:
        return report
    client = client or provider_client(source)
    try:
        mirror = mirror_account(source=source)
        for item in client.iter_listings(search=search, limit=limit):
            outcome = _sync_item(item, source=source, mirror=mirror, report=report)
            if on_item:
                on_item(outcome)
            if limit is not None and report.processed >= limit:
                break
    except OutboundHTTPError as exc:
        report.error = exc.message
        logger.error(
            "catalog sync stopped by a provider failure", extra={"source": source, "error": exc.message}
        )
    finally:
        client.close()
    logger.info("catalog sync finished", extra=report.as_dict())
    return report


def _sync_item(item: ProviderItem, *, source: str, mirror: User, report: SyncReport) -> str:
    if isinstance(item, SkippedItem):
        _count_skip(report, item.reason)
        return "skipped"
    try:
        outcome = listing_upsert(source=source, listing=item, mirror=mirror)
    except ListedByCreator:
        _count_skip(report, "listed_by_creator")
        return "skipped"
    except (ApplicationError, IntegrityError, ValueError, TypeError, KeyError):
        logger.warning(
            "catalog sync could not save a model",
            extra={"source": source, "external_id": item.external_id},
            exc_info=True,
        )
        outcome = "failed"
    setattr(report, outcome, getattr(report, outcome) + 1)
    return outcome


def _count_skip(report: SyncReport, reason: str) -> None:
    report.skipped += 1
    report.skipped_reasons[reason] = report.skipped_reasons.get(reason, 0) + 1


# --- Upsert -------------------------------------------------------------------------------------------------------
def listing_upsert(*, source: str, listing: ProviderListing, mirror: User) -> str:
    """Create or refresh the listing of one provider model; returns "created", "updated" or "unchanged".
    Raises ListedByCreator when a creator, not the mirror account, lists that model."""
    existing = _find_listing(source, listing.external_id)
    if existing is None:
        try:
            _listing_create(source=source, listing=listing, mirror=mirror)
            return "created"
        except (Conflict, IntegrityError):
            # Another run created it between our look-up and our insert; the unique constraint stopped us.
            existing = _find_listing(source, listing.external_id)
            if existing is None:
                raise
    return _listing_refresh(model=existing, listing=listing, mirror=mirror)


def _find_listing(source: str, external_id: str) -> AIModel | None:
    return AIModel.objects.filter(source=source, external_id=external_id).first()


def _listing_create(*, source: str, listing: ProviderListing, mirror: User) -> AIModel:
    for attempt in range(SLUG_ATTEMPTS):
        slug = _free_slug(source, listing.external_id, attempt=attempt)
        try:
            with transaction.atomic():
                model = _create_published(source=source, listing=listing, mirror=mirror, slug=slug)
        except Conflict as exc:
            if exc.code != "slug_taken" or _find_listing(source, listing.external_id) is not None:
                raise
            continue  # a different model took the slug meanwhile: try the next candidate
        return model
    raise Conflict("No free slug for this provider model.", code="slug_taken")


def _create_published(*, source: str, listing: ProviderListing, mirror: User, slug: str) -> AIModel:
    model = model_create(
        actor=mirror,
        name=listing.name,
        task=listing.task,
        license=listing.license,
        summary=listing.summary,
        card_markdown=listing.card_markdown,
        slug=slug,
        input_modalities=listing.input_modalities,
        output_modalities=listing.output_modalities,
        commercial_use=listing.commercial_use,
        tags=listing.tags,
        source=source,
        external_id=listing.external_id,
    )
    _store_provider_state(model, listing)
    model.save(
        update_fields=["external_data", "external_updated_at", "synced_at", "download_count", "updated_at"]
    )
    _version_add(model=model, listing=listing, mirror=mirror, version="1.0.0")
    return model_publish(actor=mirror, model=model)


def _listing_refresh(*, model: AIModel, listing: ProviderListing, mirror: User) -> str:
    if model.creator_id != mirror.pk:
        raise ListedByCreator("A creator lists this provider model; sync leaves it alone.")
    with transaction.atomic():
        model = AIModel.objects.select_for_update().get(pk=model.pk)
        unchanged = (
            model.external_updated_at == listing.external_updated_at
            and model.external_data.get("sync_fingerprint") == listing.fingerprint()
        )
        _store_provider_state(model, listing)
        provider_fields = [
            "external_data",
            "external_updated_at",
            "synced_at",
            "download_count",
            "updated_at",
        ]
        if unchanged:
            model.save(update_fields=provider_fields)
            return "unchanged"
        protected = _protected_fields(model)
        changed = [name for name in SYNCED_FIELDS if name not in protected]
        for name in changed:
            setattr(model, name, getattr(listing, name))
        model.save(update_fields=provider_fields + changed)
        if "tags" not in protected:
            tags_set(model=model, tags=listing.tags)
        _versions_refresh(model=model, listing=listing, mirror=mirror)
    return "updated"


def _protected_fields(model: AIModel) -> set[str]:
    protected = set(model.locally_edited_fields)
    if "task" in protected:  # the modalities follow the task the person chose
        protected |= {"input_modalities", "output_modalities"}
    return protected


def _store_provider_state(model: AIModel, listing: ProviderListing) -> None:
    model.external_data = {**listing.external_data, "sync_fingerprint": listing.fingerprint()}
    model.external_updated_at = listing.external_updated_at
    model.synced_at = timezone.now()
    if listing.download_count is not None:
        model.download_count = listing.download_count


# --- Versions -----------------------------------------------------------------------------------------------------
def _versions_refresh(*, model: AIModel, listing: ProviderListing, mirror: User) -> None:
    """Add and make default a new version when the provider's version changed (Replicate), or when the listing
    has no default version at all."""
    default = model.versions.filter(is_default=True).first()
    if default is not None and (
        not listing.version_id or default.runtime.get("version_id") == listing.version_id
    ):
        return
    newest = model.versions.order_by("-major", "-minor", "-patch").first()
    number = f"{newest.major}.{newest.minor}.{newest.patch + 1}" if newest else "1.0.0"
    version = _version_add(model=model, listing=listing, mirror=mirror, version=number)
    version_set_default(actor=mirror, version=version)


def _version_add(*, model: AIModel, listing: ProviderListing, mirror: User, version: str) -> ModelVersion:
    changelog = (
        f"Provider version {listing.version_id}"
        + (f", published {listing.external_updated_at:%Y-%m-%d}" if listing.external_updated_at else "")
        + "."
        if listing.version_id
        else "Mirrored from the provider."
    )
    created = version_create(
        actor=mirror,
        model=model,
        version=version,
        changelog=changelog,
        input_schema=listing.input_schema,
        output_schema=listing.output_schema,
        runtime=listing.runtime,
    )
    return version_publish(actor=mirror, version=created)


def _free_slug(source: str, external_id: str, *, attempt: int) -> str:
    """`owner-name` from the provider id; if taken, with the source appended, then a number."""
    base = (
        slugify(external_id.replace("/", "-").replace(".", "-").replace("_", "-"))[:100].strip("-") or "model"
    )
    candidates = [base, f"{base}-{SLUG_SUFFIXES[Source(source)]}"]
    taken = set(AIModel.objects.filter(slug__startswith=base).values_list("slug", flat=True))
    free = [slug for slug in candidates if slug not in taken]
    number = 2
    while len(free) <= attempt:
        candidate = f"{candidates[1]}-{number}"
        if candidate not in taken:
            free.append(candidate)
        number += 1
    slug = free[attempt]
    assert SLUG.match(slug), slug
    return slug
