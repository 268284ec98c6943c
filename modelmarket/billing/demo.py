"""Plans on the demo catalog, so a new user can buy access in the sandbox and call a paid model minutes after
`make run`: one model sold every way (lifetime, monthly, a day pass), one pay as you go, one free with a quota.
The other demo models sell nothing and stay on the platform's free tier."""

from __future__ import annotations

from dataclasses import dataclass

from modelmarket.billing.models import PassDuration, Plan, PlanKind
from modelmarket.billing.services.plans import PlanTerms, plan_create
from modelmarket.catalog.models import AIModel

USDC = 1_000_000  # minor units of one USDC


@dataclass(frozen=True)
class DemoPlans:
    slug: str
    plans: tuple[PlanTerms, ...]


DEMO_PLANS = (
    DemoPlans(
        "wine-cultivar-classifier",
        (
            PlanTerms(
                name="Lifetime",
                kind=PlanKind.ONE_TIME,
                price_minor=5 * USDC,
                position=0,
                description="Pay once, call it for ever.",
                requests_per_minute=120,
            ),
            PlanTerms(
                name="Monthly",
                kind=PlanKind.SUBSCRIPTION,
                interval="month",
                price_minor=2 * USDC,
                position=1,
                request_quota=10_000,
                quota_period="month",
            ),
            PlanTerms(
                name="Day pass",
                kind=PlanKind.TIME_PASS,
                pass_duration=PassDuration.DAY,
                price_minor=USDC // 2,
                position=2,
                request_quota=1_000,
                quota_period="day",
            ),
        ),
    ),
    DemoPlans(
        "breast-cancer-diagnosis-classifier",
        (
            PlanTerms(
                name="Pay as you go",
                kind=PlanKind.PAY_AS_YOU_GO,
                price_per_request=1000,
                description="0.001 USDC per call, from prepaid credit.",
            ),
        ),
    ),
    DemoPlans(
        "diabetes-progression-regressor",
        (
            PlanTerms(
                name="Free", kind=PlanKind.FREE, request_quota=500, quota_period="day", requests_per_minute=30
            ),
        ),
    ),
)


def demo_plans_load() -> list[str]:
    """Create the demo plans on models that have none yet (idempotent); returns the slugs that got plans."""
    loaded = []
    for entry in DEMO_PLANS:
        model = AIModel.objects.filter(slug=entry.slug).first()
        if model is None or Plan.objects.filter(model=model).exists():
            continue
        for terms in entry.plans:
            plan_create(model=model, terms=terms)
        loaded.append(entry.slug)
    return loaded
