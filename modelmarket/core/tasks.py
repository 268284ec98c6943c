from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.utils import timezone
from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from modelmarket.core.email import email_message_from_data

logger = logging.getLogger(__name__)


@db_task(retries=5, retry_delay=30)
def email_send(data: dict[str, object]) -> None:
    message = email_message_from_data(data)
    message.send(fail_silently=False)
    logger.info(
        "email sent", extra={"subject": message.subject, "recipient_count": len(message.recipients())}
    )


@db_periodic_task(crontab(minute="*/10"))
def housekeeping_purge_expired() -> None:
    """Drop rate-limit windows long closed and idempotency records past their replay horizon; refresh the query
    planner's statistics on SQLite."""
    from modelmarket.core.db import planner_statistics_refresh
    from modelmarket.core.models import IdempotencyRecord, RateLimitCounter

    now = timezone.now()
    RateLimitCounter.objects.filter(window_start__lt=int(now.timestamp()) - 3600).delete()
    IdempotencyRecord.objects.filter(
        created_at__lt=now - timedelta(hours=settings.IDEMPOTENCY_KEY_TTL_HOURS)
    ).delete()
    planner_statistics_refresh()
