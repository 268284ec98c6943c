"""Subscriptions and time passes over their lifetime: active → grace → expired, driven by Helio's subscription
events and by our own clock, with reminders before the end and the buyer's "cancel at period end".

Modules: `events` (Helio's subscription events and renewals: what each event does is told there), `lifecycle` (the
clock, reminders, the buyer's cancel and resume), `common` (what both use). The webhook processor calls
`subscription_event_apply` inside its transaction; reconciliation calls the same helpers."""

from modelmarket.billing.services.subscriptions.common import HELIO_ACTIVE, HELIO_EXPIRED, PARKED, RUNNING
from modelmarket.billing.services.subscriptions.events import (
    RENEWAL_ORDER_KEY,
    RenewalPrice,
    SubscriptionEventInvalid,
    SubscriptionNotReady,
    entitlement_for_payments,
    payload_transaction,
    renewal_payment_adoptable,
    subscription_event_apply,
    subscription_event_kind,
    subscription_link,
    subscription_renewal_record,
)
from modelmarket.billing.services.subscriptions.lifecycle import (
    PASS_REMINDER_WINDOWS,
    LifecycleSummary,
    entitlement_remind,
    reminder_window,
    subscription_cancel,
    subscription_end,
    subscription_resume,
    subscriptions_advance,
)

__all__ = [
    "HELIO_ACTIVE",
    "HELIO_EXPIRED",
    "PARKED",
    "PASS_REMINDER_WINDOWS",
    "RENEWAL_ORDER_KEY",
    "RUNNING",
    "LifecycleSummary",
    "RenewalPrice",
    "SubscriptionEventInvalid",
    "SubscriptionNotReady",
    "entitlement_for_payments",
    "entitlement_remind",
    "payload_transaction",
    "reminder_window",
    "renewal_payment_adoptable",
    "subscription_cancel",
    "subscription_end",
    "subscription_event_apply",
    "subscription_event_kind",
    "subscription_link",
    "subscription_renewal_record",
    "subscription_resume",
    "subscriptions_advance",
]
