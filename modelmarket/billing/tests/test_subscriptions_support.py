"""What the subscription, reconciliation and staff-payments tests share (no tests here): a fixed clock, the fake
Helio with a client on its transport, a Helio subscription plan with its pay link, a paid order granting its
entitlement (as the CREATED webhook would have left it), and webhook events stored as the receiver stores them."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from modelmarket.accounts.models import User
from modelmarket.accounts.tests.factories import make_user
from modelmarket.billing.gateways.helio.client import HelioClient
from modelmarket.billing.gateways.helio.payloads import transaction_from_payload
from modelmarket.billing.models import (
    Entitlement,
    HelioPaylink,
    HelioPaylinkPurpose,
    Order,
    OrderStatus,
    Payment,
    PaymentGateway,
    PaymentMatch,
    PaymentStatus,
    Plan,
    PlanKind,
    WebhookEvent,
    WebhookStatus,
)
from modelmarket.billing.services.entitlements import entitlement_grant
from modelmarket.billing.tests.factories import make_order, make_plan
from modelmarket.billing.tests.helio_fake import (
    HELIO_TEST_API_BASE,
    HELIO_TEST_PAY_BASE,
    HELIO_TEST_PUBLIC_KEY,
    HELIO_TEST_SECRET_KEY,
    HELIO_TEST_WALLET_ID,
    USDC_SOLANA_ID,
    FakeHelio,
)
from modelmarket.catalog.tests.fakes import FakeClock

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
PRICE = 10_000_000  # 10 USDC
_counter = itertools.count(1)


def helio_settings(settings: Any) -> None:
    settings.HELIO_API_BASE = HELIO_TEST_API_BASE
    settings.HELIO_PAY_BASE = HELIO_TEST_PAY_BASE
    settings.HELIO_PUBLIC_KEY = HELIO_TEST_PUBLIC_KEY
    settings.HELIO_SECRET_KEY = HELIO_TEST_SECRET_KEY
    settings.HELIO_WALLET_ID = HELIO_TEST_WALLET_ID
    settings.BILLING_GRACE_DAYS = 3
    settings.BILLING_REMINDER_DAYS = 3


class HelioWorld:
    """The fake Helio at a moment tests move (`world.now`), and a client that never really sleeps."""

    def __init__(self, now: datetime = NOW) -> None:
        self.now = now
        self.fake = FakeHelio(now=lambda: self.now)
        self.clock = FakeClock()
        self.client = HelioClient(
            transport=self.fake.transport(),
            sleep=self.clock.sleep,
            clock=self.clock,
            random_fraction=lambda: 0.0,
        )

    def paylink_for(self, plan: Plan) -> HelioPaylink:
        """A pay link for `plan` at the fake (a subscription one for a subscription plan), recorded as the Helio
        gateway records it."""
        link = self.client.paylink_create(
            name=plan.name,
            price_base_units=plan.price_minor,
            currency_id=USDC_SOLANA_ID,
            subscription_interval="MONTH" if plan.kind == PlanKind.SUBSCRIPTION else None,
        )
        paylink = HelioPaylink.objects.create(
            helio_id=link.id,
            purpose=HelioPaylinkPurpose.PLAN,
            plan=plan,
            currency_id=plan.currency_id,
            price_minor=plan.price_minor,
        )
        HelioPaylink.objects.filter(pk=paylink.pk).update(created_at=self.now - timedelta(days=40))
        paylink.refresh_from_db()
        return paylink

    def charge(self, paylink: HelioPaylink, order: Order) -> str:
        charge = self.client.charge_create(
            paylink_id=paylink.helio_id,
            order_reference=order.public_id,
            expires_at=self.now + timedelta(hours=1),
            success_url="https://mm.example/ok",
            cancel_url="https://mm.example/cancel",
        )
        return charge.id


def subscription_plan(**terms: Any) -> Plan:
    values: dict[str, Any] = {"name": "Pro monthly", "kind": PlanKind.SUBSCRIPTION, "interval": "month"}
    values.update(terms)
    values.setdefault("price_minor", PRICE)
    return make_plan(**values)


def pending_order(plan: Plan, buyer: User | None = None) -> Order:
    return make_order(plan, buyer or make_user("buyer"), gateway=PaymentGateway.HELIO)


def order_paid(order: Order, *, paid_at: datetime, transaction_id: str | None = None) -> Entitlement:
    """What the CREATED webhook leaves: the order paid, access granted, the payment recorded and matched."""
    Order.objects.filter(pk=order.pk).update(status=OrderStatus.PAID, paid_at=paid_at)
    order.refresh_from_db()
    entitlement = entitlement_grant(order=order, paid_at=paid_at)
    Payment.objects.create(
        gateway=PaymentGateway.HELIO,
        provider_payment_id=transaction_id or f"tx-first-{next(_counter)}",
        order=order,
        entitlement=entitlement,
        status=PaymentStatus.SUCCEEDED,
        match=PaymentMatch.MATCHED,
        currency_id=order.currency_id,
        gross_minor=order.amount_minor,
        net_minor=order.amount_minor,
        paid_at=paid_at,
    )
    return Entitlement.objects.select_related("plan", "model", "buyer").get(pk=entitlement.pk)


def stored_event(payload: dict[str, Any], *, status: str = WebhookStatus.RECEIVED) -> WebhookEvent:
    """The payload stored as `webhook_receive` stores a verified delivery (raw body, unique dedupe key)."""
    body = json.dumps(payload, separators=(",", ":")).encode()
    transaction = payload.get("transactionObject") or {}
    key = f"{transaction.get('id') or payload.get('subscriptionId')}:{payload.get('event')}:{next(_counter)}"
    return WebhookEvent.objects.create(
        gateway=PaymentGateway.HELIO,
        dedupe_key=key,
        event=str(payload.get("event", "")),
        body=body,
        status=status,
    )


def helio_transaction(payload: dict[str, Any]) -> Any:
    return transaction_from_payload(payload["transactionObject"])


def entitlement_of(order: Order) -> Entitlement:
    return Entitlement.objects.select_related("plan", "model", "buyer").get(
        buyer=order.buyer, plan=order.plan
    )
