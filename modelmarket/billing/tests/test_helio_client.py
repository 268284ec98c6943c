"""HelioClient against FakeHelio at the transport: request shapes (path, apiKey, Bearer, exact bodies), parsing,
refusals, retries and their bounds, bad responses, and secrets kept out of logs and errors. The clock is fake:
waits are recorded, not slept."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from modelmarket.billing.gateways.helio.client import SUBSCRIPTION_WEBHOOK_EVENTS, HelioClient
from modelmarket.billing.gateways.helio.errors import HelioNotConfigured, HelioRejected, HelioResponseError
from modelmarket.billing.gateways.helio.payloads import (
    HelioCharge,
    HelioCurrency,
    HelioPaylink,
    HelioTransaction,
    HelioWebhook,
    decode_additional_json,
    transaction_from_payload,
)
from modelmarket.billing.tests.helio_fake import (
    BUYER_WALLET_ADDRESS,
    HELIO_TEST_API_BASE,
    HELIO_TEST_PAY_BASE,
    HELIO_TEST_PUBLIC_KEY,
    HELIO_TEST_SECRET_KEY,
    HELIO_TEST_WALLET_ID,
    SOL_ID,
    USD_ID,
    USDC_SOLANA_ID,
    FakeHelio,
    HelioFault,
    connect_error,
    malformed_json,
    read_timeout,
    throttled,
    unavailable,
)
from modelmarket.catalog.tests.fakes import FakeClock
from modelmarket.core.http import UpstreamThrottled, UpstreamUnavailable

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _helio_settings(settings):
    settings.HELIO_API_BASE = HELIO_TEST_API_BASE
    settings.HELIO_PAY_BASE = HELIO_TEST_PAY_BASE
    settings.HELIO_PUBLIC_KEY = HELIO_TEST_PUBLIC_KEY
    settings.HELIO_SECRET_KEY = HELIO_TEST_SECRET_KEY
    settings.HELIO_WALLET_ID = HELIO_TEST_WALLET_ID
    settings.HELIO_TIMEOUT_SECONDS = 15


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def helio():
    return FakeHelio(now=lambda: NOW)


@pytest.fixture
def client(helio, clock):
    return HelioClient(
        transport=helio.transport(), sleep=clock.sleep, clock=clock, random_fraction=lambda: 1.0
    )


def create_paylink(client, **changes):
    options = {"name": "Pro access", "price_base_units": 5_000_000, "currency_id": USDC_SOLANA_ID, **changes}
    return client.paylink_create(**options)


def create_charge(client, paylink_id, **changes):
    options = {
        "paylink_id": paylink_id,
        "order_reference": "ord_123",
        "expires_at": NOW + timedelta(minutes=30),
        "success_url": "https://market.example/billing/done",
        "cancel_url": "https://market.example/billing/cancelled",
        **changes,
    }
    return client.charge_create(**options)


def assert_merchant_call(request, method, path):
    assert request.method == method
    assert request.url.path == f"/v1{path}"
    assert request.url.params["apiKey"] == HELIO_TEST_PUBLIC_KEY
    assert request.headers["Authorization"] == f"Bearer {HELIO_TEST_SECRET_KEY}"


# --- Request shapes and parsing -----------------------------------------------------------------------------------
def test_currencies_are_read_without_credentials_and_parsed(client, helio):
    currencies = client.currencies()
    request = helio.requests[0]
    assert (request.method, request.url.path) == ("GET", "/v1/currency/all")
    assert "apiKey" not in request.url.params
    assert "Authorization" not in request.headers
    assert len(currencies) == 8
    assert currencies[0] == HelioCurrency(
        id=USDC_SOLANA_ID,
        symbol="USDC",
        name="USDC",
        decimals=6,
        type="DIGITAL",
        blockchain_name="Solana",
        blockchain_symbol="SOL",
        engine="SOL",
    )
    by_id = {currency.id: currency for currency in currencies}
    assert (by_id[SOL_ID].symbol, by_id[SOL_ID].decimals) == ("SOL", 9)
    assert {(currency.symbol, currency.decimals) for currency in currencies} >= {("ETH", 18), ("BTC", 8)}
    assert (by_id[USD_ID].type, by_id[USD_ID].blockchain_name, by_id[USD_ID].engine) == ("FIAT", None, None)


def test_paylink_create_sends_the_documented_body_with_both_credentials(client, helio):
    paylink = create_paylink(client, description="Unlimited calls for a month")
    request = helio.requests[0]
    assert_merchant_call(request, "POST", "/paylink/create/api-key")
    assert json.loads(request.content) == {
        "template": "OTHER",
        "name": "Pro access",
        "price": "5000000",
        "pricingCurrency": USDC_SOLANA_ID,
        "features": {},
        "recipients": [{"walletId": HELIO_TEST_WALLET_ID, "currencyId": USDC_SOLANA_ID}],
        "description": "Unlimited calls for a month",
    }
    assert paylink == HelioPaylink(id=paylink.id, pay_url=f"{HELIO_TEST_PAY_BASE}/{paylink.id}")
    assert list(helio.paylinks) == [paylink.id]


def test_subscription_paylink_create_sends_subscription_details(client, helio):
    create_paylink(client, subscription_interval="YEAR", grace_period_days=5, renewal_reminders=1)
    body = helio.request_json()
    assert body["template"] == "SUBSCRIPTION"
    assert body["features"] == {"isSubscription": True}
    assert body["price"] == "5000000"
    assert body["subscriptionDetails"] == {
        "interval": "YEAR",
        "gracePeriod": 5,
        "renewalReminders": 1,
        "annualDiscountBps": 0,
        "isAnonymous": True,
    }


def test_subscription_details_default_to_helios_documented_example(client, helio):
    create_paylink(client, subscription_interval="MONTH")
    details = helio.request_json()["subscriptionDetails"]
    assert (details["gracePeriod"], details["renewalReminders"]) == (2, 3)


@pytest.mark.parametrize("price", [0, -5, True, 1.5, "1000000"])
def test_paylink_create_refuses_a_price_that_is_not_a_positive_integer_before_calling(client, helio, price):
    with pytest.raises(ValueError, match="price_base_units"):
        create_paylink(client, price_base_units=price)
    assert helio.requests == []


def test_paylink_create_refuses_an_undocumented_interval_before_calling(client, helio):
    with pytest.raises(ValueError, match="MONTH or YEAR"):
        create_paylink(client, subscription_interval="WEEK")
    assert helio.requests == []


def test_paylink_update_patches_only_the_given_fields_with_a_string_price(client, helio):
    paylink = create_paylink(client)
    updated = client.paylink_update(paylink.id, price_base_units=7_500_000, name="Pro access v2")
    assert_merchant_call(helio.requests[-1], "PATCH", f"/paylink/{paylink.id}/api-key")
    assert helio.request_json() == {"name": "Pro access v2", "price": "7500000"}
    assert updated == paylink
    assert (helio.paylinks[paylink.id]["price"], helio.paylinks[paylink.id]["name"]) == (
        "7500000",
        "Pro access v2",
    )
    with pytest.raises(ValueError, match="at least one"):
        client.paylink_update(paylink.id)


def test_paylink_disable_patches_the_disable_path_and_charges_are_then_refused(client, helio):
    paylink = create_paylink(client)
    assert client.paylink_disable(paylink.id) is None
    assert_merchant_call(helio.requests[-1], "PATCH", f"/paylink/{paylink.id}/disable")
    assert helio.paylinks[paylink.id]["disabled"] is True
    with pytest.raises(HelioRejected) as caught:
        create_charge(client, paylink.id)
    assert (caught.value.code, caught.value.upstream_status) == ("helio_rejected", 400)
    assert helio.charges == {}


def test_charge_create_carries_the_order_reference_as_a_json_string(client, helio):
    paylink = create_paylink(client)
    charge = create_charge(client, paylink.id)
    assert_merchant_call(helio.requests[-1], "POST", "/charge/api-key")
    assert helio.request_json() == {
        "paymentRequestId": paylink.id,
        "expiresAt": "2025-03-01T12:30:00.000Z",
        "successRedirectUrl": "https://market.example/billing/done",
        "cancelRedirectUrl": "https://market.example/billing/cancelled",
        "prepareRequestBody": {"customerDetails": {"additionalJSON": '{"order": "ord_123"}'}},
    }
    stored = helio.charges[charge.id]
    assert charge == HelioCharge(id=charge.id, page_url=stored["pageUrl"])
    assert stored["pageUrl"] == f"https://app.dev.hel.io/charge/{stored['token']}"


def test_charge_create_sends_request_amount_for_dynamic_links_only_when_given(client, helio):
    paylink = create_paylink(client)
    create_charge(client, paylink.id, request_amount="0.2")
    assert helio.request_json()["requestAmount"] == "0.2"


def test_charge_create_refuses_a_naive_expiry(client, helio):
    paylink = create_paylink(client)
    with pytest.raises(ValueError, match="aware"):
        create_charge(client, paylink.id, expires_at=datetime(2025, 3, 1, 12, 30))
    assert helio.charges == {}


def test_charge_get_is_unpaid_until_helio_attaches_the_transaction(client, helio):
    paylink = create_paylink(client)
    charge = create_charge(client, paylink.id)
    unpaid = client.charge_get(charge.id)
    assert_merchant_call(helio.requests[-1], "GET", f"/charge/{charge.id}")
    assert (unpaid.id, unpaid.paid, unpaid.transaction) == (charge.id, False, None)

    payload = helio.pay(charge.id, amount=4_900_000, fee=100_000, signature="5sig")
    paid = client.charge_get(charge.id)
    assert paid.paid is True
    assert paid.transaction == HelioTransaction(
        id=payload["transactionObject"]["id"],
        paylink_id=paylink.id,
        status="SUCCESS",
        amount_base_units=4_900_000,
        total_amount_base_units=4_900_000,
        fee_base_units=100_000,
        signature="5sig",
        sender=BUYER_WALLET_ADDRESS,
        currency_symbol="USDC",
        created_at=NOW,
        additional_json={"order": "ord_123"},
        email="buyer@example.com",
    )


def test_charge_with_a_failed_transaction_is_not_paid(client, helio):
    paylink = create_paylink(client)
    charge = create_charge(client, paylink.id)
    helio.pay(charge.id, amount=5_000_000, status="FAILED")
    status = client.charge_get(charge.id)
    assert status.paid is False
    assert status.transaction is not None
    assert status.transaction.status == "FAILED"


def test_paylink_transactions_sends_the_window_and_parses_each_transaction(client, helio):
    paylink = create_paylink(client)
    inside = helio.pay(paylink.id, amount=1_000_000, created_at=NOW - timedelta(hours=1))
    helio.pay(paylink.id, amount=2_000_000, created_at=NOW - timedelta(days=3))
    transactions = client.paylink_transactions(paylink.id, since=NOW - timedelta(days=1), until=NOW)
    request = helio.requests[-1]
    assert_merchant_call(request, "GET", f"/paylink/{paylink.id}/transactions")
    assert (request.url.params["from"], request.url.params["to"]) == (
        "2025-02-28T12:00:00.000Z",
        "2025-03-01T12:00:00.000Z",
    )
    assert [transaction.id for transaction in transactions] == [inside["transactionObject"]["id"]]
    assert transactions[0].additional_json is None


def test_transaction_by_signature_finds_it_or_answers_none_for_404(client, helio):
    paylink = create_paylink(client)
    payload = helio.pay(paylink.id, amount=1_000_000, signature="4kQ3sig")
    found = client.transaction_by_signature("4kQ3sig")
    assert_merchant_call(helio.requests[-1], "GET", "/transactions/signature/4kQ3sig")
    assert found is not None
    assert found.id == payload["transactionObject"]["id"]
    assert client.transaction_by_signature("unknown") is None


def test_webhook_create_transaction_registers_created_and_returns_the_token_once(client, helio):
    paylink = create_paylink(client)
    webhook = client.webhook_create_transaction(
        paylink_id=paylink.id, target_url="https://market.example/hooks/helio"
    )
    assert_merchant_call(helio.requests[-1], "POST", "/webhook/paylink/transaction")
    assert helio.request_json() == {
        "paylinkId": paylink.id,
        "targetUrl": "https://market.example/hooks/helio",
        "events": ["CREATED"],
    }
    assert webhook.shared_token == helio.shared_token(webhook.id)
    assert webhook.shared_token not in repr(webhook)
    listed = client.webhook_list(paylink.id)
    assert_merchant_call(helio.requests[-1], "GET", "/webhook/paylink/transaction")
    assert helio.requests[-1].url.params["paylinkId"] == paylink.id
    assert listed == [
        HelioWebhook(
            id=webhook.id,
            shared_token=None,
            paylink_id=paylink.id,
            target_url="https://market.example/hooks/helio",
            events=("CREATED",),
        )
    ]


def test_webhook_create_subscription_registers_the_three_subscription_events(client, helio):
    paylink = create_paylink(client, subscription_interval="MONTH")
    webhook = client.webhook_create_subscription(
        paylink_id=paylink.id, target_url="https://market.example/hooks/s"
    )
    assert_merchant_call(helio.requests[-1], "POST", "/webhook/paylink/subscription")
    assert (
        helio.request_json()["events"] == ["STARTED", "RENEWED", "ENDED"] == list(SUBSCRIPTION_WEBHOOK_EVENTS)
    )
    assert client.webhook_list(paylink.id, "subscription")[0].id == webhook.id
    assert client.webhook_list(paylink.id, "transaction") == []


def test_webhook_delete_sends_delete_to_the_kinds_path(client, helio):
    paylink = create_paylink(client)
    webhook = client.webhook_create_transaction(paylink_id=paylink.id, target_url="https://market.example/h")
    assert client.webhook_delete(webhook.id, "transaction") is None
    assert_merchant_call(helio.requests[-1], "DELETE", f"/webhook/paylink/transaction/{webhook.id}")
    assert helio.webhooks == {}


def test_webhook_create_answer_without_shared_token_is_a_bad_response(client, helio):
    paylink = create_paylink(client)
    helio.fail(HelioFault(status=201, body={"id": "65aa00000000000000000001"}), path="/webhook/")
    with pytest.raises(HelioResponseError) as caught:
        client.webhook_create_transaction(paylink_id=paylink.id, target_url="https://market.example/h")
    assert caught.value.code == "helio_bad_response"
    assert "sharedToken" in caught.value.message


def test_subscriptions_and_subscription_get_follow_the_subscription_lifecycle(client, helio):
    paylink = create_paylink(client, subscription_interval="MONTH")
    started = helio.subscription_event("STARTED", paylink_id=paylink.id, email="ada@example.com")
    renewed = helio.subscription_event("RENEWED", subscription_id=started["subscriptionId"])
    subscriptions = client.subscriptions(paylink_id=paylink.id, email="ada@example.com")
    request = helio.requests[-1]
    assert_merchant_call(request, "GET", "/subscriptions")
    assert (request.url.params["paylink"], request.url.params["email"]) == (paylink.id, "ada@example.com")
    assert len(subscriptions) == 1
    subscription = subscriptions[0]
    assert (subscription.id, subscription.status, subscription.email) == (
        started["subscriptionId"],
        "ACTIVE",
        "ada@example.com",
    )
    assert subscription.created_at == NOW
    assert subscription.renewal_date == NOW + timedelta(days=60)
    assert subscription.transaction_ids == (
        started["transactionObject"]["id"],
        renewed["transactionObject"]["id"],
    )
    helio.subscription_event("ENDED", subscription_id=subscription.id)
    assert client.subscription_get(subscription.id).status == "EXPIRED"
    assert_merchant_call(helio.requests[-1], "GET", f"/subscriptions/{subscription.id}")
    assert client.subscriptions(paylink_id=paylink.id, email="someone@else.example") == []


def test_subscription_get_of_an_unknown_id_is_not_found(client):
    with pytest.raises(HelioRejected) as caught:
        client.subscription_get("65aa0000000000000000dead")
    assert (caught.value.code, caught.value.upstream_status) == ("helio_not_found", 404)


def test_ids_are_escaped_into_one_path_segment(client, helio):
    with pytest.raises(HelioRejected):
        client.charge_get("../paylink/x")
    assert helio.requests[-1].url.raw_path.startswith(b"/v1/charge/..%2Fpaylink%2Fx")


# --- Transaction objects ------------------------------------------------------------------------------------------
def test_created_payload_carries_the_same_transaction_as_string_and_object(client, helio):
    paylink = create_paylink(client)
    charge = create_charge(client, paylink.id)
    payload = helio.pay(charge.id, amount=98_000, fee=2_000)
    assert set(payload) == {"event", "chargeToken", "transaction", "transactionObject"}
    assert payload["event"] == "CREATED"
    assert payload["chargeToken"] == helio.charges[charge.id]["token"]
    assert json.loads(payload["transaction"]) == payload["transactionObject"]
    meta = payload["transactionObject"]["meta"]
    assert (meta["amount"], meta["totalAmount"], payload["transactionObject"]["fee"]) == (
        "98000",
        "98000",
        "2000",
    )
    assert meta["tokenQuote"] == {
        "from": "USDC",
        "fromAmountDecimal": "0.1",
        "to": "USDC",
        "toAmountMinimal": "100000",
    }
    assert meta["customerDetails"]["additionalJSON"] == '{"order": "ord_123"}'


def test_double_encoded_additional_json_is_decoded(client, helio):
    paylink = create_paylink(client)
    double = json.dumps(json.dumps({"order": "ord_9"}))
    payload = helio.pay(paylink.id, amount=1_000_000, additional_json=double)
    assert transaction_from_payload(payload["transactionObject"]).additional_json == {"order": "ord_9"}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ('{"order": "a"}', {"order": "a"}),
        (json.dumps(json.dumps({"order": "a"})), {"order": "a"}),
        ({"order": "a"}, {"order": "a"}),
        (json.dumps(json.dumps(json.dumps({"order": "a"}))), None),
        ("[1, 2]", None),
        ('"just text"', None),
        ("not json", None),
        ("", None),
        (None, None),
        (42, None),
    ],
)
def test_decode_additional_json(value, expected):
    assert decode_additional_json(value) == expected


def test_transaction_parsing_tolerates_missing_optional_fields():
    transaction = transaction_from_payload(
        {"id": "t1", "meta": {"amount": "1000", "transactionStatus": "PENDING", "currency": "SOL"}}
    )
    assert transaction == HelioTransaction(
        id="t1",
        paylink_id=None,
        status="PENDING",
        amount_base_units=1000,
        total_amount_base_units=None,
        fee_base_units=0,
        signature=None,
        sender=None,
        currency_symbol="SOL",
        created_at=None,
        additional_json=None,
        email=None,
    )


@pytest.mark.parametrize(
    ("payload", "missing"),
    [
        ({"meta": {"amount": "1", "transactionStatus": "SUCCESS"}}, "no id"),
        ({"id": "t1"}, "meta is not a JSON object"),
        ({"id": "t1", "meta": {"transactionStatus": "SUCCESS"}}, "no meta.amount"),
        ({"id": "t1", "meta": {"amount": "1"}}, "no transactionStatus"),
        ({"id": "t1", "meta": {"amount": "0.1", "transactionStatus": "SUCCESS"}}, "meta.amount that is not"),
        (
            {"id": "t1", "fee": "-3", "meta": {"amount": "1", "transactionStatus": "SUCCESS"}},
            "fee that is not",
        ),
    ],
)
def test_transaction_parsing_refuses_missing_or_malformed_required_fields(payload, missing):
    with pytest.raises(HelioResponseError, match=missing) as caught:
        transaction_from_payload(payload)
    assert caught.value.code == "helio_bad_response"


# --- Subscription payloads and signatures ---------------------------------------------------------------------------
def test_subscription_payloads_have_the_documented_fields_per_event(client, helio):
    paylink = create_paylink(client, subscription_interval="MONTH")
    started = helio.subscription_event("STARTED", paylink_id=paylink.id)
    subscription_id = started["subscriptionId"]
    renewed = helio.subscription_event("SUBSCRIPTION_RENEWED", subscription_id=subscription_id)
    pending = helio.subscription_event("SUBSCRIPTION_PENDING_PAYMENT", subscription_id=subscription_id)
    ended = helio.subscription_event("ENDED", subscription_id=subscription_id)
    full = {"event", "subscriptionId", "subscriptionState", "email", "nextChargeUrl", "chargeToken"}
    full |= {"transaction", "transactionObject"}
    assert set(started) == set(renewed) == full
    assert (started["subscriptionState"], renewed["subscriptionState"]) == ("NEW", "RENEWED")
    assert renewed["event"] == "SUBSCRIPTION_RENEWED"
    assert set(pending) == full - {"email", "subscriptionState"}
    assert set(ended) == full - {"nextChargeUrl", "chargeToken"}
    assert ended["subscriptionState"] == "EXPIRED"
    assert json.loads(ended["transaction"]) == ended["transactionObject"] == renewed["transactionObject"]


def test_sign_gives_the_bearer_token_and_the_hmac_of_the_raw_body(helio):
    body = b'{"event":"CREATED"}'
    headers = FakeHelio.sign(body, "shared-token-1")
    assert headers == {
        "Authorization": "Bearer shared-token-1",
        "X-Signature": hmac.new(b"shared-token-1", body, hashlib.sha256).hexdigest(),
        "Content-Type": "application/json",
    }
    raw, delivery_headers = helio.signed_delivery({"event": "CREATED"}, shared_token="shared-token-1")
    assert (raw, delivery_headers) == (body, headers)


# --- Refusals -----------------------------------------------------------------------------------------------------
def test_wrong_secret_is_refused_with_401_and_not_retried(settings, helio, clock):
    settings.HELIO_SECRET_KEY = "sk_test_wrong"
    client = HelioClient(transport=helio.transport(), sleep=clock.sleep, clock=clock)
    with pytest.raises(HelioRejected) as caught:
        create_paylink(client)
    assert (caught.value.code, caught.value.upstream_status) == ("helio_unauthorized", 401)
    assert caught.value.message == "Helio refused the request (HTTP 401): Invalid API key or token"
    assert len(helio.requests) == 1
    assert clock.sleeps == []
    assert helio.paylinks == {}


@pytest.mark.parametrize(
    ("params", "headers", "message"),
    [
        ({}, {"Authorization": f"Bearer {HELIO_TEST_SECRET_KEY}"}, "Missing apiKey query parameter"),
        ({"apiKey": HELIO_TEST_PUBLIC_KEY}, {}, "Missing Authorization Bearer token"),
        (
            {"apiKey": "pk_other"},
            {"Authorization": f"Bearer {HELIO_TEST_SECRET_KEY}"},
            "Invalid API key or token",
        ),
    ],
)
def test_fake_checks_both_credentials_on_merchant_calls(helio, params, headers, message):
    with httpx.Client(transport=helio.transport(), base_url=HELIO_TEST_API_BASE) as http:
        response = http.get("/subscriptions", params=params, headers=headers)
    assert (response.status_code, response.json()) == (401, {"code": 401, "message": message})


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"price": 1000000}, "price must be an integer string in the currency's base units"),
        ({"price": "1.5"}, "price must be an integer string in the currency's base units"),
        ({"features": None}, "features should not be empty"),
        ({"recipients": [{"walletId": "someone-else", "currencyId": USDC_SOLANA_ID}]}, "recipients.walletId"),
    ],
)
def test_fake_refuses_bad_paylink_bodies_with_400(helio, change, message):
    body = {
        "template": "OTHER",
        "name": "x",
        "price": "1000000",
        "pricingCurrency": USDC_SOLANA_ID,
        "features": {},
        "recipients": [{"walletId": HELIO_TEST_WALLET_ID, "currencyId": USDC_SOLANA_ID}],
        **change,
    }
    with httpx.Client(transport=helio.transport(), base_url=HELIO_TEST_API_BASE) as http:
        response = http.post(
            "/paylink/create/api-key",
            params={"apiKey": HELIO_TEST_PUBLIC_KEY},
            headers={"Authorization": f"Bearer {HELIO_TEST_SECRET_KEY}"},
            json=body,
        )
    assert response.status_code == 400
    assert response.json()["code"] == 400
    assert response.json()["message"].startswith(message)
    assert helio.paylinks == {}


def test_400_from_helio_surfaces_with_its_message_and_is_not_retried(settings, helio, clock):
    settings.HELIO_WALLET_ID = "65f1c2d3e4a5b6c7d8e9ffff"
    client = HelioClient(transport=helio.transport(), sleep=clock.sleep, clock=clock)
    with pytest.raises(HelioRejected) as caught:
        create_paylink(client)
    assert (caught.value.code, caught.value.upstream_status) == ("helio_rejected", 400)
    assert caught.value.message == (
        "Helio refused the request (HTTP 400): recipients.walletId must be one of your wallets"
    )
    assert caught.value.details["url"] == f"{HELIO_TEST_API_BASE}/paylink/create/api-key"
    assert (len(helio.requests), clock.sleeps) == (1, [])


def test_missing_keys_fail_before_any_request(settings, helio, clock):
    settings.HELIO_SECRET_KEY = ""
    client = HelioClient(transport=helio.transport(), sleep=clock.sleep, clock=clock)
    with pytest.raises(HelioNotConfigured) as caught:
        client.charge_get("65aa00000000000000000001")
    assert caught.value.code == "helio_not_configured"
    assert helio.requests == []
    assert len(client.currencies()) == 8  # needs no keys


# --- Retries, timeouts, bad responses ---------------------------------------------------------------------------
def test_timeouts_come_from_settings(client):
    timeout = client.http.timeout
    assert (timeout.connect, timeout.read, timeout.write, timeout.pool) == (5.0, 15.0, 15.0, 5.0)


def test_429_waits_for_retry_after_then_succeeds(client, helio, clock):
    helio.fail(throttled(7), path="/currency/all")
    assert len(client.currencies()) == 8
    assert clock.sleeps == [7.0]
    assert len(helio.requests) == 2


def test_429_on_paylink_create_is_retried_because_helio_refused_the_work(client, helio, clock):
    helio.fail(throttled(2), method="POST")
    paylink = create_paylink(client)
    assert clock.sleeps == [2.0]
    assert list(helio.paylinks) == [paylink.id]


def test_429_that_persists_gives_up_rate_limited(client, helio, clock):
    helio.fail(*[throttled(1)] * 4, path="/currency/all")
    with pytest.raises(UpstreamThrottled) as caught:
        client.currencies()
    assert caught.value.code == "upstream_rate_limited"
    assert clock.sleeps == [1.0, 1.0, 1.0]
    assert len(helio.requests) == 4


def test_503_on_a_read_is_retried_with_backoff_then_succeeds(client, helio, clock):
    paylink = create_paylink(client)
    charge = create_charge(client, paylink.id)
    helio.fail(unavailable(503), unavailable(502), path="/charge/")
    assert client.charge_get(charge.id).paid is False
    assert clock.sleeps == [1.0, 2.0]


def test_503_that_persists_gives_up_after_a_bounded_number_of_attempts(client, helio, clock):
    helio.fail(*[unavailable(503)] * 10, path="/currency/all")
    with pytest.raises(UpstreamUnavailable) as caught:
        client.currencies()
    assert caught.value.code == "upstream_unavailable"
    assert caught.value.message == "Helio failed (HTTP 503); gave up: after 4 attempts."
    assert clock.sleeps == [1.0, 2.0, 4.0]
    assert len(helio.requests) == 4


def test_503_on_paylink_create_is_not_repeated(client, helio, clock):
    helio.fail(unavailable(503), method="POST")
    with pytest.raises(UpstreamUnavailable) as caught:
        create_paylink(client)
    assert caught.value.upstream_status == 503
    assert (len(helio.requests), clock.sleeps) == (1, [])


def test_503_on_charge_create_is_repeated_since_an_unused_charge_expires(client, helio, clock):
    paylink = create_paylink(client)
    helio.fail(unavailable(503), path="/charge/api-key")
    charge = create_charge(client, paylink.id)
    assert list(helio.charges) == [charge.id]
    assert clock.sleeps == [1.0]


def test_connect_errors_are_retried_even_for_a_create(client, helio, clock):
    helio.fail(connect_error(), connect_error(), method="POST")
    paylink = create_paylink(client)
    assert list(helio.paylinks) == [paylink.id]
    assert clock.sleeps == [1.0, 2.0]


def test_read_timeout_on_a_read_is_retried(client, helio, clock):
    helio.fail(read_timeout(), path="/currency/all")
    assert len(client.currencies()) == 8
    assert clock.sleeps == [1.0]


def test_read_timeout_on_webhook_create_is_not_repeated(client, helio, clock):
    paylink = create_paylink(client)
    helio.fail(read_timeout(), path="/webhook/")
    with pytest.raises(UpstreamUnavailable) as caught:
        client.webhook_create_transaction(paylink_id=paylink.id, target_url="https://market.example/h")
    assert caught.value.message == "Helio failed (ReadTimeout); gave up: after 1 attempt."
    assert clock.sleeps == []
    assert helio.webhooks == {}


def test_malformed_json_is_a_bad_response(client, helio):
    paylink = create_paylink(client)
    helio.fail(malformed_json(), path="/charge/api-key")
    with pytest.raises(HelioResponseError) as caught:
        create_charge(client, paylink.id)
    assert caught.value.code == "helio_bad_response"
    assert caught.value.message == (
        "Helio answered POST /charge/api-key with something other than JSON (application/json)."
    )


def test_a_charge_answer_without_page_url_is_a_bad_response(client, helio):
    paylink = create_paylink(client)
    helio.fail(HelioFault(status=201, body={"id": "667c375be240df9843f7f4f9"}), path="/charge/api-key")
    with pytest.raises(HelioResponseError, match=r"Helio's charge has no pageUrl\."):
        create_charge(client, paylink.id)


def test_a_currency_list_that_is_not_a_list_is_a_bad_response(client, helio):
    helio.fail(HelioFault(status=200, body={"message": "ok"}), path="/currency/all")
    with pytest.raises(HelioResponseError, match="currency list is not a JSON array"):
        client.currencies()


# --- Secrets ------------------------------------------------------------------------------------------------------
def test_secret_key_and_shared_tokens_never_reach_logs_or_error_messages(client, helio, clock, caplog):
    caplog.set_level(logging.DEBUG)
    paylink = create_paylink(client)
    helio.fail(throttled(1), read_timeout(), method="GET")
    client.webhook_list(paylink.id)
    webhook = client.webhook_create_transaction(paylink_id=paylink.id, target_url="https://market.example/h")
    helio.fail(HelioFault(status=401, body={"code": 401, "message": f"Bad token {HELIO_TEST_SECRET_KEY}"}))
    with pytest.raises(HelioRejected) as refused:
        client.webhook_list(paylink.id)
    helio.fail(*[unavailable(503)] * 4)
    with pytest.raises(UpstreamUnavailable) as exhausted:
        client.webhook_list(paylink.id)
    helio.fail(HelioFault(status=201, body={"sharedToken": "leaked-token-value"}), path="/webhook/")
    with pytest.raises(HelioResponseError) as bad:
        client.webhook_create_transaction(paylink_id=paylink.id, target_url="https://market.example/h")

    assert webhook.shared_token
    assert refused.value.message == "Helio refused the request (HTTP 401): Bad token [redacted]"
    assert any(record.name == "modelmarket.core.http" for record in caplog.records)  # the retries were logged
    logged = "\n".join(f"{record.getMessage()} {record.__dict__}" for record in caplog.records)
    errors = "\n".join(f"{error.value} {error.value.details}" for error in (refused, exhausted, bad))
    for secret in (HELIO_TEST_SECRET_KEY, webhook.shared_token, "leaked-token-value"):
        assert secret not in logged
        assert secret not in errors
        assert secret not in repr(webhook)
