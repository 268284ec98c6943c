"""Billing pages for staff: payments by status and match (parked ones first) with the raw webhook events behind
each, the webhook events whose processing failed, "Replay processing" per event and "Mark resolved" for parked
payments. Staff only: anyone else gets 404. The raw bodies are shown pretty-printed and escaped; webhook events
never held the delivery's headers, so no Authorization token can appear."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, URLPattern, path, reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from modelmarket.accounts.models import User
from modelmarket.billing.models import PaymentStatus, WebhookEvent
from modelmarket.billing.money import format_money
from modelmarket.billing.selectors import reconciliation as selectors
from modelmarket.billing.services import reconciliation as services
from modelmarket.core.exceptions import ApplicationError, NotFound

PAYMENTS_PER_PAGE = 25
FAILED_EVENTS_SHOWN = 50
MATCH_CHOICES = [
    ("", "All"),
    ("parked", "Parked"),
    ("unmatched", "Unmatched"),
    ("mismatch", "Mismatch"),
    ("resolved", "Resolved"),
    ("matched", "Matched"),
]
STATUS_CHOICES = [("", "Any status"), *PaymentStatus.choices]


def _staff(request: HttpRequest) -> User:
    if not selectors.user_is_billing_staff(request.user):
        raise Http404("No such page.")
    return request.user  # type: ignore[return-value]


def _event_view(event: WebhookEvent) -> dict[str, Any]:
    return {"event": event, "body": selectors.webhook_body_text(event.body)}


def _refund_url(payment_id: str) -> str:
    """The refund page of a payment (the refunds area's), when it exists."""
    try:
        return reverse("billing_refund_create", args=[payment_id])
    except NoReverseMatch:
        return ""


def _money(amount_minor: int, currency: str | None) -> str:
    return format_money(amount_minor, currency) if currency else str(amount_minor)


@require_GET
def staff_payments(request: HttpRequest) -> TemplateResponse:
    user = _staff(request)
    status, match = request.GET.get("status", ""), request.GET.get("match", "")
    try:
        payments = selectors.payments_for_staff(actor=user, status=status, match=match)
    except ApplicationError as error:
        messages.error(request, error.message)
        status, match = "", ""
        payments = selectors.payments_for_staff(actor=user)
    page = Paginator(payments, PAYMENTS_PER_PAGE).get_page(request.GET.get("page"))
    rows = [
        {
            "payment": payment,
            "gross": _money(payment.gross_minor, payment.currency_id),
            "fee": _money(payment.fee_minor, payment.currency_id),
            "parked": payment.match in selectors.PARKED,
            "refund_url": _refund_url(payment.public_id) if payment.status == PaymentStatus.SUCCEEDED else "",
            "events": [_event_view(event) for event in payment.webhook_events.all()],
        }
        for payment in page
    ]
    failed = selectors.webhook_events_needing_attention(actor=user)[:FAILED_EVENTS_SHOWN]
    context = {
        "rows": rows,
        "page": page,
        "status": status,
        "match": match,
        "status_choices": STATUS_CHOICES,
        "match_choices": MATCH_CHOICES,
        "failed_events": [_event_view(event) for event in failed],
        "counts": selectors.parked_counts(actor=user),
        "filter_query": urlencode(
            {key: value for key, value in (("status", status), ("match", match)) if value}
        ),
    }
    return TemplateResponse(request, "billing/staff_payments_list.html", context)


def _back(request: HttpRequest) -> HttpResponseRedirect:
    """Back to the list with the filters the form came from (a same-site `next`)."""
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return HttpResponseRedirect(target)
    return HttpResponseRedirect(reverse("billing_staff_payments"))


@require_POST
def staff_webhook_event_replay(request: HttpRequest, event_id: int) -> HttpResponse:
    user = _staff(request)
    try:
        event = services.webhook_event_replay(actor=user, event_id=event_id)
    except NotFound as error:
        raise Http404(error.message) from error
    if event.status == "processed":
        messages.success(request, f"Webhook event {event.pk} ({event.event}) was processed.")
    else:
        messages.warning(
            request, f"Webhook event {event.pk} ({event.event}) is {event.get_status_display().lower()}."
        )
    return _back(request)


@require_POST
def staff_payment_resolve(request: HttpRequest, payment_id: str) -> HttpResponse:
    user = _staff(request)
    try:
        payment = services.payment_resolve(
            actor=user, payment_id=payment_id, note=request.POST.get("note", "")
        )
    except NotFound as error:
        raise Http404(error.message) from error
    except ApplicationError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, f"Payment {payment.public_id} is marked resolved.")
    return _back(request)


urlpatterns: list[URLPattern] = [
    path("staff/payments/", staff_payments, name="billing_staff_payments"),
    path(
        "staff/payments/events/<int:event_id>/replay/",
        staff_webhook_event_replay,
        name="billing_staff_webhook_replay",
    ),
    path(
        "staff/payments/<str:payment_id>/resolve/",
        staff_payment_resolve,
        name="billing_staff_payment_resolve",
    ),
]
