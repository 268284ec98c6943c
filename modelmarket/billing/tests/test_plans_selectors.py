"""Plan selectors: terms in words, what the model page shows a viewer, and who may read plans for editing."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from modelmarket.accounts.models import User
from modelmarket.accounts.tests.factories import make_user
from modelmarket.billing.models import (
    Entitlement,
    EntitlementStatus,
    Plan,
    PlanKind,
)
from modelmarket.billing.selectors.plans import (
    plan_get_for_editing,
    plan_limits_text,
    plan_terms_text,
    plans_for_editing,
    plans_for_model_page,
    rate_text,
)
from modelmarket.billing.services.ledger import (
    buyer_wallet,
    credit_hold,
)
from modelmarket.billing.services.plans import plan_archive
from modelmarket.billing.tests.factories import make_plan, published_model, top_up
from modelmarket.core.exceptions import NotFound

pytestmark = pytest.mark.django_db


def entitle(buyer: User, plan: Plan, **fields: object) -> Entitlement:
    now = timezone.now()
    values: dict[str, object] = {
        "status": EntitlementStatus.ACTIVE,
        "starts_at": now - timedelta(days=1),
        "ends_at": now + timedelta(days=10),
    }
    values.update(fields)
    return Entitlement.objects.create(buyer=buyer, model_id=plan.model_id, plan=plan, **values)


# --- Words --------------------------------------------------------------------------------------------------------
def test_terms_in_words_for_every_kind(creator):
    model = published_model(creator)

    assert plan_terms_text(make_plan(model, price_minor=10_000_000)) == "10.00 USDC once, lifetime access"
    assert (
        plan_terms_text(make_plan(model, kind=PlanKind.SUBSCRIPTION, price_minor=5_000_000))
        == "5.00 USDC / month"
    )
    assert (
        plan_terms_text(make_plan(model, kind=PlanKind.SUBSCRIPTION, price_minor=50_000_000, interval="year"))
        == "50.00 USDC / year"
    )
    assert (
        plan_terms_text(make_plan(model, kind=PlanKind.TIME_PASS, price_minor=1_000_000, pass_duration="day"))
        == "1.00 USDC per day pass"
    )
    assert (
        plan_terms_text(
            make_plan(model, kind=PlanKind.TIME_PASS, currency="USD", price_minor=250, pass_duration="hour")
        )
        == "2.50 USD per hour pass"
    )
    payg = make_plan(
        model, kind=PlanKind.PAY_AS_YOU_GO, price_per_request=1000, price_per_1k_output_tokens=500_000
    )
    assert plan_terms_text(payg) == "0.001 USDC per request + 0.5 USDC per 1k output tokens"
    assert plan_terms_text(make_plan(model, kind=PlanKind.FREE)) == "Free"


def test_rates_are_shown_in_whole_units_exactly():
    assert rate_text(Decimal("0.000000000001"), 6) == "0.000000000000000001"
    assert rate_text(Decimal("0.000000000001"), 18) == "0.000000000000000000000000000001"
    assert rate_text(Decimal("123456789012345678.123456789012"), 6) == "123456789012.345678123456789012"
    assert rate_text(Decimal("1000.000000000000"), 6) == "0.001"
    assert rate_text(Decimal("150"), 2) == "1.5"
    assert rate_text(Decimal("0E-12"), 6) == "0"


def test_limits_in_words(creator):
    model = published_model(creator)
    plan = make_plan(model, request_quota=1000, token_quota=50_000, requests_per_minute=1, quota_period="day")

    assert plan_limits_text(plan) == ["1,000 requests / day", "50,000 tokens / day", "1 request / minute"]
    assert plan_limits_text(make_plan(model)) == []


# --- The model page -----------------------------------------------------------------------------------------------
def test_model_page_lists_active_plans_by_position_with_prices(creator, buyer):
    model = published_model(creator)
    second = make_plan(model, name="Monthly", kind=PlanKind.SUBSCRIPTION, price_minor=5_000_000, position=2)
    first = make_plan(model, name="Lifetime", position=1)
    plan_archive(plan=make_plan(model, name="Old", position=0))

    cards = plans_for_model_page(model=model, viewer=buyer)

    assert [card.plan.pk for card in cards] == [first.pk, second.pk]
    assert [(card.price, card.terms) for card in cards] == [
        ("10.00 USDC", "10.00 USDC once, lifetime access"),
        ("5.00 USDC", "5.00 USDC / month"),
    ]
    assert not any(card.is_entitled for card in cards)


def test_model_page_knows_what_the_viewer_already_holds(creator, buyer):
    model = published_model(creator)
    lifetime = make_plan(model, name="Lifetime")
    monthly = make_plan(model, name="Monthly", kind=PlanKind.SUBSCRIPTION, price_minor=5_000_000)
    day_pass = make_plan(model, name="Day", kind=PlanKind.TIME_PASS, price_minor=1_000_000)
    week_pass = make_plan(
        model, name="Week", kind=PlanKind.TIME_PASS, price_minor=3_000_000, pass_duration="week"
    )
    now = timezone.now()
    entitle(buyer, lifetime, ends_at=None)
    grace = entitle(
        buyer,
        monthly,
        status=EntitlementStatus.GRACE,
        ends_at=now - timedelta(hours=1),
        grace_ends_at=now + timedelta(days=2),
    )
    entitle(buyer, day_pass, ends_at=now - timedelta(minutes=1))  # over
    entitle(buyer, week_pass, status=EntitlementStatus.REVOKED)

    cards = {card.plan.name: card for card in plans_for_model_page(model=model, viewer=buyer)}

    assert (cards["Lifetime"].is_entitled, cards["Lifetime"].is_lifetime) == (True, True)
    assert (cards["Monthly"].is_entitled, cards["Monthly"].access_until) == (True, grace.grace_ends_at)
    assert not cards["Day"].is_entitled
    assert not cards["Week"].is_entitled
    others = plans_for_model_page(model=model, viewer=make_user("buyer"))
    assert not any(card.is_entitled for card in others)


def test_pay_as_you_go_card_shows_the_viewers_available_credit(creator, buyer):
    model = published_model(creator)
    make_plan(model, name="Metered", kind=PlanKind.PAY_AS_YOU_GO, price_per_request=1000)
    make_plan(model, name="Metered SOL", kind=PlanKind.PAY_AS_YOU_GO, currency="SOL", price_per_request=10)
    top_up(buyer, currency="USDC", amount_minor=12_500_000)
    credit_hold(account_id=buyer_wallet(user_id=buyer.pk, currency="USDC").pk, amount_minor=500_000)

    cards = {card.plan.name: card for card in plans_for_model_page(model=model, viewer=buyer)}

    assert (cards["Metered"].has_credit, cards["Metered"].credit) == (True, "12.00 USDC")
    assert (cards["Metered SOL"].has_credit, cards["Metered SOL"].credit) == (False, "0.00 SOL")


def test_anonymous_viewers_get_the_plans_in_one_query(creator, django_assert_num_queries):
    from django.contrib.auth.models import AnonymousUser

    model = published_model(creator)
    make_plan(model)
    make_plan(model, kind=PlanKind.PAY_AS_YOU_GO, price_per_request=1)

    with django_assert_num_queries(1):
        cards = plans_for_model_page(model=model, viewer=AnonymousUser())

    assert [card.has_credit for card in cards] == [False, False]


def test_signed_in_viewers_get_the_plans_in_three_queries(creator, buyer, django_assert_num_queries):
    model = published_model(creator)
    for position in range(4):
        make_plan(model, position=position)
    make_plan(model, kind=PlanKind.PAY_AS_YOU_GO, price_per_request=1)

    with django_assert_num_queries(3):
        plans_for_model_page(model=model, viewer=buyer)


# --- Editing ------------------------------------------------------------------------------------------------------
def test_owner_and_staff_read_every_plan_for_editing_others_get_not_found(creator, moderator, buyer):
    model = published_model(creator)
    active = make_plan(model, name="Active")
    archived = plan_archive(plan=make_plan(model, name="Archived"))

    assert list(plans_for_editing(actor=creator, model=model)) == [active, archived]
    assert list(plans_for_editing(actor=moderator, model=model)) == [active, archived]
    with pytest.raises(NotFound):
        plans_for_editing(actor=buyer, model=model)
    assert plan_get_for_editing(actor=creator, public_id=active.public_id) == active
    with pytest.raises(NotFound):
        plan_get_for_editing(actor=buyer, public_id=active.public_id)
    with pytest.raises(NotFound):
        plan_get_for_editing(actor=creator, public_id="plan_missing")
    with pytest.raises(NotFound):
        plan_get_for_editing(
            actor=creator, public_id=active.public_id, model=published_model(creator, name="Other")
        )
