"""What the gateway hands to metering: one `UsageRecord` per call that reached it, whatever its outcome.

Plain data (no ORM), so the gateway builds them on the hot path and `usage.services.record.usage_events_record` writes
them in batches."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime

from django.db import models


class UsageStatus(models.TextChoices):
    SUCCEEDED = "succeeded", "Succeeded"
    ACCEPTED = "accepted", "Accepted (long job started)"
    INVALID_INPUT = "invalid_input", "Invalid input"
    REJECTED = "rejected", "Rejected (auth, entitlement, limit or quota)"
    UPSTREAM_ERROR = "upstream_error", "Provider error"
    TIMEOUT = "timeout", "Timed out"
    CLIENT_DISCONNECTED = "client_disconnected", "Client disconnected"
    SERVER_ERROR = "server_error", "Server error (the gateway's own fault, not the model's)"


def is_charged(status: str, *, output_tokens: int) -> bool:
    """Whether a call that ended with `status` pays for what it used: failed calls cost nothing, except an answer
    that broke off after some output (it costs what was delivered); a caller who went away pays for what ran."""
    return status in (UsageStatus.SUCCEEDED, UsageStatus.CLIENT_DISCONNECTED) or (
        status == UsageStatus.UPSTREAM_ERROR and output_tokens > 0
    )


class UsageSource(models.TextChoices):
    API = "api", "API"
    PLAYGROUND = "playground", "Playground"
    TRACK = "track", "Reported by the creator (/usage/track)"


@dataclass(slots=True)
class UsageRecord:
    model_id: int
    status: str
    started_at: datetime
    source: str = UsageSource.API
    event_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    user_id: int | None = None
    api_key_id: int | None = None
    version_id: int | None = None
    provider: str = ""
    http_status: int = 200
    error_code: str = ""
    input_tokens: int = 0
    output_tokens: int = 0
    tokens_reported: bool = False
    compute_ms: int = 0
    ttfb_ms: int | None = None
    latency_ms: int = 0
    cost_minor: int = 0
    currency: str = "USD"
    stream: bool = False
    request_id: str = ""
