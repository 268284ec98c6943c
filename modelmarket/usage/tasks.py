"""Metering jobs: raw usage events are deleted after `USAGE_EVENT_RETENTION_DAYS`; the rollups are kept."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.utils import timezone
from huey import crontab
from huey.contrib.djhuey import db_periodic_task, lock_task

from modelmarket.usage.services import retention

logger = logging.getLogger(__name__)


@db_periodic_task(crontab(minute="41", hour="*/6"))
@lock_task("usage-events-purge")
def usage_events_purge() -> None:
    """Delete raw events past the retention horizon, a chunk per transaction."""
    horizon = timezone.now() - timedelta(days=settings.USAGE_EVENT_RETENTION_DAYS)
    deleted = retention.usage_events_purge(started_before=horizon)
    if deleted:
        logger.info("usage events purged", extra={"count": deleted, "started_before": horizon.isoformat()})
