"""Billing pages: the sandbox checkout (`/billing/sandbox/pay/<order>`), the local stand-in for Helio's charge page.

It exists only while the sandbox is the configured gateway (404 otherwise), shows only the buyer's own orders, and
takes a Pay or Decline only for a pending one. Either button delivers a signed Helio-shaped webhook through the real
webhook code (`services.orders.order_sandbox_pay`), then shows the order's page."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from modelmarket.accounts.models import User
from modelmarket.billing.gateways.sandbox import sandbox_enabled
from modelmarket.billing.models import Order, OrderStatus, PaymentGateway
from modelmarket.billing.money import format_money
from modelmarket.billing.selectors.orders import order_get
from modelmarket.billing.services.orders import order_sandbox_pay
from modelmarket.core.exceptions import ApplicationError, NotFound

ACTIONS = {"pay": True, "decline": False}


def _sandbox_order(request: HttpRequest, public_id: str) -> Order:
    if not sandbox_enabled():
        raise Http404("The sandbox gateway is not enabled.")
    try:
        order = order_get(buyer=request.user, public_id=public_id)
    except NotFound as error:
        raise Http404(error.message) from error
    if order.gateway != PaymentGateway.SANDBOX:
        raise Http404("This order is not paid through the sandbox.")
    return order


@login_required
@require_http_methods(["GET", "POST"])
def sandbox_pay(request: HttpRequest, public_id: str) -> HttpResponse:
    order = _sandbox_order(request, public_id)
    if request.method == "POST":
        succeed = ACTIONS.get(request.POST.get("action", ""))
        if succeed is None:
            messages.error(request, "Choose Pay or Decline.")
            return redirect("billing_sandbox_pay", order.public_id)
        try:
            order = order_sandbox_pay(order=order, succeed=succeed)
        except ApplicationError as error:
            messages.error(request, error.message)
        else:
            messages.success(
                request,
                "Sandbox payment sent: no real money moved."
                if succeed
                else "You declined the sandbox payment: nothing was charged.",
            )
        return redirect("billing_order_detail", order.public_id)
    context = {
        "order": order,
        "amount": format_money(order.amount_minor, order.currency_id),
        "buyer": _user_of(request),
        "payable": order.status == OrderStatus.PENDING and order.expires_at > timezone.now(),
    }
    return TemplateResponse(request, "billing/sandbox_pay.html", context)


def _user_of(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


urlpatterns: list[URLPattern] = [
    path("billing/sandbox/pay/<str:public_id>", sandbox_pay, name="billing_sandbox_pay"),
]
