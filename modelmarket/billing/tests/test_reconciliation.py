"""Reconciliation against the fake Helio: a payment whose webhook was lost is recorded exactly once (a second run
repairs nothing more); a lost RENEWED is booked, a lost STARTED linked, an EXPIRED subscription ended; Helio
answering 503 for one pay link does not stop the others, and that pay link is read again next time."""

from __future__ import annotations

from datetime import timedelta

import pytest

from modelmarket.billing.models import (
    Entitlement,
    EntitlementStatus,
    HelioPaylink,
    LedgerTransaction,
    Order,
    OrderStatus,
    Payment,
    PaymentMatch,
)
from modelmarket.billing.services.entitlements import add_months
from modelmarket.billing.services.reconciliation import ReconcileSummary, payments_reconcile
from modelmarket.billing.services.subscriptions import subscription_event_apply
from modelmarket.billing.tests.factories import make_plan
from modelmarket.billing.tests.helio_fake import unavailable
from modelmarket.billing.tests.test_subscriptions_support import (
    NOW,
    PRICE,
    HelioWorld,
    entitlement_of,
    helio_settings,
    order_paid,
    pending_order,
    stored_event,
    subscription_plan,
)

pytestmark = pytest.mark.django_db
LATER = NOW + timedelta(hours=1)


@pytest.fixture(autouse=True)
def _settings(settings):
    helio_settings(settings)


@pytest.fixture
def world():
    return HelioWorld()


def lost_payment(world, *, name="Lifetime"):
    """An order paid at Helio whose CREATED webhook never arrived."""
    plan = make_plan(name=name)
    paylink = world.paylink_for(plan)
    order = pending_order(plan)
    payload = world.fake.pay(world.charge(paylink, order), amount=PRICE)
    return order, paylink, payload["transactionObject"]["id"]


@pytest.fixture
def subscribed(world):
    """A Helio subscription whose first payment was recorded and whose STARTED was applied (linked)."""
    plan = subscription_plan()
    paylink = world.paylink_for(plan)
    order = pending_order(plan)
    charge_id = world.charge(paylink, order)
    started = world.fake.subscription_event("STARTED", charge_id=charge_id)
    order_paid(order, paid_at=NOW, transaction_id=started["transactionObject"]["id"])
    subscription_event_apply(event=stored_event(started), payload=started, now=NOW)
    return {"order": order, "paylink": paylink, "charge_id": charge_id, "started": started}


def test_a_payment_whose_webhook_was_lost_is_recorded_exactly_once(world):
    pytest.importorskip("modelmarket.billing.services.payments")
    order, paylink, transaction_id = lost_payment(world)

    summary = payments_reconcile(client=world.client, now=LATER)

    assert summary == ReconcileSummary(paylinks=1, checked=1, repaired=1, errors=0)
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
    payment = Payment.objects.get(provider_payment_id=transaction_id)
    assert (payment.order_id, payment.match) == (order.pk, PaymentMatch.MATCHED)
    assert entitlement_of(order).status == EntitlementStatus.ACTIVE
    paylink.refresh_from_db()
    assert paylink.reconciled_until == LATER

    again = payments_reconcile(client=world.client, now=LATER + timedelta(hours=1))
    assert again == ReconcileSummary(paylinks=1, checked=0, repaired=0, errors=0)
    HelioPaylink.objects.filter(pk=paylink.pk).update(reconciled_until=None)  # read the whole window again
    assert payments_reconcile(client=world.client, now=LATER + timedelta(hours=2)).repaired == 0
    assert Payment.objects.count() == 1
    assert LedgerTransaction.objects.filter(order=order).count() == 1


def test_the_window_runs_from_where_the_last_run_stopped(world):
    paylink = world.paylink_for(make_plan())
    payments_reconcile(client=world.client, now=LATER)
    first = world.fake.requests[-1]
    assert first.url.path.endswith(f"/paylink/{paylink.helio_id}/transactions")
    assert first.url.params["from"] == "2026-01-28T12:00:00.000Z"  # created 40 days before NOW, less one day
    assert first.url.params["to"] == "2026-03-10T13:00:00.000Z"

    payments_reconcile(client=world.client, now=LATER + timedelta(hours=1))
    second = world.fake.requests[-1]
    assert (second.url.params["from"], second.url.params["to"]) == (
        "2026-03-10T13:00:00.000Z",
        "2026-03-10T14:00:00.000Z",
    )


def test_helio_failing_for_one_pay_link_does_not_stop_the_others(world):
    pytest.importorskip("modelmarket.billing.services.payments")
    broken_order, broken, _ = lost_payment(world, name="Broken")
    fine_order, fine, _ = lost_payment(world, name="Fine")
    world.fake.fail(*[unavailable(503)] * 4, method="GET", path=f"/paylink/{broken.helio_id}/transactions")

    summary = payments_reconcile(client=world.client, now=LATER)

    assert summary == ReconcileSummary(paylinks=1, checked=1, repaired=1, errors=1)
    fine_order.refresh_from_db()
    broken_order.refresh_from_db()
    assert (fine_order.status, broken_order.status) == (OrderStatus.PAID, OrderStatus.PENDING)
    broken.refresh_from_db()
    fine.refresh_from_db()
    assert (broken.reconciled_until, fine.reconciled_until) == (None, LATER)

    summary = payments_reconcile(client=world.client, now=LATER + timedelta(hours=1))
    assert summary == ReconcileSummary(paylinks=2, checked=1, repaired=1, errors=0)
    broken_order.refresh_from_db()
    assert broken_order.status == OrderStatus.PAID


def test_a_failing_pay_link_keeps_its_window_and_errors_are_counted_without_payment_record(world):
    """The error path alone (no payment to record): Helio's 503 is counted, nothing advances."""
    plan = make_plan()
    paylink = world.paylink_for(plan)
    world.fake.fail(*[unavailable(503)] * 4, method="GET", path=f"/paylink/{paylink.helio_id}/transactions")
    summary = payments_reconcile(client=world.client, now=LATER)
    assert summary == ReconcileSummary(paylinks=0, checked=0, repaired=0, errors=1)
    paylink.refresh_from_db()
    assert paylink.reconciled_until is None


def test_inactive_pay_links_are_not_read(world):
    plan = make_plan()
    paylink = world.paylink_for(plan)
    HelioPaylink.objects.filter(pk=paylink.pk).update(is_active=False)
    world.fake.requests.clear()
    assert payments_reconcile(client=world.client, now=LATER) == ReconcileSummary(0, 0, 0, 0)
    assert world.fake.requests == []


def test_a_lost_renewal_is_booked_once(world, subscribed):
    subscription_id = subscribed["started"]["subscriptionId"]
    renewed = world.fake.subscription_event("RENEWED", subscription_id=subscription_id)  # never delivered

    summary = payments_reconcile(client=world.client, now=LATER)

    assert summary.repaired == 1
    assert summary.errors == 0
    assert summary.checked == 3  # two transactions and one subscription
    entitlement = entitlement_of(subscribed["order"])
    assert entitlement.ends_at == add_months(add_months(NOW, 1), 1)
    payment = Payment.objects.get(provider_payment_id=renewed["transactionObject"]["id"])
    assert payment.match == PaymentMatch.MATCHED
    assert payment.order.idempotency_key == f"helio-renewal:{renewed['transactionObject']['id']}"

    assert payments_reconcile(client=world.client, now=LATER + timedelta(hours=1)).repaired == 0
    HelioPaylink.objects.filter(pk=subscribed["paylink"].pk).update(reconciled_until=None)
    assert payments_reconcile(client=world.client, now=LATER + timedelta(hours=2)).repaired == 0
    assert entitlement_of(subscribed["order"]).ends_at == add_months(add_months(NOW, 1), 1)
    assert Order.objects.filter(idempotency_key__startswith="helio-renewal:").count() == 1


def test_a_lost_started_is_linked(world):
    plan = subscription_plan()
    paylink = world.paylink_for(plan)
    order = pending_order(plan)
    started = world.fake.subscription_event("STARTED", charge_id=world.charge(paylink, order))
    order_paid(
        order, paid_at=NOW, transaction_id=started["transactionObject"]["id"]
    )  # CREATED came, STARTED not

    summary = payments_reconcile(client=world.client, now=LATER)

    assert summary.repaired == 1
    assert entitlement_of(order).helio_subscription_id == started["subscriptionId"]
    assert payments_reconcile(client=world.client, now=LATER + timedelta(hours=1)).repaired == 0


def test_lost_created_and_started_are_both_repaired(world):
    pytest.importorskip("modelmarket.billing.services.payments")
    plan = subscription_plan()
    paylink = world.paylink_for(plan)
    order = pending_order(plan)
    started = world.fake.subscription_event("STARTED", charge_id=world.charge(paylink, order))

    summary = payments_reconcile(client=world.client, now=LATER)

    assert summary.repaired == 2
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
    entitlement = entitlement_of(order)
    assert (entitlement.status, entitlement.helio_subscription_id) == (
        EntitlementStatus.ACTIVE,
        started["subscriptionId"],
    )


def test_a_subscription_expired_at_helio_is_ended_here(world, subscribed):
    subscription_id = subscribed["started"]["subscriptionId"]
    world.fake.subscription_event("ENDED", subscription_id=subscription_id)  # never delivered

    during = payments_reconcile(client=world.client, now=LATER)
    entitlement = entitlement_of(subscribed["order"])
    assert during.repaired == 1
    assert (entitlement.status, entitlement.cancel_at_period_end) == (EntitlementStatus.ACTIVE, True)

    after = payments_reconcile(client=world.client, now=add_months(NOW, 1) + timedelta(days=1))
    entitlement = entitlement_of(subscribed["order"])
    assert after.repaired == 1
    assert entitlement.status == EntitlementStatus.EXPIRED
    assert payments_reconcile(client=world.client, now=add_months(NOW, 1) + timedelta(days=2)).repaired == 0


def test_an_expired_subscription_never_ends_a_newer_one(world, subscribed):
    """The buyer subscribed again: the old, EXPIRED subscription at Helio must not end the entitlement that is now
    linked to the new one."""
    old_id = subscribed["started"]["subscriptionId"]
    world.fake.subscription_event("ENDED", subscription_id=old_id)
    Entitlement.objects.filter(pk=entitlement_of(subscribed["order"]).pk).update(
        helio_subscription_id="sub_new"
    )
    assert payments_reconcile(client=world.client, now=add_months(NOW, 1) + timedelta(days=1)).repaired == 0
    entitlement = entitlement_of(subscribed["order"])
    assert (entitlement.status, entitlement.cancel_at_period_end) == (EntitlementStatus.ACTIVE, False)


def test_renewals_of_a_subscription_that_fits_nothing_here_are_parked_not_lost(world):
    pytest.importorskip("modelmarket.billing.services.payments")
    plan = subscription_plan()
    paylink = world.paylink_for(plan)
    started = world.fake.subscription_event("STARTED", paylink_id=paylink.helio_id)  # no order reference
    renewed = world.fake.subscription_event("RENEWED", subscription_id=started["subscriptionId"])

    summary = payments_reconcile(client=world.client, now=LATER)

    assert summary.repaired == 2
    parked = Payment.objects.filter(match=PaymentMatch.UNMATCHED).values_list(
        "provider_payment_id", flat=True
    )
    assert sorted(parked) == sorted([started["transactionObject"]["id"], renewed["transactionObject"]["id"]])
    assert Entitlement.objects.count() == 0
    assert payments_reconcile(client=world.client, now=LATER + timedelta(hours=1)).repaired == 0


def test_the_periodic_job_does_nothing_while_helio_is_not_configured(settings, monkeypatch):
    from modelmarket.billing.tasks import reconciliation as tasks

    settings.HELIO_PUBLIC_KEY = ""
    monkeypatch.setattr(tasks, "payments_reconcile", lambda **kwargs: pytest.fail("must not run"))
    tasks.payments_reconcile_task.call_local()


def test_the_periodic_job_reconciles_when_helio_is_configured(monkeypatch):
    from modelmarket.billing.tasks import reconciliation as tasks

    calls = []
    monkeypatch.setattr(tasks, "payments_reconcile", lambda **kwargs: calls.append(kwargs))
    tasks.payments_reconcile_task.call_local()
    assert calls == [{}]
