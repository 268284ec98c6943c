from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from modelmarket.catalog.models import AIModel, ModelVersion
from modelmarket.core.models import TimestampedModel


class ListingGatewayConfig(TimestampedModel):
    """How the gateway reaches one listing beyond what its versions say: the creator's own upstream secret (kept
    encrypted, never returned by any API), an optional fallback version, and a tighter time limit."""

    model = models.OneToOneField(AIModel, on_delete=models.CASCADE, related_name="gateway_config")
    secret_encrypted = models.BinaryField(null=True, blank=True, editable=False)
    secret_hint = models.CharField(max_length=8, blank=True, help_text="The secret's last characters.")
    fallback_version = models.ForeignKey(
        ModelVersion,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="Called when the default version's upstream fails with a retryable error.",
    )
    timeout_seconds = models.PositiveIntegerField(null=True, blank=True)

    def __str__(self) -> str:
        return f"gateway config of {self.model_id}"


class InferenceJob(TimestampedModel):
    """A long call still running upstream (a Replicate prediction), answered 202 and polled by its public id (by
    the caller, and by the `inference_jobs_poll` job). Its one usage event is recorded when it ends."""

    class Status(models.TextChoices):
        STARTING = "starting"
        PROCESSING = "processing"
        SUCCEEDED = "succeeded"
        FAILED = "failed"
        CANCELED = "canceled"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    api_key = models.ForeignKey(
        "accounts.ApiKey", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    model = models.ForeignKey(AIModel, on_delete=models.CASCADE, related_name="+")
    version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="+")
    provider = models.CharField(max_length=32)
    provider_job_id = models.CharField(max_length=200)
    provider_urls = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.STARTING)
    output = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True)
    compute_ms = models.PositiveBigIntegerField(default=0)
    input_tokens = models.PositiveBigIntegerField(default=0)
    output_tokens = models.PositiveBigIntegerField(default=0)
    completed_at = models.DateTimeField(null=True, blank=True)
    # The call's metering, recorded as one usage event when the job ends (then its compute time is known).
    event_id = models.CharField(max_length=64, unique=True, null=True, blank=True, editable=False)
    source = models.CharField(max_length=16, blank=True)
    request_id = models.CharField(max_length=200, blank=True)
    # Pay as you go: the credit reserved for the call stays held while the job runs (its price, wallet, amount and
    # where it is held, `gateway.credit.JobReservation`); the job's cost is settled against it when it ends.
    reservation = models.JSONField(null=True, blank=True, editable=False)
    # The plan's token quota the job's tokens count against when it ends (`gateway.limits.TokenTally`), if any.
    token_tally = models.JSONField(null=True, blank=True, editable=False)
    cost_minor = models.PositiveBigIntegerField(default=0)
    currency = models.CharField(max_length=10, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=["starting", "processing", "succeeded", "failed", "canceled"]),
                name="inferencejob_status_valid",
            )
        ]

    def __str__(self) -> str:
        return f"{self.public_id} ({self.status})"

    @property
    def is_terminal(self) -> bool:
        return self.status in (self.Status.SUCCEEDED, self.Status.FAILED, self.Status.CANCELED)


class QuotaCounter(models.Model):
    """Requests or tokens used in one quota period, when no Redis is configured (Redis holds them otherwise).
    Changed only by atomic conditional upserts (`inference.gateway.limits`)."""

    bucket = models.CharField(max_length=200)
    period_start = models.BigIntegerField(help_text="Unix time (seconds) at which the period opened.")
    count = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["bucket", "period_start"], name="quotacounter_unique_bucket_period"
            )
        ]
        indexes = [models.Index(fields=["period_start"], name="quotacounter_period_idx")]

    def __str__(self) -> str:
        return f"{self.bucket}@{self.period_start}: {self.count}"
