"""Checkout through Helio, against FakeHelio at the transport: the exact requests (pay link, webhooks, charge), the
stored pay links and encrypted shared tokens (never logged), reuse and re-creation of pay links, and every failure
leaving the order failed with its reason."""

from __future__ import annotations

import json
import logging
from datetime import UTC

import httpx
import pytest

from modelmarket.billing.gateways.helio import gateway as helio_gateway
from modelmarket.billing.gateways.helio.client import HelioClient
from modelmarket.billing.gateways.helio.gateway import HelioGateway, helio_page_url_allowed, request_amount
from modelmarket.billing.gateways.helio.payloads import decode_additional_json
from modelmarket.billing.models import (
    Currency,
    HelioPaylink,
    HelioPaylinkPurpose,
    HelioWebhook,
    Order,
    OrderStatus,
    Plan,
    PlanKind,
)
from modelmarket.billing.money import Money
from modelmarket.billing.selectors.orders import order_checkout_redirect
from modelmarket.billing.services.orders import order_create
from modelmarket.billing.services.plans import plan_terms_of, plan_update
from modelmarket.billing.tests.factories import make_plan, published_model
from modelmarket.billing.tests.helio_fake import (
    HELIO_TEST_API_BASE,
    HELIO_TEST_APP_BASE,
    HELIO_TEST_PAY_BASE,
    HELIO_TEST_PUBLIC_KEY,
    HELIO_TEST_SECRET_KEY,
    HELIO_TEST_WALLET_ID,
    SOL_ID,
    USDC_SOLANA_ID,
    FakeHelio,
    HelioFault,
    unavailable,
)
from modelmarket.core.crypto import decrypt_bytes
from modelmarket.core.exceptions import UpstreamError

pytestmark = pytest.mark.django_db

SITE = "https://market.example"
TARGET = f"{SITE}/api/v1/payments/helio/webhook"


@pytest.fixture(autouse=True)
def _helio_settings(settings):
    settings.PAYMENT_GATEWAY = "helio"
    settings.SITE_URL = SITE
    settings.HELIO_API_BASE = HELIO_TEST_API_BASE
    settings.HELIO_PAY_BASE = HELIO_TEST_PAY_BASE
    settings.HELIO_PUBLIC_KEY = HELIO_TEST_PUBLIC_KEY
    settings.HELIO_SECRET_KEY = HELIO_TEST_SECRET_KEY
    settings.HELIO_WALLET_ID = HELIO_TEST_WALLET_ID
    settings.BILLING_GRACE_DAYS = 3


@pytest.fixture
def helio(monkeypatch):
    fake = FakeHelio()
    monkeypatch.setattr(
        helio_gateway,
        "helio_client",
        lambda: HelioClient(transport=fake.transport(), sleep=lambda seconds: None),
    )
    return fake


def _calls(helio: FakeHelio, since: int = 0) -> list[tuple[str, str]]:
    return [(request.method, request.url.path.removeprefix("/v1")) for request in helio.requests[since:]]


def _body(helio: FakeHelio, method: str, path: str) -> dict:
    matches = [r for r in helio.requests if r.method == method and r.url.path == f"/v1{path}"]
    assert len(matches) == 1, f"{method} {path} was sent {len(matches)} times"
    return json.loads(matches[0].content)


def _iso(moment) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# --- One-time plans -----------------------------------------------------------------------------------------------
def test_a_plan_checkout_creates_the_pay_link_its_webhook_and_a_charge(buyer, helio):
    model = published_model(name="Wine Quality")
    plan = make_plan(model=model, name="Lifetime", description="Forever.", price_minor=12_500_000)

    order = order_create(buyer=buyer, plan=plan)

    assert _calls(helio) == [
        ("GET", "/currency/all"),
        ("POST", "/paylink/create/api-key"),
        ("GET", "/webhook/paylink/transaction"),
        ("POST", "/webhook/paylink/transaction"),
        ("POST", "/charge/api-key"),
    ]
    paylink_request = _body(helio, "POST", "/paylink/create/api-key")
    assert paylink_request == {
        "template": "OTHER",
        "name": "Wine Quality — Lifetime",
        "price": "12500000",
        "pricingCurrency": USDC_SOLANA_ID,
        "features": {},
        "recipients": [{"walletId": HELIO_TEST_WALLET_ID, "currencyId": USDC_SOLANA_ID}],
        "description": "Forever.",
    }
    paylink = HelioPaylink.objects.get()
    assert (paylink.purpose, paylink.plan, paylink.currency_id, paylink.price_minor, paylink.is_active) == (
        HelioPaylinkPurpose.PLAN,
        plan,
        "USDC",
        12_500_000,
        True,
    )
    assert paylink.helio_id in helio.paylinks
    plan.refresh_from_db()
    assert (plan.helio_paylink_id, plan.helio_paylink_price_minor) == (paylink.helio_id, 12_500_000)

    assert _body(helio, "POST", "/webhook/paylink/transaction") == {
        "paylinkId": paylink.helio_id,
        "targetUrl": TARGET,
        "events": ["CREATED"],
    }
    charge_request = _body(helio, "POST", "/charge/api-key")
    assert charge_request == {
        "paymentRequestId": paylink.helio_id,
        "expiresAt": _iso(order.expires_at),
        "successRedirectUrl": f"{SITE}/account/orders/{order.public_id}/",
        "cancelRedirectUrl": f"{SITE}/account/orders/{order.public_id}/",
        "prepareRequestBody": {"customerDetails": {"additionalJSON": json.dumps({"order": order.public_id})}},
    }
    charge = next(iter(helio.charges.values()))
    assert order.status == OrderStatus.PENDING
    assert order.gateway == "helio"
    assert order.gateway_reference == charge["id"]
    assert order.checkout_url == charge["pageUrl"]
    assert order.checkout_url.startswith(f"{HELIO_TEST_APP_BASE}/charge/")
    assert order_checkout_redirect(order=order) == order.checkout_url

    # What Helio then delivers names our order.
    payload = helio.pay(charge["id"], amount=12_500_000)
    assert decode_additional_json(
        payload["transactionObject"]["meta"]["customerDetails"]["additionalJSON"]
    ) == {"order": order.public_id}


def test_the_shared_token_is_stored_encrypted_and_never_logged(buyer, helio, caplog):
    caplog.set_level(logging.DEBUG)
    order_create(buyer=buyer, plan=make_plan())

    stored = HelioWebhook.objects.get()
    token = helio.shared_token(stored.helio_id)
    assert stored.kind == "transaction"
    assert stored.paylink == HelioPaylink.objects.get()
    assert token.encode() not in bytes(stored.shared_token_encrypted)
    assert decrypt_bytes(bytes(stored.shared_token_encrypted)) == token.encode()
    assert token not in caplog.text
    for record in caplog.records:
        assert token not in json.dumps(record.__dict__, default=str)
    assert HELIO_TEST_SECRET_KEY not in caplog.text


def test_a_second_order_reuses_the_pay_link_and_its_webhook(buyer, helio):
    plan = make_plan()
    order_create(buyer=buyer, plan=plan)
    asked = len(helio.requests)

    second = order_create(buyer=buyer, plan=plan)

    assert _calls(helio, asked) == [("POST", "/charge/api-key")]
    assert HelioPaylink.objects.count() == 1
    assert HelioWebhook.objects.count() == 1
    assert second.checkout_url != ""
    assert len(helio.charges) == 2


def test_a_price_change_makes_a_new_pay_link_and_disables_the_old_one(buyer, helio):
    plan = make_plan(price_minor=10_000_000)
    order_create(buyer=buyer, plan=plan)
    old = HelioPaylink.objects.get()
    terms = plan_terms_of(plan)
    terms.price_minor = 15_000_000
    plan_update(plan=plan, terms=terms)
    asked = len(helio.requests)

    order = order_create(buyer=buyer, plan=Plan.objects.get(pk=plan.pk))

    assert _calls(helio, asked) == [
        ("POST", "/paylink/create/api-key"),
        ("PATCH", f"/paylink/{old.helio_id}/disable"),
        ("GET", "/webhook/paylink/transaction"),
        ("POST", "/webhook/paylink/transaction"),
        ("POST", "/charge/api-key"),
    ]
    new = HelioPaylink.objects.exclude(pk=old.pk).get()
    old.refresh_from_db()
    assert old.is_active is False
    assert helio.paylinks[old.helio_id]["disabled"] is True
    assert (new.is_active, new.price_minor) == (True, 15_000_000)
    assert helio.paylinks[new.helio_id]["price"] == "15000000"
    assert helio.charges[order.gateway_reference]["paylinkId"] == new.helio_id
    assert set(HelioWebhook.objects.values_list("paylink_id", flat=True)) == {old.pk, new.pk}


def test_an_old_pay_link_that_cannot_be_disabled_stays_active_and_is_tried_again(buyer, helio):
    plan = make_plan(price_minor=10_000_000)
    order_create(buyer=buyer, plan=plan)
    old = HelioPaylink.objects.get()
    terms = plan_terms_of(plan)
    terms.price_minor = 15_000_000
    plan_update(plan=plan, terms=terms)
    helio.fail(*[unavailable(503)] * 4, method="PATCH")

    order = order_create(buyer=buyer, plan=plan)

    assert order.status == OrderStatus.PENDING
    old.refresh_from_db()
    assert old.is_active is True
    order_create(buyer=buyer, plan=plan)
    old.refresh_from_db()
    assert old.is_active is False


def test_a_time_pass_sells_through_an_ordinary_pay_link(buyer, helio):
    order_create(
        buyer=buyer, plan=make_plan(kind=PlanKind.TIME_PASS, pass_duration="hour", price_minor=500_000)
    )
    body = _body(helio, "POST", "/paylink/create/api-key")
    assert (body["template"], body["price"], body["features"]) == ("OTHER", "500000", {})
    assert "subscriptionDetails" not in body


# --- Subscriptions ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("interval", "helio_interval"), [("month", "MONTH"), ("year", "YEAR")])
def test_a_subscription_gets_a_subscription_pay_link_and_both_webhooks(
    buyer, helio, interval, helio_interval
):
    plan = make_plan(kind=PlanKind.SUBSCRIPTION, interval=interval, price_minor=9_000_000, name="Pro")

    order_create(buyer=buyer, plan=plan)

    body = _body(helio, "POST", "/paylink/create/api-key")
    assert body["template"] == "SUBSCRIPTION"
    assert body["features"] == {"isSubscription": True}
    assert body["subscriptionDetails"] == {
        "interval": helio_interval,
        "gracePeriod": 3,
        "renewalReminders": 3,
        "annualDiscountBps": 0,
        "isAnonymous": True,
    }
    paylink = HelioPaylink.objects.get()
    assert _body(helio, "POST", "/webhook/paylink/subscription") == {
        "paylinkId": paylink.helio_id,
        "targetUrl": TARGET,
        "events": ["STARTED", "RENEWED", "ENDED"],
    }
    assert sorted(HelioWebhook.objects.values_list("kind", flat=True)) == ["subscription", "transaction"]
    for webhook in HelioWebhook.objects.all():
        assert decrypt_bytes(bytes(webhook.shared_token_encrypted)).decode() == helio.shared_token(
            webhook.helio_id
        )


# --- Top-ups ------------------------------------------------------------------------------------------------------
def test_top_ups_use_one_dynamic_pay_link_per_currency_and_charge_the_amount(buyer, helio):
    order = order_create(buyer=buyer, top_up=Money(25_500_000, "USDC"))

    body = _body(helio, "POST", "/paylink/create/api-key")
    assert body == {
        "template": "OTHER",
        "name": "ModelMarket credit (USDC)",
        "price": "1000000",
        "pricingCurrency": USDC_SOLANA_ID,
        "features": {},
        "recipients": [{"walletId": HELIO_TEST_WALLET_ID, "currencyId": USDC_SOLANA_ID}],
        "description": "Prepaid credit for pay-as-you-go calls.",
        "dynamic": True,  # requestAmount is accepted on dynamic links only
    }
    link = HelioPaylink.objects.get()
    assert (link.purpose, link.plan, link.currency_id, link.price_minor) == ("top_up", None, "USDC", None)
    charge = _body(helio, "POST", "/charge/api-key")
    assert charge["requestAmount"] == "25.5"
    assert charge["paymentRequestId"] == link.helio_id
    assert json.loads(charge["prepareRequestBody"]["customerDetails"]["additionalJSON"]) == {
        "order": order.public_id
    }

    asked = len(helio.requests)
    order_create(buyer=buyer, top_up=Money(1_000_000, "USDC"))
    assert _calls(helio, asked) == [("POST", "/charge/api-key")]
    assert json.loads(helio.requests[-1].content)["requestAmount"] == "1"

    order_create(buyer=buyer, top_up=Money(1, "SOL"))
    sol_link = HelioPaylink.objects.get(currency_id="SOL")
    assert helio.paylinks[sol_link.helio_id]["pricingCurrency"] == SOL_ID
    assert json.loads(helio.requests[-1].content)["requestAmount"] == "0.000000001"


@pytest.mark.parametrize(
    ("amount_minor", "decimals", "expected"),
    [(25_500_000, 6, "25.5"), (1, 9, "0.000000001"), (100, 2, "1"), (10**21, 18, "1000"), (123, 0, "123")],
)
def test_request_amount_is_a_plain_decimal_string(amount_minor, decimals, expected):
    assert request_amount(amount_minor, decimals) == expected


# --- Failures -----------------------------------------------------------------------------------------------------
def test_a_refused_pay_link_fails_the_order_and_stores_nothing(buyer, helio, settings):
    settings.HELIO_WALLET_ID = "not-our-wallet"

    with pytest.raises(UpstreamError) as caught:
        order_create(buyer=buyer, plan=make_plan())

    order = Order.objects.get()
    assert caught.value.code == "helio_rejected"
    assert order.status == OrderStatus.FAILED
    assert order.failure_reason == (
        "The payment provider could not open the checkout: Helio refused the request (HTTP 400): "
        "recipients.walletId must be one of your wallets"
    )
    assert order.checkout_url == ""
    assert not HelioPaylink.objects.exists()
    assert not HelioWebhook.objects.exists()


def test_a_charge_failure_fails_the_order_and_the_pay_link_is_reused_next_time(buyer, helio):
    plan = make_plan()
    helio.fail(*[unavailable(503)] * 4, method="POST", path="/charge")

    with pytest.raises(UpstreamError) as caught:
        order_create(buyer=buyer, plan=plan)
    assert caught.value.code == "upstream_unavailable"
    failed = Order.objects.get()
    assert failed.status == OrderStatus.FAILED
    assert failed.failure_reason == (
        "The payment provider could not open the checkout: Helio failed (HTTP 503); gave up: after 4 attempts."
    )
    assert HelioPaylink.objects.count() == 1

    asked = len(helio.requests)
    retried = order_create(buyer=buyer, plan=plan)
    assert retried.status == OrderStatus.PENDING
    assert _calls(helio, asked) == [("POST", "/charge/api-key")]


def test_a_webhook_registration_failure_fails_the_order_and_the_next_checkout_finishes_it(buyer, helio):
    plan = make_plan()
    helio.fail(unavailable(503), method="POST", path="/webhook")

    with pytest.raises(UpstreamError):
        order_create(buyer=buyer, plan=plan)
    assert Order.objects.get().status == OrderStatus.FAILED
    assert HelioPaylink.objects.count() == 1
    assert not HelioWebhook.objects.exists()
    assert helio.charges == {}

    order = order_create(buyer=buyer, plan=plan)
    assert order.status == OrderStatus.PENDING
    assert HelioWebhook.objects.count() == 1
    assert HelioPaylink.objects.count() == 1


def test_a_webhook_helio_holds_without_our_token_is_replaced(buyer, helio):
    plan = make_plan()
    helio.fail(HelioFault(exception=httpx.ReadTimeout), method="POST", path="/webhook")
    with pytest.raises(UpstreamError):
        order_create(buyer=buyer, plan=plan)
    # The timeout hid whether Helio created the webhook: say it did, and its token never reached us.
    paylink = HelioPaylink.objects.get()
    orphan = {
        "id": "0" * 24,
        "kind": "transaction",
        "paylinkId": paylink.helio_id,
        "targetUrl": TARGET,
        "events": ["CREATED"],
        "sharedToken": "lost-token",
        "createdAt": "2025-01-01T00:00:00.000Z",
    }
    helio.webhooks[orphan["id"]] = orphan
    foreign = {**orphan, "id": "1" * 24, "targetUrl": "https://elsewhere.example/hook"}
    helio.webhooks[foreign["id"]] = foreign
    asked = len(helio.requests)

    order_create(buyer=buyer, plan=plan)

    assert _calls(helio, asked) == [
        ("GET", "/webhook/paylink/transaction"),
        ("DELETE", f"/webhook/paylink/transaction/{orphan['id']}"),
        ("POST", "/webhook/paylink/transaction"),
        ("POST", "/charge/api-key"),
    ]
    assert orphan["id"] not in helio.webhooks
    assert foreign["id"] in helio.webhooks  # not ours: left alone
    assert HelioWebhook.objects.count() == 1


def test_a_currency_helio_does_not_offer_fails_the_order_before_any_pay_link(buyer, helio):
    helio.currencies = [item for item in helio.currencies if item["symbol"] != "ETH"]
    plan = make_plan(currency="ETH", price_minor=10**16)

    with pytest.raises(UpstreamError) as caught:
        order_create(buyer=buyer, plan=plan)

    order = Order.objects.get()
    assert caught.value.code == "helio_currency_unsupported"
    assert order.failure_reason == (
        "The payment provider could not open the checkout: Helio does not offer ETH on Ethereum "
        "(with 18 decimals), so it cannot take this payment."
    )
    assert _calls(helio) == [("GET", "/currency/all")]


def test_a_fiat_priced_plan_cannot_be_sold_through_helio(buyer, helio):
    with pytest.raises(UpstreamError) as caught:
        order_create(buyer=buyer, plan=make_plan(currency="USD", price_minor=500))
    assert caught.value.code == "helio_currency_unsupported"
    assert Order.objects.get().status == OrderStatus.FAILED
    assert helio.requests == []


def test_helio_without_keys_fails_the_order_clearly(buyer, helio, settings):
    Currency.objects.filter(code="USDC").update(helio_currency_id=USDC_SOLANA_ID)
    settings.HELIO_SECRET_KEY = ""

    with pytest.raises(UpstreamError) as caught:
        order_create(buyer=buyer, plan=make_plan())
    assert caught.value.code == "helio_not_configured"
    assert Order.objects.get().status == OrderStatus.FAILED


def test_a_charge_page_off_helio_is_refused(buyer, helio):
    helio.fail(
        HelioFault(status=201, body={"id": "c" * 24, "pageUrl": "https://evil.example/charge/x"}),
        method="POST",
        path="/charge",
    )
    with pytest.raises(UpstreamError) as caught:
        order_create(buyer=buyer, plan=make_plan())
    order = Order.objects.get()
    assert caught.value.code == "helio_bad_response"
    assert order.status == OrderStatus.FAILED
    assert order.checkout_url == ""


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://app.dev.hel.io/charge/abc", True),
        ("https://app.hel.io/charge/abc", True),
        ("https://moonpay.hel.io/charge/abc", True),
        ("http://app.hel.io/charge/abc", False),
        ("https://app.hel.io.evil.example/charge", False),
        ("https://evilhel.io/charge", False),
        ("https://user@app.hel.io/charge", False),
        ("javascript:alert(1)", False),
        ("//app.hel.io/charge", False),
    ],
)
def test_only_https_helio_pages_are_redirect_targets(url, allowed):
    assert helio_page_url_allowed(url) is allowed
    assert HelioGateway().checkout_url_allowed(url) is allowed
