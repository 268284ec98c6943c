"""Subscriptions and time passes over their lifetime: active → grace → expired, driven by Helio's subscription
events and by our own clock, with reminders before the end and the buyer's "cancel at period end".

Helio's subscription events (reference/helio.md) arrive as `STARTED`, `RENEWED`, `ENDED`,
`SUBSCRIPTION_PENDING_PAYMENT`, or with a `SUBSCRIPTION_` prefix; both spellings are accepted. The webhook
processor calls `subscription_event_apply` inside its transaction; reconciliation calls the same helpers.

- STARTED: the first payment is recorded by `payments.payment_record` (from the CREATED webhook, or from the
  STARTED's own `transactionObject` when no payment for it exists yet: a lost CREATED loses nothing); then the
  entitlement is linked to the Helio subscription id and its renewal link (`nextChargeUrl`).
- RENEWED: a renewal has no order of ours, so one is made here (paid, same buyer and plan, the price of the
  entitlement's last order), booked, invoiced, and the entitlement extended by one interval from its current end.
  Idempotent by Helio's transaction id: the Payment is unique per provider id and the renewal order per
  `helio-renewal:<transaction id>`. A renewal payment that `payment_record` had parked (its CREATED came first
  and fit no open order) is adopted, not recorded twice.
- An event for a subscription we cannot place yet (RENEWED before STARTED, before the first payment was
  recorded) raises `SubscriptionNotReady`: the processor retries it later, when the STARTED has linked it.
- ENDED: expired now, unless the paid period has not ended yet (then it ends with the period, no grace).
- SUBSCRIPTION_PENDING_PAYMENT: the renewal link is stored and the buyer reminded, once per period end.
Modules: `events` (Helio's subscription events and renewals), `lifecycle` (the clock, reminders, the buyer's cancel
and resume), `common` (what both use)."""

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
