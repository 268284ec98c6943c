"""Retention: read notifications are deleted `NOTIFICATION_RETENTION_DAYS` after they were created; unread ones
are kept until read."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.utils import timezone
from huey import crontab
from huey.contrib.djhuey import db_periodic_task, lock_task

from modelmarket.notifications import services

logger = logging.getLogger(__name__)

NOTIFICATION_RETENTION_DAYS = 180


@db_periodic_task(crontab(minute="17", hour="4"))
@lock_task("notifications-purge")
def notifications_purge_read() -> None:
    """Daily: delete read notifications older than the retention horizon, a chunk per transaction."""
    horizon = timezone.now() - timedelta(days=NOTIFICATION_RETENTION_DAYS)
    deleted = services.notifications_purge(read_and_created_before=horizon)
    if deleted:
        logger.info("notifications purged", extra={"count": deleted, "created_before": horizon.isoformat()})
