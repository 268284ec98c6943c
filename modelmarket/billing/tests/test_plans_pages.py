"""Plans pages: the creator's plans page (list, create per kind, edit, archive) and the plan cards on the model page."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from modelmarket.accounts.models import User
from modelmarket.accounts.tests.factories import make_user
from modelmarket.billing.models import Entitlement, EntitlementStatus, Plan, PlanKind
from modelmarket.billing.services.plans import plan_archive
from modelmarket.billing.tests.factories import make_plan, published_model
from modelmarket.catalog.services import models as catalog_services

pytestmark = pytest.mark.django_db

SUBSCRIPTION_FORM = {
    "kind": "subscription",
    "name": "Monthly",
    "description": "For steady use.",
    "currency": "USDC",
    "price": "5",
    "interval": "month",
    "requests_per_minute": "60",
    "request_quota": "1000",
    "token_quota": "",
    "quota_period": "month",
    "position": "1",
}


def logged_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def manage_url(slug: str, kind: str | None = None) -> str:
    url = reverse("billing_plans_manage", args=[slug])
    return f"{url}?kind={kind}" if kind else url


def flash(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def field_names(html: str) -> set[str]:
    return set(re.findall(r'name="([a-z0-9_]+)"', html))


def assert_no_inline_script_or_style(html: str) -> None:
    assert " style=" not in html
    assert re.search(r"<script(?![^>]*\bsrc=)", html) is None
    assert " onclick=" not in html
    assert " onchange=" not in html


# --- The creator's plans page -------------------------------------------------------------------------------------
def test_the_plans_page_lists_plans_with_edit_and_archive(creator):
    model = published_model(creator)
    plan = make_plan(model, name="Lifetime", request_quota=1000)
    plan_archive(plan=make_plan(model, name="Old"))

    response = logged_in(creator).get(manage_url(model.slug))

    html = response.content.decode()
    assert response.status_code == 200
    assert "Lifetime" in html
    assert "10.00 USDC once, lifetime access" in html
    assert "1,000 requests / month" in html
    assert "Old" in html
    assert "Archived" in html
    assert f'href="/creator/models/{model.slug}/plans/{plan.public_id}/edit/"' in html
    assert f'action="/creator/models/{model.slug}/plans/{plan.public_id}/archive/"' in html
    archive_form = html.split(f'action="/creator/models/{model.slug}/plans/{plan.public_id}/archive/"')[1]
    assert archive_form.split("</form>")[0].count("csrfmiddlewaretoken") == 1
    assert "1 of at most 10 on sale" in html
    assert_no_inline_script_or_style(html)


def test_the_create_form_shows_only_the_chosen_kinds_fields(creator):
    model = published_model(creator)
    client = logged_in(creator)

    one_time = field_names(client.get(manage_url(model.slug)).content.decode())
    subscription = field_names(client.get(manage_url(model.slug, "subscription")).content.decode())
    time_pass = field_names(client.get(manage_url(model.slug, "time_pass")).content.decode())
    payg_html = client.get(manage_url(model.slug, "payg")).content.decode()
    free = field_names(client.get(manage_url(model.slug, "free")).content.decode())

    rates = {
        "price_per_request",
        "price_per_1k_input_tokens",
        "price_per_1k_output_tokens",
        "price_per_compute_second",
    }
    assert "price" in one_time
    assert not {"interval", "pass_duration"} & one_time
    assert not rates & one_time
    assert {"price", "interval"} <= subscription
    assert "pass_duration" not in subscription
    assert {"price", "pass_duration"} <= time_pass
    assert "interval" not in time_pass
    assert rates <= field_names(payg_html)
    assert "price" not in field_names(payg_html)
    assert "debited from the buyer's prepaid credit" in payg_html
    assert not ({"price", "interval", "pass_duration"} | rates) & free
    assert 'aria-current="page">Pay as you go</a>' in payg_html
    assert 'name="kind" value="payg"' in payg_html
    assert_no_inline_script_or_style(payg_html)


def test_creating_a_subscription_from_the_page(creator):
    model = published_model(creator)

    response = logged_in(creator).post(manage_url(model.slug, "subscription"), SUBSCRIPTION_FORM, follow=True)

    plan = Plan.objects.get(model=model)
    assert (plan.kind, plan.name, plan.price_minor, plan.interval) == (
        "subscription",
        "Monthly",
        5_000_000,
        "month",
    )
    assert (plan.requests_per_minute, plan.request_quota, plan.token_quota, plan.position) == (
        60,
        1000,
        None,
        1,
    )
    assert response.redirect_chain == [(manage_url(model.slug), 302)]
    assert flash(response) == ["“Monthly” is on sale: it shows on the model's page."]


def test_the_tab_decides_the_kind_and_fields_of_other_kinds_are_ignored(creator):
    model = published_model(creator)
    form = {**SUBSCRIPTION_FORM, "kind": "subscription", "name": "Day", "pass_duration": "day", "price": "1"}

    logged_in(creator).post(manage_url(model.slug), {**form, "kind": "time_pass", "interval": "month"})

    plan = Plan.objects.get(model=model)
    assert (plan.kind, plan.pass_duration, plan.interval, plan.price_minor) == (
        "time_pass",
        "day",
        "",
        1_000_000,
    )


def test_creating_a_pay_as_you_go_plan_with_whole_unit_rates(creator):
    model = published_model(creator)
    form = {
        "kind": "payg",
        "name": "Metered",
        "currency": "USDC",
        "price_per_request": "0.001",
        "price_per_1k_output_tokens": "0.5",
        "quota_period": "month",
    }

    response = logged_in(creator).post(manage_url(model.slug, "payg"), form)

    assert response.status_code == 302
    plan = Plan.objects.get(model=model)
    assert (plan.price_per_request, plan.price_per_1k_output_tokens) == (Decimal(1000), Decimal(500_000))
    assert plan.price_per_1k_input_tokens == Decimal(0)


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"price": "5.0000001"}, "price", "more than 6 decimal places"),
        ({"price": "-5"}, "price", "cannot be negative"),
        ({"price": ""}, "price", "A paid plan needs a price above zero"),
        ({"currency": "XYZ"}, "currency", "Select a valid choice"),
        ({"request_quota": "0"}, "request_quota", "greater than or equal to 1"),
    ],
)
def test_bad_input_is_shown_on_its_field_and_nothing_is_written(creator, changes, field, message):
    model = published_model(creator)

    response = logged_in(creator).post(
        manage_url(model.slug, "subscription"), {**SUBSCRIPTION_FORM, **changes}
    )

    assert response.status_code == 400
    assert any(message in error for error in response.context["form"].errors[field])
    assert not Plan.objects.filter(model=model).exists()


def test_a_rate_finer_than_twelve_places_of_a_minor_unit_is_refused_on_its_field(creator):
    model = published_model(creator)
    form = {
        "kind": "payg",
        "name": "Metered",
        "currency": "USDC",
        "price_per_request": "0.0000000000000000001",
    }

    response = logged_in(creator).post(manage_url(model.slug, "payg"), {**form, "quota_period": "month"})

    assert response.status_code == 400
    assert "at most 18 decimal places" in response.context["form"].errors["price_per_request"][0]
    assert not Plan.objects.exists()


def test_a_second_free_plan_is_refused_above_the_form(creator):
    model = published_model(creator)
    make_plan(model, name="Starter", kind=PlanKind.FREE)

    response = logged_in(creator).post(
        manage_url(model.slug, "free"),
        {"kind": "free", "name": "Also free", "currency": "USDC", "quota_period": "month"},
    )

    assert response.status_code == 400
    assert response.context["form"].non_field_errors() == ["This model already has a free plan."]
    assert Plan.objects.filter(model=model).count() == 1


def test_editing_a_plan_prefills_whole_units_and_saves(creator):
    model = published_model(creator)
    plan = make_plan(model, name="Lifetime", price_minor=10_500_000, requests_per_minute=30)
    url = reverse("billing_plan_edit", args=[model.slug, plan.public_id])
    client = logged_in(creator)

    page = client.get(url)
    form = {**page.context["form"].initial, "name": "Forever", "price": "12.25", "requests_per_minute": ""}
    form = {key: "" if value is None else value for key, value in form.items()}
    saved = client.post(url, form)

    assert page.status_code == 200
    assert page.context["form"].initial["price"] == "10.5"
    assert 'name="currency"' not in page.content.decode()
    assert saved.status_code == 302
    plan.refresh_from_db()
    assert (plan.name, plan.price_minor, plan.requests_per_minute, plan.kind) == (
        "Forever",
        12_250_000,
        None,
        "one_time",
    )


def test_editing_cannot_change_the_kind(creator):
    model = published_model(creator)
    plan = make_plan(model, price_minor=10_000_000)
    url = reverse("billing_plan_edit", args=[model.slug, plan.public_id])

    logged_in(creator).post(
        url,
        {
            "kind": "payg",
            "name": "Lifetime",
            "price": "10",
            "quota_period": "month",
            "price_per_request": "1",
        },
    )

    plan.refresh_from_db()
    assert (plan.kind, plan.price_per_request) == ("one_time", Decimal(0))


def test_archiving_from_the_page(creator):
    model = published_model(creator)
    plan = make_plan(model)
    url = reverse("billing_plan_archive", args=[model.slug, plan.public_id])
    client = logged_in(creator)

    assert client.get(url).status_code == 405
    response = client.post(url, follow=True)

    plan.refresh_from_db()
    assert (plan.is_active, plan.archived_at is not None) == (False, True)
    assert flash(response) == ["“Lifetime” is archived: no one can buy it any more."]
    model.refresh_from_db()
    assert model.pricing == "free"
    edit = client.get(reverse("billing_plan_edit", args=[model.slug, plan.public_id]))
    assert "This plan is archived" in edit.content.decode()


def test_plan_forms_need_a_csrf_token(creator):
    model = published_model(creator)
    plan = make_plan(model)
    client = Client(enforce_csrf_checks=True)
    client.force_login(creator)

    created = client.post(manage_url(model.slug, "subscription"), SUBSCRIPTION_FORM)
    archived = client.post(reverse("billing_plan_archive", args=[model.slug, plan.public_id]))

    assert (created.status_code, archived.status_code) == (403, 403)
    assert Plan.objects.filter(model=model, is_active=True).count() == 1


def test_only_the_owner_and_staff_reach_the_plans_pages(creator, buyer, moderator, client):
    public = published_model(creator)
    draft = catalog_services.model_create(
        actor=creator, name="Draft", task="tabular-regression", license="mit"
    )
    plan = make_plan(public)
    outsider = logged_in(make_user("creator"))

    assert client.get(manage_url(public.slug)).status_code == 302  # to the login page
    assert outsider.get(manage_url(public.slug)).status_code == 403
    assert outsider.get(manage_url(draft.slug)).status_code == 404
    assert outsider.get(reverse("billing_plan_edit", args=[public.slug, plan.public_id])).status_code == 403
    assert outsider.post(manage_url(public.slug, "subscription"), SUBSCRIPTION_FORM).status_code == 403
    assert (
        outsider.post(reverse("billing_plan_archive", args=[public.slug, plan.public_id])).status_code == 403
    )
    assert logged_in(moderator).get(manage_url(public.slug)).status_code == 200
    assert logged_in(creator).get(manage_url(draft.slug)).status_code == 200
    other_model = published_model(creator, name="Other")
    assert (
        logged_in(creator)
        .get(reverse("billing_plan_edit", args=[other_model.slug, plan.public_id]))
        .status_code
        == 404
    )
    plan.refresh_from_db()
    assert plan.is_active
    assert not Plan.objects.filter(model=public).exclude(pk=plan.pk).exists()


def test_the_creators_model_pages_link_to_the_plans_page(creator):
    model = published_model(creator)
    client = logged_in(creator)
    link = f'href="{manage_url(model.slug)}"'

    assert link in client.get(reverse("creator_models")).content.decode()
    assert link in client.get(reverse("creator_model_edit", args=[model.slug])).content.decode()


# --- Plan cards on the model page ---------------------------------------------------------------------------------
def model_page(client: Client, slug: str) -> str:
    response = client.get(f"/models/{slug}/")
    assert response.status_code == 200
    return response.content.decode()


def card_html(html: str, plan: Plan) -> str:
    match = re.search(
        rf'<li class="plan-card[^"]*" id="plan-{plan.public_id}">(.*?)</div>\s*</li>', html, re.S
    )
    assert match, f"no card for {plan.name}"
    return match.group(1)


def test_the_model_page_shows_plan_cards_with_a_buy_form(creator, buyer):
    model = published_model(creator)
    plan = make_plan(
        model,
        name="Monthly",
        kind=PlanKind.SUBSCRIPTION,
        price_minor=5_000_000,
        request_quota=1000,
        requests_per_minute=60,
        description="For steady use.",
    )

    html = model_page(logged_in(buyer), model.slug)

    card = card_html(html, plan)
    assert "Coming soon: plans and checkout" not in html
    assert "css/billing-plans.css" in html
    assert '<p class="plan-price">5.00 USDC</p>' in card
    assert "5.00 USDC / month" in card
    assert "For steady use." in card
    assert "<li>1,000 requests / month</li>" in card
    assert "<li>60 requests / minute</li>" in card
    assert f'<form method="post" action="{reverse("billing_order_create")}">' in card
    assert "csrfmiddlewaretoken" in card
    assert f'<input type="hidden" name="plan" value="{plan.public_id}">' in card
    assert ">Buy<" in card


def test_anonymous_visitors_see_the_cards_and_log_in_to_buy(creator, client):
    model = published_model(creator)
    plan = make_plan(model)

    card = card_html(model_page(client, model.slug), plan)

    assert "10.00 USDC once, lifetime access" in card
    assert f'href="/accounts/login/?next=/models/{model.slug}/"' in card
    assert "Log in to buy" in card
    assert "<form" not in card


def test_an_entitled_buyer_sees_until_when(creator, buyer):
    model = published_model(creator)
    lifetime = make_plan(model, name="Lifetime")
    day_pass = make_plan(model, name="Day", kind=PlanKind.TIME_PASS, price_minor=1_000_000)
    now = timezone.now()
    Entitlement.objects.create(
        buyer=buyer, model=model, plan=lifetime, status=EntitlementStatus.ACTIVE, starts_at=now, ends_at=None
    )
    ends = now + timedelta(hours=5)
    Entitlement.objects.create(
        buyer=buyer, model=model, plan=day_pass, status=EntitlementStatus.ACTIVE, starts_at=now, ends_at=ends
    )

    html = model_page(logged_in(buyer), model.slug)

    lifetime_card, pass_card = card_html(html, lifetime), card_html(html, day_pass)
    assert "You have lifetime access." in lifetime_card
    assert "<form" not in lifetime_card
    assert f'You have access until <time datetime="{timezone.localtime(ends).isoformat()}">' in pass_card
    assert ">Extend<" in pass_card


def test_pay_as_you_go_and_free_cards(creator, buyer):
    model = published_model(creator)
    payg = make_plan(model, name="Metered", kind=PlanKind.PAY_AS_YOU_GO, price_per_request=1000)
    free = make_plan(model, name="Starter", kind=PlanKind.FREE, request_quota=100, quota_period="day")

    html = model_page(logged_in(buyer), model.slug)

    payg_card, free_card = card_html(html, payg), card_html(html, free)
    assert "0.001 USDC per request" in payg_card
    assert "Pay as you go" in payg_card
    assert "you have none in USDC yet" in payg_card
    assert f'href="{reverse("billing_wallet")}?currency=USDC#top-up">Top up credit</a>' in payg_card
    assert "<form" not in payg_card
    assert "Free — call it with your API key." in free_card
    assert "100 requests / day" in free_card
    assert "<form" not in free_card


def test_the_owner_sees_a_link_to_manage_plans_instead_of_buying(creator):
    model = published_model(creator)
    plan = make_plan(model)

    html = model_page(logged_in(creator), model.slug)

    assert f'href="{manage_url(model.slug)}">Manage plans</a>' in html
    assert "<form" not in card_html(html, plan)


def test_archived_plans_leave_the_model_page(creator, client):
    model = published_model(creator)
    plan = plan_archive(plan=make_plan(model, name="Gone"))

    html = model_page(client, model.slug)

    assert plan.public_id not in html
    assert "No plans: this model is free to call with your API key" in html
