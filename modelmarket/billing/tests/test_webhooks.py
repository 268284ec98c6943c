"""The webhook endpoint and its processing: signatures verified before parsing (forged or unsigned: 401, nothing
stored), raw deliveries stored once per dedupe key, unreadable signed deliveries parked, dispatch by event, and
failures kept with their traceback and retried with backoff."""

from __future__ import annotations

import hashlib
import hmac
import json
import sys
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from modelmarket.billing.gateways.sandbox import sandbox_shared_token
from modelmarket.billing.models import (
    Entitlement,
    HelioWebhook,
    Invoice,
    LedgerTransaction,
    Order,
    OrderStatus,
    Payment,
    PaymentGateway,
    PaymentStatus,
    WebhookEvent,
    WebhookStatus,
)
from modelmarket.billing.services import payments as payment_services
from modelmarket.billing.services import webhooks
from modelmarket.billing.services.webhooks import (
    MAX_ATTEMPTS,
    InvalidWebhookSignature,
    event_name_normalize,
    retry_delay,
    webhook_dedupe_key,
    webhook_event_process,
    webhook_events_due,
    webhook_events_process_due,
    webhook_receive,
)
from modelmarket.billing.tests.factories import make_order
from modelmarket.billing.tests.test_webhooks_support import (
    WEBHOOK_PATH,
    HelioWorld,
    helio_settings,
    with_status,
)
from modelmarket.notifications.models import Notification

pytestmark = pytest.mark.django_db


@pytest.fixture
def helio(settings):
    helio_settings(settings)
    webhooks.webhook_tokens_cache_clear()
    return HelioWorld()


@pytest.fixture
def order():
    return make_order(gateway=PaymentGateway.HELIO)


def post(client: Client, body: bytes, headers: dict[str, str]):
    return client.post(WEBHOOK_PATH, data=body, content_type="application/json", headers=headers)


def assert_nothing_stored() -> None:
    assert WebhookEvent.objects.count() == 0
    assert Payment.objects.count() == 0
    assert LedgerTransaction.objects.count() == 0


# --- Verification -------------------------------------------------------------------------------------------------
def test_signed_delivery_is_stored_processed_and_answered_200(
    client, helio, order, django_capture_on_commit_callbacks
):
    body, headers = helio.signed(helio.pay(order))

    with django_capture_on_commit_callbacks(execute=True):
        response = post(client, body, headers)

    assert response.status_code == 200
    assert response.json() == {"received": True, "duplicate": False}
    event = WebhookEvent.objects.get()
    assert event.gateway == PaymentGateway.HELIO
    assert bytes(event.body) == body
    assert event.event == "CREATED"
    assert event.status == WebhookStatus.PROCESSED
    assert event.attempts == 1
    assert event.payment == Payment.objects.get()
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID


def test_forged_token_is_401_and_stores_nothing(client, helio, order):
    helio.paylink()
    body, headers = helio.signed(helio.pay(order), token="not-a-registered-token")

    response = post(client, body, headers)

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_webhook_signature"
    assert_nothing_stored()


def test_wrong_signature_is_401_and_stores_nothing(client, helio, order):
    body, headers = helio.signed(helio.pay(order))
    headers["X-Signature"] = "0" * 64

    response = post(client, body, headers)

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_webhook_signature"
    assert_nothing_stored()


def test_signature_over_a_different_body_is_401(client, helio, order):
    body, headers = helio.signed(helio.pay(order))
    tampered = body.replace(b'"transactionStatus":"SUCCESS"', b'"transactionStatus":"SUCCESS" ')
    assert tampered != body

    response = post(client, tampered, headers)

    assert response.status_code == 401
    assert_nothing_stored()


@pytest.mark.parametrize(
    "change",
    [
        {"Authorization": None},
        {"X-Signature": None},
        {"Authorization": None, "X-Signature": None},
        {"Authorization": "Basic {token}"},
        {"Authorization": "Bearer "},
        {"X-Signature": ""},
        {"Authorization": "{token}"},
    ],
)
def test_missing_or_malformed_headers_are_401(client, helio, order, change):
    body, headers = helio.signed(helio.pay(order))
    for name, value in change.items():
        if value is None:
            headers.pop(name)
        else:
            headers[name] = value.format(token=helio.token)

    response = post(client, body, headers)

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_webhook_signature"
    assert_nothing_stored()


def test_token_of_a_deleted_webhook_is_refused(client, helio, order, django_capture_on_commit_callbacks):
    first_body, first_headers = helio.signed(helio.pay(order))
    assert post(client, first_body, first_headers).status_code == 200  # the tokens are now cached
    HelioWebhook.objects.all().delete()
    other = make_order(gateway=PaymentGateway.HELIO)
    body, headers = helio.signed(helio.fake.pay(helio.charge(other), amount=other.amount_minor))

    response = post(client, body, headers)

    assert response.status_code == 401
    assert WebhookEvent.objects.count() == 1


def test_a_token_that_cannot_be_decrypted_verifies_nothing(client, helio, order):
    body, headers = helio.signed(helio.pay(order))
    HelioWebhook.objects.update(shared_token_encrypted=b"not a fernet token")
    webhooks.webhook_tokens_cache_clear()

    assert post(client, body, headers).status_code == 401
    assert_nothing_stored()


def test_header_names_in_any_case_and_upper_case_hex_are_accepted(helio, order):
    body, headers = helio.signed(helio.pay(order))
    lowered = {
        "authorization": headers["Authorization"],
        "X-SIGNATURE": headers["X-Signature"].upper(),
    }

    event = webhook_receive(body=body, headers=lowered)

    assert event is not None
    assert event.status == WebhookStatus.RECEIVED


def test_sandbox_token_is_accepted_only_while_the_sandbox_is_the_gateway(settings):
    token = sandbox_shared_token()
    body = json.dumps({"event": "CREATED", "transactionObject": {"id": "tx_sandbox_1"}}).encode()
    headers = {
        "Authorization": f"Bearer {token}",
        "X-Signature": hmac.new(token.encode(), body, hashlib.sha256).hexdigest(),
    }
    settings.PAYMENT_GATEWAY = "helio"
    with pytest.raises(InvalidWebhookSignature):
        webhook_receive(body=body, headers=headers)
    assert WebhookEvent.objects.count() == 0

    settings.PAYMENT_GATEWAY = "sandbox"
    event = webhook_receive(body=body, headers=headers)

    assert event is not None
    assert event.gateway == PaymentGateway.SANDBOX
    assert event.dedupe_key == "tx_sandbox_1:CREATED"


def test_a_body_over_one_megabyte_is_413_and_stores_nothing(client, helio, order):
    helio.paylink()
    body, headers = helio.signed(b'{"event":"CREATED","pad":"' + b"x" * (1024 * 1024) + b'"}')

    response = post(client, body, headers)

    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"
    assert_nothing_stored()


def test_the_endpoint_needs_no_csrf_token(helio, order):
    body, headers = helio.signed(helio.pay(order))

    response = post(Client(enforce_csrf_checks=True), body, headers)

    assert response.status_code == 200
    assert WebhookEvent.objects.count() == 1


def test_the_endpoint_is_in_the_openapi_document(client):
    schema = client.get("/api/v1/openapi.json").json()

    operation = schema["paths"][WEBHOOK_PATH]["post"]
    assert set(operation["responses"]) == {"200", "401", "413"}
    assert "security" not in operation
    assert operation["requestBody"]["content"]["application/json"]["schema"]["type"] == "object"


# --- Storing ------------------------------------------------------------------------------------------------------
def test_a_redelivery_is_acknowledged_as_duplicate_and_stored_once(
    client, helio, order, django_capture_on_commit_callbacks
):
    body, headers = helio.signed(helio.pay(order))

    with django_capture_on_commit_callbacks(execute=True):
        first = post(client, body, headers)
        second = post(client, body, headers)

    assert first.json() == {"received": True, "duplicate": False}
    assert second.status_code == 200
    assert second.json() == {"received": True, "duplicate": True}
    assert WebhookEvent.objects.count() == 1
    assert Payment.objects.count() == 1
    assert LedgerTransaction.objects.count() == 1


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b'{"event": "CREATED", "transactionObject": ', "The body is not valid JSON."),
        (b"\xff\xfe\x00garbage", "The body is not valid JSON."),
        (b'[{"event": "CREATED"}]', "The body is not a JSON object."),
        (b'"CREATED"', "The body is not a JSON object."),
        (b'{"transactionObject": {"id": "tx1"}}', "The payload has no event name."),
        (b'{"event": "", "transactionObject": {"id": "tx1"}}', "The payload has no event name."),
    ],
)
def test_a_signed_unreadable_delivery_is_stored_parked_with_its_reason(
    client, helio, body, reason, django_capture_on_commit_callbacks
):
    helio.paylink()
    signed_body, headers = helio.signed(body)

    with django_capture_on_commit_callbacks(execute=True):
        response = post(client, signed_body, headers)

    assert response.status_code == 200
    assert response.json() == {"received": True, "duplicate": False}
    event = WebhookEvent.objects.get()
    assert event.status == WebhookStatus.PARKED
    assert event.last_error == reason
    assert event.dedupe_key == f"raw:{hashlib.sha256(body).hexdigest()}"
    assert bytes(event.body) == body
    assert Payment.objects.count() == 0


def test_dedupe_keys():
    transaction = {"id": "tx1", "meta": {"transactionStatus": "SUCCESS"}}
    assert webhook_dedupe_key(payload={"transactionObject": transaction}, event="CREATED") == "tx1:CREATED"
    pending = {"id": "tx1", "meta": {"transactionStatus": "pending"}}
    assert (
        webhook_dedupe_key(payload={"transactionObject": pending}, event="CREATED") == "tx1:CREATED:PENDING"
    )
    as_string = {"transaction": json.dumps(transaction)}
    assert webhook_dedupe_key(payload=as_string, event="RENEWED") == "tx1:RENEWED"
    ended = {"subscriptionId": "sub1", "chargeToken": "tok"}
    assert webhook_dedupe_key(payload=ended, event="ENDED") == "sub1:ENDED:tok"
    body = b'{"subscriptionId": "sub1"}'
    digest = hashlib.sha256(body).hexdigest()
    assert (
        webhook_dedupe_key(payload={"subscriptionId": "sub1"}, event="ENDED", body=body)
        == f"sub1:ENDED:{digest}"
    )
    assert webhook_dedupe_key(payload={}, event="CREATED", body=body) == f"raw:{digest}"
    long_key = webhook_dedupe_key(payload={"transactionObject": {"id": "x" * 300}}, event="CREATED")
    assert long_key.startswith("sha256:")
    assert len(long_key) <= 200


def test_event_names_are_normalised_from_both_spellings():
    assert event_name_normalize("SUBSCRIPTION_STARTED") == "STARTED"
    assert event_name_normalize("started") == "STARTED"
    assert event_name_normalize("SUBSCRIPTION_RENEWED") == "RENEWED"
    assert event_name_normalize("ENDED") == "ENDED"
    assert event_name_normalize("SUBSCRIPTION_PENDING_PAYMENT") == "SUBSCRIPTION_PENDING_PAYMENT"
    assert event_name_normalize("CREATED") == "CREATED"
    assert event_name_normalize("REFUNDED") is None
    assert event_name_normalize(None) is None


# --- Dispatch -----------------------------------------------------------------------------------------------------
def test_an_unknown_event_is_ignored_with_its_reason(helio):
    helio.paylink()
    body, headers = helio.signed({"event": "PAYLINK_UPDATED", "paylinkId": "p1"})
    event = webhook_receive(body=body, headers=headers)

    webhook_event_process(event_id=event.pk)

    event.refresh_from_db()
    assert event.status == WebhookStatus.IGNORED
    assert event.last_error == "Event 'PAYLINK_UPDATED' is not one we act on."


def test_an_unknown_event_carrying_a_paylink_transaction_is_recorded_as_a_payment(helio, order):
    payload = helio.pay(order)
    payload["event"] = "TRANSACTION_CREATED"
    body, headers = helio.signed(payload)
    event = webhook_receive(body=body, headers=headers)

    webhook_event_process(event_id=event.pk)

    event.refresh_from_db()
    assert event.status == WebhookStatus.PROCESSED
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID


def test_created_without_transaction_object_reads_the_transaction_string(helio, order):
    payload = helio.pay(order)
    del payload["transactionObject"]
    body, headers = helio.signed(payload)
    event = webhook_receive(body=body, headers=headers)

    webhook_event_process(event_id=event.pk)

    event.refresh_from_db()
    assert event.status == WebhookStatus.PROCESSED
    assert event.dedupe_key == f"{json.loads(payload['transaction'])['id']}:CREATED"
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID


def test_created_with_missing_fields_is_parked_with_the_reason(helio, order):
    payload = helio.pay(order)
    del payload["transactionObject"]["meta"]["amount"]
    del payload["transaction"]
    body, headers = helio.signed(payload)
    event = webhook_receive(body=body, headers=headers)

    webhook_event_process(event_id=event.pk)

    event.refresh_from_db()
    assert event.status == WebhookStatus.PARKED
    assert event.last_error.startswith("The transaction cannot be read: ")
    assert "meta.amount" in event.last_error
    assert Payment.objects.count() == 0
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING


def test_created_without_any_transaction_is_parked(helio):
    helio.paylink()
    body, headers = helio.signed({"event": "CREATED", "chargeToken": "abc"})
    event = webhook_receive(body=body, headers=headers)

    webhook_event_process(event_id=event.pk)

    event.refresh_from_db()
    assert event.status == WebhookStatus.PARKED
    assert event.last_error == "The payload has no transactionObject (nor a transaction string)."


@pytest.mark.parametrize("name", ["RENEWED", "SUBSCRIPTION_RENEWED", "SUBSCRIPTION_PENDING_PAYMENT", "ENDED"])
def test_subscription_events_go_to_the_subscriptions_service(helio, monkeypatch, name):
    from modelmarket.billing.services import subscriptions

    calls = []
    monkeypatch.setattr(
        subscriptions, "subscription_event_apply", lambda *, event, payload: calls.append((event.pk, payload))
    )
    helio.paylink()
    payload = {"event": name, "subscriptionId": "sub1", "chargeToken": "tok"}
    body, headers = helio.signed(payload)
    event = webhook_receive(body=body, headers=headers)

    webhook_event_process(event_id=event.pk)

    event.refresh_from_db()
    assert calls == [(event.pk, payload)]
    assert event.status == WebhookStatus.PROCESSED
    assert event.event == event_name_normalize(name)


def test_a_subscription_event_the_service_cannot_place_yet_fails_and_is_retried(helio, monkeypatch):
    from modelmarket.billing.services import subscriptions

    def not_ready(*, event, payload):
        raise subscriptions.SubscriptionNotReady()

    monkeypatch.setattr(subscriptions, "subscription_event_apply", not_ready)
    helio.paylink()
    body, headers = helio.signed({"event": "RENEWED", "subscriptionId": "sub1", "chargeToken": "tok"})
    event = webhook_receive(body=body, headers=headers)

    webhook_event_process(event_id=event.pk)

    event.refresh_from_db()
    assert event.status == WebhookStatus.FAILED
    assert event.attempts == 1
    assert "SubscriptionNotReady" in event.last_error
    assert event.next_attempt_at is not None


def test_a_subscription_event_the_service_calls_invalid_is_parked(helio, monkeypatch):
    from modelmarket.billing.services import subscriptions

    def invalid(*, event, payload):
        raise subscriptions.SubscriptionEventInvalid("The ENDED event has no subscriptionId.")

    monkeypatch.setattr(subscriptions, "subscription_event_apply", invalid)
    helio.paylink()
    body, headers = helio.signed({"event": "ENDED", "chargeToken": "tok", "subscriptionId": ""})
    event = webhook_receive(body=body, headers=headers)

    webhook_event_process(event_id=event.pk)

    event.refresh_from_db()
    assert event.status == WebhookStatus.PARKED
    assert event.last_error == "The ENDED event has no subscriptionId."
    assert event.next_attempt_at is None


def test_subscription_events_fail_clearly_while_the_subscriptions_service_is_missing(helio, monkeypatch):
    monkeypatch.setitem(sys.modules, "modelmarket.billing.services.subscriptions", None)
    helio.paylink()
    body, headers = helio.signed({"event": "STARTED", "subscriptionId": "sub1", "chargeToken": "tok"})
    event = webhook_receive(body=body, headers=headers)

    webhook_event_process(event_id=event.pk)

    event.refresh_from_db()
    assert event.status == WebhookStatus.FAILED
    assert "subscription_event_apply is not available" in event.last_error


# --- Failures, retries, replays -----------------------------------------------------------------------------------
def test_a_processing_failure_is_kept_with_its_traceback_retried_with_backoff_then_succeeds(
    helio, order, monkeypatch
):
    real_grant = payment_services.entitlements.entitlement_grant
    failures = [RuntimeError("the database hiccuped")]

    def flaky_grant(**kwargs):
        if failures:
            raise failures.pop()
        return real_grant(**kwargs)

    monkeypatch.setattr(payment_services.entitlements, "entitlement_grant", flaky_grant)
    body, headers = helio.signed(helio.pay(order))
    event = webhook_receive(body=body, headers=headers)
    before = timezone.now()

    webhook_event_process(event_id=event.pk)

    event.refresh_from_db()
    assert event.status == WebhookStatus.FAILED
    assert event.attempts == 1
    assert "Traceback (most recent call last)" in event.last_error
    assert "RuntimeError: the database hiccuped" in event.last_error
    assert before + timedelta(seconds=30) <= event.next_attempt_at <= timezone.now() + timedelta(seconds=30)
    # Everything the failed attempt wrote was rolled back with it.
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING
    assert Payment.objects.count() == 0
    assert LedgerTransaction.objects.count() == 0

    assert webhook_events_process_due(now=timezone.now() + timedelta(seconds=10)) == 0
    assert webhook_events_process_due(now=timezone.now() + timedelta(seconds=31)) == 1

    event.refresh_from_db()
    assert event.status == WebhookStatus.PROCESSED
    assert event.attempts == 2
    assert event.last_error == ""
    assert event.next_attempt_at is None
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
    assert Entitlement.objects.get().last_order == order
    assert webhook_events_due(now=timezone.now() + timedelta(days=1)) == []


def test_backoff_doubles_from_thirty_seconds_and_is_capped_at_an_hour():
    assert [retry_delay(n).total_seconds() for n in range(1, 10)] == [
        30,
        60,
        120,
        240,
        480,
        960,
        1920,
        3600,
        3600,
    ]
    assert retry_delay(500) == timedelta(hours=1)


def test_after_ten_failed_attempts_the_event_stays_failed_and_visible(helio, order, monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("still broken")

    monkeypatch.setattr(payment_services.invoices, "invoice_issue", broken)
    body, headers = helio.signed(helio.pay(order))
    event = webhook_receive(body=body, headers=headers)

    for _ in range(MAX_ATTEMPTS):
        webhook_event_process(event_id=event.pk)

    event.refresh_from_db()
    assert event.status == WebhookStatus.FAILED
    assert event.attempts == MAX_ATTEMPTS
    assert event.next_attempt_at is None
    assert "RuntimeError: still broken" in event.last_error
    assert webhook_events_due(now=timezone.now() + timedelta(days=30)) == []
    # A staff replay still runs it.
    monkeypatch.undo()
    webhook_event_process(event_id=event.pk)
    event.refresh_from_db()
    assert event.status == WebhookStatus.PROCESSED
    assert Invoice.objects.filter(order=order).count() == 1


def test_a_received_event_whose_job_was_lost_is_picked_up_after_a_minute(helio, order):
    body, headers = helio.signed(helio.pay(order))
    event = webhook_receive(body=body, headers=headers)  # on_commit never runs here: the job is "lost"

    assert webhook_events_due(now=timezone.now()) == []
    assert webhook_events_due(now=timezone.now() + timedelta(seconds=61)) == [event.pk]

    webhook_events_process_due(now=timezone.now() + timedelta(seconds=61))

    event.refresh_from_db()
    assert event.status == WebhookStatus.PROCESSED
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID


def test_processing_an_event_again_changes_nothing(helio, order):
    body, headers = helio.signed(helio.pay(order))
    event = webhook_receive(body=body, headers=headers)
    webhook_event_process(event_id=event.pk)
    event.refresh_from_db()
    processed_at = event.processed_at

    webhook_event_process(event_id=event.pk)
    WebhookEvent.objects.filter(pk=event.pk).update(status=WebhookStatus.RECEIVED)  # as a staff replay would
    webhook_event_process(event_id=event.pk)

    event.refresh_from_db()
    assert event.status == WebhookStatus.PROCESSED
    assert event.processed_at >= processed_at
    assert Payment.objects.count() == 1
    assert LedgerTransaction.objects.count() == 1
    assert Entitlement.objects.count() == 1
    assert Invoice.objects.count() == 1
    assert Notification.objects.filter(kind="order_paid").count() == 1


def test_processing_an_unknown_event_id_returns_none():
    assert webhook_event_process(event_id=123456) is None


def test_the_process_task_runs_the_service(helio, order):
    from modelmarket.billing.tasks.webhooks import webhook_event_process_task, webhook_events_retry

    body, headers = helio.signed(helio.pay(order))
    event = webhook_receive(body=body, headers=headers)

    webhook_event_process_task(event.pk)  # Huey runs jobs at once in tests
    webhook_events_retry()

    event.refresh_from_db()
    assert event.status == WebhookStatus.PROCESSED


def test_pending_then_success_deliveries_of_one_transaction_complete_the_order_once(
    client, helio, order, django_capture_on_commit_callbacks
):
    success = helio.pay(order)
    pending = with_status(success, "PENDING")

    with django_capture_on_commit_callbacks(execute=True):
        for payload in (pending, success, pending, success):
            assert post(client, *helio.signed(payload)).status_code == 200

    assert WebhookEvent.objects.count() == 2
    payment = Payment.objects.get()
    assert payment.status == PaymentStatus.SUCCEEDED
    assert list(payment.webhook_events.values_list("status", flat=True)) == [WebhookStatus.PROCESSED] * 2
    assert Order.objects.get(pk=order.pk).status == OrderStatus.PAID
    assert LedgerTransaction.objects.count() == 1
    assert Notification.objects.filter(kind="order_paid").count() == 1
