"""Reading invoices. A buyer sees their own; the creator of the listing sold sees the invoice of their sale; staff
see every invoice. Anyone else gets NotFound, exactly as for a number that does not exist.

`invoice_facts` is what the HTML page, the PDF and the API all show, formatted once through `money`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Q, QuerySet

from modelmarket.billing.models import Invoice, OrderKind, Refund
from modelmarket.billing.money import format_money
from modelmarket.core.exceptions import NotFound

PLATFORM_NAME = "ModelMarket"


def _is_staff(user: Any) -> bool:
    return bool(user is not None and user.is_authenticated and user.is_active and user.is_staff)


def invoice_list_for_buyer(*, buyer: Any) -> QuerySet[Invoice]:
    """The buyer's invoices, newest first (nothing for the anonymous)."""
    if buyer is None or not buyer.is_authenticated:
        return Invoice.objects.none()
    return (
        Invoice.objects.filter(buyer=buyer).select_related("order", "payment").order_by("-issued_at", "-id")
    )


def invoice_get_for_viewer(*, viewer: Any, number: str) -> Invoice:
    """The invoice `number` if `viewer` is its buyer, the creator of the listing it sold, or staff."""
    if viewer is None or not viewer.is_authenticated or not isinstance(number, str) or len(number) > 20:
        raise NotFound("No such invoice.", code="invoice_not_found")
    invoices = Invoice.objects.select_related("order", "order__model", "payment")
    if not _is_staff(viewer):
        invoices = invoices.filter(Q(buyer=viewer) | Q(creator=viewer) | Q(order__model__creator=viewer))
    invoice = invoices.filter(number=number).first()
    if invoice is None:
        raise NotFound("No such invoice.", code="invoice_not_found")
    return invoice


def invoice_refunds(*, invoice: Invoice) -> list[Refund]:
    """Refunds recorded against the invoiced order, oldest first."""
    return list(Refund.objects.filter(order_id=invoice.order_id).order_by("created_at", "id"))


@dataclass(frozen=True, slots=True)
class RefundLine:
    public_id: str
    recorded_at: datetime
    amount_minor: int
    amount_text: str
    reason: str
    transaction_signature: str


@dataclass(frozen=True, slots=True)
class InvoiceFacts:
    """Everything an invoice states, amounts already formatted in the paid currency."""

    number: str
    issued_at: datetime
    platform_name: str
    buyer_name: str
    buyer_email: str
    seller_name: str
    is_top_up: bool
    description: str
    currency: str
    amount_minor: int
    amount_text: str
    platform_fee_minor: int
    platform_fee_text: str
    creator_amount_minor: int
    creator_amount_text: str
    transaction_signature: str
    order_id: str
    payment_id: str
    refunds: tuple[RefundLine, ...]
    refunded_minor: int
    refunded_text: str
    net_paid_text: str

    @property
    def is_fully_refunded(self) -> bool:
        return self.refunded_minor >= self.amount_minor


def invoice_facts(*, invoice: Invoice, refunds: list[Refund] | None = None) -> InvoiceFacts:
    """What `invoice` states, with its refunds (read when not given)."""
    refunds = invoice_refunds(invoice=invoice) if refunds is None else refunds
    currency = invoice.currency_id
    refunded = sum(refund.amount_minor for refund in refunds)
    is_top_up = invoice.order.kind == OrderKind.TOP_UP
    return InvoiceFacts(
        number=invoice.number,
        issued_at=invoice.issued_at,
        platform_name=PLATFORM_NAME,
        buyer_name=invoice.buyer_name,
        buyer_email=invoice.buyer_email,
        seller_name=PLATFORM_NAME if is_top_up else invoice.creator_name,
        is_top_up=is_top_up,
        description=invoice.description,
        currency=currency,
        amount_minor=invoice.amount_minor,
        amount_text=format_money(invoice.amount_minor, currency),
        platform_fee_minor=invoice.platform_fee_minor,
        platform_fee_text=format_money(invoice.platform_fee_minor, currency),
        creator_amount_minor=invoice.creator_amount_minor,
        creator_amount_text=format_money(invoice.creator_amount_minor, currency),
        transaction_signature=invoice.transaction_signature,
        order_id=invoice.order.public_id,
        payment_id=invoice.payment.public_id,
        refunds=tuple(
            RefundLine(
                public_id=refund.public_id,
                recorded_at=refund.created_at,
                amount_minor=refund.amount_minor,
                amount_text=format_money(refund.amount_minor, refund.currency_id),
                reason=refund.reason,
                transaction_signature=refund.transaction_signature,
            )
            for refund in refunds
        ),
        refunded_minor=refunded,
        refunded_text=format_money(refunded, currency),
        net_paid_text=format_money(invoice.amount_minor - refunded, currency),
    )


def invoice_facts_list(*, invoices: list[Invoice]) -> list[InvoiceFacts]:
    """`invoice_facts` of several invoices, their refunds read in one query."""
    refunds: dict[int, list[Refund]] = {}
    for refund in Refund.objects.filter(order_id__in=[invoice.order_id for invoice in invoices]).order_by(
        "created_at", "id"
    ):
        refunds.setdefault(refund.order_id or 0, []).append(refund)
    return [invoice_facts(invoice=invoice, refunds=refunds.get(invoice.order_id, [])) for invoice in invoices]
