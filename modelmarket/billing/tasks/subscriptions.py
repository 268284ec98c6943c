"""The subscriptions clock: every five minutes, periods that ended enter grace or expire, grace that ran out
expires, and buyers whose access ends soon are reminded (`services.subscriptions.lifecycle.subscriptions_advance`)."""

from __future__ import annotations

import logging

from django.utils import timezone
from huey import crontab
from huey.contrib.djhuey import db_periodic_task, lock_task

from modelmarket.billing.services.subscriptions import subscriptions_advance

logger = logging.getLogger(__name__)


@db_periodic_task(crontab(minute="*/5"))
@lock_task("billing-subscriptions-advance")
def subscriptions_advance_task() -> None:
    summary = subscriptions_advance(now=timezone.now())
    if summary.graced or summary.expired or summary.reminded:
        logger.info(
            "subscriptions advanced",
            extra={"graced": summary.graced, "expired": summary.expired, "reminded": summary.reminded},
        )
