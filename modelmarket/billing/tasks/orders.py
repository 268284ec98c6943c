"""Jobs of the checkout area: expiring unpaid orders, and refreshing Helio's currency ids."""

from __future__ import annotations

import logging

from django.conf import settings
from huey import crontab
from huey.contrib.djhuey import db_periodic_task, lock_task

from modelmarket.billing.gateways.helio.gateway import helio_client
from modelmarket.billing.services.currencies import currencies_refresh
from modelmarket.billing.services.orders import orders_expire

logger = logging.getLogger(__name__)


@db_periodic_task(crontab(minute="*"))
@lock_task("billing-orders-expire")
def orders_expire_task() -> None:
    """Every minute: pending orders past their expiry become expired."""
    expired = orders_expire()
    if expired:
        logger.info("orders expired", extra={"count": expired})


@db_periodic_task(crontab(minute="41", hour="3"))
@lock_task("billing-helio-currencies-refresh")
def helio_currencies_refresh_task() -> None:
    """Daily: Helio's currency ids for our currencies (only when Helio is configured)."""
    if not (settings.HELIO_PUBLIC_KEY and settings.HELIO_SECRET_KEY):
        return
    with helio_client() as client:
        result = currencies_refresh(client=client)
    if result.unknown or result.decimals_mismatch:
        logger.warning(
            "currencies Helio does not offer",
            extra={"unknown": result.unknown, "decimals_mismatch": result.decimals_mismatch},
        )
