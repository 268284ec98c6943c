"""Who may call which listing, with which limits and at what price: the interface the billing issue fills.

Until billing lands, `entitlement_resolve` grants a listing's creator unlimited use of their own models and
everyone the free tier of free public listings; paid listings answer 402 `entitlement_required`. The gateway caches
grants per (user, listing) and drops them when the gateway generation moves (`core.generation`)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from django.conf import settings

from modelmarket.catalog.vocabulary import Pricing
from modelmarket.core.exceptions import PaymentRequired
from modelmarket.inference.providers.base import Usage
from modelmarket.inference.selectors import Listing

QuotaPeriod = Literal["day", "month"]


@dataclass(frozen=True, slots=True)
class Price:
    """Pay-as-you-go rates. Per-unit rates are Decimals in minor units; a call's cost is rounded once."""

    currency: str
    per_request_minor: int = 0
    per_1k_input_tokens_minor: Decimal = Decimal(0)
    per_1k_output_tokens_minor: Decimal = Decimal(0)
    per_compute_second_minor: Decimal = Decimal(0)

    def cost_minor(self, usage: Usage) -> int:
        exact = (
            self.per_request_minor
            + self.per_1k_input_tokens_minor * usage.input_tokens / 1000
            + self.per_1k_output_tokens_minor * usage.output_tokens / 1000
            + self.per_compute_second_minor * usage.compute_ms / 1000
        )
        return int(exact.to_integral_value(rounding="ROUND_HALF_UP"))


@dataclass(frozen=True, slots=True)
class Grant:
    """What one user may do with one listing. None means no limit of that kind."""

    plan: str  # "owner", "free", or the billing plan's id
    requests_per_minute: int | None = None
    request_quota: int | None = None
    token_quota: int | None = None
    quota_period: QuotaPeriod = "day"
    price: Price | None = None


def entitlement_resolve(*, user_id: int, listing: Listing) -> Grant:
    """The caller's grant for `listing`; raises PaymentRequired when they have none."""
    if user_id == listing.creator_id:
        return Grant(plan="owner")
    if listing.pricing == Pricing.FREE:
        return Grant(
            plan="free",
            requests_per_minute=settings.GATEWAY_FREE_REQUESTS_PER_MINUTE or None,
            request_quota=settings.GATEWAY_FREE_REQUESTS_PER_DAY or None,
            token_quota=settings.GATEWAY_FREE_TOKENS_PER_DAY or None,
            quota_period="day",
        )
    raise PaymentRequired(
        f"Calling {listing.slug} needs a plan: choose one on the model's page.",
        code="entitlement_required",
        details={"model": listing.slug},
    )
