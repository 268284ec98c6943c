"""Billing API: orders. Create one for a plan or a credit top-up (then send the buyer to `checkout_url`), list and
read your own, resume or cancel a pending one. Payment arrives by webhook; poll `GET /orders/{id}` for `paid`."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from django.http import HttpRequest, HttpResponse, JsonResponse
from ninja import Header, Query, Router, Schema
from pydantic import Field

from modelmarket.accounts.authentication import api_auth
from modelmarket.accounts.models import ApiKeyScope, User
from modelmarket.billing.models import Order, OrderStatus
from modelmarket.billing.money import format_money
from modelmarket.billing.selectors import orders as selectors
from modelmarket.billing.services import orders as services
from modelmarket.core.api.idempotency import idempotent
from modelmarket.core.api.pagination import add_next_link, paginate
from modelmarket.core.api.schemas import ERROR_RESPONSES, ErrorOut, StrictIn
from modelmarket.core.exceptions import BadRequest

router = Router(tags=["billing"])
READ = api_auth(ApiKeyScope.READ)
MANAGE = api_auth(ApiKeyScope.MANAGE)
# Creating an order may fail at the payment provider (502): the order is then `failed` and says why.
CREATE_RESPONSES: dict[int, Any] = {**ERROR_RESPONSES, 502: ErrorOut}


class TopUpIn(StrictIn):
    currency: str = Field(description="A currency code, e.g. USDC.", max_length=10)
    amount: str = Field(
        description='Whole units as a decimal string, e.g. "25.00"; at most the currency\'s decimals.',
        max_length=60,
    )


class OrderIn(StrictIn):
    """Exactly one of `plan` and `top_up`."""

    plan: str | None = Field(default=None, description="A plan's id (plan_...).", max_length=40)
    top_up: TopUpIn | None = None


class OrderOut(Schema):
    id: str
    status: str
    kind: str
    plan: str | None = Field(description="The plan's id; null for a credit top-up.")
    plan_name: str | None
    model: str | None = Field(description="The model's slug; null for a credit top-up.")
    currency: str
    amount_minor: int = Field(
        description="The price in the currency's minor units, fixed when the order was made."
    )
    amount: str = Field(description='The price for people, e.g. "10.00 USDC".')
    checkout_url: str | None = Field(description="Where to pay while the order is pending.")
    failure_reason: str | None
    expires_at: datetime
    created_at: datetime
    paid_at: datetime | None


class OrderPage(Schema):
    items: list[OrderOut]
    next_cursor: str | None


class CheckoutOut(Schema):
    checkout_url: str


def _user(request: HttpRequest) -> User:
    return request.auth  # type: ignore[attr-defined]


def order_out(order: Order) -> dict[str, Any]:
    return {
        "id": order.public_id,
        "status": order.status,
        "kind": order.kind,
        "plan": order.plan.public_id if order.plan else None,
        "plan_name": order.plan_snapshot.get("name") if order.plan_id else None,
        "model": order.model.slug if order.model else None,
        "currency": order.currency_id,
        "amount_minor": order.amount_minor,
        "amount": format_money(order.amount_minor, order.currency_id),
        "checkout_url": order.checkout_url or None,
        "failure_reason": order.failure_reason or None,
        "expires_at": order.expires_at,
        "created_at": order.created_at,
        "paid_at": order.paid_at,
    }


def _order_json(order: Order) -> dict[str, Any]:
    return OrderOut.model_validate(order_out(order)).model_dump(mode="json")


@router.post("/orders", response={201: OrderOut, **CREATE_RESPONSES}, auth=MANAGE)
def create_order(
    request: HttpRequest,
    payload: OrderIn,
    idempotency_key: str | None = Header(None, alias="Idempotency-Key"),
) -> JsonResponse:
    """Order a plan (`{"plan": "plan_..."}`) or credit (`{"top_up": {"currency": "USDC", "amount": "25.00"}}`),
    then send the buyer to `checkout_url`. With an `Idempotency-Key`, a retry returns the same order (the first
    response, replayed) and the same key with another body is a 409 `idempotency_key_reused`.

    Errors: 404 `plan_not_found`; 409 `plan_archived`, `own_model`, `already_owned`; 400 `plan_not_purchasable`
    (free and pay-as-you-go plans: top up credit instead); 422 `unknown_currency`, `amount_precision`,
    `negative_amount`, `invalid_amount`, `amount_too_large`; 403 `email_not_verified`; 502 when the payment
    provider cannot open the checkout (the order is then `failed`)."""
    if (payload.plan is None) == (payload.top_up is None):
        raise BadRequest("Send either `plan` or `top_up`.", code="invalid_order")
    plan = selectors.plan_get_for_order(public_id=payload.plan) if payload.plan is not None else None
    top_up = (
        services.top_up_parse(currency=payload.top_up.currency, amount=payload.top_up.amount)
        if payload.top_up is not None
        else None
    )
    # The order itself is idempotent per (buyer, key); `idempotent` replays the first response byte for byte.
    # It runs after `order_create`, not around it: the provider is called outside any database transaction.
    order = services.order_create(
        buyer=_user(request), plan=plan, top_up=top_up, idempotency_key=idempotency_key
    )
    return idempotent(
        request, key=idempotency_key, owner=f"user:{_user(request).pk}", run=lambda: (201, _order_json(order))
    )


@router.get("/orders", response={200: OrderPage, **ERROR_RESPONSES}, auth=READ)
def list_orders(
    request: HttpRequest,
    response: HttpResponse,
    status: Literal["pending", "paid", "failed", "expired", "cancelled", "refunded"] | None = Query(None),
    cursor: str | None = None,
    limit: int = 20,
) -> dict[str, Any]:
    """Your orders, newest first (cursor pagination: follow `next_cursor` or the `Link` header)."""
    orders = selectors.orders_of(buyer=_user(request))
    if status is not None:
        orders = orders.filter(status=OrderStatus(status))
    page = paginate(orders, order_field="created_at", cursor=cursor, limit=limit)
    add_next_link(request, response, page.next_cursor)
    return {"items": [order_out(order) for order in page.items], "next_cursor": page.next_cursor}


@router.get("/orders/{order_id}", response={200: OrderOut, **ERROR_RESPONSES}, auth=READ)
def get_order(request: HttpRequest, order_id: str) -> dict[str, Any]:
    """One of your orders (anyone else's is a 404)."""
    return order_out(selectors.order_get(buyer=_user(request), public_id=order_id))


@router.post("/orders/{order_id}/cancel", response={200: OrderOut, **ERROR_RESPONSES}, auth=MANAGE)
def cancel_order(request: HttpRequest, order_id: str) -> dict[str, Any]:
    """Cancel a pending order; 409 `order_not_pending` / `order_expired` otherwise."""
    order = selectors.order_get(buyer=_user(request), public_id=order_id)
    return order_out(services.order_cancel(order=order))


@router.post("/orders/{order_id}/resume", response={200: CheckoutOut, **ERROR_RESPONSES}, auth=MANAGE)
def resume_order(request: HttpRequest, order_id: str) -> dict[str, Any]:
    """The checkout page of a pending order, to pay it after all; 409 `order_expired` / `order_not_pending`."""
    order = selectors.order_get(buyer=_user(request), public_id=order_id)
    return {"checkout_url": services.order_resume(order=order)}
