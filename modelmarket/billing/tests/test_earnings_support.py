"""Helpers (no tests) for the earnings, payouts and analytics tests: money booked through the same accounting
functions the payment, usage and refund flows call, so the ledger holds what production would."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils import timezone

from modelmarket.billing.models import (
    LedgerEntry,
    LedgerTransaction,
    Order,
    OrderKind,
    OrderStatus,
    Payment,
    PaymentGateway,
    PaymentStatus,
    Plan,
)
from modelmarket.billing.services import accounting
from modelmarket.billing.services.accounting import UsageCharge
from modelmarket.billing.tests.factories import make_order

SOLANA_ADDRESS = "9WzDXwBbmkg8ZTbNMqUxvQRAyrZzDsGYdLVL9zYtAWWM"
EVM_ADDRESS = "0x52908400098527886E0F7030069857D2E4169EE7"
SOLANA_SIGNATURE = "5VERv8NMvzbJMEkV8xnrLkEaWRtSz9CosKDYjCJjBRnbJLgp8uirBgmQpjKhoR4tjF3ZpRzrFmBV6UjKdiSZkQUW"


def solana_signature(number: int) -> str:
    """A distinct, well-formed Solana signature (base58, 88 characters) per number."""
    alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
    digits = ""
    while True:
        number, digit = divmod(number, 58)
        digits = alphabet[digit] + digits
        if not number:
            break
    return digits.rjust(88, "5")


def _at(when: datetime | None, transaction: LedgerTransaction) -> None:
    """Move a booked transaction (and its entries) to `when`, for tests of figures by day."""
    if when is not None:
        LedgerTransaction.objects.filter(pk=transaction.pk).update(created_at=when)
        LedgerEntry.objects.filter(transaction=transaction).update(created_at=when)


def pay_order(order: Order, *, processor_fee_minor: int = 0, when: datetime | None = None) -> Payment:
    """Mark `order` paid and book it as the payment flow does."""
    order.status = OrderStatus.PAID
    order.paid_at = when or timezone.now()
    order.save(update_fields=["status", "paid_at"])
    payment = Payment.objects.create(
        gateway=PaymentGateway.SANDBOX,
        provider_payment_id=f"sandbox-{order.public_id}",
        order=order,
        status=PaymentStatus.SUCCEEDED,
        currency_id=order.currency_id,
        gross_minor=order.amount_minor,
        fee_minor=processor_fee_minor,
        net_minor=order.amount_minor - processor_fee_minor,
        paid_at=order.paid_at,
    )
    _at(when, accounting.order_payment_book(order=order, payment=payment))
    return payment


def sell(plan: Plan, buyer: Any = None, **options: Any) -> Payment:
    """A paid order of `plan`."""
    return pay_order(make_order(plan, buyer) if buyer else make_order(plan), **options)


def top_up(buyer: Any, *, currency: str, amount_minor: int) -> Payment:
    return pay_order(
        make_order(buyer=buyer, kind=OrderKind.TOP_UP, currency=currency, amount_minor=amount_minor)
    )


_usage_batches = iter(range(1, 10**9))


def charge_usage(
    buyer: Any, model: Any, *, currency: str, cost_minor: int, when: datetime | None = None
) -> LedgerTransaction:
    """A pay-as-you-go charge of `buyer` for calls of `model` (the buyer needs the credit)."""
    charge = UsageCharge(
        buyer_id=buyer.pk,
        creator_id=model.creator_id,
        model_id=model.pk,
        currency=currency,
        cost_minor=cost_minor,
    )
    (booked,) = accounting.usage_charges_book(reference=f"test-{next(_usage_batches)}", charges=[charge])
    _at(when, booked)
    return booked


def refund(payment: Payment, amount_minor: int, when: datetime | None = None) -> LedgerTransaction:
    booked = accounting.refund_book(
        payment=payment, amount_minor=amount_minor, reference=f"refund:{payment.public_id}:{amount_minor}"
    )
    _at(when, booked)
    return booked
