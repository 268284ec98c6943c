"""Recording refunds. Helio has no refund API: an operator sends the money back on chain, then records it here with
the return transaction's signature. Recording is all or nothing in one database transaction: the refund row, the
reversing ledger transaction, the refunded amounts on the payment and the order (conditional UPDATEs, so two
refunds racing on one payment can never exceed it; the tables' CHECK constraints stand behind them), the order's
status, the entitlement and the buyer's notification."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from modelmarket.billing.models import (
    EntitlementStatus,
    Invoice,
    Order,
    OrderKind,
    OrderStatus,
    Payment,
    PaymentStatus,
    Refund,
    public_id_refund,
)
from modelmarket.billing.money import format_money
from modelmarket.billing.selectors.refunds import entitlement_granted_by, payment_is_booked, user_may_refund
from modelmarket.billing.services.accounting import refund_book
from modelmarket.billing.services.entitlements import entitlement_end
from modelmarket.billing.services.ledger import InsufficientFunds, buyer_wallet
from modelmarket.core.exceptions import BadRequest, Conflict, NotFound, ValidationFailed
from modelmarket.notifications.services import notification_send

REASON_MAX_LENGTH = 300
SIGNATURE_MAX_LENGTH = 200


def _clean_text(value: Any, *, field: str, max_length: int, code: str) -> str:
    text = value.strip() if isinstance(value, str) else ""
    if not text:
        raise ValidationFailed(f"The {field} is required.", code=code, details={"field": field})
    if len(text) > max_length:
        raise ValidationFailed(
            f"The {field} is longer than {max_length} characters.", code=code, details={"field": field}
        )
    return text


def _clean_signature(value: Any) -> str:
    signature = _clean_text(
        value,
        field="transaction signature",
        max_length=SIGNATURE_MAX_LENGTH,
        code="invalid_transaction_signature",
    )
    if any(ch.isspace() or not ch.isprintable() for ch in signature):
        raise ValidationFailed(
            "A transaction signature has no spaces or line breaks.", code="invalid_transaction_signature"
        )
    return signature


@transaction.atomic
def refund_record(
    *, actor: Any, payment: Payment, amount_minor: int, reason: str, transaction_signature: str
) -> Refund:
    """Record that `amount_minor` of `payment` was sent back to the buyer on chain in `transaction_signature`.
    Staff only (NotFound for anyone else). Reverses the ledger in proportion (creator's share, platform's fee; for a
    top-up the buyer's wallet, which must still hold the credit), raises the payment's and order's refunded amounts,
    marks a fully refunded order refunded and revokes the access it granted (a partial refund keeps access), and
    notifies the buyer. Raises BadRequest `refund_exceeds_payment`, Conflict `duplicate_refund_signature`,
    Conflict `payment_not_refundable`, Conflict `credit_already_spent` / `earnings_already_paid_out`; on any
    error nothing is written."""
    if not user_may_refund(actor):
        raise NotFound("No such payment.", code="payment_not_found")
    if isinstance(amount_minor, bool) or not isinstance(amount_minor, int) or amount_minor <= 0:
        raise BadRequest("A refund is a positive amount.", code="invalid_amount")
    reason = _clean_text(reason, field="reason", max_length=REASON_MAX_LENGTH, code="invalid_reason")
    signature = _clean_signature(transaction_signature)
    locked = Payment.objects.select_for_update().get(pk=payment.pk)
    order = _refundable_order(locked, signature)
    if Refund.objects.filter(transaction_signature=signature).exists():
        raise _duplicate_signature(signature)
    remaining = min(locked.gross_minor - locked.refunded_minor, order.amount_minor - order.refunded_minor)
    if amount_minor > remaining:
        raise _exceeds(locked, amount_minor, remaining)
    _raise_refunded(locked, order, amount_minor, remaining)
    public_id = public_id_refund()
    booked = _book(locked, order, amount_minor, public_id)
    try:
        with transaction.atomic():
            refund = Refund.objects.create(
                public_id=public_id,
                payment=locked,
                order=order,
                currency_id=order.currency_id,
                amount_minor=amount_minor,
                reason=reason,
                transaction_signature=signature,
                recorded_by=actor,
                ledger_transaction=booked,
            )
    except IntegrityError:
        raise _duplicate_signature(signature) from None
    order.refresh_from_db(fields=["refunded_minor", "amount_minor", "status"])
    if order.refunded_minor == order.amount_minor:
        Order.objects.filter(pk=order.pk).update(status=OrderStatus.REFUNDED, updated_at=timezone.now())
        _revoke_access(order)
    _notify_buyer(refund, order)
    return refund


def _refundable_order(payment: Payment, signature: str) -> Order:
    order = payment.order
    if payment.status != PaymentStatus.SUCCEEDED or order is None or not payment_is_booked(payment):
        raise Conflict(
            "Only a succeeded payment that paid an order can be refunded.",
            code="payment_not_refundable",
            details={"payment": payment.public_id, "status": payment.status, "match": payment.match},
        )
    if signature == payment.transaction_signature:
        raise BadRequest(
            "That is the signature of the buyer's payment; give the signature of the transfer back to them.",
            code="refund_signature_is_payment",
        )
    return Order.objects.select_for_update().get(pk=order.pk)


def _duplicate_signature(signature: str) -> Conflict:
    return Conflict(
        "A refund with this transaction signature is already recorded.",
        code="duplicate_refund_signature",
        details={"transaction_signature": signature},
    )


def _exceeds(payment: Payment, amount_minor: int, remaining: int) -> BadRequest:
    currency = payment.currency_id or ""
    return BadRequest(
        f"The refund ({format_money(amount_minor, currency)}) is more than what is left to refund "
        f"({format_money(remaining, currency)}).",
        code="refund_exceeds_payment",
        details={"amount_minor": amount_minor, "refundable_minor": remaining, "currency": currency},
    )


def _raise_refunded(payment: Payment, order: Order, amount_minor: int, remaining: int) -> None:
    """One conditional UPDATE per row: a concurrent refund that got there first makes ours match nothing."""
    now = timezone.now()
    payment_rows = Payment.objects.filter(
        pk=payment.pk, refunded_minor__lte=F("gross_minor") - amount_minor
    ).update(refunded_minor=F("refunded_minor") + amount_minor, updated_at=now)
    order_rows = Order.objects.filter(
        pk=order.pk, refunded_minor__lte=F("amount_minor") - amount_minor
    ).update(refunded_minor=F("refunded_minor") + amount_minor, updated_at=now)
    if payment_rows != 1 or order_rows != 1:
        raise _exceeds(payment, amount_minor, remaining)


def _book(payment: Payment, order: Order, amount_minor: int, public_id: str) -> Any:
    try:
        return refund_book(payment=payment, amount_minor=amount_minor, reference=f"refund:{public_id}")
    except InsufficientFunds as error:
        currency = payment.currency_id or order.currency_id
        if order.kind == OrderKind.TOP_UP:
            wallet = buyer_wallet(user_id=order.buyer_id, currency=currency)
            wallet.refresh_from_db()
            available = max(0, wallet.balance_minor - wallet.held_minor)
            raise Conflict(
                f"The buyer has already spent this credit: their wallet holds {format_money(available, currency)}"
                f" of the {format_money(amount_minor, currency)} to refund. Refund at most what it still holds.",
                code="credit_already_spent",
                details={"available_minor": available, "currency": currency},
            ) from error
        raise Conflict(
            "The creator's pending earnings no longer cover their share of this refund (already paid out): "
            "recover it from the creator first, or refund less.",
            code="earnings_already_paid_out",
            details={"currency": currency},
        ) from error


def _revoke_access(order: Order) -> None:
    """A fully refunded plan order takes back the access it granted (unless a later order has renewed it since)."""
    entitlement = entitlement_granted_by(order)
    if entitlement is not None:
        entitlement_end(entitlement=entitlement, status=EntitlementStatus.REVOKED)


def _invoice_url(order: Order) -> str:
    number = Invoice.objects.filter(order=order).values_list("number", flat=True).first()
    if number is None:
        return ""
    try:
        return reverse("billing_invoice_detail", args=[number])
    except NoReverseMatch:
        return ""


def _notify_buyer(refund: Refund, order: Order) -> None:
    amount = format_money(refund.amount_minor, refund.currency_id)
    if order.refunded_minor == order.amount_minor:
        access = (
            "The order is refunded in full; the access it granted has ended."
            if order.kind == OrderKind.PLAN
            else ("The order is refunded in full.")
        )
    else:
        access = (
            "This is a partial refund: your access is unchanged."
            if order.kind == OrderKind.PLAN
            else ("This is a partial refund.")
        )
    notification_send(
        user=order.buyer,
        kind="refund_recorded",
        title=f"Refund of {amount} sent",
        body=(
            f"We sent {amount} back to you for order {order.public_id} (transaction "
            f"{refund.transaction_signature}). {access}"
        ),
        url=_invoice_url(order),
        dedupe_key=f"refund:{refund.public_id}",
    )
