"""Billing pages: a creator's earnings and payout requests (`/creator/earnings/`), and the staff payout queue
(`/staff/payouts/`). Each view parses a form, calls one service or selector (the same ones behind
`/api/v1/creator/earnings` and `/api/v1/creator/payouts`) and renders; amounts are shown through
`money.format_money`."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from modelmarket.accounts.models import User
from modelmarket.billing.models import Currency, Payout, PayoutStatus
from modelmarket.billing.money import currency_decimals, format_money, to_minor
from modelmarket.billing.selectors import earnings as selectors
from modelmarket.billing.services import payouts as services
from modelmarket.billing.services.accounting import platform_fee_bps
from modelmarket.core.exceptions import ApplicationError, NotFound

PAYOUTS_PER_PAGE = 20
STAFF_PAYOUTS_PER_PAGE = 50
STAFF_STATUSES = [("requested", "Waiting"), ("paid", "Paid"), ("cancelled", "Cancelled"), ("all", "All")]
# Which form field a service's refusal belongs to; anything else is shown above the form.
REQUEST_ERROR_FIELDS = {
    "unknown_currency": "currency",
    "payout_currency_unsupported": "currency",
    "invalid_amount": "amount",
    "negative_amount": "amount",
    "amount_precision": "amount",
    "amount_too_small": "amount",
    "amount_too_large": "amount",
    "insufficient_credit": "amount",
    "invalid_wallet_address": "wallet_address",
}
STATUS_FOR_CODE = {"insufficient_credit": 402}


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


def _creator(request: HttpRequest) -> User:
    try:
        return selectors.creator_require(_user(request))
    except NotFound:
        raise Http404("No such page.") from None


def _staff(request: HttpRequest) -> User:
    user = _user(request)
    if not user.is_staff:
        raise Http404("No such page.")
    return user


# --- Forms --------------------------------------------------------------------------------------------------------
class PayoutRequestForm(forms.Form):
    currency = forms.ChoiceField(choices=[])
    amount = forms.CharField(
        max_length=60,
        help_text="In whole units, e.g. 12.5; at most what is pending in that currency.",
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
    )
    wallet_address = forms.CharField(
        max_length=200,
        label="Wallet address",
        help_text="An address on the currency's chain (Solana for USDC and SOL, Ethereum for ETH, Bitcoin for BTC).",
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false", "class": "mono"}),
    )

    def __init__(
        self, *args: Any, currencies: list[Currency], pending: dict[str, str] | None = None, **kwargs: Any
    ) -> None:
        """`pending`: the formatted pending amount per currency code, shown in the choices."""
        super().__init__(*args, **kwargs)
        field = self.fields["currency"]
        assert isinstance(field, forms.ChoiceField)
        pending = pending or {}
        field.choices = [
            (
                currency.code,
                f"{currency.code} on {currency.get_chain_display()}"
                + (f" ({pending[currency.code]} pending)" if currency.code in pending else ""),
            )
            for currency in currencies
        ]


class PayoutPaidForm(forms.Form):
    transaction_signature = forms.CharField(max_length=200)


class PayoutCancelForm(forms.Form):
    note = forms.CharField(max_length=300, required=False)


# --- Creator: /creator/earnings/ ----------------------------------------------------------------------------------
def _payable_currencies() -> list[Currency]:
    return list(Currency.objects.filter(is_active=True).exclude(chain="").order_by("code"))


def _formatted(item: Any) -> dict[str, Any]:
    """The dataclass's fields, plus `<name>_text` (format_money) for each `<name>_minor`."""
    values = asdict(item)
    for name, value in list(values.items()):
        if name.endswith("_minor"):
            values[f"{name[: -len('_minor')]}_text"] = format_money(value, item.currency)
    return values


def _earnings_page(
    request: HttpRequest, creator: User, form: PayoutRequestForm | None = None, status: int = 200
) -> TemplateResponse:
    """The page; with `form` None, a fresh payout form preselecting the first currency with pending earnings."""
    summary = selectors.creator_earnings_summary(creator=creator)
    currencies = [_formatted(item) for item in summary.currencies]
    if form is None:
        pending = {item["currency"]: item["pending_text"] for item in currencies if item["pending_minor"]}
        first = next((item["currency"] for item in currencies if item["pending_minor"]), None)
        form = PayoutRequestForm(
            currencies=_payable_currencies(), pending=pending, initial={"currency": first} if first else None
        )
    page = Paginator(selectors.payout_list(actor=creator), PAYOUTS_PER_PAGE).get_page(request.GET.get("page"))
    context = {
        "currencies": currencies,
        "models": [_formatted(item) for item in summary.models],
        "payouts": page,
        "payout_rows": [_payout_row(payout) for payout in page],
        "form": form,
        "platform_fee_percent": platform_fee_bps() / 100,
    }
    return TemplateResponse(request, "billing/earnings_dashboard.html", context, status=status)


def _payout_row(payout: Payout) -> dict[str, Any]:
    return {"payout": payout, "amount_text": format_money(payout.amount_minor, payout.currency_id)}


@login_required
@require_GET
def earnings(request: HttpRequest) -> TemplateResponse:
    return _earnings_page(request, _creator(request))


def _amount_minor(form: PayoutRequestForm) -> int:
    """The form's amount in minor units of its currency (ValidationFailed: not an amount, too precise...)."""
    code = form.cleaned_data["currency"]
    return to_minor(form.cleaned_data["amount"].strip(), currency_decimals(code))


@login_required
@require_http_methods(["POST"])
def payout_request(request: HttpRequest) -> HttpResponse:
    creator = _creator(request)
    form = PayoutRequestForm(request.POST, currencies=_payable_currencies())
    status = 400
    if form.is_valid():
        try:
            payout = services.payout_request(
                creator=creator,
                currency=form.cleaned_data["currency"],
                amount_minor=_amount_minor(form),
                wallet_address=form.cleaned_data["wallet_address"],
            )
        except ApplicationError as error:
            form.add_error(REQUEST_ERROR_FIELDS.get(error.code), error.message)
            status = STATUS_FOR_CODE.get(error.code, 400)
        else:
            amount = format_money(payout.amount_minor, payout.currency_id)
            messages.success(request, f"Payout of {amount} requested. Staff send it and record the transfer.")
            return redirect("billing_earnings")
    return _earnings_page(request, creator, form, status=status)


@login_required
@require_POST
def payout_cancel(request: HttpRequest, public_id: str) -> HttpResponse:
    user = _user(request)
    try:
        payout = selectors.payout_get(actor=user, public_id=public_id)
        if payout.creator_id != user.pk:
            raise NotFound("No such payout.")
        services.payout_cancel(actor=user, payout=payout)
    except NotFound:
        raise Http404("No such payout.") from None
    except ApplicationError as error:
        messages.error(request, error.message)
    else:
        amount = format_money(payout.amount_minor, payout.currency_id)
        messages.success(
            request, f"Payout request of {amount} cancelled; the amount is back in your pending earnings."
        )
    return redirect("billing_earnings")


# --- Staff: /staff/payouts/ ---------------------------------------------------------------------------------------
@login_required
@require_GET
def staff_payouts(request: HttpRequest) -> TemplateResponse:
    user = _staff(request)
    status = request.GET.get("status", "requested")
    if status not in dict(STAFF_STATUSES):
        status = "requested"
    queue = selectors.payout_queue(actor=user, status=None if status == "all" else status)
    page = Paginator(queue, STAFF_PAYOUTS_PER_PAGE).get_page(request.GET.get("page"))
    context = {
        "payouts": page,
        "payout_rows": [_payout_row(payout) for payout in page],
        "status": status,
        "statuses": STAFF_STATUSES,
        "requested": PayoutStatus.REQUESTED,
    }
    return TemplateResponse(request, "billing/payouts_staff.html", context)


def _staff_payout(request: HttpRequest, public_id: str) -> tuple[User, Payout]:
    user = _staff(request)
    try:
        return user, selectors.payout_get(actor=user, public_id=public_id)
    except NotFound:
        raise Http404("No such payout.") from None


def _back(request: HttpRequest) -> HttpResponse:
    status = request.POST.get("status", "requested")
    response = redirect("billing_staff_payouts")
    if status in dict(STAFF_STATUSES) and status != "requested":
        response["Location"] += f"?status={status}"
    return response


@login_required
@require_POST
def staff_payout_paid(request: HttpRequest, public_id: str) -> HttpResponse:
    user, payout = _staff_payout(request, public_id)
    form = PayoutPaidForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Enter the transfer's transaction signature.")
        return _back(request)
    try:
        services.payout_record_paid(
            actor=user, payout=payout, transaction_signature=form.cleaned_data["transaction_signature"]
        )
    except ApplicationError as error:
        messages.error(request, f"{payout.public_id}: {error.message}")
    else:
        amount = format_money(payout.amount_minor, payout.currency_id)
        messages.success(request, f"{payout.public_id}: {amount} recorded as sent; the creator was notified.")
    return _back(request)


@login_required
@require_POST
def staff_payout_cancel(request: HttpRequest, public_id: str) -> HttpResponse:
    user, payout = _staff_payout(request, public_id)
    form = PayoutCancelForm(request.POST)
    if not form.is_valid():
        messages.error(request, "The note has at most 300 characters.")
        return _back(request)
    try:
        services.payout_cancel(actor=user, payout=payout, note=form.cleaned_data["note"])
    except ApplicationError as error:
        messages.error(request, f"{payout.public_id}: {error.message}")
    else:
        messages.success(
            request, f"{payout.public_id} cancelled; the amount is back in the creator's earnings."
        )
    return _back(request)


urlpatterns: list[URLPattern] = [
    path("creator/earnings/", earnings, name="billing_earnings"),
    path("creator/earnings/payouts/", payout_request, name="billing_payout_request"),
    path("creator/earnings/payouts/<str:public_id>/cancel/", payout_cancel, name="billing_payout_cancel"),
    path("staff/payouts/", staff_payouts, name="billing_staff_payouts"),
    path("staff/payouts/<str:public_id>/paid/", staff_payout_paid, name="billing_staff_payout_paid"),
    path("staff/payouts/<str:public_id>/cancel/", staff_payout_cancel, name="billing_staff_payout_cancel"),
]
