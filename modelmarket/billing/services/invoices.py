"""Invoices, numbered without gaps per year ("2026-000042"). The year's counter is incremented by one UPDATE inside
the transaction that issues the invoice: concurrent issuers queue on that row, and a rolled-back issue gives its
number back. One invoice per paid order (issuing again returns it)."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.db.models import F

from modelmarket.billing.models import Invoice, InvoiceSequence, Order, OrderKind, Payment
from modelmarket.billing.money import split_fee
from modelmarket.billing.services.accounting import platform_fee_bps


def _next_number(year: int) -> int:
    """Caller holds a transaction. Creates the year's row on first use (safe when two issuers race)."""
    if not InvoiceSequence.objects.filter(year=year).exists():
        try:
            with transaction.atomic():
                InvoiceSequence.objects.create(year=year, last_number=0)
        except IntegrityError:
            pass
    InvoiceSequence.objects.filter(year=year).update(last_number=F("last_number") + 1)
    return InvoiceSequence.objects.values_list("last_number", flat=True).get(year=year)


@transaction.atomic
def invoice_issue(*, order: Order, payment: Payment) -> Invoice:
    """The invoice of a paid order, with the parties' names as they are now and the platform fee split."""
    existing = Invoice.objects.filter(order=order).first()
    if existing is not None:
        return existing
    issued_at = payment.paid_at or order.paid_at or payment.created_at
    year = issued_at.year
    sequence = _next_number(year)
    buyer = order.buyer
    if order.kind == OrderKind.TOP_UP:
        creator, creator_name = None, ""
        description = f"Prepaid credit, {order.currency_id}"
        creator_amount, platform_fee = 0, order.amount_minor
    else:
        assert order.model is not None
        creator = order.model.creator
        creator_name = getattr(creator, "public_name", "") or creator.get_full_name() or creator.email
        description = f"{order.model.name} — {order.plan_snapshot.get('name', 'plan')}"
        creator_amount, platform_fee = split_fee(order.amount_minor, platform_fee_bps())
    return Invoice.objects.create(
        number=f"{year}-{sequence:06d}",
        year=year,
        sequence=sequence,
        order=order,
        payment=payment,
        buyer=buyer,
        buyer_name=getattr(buyer, "public_name", "") or buyer.get_full_name() or buyer.email,
        buyer_email=buyer.email,
        creator=creator,
        creator_name=creator_name,
        description=description[:300],
        currency_id=order.currency_id,
        amount_minor=order.amount_minor,
        platform_fee_minor=platform_fee,
        creator_amount_minor=creator_amount,
        transaction_signature=payment.transaction_signature,
        issued_at=issued_at,
    )
