"""Helio's subscription events applied to entitlements: STARTED links, RENEWED books a renewal and extends by one
interval (once per transaction), ENDED expires or ends at period end, PENDING_PAYMENT stores the renewal link and
reminds once; both spellings of every event; events out of order (RENEWED before STARTED) wait and then apply."""

from __future__ import annotations

from datetime import timedelta

import pytest

from modelmarket.billing.models import (
    Entitlement,
    EntitlementStatus,
    Invoice,
    LedgerTransaction,
    Order,
    OrderStatus,
    Payment,
    PaymentMatch,
    PaymentStatus,
    WebhookStatus,
)
from modelmarket.billing.services.entitlements import add_months
from modelmarket.billing.services.subscriptions import (
    SubscriptionEventInvalid,
    SubscriptionNotReady,
    subscription_event_apply,
    subscription_event_kind,
)
from modelmarket.billing.tests.test_subscriptions_support import (
    NOW,
    PRICE,
    HelioWorld,
    entitlement_of,
    helio_settings,
    helio_transaction,
    order_paid,
    pending_order,
    stored_event,
    subscription_plan,
)
from modelmarket.notifications.models import Notification

pytestmark = pytest.mark.django_db

SPELLINGS = {
    "STARTED": ["STARTED", "SUBSCRIPTION_STARTED"],
    "RENEWED": ["RENEWED", "SUBSCRIPTION_RENEWED"],
    "ENDED": ["ENDED", "SUBSCRIPTION_ENDED"],
}


@pytest.fixture(autouse=True)
def _settings(settings):
    helio_settings(settings)


@pytest.fixture
def world():
    return HelioWorld()


@pytest.fixture
def subscribed(world):
    """A buyer whose first payment (STARTED's transaction) was recorded by the CREATED webhook: entitlement active
    for a month, not yet linked to the Helio subscription."""
    plan = subscription_plan()
    paylink = world.paylink_for(plan)
    order = pending_order(plan)
    charge_id = world.charge(paylink, order)
    started = world.fake.subscription_event("STARTED", charge_id=charge_id)
    order_paid(order, paid_at=NOW, transaction_id=started["transactionObject"]["id"])
    return {"plan": plan, "paylink": paylink, "order": order, "charge_id": charge_id, "started": started}


def apply(payload, *, now=NOW):
    event = stored_event(payload)
    result = subscription_event_apply(event=event, payload=payload, now=now)
    event.refresh_from_db()
    return event, result


def test_event_kind_accepts_both_spellings():
    assert [
        subscription_event_kind(name) for name in ("STARTED", "SUBSCRIPTION_STARTED", "subscription_renewed")
    ] == [
        "STARTED",
        "STARTED",
        "RENEWED",
    ]
    assert subscription_event_kind("SUBSCRIPTION_PENDING_PAYMENT") == "SUBSCRIPTION_PENDING_PAYMENT"
    assert subscription_event_kind("PENDING_PAYMENT") == "SUBSCRIPTION_PENDING_PAYMENT"
    assert subscription_event_kind("ENDED") == "ENDED"
    assert subscription_event_kind("CREATED") is None
    assert subscription_event_kind("") is None


@pytest.mark.parametrize("name", SPELLINGS["STARTED"])
def test_started_links_the_entitlement_to_the_helio_subscription_and_its_renewal_link(
    world, subscribed, name
):
    payload = {**subscribed["started"], "event": name}
    event, payment = apply(payload)
    entitlement = entitlement_of(subscribed["order"])
    assert entitlement.helio_subscription_id == payload["subscriptionId"]
    assert entitlement.next_charge_url == payload["nextChargeUrl"]
    assert entitlement.next_charge_url.startswith("https://app.dev.hel.io/charge/")
    assert entitlement.status == EntitlementStatus.ACTIVE
    assert entitlement.ends_at == add_months(NOW, 1)
    assert payment == Payment.objects.get(provider_payment_id=payload["transactionObject"]["id"])
    assert event.payment_id == payment.pk
    assert Payment.objects.count() == 1


def test_started_twice_changes_nothing_more(world, subscribed):
    apply(subscribed["started"])
    before = entitlement_of(subscribed["order"])
    apply(subscribed["started"])
    after = entitlement_of(subscribed["order"])
    assert (after.helio_subscription_id, after.ends_at, after.status) == (
        before.helio_subscription_id,
        before.ends_at,
        before.status,
    )
    assert Payment.objects.count() == 1
    assert Order.objects.count() == 1


def test_started_records_the_first_payment_when_its_created_webhook_was_lost(world):
    pytest.importorskip("modelmarket.billing.services.payments")
    plan = subscription_plan()
    paylink = world.paylink_for(plan)
    order = pending_order(plan)
    started = world.fake.subscription_event("SUBSCRIPTION_STARTED", charge_id=world.charge(paylink, order))

    apply(started)

    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
    payment = Payment.objects.get(provider_payment_id=started["transactionObject"]["id"])
    assert (payment.status, payment.match, payment.order_id) == (
        PaymentStatus.SUCCEEDED,
        PaymentMatch.MATCHED,
        order.pk,
    )
    entitlement = entitlement_of(order)
    assert entitlement.status == EntitlementStatus.ACTIVE
    assert entitlement.helio_subscription_id == started["subscriptionId"]
    assert Invoice.objects.filter(order=order).count() == 1


def test_started_for_no_order_of_ours_waits_and_writes_nothing(world):
    plan = subscription_plan()
    paylink = world.paylink_for(plan)
    started = world.fake.subscription_event("STARTED", paylink_id=paylink.helio_id)
    started.pop("transactionObject")
    started.pop("transaction")
    with pytest.raises(SubscriptionNotReady):
        apply(started)
    assert not Entitlement.objects.filter(helio_subscription_id=started["subscriptionId"]).exists()
    assert Payment.objects.count() == 0


@pytest.mark.parametrize("name", SPELLINGS["RENEWED"])
def test_renewed_books_a_paid_renewal_order_and_extends_one_interval_from_the_period_end(
    world, subscribed, name
):
    apply(subscribed["started"])
    first_end = entitlement_of(subscribed["order"]).ends_at
    world.now = first_end - timedelta(days=1)
    renewed = world.fake.subscription_event(name, subscription_id=subscribed["started"]["subscriptionId"])

    event, payment = apply(renewed, now=world.now)

    entitlement = entitlement_of(subscribed["order"])
    assert entitlement.ends_at == add_months(first_end, 1)
    assert entitlement.status == EntitlementStatus.ACTIVE
    renewal = Order.objects.get(idempotency_key=f"helio-renewal:{renewed['transactionObject']['id']}")
    assert (renewal.status, renewal.amount_minor, renewal.currency_id, renewal.buyer_id, renewal.plan_id) == (
        OrderStatus.PAID,
        PRICE,
        "USDC",
        subscribed["order"].buyer_id,
        subscribed["plan"].pk,
    )
    assert renewal.plan_snapshot == subscribed["order"].plan_snapshot
    assert (payment.order_id, payment.match, payment.status, payment.gross_minor) == (
        renewal.pk,
        PaymentMatch.MATCHED,
        PaymentStatus.SUCCEEDED,
        PRICE,
    )
    assert entitlement.last_order_id == renewal.pk
    assert entitlement.next_charge_url == renewed["nextChargeUrl"]
    assert LedgerTransaction.objects.filter(reference=f"order:{renewal.public_id}:paid").count() == 1
    assert Invoice.objects.filter(order=renewal, payment=payment).count() == 1
    assert event.payment_id == payment.pk
    notification = Notification.objects.get(dedupe_key=f"order_paid:{renewal.public_id}")
    assert notification.user_id == subscribed["order"].buyer_id
    assert notification.url == "/account/subscriptions/"


def test_renewed_delivered_twice_is_booked_once(world, subscribed):
    apply(subscribed["started"])
    renewed = world.fake.subscription_event(
        "RENEWED", subscription_id=subscribed["started"]["subscriptionId"]
    )
    apply(renewed)
    after_first = entitlement_of(subscribed["order"]).ends_at
    _, payment = apply(renewed)
    assert entitlement_of(subscribed["order"]).ends_at == after_first
    assert Order.objects.filter(idempotency_key__startswith="helio-renewal:").count() == 1
    assert Payment.objects.filter(provider_payment_id=renewed["transactionObject"]["id"]).count() == 1
    assert LedgerTransaction.objects.filter(order__idempotency_key__startswith="helio-renewal:").count() == 1
    assert payment.match == PaymentMatch.MATCHED


def test_renewed_before_started_is_placed_through_the_order_reference(world, subscribed):
    """The renewal's transaction carries the charge's additionalJSON: the paid order finds the entitlement."""
    subscription_id = subscribed["started"]["subscriptionId"]
    renewed = world.fake.subscription_event(
        "RENEWED", subscription_id=subscription_id, charge_id=subscribed["charge_id"]
    )
    apply(renewed)
    entitlement = entitlement_of(subscribed["order"])
    assert entitlement.helio_subscription_id == subscription_id
    assert entitlement.ends_at == add_months(add_months(NOW, 1), 1)

    apply(subscribed["started"])  # arrives late: links what is already linked, extends nothing
    assert entitlement_of(subscribed["order"]).ends_at == add_months(add_months(NOW, 1), 1)


def test_renewed_before_started_without_an_order_reference_waits_then_applies(world, subscribed):
    subscription_id = subscribed["started"]["subscriptionId"]
    renewed = world.fake.subscription_event("RENEWED", subscription_id=subscription_id)
    assert renewed["transactionObject"]["meta"]["customerDetails"].get("additionalJSON") is None

    with pytest.raises(SubscriptionNotReady) as raised:
        apply(renewed)
    assert raised.value.code == "subscription_not_ready"
    assert not Order.objects.filter(idempotency_key__startswith="helio-renewal:").exists()
    assert not Payment.objects.filter(provider_payment_id=renewed["transactionObject"]["id"]).exists()
    assert entitlement_of(subscribed["order"]).ends_at == add_months(NOW, 1)

    apply(subscribed["started"])
    apply(renewed)
    assert entitlement_of(subscribed["order"]).ends_at == add_months(add_months(NOW, 1), 1)


def test_renewed_before_the_first_payment_was_recorded_waits(world):
    plan = subscription_plan()
    paylink = world.paylink_for(plan)
    order = pending_order(plan)
    charge_id = world.charge(paylink, order)
    started = world.fake.subscription_event("STARTED", charge_id=charge_id)
    renewed = world.fake.subscription_event(
        "RENEWED", subscription_id=started["subscriptionId"], charge_id=charge_id
    )
    with pytest.raises(SubscriptionNotReady):
        apply(renewed)
    assert Payment.objects.count() == 0
    assert Entitlement.objects.count() == 0

    order_paid(order, paid_at=NOW, transaction_id=started["transactionObject"]["id"])
    apply(renewed)
    assert entitlement_of(order).ends_at == add_months(add_months(NOW, 1), 1)


def test_renewed_with_the_wrong_amount_is_parked_and_extends_nothing(world, subscribed):
    apply(subscribed["started"])
    renewed = world.fake.subscription_event(
        "RENEWED", subscription_id=subscribed["started"]["subscriptionId"], amount=PRICE - 1
    )
    _, payment = apply(renewed)
    assert payment.match == PaymentMatch.MISMATCH
    assert payment.review_reason.endswith("paid 9.999999 USDC, expected 10.00 USDC.")
    assert payment.order_id is None
    assert entitlement_of(subscribed["order"]).ends_at == add_months(NOW, 1)
    assert not Order.objects.filter(idempotency_key__startswith="helio-renewal:").exists()


def test_a_failed_renewal_payment_is_recorded_and_extends_nothing(world, subscribed):
    apply(subscribed["started"])
    renewed = world.fake.subscription_event(
        "RENEWED", subscription_id=subscribed["started"]["subscriptionId"], status="FAILED"
    )
    _, payment = apply(renewed)
    assert (payment.status, payment.order_id) == (PaymentStatus.FAILED, None)
    assert entitlement_of(subscribed["order"]).ends_at == add_months(NOW, 1)


def test_renewal_payment_parked_by_its_created_webhook_is_adopted_not_recorded_twice(world, subscribed):
    payments = pytest.importorskip("modelmarket.billing.services.payments")
    apply(subscribed["started"])
    renewed = world.fake.subscription_event(
        "RENEWED", subscription_id=subscribed["started"]["subscriptionId"], charge_id=subscribed["charge_id"]
    )
    parked = payments.payment_record(gateway="helio", transaction=helio_transaction(renewed), event=None)
    assert parked.match == PaymentMatch.MISMATCH  # "order already paid"

    _, payment = apply(renewed)

    assert payment.pk == parked.pk
    assert payment.match == PaymentMatch.MATCHED
    assert payment.order.idempotency_key == f"helio-renewal:{renewed['transactionObject']['id']}"
    assert entitlement_of(subscribed["order"]).ends_at == add_months(add_months(NOW, 1), 1)
    assert Payment.objects.count() == 2


def test_renewal_in_grace_makes_the_entitlement_active_again(world, subscribed):
    apply(subscribed["started"])
    entitlement = entitlement_of(subscribed["order"])
    Entitlement.objects.filter(pk=entitlement.pk).update(
        status=EntitlementStatus.GRACE, grace_ends_at=entitlement.ends_at + timedelta(days=3)
    )
    world.now = entitlement.ends_at + timedelta(days=1)
    renewed = world.fake.subscription_event(
        "RENEWED", subscription_id=subscribed["started"]["subscriptionId"]
    )
    apply(renewed, now=world.now)
    entitlement.refresh_from_db()
    assert (entitlement.status, entitlement.grace_ends_at) == (EntitlementStatus.ACTIVE, None)
    assert entitlement.ends_at == add_months(add_months(NOW, 1), 1)


def test_renewal_clears_a_cancellation_at_period_end(world, subscribed):
    apply(subscribed["started"])
    Entitlement.objects.filter(pk=entitlement_of(subscribed["order"]).pk).update(cancel_at_period_end=True)
    apply(world.fake.subscription_event("RENEWED", subscription_id=subscribed["started"]["subscriptionId"]))
    assert entitlement_of(subscribed["order"]).cancel_at_period_end is False


@pytest.mark.parametrize("name", SPELLINGS["ENDED"])
def test_ended_after_the_period_expires_the_entitlement(world, subscribed, name):
    apply(subscribed["started"])
    ends_at = entitlement_of(subscribed["order"]).ends_at
    later = ends_at + timedelta(days=4)
    ended = world.fake.subscription_event(name, subscription_id=subscribed["started"]["subscriptionId"])
    assert "nextChargeUrl" not in ended
    assert "chargeToken" not in ended

    event, _ = apply(ended, now=later)

    entitlement = entitlement_of(subscribed["order"])
    assert (entitlement.status, entitlement.ends_at, entitlement.next_charge_url) == (
        EntitlementStatus.EXPIRED,
        ends_at,
        "",
    )
    assert Notification.objects.filter(user=entitlement.buyer, kind="subscription_expired").count() == 1
    assert event.status == WebhookStatus.RECEIVED  # the processor saves the outcome, not the service


def test_ended_while_the_paid_period_runs_ends_it_at_period_end(world, subscribed):
    apply(subscribed["started"])
    ended = world.fake.subscription_event("ENDED", subscription_id=subscribed["started"]["subscriptionId"])
    apply(ended, now=NOW + timedelta(days=5))
    entitlement = entitlement_of(subscribed["order"])
    assert (entitlement.status, entitlement.cancel_at_period_end, entitlement.ends_at) == (
        EntitlementStatus.ACTIVE,
        True,
        add_months(NOW, 1),
    )
    assert not Notification.objects.filter(kind="subscription_expired").exists()


def test_ended_for_a_subscription_linked_to_nothing_is_ignored(world, subscribed):
    other = world.fake.subscription_event("STARTED", paylink_id=subscribed["paylink"].helio_id)
    ended = world.fake.subscription_event("ENDED", subscription_id=other["subscriptionId"])
    ended["transactionObject"]["meta"]["customerDetails"].pop("additionalJSON", None)
    ended.pop("transaction")
    event = stored_event(ended)
    subscription_event_apply(event=event, payload=ended, now=NOW)
    assert event.status == WebhookStatus.IGNORED
    assert other["subscriptionId"] in event.last_error
    assert entitlement_of(subscribed["order"]).status == EntitlementStatus.ACTIVE


def test_pending_payment_stores_the_renewal_link_and_reminds_once_per_period(world, subscribed):
    apply(subscribed["started"])
    subscription_id = subscribed["started"]["subscriptionId"]
    due = world.fake.subscription_event("SUBSCRIPTION_PENDING_PAYMENT", subscription_id=subscription_id)
    assert "email" not in due
    assert "subscriptionState" not in due

    apply(due, now=NOW + timedelta(days=27))
    again = world.fake.subscription_event("SUBSCRIPTION_PENDING_PAYMENT", subscription_id=subscription_id)
    apply(again, now=NOW + timedelta(days=28))

    entitlement = entitlement_of(subscribed["order"])
    assert entitlement.next_charge_url == again["nextChargeUrl"]
    assert entitlement.reminded_for_period_end == entitlement.ends_at
    reminders = Notification.objects.filter(user=entitlement.buyer, kind="subscription_renewal_due")
    assert reminders.count() == 1
    assert reminders.get().url == "/account/subscriptions/"


def test_a_renewal_link_off_hel_io_is_never_stored(world, subscribed):
    payload = {**subscribed["started"], "nextChargeUrl": "https://hel.io.evil.example/charge/x"}
    apply(payload)
    assert entitlement_of(subscribed["order"]).next_charge_url == ""
    plain = {**subscribed["started"], "nextChargeUrl": "http://app.hel.io/charge/x"}
    apply(plain)
    assert entitlement_of(subscribed["order"]).next_charge_url == ""


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"event": "CREATED", "subscriptionId": "s1"}, "is not a subscription event"),
        ({"event": "RENEWED"}, "no usable subscriptionId"),
        ({"event": "RENEWED", "subscriptionId": "s1"}, "carries no transaction"),
        ({"event": "RENEWED", "subscriptionId": "s1", "transactionObject": {"id": "t1"}}, "cannot be read"),
    ],
)
def test_a_payload_that_can_never_apply_is_invalid_and_writes_nothing(payload, message):
    event = stored_event(payload)
    with pytest.raises(SubscriptionEventInvalid, match=message):
        subscription_event_apply(event=event, payload=payload, now=NOW)
    assert Payment.objects.count() == 0
    assert Order.objects.count() == 0


def test_through_the_processor_renewed_before_started_fails_then_succeeds_on_retry(world, subscribed):
    webhooks = pytest.importorskip("modelmarket.billing.services.webhooks")
    subscription_id = subscribed["started"]["subscriptionId"]
    renewed = stored_event(world.fake.subscription_event("RENEWED", subscription_id=subscription_id))

    webhooks.webhook_event_process(event_id=renewed.pk)
    renewed.refresh_from_db()
    assert renewed.status == WebhookStatus.FAILED
    assert "SubscriptionNotReady" in renewed.last_error
    assert renewed.next_attempt_at is not None
    assert entitlement_of(subscribed["order"]).ends_at == add_months(NOW, 1)

    started = stored_event(subscribed["started"])
    webhooks.webhook_event_process(event_id=started.pk)
    started.refresh_from_db()
    assert started.status == WebhookStatus.PROCESSED

    webhooks.webhook_event_process(event_id=renewed.pk)
    renewed.refresh_from_db()
    assert renewed.status == WebhookStatus.PROCESSED
    assert renewed.payment is not None
    assert renewed.payment.match == PaymentMatch.MATCHED
    entitlement = entitlement_of(subscribed["order"])
    assert entitlement.ends_at > add_months(NOW, 1)
    assert entitlement.ends_at == add_months(add_months(NOW, 1), 1)
