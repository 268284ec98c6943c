"""The sandbox gateway: its shared token, the Helio-shaped signed delivery it builds, its payment page (only the
buyer's pending sandbox orders, CSRF, 404 unless the sandbox is the gateway), and the whole flow offline: order →
page → Pay → webhook_receive → processing → order paid, access granted, invoice, notification."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from modelmarket.accounts.tests.factories import make_user
from modelmarket.billing.gateways.helio.payloads import transaction_from_payload
from modelmarket.billing.gateways.sandbox import (
    SandboxGateway,
    sandbox_delivery,
    sandbox_payment_complete,
    sandbox_shared_token,
)
from modelmarket.billing.models import Order, OrderStatus, PlanKind
from modelmarket.billing.money import Money
from modelmarket.billing.services.orders import order_create, order_sandbox_pay
from modelmarket.billing.tests.factories import make_order, make_plan, published_model
from modelmarket.core.exceptions import Conflict, NotFound

pytestmark = pytest.mark.django_db

BASE58 = re.compile(r"[1-9A-HJ-NP-Za-km-z]{88}")


@pytest.fixture(autouse=True)
def _sandbox(settings):
    settings.PAYMENT_GATEWAY = "sandbox"
    settings.SITE_URL = "http://testserver"


@pytest.fixture
def browser(buyer):
    client = Client()
    client.force_login(buyer)
    return client


def _page(order: Order) -> str:
    return f"/billing/sandbox/pay/{order.public_id}"


# --- Token and delivery -------------------------------------------------------------------------------------------
def test_the_shared_token_is_stable_and_derived_from_the_secret_key(settings):
    token = sandbox_shared_token()
    assert token == sandbox_shared_token()
    assert re.fullmatch(r"[0-9a-f]{64}", token)
    settings.SECRET_KEY = "another-installation-" + "x" * 40
    assert sandbox_shared_token() != token


def test_the_delivery_is_helios_created_payload_for_the_order_signed_with_the_token(buyer):
    order = order_create(buyer=buyer, plan=make_plan(price_minor=12_500_000))

    body, headers = sandbox_delivery(order=order, succeed=True)

    token = sandbox_shared_token()
    assert headers == {
        "Authorization": f"Bearer {token}",
        "X-Signature": hmac.new(token.encode(), body, hashlib.sha256).hexdigest(),
        "Content-Type": "application/json",
    }
    payload = json.loads(body)
    assert set(payload) == {"event", "chargeToken", "transaction", "transactionObject"}
    assert payload["event"] == "CREATED"
    transaction = payload["transactionObject"]
    assert json.loads(payload["transaction"]) == transaction
    assert re.fullmatch(r"[0-9a-f]{24}", transaction["id"])
    assert (transaction["paylinkId"], transaction["fee"], transaction["quantity"]) == ("sandbox", "0", 1)
    meta = transaction["meta"]
    assert (meta["amount"], meta["totalAmount"]) == ("12500000", "12500000")
    assert meta["transactionStatus"] == "SUCCESS"
    assert meta["currency"] == "USDC"
    assert BASE58.fullmatch(meta["transactionSignature"])
    assert meta["customerDetails"]["additionalJSON"] == json.dumps({"order": order.public_id})
    assert meta["customerDetails"]["email"] == buyer.email
    assert meta["tokenQuote"] == {
        "from": "USDC",
        "fromAmountDecimal": "12.5",
        "to": "USDC",
        "toAmountMinimal": "12500000",
    }

    # The Helio client's own parser reads it as Helio's.
    parsed = transaction_from_payload(transaction)
    assert parsed.status == "SUCCESS"
    assert (parsed.amount_base_units, parsed.total_amount_base_units, parsed.fee_base_units) == (
        12_500_000,
        12_500_000,
        0,
    )
    assert parsed.additional_json == {"order": order.public_id}
    assert parsed.currency_symbol == "USDC"


def test_a_declined_delivery_reports_failed_and_each_delivery_is_a_new_transaction(buyer):
    order = order_create(buyer=buyer, top_up=Money(1_000_000, "USDC"))
    first = json.loads(sandbox_delivery(order=order, succeed=False)[0])
    second = json.loads(sandbox_delivery(order=order, succeed=False)[0])
    assert first["transactionObject"]["meta"]["transactionStatus"] == "FAILED"
    assert first["transactionObject"]["id"] != second["transactionObject"]["id"]
    assert (
        first["transactionObject"]["meta"]["transactionSignature"]
        != second["transactionObject"]["meta"]["transactionSignature"]
    )


def test_sandbox_payment_complete_hands_the_raw_delivery_to_webhook_receive(buyer, monkeypatch):
    webhooks = pytest.importorskip(
        "modelmarket.billing.services.webhooks", reason="services/webhooks.py not there yet"
    )
    received = []
    monkeypatch.setattr(
        webhooks, "webhook_receive", lambda *, body, headers: received.append((body, headers))
    )
    order = order_create(buyer=buyer, plan=make_plan())

    sandbox_payment_complete(order=order, succeed=True)

    ((body, headers),) = received
    assert json.loads(body)["transactionObject"]["meta"]["customerDetails"]["additionalJSON"] == json.dumps(
        {"order": order.public_id}
    )
    assert (
        headers["X-Signature"] == hmac.new(sandbox_shared_token().encode(), body, hashlib.sha256).hexdigest()
    )


def test_sandbox_checkout_urls_are_our_own_pages_only(settings):
    gateway = SandboxGateway()
    assert gateway.checkout_url_allowed("http://testserver/billing/sandbox/pay/ord_1")
    assert not gateway.checkout_url_allowed("http://evil.example/billing/sandbox/pay/ord_1")
    assert not gateway.checkout_url_allowed("https://testserver/billing/sandbox/pay/ord_1")
    assert not gateway.checkout_url_allowed("http://testserver/account/")
    assert not gateway.checkout_url_allowed("http://testserver/billing/sandbox/pay/ord_1?next=//evil.example")


# --- The service behind the page ----------------------------------------------------------------------------------
def test_the_sandbox_refuses_orders_that_are_not_pending_or_not_its_own(buyer, settings):
    paid = make_order(buyer=buyer, status=OrderStatus.PAID)
    with pytest.raises(Conflict) as caught:
        order_sandbox_pay(order=paid, succeed=True)
    assert caught.value.code == "order_not_pending"

    late = make_order(buyer=buyer, expires_at=timezone.now() - timedelta(seconds=1))
    with pytest.raises(Conflict) as caught:
        order_sandbox_pay(order=late, succeed=True)
    assert caught.value.code == "order_expired"
    late.refresh_from_db()
    assert late.status == OrderStatus.EXPIRED

    helio_order = make_order(buyer=buyer, gateway="helio")
    with pytest.raises(NotFound):
        order_sandbox_pay(order=helio_order, succeed=True)

    settings.PAYMENT_GATEWAY = "helio"
    with pytest.raises(NotFound):
        order_sandbox_pay(order=make_order(buyer=buyer), succeed=True)


# --- The page -----------------------------------------------------------------------------------------------------
def test_the_page_shows_the_order_and_the_pay_and_decline_buttons(browser, buyer):
    plan = make_plan(
        model=published_model(name="Iris Classifier"),
        name="Weekly pass",
        kind=PlanKind.TIME_PASS,
        pass_duration="week",
        price_minor=2_000_000,
    )
    order = order_create(buyer=buyer, plan=plan)

    response = browser.get(_page(order))

    assert response.status_code == 200
    html = response.content.decode()
    assert "Sandbox checkout" in html
    assert order.public_id in html
    assert "Weekly pass" in html
    assert "Iris Classifier" in html
    assert "2.00 USDC" in html
    assert 'name="action" value="pay"' in html
    assert 'name="action" value="decline"' in html
    assert "csrfmiddlewaretoken" in html
    assert "style=" not in html


def test_the_page_is_404_unless_the_sandbox_is_the_gateway(browser, buyer, settings):
    order = order_create(buyer=buyer, plan=make_plan())
    settings.PAYMENT_GATEWAY = "helio"
    assert browser.get(_page(order)).status_code == 404
    assert browser.post(_page(order), {"action": "pay"}).status_code == 404


def test_someone_elses_order_and_unknown_orders_are_404(browser):
    theirs = make_order(buyer=make_user("buyer"))
    assert browser.get(_page(theirs)).status_code == 404
    assert browser.post(_page(theirs), {"action": "pay"}).status_code == 404
    assert browser.get("/billing/sandbox/pay/ord_unknown").status_code == 404
    theirs.refresh_from_db()
    assert theirs.status == OrderStatus.PENDING


def test_a_helio_order_has_no_sandbox_page(browser, buyer):
    assert browser.get(_page(make_order(buyer=buyer, gateway="helio"))).status_code == 404


def test_anonymous_visitors_are_sent_to_log_in(client, buyer):
    order = make_order(buyer=buyer)
    response = client.get(_page(order))
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_posting_needs_the_csrf_token(buyer, monkeypatch):
    import modelmarket.billing.services.orders as orders

    delivered = []
    monkeypatch.setattr(orders, "sandbox_payment_complete", lambda **kwargs: delivered.append(kwargs))
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(buyer)
    order = make_order(buyer=buyer)

    assert strict.post(_page(order), {"action": "pay"}).status_code == 403
    assert delivered == []


def test_a_paid_order_cannot_be_paid_again_from_the_page(browser, buyer, monkeypatch):
    import modelmarket.billing.services.orders as orders

    delivered = []
    monkeypatch.setattr(orders, "sandbox_payment_complete", lambda **kwargs: delivered.append(kwargs))
    order = make_order(buyer=buyer, status=OrderStatus.PAID)

    page = browser.get(_page(order))
    assert page.status_code == 200
    assert 'value="pay"' not in page.content.decode()
    response = browser.post(_page(order), {"action": "pay"}, follow=True)
    assert response.redirect_chain[-1][0] == f"/account/orders/{order.public_id}/"
    assert "Only a pending order can be paid; this one is paid." in response.content.decode()
    assert delivered == []


def test_an_unknown_action_changes_nothing(browser, buyer, monkeypatch):
    import modelmarket.billing.services.orders as orders

    delivered = []
    monkeypatch.setattr(orders, "sandbox_payment_complete", lambda **kwargs: delivered.append(kwargs))
    order = make_order(buyer=buyer)
    response = browser.post(_page(order), {"action": "steal"})
    assert response.status_code == 302
    assert response["Location"] == _page(order)
    assert delivered == []


def test_pay_delivers_a_success_and_decline_a_failure(browser, buyer, monkeypatch):
    import modelmarket.billing.services.orders as orders

    delivered = []
    monkeypatch.setattr(orders, "sandbox_payment_complete", lambda **kwargs: delivered.append(kwargs))
    order = make_order(buyer=buyer)

    response = browser.post(_page(order), {"action": "pay"})
    assert response.status_code == 302
    assert response["Location"] == f"/account/orders/{order.public_id}/"
    browser.post(_page(order), {"action": "decline"})
    assert [(call["order"].pk, call["succeed"]) for call in delivered] == [
        (order.pk, True),
        (order.pk, False),
    ]


# --- End to end (needs the webhook and payment processing) --------------------------------------------------------
@pytest.fixture
def processing():
    pytest.importorskip("modelmarket.billing.services.webhooks", reason="services/webhooks.py not there yet")
    pytest.importorskip("modelmarket.billing.services.payments", reason="services/payments.py not there yet")


def test_buying_a_plan_in_the_sandbox_end_to_end(
    processing, browser, buyer, django_capture_on_commit_callbacks
):
    from modelmarket.billing.models import Entitlement, EntitlementStatus, Invoice, Payment, WebhookEvent
    from modelmarket.notifications.models import Notification

    plan = make_plan(name="Lifetime", price_minor=10_000_000)
    created = browser.post("/billing/orders/new", {"plan": plan.public_id})
    order = Order.objects.get()
    assert created["Location"] == _page(order)
    assert browser.get(created["Location"]).status_code == 200

    with django_capture_on_commit_callbacks(execute=True):
        paid = browser.post(_page(order), {"action": "pay"}, follow=True)

    assert paid.redirect_chain[0][0] == f"/account/orders/{order.public_id}/"
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
    assert order.paid_at is not None
    event = WebhookEvent.objects.get()
    assert (event.gateway, event.event, event.status) == ("sandbox", "CREATED", "processed")
    payment = Payment.objects.get()
    assert (payment.order, payment.status, payment.match) == (order, "succeeded", "matched")
    entitlement = Entitlement.objects.get(buyer=buyer, plan=plan)
    assert entitlement.status == EntitlementStatus.ACTIVE
    assert entitlement.ends_at is None
    assert Invoice.objects.get().order == order
    assert Notification.objects.filter(user=buyer, kind="order_paid").count() == 1
    page = browser.get(f"/account/orders/{order.public_id}/").content.decode()
    assert "Paid" in page
    assert Invoice.objects.get().number in page


def test_a_top_up_in_the_sandbox_credits_the_wallet(
    processing, browser, buyer, django_capture_on_commit_callbacks
):
    from modelmarket.billing.models import AccountKind, LedgerAccount

    browser.post("/billing/orders/new", {"top_up_currency": "USDC", "top_up_amount": "25.00"})
    order = Order.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        browser.post(_page(order), {"action": "pay"})

    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
    wallet = LedgerAccount.objects.get(kind=AccountKind.BUYER_WALLET, user=buyer, currency_id="USDC")
    assert wallet.balance_minor == 25_000_000


def test_declining_in_the_sandbox_fails_the_order_and_grants_nothing(
    processing, browser, buyer, django_capture_on_commit_callbacks
):
    from modelmarket.billing.models import Entitlement, Payment

    plan = make_plan()
    order = order_create(buyer=buyer, plan=plan)
    with django_capture_on_commit_callbacks(execute=True):
        browser.post(_page(order), {"action": "decline"})

    order.refresh_from_db()
    assert order.status == OrderStatus.FAILED
    assert Payment.objects.get().status == "failed"
    assert not Entitlement.objects.filter(buyer=buyer, plan=plan, status="active").exists()


def test_the_sandbox_token_is_refused_once_helio_is_the_gateway(processing, buyer, settings):
    from modelmarket.billing.models import WebhookEvent
    from modelmarket.billing.services.webhooks import webhook_receive
    from modelmarket.core.exceptions import NotAuthenticated

    order = make_order(buyer=buyer)
    body, headers = sandbox_delivery(order=order, succeed=True)
    settings.PAYMENT_GATEWAY = "helio"

    with pytest.raises(NotAuthenticated):
        webhook_receive(body=body, headers=headers)
    assert not WebhookEvent.objects.exists()
