"""Webhook jobs: process one stored delivery, and every minute re-run failed deliveries whose retry is due and
deliveries whose job was lost. Retries and backoff are the service's (`next_attempt_at`), not Huey's."""

from __future__ import annotations

import logging

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task, lock_task

from modelmarket.billing.services import webhooks as webhook_services

logger = logging.getLogger(__name__)


@db_task()
def webhook_event_process_task(event_id: int) -> None:
    webhook_services.webhook_event_process(event_id=event_id)


@db_periodic_task(crontab(minute="*"))
@lock_task("billing-webhook-events-retry")
def webhook_events_retry() -> None:
    count = webhook_services.webhook_events_process_due()
    if count:
        logger.info("webhook events re-run", extra={"count": count})
