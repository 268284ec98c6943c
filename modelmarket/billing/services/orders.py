"""Orders: a buyer's intent to pay for a plan or for credit, and its checkout.

`order_create` writes a pending order with the price copied from the plan (so editing the plan never changes what
a pending order costs), commits, and only then asks the payment gateway for a checkout page: a provider's HTTP call
never runs inside a database transaction. When the gateway fails, the order is marked failed with the reason and
an UpstreamError is raised: there is no pending order without a way to pay it.

Idempotency: with an `Idempotency-Key`, the same buyer gets the same order back for the same request, and a
Conflict (`idempotency_key_reused`) for a different one. The buyer's row is locked while the key is looked up and
the order inserted, so concurrent duplicates serialise (the `order_unique_idempotency_key` constraint backs plan
orders up; a top-up has no plan, and NULLs never collide in a unique constraint, so the lock is what covers it).

What happens when money arrives (paid, entitlement, invoice, notification) is `services/payments.py`'s, including
money for an order that expired or was cancelled meanwhile."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from modelmarket.accounts.models import User
from modelmarket.accounts.selectors import user_email_is_verified
from modelmarket.billing.gateways import payment_gateway
from modelmarket.billing.gateways.sandbox import sandbox_enabled, sandbox_payment_complete
from modelmarket.billing.models import (
    Currency,
    Entitlement,
    EntitlementStatus,
    Order,
    OrderKind,
    OrderStatus,
    PaymentGateway,
    Plan,
    PlanKind,
)
from modelmarket.billing.money import Money, to_minor
from modelmarket.billing.services.plans import plan_snapshot
from modelmarket.core.exceptions import (
    BadRequest,
    Conflict,
    NotFound,
    PermissionDenied,
    UpstreamError,
    ValidationFailed,
)

logger = logging.getLogger(__name__)

# A top-up larger than this many whole units of any currency is refused as a typo rather than charged.
MAX_TOP_UP_WHOLE_UNITS = 100_000
MAX_IDEMPOTENCY_KEY_LENGTH = 255
FAILURE_REASON_MAX_LENGTH = 300


# --- Input --------------------------------------------------------------------------------------------------------
def top_up_parse(*, currency: str, amount: str | Decimal | int) -> Money:
    """A top-up as people type it ("USDC", "25.00") as Money. ValidationFailed: `unknown_currency`,
    `invalid_amount`, `negative_amount`, `amount_precision` (a fraction of a minor unit), `amount_too_large`."""
    code = (currency or "").strip().upper()
    found = Currency.objects.filter(code=code, is_active=True).first() if 0 < len(code) <= 10 else None
    if found is None:
        raise ValidationFailed(
            f"Unknown currency {currency!r}.", code="unknown_currency", details={"field": "currency"}
        )
    return Money(
        to_minor(str(amount).strip() if isinstance(amount, str) else amount, found.decimals), found.code
    )


def _idempotency_key_clean(key: str | None) -> str | None:
    if key is None:
        return None
    if not key or len(key) > MAX_IDEMPOTENCY_KEY_LENGTH or not key.isprintable():
        raise BadRequest(
            f"Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY_LENGTH} printable characters.",
            code="invalid_idempotency_key",
        )
    return key


def _plan_fields(*, buyer: User, plan: Plan) -> dict[str, Any]:
    plan = Plan.objects.select_related("model", "currency").get(pk=plan.pk)  # the price as it is now
    if not plan.model.is_public:
        raise NotFound("No such plan.", code="plan_not_found")
    if not plan.is_active or plan.archived_at is not None:
        raise Conflict("This plan is no longer sold.", code="plan_archived")
    if plan.model.creator_id == buyer.pk:
        raise Conflict("You cannot buy a plan of your own model.", code="own_model")
    if plan.kind == PlanKind.FREE:
        raise BadRequest(
            "Free plans are not bought: call the model with your API key.", code="plan_not_purchasable"
        )
    if plan.kind == PlanKind.PAY_AS_YOU_GO:
        raise BadRequest(
            "Pay-as-you-go plans are paid from prepaid credit: top up your credit instead.",
            code="plan_not_purchasable",
            details={"top_up": True},
        )
    if not plan.currency.is_active:
        raise Conflict(f"{plan.currency_id} payments are not taken at the moment.", code="currency_inactive")
    if (
        plan.kind == PlanKind.ONE_TIME
        and Entitlement.objects.filter(
            buyer=buyer, plan=plan, status=EntitlementStatus.ACTIVE, ends_at__isnull=True
        ).exists()
    ):
        raise Conflict("You already have lifetime access through this plan.", code="already_owned")
    return {
        "kind": OrderKind.PLAN,
        "plan": plan,
        "model_id": plan.model_id,
        "plan_snapshot": plan_snapshot(plan),
        "currency_id": plan.currency_id,
        "amount_minor": plan.price_minor,
    }


def _top_up_fields(top_up: Money) -> dict[str, Any]:
    currency = Currency.objects.filter(code=top_up.currency, is_active=True).first()
    if currency is None:
        raise ValidationFailed(f"Unknown currency {top_up.currency!r}.", code="unknown_currency")
    if top_up.amount_minor <= 0:
        raise ValidationFailed("A top-up must be more than zero.", code="invalid_amount")
    if top_up.amount_minor > MAX_TOP_UP_WHOLE_UNITS * 10**currency.decimals:
        raise ValidationFailed(
            f"A top-up can be at most {MAX_TOP_UP_WHOLE_UNITS:,} {currency.code}.", code="amount_too_large"
        )
    return {
        "kind": OrderKind.TOP_UP,
        "plan": None,
        "model_id": None,
        "plan_snapshot": {},
        "currency_id": currency.code,
        "amount_minor": top_up.amount_minor,
    }


def _same_request(order: Order, *, plan: Plan | None, top_up: Money | None) -> bool:
    if plan is not None:
        return order.kind == OrderKind.PLAN and order.plan_id == plan.pk
    assert top_up is not None
    return (
        order.kind == OrderKind.TOP_UP
        and order.currency_id == top_up.currency
        and order.amount_minor == top_up.amount_minor
    )


def _replay(order: Order, *, plan: Plan | None, top_up: Money | None) -> Order:
    if not _same_request(order, plan=plan, top_up=top_up):
        raise Conflict(
            "This Idempotency-Key was already used for a different order.",
            code="idempotency_key_reused",
            details={"order": order.public_id},
        )
    return order


# --- Create -------------------------------------------------------------------------------------------------------
@transaction.atomic
def _order_insert(
    *, buyer: User, plan: Plan | None, top_up: Money | None, idempotency_key: str | None
) -> tuple[Order, bool]:
    """The pending order, and whether it is new (False: an earlier request with the same key made it)."""
    if idempotency_key is not None:
        User.objects.select_for_update().filter(pk=buyer.pk).first()  # serialise this buyer's keyed creates
        existing = Order.objects.filter(buyer=buyer, idempotency_key=idempotency_key).order_by("pk").first()
        if existing is not None:
            return _replay(existing, plan=plan, top_up=top_up), False
    if plan is not None:
        fields = _plan_fields(buyer=buyer, plan=plan)
    else:
        assert top_up is not None
        fields = _top_up_fields(top_up)
    try:
        with transaction.atomic():
            order = Order.objects.create(
                buyer=buyer,
                status=OrderStatus.PENDING,
                gateway=payment_gateway().name,
                idempotency_key=idempotency_key,
                expires_at=timezone.now() + timedelta(minutes=settings.BILLING_ORDER_TTL_MINUTES),
                **fields,
            )
    except IntegrityError:
        if idempotency_key is None:
            raise
        # Another request with the same key won the race (where the row lock does not apply).
        existing = Order.objects.filter(buyer=buyer, plan=plan, idempotency_key=idempotency_key).first()
        if existing is None:
            raise
        return _replay(existing, plan=plan, top_up=top_up), False
    return order, True


def order_create(
    *,
    buyer: User,
    plan: Plan | None = None,
    top_up: Money | None = None,
    idempotency_key: str | None = None,
) -> Order:
    """A pending order for `plan` (one-time, subscription or time pass) or for a credit `top_up`, with its
    checkout page (`checkout_url`) from the configured payment gateway. Not to be called inside a transaction:
    the gateway may call the provider over HTTP after the order is committed.

    Raises NotFound `plan_not_found` (the plan's model is not public), Conflict `plan_archived`, `own_model`,
    `already_owned`, `idempotency_key_reused`, BadRequest `plan_not_purchasable` (free and pay-as-you-go plans),
    ValidationFailed for a bad top-up, PermissionDenied `email_not_verified`, and UpstreamError when the gateway
    cannot open the checkout (the order is then `failed`, with the reason)."""
    if (plan is None) == (top_up is None):
        raise BadRequest("Order either a plan or a credit top-up.", code="invalid_order")
    key = _idempotency_key_clean(idempotency_key)
    if not user_email_is_verified(buyer):
        raise PermissionDenied("Verify your email address before buying.", code="email_not_verified")
    order, created = _order_insert(buyer=buyer, plan=plan, top_up=top_up, idempotency_key=key)
    if not created:
        return order
    return _checkout_attach(order)


def _checkout_attach(order: Order) -> Order:
    """Ask the order's gateway for a checkout and store it on the order; on failure mark the order failed."""
    backend = payment_gateway(order.gateway)
    try:
        checkout = backend.checkout_create(order)
    except UpstreamError as error:
        reason = f"The payment provider could not open the checkout: {error.message}"
        _order_fail(order, reason=reason)
        logger.warning("checkout failed", extra={"order": order.public_id, "code": error.code})
        raise UpstreamError(reason, code=error.code, details={"order": order.public_id}) from error
    except Exception:
        _order_fail(order, reason="The checkout could not be created because of an error on our side.")
        logger.exception("checkout failed", extra={"order": order.public_id})
        raise
    Order.objects.filter(pk=order.pk, status=OrderStatus.PENDING).update(
        gateway_reference=checkout.reference[:100], checkout_url=checkout.url, updated_at=timezone.now()
    )
    order.refresh_from_db()
    return order


def _order_fail(order: Order, *, reason: str) -> None:
    Order.objects.filter(pk=order.pk, status=OrderStatus.PENDING).update(
        status=OrderStatus.FAILED,
        failure_reason=reason[:FAILURE_REASON_MAX_LENGTH],
        updated_at=timezone.now(),
    )
    order.refresh_from_db()


# --- Cancel, resume, expire ---------------------------------------------------------------------------------------
def _expire_if_due(order: Order, *, now: datetime | None = None) -> bool:
    """Mark `order` expired if it is pending past its expiry (before the periodic job got to it)."""
    now = now or timezone.now()
    if order.status != OrderStatus.PENDING or order.expires_at > now:
        return False
    expired = Order.objects.filter(pk=order.pk, status=OrderStatus.PENDING).update(
        status=OrderStatus.EXPIRED, updated_at=now
    )
    order.refresh_from_db()
    return bool(expired) or order.status == OrderStatus.EXPIRED


def _not_pending(order: Order, action: str) -> Conflict:
    if order.status == OrderStatus.EXPIRED:
        return Conflict("This order expired: start a new one.", code="order_expired")
    return Conflict(
        f"Only a pending order can be {action}; this one is {order.get_status_display().lower()}.",
        code="order_not_pending",
        details={"status": order.status},
    )


@transaction.atomic
def order_cancel(*, order: Order) -> Order:
    """Cancel a pending order (the caller has checked it is the buyer's: `selectors.orders.order_get`). Money that
    arrives for it anyway is still recorded and honoured by the payment processing. Conflict `order_not_pending`
    for any other status."""
    locked = Order.objects.select_for_update().get(pk=order.pk)
    if locked.status != OrderStatus.PENDING:
        raise _not_pending(locked, "cancelled")
    locked.status = OrderStatus.CANCELLED
    locked.save(update_fields=["status", "updated_at"])
    return locked


def order_resume(*, order: Order) -> str:
    """The checkout page of a pending order, to go back to it. Conflict `order_expired` once it expired (marking it
    so if the periodic job has not yet), `order_not_pending` when paid, failed or cancelled."""
    if _expire_if_due(order):
        raise _not_pending(order, "resumed")
    if order.status != OrderStatus.PENDING:
        raise _not_pending(order, "resumed")
    if not order.checkout_url:
        raise Conflict(
            "This order has no checkout page yet; try again in a moment or start a new order.",
            code="checkout_unavailable",
        )
    return order.checkout_url


def orders_expire(*, now: datetime | None = None) -> int:
    """Mark pending orders past their expiry as expired; returns how many. The periodic job runs it."""
    now = now or timezone.now()
    return Order.objects.filter(status=OrderStatus.PENDING, expires_at__lte=now).update(
        status=OrderStatus.EXPIRED, updated_at=now
    )


# --- Sandbox ------------------------------------------------------------------------------------------------------
def order_sandbox_pay(*, order: Order, succeed: bool) -> Order:
    """The buyer clicked Pay (or Decline) on the sandbox page of their order: deliver the payment webhook through
    the real webhook code, and return the order as it now stands. NotFound unless the sandbox is the configured
    gateway and this is a sandbox order; Conflict `order_expired` / `order_not_pending` otherwise."""
    if not sandbox_enabled() or order.gateway != PaymentGateway.SANDBOX:
        raise NotFound("No such sandbox checkout.", code="sandbox_not_found")
    if _expire_if_due(order) or order.status != OrderStatus.PENDING:
        raise _not_pending(order, "paid")
    sandbox_payment_complete(order=order, succeed=succeed)
    order.refresh_from_db()
    return order
