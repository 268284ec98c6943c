from __future__ import annotations

from django.db import models


class TimestampedModel(models.Model):
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class IdempotencyRecord(models.Model):
    """One write made under an `Idempotency-Key`. The response is kept encrypted: it may carry a secret shown once
    (a new API key), and a replay must return exactly what the first call returned."""

    owner = models.CharField(max_length=100, help_text="Whose key this is: user:<id> or api_key:<id>.")
    key = models.CharField(max_length=255)
    scope = models.CharField(max_length=200, help_text="Method and route the key was used on.")
    request_sha256 = models.CharField(max_length=64)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body_encrypted = models.BinaryField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["owner", "scope", "key"], name="idempotency_unique_owner_scope_key"
            )
        ]

    def __str__(self) -> str:
        return f"{self.owner} {self.scope} {self.key}"


class RateLimitCounter(models.Model):
    """A fixed-window request counter, used when no Redis is configured. Incremented by one atomic upsert."""

    bucket = models.CharField(max_length=200)
    window_start = models.BigIntegerField(help_text="Unix time (seconds) at which the window opened.")
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["bucket", "window_start"], name="ratelimit_unique_bucket_window")
        ]
        indexes = [models.Index(fields=["window_start"], name="ratelimit_window_idx")]

    def __str__(self) -> str:
        return f"{self.bucket}@{self.window_start}: {self.count}"


class CacheGeneration(models.Model):
    """A named counter bumped whenever data that processes cache in memory changes (`core.generation`); the
    processes poll it and drop their caches when it moves. Redis holds the counters instead when REDIS_URL is set."""

    name = models.CharField(max_length=50, unique=True)
    value = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.name}: {self.value}"
