"""Billing API: invoices. A buyer lists their own; one invoice (JSON or PDF) is readable by its buyer, the creator
of the listing sold, and staff — anyone else gets 404."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from ninja import Router, Schema

from modelmarket.accounts.authentication import api_auth
from modelmarket.accounts.models import ApiKeyScope, User
from modelmarket.billing.invoice_pdf import invoice_pdf_response
from modelmarket.billing.selectors.invoices import (
    InvoiceFacts,
    invoice_facts,
    invoice_facts_list,
    invoice_get_for_viewer,
    invoice_list_for_buyer,
)
from modelmarket.core.api.pagination import add_next_link, paginate
from modelmarket.core.api.schemas import ERROR_RESPONSES

router = Router(tags=["billing"])
READ = api_auth(ApiKeyScope.READ)


class InvoiceRefundOut(Schema):
    id: str
    recorded_at: datetime
    amount_minor: int
    amount: str
    reason: str
    transaction_signature: str


class InvoiceOut(Schema):
    number: str
    issued_at: datetime
    order_id: str
    payment_id: str
    platform: str
    buyer_name: str
    buyer_email: str
    seller_name: str
    description: str
    currency: str
    amount_minor: int
    amount: str
    platform_fee_minor: int
    platform_fee: str
    creator_amount_minor: int
    creator_amount: str
    transaction_signature: str
    refunded_minor: int
    refunded: str
    refunds: list[InvoiceRefundOut]
    html_url: str
    pdf_url: str


class InvoicePage(Schema):
    items: list[InvoiceOut]
    next_cursor: str | None


def _user(request: HttpRequest) -> User:
    return request.auth  # type: ignore[attr-defined]


def invoice_out(request: HttpRequest, facts: InvoiceFacts) -> dict[str, Any]:
    return {
        "number": facts.number,
        "issued_at": facts.issued_at,
        "order_id": facts.order_id,
        "payment_id": facts.payment_id,
        "platform": facts.platform_name,
        "buyer_name": facts.buyer_name,
        "buyer_email": facts.buyer_email,
        "seller_name": facts.seller_name,
        "description": facts.description,
        "currency": facts.currency,
        "amount_minor": facts.amount_minor,
        "amount": facts.amount_text,
        "platform_fee_minor": facts.platform_fee_minor,
        "platform_fee": facts.platform_fee_text,
        "creator_amount_minor": facts.creator_amount_minor,
        "creator_amount": facts.creator_amount_text,
        "transaction_signature": facts.transaction_signature,
        "refunded_minor": facts.refunded_minor,
        "refunded": facts.refunded_text,
        "refunds": [
            {
                "id": refund.public_id,
                "recorded_at": refund.recorded_at,
                "amount_minor": refund.amount_minor,
                "amount": refund.amount_text,
                "reason": refund.reason,
                "transaction_signature": refund.transaction_signature,
            }
            for refund in facts.refunds
        ],
        "html_url": request.build_absolute_uri(reverse("billing_invoice_detail", args=[facts.number])),
        "pdf_url": request.build_absolute_uri(reverse("billing_invoice_pdf", args=[facts.number])),
    }


@router.get("/invoices", response={200: InvoicePage, **ERROR_RESPONSES}, auth=READ)
def list_invoices(
    request: HttpRequest, response: HttpResponse, cursor: str | None = None, limit: int = 20
) -> dict[str, Any]:
    """Your invoices, newest first (cursor pagination: pass `next_cursor` back as `cursor`)."""
    page = paginate(
        invoice_list_for_buyer(buyer=_user(request)), order_field="issued_at", cursor=cursor, limit=limit
    )
    add_next_link(request, response, page.next_cursor)
    return {
        "items": [invoice_out(request, facts) for facts in invoice_facts_list(invoices=page.items)],
        "next_cursor": page.next_cursor,
    }


@router.get("/invoices/{number}", response={200: InvoiceOut, **ERROR_RESPONSES}, auth=READ)
def get_invoice(request: HttpRequest, number: str) -> dict[str, Any]:
    """One invoice: yours, one of your sales (creators), or any (staff)."""
    invoice = invoice_get_for_viewer(viewer=_user(request), number=number)
    return invoice_out(request, invoice_facts(invoice=invoice))


@router.get(
    "/invoices/{number}/pdf",
    response={200: None, **ERROR_RESPONSES},
    auth=READ,
    openapi_extra={
        "responses": {200: {"description": "The invoice as a PDF.", "content": {"application/pdf": {}}}}
    },
)
def get_invoice_pdf(request: HttpRequest, number: str) -> HttpResponse:
    """The invoice as a PDF download."""
    invoice = invoice_get_for_viewer(viewer=_user(request), number=number)
    return invoice_pdf_response(invoice_facts(invoice=invoice))
