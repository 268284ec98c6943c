"""Billing's background jobs, one module per area; imported here so Huey registers them all."""

from modelmarket.billing.tasks import orders, reconciliation, subscriptions, webhooks

__all__ = ["orders", "reconciliation", "subscriptions", "webhooks"]
