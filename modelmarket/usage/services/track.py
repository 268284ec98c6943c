"""Calls a creator's self-hosted model served, reported to `POST /usage/track`: checked, then recorded like the
gateway's own events (`record.usage_events_record`), without a buyer."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils import timezone

from modelmarket.accounts.models import User
from modelmarket.catalog.models import AIModel
from modelmarket.catalog.selectors.models import model_get_for_editing, versions_visible_to
from modelmarket.core.exceptions import NotFound, ValidationFailed
from modelmarket.usage.events import UsageRecord, UsageSource, UsageStatus
from modelmarket.usage.services.record import usage_events_record

TRACK_MAX_AGE = timedelta(days=7)
TRACK_CLOCK_SKEW = timedelta(minutes=5)
TRACK_MAX_TOKENS = 100_000_000
TRACK_MAX_LATENCY_MS = 3_600_000
TRACK_DEFAULT_HTTP_STATUS = {
    UsageStatus.SUCCEEDED: 200,
    UsageStatus.ACCEPTED: 202,
    UsageStatus.INVALID_INPUT: 400,
    UsageStatus.REJECTED: 429,
    UsageStatus.UPSTREAM_ERROR: 502,
    UsageStatus.TIMEOUT: 504,
    UsageStatus.CLIENT_DISCONNECTED: 499,
    UsageStatus.SERVER_ERROR: 500,
}


@dataclass(frozen=True, slots=True)
class TrackedCall:
    """One call a creator's self-hosted model served, as reported to `/usage/track`."""

    event_id: str
    status: str
    started_at: datetime
    latency_ms: int
    input_tokens: int = 0
    output_tokens: int = 0
    compute_ms: int = 0
    ttfb_ms: int | None = None
    version: str | None = None
    http_status: int | None = None
    error_code: str = ""
    stream: bool = False
    request_id: str = ""


@dataclass(frozen=True)
class TrackResult:
    model: AIModel
    received: int
    recorded: int


def _invalid(index: int, code: str, message: str, field: str) -> ValidationFailed:
    return ValidationFailed(
        f"events[{index}]: {message}", code=code, details={"index": index, "field": field}
    )


def _tracked_call_check(index: int, call: TrackedCall, now: datetime) -> None:
    """Range checks the schema cannot express, each with its own stable code."""
    if not call.event_id or len(call.event_id) > 100 or not call.event_id.isprintable():
        raise _invalid(
            index, "invalid_event_id", "event_id must be 1 to 100 printable characters.", "event_id"
        )
    if call.status not in UsageStatus.values:
        raise _invalid(index, "invalid_status", f"status must be one of {UsageStatus.values}.", "status")
    for field in ("input_tokens", "output_tokens"):
        if not 0 <= getattr(call, field) <= TRACK_MAX_TOKENS:
            raise _invalid(index, "invalid_tokens", f"{field} must be 0 to {TRACK_MAX_TOKENS}.", field)
    for field in ("latency_ms", "compute_ms", "ttfb_ms"):
        value = getattr(call, field)
        if value is not None and not 0 <= value <= TRACK_MAX_LATENCY_MS:
            raise _invalid(index, "invalid_latency", f"{field} must be 0 to {TRACK_MAX_LATENCY_MS}.", field)
    if call.ttfb_ms is not None and call.ttfb_ms > call.latency_ms:
        raise _invalid(index, "invalid_latency", "ttfb_ms cannot exceed latency_ms.", "ttfb_ms")
    if call.http_status is not None and not 100 <= call.http_status <= 599:
        raise _invalid(index, "invalid_http_status", "http_status must be 100 to 599.", "http_status")
    if timezone.is_naive(call.started_at):
        raise _invalid(
            index, "timestamp_without_timezone", "started_at needs a UTC offset (e.g. Z).", "started_at"
        )
    if call.started_at > now + TRACK_CLOCK_SKEW:
        raise _invalid(index, "timestamp_in_future", "started_at is in the future.", "started_at")
    if call.started_at < now - TRACK_MAX_AGE:
        raise _invalid(
            index, "timestamp_too_old", f"started_at is older than {TRACK_MAX_AGE.days} days.", "started_at"
        )


def _tracked_versions(actor: User, model: AIModel, calls: Sequence[TrackedCall]) -> dict[str, int]:
    names = {call.version for call in calls if call.version}
    if not names:
        return {}
    found = dict(
        versions_visible_to(viewer=actor, model=model).filter(version__in=names).values_list("version", "pk")
    )
    for index, call in enumerate(calls):
        if call.version and call.version not in found:
            raise _invalid(
                index, "unknown_version", f"{model.slug} has no version {call.version}.", "version"
            )
    return found


def usage_events_track(
    *, actor: User, model_slug: str, calls: Sequence[TrackedCall], now: datetime | None = None
) -> TrackResult:
    """Record calls a creator's self-hosted model served. Only the listing's creator (or catalog staff) may report
    for it: a listing the actor cannot see is NotFound, someone else's is PermissionDenied. All calls are checked
    before anything is written (one bad call: nothing recorded). Tracked calls have no buyer: they count in the
    creator's analytics, not in anyone's usage, quota or `call_count`. Resending an event_id is harmless."""
    model = model_get_for_editing(actor=actor, slug=model_slug)
    if model.deleted_at is not None:
        raise NotFound("No such model.", code="model_not_found")
    now = now or timezone.now()
    for index, call in enumerate(calls):
        _tracked_call_check(index, call, now)
    versions = _tracked_versions(actor, model, calls)
    records = [
        UsageRecord(
            model_id=model.pk,
            status=call.status,
            started_at=call.started_at,
            source=UsageSource.TRACK,
            event_id=call.event_id,
            version_id=versions.get(call.version or ""),
            provider="self_hosted",
            http_status=call.http_status or TRACK_DEFAULT_HTTP_STATUS[UsageStatus(call.status)],
            error_code=call.error_code,
            input_tokens=call.input_tokens,
            output_tokens=call.output_tokens,
            tokens_reported=True,
            compute_ms=call.compute_ms,
            ttfb_ms=call.ttfb_ms,
            latency_ms=call.latency_ms,
            stream=call.stream,
            request_id=call.request_id,
        )
        for call in calls
    ]
    recorded = usage_events_record(records=records)
    return TrackResult(model=model, received=len(calls), recorded=recorded)
