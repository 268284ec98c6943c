"""order_create / order_cancel / order_resume / orders_expire on the sandbox gateway (the default in tests): the price
copied, idempotency, every refusal (with nothing written), and a failed checkout leaving a failed order."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from modelmarket.accounts.tests.factories import UserFactory, make_user
from modelmarket.billing.gateways.base import Checkout
from modelmarket.billing.gateways.sandbox import SandboxGateway
from modelmarket.billing.models import (
    Entitlement,
    EntitlementStatus,
    Order,
    OrderKind,
    OrderStatus,
    PlanKind,
)
from modelmarket.billing.money import Money
from modelmarket.billing.services.orders import (
    order_cancel,
    order_create,
    order_resume,
    orders_expire,
    top_up_parse,
)
from modelmarket.billing.services.plans import PlanTerms, plan_archive, plan_terms_of, plan_update
from modelmarket.billing.tests.factories import make_order, make_plan, published_model
from modelmarket.catalog.services import models as catalog_services
from modelmarket.core.exceptions import (
    BadRequest,
    Conflict,
    NotFound,
    PermissionDenied,
    UpstreamError,
    ValidationFailed,
)

pytestmark = pytest.mark.django_db

SANDBOX_PAGE = "http://127.0.0.1:8000/billing/sandbox/pay/"


@pytest.fixture(autouse=True)
def _sandbox(settings):
    settings.PAYMENT_GATEWAY = "sandbox"
    settings.SITE_URL = "http://127.0.0.1:8000"
    settings.BILLING_ORDER_TTL_MINUTES = 60


# --- Creating -----------------------------------------------------------------------------------------------------
def test_a_plan_order_copies_the_price_and_terms_and_gets_the_sandbox_checkout(buyer):
    plan = make_plan(name="Pro", kind=PlanKind.SUBSCRIPTION, interval="year", price_minor=120_000_000)
    before = timezone.now()

    order = order_create(buyer=buyer, plan=plan)

    assert order.status == OrderStatus.PENDING
    assert order.kind == OrderKind.PLAN
    assert order.plan == plan
    assert order.model_id == plan.model_id
    assert order.currency_id == "USDC"
    assert order.amount_minor == 120_000_000
    assert order.gateway == "sandbox"
    assert order.plan_snapshot == {
        "plan": plan.public_id,
        "name": "Pro",
        "kind": "subscription",
        "interval": "year",
        "pass_duration": "",
        "currency": "USDC",
        "price_minor": 120_000_000,
        "model": plan.model_id,
    }
    assert order.checkout_url == f"{SANDBOX_PAGE}{order.public_id}"
    assert order.gateway_reference == f"sandbox_{order.public_id}"
    assert before + timedelta(minutes=60) <= order.expires_at <= timezone.now() + timedelta(minutes=60)
    assert order.idempotency_key is None


def test_editing_the_plan_never_changes_a_pending_orders_price(buyer):
    plan = make_plan(price_minor=10_000_000)
    order = order_create(buyer=buyer, plan=plan)
    terms = plan_terms_of(plan)
    terms.price_minor = 99_000_000
    plan_update(plan=plan, terms=terms)

    order.refresh_from_db()
    assert order.amount_minor == 10_000_000
    assert order.plan_snapshot["price_minor"] == 10_000_000
    assert order_create(buyer=buyer, plan=plan).amount_minor == 99_000_000


def test_a_time_pass_and_a_one_time_plan_can_be_ordered(buyer):
    time_pass = make_plan(kind=PlanKind.TIME_PASS, pass_duration="week", price_minor=3_000_000)
    lifetime = make_plan(kind=PlanKind.ONE_TIME, price_minor=50_000_000)

    assert order_create(buyer=buyer, plan=time_pass).plan_snapshot["pass_duration"] == "week"
    assert order_create(buyer=buyer, plan=lifetime).amount_minor == 50_000_000


def test_a_top_up_order_has_no_plan_and_the_amount_asked(buyer):
    order = order_create(buyer=buyer, top_up=Money(25_500_000, "USDC"))

    assert order.kind == OrderKind.TOP_UP
    assert order.plan is None
    assert order.model is None
    assert order.plan_snapshot == {}
    assert (order.currency_id, order.amount_minor) == ("USDC", 25_500_000)
    assert order.checkout_url == f"{SANDBOX_PAGE}{order.public_id}"


def test_top_up_parse_reads_decimal_amounts_in_the_currencys_decimals(db):
    assert top_up_parse(currency="usdc", amount="25.00") == Money(25_000_000, "USDC")
    assert top_up_parse(currency="SOL", amount="0.000000001") == Money(1, "SOL")
    assert top_up_parse(currency="USD", amount=" 12.5 ") == Money(1250, "USD")


@pytest.mark.parametrize(
    ("currency", "amount", "code"),
    [
        ("USDC", "0.0000001", "amount_precision"),
        ("USD", "1.001", "amount_precision"),
        ("USDC", "-5", "negative_amount"),
        ("USDC", "ten", "invalid_amount"),
        ("USDC", "NaN", "invalid_amount"),
        ("DOGE", "5", "unknown_currency"),
        ("", "5", "unknown_currency"),
        ("U" * 50, "5", "unknown_currency"),
    ],
)
def test_top_up_parse_refuses_bad_amounts_and_unknown_currencies(db, currency, amount, code):
    with pytest.raises(ValidationFailed) as caught:
        top_up_parse(currency=currency, amount=amount)
    assert caught.value.code == code


@pytest.mark.parametrize(
    ("top_up", "code"),
    [
        (Money(0, "USDC"), "invalid_amount"),
        (Money(-1, "USDC"), "invalid_amount"),
        (Money(100_000 * 10**6 + 1, "USDC"), "amount_too_large"),
        (Money(5, "DOGE"), "unknown_currency"),
    ],
)
def test_bad_top_ups_are_refused_and_nothing_is_written(buyer, top_up, code):
    with pytest.raises(ValidationFailed) as caught:
        order_create(buyer=buyer, top_up=top_up)
    assert caught.value.code == code
    assert not Order.objects.exists()


def test_a_top_up_in_an_inactive_currency_is_refused(buyer):
    from modelmarket.billing.models import Currency

    Currency.objects.filter(code="BTC").update(is_active=False)
    with pytest.raises(ValidationFailed) as caught:
        order_create(buyer=buyer, top_up=Money(1000, "BTC"))
    assert caught.value.code == "unknown_currency"
    with pytest.raises(ValidationFailed):
        top_up_parse(currency="BTC", amount="1")
    assert not Order.objects.exists()


def test_the_largest_top_up_is_accepted(buyer):
    assert order_create(buyer=buyer, top_up=Money(100_000 * 10**6, "USDC")).amount_minor == 100_000 * 10**6


@pytest.mark.parametrize(
    ("kind", "message_part"),
    [(PlanKind.FREE, "Free plans"), (PlanKind.PAY_AS_YOU_GO, "top up your credit")],
)
def test_free_and_pay_as_you_go_plans_are_not_bought(buyer, kind, message_part):
    plan = make_plan(kind=kind, name="Plan")
    with pytest.raises(BadRequest) as caught:
        order_create(buyer=buyer, plan=plan)
    assert caught.value.code == "plan_not_purchasable"
    assert message_part in caught.value.message
    assert not Order.objects.exists()


def test_an_archived_plan_is_not_sold(buyer):
    plan = plan_archive(plan=make_plan())
    with pytest.raises(Conflict) as caught:
        order_create(buyer=buyer, plan=plan)
    assert caught.value.code == "plan_archived"
    assert not Order.objects.exists()


def test_a_plan_of_a_model_that_is_not_public_is_not_found(buyer):
    creator = make_user("creator")
    draft = catalog_services.model_create(
        actor=creator, name="Draft", task="tabular-regression", license="mit"
    )
    from modelmarket.billing.services.plans import plan_create

    plan = plan_create(
        model=draft, terms=PlanTerms(name="Early", kind=PlanKind.ONE_TIME, price_minor=1_000_000)
    )
    with pytest.raises(NotFound) as caught:
        order_create(buyer=buyer, plan=plan)
    assert caught.value.code == "plan_not_found"
    assert not Order.objects.exists()


def test_a_creator_cannot_buy_their_own_model(creator):
    plan = make_plan(model=published_model(owner=creator))
    with pytest.raises(Conflict) as caught:
        order_create(buyer=creator, plan=plan)
    assert caught.value.code == "own_model"
    assert not Order.objects.exists()


def test_lifetime_access_already_held_is_not_sold_twice(buyer):
    plan = make_plan(kind=PlanKind.ONE_TIME)
    Entitlement.objects.create(
        buyer=buyer,
        model_id=plan.model_id,
        plan=plan,
        status=EntitlementStatus.ACTIVE,
        starts_at=timezone.now(),
        ends_at=None,
    )
    with pytest.raises(Conflict) as caught:
        order_create(buyer=buyer, plan=plan)
    assert caught.value.code == "already_owned"
    assert not Order.objects.exists()


def test_an_unverified_buyer_is_asked_to_verify_first(db):
    unverified = UserFactory(verified=False)
    with pytest.raises(PermissionDenied) as caught:
        order_create(buyer=unverified, plan=make_plan())
    assert caught.value.code == "email_not_verified"
    assert not Order.objects.exists()


@pytest.mark.parametrize("arguments", [{}, {"plan": "both", "top_up": Money(1, "USDC")}])
def test_an_order_is_for_a_plan_or_a_top_up_not_neither_nor_both(buyer, arguments):
    if arguments.get("plan") == "both":
        arguments["plan"] = make_plan()
    with pytest.raises(BadRequest) as caught:
        order_create(buyer=buyer, **arguments)
    assert caught.value.code == "invalid_order"
    assert not Order.objects.exists()


# --- Idempotency --------------------------------------------------------------------------------------------------
def test_the_same_key_and_plan_return_the_same_order(buyer):
    plan = make_plan()
    first = order_create(buyer=buyer, plan=plan, idempotency_key="k-1")
    again = order_create(buyer=buyer, plan=plan, idempotency_key="k-1")

    assert again.pk == first.pk
    assert again.checkout_url == first.checkout_url
    assert Order.objects.count() == 1


def test_the_same_key_returns_the_order_even_after_the_plan_was_archived(buyer):
    plan = make_plan()
    first = order_create(buyer=buyer, plan=plan, idempotency_key="k-1")
    plan_archive(plan=plan)

    assert order_create(buyer=buyer, plan=plan, idempotency_key="k-1").pk == first.pk


def test_the_same_key_for_the_same_top_up_returns_the_same_order(buyer):
    first = order_create(buyer=buyer, top_up=Money(5_000_000, "USDC"), idempotency_key="t-1")
    again = order_create(buyer=buyer, top_up=Money(5_000_000, "USDC"), idempotency_key="t-1")
    assert again.pk == first.pk
    assert Order.objects.count() == 1


@pytest.mark.parametrize(
    "second",
    [
        {"plan": "other"},
        {"top_up": Money(5_000_000, "USDC")},
    ],
)
def test_reusing_a_key_for_a_different_plan_order_is_a_conflict(buyer, second):
    first = order_create(buyer=buyer, plan=make_plan(), idempotency_key="k-1")
    if second.get("plan") == "other":
        second = {"plan": make_plan()}
    with pytest.raises(Conflict) as caught:
        order_create(buyer=buyer, idempotency_key="k-1", **second)
    assert caught.value.code == "idempotency_key_reused"
    assert caught.value.details == {"order": first.public_id}
    assert list(Order.objects.values_list("pk", flat=True)) == [first.pk]


@pytest.mark.parametrize("second", [Money(5_000_001, "USDC"), Money(5_000_000, "USD")])
def test_reusing_a_key_for_a_different_top_up_is_a_conflict(buyer, second):
    order_create(buyer=buyer, top_up=Money(5_000_000, "USDC"), idempotency_key="t-1")
    with pytest.raises(Conflict) as caught:
        order_create(buyer=buyer, top_up=second, idempotency_key="t-1")
    assert caught.value.code == "idempotency_key_reused"
    assert Order.objects.count() == 1


def test_keys_are_per_buyer(buyer):
    plan = make_plan()
    other = make_user("buyer")
    mine = order_create(buyer=buyer, plan=plan, idempotency_key="shared")
    theirs = order_create(buyer=other, plan=plan, idempotency_key="shared")
    assert mine.pk != theirs.pk
    assert Order.objects.count() == 2


def test_without_a_key_every_call_makes_a_new_order(buyer):
    plan = make_plan()
    assert order_create(buyer=buyer, plan=plan).pk != order_create(buyer=buyer, plan=plan).pk


@pytest.mark.parametrize("key", ["", "x" * 256, "tab\there"])
def test_a_malformed_key_is_refused(buyer, key):
    with pytest.raises(BadRequest) as caught:
        order_create(buyer=buyer, plan=make_plan(), idempotency_key=key)
    assert caught.value.code == "invalid_idempotency_key"
    assert not Order.objects.exists()


# --- A failing gateway --------------------------------------------------------------------------------------------
def test_a_gateway_failure_leaves_the_order_failed_with_the_reason(buyer, monkeypatch):
    def refuse(self, order):
        raise UpstreamError("Helio refused the request (HTTP 400): bad wallet", code="helio_rejected")

    monkeypatch.setattr(SandboxGateway, "checkout_create", refuse)
    with pytest.raises(UpstreamError) as caught:
        order_create(buyer=buyer, plan=make_plan())

    order = Order.objects.get()
    assert caught.value.code == "helio_rejected"
    assert caught.value.details == {"order": order.public_id}
    assert order.status == OrderStatus.FAILED
    assert order.failure_reason == (
        "The payment provider could not open the checkout: Helio refused the request (HTTP 400): bad wallet"
    )
    assert order.checkout_url == ""
    assert order.gateway_reference == ""


def test_an_unexpected_gateway_error_also_fails_the_order_and_propagates(buyer, monkeypatch):
    def crash(self, order):
        raise RuntimeError("bug")

    monkeypatch.setattr(SandboxGateway, "checkout_create", crash)
    with pytest.raises(RuntimeError):
        order_create(buyer=buyer, top_up=Money(1_000_000, "USDC"))
    order = Order.objects.get()
    assert order.status == OrderStatus.FAILED
    assert order.failure_reason == "The checkout could not be created because of an error on our side."


def test_a_retry_with_the_key_of_a_failed_order_returns_that_failed_order(buyer, monkeypatch):
    plan = make_plan()
    calls = []

    def refuse_once(self, order):
        calls.append(order.public_id)
        if len(calls) == 1:
            raise UpstreamError("down", code="upstream_unavailable")
        return Checkout(reference="r", url="http://127.0.0.1:8000/x")

    monkeypatch.setattr(SandboxGateway, "checkout_create", refuse_once)
    with pytest.raises(UpstreamError):
        order_create(buyer=buyer, plan=plan, idempotency_key="k")
    replay = order_create(buyer=buyer, plan=plan, idempotency_key="k")

    assert replay.status == OrderStatus.FAILED
    assert len(calls) == 1  # the gateway is not asked again for the same key
    assert Order.objects.count() == 1


# --- Cancel, resume, expire ---------------------------------------------------------------------------------------
def test_a_pending_order_can_be_cancelled(buyer):
    order = order_create(buyer=buyer, plan=make_plan())
    assert order_cancel(order=order).status == OrderStatus.CANCELLED
    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (OrderStatus.PAID, "order_not_pending"),
        (OrderStatus.FAILED, "order_not_pending"),
        (OrderStatus.CANCELLED, "order_not_pending"),
        (OrderStatus.REFUNDED, "order_not_pending"),
        (OrderStatus.EXPIRED, "order_expired"),
    ],
)
def test_only_pending_orders_can_be_cancelled(buyer, status, code):
    order = make_order(buyer=buyer, status=status)
    with pytest.raises(Conflict) as caught:
        order_cancel(order=order)
    assert caught.value.code == code
    order.refresh_from_db()
    assert order.status == status


def test_resuming_a_pending_order_gives_its_checkout_page(buyer):
    order = order_create(buyer=buyer, plan=make_plan())
    assert order_resume(order=order) == f"{SANDBOX_PAGE}{order.public_id}"


def test_resuming_an_order_past_its_expiry_marks_it_expired(buyer):
    order = order_create(buyer=buyer, plan=make_plan())
    Order.objects.filter(pk=order.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    order.refresh_from_db()

    with pytest.raises(Conflict) as caught:
        order_resume(order=order)
    assert caught.value.code == "order_expired"
    order.refresh_from_db()
    assert order.status == OrderStatus.EXPIRED


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (OrderStatus.EXPIRED, "order_expired"),
        (OrderStatus.PAID, "order_not_pending"),
        (OrderStatus.CANCELLED, "order_not_pending"),
    ],
)
def test_only_pending_orders_can_be_resumed(buyer, status, code):
    order = make_order(buyer=buyer, status=status, checkout_url="http://127.0.0.1:8000/x")
    with pytest.raises(Conflict) as caught:
        order_resume(order=order)
    assert caught.value.code == code


def test_a_pending_order_without_a_checkout_page_cannot_be_resumed(buyer):
    with pytest.raises(Conflict) as caught:
        order_resume(order=make_order(buyer=buyer))
    assert caught.value.code == "checkout_unavailable"


def test_orders_expire_only_touches_pending_orders_past_their_expiry(buyer):
    now = timezone.now()
    due = make_order(buyer=buyer, expires_at=now - timedelta(minutes=1))
    exact = make_order(buyer=buyer, expires_at=now)
    later = make_order(buyer=buyer, expires_at=now + timedelta(minutes=1))
    paid = make_order(buyer=buyer, status=OrderStatus.PAID, expires_at=now - timedelta(minutes=1))

    assert orders_expire(now=now) == 2

    statuses = dict(Order.objects.values_list("pk", "status"))
    assert statuses == {
        due.pk: OrderStatus.EXPIRED,
        exact.pk: OrderStatus.EXPIRED,
        later.pk: OrderStatus.PENDING,
        paid.pk: OrderStatus.PAID,
    }
    assert orders_expire(now=now) == 0


def test_the_periodic_job_expires_orders(buyer):
    from modelmarket.billing.tasks.orders import orders_expire_task

    order = make_order(buyer=buyer, expires_at=timezone.now() - timedelta(minutes=1))
    orders_expire_task.call_local()
    order.refresh_from_db()
    assert order.status == OrderStatus.EXPIRED
