from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from modelmarket.catalog.vocabulary import (
    FileFormat,
    ModelStatus,
    Pricing,
    Source,
    Task,
    ValidationStatus,
)
from modelmarket.core.models import TimestampedModel

# Published or deprecated, and not deleted: what the public may see (`catalog.selectors.models.public_models`).
PUBLIC_CONDITION = Q(status__in=[ModelStatus.PUBLISHED, ModelStatus.DEPRECATED], deleted_at__isnull=True)


class Tag(models.Model):
    slug = models.SlugField(max_length=50, unique=True)
    name = models.CharField(max_length=50)

    def __str__(self) -> str:
        return self.slug


class AIModel(TimestampedModel):
    """A listing: one AI model a creator offers, from uploaded files or a provider.

    `search_tags` and `creator_name` are copies kept by the services so the full-text index (an FTS5 table on
    SQLite, a generated tsvector on PostgreSQL; see migration 0002) covers tags and creator without joins."""

    slug = models.SlugField(max_length=120, unique=True)
    name = models.CharField(max_length=120)
    summary = models.CharField(max_length=300, blank=True)
    card_markdown = models.TextField(blank=True, max_length=100_000)
    task = models.CharField(max_length=32, choices=Task.choices, db_index=True)
    input_modalities = models.JSONField(default=list, blank=True)
    output_modalities = models.JSONField(default=list, blank=True)
    license = models.CharField(max_length=64, help_text="An SPDX license id, lower case.", db_index=True)
    commercial_use = models.BooleanField(default=False)
    tags = models.ManyToManyField(Tag, related_name="models", blank=True)
    creator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="ai_models")
    source = models.CharField(max_length=20, choices=Source.choices, default=Source.UPLOADED, db_index=True)
    external_id = models.CharField(
        max_length=200, blank=True, help_text="The provider's id, e.g. owner/name."
    )
    endpoint_url = models.URLField(blank=True, max_length=500, help_text="For OpenAI-compatible servers.")
    status = models.CharField(
        max_length=20, choices=ModelStatus.choices, default=ModelStatus.DRAFT, db_index=True
    )
    review_note = models.TextField(blank=True)
    featured = models.BooleanField(default=False)
    pricing = models.CharField(max_length=8, choices=Pricing.choices, default=Pricing.FREE, db_index=True)
    published_at = models.DateTimeField(null=True, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)

    # Counters, changed only by atomic F() updates.
    download_count = models.PositiveBigIntegerField(default=0)
    call_count = models.PositiveBigIntegerField(default=0)
    favorite_count = models.PositiveIntegerField(default=0)
    rating_average = models.DecimalField(max_digits=3, decimal_places=2, default=0)
    rating_count = models.PositiveIntegerField(default=0)
    trending_score = models.FloatField(default=0, help_text="Recomputed by a periodic job; higher is hotter.")

    # Denormalized for search (see the class docstring).
    search_tags = models.CharField(max_length=1000, blank=True, editable=False)
    creator_name = models.CharField(max_length=120, blank=True, editable=False)

    # Provider sync: what the provider last said, and which fields the creator changed since (never overwritten).
    external_data = models.JSONField(default=dict, blank=True)
    external_updated_at = models.DateTimeField(null=True, blank=True)
    synced_at = models.DateTimeField(null=True, blank=True)
    locally_edited_fields = models.JSONField(default=list, blank=True)

    class Meta:
        verbose_name = "AI model"
        permissions = [("moderate_aimodel", "Can review, hide and feature any model")]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "external_id"],
                condition=~Q(external_id=""),
                name="aimodel_unique_source_external_id",
            ),
            models.CheckConstraint(condition=Q(status__in=ModelStatus.values), name="aimodel_status_valid"),
            models.CheckConstraint(
                condition=Q(rating_average__gte=0) & Q(rating_average__lte=5), name="aimodel_rating_in_range"
            ),
            # Public listings always carry their publication time (the "newest" sort relies on it).
            models.CheckConstraint(
                condition=~Q(status__in=[ModelStatus.PUBLISHED, ModelStatus.DEPRECATED])
                | Q(published_at__isnull=False),
                name="aimodel_public_has_published_at",
            ),
            models.CheckConstraint(
                condition=Q(source="uploaded") | ~Q(external_id="") | ~Q(endpoint_url=""),
                name="aimodel_provider_source_has_target",
            ),
        ]
        # Each catalog sort walks its own index in order and stops after one page. Not partial indexes: SQLite
        # cannot match a partial index's WHERE against bound parameters, and most listings are public anyway.
        indexes = [
            *(
                models.Index(fields=[f"-{field}", "-id"], name=f"aimodel_sort_{name}_idx")
                for name, field in (
                    ("newest", "published_at"),
                    ("trending", "trending_score"),
                    ("downloads", "download_count"),
                    ("calls", "call_count"),
                    ("rating", "rating_average"),
                )
            ),
            models.Index(fields=["creator", "-updated_at"], name="aimodel_creator_updated_idx"),
        ]

    def __str__(self) -> str:
        return self.slug

    @property
    def is_public(self) -> bool:
        return self.deleted_at is None and self.status in (ModelStatus.PUBLISHED, ModelStatus.DEPRECATED)


class ModelVersion(TimestampedModel):
    """One semantic version of a model. Published versions are immutable: only deprecation changes them."""

    model = models.ForeignKey(AIModel, on_delete=models.CASCADE, related_name="versions")
    version = models.CharField(max_length=64)
    major = models.PositiveIntegerField(editable=False)
    minor = models.PositiveIntegerField(editable=False)
    patch = models.PositiveIntegerField(editable=False)
    prerelease = models.CharField(max_length=40, blank=True, editable=False)
    changelog = models.TextField(blank=True, max_length=20_000)
    is_default = models.BooleanField(default=False)
    published_at = models.DateTimeField(null=True, blank=True)
    deprecated_at = models.DateTimeField(null=True, blank=True)
    deprecation_note = models.CharField(max_length=500, blank=True)
    input_schema = models.JSONField(default=dict, blank=True)
    output_schema = models.JSONField(default=dict, blank=True)
    runtime = models.JSONField(
        default=dict,
        blank=True,
        help_text="How the gateway runs it: provider model id, ONNX input mapping...",
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["model", "version"], name="modelversion_unique_per_model"),
            models.UniqueConstraint(
                fields=["model"], condition=Q(is_default=True), name="modelversion_one_default_per_model"
            ),
        ]
        ordering = ["-major", "-minor", "-patch", "prerelease"]

    def __str__(self) -> str:
        return f"{self.model_id}@{self.version}"

    @property
    def is_published(self) -> bool:
        return self.published_at is not None


class ModelFile(TimestampedModel):
    version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="files")
    name = models.CharField(max_length=255)
    size_bytes = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    content_type = models.CharField(max_length=100, blank=True)
    storage_key = models.CharField(max_length=500, unique=True)
    file_format = models.CharField(max_length=16, choices=FileFormat.choices, default=FileFormat.OTHER)
    validation_status = models.CharField(
        max_length=16, choices=ValidationStatus.choices, default=ValidationStatus.PENDING, db_index=True
    )
    validation_report = models.JSONField(default=dict, blank=True)
    validated_at = models.DateTimeField(null=True, blank=True)
    download_count = models.PositiveBigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["version", "name"], name="modelfile_unique_name_per_version")
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.sha256[:12]})"
