"""Metering storage: raw usage events (kept for `USAGE_EVENT_RETENTION_DAYS`) and the rollups every read uses.

The rollups are maintained incrementally by `services.usage_events_record`, in the same transaction that inserts the
raw events, counting only the events actually inserted (a retried batch adds nothing). Reads never touch raw
events. Each rollup's key is its composite primary key (no surrogate id: one index less to maintain per upsert),
NOT NULL so it works as the `ON CONFLICT` target on SQLite and PostgreSQL alike: "no API key" and "no version" are
stored as 0 (those columns are plain integers, not foreign keys, for that reason; a rollup outlives the key or
version it counts).

The per-caller rollups' keys start with the hour or day, not the user: a batch's upserts then land in the current
hour's and day's part of the index instead of anywhere in a table that grows for ever, so the pages a batch dirties
stay few and hot in cache. Reads by caller name every hour or day of their range (`hour IN (...) AND user_id = ?`),
one index seek each.

Counters, everywhere:
- `requests`: calls that were not rejected (every status but `rejected`); what quotas and `call_count` count;
- `succeeded`: `succeeded` and `accepted` calls; latency sums and histograms cover these only;
- `errors`: the model's failures (`upstream_error`, `timeout`); the creator's error rate is errors / requests;
- `rejected`: refused before reaching the model (auth, entitlement, rate limit or quota)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from modelmarket.usage.events import UsageSource, UsageStatus


class UsageEvent(models.Model):
    """One metered call as the gateway saw it, or as a creator reported it (`POST /usage/track`). Append-only.

    An event is identified by its `event_id` with its model, source and start time: a resent event (a retried
    gateway flush, a client resending a report) carries all four unchanged and is skipped; a creator's ids never
    collide with another creator's (different models) nor with the gateway's (different source). The start time
    leads the key so that new events land at the end of its index instead of on random pages all over it (a
    few pages written per batch instead of one per event), and the retention job deletes by the same index.

    The model (beyond the key), user, key and version columns carry no index of their own, for the same reason
    (one random page per event each), and no database-level foreign key constraint: on PostgreSQL each would run a
    lookup per event inserted, and on both databases a scan of this table per parent row deleted. Integrity comes
    from `usage_events_record`, which drops or clears references to rows that no longer exist before inserting,
    and from Django's on_delete (PROTECT the listing, SET NULL the rest), whose rare check scans the events (kept
    to the retention window) once."""

    event_id = models.CharField(max_length=100)
    source = models.CharField(max_length=16, choices=UsageSource.choices)
    # PROTECT: a listing with metered calls is never hard-deleted (the catalog soft-deletes) while its raw events,
    # the evidence behind charges, are kept.
    model = models.ForeignKey(
        "catalog.AIModel", on_delete=models.PROTECT, related_name="+", db_index=False, db_constraint=False
    )
    version = models.ForeignKey(
        "catalog.ModelVersion",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    api_key = models.ForeignKey(
        "accounts.ApiKey",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    status = models.CharField(max_length=24, choices=UsageStatus.choices)
    started_at = models.DateTimeField()
    provider = models.CharField(max_length=40, blank=True)
    http_status = models.PositiveSmallIntegerField(default=200)
    error_code = models.CharField(max_length=64, blank=True)
    input_tokens = models.PositiveBigIntegerField(default=0)
    output_tokens = models.PositiveBigIntegerField(default=0)
    tokens_reported = models.BooleanField(
        default=False, help_text="True when the provider reported the token counts (else estimated)."
    )
    compute_ms = models.PositiveBigIntegerField(default=0)
    ttfb_ms = models.PositiveIntegerField(null=True, blank=True)
    latency_ms = models.PositiveIntegerField(default=0)
    cost_minor = models.PositiveBigIntegerField(default=0)
    currency = models.CharField(max_length=10, default="USD")
    stream = models.BooleanField(default=False)
    request_id = models.CharField(max_length=100, blank=True)
    recorded_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["started_at", "model", "source", "event_id"],
                name="usageevent_unique_start_model_event",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.source}:{self.event_id} {self.status}"


class UsageCounters(models.Model):
    """The counters every per-caller rollup carries (see the module docstring)."""

    requests = models.PositiveBigIntegerField(default=0)
    succeeded = models.PositiveBigIntegerField(default=0)
    errors = models.PositiveBigIntegerField(default=0)
    rejected = models.PositiveBigIntegerField(default=0)
    input_tokens = models.PositiveBigIntegerField(default=0)
    output_tokens = models.PositiveBigIntegerField(default=0)
    compute_ms = models.PositiveBigIntegerField(default=0)
    cost_minor = models.PositiveBigIntegerField(default=0)
    latency_ms_sum = models.PositiveBigIntegerField(default=0, help_text="Of succeeded calls.")

    class Meta:
        abstract = True


class UsageHourly(UsageCounters):
    """A caller's usage per hour (UTC), model, version, API key and currency. Serves `/usage/stats?granularity=hour`.
    Only calls made by a known user are counted here (tracked calls of self-hosted models have no buyer)."""

    hour = models.DateTimeField()
    user_id = models.BigIntegerField()
    model = models.ForeignKey("catalog.AIModel", on_delete=models.CASCADE, related_name="+", db_index=False)
    api_key_id = models.BigIntegerField(help_text="0: no API key (browser playground).")
    version_id = models.BigIntegerField(help_text="0: no version recorded.")
    currency = models.CharField(max_length=10)

    pk = models.CompositePrimaryKey("hour", "user_id", "model", "api_key_id", "version_id", "currency")

    def __str__(self) -> str:
        return f"user {self.user_id} model {self.model_id} @ {self.hour:%Y-%m-%d %H}h: {self.requests}"


class UsageDaily(UsageCounters):
    """A caller's usage per day (UTC), model, API key and currency. Serves `/usage/stats?granularity=day` and
    `/usage/summary` (a month is at most 31 rows per model and key, whatever the traffic)."""

    day = models.DateField()
    user_id = models.BigIntegerField()
    model = models.ForeignKey("catalog.AIModel", on_delete=models.CASCADE, related_name="+", db_index=False)
    api_key_id = models.BigIntegerField(help_text="0: no API key (browser playground).")
    currency = models.CharField(max_length=10)

    pk = models.CompositePrimaryKey("day", "user_id", "model", "api_key_id", "currency")

    def __str__(self) -> str:
        return f"user {self.user_id} model {self.model_id} @ {self.day}: {self.requests}"


MODEL_DAILY_COUNTERS = (
    "requests",
    "succeeded",
    "errors",
    "rejected",
    "input_tokens",
    "output_tokens",
    "compute_ms",
    "latency_ms_sum",
)


class ModelUsageDaily(models.Model):
    """A listing's traffic per day (UTC), every caller and source together. Serves `/creator/analytics`."""

    day = models.DateField()
    model = models.ForeignKey("catalog.AIModel", on_delete=models.CASCADE, related_name="+", db_index=False)
    requests = models.PositiveBigIntegerField(default=0)
    succeeded = models.PositiveBigIntegerField(default=0)
    errors = models.PositiveBigIntegerField(default=0)
    rejected = models.PositiveBigIntegerField(default=0)
    input_tokens = models.PositiveBigIntegerField(default=0)
    output_tokens = models.PositiveBigIntegerField(default=0)
    compute_ms = models.PositiveBigIntegerField(default=0)
    latency_ms_sum = models.PositiveBigIntegerField(default=0, help_text="Of succeeded calls.")

    pk = models.CompositePrimaryKey("model", "day")

    class Meta:
        # Covering: a creator's range is read from this index alone (no lookup per row into the table).
        indexes = [
            models.Index(fields=["model", "day", *MODEL_DAILY_COUNTERS], name="modelusagedaily_covering_idx")
        ]

    def __str__(self) -> str:
        return f"model {self.model_id} @ {self.day}: {self.requests}"


class ModelLatencyDaily(models.Model):
    """How many succeeded calls of a listing fell in each latency bucket per day (`latency.py` defines the fixed log
    scale: 4 buckets per doubling, so a percentile read from it is within about 9% of the true value)."""

    day = models.DateField()
    model = models.ForeignKey("catalog.AIModel", on_delete=models.CASCADE, related_name="+", db_index=False)
    bucket = models.PositiveSmallIntegerField()
    count = models.PositiveBigIntegerField(default=0)

    pk = models.CompositePrimaryKey("model", "day", "bucket")

    class Meta:
        # Covering, as for ModelUsageDaily: percentiles over a range read this index alone.
        indexes = [
            models.Index(fields=["model", "day", "bucket", "count"], name="modellatencydaily_covering_idx")
        ]

    def __str__(self) -> str:
        return f"model {self.model_id} @ {self.day} bucket {self.bucket}: {self.count}"


BUYER_WINDOW_DAYS = 60


class ModelBuyerDays(models.Model):
    """On which days of a 60-day window a user made non-rejected calls to a listing: bit `d` of `days` stands for
    day number `window * 60 + d` (days since 1970-01-01, UTC). Unique buyers over any range of days is a count of
    the rows whose bits meet the range: one row per buyer and window (a 30-day range reads at most two per buyer)
    instead of one per buyer and day. 60 bits keep the mask a positive signed 64-bit integer everywhere."""

    model = models.ForeignKey("catalog.AIModel", on_delete=models.CASCADE, related_name="+", db_index=False)
    window = models.PositiveIntegerField()
    user_id = models.BigIntegerField()
    days = models.BigIntegerField(help_text="A bit per day of the window.")

    pk = models.CompositePrimaryKey("model", "window", "user_id")

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(user_id__gt=0), name="modelbuyerdays_user_known"),
            models.CheckConstraint(
                condition=Q(days__gt=0, days__lt=2**BUYER_WINDOW_DAYS), name="modelbuyerdays_days_in_window"
            ),
        ]

    def __str__(self) -> str:
        return f"model {self.model_id} window {self.window}: user {self.user_id} {self.days:#x}"
