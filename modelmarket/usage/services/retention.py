"""Retention: raw usage events are purged after a while; the rollups, which every usage API reads, stay."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction

from modelmarket.usage.models import UsageEvent

PURGE_CHUNK = 10_000


def usage_events_purge(*, started_before: datetime) -> int:
    """Delete raw events that started before `started_before`, oldest first, in chunks of short transactions (the
    gateway keeps writing meanwhile). Rollups are kept. Returns how many events were deleted."""
    deleted = 0
    while True:
        with transaction.atomic():
            ids = list(
                UsageEvent.objects.filter(started_at__lt=started_before)
                .order_by("started_at")
                .values_list("pk", flat=True)[:PURGE_CHUNK]
            )
            if not ids:
                return deleted
            count, _ = UsageEvent.objects.filter(pk__in=ids).delete()
        deleted += count
