"""Billing API: refunds, for staff. Record the on-chain return of a payment (Helio has no refund API) and list what
was recorded. Anyone else gets 404."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from ninja import Header, Router, Schema
from pydantic import Field, StrictInt

from modelmarket.accounts.authentication import api_auth
from modelmarket.accounts.models import ApiKeyScope, User
from modelmarket.billing.models import Refund
from modelmarket.billing.money import format_money
from modelmarket.billing.selectors.refunds import payment_get_for_refund, refund_list
from modelmarket.billing.services.refunds import refund_record
from modelmarket.core.api.idempotency import idempotent
from modelmarket.core.api.pagination import add_next_link, paginate
from modelmarket.core.api.schemas import ERROR_RESPONSES, StrictIn

router = Router(tags=["staff"])


class RefundIn(StrictIn):
    amount_minor: StrictInt = Field(description="What was sent back, in the payment currency's minor units.")
    reason: str = Field(description="Why (shown to the buyer), up to 300 characters.")
    transaction_signature: str = Field(
        description="The on-chain signature of the transfer back to the buyer."
    )


class RefundOut(Schema):
    id: str
    payment_id: str
    order_id: str | None
    buyer_email: str | None
    currency: str
    amount_minor: int
    amount: str
    reason: str
    transaction_signature: str
    recorded_by: str
    recorded_at: datetime
    order_status: str | None
    order_refunded_minor: int | None


class RefundPage(Schema):
    items: list[RefundOut]
    next_cursor: str | None


def _user(request: HttpRequest) -> User:
    return request.auth  # type: ignore[attr-defined]


def refund_out(refund: Refund) -> dict[str, Any]:
    order = refund.order
    return {
        "id": refund.public_id,
        "payment_id": refund.payment.public_id,
        "order_id": order.public_id if order else None,
        "buyer_email": order.buyer.email if order else None,
        "currency": refund.currency_id,
        "amount_minor": refund.amount_minor,
        "amount": format_money(refund.amount_minor, refund.currency_id),
        "reason": refund.reason,
        "transaction_signature": refund.transaction_signature,
        "recorded_by": refund.recorded_by.email,
        "recorded_at": refund.created_at,
        "order_status": order.status if order else None,
        "order_refunded_minor": order.refunded_minor if order else None,
    }


@router.post(
    "/staff/payments/{payment_id}/refunds",
    response={201: RefundOut, **ERROR_RESPONSES},
    auth=api_auth(ApiKeyScope.MANAGE),
)
def create_refund(
    request: HttpRequest,
    payment_id: str,
    payload: RefundIn,
    idempotency_key: str | None = Header(None, alias="Idempotency-Key"),
) -> JsonResponse:
    """Record a full or partial refund you have already sent on chain. Reverses the ledger in proportion, and a
    full refund revokes the access the order granted (a partial one keeps it). 400 `refund_exceeds_payment`,
    409 `duplicate_refund_signature`, 409 `payment_not_refundable`, 409 `credit_already_spent` (a top-up's credit
    is spent) or `earnings_already_paid_out`. Send an `Idempotency-Key` to retry safely."""
    actor = _user(request)

    def run() -> tuple[int, dict[str, Any]]:
        payment = payment_get_for_refund(actor=actor, public_id=payment_id)
        refund = refund_record(actor=actor, payment=payment, **payload.model_dump())
        refund = refund_list(actor=actor).get(pk=refund.pk)
        return 201, RefundOut.model_validate(refund_out(refund)).model_dump(mode="json")

    return idempotent(request, key=idempotency_key, owner=f"user:{actor.pk}", run=run)


@router.get("/staff/refunds", response={200: RefundPage, **ERROR_RESPONSES}, auth=api_auth(ApiKeyScope.READ))
def list_refunds(
    request: HttpRequest, response: HttpResponse, cursor: str | None = None, limit: int = 20
) -> dict[str, Any]:
    """Every recorded refund, newest first."""
    page = paginate(refund_list(actor=_user(request)), order_field="created_at", cursor=cursor, limit=limit)
    add_next_link(request, response, page.next_cursor)
    return {"items": [refund_out(refund) for refund in page.items], "next_cursor": page.next_cursor}
