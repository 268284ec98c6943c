"""Billing test data. Listings come from the catalog's own services; plans, orders and payments from billing's, so
what tests build is what the product builds."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone

from modelmarket.accounts.models import User
from modelmarket.accounts.tests.factories import make_user
from modelmarket.billing.models import (
    LedgerEntry,
    LedgerTransaction,
    Order,
    OrderKind,
    OrderStatus,
    Payment,
    PaymentGateway,
    PaymentStatus,
    Plan,
    PlanKind,
)
from modelmarket.billing.services import accounting
from modelmarket.billing.services.accounting import UsageCharge
from modelmarket.billing.services.plans import PlanTerms, plan_create, plan_snapshot
from modelmarket.catalog.models import AIModel, ModelFile, ModelVersion
from modelmarket.catalog.services import models as catalog_services
from modelmarket.catalog.vocabulary import ValidationStatus


def published_model(owner: User | None = None, name: str = "Wine Quality", **overrides: Any) -> AIModel:
    """A published listing (with a valid published default version) owned by a verified creator."""
    owner = owner or make_user("creator")
    arguments: dict[str, Any] = {"name": name, "task": "tabular-regression", "license": "apache-2.0"}
    model = catalog_services.model_create(actor=owner, **{**arguments, **overrides})
    version = catalog_services.version_create(actor=owner, model=model, version="1.0.0")
    ModelFile.objects.create(
        version=version,
        name="model.onnx",
        size_bytes=2048,
        sha256="0" * 64,
        storage_key=f"test/{model.slug}/1.0.0/model.onnx",
        file_format="onnx",
        validation_status=ValidationStatus.VALID,
    )
    catalog_services.version_publish(actor=owner, version=ModelVersion.objects.get(pk=version.pk))
    return catalog_services.model_publish(actor=owner, model=AIModel.objects.get(pk=model.pk))


def make_plan(model: AIModel | None = None, **terms: Any) -> Plan:
    """A plan on `model` (a fresh published model by default). Defaults: one-time, 10 USDC."""
    values: dict[str, Any] = {"name": "Lifetime", "kind": PlanKind.ONE_TIME, "currency": "USDC"}
    values.update(terms)
    if values["kind"] in (PlanKind.ONE_TIME, PlanKind.SUBSCRIPTION, PlanKind.TIME_PASS):
        values.setdefault("price_minor", 10_000_000)
    if values["kind"] == PlanKind.SUBSCRIPTION:
        values.setdefault("interval", "month")
    if values["kind"] == PlanKind.TIME_PASS:
        values.setdefault("pass_duration", "day")
    if values["kind"] == PlanKind.PAY_AS_YOU_GO:
        values.setdefault("price_per_request", 1000)
    return plan_create(model=model or published_model(), terms=PlanTerms(**values))


def make_order(
    plan: Plan | None = None,
    buyer: User | None = None,
    *,
    gateway: str = PaymentGateway.SANDBOX,
    **fields: Any,
) -> Order:
    """A pending order for `plan` straight in the database (the checkout flow's own tests go through its
    service); a top-up when `kind=OrderKind.TOP_UP` is given with `currency` and `amount_minor`."""
    buyer = buyer or make_user("buyer")
    if fields.get("kind") == OrderKind.TOP_UP:
        values = {"currency_id": fields.pop("currency", "USDC"), "amount_minor": fields.pop("amount_minor")}
    else:
        plan = plan or make_plan()
        values = {
            "plan": plan,
            "model_id": plan.model_id,
            "plan_snapshot": plan_snapshot(plan),
            "currency_id": plan.currency_id,
            "amount_minor": plan.price_minor,
            "kind": OrderKind.PLAN,
        }
    values.update(
        buyer=buyer,
        gateway=gateway,
        status=OrderStatus.PENDING,
        expires_at=timezone.now() + timedelta(hours=1),
    )
    values.update(fields)
    return Order.objects.create(**values)


# --- Money booked as the payment, usage and refund flows book it -------------------------------------------
def _at(when: datetime | None, transaction: LedgerTransaction) -> None:
    """Move a booked transaction (and its entries) to `when`, for tests of figures by day."""
    if when is not None:
        LedgerTransaction.objects.filter(pk=transaction.pk).update(created_at=when)
        LedgerEntry.objects.filter(transaction=transaction).update(created_at=when)


def pay_order(order: Order, *, processor_fee_minor: int = 0, when: datetime | None = None) -> Payment:
    """Mark `order` paid and book it as the payment flow does."""
    order.status = OrderStatus.PAID
    order.paid_at = when or timezone.now()
    order.save(update_fields=["status", "paid_at"])
    payment = Payment.objects.create(
        gateway=PaymentGateway.SANDBOX,
        provider_payment_id=f"sandbox-{order.public_id}",
        order=order,
        status=PaymentStatus.SUCCEEDED,
        currency_id=order.currency_id,
        gross_minor=order.amount_minor,
        fee_minor=processor_fee_minor,
        net_minor=order.amount_minor - processor_fee_minor,
        paid_at=order.paid_at,
    )
    _at(when, accounting.order_payment_book(order=order, payment=payment))
    return payment


def sell(plan: Plan, buyer: Any = None, **options: Any) -> Payment:
    """A paid order of `plan`."""
    return pay_order(make_order(plan, buyer) if buyer else make_order(plan), **options)


def top_up(buyer: Any, *, currency: str, amount_minor: int) -> Payment:
    return pay_order(
        make_order(buyer=buyer, kind=OrderKind.TOP_UP, currency=currency, amount_minor=amount_minor)
    )


_usage_batches = iter(range(1, 10**9))


def charge_usage(
    buyer: Any, model: Any, *, currency: str, cost_minor: int, when: datetime | None = None
) -> LedgerTransaction:
    """A pay-as-you-go charge of `buyer` for calls of `model` (the buyer needs the credit)."""
    charge = UsageCharge(
        buyer_id=buyer.pk,
        creator_id=model.creator_id,
        model_id=model.pk,
        currency=currency,
        cost_minor=cost_minor,
    )
    (booked,) = accounting.usage_charges_book(reference=f"test-{next(_usage_batches)}", charges=[charge])
    _at(when, booked)
    return booked


def refund(payment: Payment, amount_minor: int, when: datetime | None = None) -> LedgerTransaction:
    booked = accounting.refund_book(
        payment=payment, amount_minor=amount_minor, reference=f"refund:{payment.public_id}:{amount_minor}"
    )
    _at(when, booked)
    return booked
