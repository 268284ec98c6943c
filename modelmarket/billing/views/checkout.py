"""Billing pages: checkout and the buyer's orders.

`POST /billing/orders/new` is where the model page's Buy buttons and the credit page's top-up form post: it creates
the order (the same `order_create` as `POST /api/v1/orders`) and redirects to the checkout — our own sandbox page or
the Helio page we stored, never an address taken from the request. Refusals go back to the page the form was on
with a message. `/account/orders/` lists the buyer's orders; each order's page can resume or cancel it while
pending, and refreshes its status (htmx) until the payment webhook has been processed."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, QueryDict
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from modelmarket.accounts.models import User
from modelmarket.billing.models import Order, OrderStatus
from modelmarket.billing.money import Money, format_money
from modelmarket.billing.selectors import orders as selectors
from modelmarket.billing.services import orders as services
from modelmarket.core.api.pagination import paginate
from modelmarket.core.exceptions import ApplicationError, BadRequest, Conflict, NotFound, UpstreamError

ORDERS_PER_PAGE = 25


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


def _back_url(request: HttpRequest) -> str:
    """Where a refused order sends the buyer back to: the form's `next` or the referring page when it is ours,
    else the order list."""
    for candidate in (request.POST.get("next", ""), request.headers.get("Referer", "")):
        if candidate and url_has_allowed_host_and_scheme(
            candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        ):
            return candidate
    return reverse("billing_orders")


def _order_request(data: QueryDict) -> tuple[Any, Money | None, str | None]:
    """(plan, top-up, idempotency key) from the form: `plan`, or `top_up_currency` + `top_up_amount`."""
    key = (data.get("idempotency_key") or "").strip() or None
    plan_id = (data.get("plan") or "").strip()
    if plan_id:
        return selectors.plan_get_for_order(public_id=plan_id), None, key
    currency, amount = (data.get("top_up_currency") or "").strip(), (data.get("top_up_amount") or "").strip()
    if currency or amount:
        if not amount:
            raise BadRequest("Enter how much credit to buy.", code="invalid_amount")
        return None, services.top_up_parse(currency=currency, amount=amount), key
    raise BadRequest("Choose a plan or an amount of credit.", code="invalid_order")


def _to_checkout(request: HttpRequest, order: Order) -> HttpResponse:
    try:
        return HttpResponseRedirect(selectors.order_checkout_redirect(order=order))
    except Conflict:
        if order.status == OrderStatus.FAILED:
            messages.error(request, order.failure_reason or "This order failed.")
        return redirect("billing_order_detail", order.public_id)


@login_required
@require_POST
def order_create(request: HttpRequest) -> HttpResponse:
    try:
        plan, top_up, key = _order_request(request.POST)
        order = services.order_create(buyer=_user(request), plan=plan, top_up=top_up, idempotency_key=key)
    except NotFound as error:
        raise Http404(error.message) from error
    except UpstreamError as error:  # the order exists and failed: its page says why
        messages.error(request, error.message)
        order_id = error.details.get("order")
        return (
            redirect("billing_order_detail", order_id)
            if order_id
            else HttpResponseRedirect(_back_url(request))
        )
    except ApplicationError as error:
        messages.error(request, error.message)
        return HttpResponseRedirect(_back_url(request))
    return _to_checkout(request, order)


@login_required
@require_GET
def orders(request: HttpRequest) -> HttpResponse:
    cursor = request.GET.get("cursor") or None
    status = 200
    queryset = selectors.orders_of(buyer=_user(request))
    try:
        page = paginate(queryset, order_field="created_at", cursor=cursor, limit=ORDERS_PER_PAGE)
    except BadRequest:  # a tampered cursor: the newest page, said to be a bad request
        page, status, cursor = (
            paginate(queryset, order_field="created_at", cursor=None, limit=ORDERS_PER_PAGE),
            400,
            None,
        )
    context = {
        "orders": [(order, format_money(order.amount_minor, order.currency_id)) for order in page.items],
        "is_first_page": cursor is None,
        "next_url": f"{request.path}?{urlencode({'cursor': page.next_cursor})}" if page.next_cursor else None,
    }
    return TemplateResponse(request, "billing/orders_list.html", context, status=status)


def _order_for(request: HttpRequest, public_id: str) -> Order:
    try:
        return selectors.order_get(buyer=_user(request), public_id=public_id)
    except NotFound as error:
        raise Http404(error.message) from error


@login_required
@require_GET
def order_detail(request: HttpRequest, public_id: str) -> HttpResponse:
    """The order's page. While it is pending the page polls (htmx): the answer is the watcher again, or a full
    reload (`HX-Refresh`) once the status changed."""
    order = _order_for(request, public_id)
    if request.htmx:  # type: ignore[attr-defined]
        if order.status == OrderStatus.PENDING:
            return TemplateResponse(request, "billing/orders_detail.html#order_watch", {"order": order})
        response = HttpResponse(status=204)
        response["HX-Refresh"] = "true"
        return response
    context = {
        "order": order,
        "amount": format_money(order.amount_minor, order.currency_id),
        "invoice": getattr(
            order, "invoice", None
        ),  # None until issued (a missing one-to-one is an AttributeError)
    }
    return TemplateResponse(request, "billing/orders_detail.html", context)


@login_required
@require_POST
def order_cancel(request: HttpRequest, public_id: str) -> HttpResponse:
    order = _order_for(request, public_id)
    try:
        services.order_cancel(order=order)
    except ApplicationError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, "The order was cancelled.")
    return redirect("billing_order_detail", order.public_id)


@login_required
@require_POST
def order_resume(request: HttpRequest, public_id: str) -> HttpResponse:
    order = _order_for(request, public_id)
    try:
        services.order_resume(order=order)
        return HttpResponseRedirect(selectors.order_checkout_redirect(order=order))
    except ApplicationError as error:
        messages.error(request, error.message)
    return redirect("billing_order_detail", order.public_id)


urlpatterns: list[URLPattern] = [
    path("billing/orders/new", order_create, name="billing_order_create"),
    path("account/orders/", orders, name="billing_orders"),
    path("account/orders/<str:public_id>/", order_detail, name="billing_order_detail"),
    path("account/orders/<str:public_id>/cancel/", order_cancel, name="billing_order_cancel"),
    path("account/orders/<str:public_id>/resume/", order_resume, name="billing_order_resume"),
]
