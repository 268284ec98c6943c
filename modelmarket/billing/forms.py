"""Billing input from people: plan terms and credit top-ups, typed in whole units ("10.5 USDC", "0.001 USDC per
request") and turned into minor units here, exactly, before any service sees them. The page forms and the JSON API
share the parsers below, so both refuse the same input with the same codes (`BadRequest`):

- prices go through `money.to_minor` (fractions of a minor unit: `amount_precision`; below zero: `negative_amount`);
- pay-as-you-go rates become Decimals of minor units, refused past twelve places of a minor unit (`invalid_rate`).

The rules of plans themselves (which kinds carry a price, intervals, quotas) stay in `services/plans.py`."""

from __future__ import annotations

from decimal import Context, Decimal, InvalidOperation, localcontext
from typing import Any, cast

from django import forms

from modelmarket.billing.models import (
    Currency,
    PassDuration,
    Plan,
    PlanKind,
    QuotaPeriod,
    SubscriptionInterval,
)
from modelmarket.billing.money import Money, to_minor
from modelmarket.billing.selectors.plans import RATE_LABELS, decimal_text, rate_whole_units
from modelmarket.billing.selectors.wallet import top_up_currencies
from modelmarket.billing.services.plans import MAX_RATE, PlanTerms
from modelmarket.core.exceptions import BadRequest, ValidationFailed

# Exact decimal arithmetic: the default context keeps 28 digits and would round longer numbers silently.
EXACT = Context(prec=80)
TWELVE_PLACES = Decimal("1e-12")
# What the plan service's own checks can handle (its Decimal context keeps 28 significant digits).
MAX_RATE_DIGITS = 28
PRICED_KINDS = (PlanKind.ONE_TIME, PlanKind.SUBSCRIPTION, PlanKind.TIME_PASS)
RATE_FIELDS = tuple(name for name, _ in RATE_LABELS)


# --- Parsers shared by the pages and the API ---------------------------------------------------------------------
def currency_decimals_active(code: str) -> int:
    """Decimals of an active currency; BadRequest `unknown_currency` otherwise."""
    decimals = Currency.objects.filter(code=code, is_active=True).values_list("decimals", flat=True).first()
    if decimals is None:
        raise BadRequest(
            f"Unknown currency {code!r}.", code="unknown_currency", details={"field": "currency"}
        )
    return decimals


def _decimal(value: Any, *, code: str, field: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise BadRequest(
            f"{field} must be a decimal number as a string.", code=code, details={"field": field}
        )
    try:
        number = Decimal(value.strip() if isinstance(value, str) else value)
    except (InvalidOperation, ValueError):
        raise BadRequest(f"{field} is not a number.", code=code, details={"field": field}) from None
    if not number.is_finite():
        raise BadRequest(f"{field} is not a number.", code=code, details={"field": field})
    return number


def amount_to_minor(value: Any, *, decimals: int, field: str = "price") -> int:
    """Whole units ("10.5") as minor units (10500000 at 6 decimals), exactly, through `money.to_minor`.
    BadRequest `invalid_amount`, `negative_amount`, `amount_precision` or `amount_too_large`."""
    number = _decimal(value, code="invalid_amount", field=field)
    try:
        with localcontext(EXACT):  # so to_minor's scaling never rounds a long number
            minor = to_minor(number, decimals)
    except ValidationFailed as error:
        raise BadRequest(error.message, code=error.code, details={"field": field}) from None
    return minor


def rate_to_minor(value: Any, *, decimals: int, field: str) -> Decimal:
    """A pay-as-you-go rate in whole units ("0.001" per request) as minor units (Decimal 1000 at 6 decimals),
    exactly. BadRequest `invalid_rate` when it is not a number, below zero, too large, or finer than twelve
    decimal places of a minor unit."""
    number = _decimal(value, code="invalid_rate", field=field)
    if number < 0:
        raise BadRequest(f"{field} cannot be negative.", code="invalid_rate", details={"field": field})
    rate = number.scaleb(decimals, EXACT)
    if rate != rate.quantize(TWELVE_PLACES, context=EXACT):
        raise BadRequest(
            f"{field} allows at most {decimals + 12} decimal places "
            f"(twelve places of the currency's smallest unit).",
            code="invalid_rate",
            details={"field": field},
        )
    rate = rate.quantize(TWELVE_PLACES, context=EXACT)
    if rate >= MAX_RATE or len(rate.as_tuple().digits) > MAX_RATE_DIGITS:
        raise BadRequest(f"{field} is too large.", code="invalid_rate", details={"field": field})
    return rate


def amount_text(amount_minor: int, decimals: int) -> str:
    """Minor units as the shortest exact whole-unit string ("10.5"), to put back in a form."""
    return decimal_text(Decimal(amount_minor).scaleb(-decimals, EXACT))


# --- Plan form (creator pages) -----------------------------------------------------------------------------------
def _decimal_input(placeholder: str) -> forms.TextInput:
    return forms.TextInput(
        attrs={
            "inputmode": "decimal",
            "autocomplete": "off",
            "spellcheck": "false",
            "placeholder": placeholder,
        }
    )


class PlanForm(forms.Form):
    """One plan of one kind. The kind comes from the page (tabs on create; the plan's own when editing) and decides
    which fields count: the others are neither shown nor read. `terms()` turns the input into `PlanTerms`."""

    kind = forms.ChoiceField(choices=PlanKind.choices, widget=forms.HiddenInput)
    name = forms.CharField(max_length=80, widget=forms.TextInput(attrs={"autocomplete": "off"}))
    description = forms.CharField(
        max_length=300,
        required=False,
        help_text="Optional: what this plan is for, in a sentence.",
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    currency = forms.ChoiceField(help_text="It cannot change later.")
    price = forms.CharField(
        max_length=60,
        required=False,
        help_text="In whole units of the currency, such as 10 or 2.5.",
        widget=_decimal_input("10.00"),
    )
    interval = forms.ChoiceField(
        choices=SubscriptionInterval.choices,
        required=False,
        label="Renews",
        help_text="Subscriptions renew monthly or yearly. Sell hours, days or weeks as a time pass.",
    )
    pass_duration = forms.ChoiceField(
        choices=PassDuration.choices,
        required=False,
        label="Pass length",
        help_text="Access lasts this long from payment; buying again extends it.",
    )
    price_per_request = forms.CharField(
        max_length=60, required=False, label="Per request", widget=_decimal_input("0.001")
    )
    price_per_1k_input_tokens = forms.CharField(
        max_length=60, required=False, label="Per 1,000 input tokens", widget=_decimal_input("0")
    )
    price_per_1k_output_tokens = forms.CharField(
        max_length=60, required=False, label="Per 1,000 output tokens", widget=_decimal_input("0")
    )
    price_per_compute_second = forms.CharField(
        max_length=60, required=False, label="Per compute second", widget=_decimal_input("0")
    )
    requests_per_minute = forms.IntegerField(
        min_value=1, max_value=2_147_483_647, required=False, help_text="Empty: no limit."
    )
    request_quota = forms.IntegerField(
        min_value=1,
        max_value=2_147_483_647,
        required=False,
        label="Requests per period",
        help_text="Empty: no quota.",
    )
    token_quota = forms.IntegerField(
        min_value=1,
        max_value=9_223_372_036_854_775_807,
        required=False,
        label="Tokens per period",
        help_text="Empty: no quota.",
    )
    quota_period = forms.ChoiceField(
        choices=QuotaPeriod.choices, initial=QuotaPeriod.MONTH, label="Quota period"
    )
    position = forms.IntegerField(
        min_value=0,
        max_value=32_767,
        initial=0,
        required=False,
        help_text="Plans are shown by position, lowest first.",
    )

    def __init__(self, data: Any = None, *, kind: str, plan: Plan | None = None) -> None:
        self.plan = plan
        self.plan_kind = plan.kind if plan else kind
        super().__init__(data, initial=self._initial(plan, kind))
        if plan is not None:
            del self.fields["currency"]  # fixed once the plan exists
            self.fields["kind"].disabled = True
        else:
            currency_field = cast(forms.ChoiceField, self.fields["currency"])
            currency_field.choices = [(c.code, c.code) for c in top_up_currencies()]
            currency_field.initial = "USDC"
        if data is not None and plan is None:
            posted = data.copy()
            posted["kind"] = kind  # the tab decides, whatever was posted
            self.data = posted

    @staticmethod
    def _initial(plan: Plan | None, kind: str) -> dict[str, Any]:
        if plan is None:
            return {"kind": kind, "quota_period": QuotaPeriod.MONTH, "position": 0}
        decimals = plan.currency.decimals
        initial: dict[str, Any] = {
            name: getattr(plan, name)
            for name in (
                "kind",
                "name",
                "description",
                "interval",
                "pass_duration",
                "requests_per_minute",
                "request_quota",
                "token_quota",
                "quota_period",
                "position",
            )
        }
        initial["price"] = amount_text(plan.price_minor, decimals) if plan.price_minor else ""
        for name in RATE_FIELDS:
            rate = getattr(plan, name)
            initial[name] = decimal_text(rate_whole_units(rate, decimals)) if rate else ""
        return initial

    @property
    def currency_code(self) -> str:
        return self.plan.currency_id if self.plan else self.cleaned_data.get("currency", "")

    def terms(self) -> PlanTerms:
        """The plan as the service takes it. Call after `is_valid()`; raises BadRequest (with the service's codes)
        for amounts that are not exact in the currency."""
        data = self.cleaned_data
        kind = self.plan_kind
        currency = self.currency_code
        decimals = currency_decimals_active(currency)
        price = data.get("price") or ""
        rates: dict[str, Any] = {
            name: rate_to_minor(data.get(name) or "0", decimals=decimals, field=name)
            for name in RATE_FIELDS
            if kind == PlanKind.PAY_AS_YOU_GO
        }
        position = data.get("position")
        return PlanTerms(
            name=data["name"],
            kind=kind,
            currency=currency,
            description=data.get("description", ""),
            price_minor=amount_to_minor(price, decimals=decimals) if kind in PRICED_KINDS and price else 0,
            interval=data.get("interval", "") if kind == PlanKind.SUBSCRIPTION else "",
            pass_duration=data.get("pass_duration", "") if kind == PlanKind.TIME_PASS else "",
            requests_per_minute=data.get("requests_per_minute"),
            request_quota=data.get("request_quota"),
            token_quota=data.get("token_quota"),
            quota_period=data.get("quota_period") or QuotaPeriod.MONTH,
            position=position if position is not None else 0,
            **rates,
        )


# --- Credit top-up (the wallet page; posted to the checkout's order view) ----------------------------------------
class TopUpForm(forms.Form):
    """Buy prepaid credit: a currency and an amount in its whole units. The wallet page renders it; the checkout
    view that receives it may use `money()` to get the exact amount (or refuse it with the same messages)."""

    top_up_currency = forms.ChoiceField(label="Currency")
    top_up_amount = forms.CharField(
        max_length=60,
        label="Amount",
        help_text="In whole units of the currency, such as 10 or 2.5.",
        widget=_decimal_input("10.00"),
    )

    def __init__(self, data: Any = None, *, currency: str | None = None) -> None:
        super().__init__(data)
        codes = [currency.code for currency in top_up_currencies()]
        currency_field = cast(forms.ChoiceField, self.fields["top_up_currency"])
        currency_field.choices = [(code, code) for code in codes]
        currency_field.initial = currency if currency in codes else "USDC"

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        currency, amount = data.get("top_up_currency"), data.get("top_up_amount")
        if currency and amount:
            try:
                minor = amount_to_minor(
                    amount, decimals=currency_decimals_active(currency), field="top_up_amount"
                )
            except BadRequest as error:
                self.add_error("top_up_amount", error.message)
            else:
                if minor <= 0:
                    self.add_error("top_up_amount", "Enter an amount above zero.")
                data["amount_minor"] = minor
        return data

    def money(self) -> Money:
        """The top-up as exact minor units. Call after `is_valid()`."""
        return Money(self.cleaned_data["amount_minor"], self.cleaned_data["top_up_currency"])
