"""Billing API for staff: payments with their raw webhook events, replaying a webhook event's processing, and
closing the review of a parked payment. Anyone who is not staff gets 404, as for a path that does not exist."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.http import HttpRequest
from ninja import Query, Router, Schema
from pydantic import Field

from modelmarket.accounts.authentication import api_auth
from modelmarket.accounts.models import ApiKeyScope, User
from modelmarket.billing.models import Payment, WebhookEvent
from modelmarket.billing.selectors import reconciliation as selectors
from modelmarket.billing.services import reconciliation as services
from modelmarket.core.api.pagination import paginate
from modelmarket.core.api.schemas import ERROR_RESPONSES, StrictIn

router = Router(tags=["billing staff"])


class WebhookEventOut(Schema):
    id: int
    gateway: str
    event: str
    dedupe_key: str
    status: str
    attempts: int
    next_attempt_at: datetime | None
    last_error: str
    received_at: datetime
    processed_at: datetime | None
    payment: str | None = Field(description="The payment's id, once processing tied the event to one.")
    body: Any = Field(description="The raw delivery as received (JSON; the text when it is not JSON).")


class StaffPaymentOut(Schema):
    id: str
    gateway: str
    provider_payment_id: str
    status: str
    match: str
    review_reason: str
    order: str | None
    buyer_email: str | None
    currency: str | None
    gross_minor: int
    fee_minor: int
    net_minor: int
    refunded_minor: int
    transaction_signature: str
    payer_address: str
    payer_email: str
    paid_at: datetime | None
    created_at: datetime
    webhook_events: list[WebhookEventOut]


class StaffPaymentListOut(Schema):
    items: list[StaffPaymentOut]
    next_cursor: str | None


class StaffPaymentQuery(Schema):
    status: str = Field(default="", description="succeeded, pending or failed.")
    match: str = Field(
        default="", description="matched, unmatched, mismatch, resolved, or parked (both kinds)."
    )
    cursor: str | None = None
    limit: int | None = Field(default=None, description="1 to 100 (default 20).")


class PaymentResolveIn(StrictIn):
    note: str = Field(description="How the payment was resolved (1 to 200 characters).")


def _user(request: HttpRequest) -> User:
    return request.auth  # type: ignore[attr-defined]


def webhook_event_out(event: WebhookEvent) -> dict[str, Any]:
    return {
        "id": event.pk,
        "gateway": event.gateway,
        "event": event.event,
        "dedupe_key": event.dedupe_key,
        "status": event.status,
        "attempts": event.attempts,
        "next_attempt_at": event.next_attempt_at,
        "last_error": event.last_error,
        "received_at": event.received_at,
        "processed_at": event.processed_at,
        "payment": event.payment.public_id if event.payment_id and event.payment else None,
        "body": selectors.webhook_body_json(event.body),
    }


def staff_payment_out(payment: Payment) -> dict[str, Any]:
    order = payment.order
    return {
        "id": payment.public_id,
        "gateway": payment.gateway,
        "provider_payment_id": payment.provider_payment_id,
        "status": payment.status,
        "match": payment.match,
        "review_reason": payment.review_reason,
        "order": order.public_id if order else None,
        "buyer_email": order.buyer.email if order else None,
        "currency": payment.currency_id,
        "gross_minor": payment.gross_minor,
        "fee_minor": payment.fee_minor,
        "net_minor": payment.net_minor,
        "refunded_minor": payment.refunded_minor,
        "transaction_signature": payment.transaction_signature,
        "payer_address": payment.payer_address,
        "payer_email": payment.payer_email,
        "paid_at": payment.paid_at,
        "created_at": payment.created_at,
        "webhook_events": [
            {**webhook_event_out(event), "payment": payment.public_id}
            for event in payment.webhook_events.all()
        ],
    }


@router.get(
    "/staff/payments",
    response={200: StaffPaymentListOut, **ERROR_RESPONSES},
    auth=api_auth(ApiKeyScope.READ),
)
def staff_payments(request: HttpRequest, query: Query[StaffPaymentQuery]) -> dict[str, Any]:
    """Payments with their raw webhook events, newest first, filtered by status and match (`parked` for the
    unmatched and mismatched ones waiting for review). Staff only."""
    payments = selectors.payments_for_staff(actor=_user(request), status=query.status, match=query.match)
    page = paginate(payments, order_field="created_at", cursor=query.cursor, limit=query.limit)
    return {"items": [staff_payment_out(item) for item in page.items], "next_cursor": page.next_cursor}


@router.post(
    "/staff/webhook-events/{event_id}/replay",
    response={200: WebhookEventOut, **ERROR_RESPONSES},
    auth=api_auth(ApiKeyScope.MANAGE),
)
def staff_webhook_event_replay(request: HttpRequest, event_id: int) -> dict[str, Any]:
    """Process a stored webhook event again (idempotent: what it already did is not done twice); returns the
    event as processing left it. Staff only."""
    return webhook_event_out(services.webhook_event_replay(actor=_user(request), event_id=event_id))


@router.post(
    "/staff/payments/{payment_id}/resolve",
    response={200: StaffPaymentOut, **ERROR_RESPONSES},
    auth=api_auth(ApiKeyScope.MANAGE),
)
def staff_payment_resolve(request: HttpRequest, payment_id: str, payload: PaymentResolveIn) -> dict[str, Any]:
    """Close the review of a parked payment with a note (409 when it is not parked). Staff only."""
    services.payment_resolve(actor=_user(request), payment_id=payment_id, note=payload.note)
    payment = selectors.payments_for_staff(actor=_user(request)).get(public_id=payment_id)
    return staff_payment_out(payment)
