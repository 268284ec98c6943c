"""Recording what a gateway reports paid, and what a payment does to its order.

`payment_record` stores one Payment per provider transaction (unique per gateway and provider id) and, when the
money fits its order, completes the order: paid, booked in the ledger, access granted, invoiced, buyer notified —
all in the caller's transaction, so it happens entirely or not at all. A payment that does not fit (no order,
another currency, another amount, an order already paid) is kept and parked for staff with the reason; nothing is
granted for it. Recording the same transaction again changes nothing, except that a transaction first reported
PENDING (or FAILED) and later SUCCESS completes its order then — once.

Helio amounts are integers in the currency's base units. `helio_gross_base_units` and `helio_base_units_to_minor`
hold the two readings this depends on (see reference/helio.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import IntegrityError, connection
from django.db import transaction as db_transaction
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from modelmarket.billing.gateways.helio.payloads import HelioTransaction
from modelmarket.billing.models import (
    Currency,
    Order,
    OrderKind,
    OrderStatus,
    Payment,
    PaymentMatch,
    PaymentStatus,
    WebhookEvent,
)
from modelmarket.billing.money import MAX_AMOUNT_MINOR, convert_decimals, format_money
from modelmarket.billing.services import accounting, entitlements, invoices
from modelmarket.billing.services.ledger import SQLITE_MAX_BALANCE
from modelmarket.core.exceptions import ValidationFailed
from modelmarket.notifications.services import notification_send

ORDERS_PAGE_PATH = "/account/orders/"
HELIO_STATUSES = {
    "SUCCESS": PaymentStatus.SUCCEEDED,
    "FAILED": PaymentStatus.FAILED,
    "PENDING": PaymentStatus.PENDING,
}
# Which recorded statuses a later report of the same transaction may move a payment to. A success is final.
STATUS_ADVANCES: dict[str, frozenset[str]] = {
    PaymentStatus.PENDING: frozenset({PaymentStatus.SUCCEEDED, PaymentStatus.FAILED}),
    PaymentStatus.FAILED: frozenset({PaymentStatus.SUCCEEDED}),
    PaymentStatus.SUCCEEDED: frozenset(),
}
PARKED_MATCHES = (PaymentMatch.UNMATCHED, PaymentMatch.MISMATCH)


def payment_status_from_helio(status: str) -> str:
    """Helio's `meta.transactionStatus` as ours. Only SUCCESS grants anything; a status we do not know is recorded
    as pending (nothing happens until the same transaction is reported again)."""
    return HELIO_STATUSES.get(status.strip().upper(), PaymentStatus.PENDING)


def helio_gross_base_units(transaction: HelioTransaction) -> int:
    """What the buyer paid, in base units. Helio's docs read two ways: in their example `meta.amount` is net of
    the transaction's `fee` and `meta.totalAmount` repeats it (98000 + 2000 paid for a 100000 price), while
    `totalAmount` could also be read as the gross. So: `totalAmount` when it is given and differs from `amount`
    (it is then the gross), `amount + fee` otherwise — which is the same number whenever both readings agree."""
    total = transaction.total_amount_base_units
    if total is None or total == transaction.amount_base_units:
        return transaction.amount_base_units + transaction.fee_base_units
    return total


def helio_base_units_to_minor(amount: int, currency: Currency) -> int:
    """Helio's base units of a currency have the currency's own decimals (USDC 6, SOL 9, ...), which are also our
    minor units. Should Helio ever differ for a currency, this is the one place to change. Raises ValidationFailed
    `amount_precision` if a conversion would lose a fraction."""
    return convert_decimals(amount, from_decimals=currency.decimals, to_decimals=currency.decimals)


@db_transaction.atomic
def payment_record(
    *, gateway: str, transaction: HelioTransaction, event: WebhookEvent | None = None
) -> Payment:
    """Record `transaction` as reported by `gateway` and apply it to its order (see the module's docstring).
    Returns the Payment; its `match` says whether it was parked (unmatched / mismatch, with `review_reason`).
    Idempotent: the same transaction again returns the same Payment unchanged, unless its status advanced
    (pending or failed -> succeeded, pending -> failed). `event`, when given, is linked to the payment."""
    status = payment_status_from_helio(transaction.status)
    payment, created = _payment_locked(gateway=gateway, transaction=transaction, status=status)
    if event is not None and event.payment_id != payment.pk:
        WebhookEvent.objects.filter(pk=event.pk).update(payment=payment)
        event.payment = payment
    if created or status in STATUS_ADVANCES[payment.status]:
        _payment_settle(payment=payment, transaction=transaction, status=status, gateway=gateway)
    return payment


def _payment_locked(*, gateway: str, transaction: HelioTransaction, status: str) -> tuple[Payment, bool]:
    """The payment of this transaction, locked; created (bare, to be settled) when new. The unique constraint
    decides between two recorders of the same transaction: the loser waits for the winner's row."""
    rows = Payment.objects.select_for_update()
    existing = rows.filter(gateway=gateway, provider_payment_id=transaction.id).first()
    if existing is not None:
        return existing, False
    try:
        with db_transaction.atomic():
            return (
                Payment.objects.create(gateway=gateway, provider_payment_id=transaction.id, status=status),
                True,
            )
    except IntegrityError:
        return rows.get(gateway=gateway, provider_payment_id=transaction.id), False


def _payment_settle(*, payment: Payment, transaction: HelioTransaction, status: str, gateway: str) -> None:
    reference = order_reference_of(transaction.additional_json)
    orders = Order.objects.select_for_update(of=("self",)).select_related("buyer", "model", "currency")
    order = orders.filter(public_id=reference).first() if reference else None
    currency, currency_problem = _currency_of(transaction, order)
    gross_minor = fee_minor = 0
    if currency is not None:
        try:
            gross_minor = helio_base_units_to_minor(helio_gross_base_units(transaction), currency)
            fee_minor = helio_base_units_to_minor(transaction.fee_base_units, currency)
        except ValidationFailed as error:
            currency_problem = f"The amount cannot be expressed in {currency.code}: {error.message}"
        if max(gross_minor, fee_minor) > _largest_recordable_amount():
            currency_problem = (
                f"The amount ({transaction.amount_base_units} base units) is too large to record."
            )
            gross_minor = fee_minor = 0
    now = timezone.now()
    paid_at = min(transaction.created_at or now, now) if status == PaymentStatus.SUCCEEDED else None
    payment.status = status
    payment.order = order
    payment.currency = currency
    payment.gross_minor, payment.fee_minor = gross_minor, fee_minor
    payment.net_minor = max(gross_minor - fee_minor, 0)
    payment.transaction_signature = (transaction.signature or "")[:200]
    payment.payer_address = (transaction.sender or "")[:200]
    payment.payer_email = (transaction.email or "")[:254]
    payment.paid_at = paid_at
    payment.provider_data = _provider_data(transaction)
    payment.match, payment.review_reason = _match(
        payment=payment, order=order, reference=reference, currency_problem=currency_problem, gateway=gateway
    )
    payment.save()
    if payment.match != PaymentMatch.MATCHED or order is None:
        return
    if status == PaymentStatus.SUCCEEDED:
        assert paid_at is not None
        _order_pay(order=order, payment=payment, paid_at=paid_at)
    elif status == PaymentStatus.FAILED:
        _order_fail(order=order, payment=payment)


def _largest_recordable_amount() -> int:
    """NUMERIC(38, 0) on PostgreSQL; SQLite stores integers exactly only up to 2**63 - 1 (about 9.2 ETH in wei)."""
    return SQLITE_MAX_BALANCE if connection.vendor == "sqlite" else MAX_AMOUNT_MINOR


def order_reference_of(additional_json: dict[str, Any] | None) -> str | None:
    """Our order's public id from a transaction's decoded `additionalJSON` (`{"order": "ord_..."}`)."""
    reference = (additional_json or {}).get("order")
    if not isinstance(reference, str) or not reference.strip() or len(reference) > 40:
        return None
    return reference.strip()


def _currency_of(transaction: HelioTransaction, order: Order | None) -> tuple[Currency | None, str]:
    """The currency paid in: the one the transaction names (`meta.currency` / `tokenQuote`), else the order's."""
    symbol = (transaction.currency_symbol or "").strip().upper()
    if symbol:
        currency = Currency.objects.filter(code=symbol[:10]).first()
        if currency is None or len(symbol) > 10:
            return None, f"Paid in {symbol[:20]!r}, a currency we do not know."
        return currency, ""
    if order is not None:
        return order.currency, ""
    return None, "The payment names no currency."


def _match(
    *, payment: Payment, order: Order | None, reference: str | None, currency_problem: str, gateway: str
) -> tuple[str, str]:
    """(match, review reason). Only a success is checked against the order's amount and currency."""
    if order is None:
        if reference is None:
            return (
                PaymentMatch.UNMATCHED,
                'The payment carries no order reference (no "order" in additionalJSON).',
            )
        return PaymentMatch.UNMATCHED, f"No order {reference} exists."
    if order.gateway != gateway:
        return (
            PaymentMatch.MISMATCH,
            f"Order {order.public_id} is paid through {order.gateway}; this payment came through {gateway}.",
        )
    if payment.status != PaymentStatus.SUCCEEDED:
        return PaymentMatch.MATCHED, ""
    if currency_problem or payment.currency is None:
        return PaymentMatch.MISMATCH, currency_problem or "The payment names no currency."
    if payment.currency_id != order.currency_id:
        return (
            PaymentMatch.MISMATCH,
            f"Paid in {payment.currency_id}, order {order.public_id} is in {order.currency_id}.",
        )
    if payment.gross_minor != order.amount_minor:
        paid = format_money(payment.gross_minor, order.currency_id)
        price = format_money(order.amount_minor, order.currency_id)
        return PaymentMatch.MISMATCH, f"Paid {paid}, order {order.public_id} is {price}."
    if order.status in (OrderStatus.PAID, OrderStatus.REFUNDED):
        return (
            PaymentMatch.MISMATCH,
            f"Order {order.public_id} is already paid: this second payment is money to refund.",
        )
    return PaymentMatch.MATCHED, ""


def _provider_data(transaction: HelioTransaction) -> dict[str, Any]:
    """The transaction as reported, for staff: amounts in base units, as strings (they may exceed JSON's ints)."""
    return {
        "status": transaction.status,
        "paylink_id": transaction.paylink_id,
        "amount_base_units": str(transaction.amount_base_units),
        "total_amount_base_units": (
            None if transaction.total_amount_base_units is None else str(transaction.total_amount_base_units)
        ),
        "fee_base_units": str(transaction.fee_base_units),
        "currency_symbol": transaction.currency_symbol,
        "created_at": transaction.created_at.isoformat() if transaction.created_at else None,
        "additional_json": transaction.additional_json,
    }


# --- What a payment does to its order -----------------------------------------------------------------------------
def _order_pay(*, order: Order, payment: Payment, paid_at: datetime) -> None:
    """Caller holds the order's lock and has checked the payment fits it."""
    order.status = OrderStatus.PAID
    order.paid_at = paid_at
    order.failure_reason = ""
    order.save(update_fields=["status", "paid_at", "failure_reason", "updated_at"])
    accounting.order_payment_book(order=order, payment=payment)
    if order.kind == OrderKind.PLAN:
        payment.entitlement = entitlements.entitlement_grant(order=order, paid_at=paid_at)
        payment.save(update_fields=["entitlement", "updated_at"])
    invoices.invoice_issue(order=order, payment=payment)
    what = order_description(order)
    amount = format_money(order.amount_minor, order.currency_id)
    body = (
        f"We received {amount}. The credit is in your wallet."
        if order.kind == OrderKind.TOP_UP
        else f"We received {amount} for {what}. Your access is active."
    )
    notification_send(
        user=order.buyer,
        kind="order_paid",
        title=_one_line(f"Payment received: {what}"),
        body=body,
        url=order_page_path(order),
        dedupe_key=f"order_paid:{order.public_id}",
    )


def _order_fail(*, order: Order, payment: Payment) -> None:
    """A failed payment fails a pending order (a paid, expired or cancelled one stays as it is)."""
    if order.status != OrderStatus.PENDING:
        return
    order.status = OrderStatus.FAILED
    order.failure_reason = f"The payment failed at the gateway ({payment.public_id})."
    order.save(update_fields=["status", "failure_reason", "updated_at"])
    notification_send(
        user=order.buyer,
        kind="order_failed",
        title=_one_line(f"Payment failed: {order_description(order)}"),
        body="Your payment did not go through and nothing was charged by us. You can start a new order.",
        url=order_page_path(order),
        dedupe_key=f"order_failed:{order.public_id}",
    )


def order_description(order: Order) -> str:
    if order.kind == OrderKind.TOP_UP:
        return f"{order.currency_id} credit"
    plan_name = order.plan_snapshot.get("name") or "plan"
    return f"{order.model.name} — {plan_name}" if order.model is not None else str(plan_name)


def order_page_path(order: Order) -> str:
    """The buyer's page of the order, or the orders list while there is no such page."""
    try:
        return reverse("billing_order_detail", args=[order.public_id])
    except NoReverseMatch:
        return ORDERS_PAGE_PATH


def _one_line(text: str, limit: int = 200) -> str:
    return " ".join(text.split())[:limit]
