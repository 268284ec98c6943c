"""Hourly: read Helio's pay-link transactions and subscriptions back and repair what webhooks missed
(`services/reconciliation.py::payments_reconcile`). Nothing to do while Helio is not configured."""

from __future__ import annotations

import logging

from django.conf import settings
from huey import crontab
from huey.contrib.djhuey import db_periodic_task, lock_task

from modelmarket.billing.services.reconciliation import payments_reconcile

logger = logging.getLogger(__name__)


@db_periodic_task(crontab(minute="23"))
@lock_task("billing-payments-reconcile")
def payments_reconcile_task() -> None:
    if not (settings.HELIO_PUBLIC_KEY and settings.HELIO_SECRET_KEY):
        logger.debug("payments reconciliation skipped: Helio is not configured")
        return
    payments_reconcile()
