"""Billing API: one router per area (`api/<area>.py`), mounted together under /api/v1/."""

from __future__ import annotations

from ninja import Router

from modelmarket.billing.api import (
    earnings,
    invoices,
    orders,
    plans,
    refunds,
    staff,
    subscriptions,
    wallet,
    webhooks,
)

router = Router()
for area in (plans, orders, wallet, webhooks, subscriptions, invoices, refunds, earnings, staff):
    router.add_router("/", area.router)
