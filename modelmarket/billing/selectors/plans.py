"""Reads of plans, with the permission checks folded in, and their terms in words for people.

Anyone who may see a listing (`catalog.selectors.models.model_get_for_viewer`) sees its active plans; its creator and
catalog staff also see archived ones and may change them. Everyone else gets NotFound for the editing reads, so
"missing" and "not yours" look the same there (the API's model lookup gives 403 for public listings of others).

Prices are integers of minor units; pay-as-you-go rates are Decimals of minor units with up to twelve places. People
read both in whole units: prices through `money.format_money`, rates converted exactly (`rate_text`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Context, Decimal
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from modelmarket.billing.models import AccountKind, Entitlement, LedgerAccount, Plan, PlanKind
from modelmarket.billing.money import format_amount
from modelmarket.billing.selectors.entitlements import entitlements_active
from modelmarket.catalog.models import AIModel
from modelmarket.catalog.selectors.models import model_get_for_viewer, user_is_catalog_staff
from modelmarket.core.exceptions import NotFound

# Exact arithmetic on rates: a rate has at most 18 digits before the point and 12 after, a currency 18 decimals.
EXACT = Context(prec=80)
RATE_LABELS = (
    ("price_per_request", "per request"),
    ("price_per_1k_input_tokens", "per 1k input tokens"),
    ("price_per_1k_output_tokens", "per 1k output tokens"),
    ("price_per_compute_second", "per compute second"),
)
RATE_KEYS = {
    "price_per_request": "per_request",
    "price_per_1k_input_tokens": "per_1k_input_tokens",
    "price_per_1k_output_tokens": "per_1k_output_tokens",
    "price_per_compute_second": "per_compute_second",
}
INTERVAL_WORDS = {"month": "month", "year": "year"}
PASS_WORDS = {"hour": "hour", "day": "day", "week": "week"}


# --- Words -------------------------------------------------------------------------------------------------------
def decimal_text(value: Decimal) -> str:
    """A Decimal as plain digits without trailing zeros: Decimal("0.50000") -> "0.5", Decimal("1E+3") -> "1000"."""
    if value == 0:
        return "0"
    return f"{value.normalize(EXACT):f}"


def rate_whole_units(rate_minor: Decimal, decimals: int) -> Decimal:
    """A rate in minor units (1000 at 6 decimals) as whole units (0.001), exactly."""
    return Decimal(rate_minor).scaleb(-decimals, EXACT)


def rate_text(rate_minor: Decimal, decimals: int) -> str:
    return decimal_text(rate_whole_units(rate_minor, decimals))


def price_text(plan: Plan) -> str:
    """The plan's price as people read it: "10.00 USDC", "Free", "Pay as you go"."""
    if plan.kind == PlanKind.FREE:
        return "Free"
    if plan.kind == PlanKind.PAY_AS_YOU_GO:
        return "Pay as you go"
    return _money(plan.price_minor, plan)


def _money(amount_minor: int, plan: Plan) -> str:
    return f"{format_amount(amount_minor, plan.currency.decimals)} {plan.currency_id}"


def plan_terms_text(plan: Plan) -> str:
    """What the plan costs, in one line: "10.00 USDC once, lifetime access", "5.00 USDC / month",
    "1.00 USDC per day pass", "0.001 USDC per request + 0.5 USDC per 1k output tokens", "Free"."""
    if plan.kind == PlanKind.ONE_TIME:
        return f"{_money(plan.price_minor, plan)} once, lifetime access"
    if plan.kind == PlanKind.SUBSCRIPTION:
        return f"{_money(plan.price_minor, plan)} / {INTERVAL_WORDS.get(plan.interval, plan.interval)}"
    if plan.kind == PlanKind.TIME_PASS:
        return f"{_money(plan.price_minor, plan)} per {PASS_WORDS.get(plan.pass_duration, plan.pass_duration)} pass"
    if plan.kind == PlanKind.PAY_AS_YOU_GO:
        decimals, currency = plan.currency.decimals, plan.currency_id
        parts = [
            f"{rate_text(getattr(plan, name), decimals)} {currency} {label}"
            for name, label in RATE_LABELS
            if getattr(plan, name)
        ]
        return " + ".join(parts)
    return "Free"


def plan_limits_text(plan: Plan) -> list[str]:
    """The plan's quotas and rate limit: ["1,000 requests / month", "50,000 tokens / month", "60 requests / minute"]."""
    period = plan.quota_period
    lines = []
    if plan.request_quota:
        lines.append(f"{plan.request_quota:,} request{'s' if plan.request_quota != 1 else ''} / {period}")
    if plan.token_quota:
        lines.append(f"{plan.token_quota:,} token{'s' if plan.token_quota != 1 else ''} / {period}")
    if plan.requests_per_minute:
        count = plan.requests_per_minute
        lines.append(f"{count:,} request{'s' if count != 1 else ''} / minute")
    return lines


def plan_rates(plan: Plan) -> dict[str, str]:
    """The pay-as-you-go rates in whole units of the plan's currency, as exact decimal strings."""
    decimals = plan.currency.decimals
    return {key: rate_text(getattr(plan, name), decimals) for name, key in RATE_KEYS.items()}


def plan_price_amount(plan: Plan) -> str:
    """The price in whole units, as a decimal string ("10.50")."""
    return format_amount(plan.price_minor, plan.currency.decimals)


# --- The model page ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PlanCard:
    """One plan as the model page shows it to one viewer."""

    plan: Plan
    price: str
    terms: str
    limits: list[str] = field(default_factory=list)
    entitlement: Entitlement | None = None
    access_until: datetime | None = None  # with an entitlement: when access ends (None: lifetime)
    credit: str = ""  # pay as you go: the viewer's available credit in the plan's currency, formatted
    has_credit: bool = False

    @property
    def is_entitled(self) -> bool:
        return self.entitlement is not None

    @property
    def is_free(self) -> bool:
        return self.plan.kind == PlanKind.FREE

    @property
    def is_payg(self) -> bool:
        return self.plan.kind == PlanKind.PAY_AS_YOU_GO

    @property
    def is_lifetime(self) -> bool:
        return self.entitlement is not None and self.access_until is None


def _access_until(entitlement: Entitlement) -> datetime | None:
    """When the entitlement's access ends: its period's end, or the end of its grace period when later."""
    if entitlement.ends_at is None:
        return None
    if entitlement.grace_ends_at is not None and entitlement.grace_ends_at > entitlement.ends_at:
        return entitlement.grace_ends_at
    return entitlement.ends_at


def _available_credit(viewer: Any, currencies: set[str]) -> dict[str, int]:
    """The viewer's unreserved prepaid credit per currency (balance minus what calls in flight hold)."""
    if not currencies:
        return {}
    wallets = LedgerAccount.objects.filter(
        kind=AccountKind.BUYER_WALLET, user_id=viewer.pk, currency_id__in=currencies
    ).values_list("currency_id", "balance_minor", "held_minor")
    return {str(code): int(balance) - int(held) for code, balance, held in wallets}


def plans_for_model_page(*, model: AIModel, viewer: Any) -> list[PlanCard]:
    """The model's active plans by position, each with its price and terms in words, and what the viewer already
    has: an active (or in grace) entitlement to it, or for pay as you go their credit in its currency. The caller
    has checked that the viewer may see the model. Three queries for a signed-in viewer, one otherwise."""
    plans = list(
        Plan.objects.filter(model=model, is_active=True).select_related("currency").order_by("position", "id")
    )
    held: dict[int, Entitlement] = {}
    credit: dict[str, int] = {}
    if plans and viewer is not None and viewer.is_authenticated:
        held = {
            e.plan_id: e
            for e in entitlements_active(user_id=viewer.pk, model_id=model.pk, now=timezone.now())
        }
        credit = _available_credit(viewer, {p.currency_id for p in plans if p.kind == PlanKind.PAY_AS_YOU_GO})
    cards = []
    for plan in plans:
        entitlement = held.get(plan.pk)
        available = credit.get(plan.currency_id, 0) if plan.kind == PlanKind.PAY_AS_YOU_GO else 0
        cards.append(
            PlanCard(
                plan=plan,
                price=price_text(plan),
                terms=plan_terms_text(plan),
                limits=plan_limits_text(plan),
                entitlement=entitlement,
                access_until=_access_until(entitlement) if entitlement else None,
                credit=_money(available, plan) if plan.kind == PlanKind.PAY_AS_YOU_GO else "",
                has_credit=available > 0,
            )
        )
    return cards


# --- Lists and editing -------------------------------------------------------------------------------------------
def _may_edit(actor: Any, model: AIModel) -> bool:
    if actor is None or not actor.is_authenticated:
        return False
    return model.creator_id == actor.pk or user_is_catalog_staff(actor)


def plans_public_list(*, viewer: Any, slug: str, include_archived: bool = False) -> list[Plan]:
    """The plans of listing `slug` as `viewer` may see them: active ones, by position; archived ones too for the
    model's creator and staff when asked (`include_archived` is ignored for everyone else). NotFound when the viewer
    may not see the listing."""
    model = model_get_for_viewer(viewer=viewer, slug=slug)
    plans = Plan.objects.filter(model=model).select_related("currency").order_by("position", "id")
    if not (include_archived and _may_edit(viewer, model)):
        plans = plans.filter(is_active=True)
    return list(plans)


def plans_for_editing(*, actor: Any, model: AIModel) -> QuerySet[Plan]:
    """Every plan of `model`, active first then archived, for its creator or catalog staff; NotFound otherwise."""
    if not _may_edit(actor, model):
        raise NotFound("No such model.", code="model_not_found")
    return (
        Plan.objects.filter(model=model).select_related("currency").order_by("-is_active", "position", "id")
    )


def plan_get_for_editing(*, actor: Any, public_id: str, model: AIModel | None = None) -> Plan:
    """The plan `public_id` (of `model`, when given) if `actor` may change it: its model's creator or catalog staff.
    NotFound otherwise, so others cannot tell a plan that exists from one that does not."""
    plan = Plan.objects.select_related("currency", "model").filter(public_id=public_id).first()
    if plan is None or (model is not None and plan.model_id != model.pk) or not _may_edit(actor, plan.model):
        raise NotFound("No such plan.", code="plan_not_found")
    return plan
