"""Helio's subscription events, applied to entitlements; renewals recorded as orders of ours.

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
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from modelmarket.billing.gateways.helio.errors import HelioResponseError
from modelmarket.billing.gateways.helio.payloads import HelioTransaction, transaction_from_payload
from modelmarket.billing.models import (
    Currency,
    Entitlement,
    Order,
    OrderKind,
    OrderStatus,
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
    renewal_url_is_safe,
)
from modelmarket.billing.services import accounting, entitlements, invoices
from modelmarket.billing.services.plans import plan_snapshot
from modelmarket.billing.services.subscriptions.common import (
    PARKED,
    RUNNING,
    locked_entitlements,
    moment_text,
    one_line,
)
from modelmarket.billing.services.subscriptions.lifecycle import entitlement_remind, subscription_end
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

RENEWAL_ORDER_KEY = "helio-renewal:{transaction_id}"


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


def _entitlement_for_event(*, subscription_id: str, found: HelioTransaction | None) -> Entitlement | None:
    """The entitlement linked to the Helio subscription; else the one its transaction's paid order granted."""
    linked = locked_entitlements().filter(helio_subscription_id=subscription_id).first()
    if linked is not None:
        return linked
    order = _paid_order_of(found)
    if order is None or order.plan_id is None:
        return None
    return locked_entitlements().filter(buyer_id=order.buyer_id, plan_id=order.plan_id).first()


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
    return locked_entitlements().filter(buyer_id=order.buyer_id, plan_id=order.plan_id).first()


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
        title=one_line(f"{entitlement.model.name}: subscription renewed"),
        body=(
            f"We received {format_money(order.amount_minor, order.currency_id)} for {entitlement.plan.name}. "
            f"Your access now runs until {moment_text(entitlement.ends_at)}."
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
