"""Billing pages for staff: record a refund of one payment, and the list of refunds recorded. Amounts are typed in
whole units of the payment's currency ("2.5") and parsed by `money.to_minor`, which refuses fractions of a minor
unit. The page calls the same service as `POST /api/v1/staff/payments/{id}/refunds`. Anyone but staff gets 404."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path
from django.views.decorators.http import require_GET, require_http_methods

from modelmarket.billing.models import Invoice, Payment
from modelmarket.billing.money import currency_decimals, format_money, to_minor
from modelmarket.billing.selectors.refunds import (
    RefundableSummary,
    payment_get_for_refund,
    payment_refundable_summary,
    refund_list,
)
from modelmarket.billing.services.refunds import REASON_MAX_LENGTH, SIGNATURE_MAX_LENGTH, refund_record
from modelmarket.core.exceptions import ApplicationError, NotFound, ValidationFailed

REFUNDS_PER_PAGE = 50
# Which form field a service refusal belongs to; anything else is shown above the form.
ERROR_FIELDS = {
    "invalid_amount": "amount",
    "negative_amount": "amount",
    "amount_precision": "amount",
    "amount_too_large": "amount",
    "refund_exceeds_payment": "amount",
    "credit_already_spent": "amount",
    "invalid_reason": "reason",
    "invalid_transaction_signature": "transaction_signature",
    "duplicate_refund_signature": "transaction_signature",
    "refund_signature_is_payment": "transaction_signature",
}


class RefundForm(forms.Form):
    amount = forms.CharField(
        max_length=60,
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
    )
    reason = forms.CharField(
        max_length=REASON_MAX_LENGTH,
        help_text="Shown to the buyer.",
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    transaction_signature = forms.CharField(
        label="On-chain transaction signature",
        max_length=SIGNATURE_MAX_LENGTH,
        help_text="Of the transfer back to the buyer. Send the funds first: Helio has no refund API.",
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )

    def __init__(self, *args: Any, summary: RefundableSummary, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.currency = summary.currency
        self.fields["amount"].label = f"Amount ({summary.currency})"
        self.fields[
            "amount"
        ].help_text = f"In whole units, e.g. 2.5; at most {summary.remaining_text} (the full refund)."

    def amount_minor(self) -> int:
        """The amount in minor units; ValidationFailed (e.g. `amount_precision`) when it is not one."""
        return to_minor(self.cleaned_data["amount"].strip(), currency_decimals(self.currency))


def _payment(request: HttpRequest, public_id: str) -> Payment:
    try:
        return payment_get_for_refund(actor=request.user, public_id=public_id)
    except NotFound as error:
        raise Http404(error.message) from error


def _render_form(
    request: HttpRequest, summary: RefundableSummary, form: RefundForm, status: int = 200
) -> TemplateResponse:
    order = summary.payment.order
    invoice = Invoice.objects.filter(order=order).only("number").first() if order else None
    context: dict[str, Any] = {"summary": summary, "form": form, "order": order, "invoice": invoice}
    return TemplateResponse(request, "billing/refund_form.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def refund_create(request: HttpRequest, public_id: str) -> HttpResponse:
    payment = _payment(request, public_id)
    summary = payment_refundable_summary(payment=payment)
    if request.method != "POST":
        return _render_form(request, summary, RefundForm(summary=summary))
    form = RefundForm(request.POST, summary=summary)
    if not form.is_valid():
        return _render_form(request, summary, form, status=422)
    try:
        refund = refund_record(
            actor=request.user,
            payment=payment,
            amount_minor=form.amount_minor(),
            reason=form.cleaned_data["reason"],
            transaction_signature=form.cleaned_data["transaction_signature"],
        )
    except ApplicationError as error:
        field = ERROR_FIELDS.get(error.code)
        form.add_error(field if field in form.fields else None, error.message)
        status = 422 if isinstance(error, ValidationFailed) else error.status_code
        return _render_form(
            request, payment_refundable_summary(payment=_payment(request, public_id)), form, status
        )
    messages.success(request, f"Refund of {format_money(refund.amount_minor, refund.currency_id)} recorded.")
    return redirect("billing_refunds")


@login_required
@require_GET
def refunds(request: HttpRequest) -> TemplateResponse:
    try:
        recorded = refund_list(actor=request.user).select_related("payment", "order__invoice")
    except NotFound as error:
        raise Http404(error.message) from error
    page = Paginator(recorded, REFUNDS_PER_PAGE).get_page(request.GET.get("page"))
    for refund in page:
        refund.amount_text = format_money(refund.amount_minor, refund.currency_id)  # type: ignore[attr-defined]
    return TemplateResponse(request, "billing/refund_list.html", {"page": page})


urlpatterns: list[URLPattern] = [
    path("staff/payments/<str:public_id>/refund", refund_create, name="billing_refund_create"),
    path("staff/refunds/", refunds, name="billing_refunds"),
]
