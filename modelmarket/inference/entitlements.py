"""Who may call which listing, with which limits and at what price.

A listing's creator may always call their own models, without limits. Otherwise billing decides
(`billing.selectors.entitlements.gateway_access`): a bought plan (lifetime, subscription, time pass) gives its
limits; a pay-as-you-go plan gives its limits and a price (the gateway reserves the worst-case cost from the
buyer's credit before the call); a free plan gives its limits. A free listing that sells no plan at all gets the
platform's free tier. Anything else answers 402 `entitlement_required`. The gateway caches grants per (user,
listing) until the gateway generation moves (every billing change bumps it) or `valid_until` passes."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from decimal import ROUND_CEILING, Decimal
from typing import Any, Literal

from django.conf import settings

from modelmarket.billing.money import round_minor
from modelmarket.billing.selectors.entitlements import GatewayAccess, gateway_access
from modelmarket.catalog.vocabulary import Pricing
from modelmarket.core.exceptions import PaymentRequired
from modelmarket.inference.providers.base import Usage
from modelmarket.inference.selectors import Listing

QuotaPeriod = Literal["day", "month"]


@dataclass(frozen=True, slots=True)
class Price:
    """Pay-as-you-go rates. Per-unit rates are Decimals in minor units; a call's cost is rounded once."""

    currency: str
    decimals: int
    wallet_account_id: int
    per_request_minor: Decimal = Decimal(0)
    per_1k_input_tokens_minor: Decimal = Decimal(0)
    per_1k_output_tokens_minor: Decimal = Decimal(0)
    per_compute_second_minor: Decimal = Decimal(0)

    def exact_cost_minor(self, usage: Usage) -> Decimal:
        return (
            self.per_request_minor
            + self.per_1k_input_tokens_minor * usage.input_tokens / 1000
            + self.per_1k_output_tokens_minor * usage.output_tokens / 1000
            + self.per_compute_second_minor * usage.compute_ms / 1000
        )

    def cost_minor(self, usage: Usage) -> int:
        """What a call that used `usage` costs, rounded half up once (when it is booked)."""
        return round_minor(self.exact_cost_minor(usage))

    def worst_case_minor(self, usage: Usage) -> int:
        """The most a call bounded by `usage` can cost: what is reserved before it runs (rounded up)."""
        return int(self.exact_cost_minor(usage).to_integral_value(rounding=ROUND_CEILING))

    def as_json(self) -> dict[str, Any]:
        """The price as JSON (rates as decimal strings, exact), kept with a long job to charge it at its end."""
        return {
            name: str(value) if isinstance(value, Decimal) else value for name, value in asdict(self).items()
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Price:
        return cls(
            currency=str(data["currency"]),
            decimals=int(data["decimals"]),
            wallet_account_id=int(data["wallet_account_id"]),
            **{name: Decimal(str(data.get(name, 0))) for name in _RATES},
        )


_RATES = (
    "per_request_minor",
    "per_1k_input_tokens_minor",
    "per_1k_output_tokens_minor",
    "per_compute_second_minor",
)


@dataclass(frozen=True, slots=True)
class Grant:
    """What one user may do with one listing. None means no limit of that kind."""

    plan: str  # "owner", "free", or the billing plan's id
    requests_per_minute: int | None = None
    request_quota: int | None = None
    token_quota: int | None = None
    quota_period: QuotaPeriod = "day"
    price: Price | None = None
    valid_until: datetime | None = None  # when the access behind it ends (a pass, a subscription period)


def entitlement_resolve(*, user_id: int, listing: Listing) -> Grant:
    """The caller's grant for `listing`; raises PaymentRequired when they have none."""
    if user_id == listing.creator_id:
        return Grant(plan="owner")
    access = gateway_access(user_id=user_id, model_id=listing.model_id)
    return grant_from_access(access, slug=listing.slug, pricing=listing.pricing)


def grant_from_access(access: GatewayAccess, *, slug: str, pricing: str) -> Grant:
    """The grant billing's answer amounts to, for someone who does not own the listing."""
    if access.limits is not None:
        limits, payg = access.limits, access.pay_as_you_go
        return Grant(
            plan=limits.plan,
            requests_per_minute=limits.requests_per_minute,
            request_quota=limits.request_quota,
            token_quota=limits.token_quota,
            quota_period="month" if limits.quota_period == "month" else "day",
            price=None
            if payg is None
            else Price(
                currency=payg.currency,
                decimals=payg.decimals,
                wallet_account_id=payg.wallet_account_id,
                per_request_minor=payg.per_request,
                per_1k_input_tokens_minor=payg.per_1k_input_tokens,
                per_1k_output_tokens_minor=payg.per_1k_output_tokens,
                per_compute_second_minor=payg.per_compute_second,
            ),
            valid_until=access.valid_until,
        )
    if not access.has_plans and pricing == Pricing.FREE:
        return Grant(
            plan="free",
            requests_per_minute=settings.GATEWAY_FREE_REQUESTS_PER_MINUTE or None,
            request_quota=settings.GATEWAY_FREE_REQUESTS_PER_DAY or None,
            token_quota=settings.GATEWAY_FREE_TOKENS_PER_DAY or None,
            quota_period="day",
        )
    raise PaymentRequired(
        f"Calling {slug} needs a plan: choose one on the model's page.",
        code="entitlement_required",
        details={"model": slug},
    )
