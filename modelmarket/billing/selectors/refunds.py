"""Reading refunds and the payments staff may refund. Staff only: anyone else gets NotFound."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet

from modelmarket.billing.models import (
    Entitlement,
    EntitlementStatus,
    LedgerTransaction,
    Order,
    OrderKind,
    Payment,
    PaymentStatus,
    Refund,
)
from modelmarket.billing.money import format_money
from modelmarket.core.exceptions import NotFound


def user_may_refund(user: Any) -> bool:
    return bool(user is not None and user.is_authenticated and user.is_active and user.is_staff)


def refund_list(*, actor: Any) -> QuerySet[Refund]:
    """Every refund, newest first."""
    if not user_may_refund(actor):
        raise NotFound()
    return Refund.objects.select_related("payment", "order", "order__buyer", "recorded_by").order_by(
        "-created_at", "-id"
    )


def payment_get_for_refund(*, actor: Any, public_id: str) -> Payment:
    """A payment by its public id, for staff."""
    if not user_may_refund(actor):
        raise NotFound("No such payment.", code="payment_not_found")
    payment = (
        Payment.objects.select_related("order", "order__buyer", "order__model")
        .filter(public_id=public_id)
        .first()
    )
    if payment is None:
        raise NotFound("No such payment.", code="payment_not_found")
    return payment


def payment_is_booked(payment: Payment) -> bool:
    """Whether this payment paid its order in the ledger (a parked second payment for the same order did not)."""
    order = payment.order
    return order is not None and (
        LedgerTransaction.objects.filter(
            reference=f"order:{order.public_id}:paid", payment_id=payment.pk
        ).exists()
    )


def entitlement_granted_by(order: Order) -> Entitlement | None:
    """The buyer's access this plan order granted, unless a later order has renewed it since or it is revoked."""
    if order.kind != OrderKind.PLAN:
        return None
    return (
        Entitlement.objects.filter(buyer_id=order.buyer_id, last_order=order)
        .exclude(status=EntitlementStatus.REVOKED)
        .first()
    )


@dataclass(frozen=True, slots=True)
class RefundableSummary:
    """What staff need to see before refunding a payment."""

    payment: Payment
    refundable: bool
    not_refundable_reason: str
    currency: str
    gross_text: str
    refunded_text: str
    remaining_minor: int
    remaining_text: str
    entitlement: Entitlement | None


def payment_refundable_summary(*, payment: Payment) -> RefundableSummary:
    """How much of `payment` can still be refunded, and the access a full refund would revoke."""
    order = payment.order
    currency = payment.currency_id or (order.currency_id if order else "")
    remaining = 0
    if order is not None:
        remaining = max(
            0,
            min(payment.gross_minor - payment.refunded_minor, order.amount_minor - order.refunded_minor),
        )
    reason = ""
    if payment.status != PaymentStatus.SUCCEEDED:
        reason = "Only a succeeded payment can be refunded."
    elif order is None or not payment_is_booked(payment):
        reason = (
            "This payment did not pay an order (it is parked for review), so there is nothing to reverse."
        )
    elif remaining == 0:
        reason = "This payment has been refunded in full."
    entitlement = entitlement_granted_by(order) if order is not None else None
    return RefundableSummary(
        payment=payment,
        refundable=not reason,
        not_refundable_reason=reason,
        currency=currency,
        gross_text=format_money(payment.gross_minor, currency) if currency else "",
        refunded_text=format_money(payment.refunded_minor, currency) if currency else "",
        remaining_minor=remaining,
        remaining_text=format_money(remaining, currency) if currency else "",
        entitlement=entitlement,
    )
