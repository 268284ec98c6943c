"""The buyer's subscriptions page (`/account/subscriptions/`) and API (`/api/v1/subscriptions`): own entitlements
only, the Helio renewal link shown only when it is https on hel.io, renewal by a new order for passes, cancel at
period end and resume (POST with CSRF); anyone else's entitlement is 404 and stays as it was."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from modelmarket.accounts.tests.factories import make_user
from modelmarket.billing.models import Entitlement, EntitlementStatus, PlanKind
from modelmarket.billing.tests.factories import make_plan
from modelmarket.billing.tests.test_subscriptions_support import (
    NOW,
    helio_settings,
    order_paid,
    pending_order,
    subscription_plan,
)

pytestmark = pytest.mark.django_db

HELIO_LINK = "https://app.hel.io/charge/4c1f0e2a-renew"


@pytest.fixture(autouse=True)
def _settings(settings):
    helio_settings(settings)


@pytest.fixture
def buyer():
    return make_user("buyer")


@pytest.fixture
def helio_subscription(buyer):
    entitlement = order_paid(pending_order(subscription_plan(), buyer), paid_at=NOW)
    Entitlement.objects.filter(pk=entitlement.pk).update(
        helio_subscription_id="sub_1", next_charge_url=HELIO_LINK
    )
    return Entitlement.objects.select_related("plan", "model").get(pk=entitlement.pk)


def logged_in(user, **kwargs):
    client = Client(**kwargs)
    client.force_login(user)
    return client


def test_the_page_needs_a_login():
    response = Client().get(reverse("billing_subscriptions"))
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_the_page_lists_only_the_buyers_own_entitlements_with_the_helio_renewal_link(
    buyer, helio_subscription
):
    someone_else = order_paid(pending_order(subscription_plan(name="Someone else's plan")), paid_at=NOW)
    response = logged_in(buyer).get(reverse("billing_subscriptions"))
    assert response.status_code == 200
    page = response.content.decode()
    assert helio_subscription.model.name in page
    assert "Pro monthly" in page
    assert f'href="{HELIO_LINK}"' in page
    assert "Renew on Helio" in page
    assert "Someone else&#x27;s plan" not in page
    assert someone_else.public_id not in page
    assert reverse("billing_subscription_cancel", args=[helio_subscription.public_id]) in page
    assert 'name="csrfmiddlewaretoken"' in page


@pytest.mark.parametrize(
    "url",
    [
        "https://app.hel.io.evil.example/charge/x",
        "http://app.hel.io/charge/x",
        "https://evilhel.io/charge/x",
        "javascript:alert(1)",
    ],
)
def test_a_renewal_link_that_is_not_https_on_hel_io_is_never_shown(buyer, helio_subscription, url):
    Entitlement.objects.filter(pk=helio_subscription.pk).update(next_charge_url=url)
    page = logged_in(buyer).get(reverse("billing_subscriptions")).content.decode()
    assert url not in page
    assert "Renew on Helio" not in page
    assert "Helio emails you the renewal link" in page


def test_a_time_pass_is_renewed_by_ordering_the_same_plan_again(buyer):
    plan = make_plan(name="Day pass", kind=PlanKind.TIME_PASS, pass_duration="day", price_minor=1_000_000)
    order_paid(pending_order(plan, buyer), paid_at=NOW)
    page = logged_in(buyer).get(reverse("billing_subscriptions")).content.decode()
    form = re.search(
        rf'<form method="post" action="{reverse("billing_order_create")}">(.*?)</form>', page, re.S
    )
    assert form is not None
    assert f'name="plan" value="{plan.public_id}"' in form.group(1)
    assert "Buy another pass" in form.group(1)
    assert "Cancel at period end" not in page


def test_cancel_at_period_end_and_resume_from_the_page(buyer, helio_subscription):
    client = logged_in(buyer)
    response = client.post(reverse("billing_subscription_cancel", args=[helio_subscription.public_id]))
    assert response.status_code == 302
    assert response["Location"] == reverse("billing_subscriptions")
    helio_subscription.refresh_from_db()
    assert helio_subscription.cancel_at_period_end is True
    assert helio_subscription.status == EntitlementStatus.ACTIVE
    page = client.get(reverse("billing_subscriptions")).content.decode()
    assert "Ends at period end" in page
    assert "Renew on Helio" not in page  # cancelled: no renewal offered until resumed
    assert reverse("billing_subscription_resume", args=[helio_subscription.public_id]) in page

    client.post(reverse("billing_subscription_resume", args=[helio_subscription.public_id]))
    helio_subscription.refresh_from_db()
    assert helio_subscription.cancel_at_period_end is False


def test_cancelling_someone_elses_subscription_is_404_and_changes_nothing(helio_subscription):
    intruder = make_user("buyer")
    response = logged_in(intruder).post(
        reverse("billing_subscription_cancel", args=[helio_subscription.public_id])
    )
    assert response.status_code == 404
    helio_subscription.refresh_from_db()
    assert helio_subscription.cancel_at_period_end is False


def test_cancelling_needs_the_csrf_token(buyer, helio_subscription):
    client = logged_in(buyer, enforce_csrf_checks=True)
    response = client.post(reverse("billing_subscription_cancel", args=[helio_subscription.public_id]))
    assert response.status_code == 403
    helio_subscription.refresh_from_db()
    assert helio_subscription.cancel_at_period_end is False


def test_cancelling_is_a_post(buyer, helio_subscription):
    response = logged_in(buyer).get(
        reverse("billing_subscription_cancel", args=[helio_subscription.public_id])
    )
    assert response.status_code == 405


def test_api_lists_own_entitlements(buyer, helio_subscription, api_client_for):
    order_paid(pending_order(subscription_plan()), paid_at=NOW)  # someone else's
    response = api_client_for(buyer).get("/api/v1/subscriptions")
    assert response.status_code == 200
    body = response.json()
    assert body["next_cursor"] is None
    assert [item["id"] for item in body["items"]] == [helio_subscription.public_id]
    item = body["items"][0]
    assert item["status"] == "active"
    assert item["plan"]["kind"] == "subscription"
    assert item["plan"]["interval"] == "month"
    assert item["renewal"] == "helio"
    assert item["renewal_url"] == HELIO_LINK
    assert item["cancellable"] is True
    assert item["cancel_at_period_end"] is False
    assert item["model"]["slug"] == helio_subscription.model.slug


def test_api_cancel_and_resume(buyer, helio_subscription, api_client_for):
    client = api_client_for(buyer)
    response = client.post(f"/api/v1/subscriptions/{helio_subscription.public_id}/cancel")
    assert response.status_code == 200
    assert (response.json()["cancel_at_period_end"], response.json()["renewal"]) == (True, "none")
    response = client.post(f"/api/v1/subscriptions/{helio_subscription.public_id}/resume")
    assert response.status_code == 200
    assert (response.json()["cancel_at_period_end"], response.json()["renewal"]) == (False, "helio")


def test_api_cancel_of_someone_elses_is_404_and_changes_nothing(helio_subscription, api_client_for):
    response = api_client_for(make_user("buyer")).post(
        f"/api/v1/subscriptions/{helio_subscription.public_id}/cancel"
    )
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "subscription_not_found"
    helio_subscription.refresh_from_db()
    assert helio_subscription.cancel_at_period_end is False


def test_api_cancel_of_something_that_is_not_a_running_subscription_is_409(buyer, api_client_for):
    lifetime = order_paid(pending_order(make_plan(), buyer), paid_at=NOW)
    response = api_client_for(buyer).post(f"/api/v1/subscriptions/{lifetime.public_id}/cancel")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "subscription_not_running"
    lifetime.refresh_from_db()
    assert lifetime.cancel_at_period_end is False


def test_api_cancel_needs_the_manage_scope(buyer, helio_subscription, api_client_for):
    response = api_client_for(buyer, scopes=("read",)).post(
        f"/api/v1/subscriptions/{helio_subscription.public_id}/cancel"
    )
    assert response.status_code == 403
    helio_subscription.refresh_from_db()
    assert helio_subscription.cancel_at_period_end is False
