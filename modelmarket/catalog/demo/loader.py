"""Load the demo catalog: upsert every demo listing by slug, idempotently.

A listing that does not exist is created through the catalog services (create, version, publish) as its
owner: the demo creator for the ONNX models, the provider's mirror account for provider listings. A listing that
exists is brought back in line with the demo data field by field, so a second run writes nothing; fields a creator
edited (`locally_edited_fields`) are left alone, and so are listings owned by someone else or taken over by provider
sync. Demo counters are written only when a listing is created: later, real downloads and favourites count.
Published versions are immutable, so a changed version (new version string) is added and made the default."""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from modelmarket.accounts.models import User
from modelmarket.catalog import storage as file_storage
from modelmarket.catalog.demo import listings, runnable
from modelmarket.catalog.models import AIModel, ModelFile, ModelVersion
from modelmarket.catalog.services.mirrors import mirror_account
from modelmarket.catalog.services.models import (
    model_create,
    model_publish,
    tag_slugs,
    tags_set,
    version_create,
    version_publish,
    version_set_default,
)
from modelmarket.catalog.services.stats import trending_scores_refresh
from modelmarket.catalog.validation import validate_file
from modelmarket.catalog.validation.result import ValidationResult
from modelmarket.catalog.vocabulary import Source

ONNX_CONTENT_TYPE = "application/octet-stream"
# Compared with the stored listing on every run; the rest is written only at creation.
SYNCED_FIELDS = (
    "name",
    "summary",
    "card_markdown",
    "task",
    "input_modalities",
    "output_modalities",
    "license",
    "commercial_use",
    "endpoint_url",
    "featured",
)


@dataclass(frozen=True)
class DemoFile:
    name: str
    content: bytes


@dataclass(frozen=True)
class DemoEntry:
    """One demo listing, in the shape the loader writes."""

    slug: str
    owner_source: str  # whose account owns it: "uploaded" means the demo creator
    fields: dict[str, Any]  # SYNCED_FIELDS values
    tags: tuple[str, ...]
    external_id: str
    version: str
    input_schema: dict[str, Any]
    output_schema: dict[str, Any]
    runtime: dict[str, Any]
    counters: dict[str, Any]
    files: tuple[DemoFile, ...] = ()


@dataclass
class LoadResult:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # owned by someone else or taken over by sync


def demo_entries() -> list[DemoEntry]:
    return [_runnable_entry(model) for model in runnable.RUNNABLE_MODELS] + [
        _listing_entry(listing) for listing in listings.all_listings()
    ]


def _runnable_entry(model: runnable.RunnableModel) -> DemoEntry:
    inputs, outputs = runnable.modalities(model)
    return DemoEntry(
        slug=model.slug,
        owner_source=Source.UPLOADED,
        fields={
            "name": model.name,
            "summary": model.summary,
            "card_markdown": runnable.card_markdown(model),
            "task": model.task,
            "input_modalities": inputs,
            "output_modalities": outputs,
            "license": "mit",
            "commercial_use": True,
            "endpoint_url": "",
            "featured": model.featured,
        },
        tags=model.tags,
        external_id="",
        version=runnable.VERSION,
        input_schema=runnable.input_schema(model),
        output_schema=runnable.output_schema(model),
        runtime=runnable.runtime(model),
        counters=listings.demo_counters(slug=model.slug, popularity=2),
        files=(DemoFile(model.file_name, runnable.onnx_bytes(model)),),
    )


def _listing_entry(listing: listings.Listing) -> DemoEntry:
    inputs, outputs = listing.modalities()
    return DemoEntry(
        slug=listing.slug,
        owner_source=listing.source,
        fields={
            "name": listing.name,
            "summary": listing.summary,
            "card_markdown": listings.card_markdown(listing),
            "task": listing.task,
            "input_modalities": inputs,
            "output_modalities": outputs,
            "license": listing.license,
            "commercial_use": listing.commercial_use,
            "endpoint_url": listing.endpoint_url,
            "featured": listing.featured,
        },
        tags=listing.tags,
        external_id=listing.external_id,
        version="1.0.0",
        input_schema=listings.input_schema(listing),
        output_schema=listings.output_schema(listing),
        runtime=listings.runtime(listing),
        counters=listings.demo_counters(slug=listing.slug, popularity=listing.popularity),
    )


def demo_catalog_load(*, uploader: User) -> LoadResult:
    """Upsert the demo catalog in one transaction. `uploader` owns the runnable ONNX models (the demo creator).
    Files written to storage are removed again if the transaction fails."""
    result = LoadResult()
    with _storage_rollback() as saved_keys, transaction.atomic():
        owners: dict[str, User] = {Source.UPLOADED: uploader}
        entries = demo_entries()
        for source in {entry.owner_source for entry in entries} - {Source.UPLOADED}:
            owners[source] = mirror_account(source=source)
        existing = _existing_listings(entries)
        for entry in entries:
            outcome = _upsert(entry, owners[entry.owner_source], existing.get(entry.slug), saved_keys)
            getattr(result, outcome).append(entry.slug)
        if result.created:
            trending_scores_refresh()
    return result


@contextmanager
def _storage_rollback() -> Iterator[list[str]]:
    saved_keys: list[str] = []
    try:
        yield saved_keys
    except BaseException:
        for key in saved_keys:
            file_storage.delete_quietly(key)
        raise


def _existing_listings(entries: list[DemoEntry]) -> dict[str, AIModel]:
    """Stored listings matching the entries by slug or by (source, external id), keyed by the entry's slug."""
    by_external = Q()
    for entry in entries:
        if entry.external_id:
            by_external |= Q(source=entry.owner_source, external_id=entry.external_id)
    stored = list(AIModel.objects.filter(Q(slug__in=[entry.slug for entry in entries]) | by_external))
    found: dict[str, AIModel] = {}
    for entry in entries:
        for model in stored:
            same_provider_model = entry.external_id and (model.source, model.external_id) == (
                entry.owner_source,
                entry.external_id,
            )
            if model.slug == entry.slug or same_provider_model:
                found[entry.slug] = model
                break
    return found


def _upsert(entry: DemoEntry, owner: User, model: AIModel | None, saved_keys: list[str]) -> str:
    if model is None:
        _create(entry, owner, saved_keys)
        return "created"
    if model.creator_id != owner.pk or model.synced_at is not None:
        return "skipped"
    changed = _update_fields(entry, model)
    if not model.versions.filter(version=entry.version).exists():
        version = _create_version(entry, owner, model, saved_keys)
        version_set_default(actor=owner, version=version)
        changed = True
    return "updated" if changed else "unchanged"


def _create(entry: DemoEntry, owner: User, saved_keys: list[str]) -> AIModel:
    fields = entry.fields
    model = model_create(
        actor=owner,
        slug=entry.slug,
        name=fields["name"],
        task=fields["task"],
        license=fields["license"],
        summary=fields["summary"],
        card_markdown=fields["card_markdown"],
        input_modalities=fields["input_modalities"],
        output_modalities=fields["output_modalities"],
        commercial_use=fields["commercial_use"],
        tags=entry.tags,
        source=entry.owner_source,
        external_id=entry.external_id,
        endpoint_url=fields["endpoint_url"],
    )
    _create_version(entry, owner, model, saved_keys)
    model = model_publish(actor=owner, model=model)
    AIModel.objects.filter(pk=model.pk).update(featured=fields["featured"], **entry.counters)
    return model


def _create_version(entry: DemoEntry, owner: User, model: AIModel, saved_keys: list[str]) -> ModelVersion:
    version = version_create(
        actor=owner,
        model=model,
        version=entry.version,
        changelog="First release in the demo catalog.",
        input_schema=entry.input_schema,
        output_schema=entry.output_schema,
        runtime=entry.runtime,
    )
    for demo_file in entry.files:
        _store_onnx_file(version, demo_file, saved_keys)
    return version_publish(actor=owner, version=version)


def _update_fields(entry: DemoEntry, model: AIModel) -> bool:
    """Bring the stored listing in line with the demo data, except fields its creator edited. True if it wrote."""
    keep = set(model.locally_edited_fields)
    changes = {
        name: value
        for name, value in entry.fields.items()
        if name not in keep and getattr(model, name) != value
    }
    if changes:
        AIModel.objects.filter(pk=model.pk).update(**changes, updated_at=timezone.now())
    tags_differ = sorted(model.search_tags.split()) != sorted(tag_slugs(entry.tags))
    if "tags" not in keep and tags_differ:
        tags_set(model=model, tags=entry.tags)
    return bool(changes) or ("tags" not in keep and tags_differ)


def _store_onnx_file(version: ModelVersion, demo_file: DemoFile, saved_keys: list[str]) -> ModelFile:
    """Save the file in the model-file storage and record it with its hash and the validator's report (the same
    validation an upload gets, run here synchronously because the load is one transaction)."""
    key = f"demo/{version.model.slug}/{version.version}/{demo_file.name}"
    sha256 = hashlib.sha256(demo_file.content).hexdigest()
    if not _stored_file_matches(key, sha256):  # e.g. the database was reset but the files were kept
        key = file_storage.model_file_storage().save(key, ContentFile(demo_file.content))
        saved_keys.append(key)
    result = _validate(demo_file)
    return ModelFile.objects.create(
        version=version,
        name=demo_file.name,
        size_bytes=len(demo_file.content),
        sha256=sha256,
        content_type=ONNX_CONTENT_TYPE,
        storage_key=key,
        file_format=result.file_format,
        validation_status=result.status,
        validation_report=result.report(size_bytes=len(demo_file.content)),
        validated_at=timezone.now(),
    )


def _stored_file_matches(key: str, sha256: str) -> bool:
    if not file_storage.exists(key) or ModelFile.objects.filter(storage_key=key).exists():
        return False
    with file_storage.open_for_reading(key) as stored:
        return hashlib.sha256(stored.read()).hexdigest() == sha256


def _validate(demo_file: DemoFile) -> ValidationResult:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / demo_file.name
        path.write_bytes(demo_file.content)
        return validate_file(str(path), name=demo_file.name)
