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
- SUBSCRIPTION_PENDING_PAYMENT: the renewal link is stored and the buyer reminded, once per period end."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q, QuerySet
from django.urls import reverse
from django.utils import timezone

from modelmarket.accounts.models import User
from modelmarket.billing.gateways.helio.client import (
    HelioResponseError,
    HelioTransaction,
    transaction_from_payload,
)
from modelmarket.billing.models import (
    Currency,
    Entitlement,
    EntitlementStatus,
    Order,
    OrderKind,
    OrderStatus,
    PassDuration,
    Payment,
    PaymentGateway,
    PaymentMatch,
    PaymentStatus,
    PlanKind,
    WebhookEvent,
    WebhookStatus,
)
from modelmarket.billing.money import format_money
from modelmarket.billing.selectors.subscriptions import (
    entitlement_get_for_buyer,
    entitlement_is_cancellable,
    renewal_url_is_safe,
)
from modelmarket.billing.services import accounting, entitlements, invoices
from modelmarket.billing.services.plans import plan_snapshot
from modelmarket.billing.services.webhooks import (
    ENDED,
    PENDING_PAYMENT,
    RENEWED,
    STARTED,
    SUBSCRIPTION_EVENTS,
    event_name_normalize,
)
from modelmarket.core.exceptions import BadRequest, Conflict
from modelmarket.notifications.models import NotificationKind
from modelmarket.notifications.services import notification_send

logger = logging.getLogger(__name__)

RUNNING = (EntitlementStatus.ACTIVE, EntitlementStatus.GRACE)
PARKED = (PaymentMatch.UNMATCHED, PaymentMatch.MISMATCH)
HELIO_ACTIVE, HELIO_EXPIRED = "ACTIVE", "EXPIRED"
RENEWAL_ORDER_KEY = "helio-renewal:{transaction_id}"
# How long before a time pass ends its holder is reminded. The hourly one is shorter than the pass itself, or the
# reminder would go out the moment the pass is bought.
PASS_REMINDER_WINDOWS = {
    PassDuration.HOUR: timedelta(minutes=15),
    PassDuration.DAY: timedelta(hours=6),
    PassDuration.WEEK: timedelta(days=1),
}


class SubscriptionNotReady(Conflict):
    """Nothing here matches the event yet (it came before the payment that starts the subscription was
    recorded, or before the STARTED that links it). Raised so the webhook processor retries it later."""

    default_code = "subscription_not_ready"
    default_message = "No entitlement matches this subscription event yet; it will be retried."


class SubscriptionEventInvalid(BadRequest):
    default_code = "subscription_event_invalid"
    default_message = "This subscription event cannot be used."


def subscription_event_kind(name: str) -> str | None:
    """The canonical subscription event (the webhook module's one mapping of both documented spellings): STARTED,
    RENEWED, ENDED or SUBSCRIPTION_PENDING_PAYMENT; None for anything else."""
    kind = event_name_normalize(name)
    return kind if kind in SUBSCRIPTION_EVENTS else None


# --- Helio's subscription events ----------------------------------------------------------------------------------
@transaction.atomic
def subscription_event_apply(
    *, event: WebhookEvent, payload: dict[str, Any], now: datetime | None = None
) -> Payment | None:
    """Apply one Helio subscription event (see the module docstring); returns the payment it recorded or
    concerns, if any. Raises `SubscriptionNotReady` when the event cannot be placed yet (retry later) and
    `SubscriptionEventInvalid` for a payload that never will be. An event with nothing to act on is marked
    ignored on `event` (in memory, with the reason in `last_error`) for the processor to save."""
    kind = subscription_event_kind(str(payload.get("event") or event.event))
    if kind is None:
        raise SubscriptionEventInvalid(f"{str(payload.get('event'))[:60]!r} is not a subscription event.")
    subscription_id = payload.get("subscriptionId")
    if not isinstance(subscription_id, str) or not subscription_id.strip() or len(subscription_id) > 60:
        raise SubscriptionEventInvalid(f"The {kind} event has no usable subscriptionId.")
    now = now or timezone.now()
    charge_url = payload.get("nextChargeUrl")
    charge_url = charge_url if isinstance(charge_url, str) and renewal_url_is_safe(charge_url) else ""
    if kind == STARTED:
        return _started(event=event, subscription_id=subscription_id, payload=payload, charge_url=charge_url)
    if kind == RENEWED:
        return _renewed(
            event=event, subscription_id=subscription_id, payload=payload, charge_url=charge_url, now=now
        )
    if kind == ENDED:
        _ended(event=event, subscription_id=subscription_id, payload=payload, now=now)
    else:
        _pending_payment(subscription_id=subscription_id, payload=payload, charge_url=charge_url, now=now)
    return None


def payload_transaction(payload: dict[str, Any], *, required: bool) -> HelioTransaction | None:
    """The event's transaction: `transactionObject`, else the `transaction` JSON string. A missing or malformed
    one raises SubscriptionEventInvalid when `required`, else reads as None."""
    raw = payload.get("transactionObject")
    if raw is None and isinstance(payload.get("transaction"), str):
        try:
            raw = json.loads(payload["transaction"])
        except (ValueError, RecursionError):
            raw = None
    if raw is None:
        if required:
            raise SubscriptionEventInvalid("The event carries no transaction.")
        return None
    try:
        return transaction_from_payload(raw)
    except HelioResponseError as error:
        if required:
            raise SubscriptionEventInvalid(
                f"The event's transaction cannot be read: {error.message}"
            ) from None
        return None


def _ignore(event: WebhookEvent, reason: str) -> None:
    event.status, event.last_error = WebhookStatus.IGNORED, reason


def _started(
    *, event: WebhookEvent, subscription_id: str, payload: dict[str, Any], charge_url: str
) -> Payment | None:
    found = payload_transaction(payload, required=False)
    payment = None
    if found is not None:
        payment = _payment_of(found.id)
        if payment is None:
            from modelmarket.billing.services.payments import payment_record

            payment = payment_record(gateway=PaymentGateway.HELIO, transaction=found, event=event)
        _event_link(event, payment)
    entitlement = _entitlement_for_event(subscription_id=subscription_id, found=found)
    if entitlement is None:
        # A first payment parked for staff, or one that failed: nothing started here, and retrying won't help.
        if payment is not None and (payment.match in PARKED or payment.status == PaymentStatus.FAILED):
            return payment
        raise SubscriptionNotReady(details={"subscription": subscription_id, "event": STARTED})
    subscription_link(entitlement=entitlement, subscription_id=subscription_id, charge_url=charge_url)
    return payment


def _renewed(
    *, event: WebhookEvent, subscription_id: str, payload: dict[str, Any], charge_url: str, now: datetime
) -> Payment:
    found = payload_transaction(payload, required=True)
    assert found is not None
    existing = _payment_of(found.id)
    if existing is not None and not renewal_payment_adoptable(existing, found):
        _event_link(event, existing)
        return existing
    entitlement = _entitlement_for_event(subscription_id=subscription_id, found=found)
    if entitlement is None:
        raise SubscriptionNotReady(details={"subscription": subscription_id, "event": RENEWED})
    if not entitlement.helio_subscription_id:
        subscription_link(entitlement=entitlement, subscription_id=subscription_id, charge_url=charge_url)
    elif charge_url and entitlement.helio_subscription_id == subscription_id:
        Entitlement.objects.filter(pk=entitlement.pk).update(next_charge_url=charge_url)
    payment = subscription_renewal_record(entitlement=entitlement, found=found, now=now)
    _event_link(event, payment)
    return payment


def _ended(*, event: WebhookEvent, subscription_id: str, payload: dict[str, Any], now: datetime) -> None:
    entitlement = _entitlement_for_event(subscription_id=subscription_id, found=None)
    if entitlement is None:
        # Not linked yet: only an unlinked entitlement reached through the order can be this subscription's.
        candidate = _entitlement_for_event(
            subscription_id=subscription_id, found=payload_transaction(payload, required=False)
        )
        entitlement = candidate if candidate and not candidate.helio_subscription_id else None
    if entitlement is None:
        _ignore(event, f"No entitlement here is linked to Helio subscription {subscription_id}.")
        return
    if not subscription_end(entitlement=entitlement, now=now):
        _ignore(event, f"Entitlement {entitlement.public_id} had already ended or was set to end.")


def _pending_payment(
    *, subscription_id: str, payload: dict[str, Any], charge_url: str, now: datetime
) -> None:
    entitlement = _entitlement_for_event(
        subscription_id=subscription_id, found=payload_transaction(payload, required=False)
    )
    if entitlement is None:
        raise SubscriptionNotReady(details={"subscription": subscription_id, "event": PENDING_PAYMENT})
    if not entitlement.helio_subscription_id or entitlement.helio_subscription_id == subscription_id:
        subscription_link(entitlement=entitlement, subscription_id=subscription_id, charge_url=charge_url)
    if entitlement.status in RUNNING and entitlement.ends_at is not None:
        entitlement_remind(entitlement=entitlement, now=now)


# --- Finding and linking ------------------------------------------------------------------------------------------
def _payment_of(transaction_id: str) -> Payment | None:
    return (
        Payment.objects.select_for_update()
        .filter(gateway=PaymentGateway.HELIO, provider_payment_id=transaction_id)
        .first()
    )


def _paid_order_of(found: HelioTransaction | None) -> Order | None:
    """The paid plan order named in the transaction's additionalJSON (`{"order": "ord_..."}`), if any."""
    reference = (found.additional_json or {}).get("order") if found is not None else None
    if not isinstance(reference, str) or not reference or len(reference) > 40:
        return None
    return Order.objects.filter(public_id=reference, kind=OrderKind.PLAN, status=OrderStatus.PAID).first()


def _entitlements_locked() -> QuerySet[Entitlement]:
    return Entitlement.objects.select_for_update(of=("self",)).select_related("plan", "model", "buyer")


def _entitlement_for_event(*, subscription_id: str, found: HelioTransaction | None) -> Entitlement | None:
    """The entitlement linked to the Helio subscription; else the one its transaction's paid order granted."""
    linked = _entitlements_locked().filter(helio_subscription_id=subscription_id).first()
    if linked is not None:
        return linked
    order = _paid_order_of(found)
    if order is None or order.plan_id is None:
        return None
    return _entitlements_locked().filter(buyer_id=order.buyer_id, plan_id=order.plan_id).first()


def entitlement_for_payments(transaction_ids: list[str]) -> Entitlement | None:
    """The entitlement granted by the paid order of any of these Helio transactions (reconciliation)."""
    order_ids = Payment.objects.filter(
        gateway=PaymentGateway.HELIO,
        provider_payment_id__in=transaction_ids,
        order__kind=OrderKind.PLAN,
        order__status=OrderStatus.PAID,
    ).values_list("order_id", flat=True)
    order = Order.objects.filter(pk__in=list(order_ids)).order_by("paid_at", "pk").first()
    if order is None or order.plan_id is None:
        return None
    return _entitlements_locked().filter(buyer_id=order.buyer_id, plan_id=order.plan_id).first()


def subscription_link(*, entitlement: Entitlement, subscription_id: str, charge_url: str = "") -> Entitlement:
    """Caller holds a transaction. Tie the entitlement to Helio's subscription (and its renewal link)."""
    fields = []
    if entitlement.helio_subscription_id != subscription_id:
        entitlement.helio_subscription_id = subscription_id
        fields.append("helio_subscription_id")
    if charge_url and charge_url != entitlement.next_charge_url:
        entitlement.next_charge_url = charge_url
        fields.append("next_charge_url")
    if fields:
        entitlement.save(update_fields=[*fields, "updated_at"])
    return entitlement


def _event_link(event: WebhookEvent | None, payment: Payment) -> None:
    if event is not None and event.pk and event.payment_id is None:
        WebhookEvent.objects.filter(pk=event.pk, payment__isnull=True).update(payment=payment)
        event.payment = payment


# --- Renewals -----------------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class RenewalPrice:
    currency: str
    amount_minor: int
    snapshot: dict[str, Any]


def _renewal_price(entitlement: Entitlement) -> RenewalPrice:
    """What a renewal costs: the price of the entitlement's last order (the plan's, if it has none)."""
    last = entitlement.last_order
    if last is not None and last.plan_id == entitlement.plan_id:
        return RenewalPrice(last.currency_id, last.amount_minor, dict(last.plan_snapshot))
    plan = entitlement.plan
    return RenewalPrice(plan.currency_id, plan.price_minor, plan_snapshot(plan))


def _renewal_key(found: HelioTransaction) -> str:
    return RENEWAL_ORDER_KEY.format(transaction_id=found.id)


def renewal_payment_adoptable(payment: Payment, found: HelioTransaction) -> bool:
    """Whether the renewal path should (still) book this recorded payment of a renewal transaction: it succeeds
    now, no renewal order exists for it, and it holds no order of its own — `payment_record` parked it (no order
    fits, or its order was already paid by another payment), or it was recorded pending or failed before."""
    from modelmarket.billing.services.payments import payment_status_from_helio

    if payment_status_from_helio(found.status) != PaymentStatus.SUCCEEDED:
        return False
    if (
        payment.match == PaymentMatch.RESOLVED
        or Order.objects.filter(idempotency_key=_renewal_key(found)).exists()
    ):
        return False
    if payment.order_id is None:
        return True
    return (
        Payment.objects.filter(order_id=payment.order_id, match=PaymentMatch.MATCHED)
        .exclude(pk=payment.pk)
        .exists()
    )


def subscription_renewal_record(
    *, entitlement: Entitlement, found: HelioTransaction, now: datetime
) -> Payment:
    """Caller holds a transaction and the entitlement's row. Record a renewal payment once per Helio transaction:
    a paid renewal order, the ledger booking, the extension by one interval from the current period end, the
    invoice and a notification. A pending or failed one is recorded only; one of the wrong amount or currency is
    parked for staff (match=mismatch) and extends nothing."""
    from modelmarket.billing.services.payments import helio_gross_base_units, payment_status_from_helio

    price = _renewal_price(entitlement)
    status = payment_status_from_helio(found.status)
    gross = helio_gross_base_units(found)  # base units: our minor units (payments.helio_base_units_to_minor)
    symbol = (found.currency_symbol or "").strip().upper()
    payment = _renewal_payment(entitlement=entitlement, found=found, status=status, gross=gross, price=price)
    if status != PaymentStatus.SUCCEEDED or not renewal_payment_adoptable(payment, found):
        return payment
    paid_at = min(found.created_at or now, now)
    payment.status, payment.paid_at, payment.entitlement = PaymentStatus.SUCCEEDED, paid_at, entitlement
    if gross != price.amount_minor or (symbol and symbol != price.currency):
        payment.match = PaymentMatch.MISMATCH
        payment.review_reason = (
            f"Renewal of {entitlement.public_id}: paid {_amount_text(gross, symbol or price.currency)}, "
            f"expected {format_money(price.amount_minor, price.currency)}."
        )[:300]
        payment.save(
            update_fields=["status", "paid_at", "entitlement", "match", "review_reason", "updated_at"]
        )
        return payment
    order = _renewal_order(entitlement=entitlement, found=found, price=price, paid_at=paid_at)
    payment.order, payment.match, payment.review_reason = order, PaymentMatch.MATCHED, ""
    payment.save(
        update_fields=["status", "paid_at", "entitlement", "order", "match", "review_reason", "updated_at"]
    )
    accounting.order_payment_book(order=order, payment=payment)
    _extend(entitlement=entitlement, order=order, paid_at=paid_at)
    invoices.invoice_issue(order=order, payment=payment)
    notification_send(
        user=entitlement.buyer,
        kind=NotificationKind.ORDER_PAID,
        title=_one_line(f"{entitlement.model.name}: subscription renewed"),
        body=(
            f"We received {format_money(order.amount_minor, order.currency_id)} for {entitlement.plan.name}. "
            f"Your access now runs until {_when(entitlement.ends_at)}."
        ),
        url=reverse("billing_subscriptions"),
        dedupe_key=f"order_paid:{order.public_id}",
    )
    return payment


def _amount_text(amount_minor: int, code: str) -> str:
    if Currency.objects.filter(code=code[:10]).exists():
        return format_money(amount_minor, code)
    return f"{amount_minor} base units of {code[:20]}"


def _renewal_payment(
    *, entitlement: Entitlement, found: HelioTransaction, status: str, gross: int, price: RenewalPrice
) -> Payment:
    """The Payment row of this transaction, locked: the one already recorded, or a new one. Unique per provider
    id, so a concurrent second recording fails its savepoint and reads the first one."""
    existing = _payment_of(found.id)
    if existing is not None:
        return existing
    symbol = (found.currency_symbol or "").strip().upper()
    currency = symbol if symbol and Currency.objects.filter(code=symbol).exists() else price.currency
    fee = min(found.fee_base_units, gross)
    try:
        with transaction.atomic():
            return Payment.objects.create(
                gateway=PaymentGateway.HELIO,
                provider_payment_id=found.id,
                entitlement=entitlement,
                status=status,
                currency_id=currency,
                gross_minor=gross,
                fee_minor=fee,
                net_minor=gross - fee,
                transaction_signature=(found.signature or "")[:200],
                payer_address=(found.sender or "")[:200],
                payer_email=(found.email or "")[:254],
                provider_data={
                    "subscription_renewal": True,
                    "status": found.status,
                    "paylink_id": found.paylink_id,
                    "amount_base_units": str(found.amount_base_units),
                    "fee_base_units": str(found.fee_base_units),
                    "created_at": found.created_at.isoformat() if found.created_at else None,
                },
            )
    except IntegrityError:
        payment = _payment_of(found.id)
        assert payment is not None
        return payment


def _renewal_order(
    *, entitlement: Entitlement, found: HelioTransaction, price: RenewalPrice, paid_at: datetime
) -> Order:
    order, _ = Order.objects.get_or_create(
        buyer_id=entitlement.buyer_id,
        plan_id=entitlement.plan_id,
        idempotency_key=_renewal_key(found),
        defaults={
            "kind": OrderKind.PLAN,
            "model_id": entitlement.model_id,
            "plan_snapshot": price.snapshot,
            "currency_id": price.currency,
            "amount_minor": price.amount_minor,
            "status": OrderStatus.PAID,
            "gateway": PaymentGateway.HELIO,
            "expires_at": paid_at,
            "paid_at": paid_at,
        },
    )
    return order


def _extend(*, entitlement: Entitlement, order: Order, paid_at: datetime) -> None:
    """One interval from the current period end (from the payment, when that end is a period or more ago)."""
    terms = order.plan_snapshot

    def end_from(start: datetime) -> datetime:
        end = entitlements.period_end(
            kind=terms.get("kind", PlanKind.SUBSCRIPTION),
            interval=terms.get("interval", ""),
            pass_duration=terms.get("pass_duration", ""),
            start=start,
        )
        assert end is not None
        return end

    until = end_from(entitlement.ends_at or paid_at)
    if until <= paid_at:
        until = end_from(paid_at)
    entitlements.entitlement_extend(entitlement=entitlement, until=until)
    # Paying again means the buyer renews after all; the next renewal costs what this one did.
    Entitlement.objects.filter(pk=entitlement.pk).update(last_order=order, cancel_at_period_end=False)
    entitlement.refresh_from_db()


# --- Ending -------------------------------------------------------------------------------------------------------
def subscription_end(*, entitlement: Entitlement, now: datetime) -> bool:
    """Caller holds a transaction. Helio ended the subscription: expired now, or — while the paid period still
    runs — at the period's end without grace. Returns whether anything changed."""
    if entitlement.status not in RUNNING:
        return False
    if entitlement.next_charge_url:
        entitlement.next_charge_url = ""
        entitlement.save(update_fields=["next_charge_url", "updated_at"])
    if entitlement.ends_at is not None and entitlement.ends_at > now:
        if entitlement.cancel_at_period_end:
            return False
        entitlements.entitlement_cancel_at_period_end(entitlement=entitlement, cancel=True)
        entitlement.cancel_at_period_end = True
        return True
    _expire(entitlement=entitlement, now=now, notify=True)
    return True


def _expire(*, entitlement: Entitlement, now: datetime, notify: bool) -> None:
    ended = entitlements.entitlement_end(entitlement=entitlement, status=EntitlementStatus.EXPIRED, at=now)
    entitlement.status, entitlement.ends_at = ended.status, ended.ends_at
    if not notify:
        return
    model, plan = entitlement.model, entitlement.plan
    notification_send(
        user=entitlement.buyer,
        kind=NotificationKind.SUBSCRIPTION_EXPIRED,
        title=_one_line(f"{model.name}: your {plan.name} access has ended"),
        body="Your access through this plan has ended. You can subscribe again from your subscriptions page.",
        url=reverse("billing_subscriptions"),
        dedupe_key=f"subscription_expired:{entitlement.public_id}:{_stamp(ended.ends_at or now)}",
    )


# --- The clock ----------------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class LifecycleSummary:
    graced: int
    expired: int
    reminded: int


def subscriptions_advance(*, now: datetime) -> LifecycleSummary:
    """Move entitlements along by the clock; each change in its own transaction, re-checked under the row lock
    (a renewal may land between the read and the change):
    - a subscription past its period end enters grace (`BILLING_GRACE_DAYS`), or expires when it was cancelled
      at period end;
    - grace past `grace_ends_at` expires (notified);
    - a time pass (or any other dated access) past its end expires — passes have no grace;
    - entitlements ending soon are reminded once per period end (`reminded_for_period_end`)."""
    graced = expired = reminded = 0
    due = Entitlement.objects.filter(status=EntitlementStatus.ACTIVE, ends_at__lte=now)
    for pk in list(due.values_list("pk", flat=True)):
        outcome = _period_over(entitlement_id=pk, now=now)
        graced += outcome == EntitlementStatus.GRACE
        expired += outcome == EntitlementStatus.EXPIRED
    grace_over = Entitlement.objects.filter(status=EntitlementStatus.GRACE).filter(
        Q(grace_ends_at__lte=now) | Q(grace_ends_at__isnull=True)
    )
    for pk in list(grace_over.values_list("pk", flat=True)):
        expired += _grace_over(entitlement_id=pk, now=now)
    for pk in _reminder_candidates(now):
        with transaction.atomic():
            entitlement = _locked(pk)
            if entitlement is not None and entitlement.status == EntitlementStatus.ACTIVE:
                reminded += entitlement_remind(entitlement=entitlement, now=now)
    return LifecycleSummary(graced=graced, expired=expired, reminded=reminded)


def _locked(pk: int) -> Entitlement | None:
    return _entitlements_locked().filter(pk=pk).first()


@transaction.atomic
def _period_over(*, entitlement_id: int, now: datetime) -> str | None:
    entitlement = _locked(entitlement_id)
    if entitlement is None or entitlement.status != EntitlementStatus.ACTIVE:
        return None
    if entitlement.ends_at is None or entitlement.ends_at > now:
        return None
    if entitlement.plan.kind != PlanKind.SUBSCRIPTION:
        _expire(entitlement=entitlement, now=now, notify=False)
        return EntitlementStatus.EXPIRED
    if entitlement.cancel_at_period_end:
        _expire(entitlement=entitlement, now=now, notify=True)
        return EntitlementStatus.EXPIRED
    grace_ends_at = entitlement.ends_at + timedelta(days=settings.BILLING_GRACE_DAYS)
    entitlements.entitlement_grace_start(entitlement=entitlement, grace_ends_at=grace_ends_at)
    return EntitlementStatus.GRACE


@transaction.atomic
def _grace_over(*, entitlement_id: int, now: datetime) -> bool:
    entitlement = _locked(entitlement_id)
    if entitlement is None or entitlement.status != EntitlementStatus.GRACE:
        return False
    grace_ends_at = entitlement.grace_ends_at or (
        (entitlement.ends_at or now) + timedelta(days=settings.BILLING_GRACE_DAYS)
    )
    if grace_ends_at > now:
        return False
    _expire(entitlement=entitlement, now=now, notify=True)
    return True


def reminder_window(entitlement: Entitlement) -> timedelta | None:
    """How long before its end an entitlement is reminded: BILLING_REMINDER_DAYS for subscriptions, by length for
    time passes, never for lifetime access."""
    plan = entitlement.plan
    if plan.kind == PlanKind.SUBSCRIPTION:
        return timedelta(days=settings.BILLING_REMINDER_DAYS)
    if plan.kind == PlanKind.TIME_PASS:
        return PASS_REMINDER_WINDOWS.get(PassDuration(plan.pass_duration)) if plan.pass_duration else None
    return None


def _reminder_candidates(now: datetime) -> list[int]:
    longest = max([timedelta(days=settings.BILLING_REMINDER_DAYS), *PASS_REMINDER_WINDOWS.values()])
    rows = (
        Entitlement.objects.filter(
            status=EntitlementStatus.ACTIVE,
            cancel_at_period_end=False,
            ends_at__gt=now,
            ends_at__lte=now + longest,
            plan__kind__in=[PlanKind.SUBSCRIPTION, PlanKind.TIME_PASS],
        )
        .filter(Q(reminded_for_period_end__isnull=True) | ~Q(reminded_for_period_end=F("ends_at")))
        .select_related("plan")
    )
    return [
        row.pk
        for row in rows
        if (window := reminder_window(row)) is not None
        and row.ends_at is not None
        and row.ends_at - now <= window
    ]


def entitlement_remind(*, entitlement: Entitlement, now: datetime) -> bool:
    """Caller holds a transaction. Remind the buyer that the current period ends soon, once per period end: the
    claim on `reminded_for_period_end` and the notification (with its email) commit together."""
    ends_at = entitlement.ends_at
    if ends_at is None or ends_at <= now or entitlement.cancel_at_period_end:
        return False
    claimed = (
        Entitlement.objects.filter(pk=entitlement.pk, ends_at=ends_at)
        .filter(Q(reminded_for_period_end__isnull=True) | ~Q(reminded_for_period_end=ends_at))
        .update(reminded_for_period_end=ends_at)
    )
    if not claimed:
        return False
    entitlement.reminded_for_period_end = ends_at
    model, plan = entitlement.model, entitlement.plan
    when = _when(ends_at)
    is_pass = plan.kind == PlanKind.TIME_PASS
    if is_pass:
        title = f"{model.name}: your {plan.name} pass ends {when}"
        body = "Buy another pass from your subscriptions page to keep access without a break."
    elif entitlement.helio_subscription_id:
        title = f"{model.name}: renew your {plan.name} subscription by {when}"
        body = (
            "Renew through Helio with the link on your subscriptions page. After the period ends you keep "
            f"access for {settings.BILLING_GRACE_DAYS} days of grace."
        )
    else:
        title = f"{model.name}: renew your {plan.name} subscription by {when}"
        body = "Pay for the next period from your subscriptions page to keep access without a break."
    notification_send(
        user=entitlement.buyer,
        kind=NotificationKind.PASS_EXPIRING if is_pass else NotificationKind.SUBSCRIPTION_RENEWAL_DUE,
        title=_one_line(title),
        body=body,
        url=reverse("billing_subscriptions"),
        dedupe_key=f"renewal_due:{entitlement.public_id}:{_stamp(ends_at)}",
    )
    return True


def _when(moment: datetime | None) -> str:
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M} UTC" if moment else "further notice"


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%S")


def _one_line(text: str) -> str:
    return " ".join(text.split())[:200]


# --- The buyer's own actions --------------------------------------------------------------------------------------
@transaction.atomic
def subscription_cancel(*, buyer: User, entitlement_id: str) -> Entitlement:
    """Stop renewing: access continues to the end of the paid period, then ends without grace."""
    entitlement = _cancellable(buyer=buyer, entitlement_id=entitlement_id)
    return entitlements.entitlement_cancel_at_period_end(entitlement=entitlement, cancel=True)


@transaction.atomic
def subscription_resume(*, buyer: User, entitlement_id: str) -> Entitlement:
    """Undo a cancellation while the subscription still runs."""
    entitlement = _cancellable(buyer=buyer, entitlement_id=entitlement_id)
    return entitlements.entitlement_cancel_at_period_end(entitlement=entitlement, cancel=False)


def _cancellable(*, buyer: User, entitlement_id: str) -> Entitlement:
    entitlement = entitlement_get_for_buyer(buyer=buyer, entitlement_id=entitlement_id)
    if not entitlement_is_cancellable(entitlement):
        raise Conflict(
            "Only a running subscription can be cancelled at period end or resumed.",
            code="subscription_not_running",
            details={"status": entitlement.status, "kind": entitlement.plan.kind},
        )
    return entitlement
