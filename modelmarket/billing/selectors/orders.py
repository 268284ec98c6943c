"""Reads for the checkout: plans one can order, a buyer's own orders, and where to send a buyer to pay.

Someone else's order, or a plan of a listing that is not public, does not exist for the caller (NotFound)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from modelmarket.billing.gateways import payment_gateway
from modelmarket.billing.gateways.sandbox import sandbox_page_path
from modelmarket.billing.models import Order, OrderStatus, PaymentGateway, Plan
from modelmarket.catalog.models import PUBLIC_CONDITION, AIModel
from modelmarket.core.exceptions import Conflict, NotFound

MAX_PUBLIC_ID_LENGTH = 40


def plan_get_for_order(*, public_id: str) -> Plan:
    """A plan of a public listing (archived ones too: ordering those is a Conflict, not a 404)."""
    public_models = AIModel.objects.filter(PUBLIC_CONDITION)
    plan = (
        Plan.objects.select_related("model", "currency")
        .filter(model__in=public_models, public_id=public_id)
        .first()
        if isinstance(public_id, str) and 0 < len(public_id) <= MAX_PUBLIC_ID_LENGTH
        else None
    )
    if plan is None:
        raise NotFound("No such plan.", code="plan_not_found")
    return plan


def orders_of(*, buyer: Any) -> QuerySet[Order]:
    """The buyer's orders (newest first when not re-ordered)."""
    return (
        Order.objects.filter(buyer_id=buyer.pk)
        .select_related("plan", "model", "currency")
        .order_by("-created_at", "-id")
    )


def order_get(*, buyer: Any, public_id: str) -> Order:
    """One of the buyer's orders; anyone else's is NotFound."""
    if not isinstance(public_id, str) or not 0 < len(public_id) <= MAX_PUBLIC_ID_LENGTH:
        raise NotFound("No such order.", code="order_not_found")
    order = orders_of(buyer=buyer).filter(public_id=public_id).first()
    if order is None:
        raise NotFound("No such order.", code="order_not_found")
    return order


def order_checkout_redirect(*, order: Order) -> str:
    """Where to send the buyer to pay a pending order: our own sandbox page (a path), or the Helio page we stored
    when it is on Helio's https hosts. Never another address: Conflict `checkout_unavailable` instead."""
    if order.status != OrderStatus.PENDING or not order.checkout_url:
        raise Conflict("This order cannot be paid now.", code="checkout_unavailable")
    if order.gateway == PaymentGateway.SANDBOX:
        return sandbox_page_path(order)
    if payment_gateway(order.gateway).checkout_url_allowed(order.checkout_url):
        return order.checkout_url
    raise Conflict("This order's checkout page is not one we can send you to.", code="checkout_unavailable")
