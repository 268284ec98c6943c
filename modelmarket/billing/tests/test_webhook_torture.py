"""Point 13: 1,000 webhook deliveries sent at once through the HTTP endpoint — 400 orders each paid once, 150 of them
after a failed attempt, 100 stale PENDING reports of paid transactions, 30 % exact redeliveries, 5 % forged, all
shuffled (so failures, pendings and successes arrive in every order) and posted from many threads. Processing runs
in the same threads (jobs run at once in tests), so deliveries of one order and one transaction are processed
concurrently too; then the retry sweep runs whatever is left.

Afterwards: one Payment per transaction, one grant per paid order, every order paid, every forged delivery refused
with 401 and stored nowhere, every genuine transaction processed, and the ledger balanced (all entries sum to zero,
the clearing account holds minus everything paid). On PostgreSQL 16 threads race for real (row locks); SQLite
serialises writers, so fewer threads there."""

from __future__ import annotations

import random
import threading
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from modelmarket.accounts.tests.factories import make_user
from modelmarket.billing.models import (
    Entitlement,
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
from modelmarket.billing.services import webhooks
from modelmarket.billing.services.webhooks import webhook_events_process_due
from modelmarket.billing.tests.factories import make_order, make_plan, published_model
from modelmarket.billing.tests.test_webhooks_support import (
    WEBHOOK_PATH,
    HelioWorld,
    clearing_balance,
    helio_settings,
    ledger_total,
    with_status,
)
from modelmarket.notifications.models import Notification

pytestmark = pytest.mark.django_db(transaction=True)

BUYERS = 40
PLAN_BUYERS = 36  # each buys each of the 10 plans once: 360 plan orders; all 40 buy credit once: 40 top-ups
FAILED_FIRST = 150
STALE_PENDING = 100
DUPLICATES = 300
FORGED = 50
DELIVERIES = 1_000


@dataclass(frozen=True)
class Delivery:
    body: bytes
    headers: dict[str, str]
    kind: str  # success | failed | pending | duplicate | forged
    transaction_id: str


def _orders() -> list[Order]:
    models = [published_model(name=f"Torture model {n}") for n in range(3)]
    terms = [
        {"kind": PlanKind.ONE_TIME, "price_minor": 10_000_000},
        {"kind": PlanKind.ONE_TIME, "price_minor": 25_000_000},
        {"kind": PlanKind.TIME_PASS, "pass_duration": "day", "price_minor": 1_000_000},
        {"kind": PlanKind.TIME_PASS, "pass_duration": "week", "price_minor": 5_000_000},
        {"kind": PlanKind.SUBSCRIPTION, "interval": "month", "price_minor": 20_000_000},
    ]
    plans = [make_plan(models[n % 3], name=f"Plan {n}", **terms[n % len(terms)]) for n in range(10)]
    buyers = [make_user("buyer") for _ in range(BUYERS)]
    orders = [
        make_order(plan, buyer, gateway=PaymentGateway.HELIO)
        for buyer in buyers[:PLAN_BUYERS]
        for plan in plans
    ]
    orders += [
        make_order(
            buyer=buyer,
            kind=OrderKind.TOP_UP,
            currency="USDC",
            amount_minor=3_000_000 + 1_000 * n,
            gateway=PaymentGateway.HELIO,
        )
        for n, buyer in enumerate(buyers)
    ]
    return orders


def _deliveries(helio: HelioWorld, orders: list[Order], rng: random.Random) -> list[Delivery]:
    def signed(payload: dict, kind: str) -> Delivery:
        body, headers = helio.signed(payload)
        return Delivery(body, headers, kind, payload["transactionObject"]["id"])

    genuine: list[Delivery] = []
    successes: list[dict] = []
    for n, order in enumerate(orders):
        charge_id = helio.charge(order)
        if n < FAILED_FIRST:
            genuine.append(
                signed(helio.fake.pay(charge_id, amount=order.amount_minor, status="FAILED"), "failed")
            )
        fee = 10_000 if n % 3 == 0 else 0
        success = helio.fake.pay(charge_id, amount=order.amount_minor - fee, fee=fee)
        successes.append(success)
        genuine.append(signed(success, "success"))
    genuine += [
        signed(with_status(success, "PENDING"), "pending") for success in rng.sample(successes, STALE_PENDING)
    ]
    duplicates = [
        Delivery(d.body, d.headers, "duplicate", d.transaction_id) for d in rng.choices(genuine, k=DUPLICATES)
    ]
    forged = []
    for n in range(FORGED):
        # Transactions nothing else delivers: half signed with a token nobody registered, half signed with the
        # real token and altered afterwards.
        order = orders[n]
        payload = helio.fake.pay(helio.charge(order), amount=order.amount_minor)
        body, headers = helio.signed(payload, token="stolen-or-guessed-token" if n % 2 else None)
        if n % 2 == 0:  # the right token, but the body was changed after signing
            body = body.replace(b'"transactionStatus":"SUCCESS"', b'"transactionStatus":"SUCCESS" ')
        forged.append(Delivery(body, headers, "forged", payload["transactionObject"]["id"]))
    deliveries = genuine + duplicates + forged
    assert len(deliveries) == DELIVERIES
    rng.shuffle(deliveries)
    return deliveries


def _send_concurrently(deliveries: list[Delivery], threads: int) -> list[tuple[Delivery, int, dict]]:
    barrier = threading.Barrier(threads)
    results: list[tuple[Delivery, int, dict]] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def worker(share: list[Delivery]) -> None:
        client = Client()
        try:
            barrier.wait(timeout=30)
            for delivery in share:
                response = client.post(
                    WEBHOOK_PATH,
                    data=delivery.body,
                    content_type="application/json",
                    headers=delivery.headers,
                )
                with lock:
                    results.append((delivery, response.status_code, response.json()))
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    workers = [threading.Thread(target=worker, args=(deliveries[n::threads],)) for n in range(threads)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join(timeout=300)
    assert errors == []
    assert len(results) == len(deliveries)
    return results


def test_a_thousand_concurrent_deliveries_pay_each_order_once_and_balance_the_ledger(settings):
    helio_settings(settings)
    settings.API_WEBHOOK_REQUESTS_PER_MINUTE = 1_000_000  # one client address sends all of them
    webhooks.webhook_tokens_cache_clear()
    rng = random.Random(13)
    helio = HelioWorld()
    orders = _orders()
    deliveries = _deliveries(helio, orders, rng)
    threads = 16 if connection.vendor == "postgresql" else 4

    results = _send_concurrently(deliveries, threads)
    # Whatever failed in the crush (a lock timeout, a deadlock victim) is retried by the sweep.
    while webhook_events_process_due(now=timezone.now() + timedelta(days=1)):
        pass

    # Forged: every one refused, none stored anywhere.
    forged = [(delivery, status) for delivery, status, _ in results if delivery.kind == "forged"]
    assert len(forged) == FORGED
    assert {status for _, status in forged} == {401}
    forged_ids = {delivery.transaction_id for delivery, _ in forged}
    assert not Payment.objects.filter(provider_payment_id__in=forged_ids).exists()
    stored_bodies = [bytes(body) for body in WebhookEvent.objects.values_list("body", flat=True)]
    assert not any(transaction_id.encode() in body for body in stored_bodies for transaction_id in forged_ids)

    # Genuine: all answered 200; each distinct delivery stored once, the rest acknowledged as duplicates.
    genuine = [
        (delivery, status, answer) for delivery, status, answer in results if delivery.kind != "forged"
    ]
    assert {status for _, status, _ in genuine} == {200}
    distinct = {delivery.body for delivery, _, _ in genuine}
    assert len(distinct) == len(orders) + FAILED_FIRST + STALE_PENDING == 650
    assert WebhookEvent.objects.count() == 650
    assert sum(answer["duplicate"] for _, _, answer in genuine) == DUPLICATES
    # None lost: every event processed, every genuine transaction recorded once, every order paid.
    assert Counter(WebhookEvent.objects.values_list("status", flat=True)) == {WebhookStatus.PROCESSED: 650}
    genuine_ids = {delivery.transaction_id for delivery, _, _ in genuine}
    assert len(genuine_ids) == len(orders) + FAILED_FIRST == 550
    assert set(Payment.objects.values_list("provider_payment_id", flat=True)) == genuine_ids
    assert Payment.objects.count() == 550
    assert Counter(Payment.objects.values_list("status", "match")) == {
        (PaymentStatus.SUCCEEDED, PaymentMatch.MATCHED): 400,
        (PaymentStatus.FAILED, PaymentMatch.MATCHED): FAILED_FIRST,
    }
    assert Counter(Order.objects.values_list("status", flat=True)) == {OrderStatus.PAID: 400}
    processed_ids = set(
        WebhookEvent.objects.filter(status=WebhookStatus.PROCESSED).values_list(
            "payment__provider_payment_id", flat=True
        )
    )
    assert processed_ids == genuine_ids

    # Exactly one grant per paid plan order, one booking, invoice and notification per order.
    plan_orders = {order.pk for order in orders if order.kind == OrderKind.PLAN}
    assert Entitlement.objects.count() == len(plan_orders) == 360
    assert set(Entitlement.objects.values_list("last_order_id", flat=True)) == plan_orders
    assert (
        set(
            Payment.objects.filter(status=PaymentStatus.SUCCEEDED, order__kind=OrderKind.PLAN).values_list(
                "entitlement__last_order_id", flat=True
            )
        )
        == plan_orders
    )
    assert LedgerTransaction.objects.count() == 400
    assert Invoice.objects.count() == 400
    assert Notification.objects.filter(kind="order_paid").count() == 400

    # The ledger balances: all entries sum to zero, and clearing holds minus everything paid.
    assert ledger_total() == 0
    assert clearing_balance() == -sum(order.amount_minor for order in orders)
    assert Counter(delivery.kind for delivery in deliveries) == {
        "success": 400,
        "failed": FAILED_FIRST,
        "pending": STALE_PENDING,
        "duplicate": DUPLICATES,
        "forged": FORGED,
    }
