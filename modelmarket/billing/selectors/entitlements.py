"""What the inference gateway asks billing: may this user call this model, under which plan's limits and at what
price? One call per (user, model) cache miss in a gateway worker; the answer carries when it stops being true."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db.models import Q
from django.utils import timezone

from modelmarket.billing.models import Entitlement, EntitlementStatus, Plan, PlanKind
from modelmarket.billing.services.ledger import buyer_wallet

# When a buyer holds several plans of one model, the most lasting one decides the limits.
_KIND_RANK: dict[str, int] = {PlanKind.ONE_TIME: 0, PlanKind.SUBSCRIPTION: 1, PlanKind.TIME_PASS: 2}


@dataclass(frozen=True, slots=True)
class PlanLimits:
    plan: str  # the plan's public id
    kind: str
    requests_per_minute: int | None
    request_quota: int | None
    token_quota: int | None
    quota_period: str


@dataclass(frozen=True, slots=True)
class PayAsYouGo:
    currency: str
    decimals: int
    wallet_account_id: int
    per_request: Decimal
    per_1k_input_tokens: Decimal
    per_1k_output_tokens: Decimal
    per_compute_second: Decimal


@dataclass(frozen=True, slots=True)
class GatewayAccess:
    """`limits` None and `has_plans` False: the model sells nothing (the platform's free tier applies to free
    listings). `limits` None and `has_plans` True: the user must buy a plan (402)."""

    has_plans: bool
    limits: PlanLimits | None = None
    pay_as_you_go: PayAsYouGo | None = None
    valid_until: datetime | None = None


def _limits(plan: Plan) -> PlanLimits:
    return PlanLimits(
        plan=plan.public_id,
        kind=plan.kind,
        requests_per_minute=plan.requests_per_minute,
        request_quota=plan.request_quota,
        token_quota=plan.token_quota,
        quota_period=plan.quota_period,
    )


def entitlements_active(*, user_id: int, model_id: int, now: datetime | None = None) -> list[Entitlement]:
    """The user's entitlements to the model that grant access at `now` (active, or in grace)."""
    return entitlements_active_many(user_id=user_id, model_ids=[model_id], now=now)


def entitlements_active_many(
    *, user_id: int, model_ids: Iterable[int], now: datetime | None = None
) -> list[Entitlement]:
    now = now or timezone.now()
    return list(
        Entitlement.objects.filter(
            buyer_id=user_id,
            model_id__in=list(model_ids),
            status__in=[EntitlementStatus.ACTIVE, EntitlementStatus.GRACE],
        )
        .filter(Q(ends_at__isnull=True) | Q(ends_at__gt=now) | Q(grace_ends_at__gt=now))
        .select_related("plan")
    )


def _access_end(entitlement: Entitlement) -> datetime | None:
    if entitlement.ends_at is None:
        return None
    if entitlement.grace_ends_at is not None and entitlement.grace_ends_at > entitlement.ends_at:
        return entitlement.grace_ends_at
    return entitlement.ends_at


def gateway_access(*, user_id: int, model_id: int) -> GatewayAccess:
    """Bought access first (the most lasting plan), then pay as you go, then the model's free plan."""
    return gateway_access_many(user_id=user_id, model_ids=[model_id])[model_id]


def gateway_access_many(*, user_id: int, model_ids: Iterable[int]) -> dict[int, GatewayAccess]:
    """`gateway_access` for several models in a fixed number of queries (the usage summary's quota column)."""
    ids = set(model_ids)
    now = timezone.now()
    held: dict[int, list[Entitlement]] = defaultdict(list)
    for entitlement in entitlements_active_many(user_id=user_id, model_ids=ids, now=now):
        held[entitlement.model_id].append(entitlement)
    plans: dict[int, list[Plan]] = defaultdict(list)
    for plan in Plan.objects.filter(model_id__in=ids, is_active=True).select_related("currency"):
        plans[plan.model_id].append(plan)
    return {model_id: _access(user_id, held[model_id], plans[model_id], now) for model_id in ids}


def _access(user_id: int, held: list[Entitlement], plans: list[Plan], now: datetime) -> GatewayAccess:
    if held:
        best = min(held, key=lambda e: (_KIND_RANK.get(e.plan.kind, 9), -(e.ends_at or now).timestamp()))
        ends = [_access_end(e) for e in held]
        valid_until = None if any(end is None for end in ends) else max(e for e in ends if e is not None)
        return GatewayAccess(has_plans=True, limits=_limits(best.plan), valid_until=valid_until)
    payg = next((plan for plan in plans if plan.kind == PlanKind.PAY_AS_YOU_GO), None)
    if payg is not None:
        wallet = buyer_wallet(user_id=user_id, currency=payg.currency_id)
        return GatewayAccess(
            has_plans=True,
            limits=_limits(payg),
            pay_as_you_go=PayAsYouGo(
                currency=payg.currency_id,
                decimals=payg.currency.decimals,
                wallet_account_id=wallet.pk,
                per_request=payg.price_per_request,
                per_1k_input_tokens=payg.price_per_1k_input_tokens,
                per_1k_output_tokens=payg.price_per_1k_output_tokens,
                per_compute_second=payg.price_per_compute_second,
            ),
        )
    free = next((plan for plan in plans if plan.kind == PlanKind.FREE), None)
    if free is not None:
        return GatewayAccess(has_plans=True, limits=_limits(free))
    return GatewayAccess(has_plans=bool(plans))
