"""Checkout pages: the order form's POST (redirects only to our sandbox page or the stored Helio page; refusals go
back with a message and write nothing), the orders list, an order's page with resume and cancel, and its polling."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from modelmarket.accounts.tests.factories import make_user
from modelmarket.billing.gateways.helio import gateway as helio_gateway
from modelmarket.billing.gateways.helio.client import HelioClient
from modelmarket.billing.gateways.sandbox import SandboxGateway
from modelmarket.billing.models import Order, OrderStatus, PlanKind
from modelmarket.billing.services.plans import plan_archive
from modelmarket.billing.tests.factories import make_order, make_plan, published_model
from modelmarket.billing.tests.helio_fake import (
    HELIO_TEST_API_BASE,
    HELIO_TEST_APP_BASE,
    HELIO_TEST_PAY_BASE,
    HELIO_TEST_PUBLIC_KEY,
    HELIO_TEST_SECRET_KEY,
    HELIO_TEST_WALLET_ID,
    FakeHelio,
)
from modelmarket.core.exceptions import UpstreamError

pytestmark = pytest.mark.django_db

CREATE = "/billing/orders/new"
MODEL_PAGE = "http://testserver/models/wine-quality/"


@pytest.fixture(autouse=True)
def _sandbox(settings):
    settings.PAYMENT_GATEWAY = "sandbox"
    settings.SITE_URL = "http://testserver"


@pytest.fixture
def browser(buyer):
    client = Client()
    client.force_login(buyer)
    return client


def _messages(response) -> list[str]:
    return [str(message) for message in response.context["messages"]] if response.context else []


# --- Creating from a form -----------------------------------------------------------------------------------------
def test_buying_a_plan_redirects_to_the_sandbox_checkout(browser, buyer):
    plan = make_plan()
    response = browser.post(CREATE, {"plan": plan.public_id})

    order = Order.objects.get()
    assert (order.buyer, order.plan, order.status) == (buyer, plan, OrderStatus.PENDING)
    assert response.status_code == 302
    assert response["Location"] == f"/billing/sandbox/pay/{order.public_id}"


def test_a_top_up_form_creates_a_top_up_order(browser):
    response = browser.post(CREATE, {"top_up_currency": "SOL", "top_up_amount": "0.5"})
    order = Order.objects.get()
    assert (order.kind, order.currency_id, order.amount_minor) == ("top_up", "SOL", 500_000_000)
    assert response["Location"] == f"/billing/sandbox/pay/{order.public_id}"


def test_the_form_is_post_only_and_needs_a_login(client, browser):
    assert browser.get(CREATE).status_code == 405
    response = client.post(CREATE, {"plan": make_plan().public_id})
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    assert not Order.objects.exists()


def test_the_form_needs_the_csrf_token(buyer):
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(buyer)
    assert strict.post(CREATE, {"plan": make_plan().public_id}).status_code == 403
    assert not Order.objects.exists()


def test_an_unknown_plan_is_404(browser):
    assert browser.post(CREATE, {"plan": "plan_nope"}).status_code == 404
    assert browser.post(CREATE, {"plan": "x" * 500}).status_code == 404
    assert not Order.objects.exists()


@pytest.mark.parametrize(
    ("form", "message"),
    [
        (
            {"top_up_currency": "USDC", "top_up_amount": "1.0000001"},
            "1.0000001 has more than 6 decimal places for this currency.",
        ),
        ({"top_up_currency": "USDC", "top_up_amount": "-3"}, "Amounts cannot be negative."),
        ({"top_up_currency": "USDC", "top_up_amount": "0"}, "A top-up must be more than zero."),
        ({"top_up_currency": "DOGE", "top_up_amount": "3"}, "Unknown currency 'DOGE'."),
        ({"top_up_currency": "USDC", "top_up_amount": ""}, "Enter how much credit to buy."),
        ({}, "Choose a plan or an amount of credit."),
    ],
)
def test_refusals_go_back_to_the_referring_page_with_the_reason(browser, form, message):
    response = browser.post(CREATE, form, HTTP_REFERER=MODEL_PAGE)
    assert response.status_code == 302
    assert response["Location"] == MODEL_PAGE
    assert _messages(browser.get("/account/orders/")) == [message]
    assert not Order.objects.exists()


@pytest.mark.parametrize(
    ("plan_maker", "message"),
    [
        (lambda buyer: plan_archive(plan=make_plan()), "This plan is no longer sold."),
        (
            lambda buyer: make_plan(kind=PlanKind.FREE, name="Free"),
            "Free plans are not bought: call the model with your API key.",
        ),
        (
            lambda buyer: make_plan(model=published_model(owner=buyer)),
            "You cannot buy a plan of your own model.",
        ),
    ],
)
def test_plans_that_cannot_be_bought_come_back_with_the_reason(creator, plan_maker, message):
    browser = Client()
    browser.force_login(creator)
    plan = plan_maker(creator)
    response = browser.post(CREATE, {"plan": plan.public_id}, HTTP_REFERER=MODEL_PAGE)
    assert response["Location"] == MODEL_PAGE
    assert _messages(browser.get("/account/orders/")) == [message]
    assert not Order.objects.exists()


@pytest.mark.parametrize(
    "elsewhere", ["https://evil.example/phish", "//evil.example/", "javascript:alert(1)"]
)
def test_a_refusal_never_sends_the_buyer_off_site(browser, elsewhere):
    response = browser.post(
        CREATE, {"plan": plan_archive(plan=make_plan()).public_id, "next": elsewhere}, HTTP_REFERER=elsewhere
    )
    assert response["Location"] == "/account/orders/"


def test_a_same_site_next_is_honoured(browser):
    response = browser.post(
        CREATE, {"top_up_currency": "USDC", "top_up_amount": "-1", "next": "/account/credit/"}
    )
    assert response["Location"] == "/account/credit/"


def test_a_form_idempotency_key_makes_a_double_submit_one_order(browser):
    plan = make_plan()
    first = browser.post(CREATE, {"plan": plan.public_id, "idempotency_key": "form-123"})
    second = browser.post(CREATE, {"plan": plan.public_id, "idempotency_key": "form-123"})
    assert first["Location"] == second["Location"]
    assert Order.objects.count() == 1


def test_the_model_pages_buy_form_carries_a_fresh_idempotency_key_so_a_double_click_is_one_order(browser):
    plan = make_plan()
    html = browser.get(f"/models/{plan.model.slug}/").content.decode()
    key = re.search(r'name="idempotency_key" value="([0-9a-f]{32})"', html)
    assert key is not None
    again = browser.get(f"/models/{plan.model.slug}/").content.decode()
    assert key.group(1) not in again  # each page view is a new purchase intent
    form = {"plan": plan.public_id, "idempotency_key": key.group(1)}
    assert browser.post(CREATE, form)["Location"] == browser.post(CREATE, form)["Location"]
    assert Order.objects.count() == 1


def test_a_gateway_failure_shows_the_failed_order(browser, monkeypatch):
    def refuse(self, order):
        raise UpstreamError("Helio is down", code="upstream_unavailable")

    monkeypatch.setattr(SandboxGateway, "checkout_create", refuse)
    response = browser.post(CREATE, {"plan": make_plan().public_id}, follow=True)

    order = Order.objects.get()
    assert response.redirect_chain == [(f"/account/orders/{order.public_id}/", 302)]
    assert order.status == OrderStatus.FAILED
    assert "The payment provider could not open the checkout: Helio is down" in response.content.decode()


# --- Redirects to Helio -------------------------------------------------------------------------------------------
@pytest.fixture
def helio(settings, monkeypatch):
    settings.PAYMENT_GATEWAY = "helio"
    settings.HELIO_API_BASE = HELIO_TEST_API_BASE
    settings.HELIO_PAY_BASE = HELIO_TEST_PAY_BASE
    settings.HELIO_PUBLIC_KEY = HELIO_TEST_PUBLIC_KEY
    settings.HELIO_SECRET_KEY = HELIO_TEST_SECRET_KEY
    settings.HELIO_WALLET_ID = HELIO_TEST_WALLET_ID
    fake = FakeHelio()
    monkeypatch.setattr(helio_gateway, "helio_client", lambda: HelioClient(transport=fake.transport()))
    return fake


def test_a_helio_order_redirects_to_helios_charge_page(browser, helio):
    response = browser.post(CREATE, {"plan": make_plan().public_id})
    order = Order.objects.get()
    assert response["Location"] == order.checkout_url
    assert response["Location"].startswith(f"{HELIO_TEST_APP_BASE}/charge/")


def test_a_stored_checkout_url_off_helio_is_never_a_redirect(browser, buyer, helio):
    order = make_order(buyer=buyer, gateway="helio", checkout_url="https://evil.example/charge/x")
    response = browser.post(f"/account/orders/{order.public_id}/resume/")
    assert response["Location"] == f"/account/orders/{order.public_id}/"


# --- The list and the order's page --------------------------------------------------------------------------------
def test_the_list_shows_my_orders_with_status_badges(browser, buyer):
    plan = make_plan(
        model=published_model(name="Iris"), name="Pro pass", kind=PlanKind.TIME_PASS, pass_duration="day"
    )
    pending = make_order(plan=plan, buyer=buyer)
    paid = make_order(plan=plan, buyer=buyer, status=OrderStatus.PAID)
    theirs = make_order()

    response = browser.get("/account/orders/")

    html = response.content.decode()
    assert response.status_code == 200
    assert pending.public_id in html
    assert paid.public_id in html
    assert theirs.public_id not in html
    assert 'order-status-pending badge-warning">Pending' in html
    assert 'order-status-paid badge-success">Paid' in html
    assert "Pro pass" in html
    assert "Iris" in html
    assert "10.00 USDC" in html
    assert "style=" not in html


def test_the_list_pages_with_a_cursor_and_survives_a_bad_one(browser, buyer):
    now = timezone.now()
    orders = [make_order(buyer=buyer) for _ in range(27)]
    for index, order in enumerate(orders):
        Order.objects.filter(pk=order.pk).update(created_at=now - timedelta(minutes=index))
    first = browser.get("/account/orders/")
    assert orders[24].public_id in first.content.decode()
    assert orders[25].public_id not in first.content.decode()
    older = first.context["next_url"]
    assert orders[26].public_id in browser.get(older).content.decode()
    assert browser.get("/account/orders/?cursor=%%%").status_code == 400


def test_an_empty_list_says_how_to_buy(browser):
    assert "No orders yet" in browser.get("/account/orders/").content.decode()


def test_a_pending_orders_page_offers_resume_and_cancel(browser, buyer):
    order = make_order(buyer=buyer, checkout_url="http://testserver/billing/sandbox/pay/x")
    html = browser.get(f"/account/orders/{order.public_id}/").content.decode()
    assert "Resume payment" in html
    assert "Cancel order" in html
    assert "10.00 USDC" in html
    assert 'hx-trigger="every 3s"' in html
    assert "Issued when the order is paid." in html


def test_a_paid_orders_page_has_no_resume_or_cancel(browser, buyer):
    order = make_order(buyer=buyer, status=OrderStatus.PAID, paid_at=timezone.now())
    html = browser.get(f"/account/orders/{order.public_id}/").content.decode()
    assert "Resume payment" not in html
    assert "Cancel order" not in html
    assert "every 3s" not in html


def test_someone_elses_order_page_is_404(browser):
    theirs = make_order(buyer=make_user("buyer"))
    assert browser.get(f"/account/orders/{theirs.public_id}/").status_code == 404
    assert browser.post(f"/account/orders/{theirs.public_id}/cancel/").status_code == 404
    assert browser.post(f"/account/orders/{theirs.public_id}/resume/").status_code == 404
    theirs.refresh_from_db()
    assert theirs.status == OrderStatus.PENDING


def test_polling_answers_the_watcher_while_pending_then_asks_for_a_reload(browser, buyer):
    order = make_order(buyer=buyer)
    waiting = browser.get(f"/account/orders/{order.public_id}/", HTTP_HX_REQUEST="true")
    assert waiting.status_code == 200
    assert waiting.content.decode().strip().startswith('<p id="order-watch"')

    Order.objects.filter(pk=order.pk).update(status=OrderStatus.PAID)
    done = browser.get(f"/account/orders/{order.public_id}/", HTTP_HX_REQUEST="true")
    assert done.status_code == 204
    assert done["HX-Refresh"] == "true"


def test_cancelling_from_the_page(browser, buyer):
    order = make_order(buyer=buyer)
    response = browser.post(f"/account/orders/{order.public_id}/cancel/", follow=True)
    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED
    assert "The order was cancelled." in response.content.decode()

    again = browser.post(f"/account/orders/{order.public_id}/cancel/", follow=True)
    assert "Only a pending order can be cancelled; this one is cancelled." in again.content.decode()


def test_resuming_from_the_page_goes_back_to_the_checkout(browser, buyer):
    browser.post(CREATE, {"plan": make_plan().public_id})
    order = Order.objects.get()
    response = browser.post(f"/account/orders/{order.public_id}/resume/")
    assert response["Location"] == f"/billing/sandbox/pay/{order.public_id}"


def test_resuming_an_expired_order_says_so(browser, buyer):
    order = make_order(
        buyer=buyer, checkout_url="http://testserver/x", expires_at=timezone.now() - timedelta(minutes=1)
    )
    response = browser.post(f"/account/orders/{order.public_id}/resume/", follow=True)
    assert response.redirect_chain == [(f"/account/orders/{order.public_id}/", 302)]
    assert "This order expired: start a new one." in response.content.decode()
    order.refresh_from_db()
    assert order.status == OrderStatus.EXPIRED
