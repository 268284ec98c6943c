"""Plans a model's creator sells. Terms are checked here (one place for the API and the pages); a plan that was
ordered is archived rather than deleted, and a pending order keeps the price it was created with. The model's
catalog `pricing` badge follows its active plans: free when it has none or a free one, paid otherwise."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.utils import timezone

from modelmarket.billing.models import (
    Currency,
    PassDuration,
    Plan,
    PlanKind,
    QuotaPeriod,
    SubscriptionInterval,
)
from modelmarket.billing.money import MAX_AMOUNT_MINOR
from modelmarket.catalog.models import AIModel
from modelmarket.catalog.services.models import model_pricing_set
from modelmarket.catalog.vocabulary import Pricing
from modelmarket.core.exceptions import BadRequest, Conflict
from modelmarket.core.generation import generation_bump

MAX_ACTIVE_PLANS = 10
RATE_FIELDS = (
    "price_per_request",
    "price_per_1k_input_tokens",
    "price_per_1k_output_tokens",
    "price_per_compute_second",
)
MAX_RATE = Decimal("1e17")


@dataclass
class PlanTerms:
    """What a creator says about a plan; amounts in minor units of `currency` (rates may have fractions)."""

    name: str
    kind: str
    currency: str = "USDC"
    description: str = ""
    price_minor: int = 0
    interval: str = ""
    pass_duration: str = ""
    price_per_request: Decimal | str | int = 0
    price_per_1k_input_tokens: Decimal | str | int = 0
    price_per_1k_output_tokens: Decimal | str | int = 0
    price_per_compute_second: Decimal | str | int = 0
    requests_per_minute: int | None = None
    request_quota: int | None = None
    token_quota: int | None = None
    quota_period: str = QuotaPeriod.MONTH
    position: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


def _bad(message: str, code: str, **details: Any) -> BadRequest:
    return BadRequest(message, code=code, details=details)


def _rate(name: str, value: Any) -> Decimal:
    try:
        rate = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise _bad(f"{name} is not a number.", "invalid_rate", field=name) from None
    if not rate.is_finite() or rate < 0:
        raise _bad(f"{name} cannot be negative.", "invalid_rate", field=name)
    if rate >= MAX_RATE or rate.as_tuple().exponent < -12:  # type: ignore[operator]
        raise _bad(f"{name} allows at most 12 decimal places of a minor unit.", "invalid_rate", field=name)
    return rate


def _limit(name: str, value: Any) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise _bad(f"{name} must be a positive whole number or empty.", "invalid_limit", field=name)
    return value


def plan_terms_clean(terms: PlanTerms) -> dict[str, Any]:
    """The plan's fields, checked; raises BadRequest with a stable code naming what is wrong."""
    kind = terms.kind
    if kind not in PlanKind.values:
        raise _bad(f"Unknown plan kind {kind!r}.", "invalid_plan_kind", allowed=list(PlanKind.values))
    name = (terms.name or "").strip()
    if not name or len(name) > 80:
        raise _bad("A plan needs a name of 1 to 80 characters.", "invalid_plan_name")
    if not Currency.objects.filter(code=terms.currency, is_active=True).exists():
        raise _bad(f"Unknown currency {terms.currency!r}.", "unknown_currency")
    price = terms.price_minor
    if isinstance(price, bool) or not isinstance(price, int):
        raise _bad("price_minor must be a whole number of minor units.", "amount_precision")
    if price < 0:
        raise _bad("Prices cannot be negative.", "negative_amount")
    if price > MAX_AMOUNT_MINOR:
        raise _bad("The price is too large.", "amount_too_large")
    paid = kind in (PlanKind.ONE_TIME, PlanKind.SUBSCRIPTION, PlanKind.TIME_PASS)
    if paid and price == 0:
        raise _bad("A paid plan needs a price above zero; use a free plan instead.", "price_required")
    if not paid and price:
        raise _bad(f"{kind} plans carry no price.", "price_not_allowed")
    interval = terms.interval if kind == PlanKind.SUBSCRIPTION else ""
    if kind == PlanKind.SUBSCRIPTION and interval not in SubscriptionInterval.values:
        raise _bad(
            "Subscriptions renew monthly or yearly; sell hours, days or weeks as a time pass.",
            "invalid_interval",
            allowed=list(SubscriptionInterval.values),
        )
    duration = terms.pass_duration if kind == PlanKind.TIME_PASS else ""
    if kind == PlanKind.TIME_PASS and duration not in PassDuration.values:
        raise _bad("A time pass lasts an hour, a day or a week.", "invalid_pass_duration")
    rates = {name: _rate(name, getattr(terms, name)) for name in RATE_FIELDS}
    if kind != PlanKind.PAY_AS_YOU_GO and any(rates.values()):
        raise _bad(
            "Per-request, per-token and per-second prices belong to pay-as-you-go plans.", "rate_not_allowed"
        )
    if kind == PlanKind.PAY_AS_YOU_GO and not any(rates.values()):
        raise _bad("A pay-as-you-go plan needs at least one non-zero rate.", "rate_required")
    if terms.quota_period not in QuotaPeriod.values:
        raise _bad("Quotas are per day or per month.", "invalid_quota_period")
    return {
        "name": name,
        "description": (terms.description or "").strip()[:300],
        "kind": kind,
        "currency_id": terms.currency,
        "price_minor": price,
        "interval": interval,
        "pass_duration": duration,
        **rates,
        "requests_per_minute": _limit("requests_per_minute", terms.requests_per_minute),
        "request_quota": _limit("request_quota", terms.request_quota),
        "token_quota": _limit("token_quota", terms.token_quota),
        "quota_period": terms.quota_period,
        "position": max(0, int(terms.position or 0)),
    }


def model_pricing_refresh(*, model_id: int) -> None:
    """Set the catalog badge from the model's active plans."""
    kinds = set(Plan.objects.filter(model_id=model_id, is_active=True).values_list("kind", flat=True))
    paid_only = bool(kinds) and PlanKind.FREE not in kinds
    model_pricing_set(model_id=model_id, pricing=Pricing.PAID if paid_only else Pricing.FREE)


@transaction.atomic
def plan_create(*, model: AIModel, terms: PlanTerms) -> Plan:
    """Caller has checked that the actor may edit `model` (catalog's `model_get_for_editing`)."""
    fields = plan_terms_clean(terms)
    AIModel.objects.select_for_update().filter(pk=model.pk).first()  # serialise plan changes per model
    if Plan.objects.filter(model=model, is_active=True).count() >= MAX_ACTIVE_PLANS:
        raise Conflict(f"A model offers at most {MAX_ACTIVE_PLANS} plans.", code="too_many_plans")
    if fields["kind"] == PlanKind.FREE and Plan.objects.filter(
        model=model, is_active=True, kind=PlanKind.FREE
    ):
        raise Conflict("This model already has a free plan.", code="duplicate_free_plan")
    plan = Plan.objects.create(model=model, **fields)
    model_pricing_refresh(model_id=model.pk)
    generation_bump()
    return plan


@transaction.atomic
def plan_update(*, plan: Plan, terms: PlanTerms) -> Plan:
    """Change a plan's terms. Its kind and currency stay (buyers hold entitlements of that kind); pending orders
    keep the price they were created with."""
    fields = plan_terms_clean(terms)
    locked = Plan.objects.select_for_update().get(pk=plan.pk)
    if locked.archived_at is not None:
        raise Conflict("This plan is archived.", code="plan_archived")
    if fields["kind"] != locked.kind or fields["currency_id"] != locked.currency_id:
        raise Conflict(
            "A plan's kind and currency cannot change; create a new plan and archive this one.",
            code="plan_terms_locked",
        )
    for name, value in fields.items():
        setattr(locked, name, value)
    locked.save()
    generation_bump()
    return locked


@transaction.atomic
def plan_archive(*, plan: Plan) -> Plan:
    """Stop selling a plan. Buyers keep what they bought until it ends; nothing new can be ordered."""
    locked = Plan.objects.select_for_update().get(pk=plan.pk)
    if locked.archived_at is None:
        locked.is_active = False
        locked.archived_at = timezone.now()
        locked.save(update_fields=["is_active", "archived_at", "updated_at"])
        model_pricing_refresh(model_id=locked.model_id)
        generation_bump()
    return locked


def plan_snapshot(plan: Plan) -> dict[str, Any]:
    """The terms an order keeps, whatever happens to the plan later."""
    return {
        "plan": plan.public_id,
        "name": plan.name,
        "kind": plan.kind,
        "interval": plan.interval,
        "pass_duration": plan.pass_duration,
        "currency": plan.currency_id,
        "price_minor": plan.price_minor,
        "model": plan.model_id,
    }


def plan_terms_of(plan: Plan) -> PlanTerms:
    """A plan's current terms, to edit."""
    terms = PlanTerms(name=plan.name, kind=plan.kind)
    for name in asdict(terms):
        if name == "currency":
            terms.currency = plan.currency_id
        elif name != "extra" and hasattr(plan, name):
            setattr(terms, name, getattr(plan, name))
    return terms
