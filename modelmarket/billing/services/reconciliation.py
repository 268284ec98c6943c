"""Repair what webhooks missed, and the staff's hands on payments.

`payments_reconcile` reads back from Helio, for every active pay link, the transactions since it was last
reconciled and (for subscription pay links) its subscriptions, and feeds whatever we have not recorded through the
same code the webhooks use: `payments.payment_record` for payments, the renewal and ending paths of
`services/subscriptions/` for subscriptions. Everything it calls is idempotent per Helio transaction id, so a
run that overlaps a late webhook, or a second run, repairs nothing twice. A pay link whose reading fails (Helio
down, a bad answer) is logged and counted, keeps its `reconciled_until`, and is read again next time; the
others go on.

Staff: `webhook_event_replay` runs a stored webhook event's processing again; `payment_resolve` closes the review
of a parked payment with a note."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from modelmarket.accounts.models import User
from modelmarket.billing.gateways.helio.client import HelioClient
from modelmarket.billing.gateways.helio.payloads import HelioSubscription, HelioTransaction
from modelmarket.billing.models import (
    Entitlement,
    HelioPaylink,
    Payment,
    PaymentGateway,
    PaymentMatch,
    PlanKind,
    WebhookEvent,
    WebhookStatus,
)
from modelmarket.billing.selectors.reconciliation import PARKED, staff_required
from modelmarket.billing.services import subscriptions
from modelmarket.core.exceptions import Conflict, NotFound, ValidationFailed

logger = logging.getLogger(__name__)

FIRST_WINDOW = timedelta(days=1)  # a pay link never reconciled is read from a day before it was created
NOTE_MAX_LENGTH = 200
REVIEW_REASON_MAX_LENGTH = 300


def helio_client() -> HelioClient:
    """The client reconciliation uses (tests pass their own to `payments_reconcile`)."""
    return HelioClient()


@dataclass(frozen=True, slots=True)
class ReconcileSummary:
    paylinks: int  # pay links read successfully
    checked: int  # transactions and subscriptions looked at
    repaired: int  # payments recorded, renewals booked, subscriptions linked or ended
    errors: int  # pay links whose reading or repair failed (logged; retried next run)


def payments_reconcile(*, client: HelioClient | None = None, now: datetime | None = None) -> ReconcileSummary:
    """Compare every active Helio pay link with what Helio says and repair the difference (module docstring)."""
    now = now or timezone.now()
    owned = client is None
    helio = client or helio_client()
    paylinks = checked = repaired = errors = 0
    try:
        for paylink in HelioPaylink.objects.filter(is_active=True).select_related("plan").order_by("pk"):
            try:
                looked_at, fixed = _paylink_reconcile(client=helio, paylink=paylink, now=now)
            except Exception:
                errors += 1
                logger.exception("reconciling Helio pay link %s failed", paylink.helio_id)
                continue
            paylinks, checked, repaired = paylinks + 1, checked + looked_at, repaired + fixed
    finally:
        if owned:
            helio.close()
    summary = ReconcileSummary(paylinks=paylinks, checked=checked, repaired=repaired, errors=errors)
    log = logger.warning if summary.repaired or summary.errors else logger.info
    log(
        "payments reconciled",
        extra={"paylinks": paylinks, "checked": checked, "repaired": repaired, "errors": errors},
    )
    return summary


def _paylink_reconcile(*, client: HelioClient, paylink: HelioPaylink, now: datetime) -> tuple[int, int]:
    since = paylink.reconciled_until or (paylink.created_at - FIRST_WINDOW)
    found = client.paylink_transactions(paylink.helio_id, since=since, until=now)
    is_subscription = paylink.plan is not None and paylink.plan.kind == PlanKind.SUBSCRIPTION
    helio_subscriptions = client.subscriptions(paylink_id=paylink.helio_id) if is_subscription else []
    # Helio lists a subscription's transactions oldest first: the first one started it, the others renewed it.
    renewals = {tx_id for sub in helio_subscriptions for tx_id in sub.transaction_ids[1:]}
    recorded = set(
        Payment.objects.filter(
            gateway=PaymentGateway.HELIO, provider_payment_id__in=[item.id for item in found]
        ).values_list("provider_payment_id", flat=True)
    )
    repaired = 0
    for item in found:
        if item.id in recorded or item.id in renewals:
            continue
        _payment_repair(item)
        repaired += 1
    by_id = {item.id: item for item in found}
    active_ids = {sub.id for sub in helio_subscriptions if sub.status.upper() == subscriptions.HELIO_ACTIVE}
    for helio_subscription in helio_subscriptions:
        repaired += _subscription_reconcile(
            helio_subscription=helio_subscription, by_id=by_id, active_ids=active_ids, now=now
        )
    HelioPaylink.objects.filter(pk=paylink.pk).update(reconciled_until=now, updated_at=timezone.now())
    return len(found) + len(helio_subscriptions), repaired


@transaction.atomic
def _payment_repair(item: HelioTransaction) -> None:
    from modelmarket.billing.services.payments import payment_record

    logger.warning("recording Helio transaction %s that no webhook delivered", item.id)
    payment_record(gateway=PaymentGateway.HELIO, transaction=item, event=None)


@transaction.atomic
def _subscription_reconcile(
    *,
    helio_subscription: HelioSubscription,
    by_id: dict[str, HelioTransaction],
    active_ids: set[str],
    now: datetime,
) -> int:
    """Link, renew and end one Helio subscription's entitlement as its webhooks would have. Returns the number
    of repairs made."""
    repaired = 0
    subscription_id, is_active = helio_subscription.id, helio_subscription.id in active_ids
    entitlement = (
        Entitlement.objects.select_for_update(of=("self",))
        .select_related("plan", "model", "buyer")
        .filter(helio_subscription_id=subscription_id)
        .first()
    )
    if entitlement is None:
        entitlement = subscriptions.entitlement_for_payments(list(helio_subscription.transaction_ids))
        if entitlement is None:
            return _unplaced_renewals_record(helio_subscription=helio_subscription, by_id=by_id)
        if is_active and entitlement.helio_subscription_id not in active_ids:
            subscriptions.subscription_link(entitlement=entitlement, subscription_id=subscription_id)
            repaired += 1
    for transaction_id in helio_subscription.transaction_ids[1:]:
        item = by_id.get(transaction_id)
        if item is not None and _renewal_missing(item):
            subscriptions.subscription_renewal_record(entitlement=entitlement, found=item, now=now)
            repaired += 1
    if (
        not is_active
        and helio_subscription.status.upper() == subscriptions.HELIO_EXPIRED
        and entitlement.helio_subscription_id == subscription_id
    ):
        repaired += subscriptions.subscription_end(entitlement=entitlement, now=now)
    return repaired


def _unplaced_renewals_record(
    *, helio_subscription: HelioSubscription, by_id: dict[str, HelioTransaction]
) -> int:
    """No entitlement here fits the subscription (its first payment was parked, or never reached us): its renewal
    payments are still recorded — parked for staff by `payment_record` — so no money goes unseen."""
    logger.warning("Helio subscription %s fits no entitlement here", helio_subscription.id)
    repaired = 0
    for transaction_id in helio_subscription.transaction_ids[1:]:
        item = by_id.get(transaction_id)
        if (
            item is not None
            and not Payment.objects.filter(gateway=PaymentGateway.HELIO, provider_payment_id=item.id).exists()
        ):
            _payment_repair(item)
            repaired += 1
    return repaired


def _renewal_missing(item: HelioTransaction) -> bool:
    existing = Payment.objects.filter(gateway=PaymentGateway.HELIO, provider_payment_id=item.id).first()
    return existing is None or subscriptions.renewal_payment_adoptable(existing, item)


# --- Staff actions ------------------------------------------------------------------------------------------------
def webhook_event_replay(*, actor: User, event_id: int) -> WebhookEvent:
    """Run a stored webhook event's processing again (staff only; anyone else gets NotFound): it is set back to
    received and processed now, by the same idempotent code as a delivery. Returns it as processing left it."""
    staff_required(actor)
    with transaction.atomic():
        event = WebhookEvent.objects.select_for_update().filter(pk=event_id).first()
        if event is None:
            raise NotFound("No such webhook event.", code="webhook_event_not_found")
        WebhookEvent.objects.filter(pk=event.pk).update(status=WebhookStatus.RECEIVED, next_attempt_at=None)
    logger.info("webhook event replayed by staff", extra={"event_id": event_id, "actor_id": actor.pk})
    from modelmarket.billing.services.webhooks import webhook_event_process

    try:
        webhook_event_process(event_id=event_id)
    except Exception:
        # The processor records its own failures on the event; this is only for one that escaped it.
        logger.exception("replaying webhook event %s failed", event_id)
    return WebhookEvent.objects.get(pk=event_id)


@transaction.atomic
def payment_resolve(*, actor: User, payment_id: str, note: str) -> Payment:
    """Close staff review of a parked payment (unmatched or mismatch): match=resolved, with who and why kept in
    `review_reason` after the reason it was parked for. Staff only; anyone else gets NotFound."""
    staff_required(actor)
    note = " ".join(str(note or "").split())
    if not 1 <= len(note) <= NOTE_MAX_LENGTH:
        raise ValidationFailed(
            f"Say in 1 to {NOTE_MAX_LENGTH} characters how this payment was resolved.", code="invalid_note"
        )
    payment = Payment.objects.select_for_update().filter(public_id=payment_id).first()
    if payment is None:
        raise NotFound("No such payment.", code="payment_not_found")
    if payment.match not in PARKED:
        raise Conflict(
            "Only a parked payment (unmatched or mismatch) can be marked resolved.",
            code="payment_not_parked",
            details={"match": payment.match},
        )
    resolution = f"Resolved by {actor.email}: {note}"[:REVIEW_REASON_MAX_LENGTH]
    room = REVIEW_REASON_MAX_LENGTH - len(resolution) - len(" | ")
    parked_for = payment.review_reason[:room] if room > 0 else ""
    payment.review_reason = f"{parked_for} | {resolution}" if parked_for else resolution
    payment.match = PaymentMatch.RESOLVED
    payment.save(update_fields=["match", "review_reason", "updated_at"])
    logger.info("parked payment resolved", extra={"payment": payment.public_id, "actor_id": actor.pk})
    return payment
