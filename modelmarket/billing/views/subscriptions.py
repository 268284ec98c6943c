"""Billing pages: the buyer's subscriptions and passes — status, period end, grace, how to renew — with
"cancel at period end" and "resume" (POST, CSRF), through the same services as the API."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, URLPattern, path, reverse
from django.views.decorators.http import require_GET, require_POST

from modelmarket.accounts.models import User
from modelmarket.billing.selectors import subscriptions as selectors
from modelmarket.billing.services import subscriptions as services
from modelmarket.core.exceptions import ApplicationError, NotFound

ORDER_CREATE_URL_NAME = "billing_order_create"


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


def _order_create_url() -> str:
    """The checkout's "order this plan" form target (another area's page); empty while it does not exist."""
    try:
        return reverse(ORDER_CREATE_URL_NAME)
    except NoReverseMatch:
        return ""


@login_required
@require_GET
def subscriptions_page(request: HttpRequest) -> TemplateResponse:
    rows = []
    for entitlement in selectors.entitlements_for_buyer(buyer=_user(request)):
        rows.append(
            {
                "entitlement": entitlement,
                "renewal": selectors.entitlement_renewal(entitlement),
                "cancellable": selectors.entitlement_is_cancellable(entitlement),
            }
        )
    context = {"rows": rows, "order_create_url": _order_create_url()}
    return TemplateResponse(request, "billing/subscriptions_list.html", context)


def _action(request: HttpRequest, entitlement_id: str, *, cancel: bool) -> HttpResponse:
    action = services.subscription_cancel if cancel else services.subscription_resume
    try:
        entitlement = action(buyer=_user(request), entitlement_id=entitlement_id)
    except NotFound as error:
        raise Http404(error.message) from error
    except ApplicationError as error:
        messages.error(request, error.message)
    else:
        if cancel:
            messages.success(
                request, f"Cancelled: access continues until {entitlement.ends_at:%Y-%m-%d %H:%M} UTC."
            )
        else:
            messages.success(request, "Resumed: your subscription renews as before.")
    return redirect("billing_subscriptions")


@login_required
@require_POST
def subscription_cancel(request: HttpRequest, entitlement_id: str) -> HttpResponse:
    return _action(request, entitlement_id, cancel=True)


@login_required
@require_POST
def subscription_resume(request: HttpRequest, entitlement_id: str) -> HttpResponse:
    return _action(request, entitlement_id, cancel=False)


urlpatterns: list[URLPattern] = [
    path("account/subscriptions/", subscriptions_page, name="billing_subscriptions"),
    path(
        "account/subscriptions/<str:entitlement_id>/cancel/",
        subscription_cancel,
        name="billing_subscription_cancel",
    ),
    path(
        "account/subscriptions/<str:entitlement_id>/resume/",
        subscription_resume,
        name="billing_subscription_resume",
    ),
]
