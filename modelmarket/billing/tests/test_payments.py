"""payment_record: a payment that fits its order pays it (ledger, entitlement, invoice, notification — once);
anything that does not fit is kept and parked with its reason and grants nothing; statuses other than SUCCESS are
recorded; the same transaction twice changes nothing. And the staff selectors over payments."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from modelmarket.billing.gateways.helio.payloads import transaction_from_payload
from modelmarket.billing.models import (
    AccountKind,
    Entitlement,
    EntitlementStatus,
    Invoice,
    LedgerTransaction,
    Order,
    OrderKind,
    OrderStatus,
    Payment,
    PaymentGateway,
    PaymentMatch,
    PaymentStatus,
    PlanKind,
    WebhookEvent,
    WebhookStatus,
)
from modelmarket.billing.services.payments import (
    helio_gross_base_units,
    order_page_path,
    payment_record,
    payment_status_from_helio,
)
from modelmarket.billing.services.webhooks import webhook_event_process, webhook_receive
from modelmarket.billing.tests.factories import make_order, make_plan
from modelmarket.billing.tests.test_webhooks_support import (
    HelioWorld,
    balance,
    clearing_balance,
    helio_settings,
    ledger_total,
    with_status,
)
from modelmarket.notifications.models import Notification

pytestmark = pytest.mark.django_db
PRICE = 10_000_000  # 10 USDC


@pytest.fixture
def helio(settings):
    helio_settings(settings)
    return HelioWorld()


@pytest.fixture
def order():
    return make_order(gateway=PaymentGateway.HELIO)


def record(payload: dict, gateway: str = PaymentGateway.HELIO) -> Payment:
    return payment_record(
        gateway=gateway, transaction=transaction_from_payload(payload["transactionObject"]), event=None
    )


def deliver(helio: HelioWorld, payload: dict) -> WebhookEvent:
    """Through the webhook code, as the job would run it."""
    body, headers = helio.signed(payload)
    event = webhook_receive(body=body, headers=headers)
    assert event is not None
    webhook_event_process(event_id=event.pk)
    event.refresh_from_db()
    return event


def assert_nothing_granted(order: Order) -> None:
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING
    assert LedgerTransaction.objects.count() == 0
    assert Entitlement.objects.count() == 0
    assert Invoice.objects.count() == 0
    assert not Notification.objects.filter(kind="order_paid").exists()


# --- A payment that fits ------------------------------------------------------------------------------------------
def test_a_paid_order_is_booked_balanced_granted_invoiced_and_notified_once(helio, order):
    creator = order.model.creator
    payload = helio.pay(order)

    event = deliver(helio, payload)

    assert event.status == WebhookStatus.PROCESSED
    payment = Payment.objects.get()
    assert payment.match == PaymentMatch.MATCHED
    assert payment.status == PaymentStatus.SUCCEEDED
    assert payment.order == order
    assert payment.currency_id == "USDC"
    assert (payment.gross_minor, payment.fee_minor, payment.net_minor) == (PRICE, 0, PRICE)
    assert payment.transaction_signature == payload["transactionObject"]["meta"]["transactionSignature"]
    assert payment.payer_email == "buyer@example.com"
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
    assert order.paid_at == payment.paid_at
    # Ledger: balanced; the creator gets the price less the 15 % platform fee.
    assert ledger_total() == 0
    assert clearing_balance() == -PRICE
    assert balance(AccountKind.CREATOR_EARNINGS, user_id=creator.pk) == 8_500_000
    assert balance(AccountKind.PLATFORM_REVENUE) == 1_500_000
    entitlement = Entitlement.objects.get()
    assert (entitlement.buyer, entitlement.last_order, entitlement.status) == (
        order.buyer,
        order,
        EntitlementStatus.ACTIVE,
    )
    assert entitlement.ends_at is None  # one-time plan: lifetime
    assert payment.entitlement == entitlement
    invoice = Invoice.objects.get()
    assert (invoice.order, invoice.payment, invoice.amount_minor) == (order, payment, PRICE)
    notification = Notification.objects.get(kind="order_paid")
    assert notification.user == order.buyer
    assert notification.dedupe_key == f"order_paid:{order.public_id}"
    assert notification.url == order_page_path(order)
    assert notification.title == f"Payment received: {order.model.name} — Lifetime"

    # Recording the same transaction again (a replay, reconciliation) returns it and changes nothing.
    again = record(payload)

    assert again.pk == payment.pk
    assert Payment.objects.count() == 1
    assert LedgerTransaction.objects.count() == 1
    assert Entitlement.objects.count() == 1
    assert Invoice.objects.count() == 1
    assert Notification.objects.filter(kind="order_paid").count() == 1
    assert ledger_total() == 0


def test_gross_fee_and_net_are_recorded_as_helio_reports_them(helio, order):
    # Helio's example: meta.amount is net of the fee and meta.totalAmount repeats it.
    payload = helio.pay(order, fee=200_000)
    assert payload["transactionObject"]["meta"]["amount"] == "9800000"
    assert payload["transactionObject"]["meta"]["totalAmount"] == "9800000"

    payment = record(payload)

    assert (payment.gross_minor, payment.fee_minor, payment.net_minor) == (PRICE, 200_000, 9_800_000)
    assert payment.match == PaymentMatch.MATCHED
    assert ledger_total() == 0
    assert balance(AccountKind.PROCESSOR_FEES) == 200_000
    assert balance(AccountKind.PLATFORM_REVENUE) == 1_500_000 - 200_000


def test_total_amount_read_as_the_gross_when_it_differs_from_amount(helio, order):
    payload = helio.pay(order, fee=200_000)
    payload["transactionObject"]["meta"]["totalAmount"] = str(PRICE)

    payment = record(payload)

    assert helio_gross_base_units(transaction_from_payload(payload["transactionObject"])) == PRICE
    assert (payment.gross_minor, payment.net_minor) == (PRICE, 9_800_000)
    assert payment.match == PaymentMatch.MATCHED


def test_a_double_encoded_additional_json_still_matches_the_order(helio, order):
    double_encoded = json.dumps(json.dumps({"order": order.public_id}))
    payload = helio.fake.pay(helio.charge(order), amount=PRICE, additional_json=double_encoded)

    event = deliver(helio, payload)

    assert event.status == WebhookStatus.PROCESSED
    assert Payment.objects.get().order == order
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID


@pytest.mark.parametrize("status", [OrderStatus.EXPIRED, OrderStatus.CANCELLED, OrderStatus.FAILED])
def test_money_for_an_expired_cancelled_or_failed_order_still_pays_it(helio, order, status):
    Order.objects.filter(pk=order.pk).update(status=status)

    payment = record(helio.pay(order))

    assert payment.match == PaymentMatch.MATCHED
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
    assert Entitlement.objects.get().last_order == order


def test_a_time_pass_starts_when_the_transaction_was_made(helio):
    order = make_order(make_plan(kind=PlanKind.TIME_PASS, pass_duration="day"), gateway=PaymentGateway.HELIO)
    made_at = timezone.now() - timedelta(minutes=5)

    record(helio.pay(order, created_at=made_at))

    entitlement = Entitlement.objects.get()
    assert abs(entitlement.starts_at - made_at) < timedelta(milliseconds=1)
    assert abs(entitlement.ends_at - (made_at + timedelta(days=1))) < timedelta(milliseconds=1)


def test_a_top_up_credits_the_buyers_wallet(helio):
    order = make_order(
        kind=OrderKind.TOP_UP, currency="USDC", amount_minor=25_000_000, gateway=PaymentGateway.HELIO
    )

    payment = record(helio.pay(order))

    assert payment.match == PaymentMatch.MATCHED
    assert payment.entitlement is None
    assert balance(AccountKind.BUYER_WALLET, user_id=order.buyer_id) == 25_000_000
    assert ledger_total() == 0
    assert Invoice.objects.get().order == order
    assert Notification.objects.get(kind="order_paid").title == "Payment received: USDC credit"


def test_a_sandbox_payment_pays_a_sandbox_order():
    from modelmarket.billing.gateways.sandbox import sandbox_payment_complete

    order = make_order(gateway=PaymentGateway.SANDBOX)

    event = sandbox_payment_complete(order=order, succeed=True)
    webhook_event_process(event_id=event.pk)

    payment = Payment.objects.get()
    assert (payment.gateway, payment.match, payment.status) == ("sandbox", "matched", "succeeded")
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID


# --- Payments that do not fit: parked, nothing granted ------------------------------------------------------------
def test_an_amount_that_is_not_the_orders_is_parked_and_grants_nothing(helio, order):
    payload = helio.pay(order, amount=5_000_000)

    event = deliver(helio, payload)

    payment = Payment.objects.get()
    assert payment.match == PaymentMatch.MISMATCH
    assert payment.review_reason == f"Paid 5.00 USDC, order {order.public_id} is 10.00 USDC."
    assert payment.gross_minor == 5_000_000
    assert payment.order == order
    assert event.status == WebhookStatus.PARKED
    assert event.last_error == payment.review_reason
    assert event.payment == payment
    assert_nothing_granted(order)


def test_a_payment_for_no_known_order_is_parked_unmatched(helio, order):
    payload = helio.fake.pay(
        helio.charge(order), amount=PRICE, additional_json=json.dumps({"order": "ord_does_not_exist"})
    )

    event = deliver(helio, payload)

    payment = Payment.objects.get()
    assert payment.match == PaymentMatch.UNMATCHED
    assert payment.review_reason == "No order ord_does_not_exist exists."
    assert payment.order is None
    assert payment.gross_minor == PRICE
    assert event.status == WebhookStatus.PARKED
    assert_nothing_granted(order)


@pytest.mark.parametrize(
    "additional_json", [None, "not json", json.dumps({"customer": 7}), json.dumps(["x"])]
)
def test_a_payment_without_a_readable_order_reference_is_parked_unmatched(helio, order, additional_json):
    payload = helio.fake.pay(helio.charge(order), amount=PRICE, additional_json=additional_json)

    event = deliver(helio, payload)

    payment = Payment.objects.get()
    assert payment.match == PaymentMatch.UNMATCHED
    assert payment.review_reason == 'The payment carries no order reference (no "order" in additionalJSON).'
    assert event.status == WebhookStatus.PARKED
    assert_nothing_granted(order)


def test_a_payment_in_another_currency_is_parked(helio, order):
    payload = helio.pay(order, currency="SOL")  # a SOL pay link, the same number of base units
    assert payload["transactionObject"]["meta"]["tokenQuote"]["to"] == "SOL"

    event = deliver(helio, payload)

    payment = Payment.objects.get()
    assert payment.match == PaymentMatch.MISMATCH
    assert payment.currency_id == "SOL"
    assert payment.review_reason == f"Paid in SOL, order {order.public_id} is in USDC."
    assert event.status == WebhookStatus.PARKED
    assert_nothing_granted(order)


def test_a_payment_in_a_currency_we_do_not_know_is_parked(helio, order):
    payload = helio.pay(order)
    payload["transactionObject"]["meta"]["currency"] = "DOGE"

    payment = record(payload)

    assert payment.match == PaymentMatch.MISMATCH
    assert payment.currency is None
    assert payment.review_reason == "Paid in 'DOGE', a currency we do not know."
    assert payment.provider_data["amount_base_units"] == str(PRICE)
    assert_nothing_granted(order)


def test_an_amount_too_large_to_record_is_parked(helio, order):
    payload = helio.pay(order, amount=10**40)

    event = deliver(helio, payload)

    payment = Payment.objects.get()
    assert payment.match == PaymentMatch.MISMATCH
    assert payment.review_reason == f"The amount ({10**40} base units) is too large to record."
    assert (payment.gross_minor, payment.fee_minor, payment.net_minor) == (0, 0, 0)
    assert payment.provider_data["amount_base_units"] == str(10**40)
    assert event.status == WebhookStatus.PARKED
    assert_nothing_granted(order)


def test_a_second_payment_for_a_paid_order_is_parked_as_money_to_refund(helio, order):
    record(helio.pay(order))

    second = record(helio.pay(order))

    assert second.match == PaymentMatch.MISMATCH
    assert (
        second.review_reason
        == f"Order {order.public_id} is already paid: this second payment is money to refund."
    )
    assert Payment.objects.count() == 2
    assert LedgerTransaction.objects.count() == 1
    assert Entitlement.objects.get().last_order == order
    assert Invoice.objects.count() == 1
    assert clearing_balance() == -PRICE


def test_a_payment_through_another_gateway_than_the_orders_is_parked(helio):
    order = make_order(gateway=PaymentGateway.SANDBOX)

    payment = record(helio.pay(order))

    assert payment.match == PaymentMatch.MISMATCH
    assert payment.review_reason == (
        f"Order {order.public_id} is paid through sandbox; this payment came through helio."
    )
    assert_nothing_granted(order)


# --- Other statuses -----------------------------------------------------------------------------------------------
def test_a_failed_payment_fails_the_pending_order_and_tells_the_buyer(helio, order):
    event = deliver(helio, helio.pay(order, status="FAILED"))

    assert event.status == WebhookStatus.PROCESSED
    payment = Payment.objects.get()
    assert (payment.status, payment.match, payment.paid_at) == (
        PaymentStatus.FAILED,
        PaymentMatch.MATCHED,
        None,
    )
    order.refresh_from_db()
    assert order.status == OrderStatus.FAILED
    assert order.failure_reason == f"The payment failed at the gateway ({payment.public_id})."
    notification = Notification.objects.get()
    assert (notification.kind, notification.user) == ("order_failed", order.buyer)
    assert LedgerTransaction.objects.count() == 0
    assert Entitlement.objects.count() == 0


def test_a_failed_payment_leaves_a_paid_order_alone(helio, order):
    record(helio.pay(order))

    failed = record(helio.pay(order, status="FAILED"))

    assert failed.status == PaymentStatus.FAILED
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
    assert not Notification.objects.filter(kind="order_failed").exists()


def test_a_pending_payment_is_recorded_and_does_nothing_else(helio, order):
    payment = record(helio.pay(order, status="PENDING"))

    assert (payment.status, payment.match) == (PaymentStatus.PENDING, PaymentMatch.MATCHED)
    assert_nothing_granted(order)
    assert Notification.objects.count() == 0


def test_the_same_transaction_turning_from_pending_to_success_completes_the_order_once(helio, order):
    success = helio.pay(order)
    pending = record(with_status(success, "PENDING"))

    completed = record(success)
    record(with_status(success, "PENDING"))  # a stale report afterwards
    record(success)

    assert completed.pk == pending.pk
    assert completed.status == PaymentStatus.SUCCEEDED
    assert Payment.objects.count() == 1
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
    assert LedgerTransaction.objects.count() == 1
    assert Entitlement.objects.count() == 1
    assert Notification.objects.filter(kind="order_paid").count() == 1


def test_a_success_stays_a_success_whatever_is_reported_later(helio, order):
    success = helio.pay(order)
    record(success)

    later = record(with_status(success, "FAILED"))

    assert later.status == PaymentStatus.SUCCEEDED
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID


def test_helio_statuses_map_to_ours():
    assert payment_status_from_helio("SUCCESS") == PaymentStatus.SUCCEEDED
    assert payment_status_from_helio("success ") == PaymentStatus.SUCCEEDED
    assert payment_status_from_helio("FAILED") == PaymentStatus.FAILED
    assert payment_status_from_helio("PENDING") == PaymentStatus.PENDING
    assert payment_status_from_helio("SOMETHING_NEW") == PaymentStatus.PENDING
