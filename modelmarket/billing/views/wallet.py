"""Billing pages: the buyer's prepaid credit (`/account/credit/`): balances per currency, the wallet's movements
(top-ups, pay-as-you-go charges) a page at a time, and a top-up form. Buying credit is an order like buying a plan:
the form posts to the checkout's `billing_order_create` view with `top_up_currency` and `top_up_amount`."""

from __future__ import annotations

import uuid
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, path
from django.views.decorators.http import require_GET

from modelmarket.billing.forms import TopUpForm
from modelmarket.billing.selectors.wallet import wallet_balances, wallet_entries, wallet_entry_amount
from modelmarket.core.api.pagination import paginate
from modelmarket.core.exceptions import BadRequest

ENTRIES_PER_PAGE = 25


@login_required
@require_GET
def wallet(request: HttpRequest) -> HttpResponse:
    """Balances, recent entries (`?cursor=` for older ones) and the top-up form (`?currency=` preselects one)."""
    cursor = request.GET.get("cursor") or None
    status = 200
    try:
        page = paginate(
            wallet_entries(user=request.user), order_field="created_at", cursor=cursor, limit=ENTRIES_PER_PAGE
        )
    except BadRequest:  # a tampered cursor: start again from the newest
        page, status, cursor = (
            paginate(
                wallet_entries(user=request.user),
                order_field="created_at",
                cursor=None,
                limit=ENTRIES_PER_PAGE,
            ),
            400,
            None,
        )
    entries = [(entry, wallet_entry_amount(entry)) for entry in page.items]
    context = {
        "balances": wallet_balances(user=request.user),
        "entries": entries,
        "is_first_page": cursor is None,
        "next_url": f"{request.path}?{urlencode({'cursor': page.next_cursor})}" if page.next_cursor else None,
        "checkout_key": uuid.uuid4().hex,  # the top-up form's Idempotency-Key: a double submit is one order
        "top_up_form": TopUpForm(currency=(request.GET.get("currency") or "").upper() or None),
    }
    return TemplateResponse(request, "billing/wallet_page.html", context, status=status)


urlpatterns: list[URLPattern] = [
    path("account/credit/", wallet, name="billing_wallet"),
]
