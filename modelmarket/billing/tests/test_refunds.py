"""Refunds: full and partial, exact proportional reversal in the ledger, access revoked only by a full refund, the
buyer told; every refusal (too much, a signature used before, not staff, credit already spent, a payment that paid
nothing) writes nothing. Through the service, the staff page and the API."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any

import pytest
from django.db import connection
from django.db.models import Sum
from django.test import Client
from django.urls import reverse

from conftest import ApiClient
from modelmarket.accounts.tests.factories import make_user
from modelmarket.billing.models import (
    AccountKind,
    Entitlement,
    EntitlementStatus,
    LedgerAccount,
    LedgerEntry,
    LedgerTransaction,
    Order,
    OrderKind,
    OrderStatus,
    Payment,
    PaymentGateway,
    PaymentMatch,
    PaymentStatus,
    Refund,
)
from modelmarket.billing.services import accounting
from modelmarket.billing.services.accounting import UsageCharge
from modelmarket.billing.services.refunds import refund_record
from modelmarket.billing.tests.factories import make_order, make_plan, published_model
from modelmarket.billing.tests.test_invoices import logged_in, paid_order, pdf_content
from modelmarket.core.exceptions import BadRequest, Conflict, NotFound, ValidationFailed
from modelmarket.notifications.models import Notification

PRICE = 10_000_000  # 10 USDC; the platform keeps 15 %: 1.5 USDC, the creator 8.5 USDC
PROCESSOR_FEE = 100_000


def balance(kind: str, user: Any = None, currency: str = "USDC") -> int:
    account = LedgerAccount.objects.filter(kind=kind, user=user, currency_id=currency).first()
    return account.balance_minor if account else 0


def entry_sum(**filters: Any) -> int:
    return LedgerEntry.objects.filter(**filters).aggregate(total=Sum("amount_minor"))["total"] or 0


def assert_ledger_balanced() -> None:
    assert entry_sum() == 0
    for account in LedgerAccount.objects.all():
        assert account.balance_minor == entry_sum(account=account), account


def written_state() -> dict[str, Any]:
    """Everything a refund could write, to compare before and after a refused one."""
    return {
        "refunds": Refund.objects.count(),
        "transactions": LedgerTransaction.objects.count(),
        "entries": LedgerEntry.objects.count(),
        "balances": sorted(LedgerAccount.objects.values_list("pk", "balance_minor")),
        "payments": sorted(Payment.objects.values_list("pk", "refunded_minor")),
        "orders": sorted(Order.objects.values_list("pk", "refunded_minor", "status")),
        "entitlements": sorted(Entitlement.objects.values_list("pk", "status", "ends_at")),
        "notifications": Notification.objects.filter(kind="refund_recorded").count(),
    }


@pytest.fixture
def staff(db: Any) -> Any:
    return make_user("moderator")


@pytest.fixture
def sale(db: Any) -> tuple[Order, Payment, Any]:
    """A paid lifetime plan of 10 USDC, the processor having kept 0.1 USDC."""
    return paid_order(fee_minor=PROCESSOR_FEE)


# --- Full and partial refunds -------------------------------------------------------------------------------------
@pytest.mark.django_db
def test_a_full_refund_reverses_the_split_revokes_access_and_tells_the_buyer(staff, sale):
    order, payment, invoice = sale
    creator = order.model.creator

    refund = refund_record(
        actor=staff,
        payment=payment,
        amount_minor=PRICE,
        reason="Model did not work",
        transaction_signature="RFND1",
    )

    order.refresh_from_db()
    payment.refresh_from_db()
    assert (refund.amount_minor, refund.currency_id, refund.order_id, refund.recorded_by) == (
        PRICE,
        "USDC",
        order.pk,
        staff,
    )
    assert refund.ledger_transaction.reference == f"refund:{refund.public_id}"
    assert (order.status, order.refunded_minor, payment.refunded_minor) == (
        OrderStatus.REFUNDED,
        PRICE,
        PRICE,
    )
    assert (
        entry_sum(transaction=refund.ledger_transaction, account__kind=AccountKind.CREATOR_EARNINGS)
        == -8_500_000
    )
    assert (
        entry_sum(transaction=refund.ledger_transaction, account__kind=AccountKind.PLATFORM_REVENUE)
        == -1_500_000
    )
    assert entry_sum(transaction=refund.ledger_transaction, account__kind=AccountKind.REFUNDS) == PRICE
    assert balance(AccountKind.CREATOR_EARNINGS, creator) == 0
    assert (
        balance(AccountKind.PLATFORM_REVENUE) == -PROCESSOR_FEE
    )  # the processor's fee stays the platform's cost
    assert balance(AccountKind.REFUNDS) == PRICE
    assert_ledger_balanced()
    entitlement = Entitlement.objects.get(buyer=order.buyer, plan=order.plan)
    assert entitlement.status == EntitlementStatus.REVOKED
    notification = Notification.objects.get(user=order.buyer, kind="refund_recorded")
    assert notification.dedupe_key == f"refund:{refund.public_id}"
    assert notification.title == "Refund of 10.00 USDC sent"
    assert "access it granted has ended" in notification.body
    assert notification.url == reverse("billing_invoice_detail", args=[invoice.number])


@pytest.mark.django_db
def test_a_partial_refund_is_split_by_largest_remainder_and_keeps_access(staff, sale):
    order, payment, _ = sale
    creator = order.model.creator

    refund = refund_record(
        actor=staff, payment=payment, amount_minor=3_333_333, reason="Goodwill", transaction_signature="RFND2"
    )

    # 3.333333 in the proportions 8.5 : 1.5 is 2.8333330 + 0.4999999 (remainders .05 and .95): the platform gets
    # the leftover minor unit.
    assert (
        entry_sum(transaction=refund.ledger_transaction, account__kind=AccountKind.CREATOR_EARNINGS)
        == -2_833_333
    )
    assert (
        entry_sum(transaction=refund.ledger_transaction, account__kind=AccountKind.PLATFORM_REVENUE)
        == -500_000
    )
    assert balance(AccountKind.CREATOR_EARNINGS, creator) == 8_500_000 - 2_833_333
    assert balance(AccountKind.PLATFORM_REVENUE) == 1_500_000 - PROCESSOR_FEE - 500_000
    assert balance(AccountKind.REFUNDS) == 3_333_333
    assert_ledger_balanced()
    order.refresh_from_db()
    payment.refresh_from_db()
    assert (order.status, order.refunded_minor, payment.refunded_minor) == (
        OrderStatus.PAID,
        3_333_333,
        3_333_333,
    )
    assert Entitlement.objects.get(buyer=order.buyer, plan=order.plan).status == EntitlementStatus.ACTIVE
    assert "partial refund: your access is unchanged" in Notification.objects.get(kind="refund_recorded").body


@pytest.mark.django_db
def test_partial_refunds_adding_up_to_the_price_reverse_it_exactly_and_then_revoke(staff, sale):
    order, payment, _ = sale
    creator = order.model.creator

    for amount, signature in ((3_333_333, "A1"), (3_333_333, "A2"), (3_333_334, "A3")):
        refund_record(
            actor=staff, payment=payment, amount_minor=amount, reason="Split", transaction_signature=signature
        )

    assert balance(AccountKind.CREATOR_EARNINGS, creator) == 0
    assert balance(AccountKind.PLATFORM_REVENUE) == -PROCESSOR_FEE
    assert balance(AccountKind.REFUNDS) == PRICE
    assert_ledger_balanced()
    order.refresh_from_db()
    assert (order.status, order.refunded_minor) == (OrderStatus.REFUNDED, PRICE)
    assert Entitlement.objects.get(buyer=order.buyer, plan=order.plan).status == EntitlementStatus.REVOKED
    assert Notification.objects.filter(user=order.buyer, kind="refund_recorded").count() == 3


@pytest.mark.django_db
def test_a_full_refund_keeps_access_a_later_order_renewed(staff):
    plan = make_plan(kind="subscription", name="Monthly")
    buyer = make_user("buyer")
    first_order, first_payment, _ = paid_order(plan, buyer, paid_at=datetime(2026, 3, 1, tzinfo=UTC))
    second_order = paid_order(plan, buyer, paid_at=datetime(2026, 3, 30, tzinfo=UTC))[0]

    refund_record(
        actor=staff, payment=first_payment, amount_minor=PRICE, reason="Old period", transaction_signature="R"
    )

    entitlement = Entitlement.objects.get(buyer=buyer, plan=plan)
    assert entitlement.last_order_id == second_order.pk
    assert entitlement.status == EntitlementStatus.ACTIVE
    first_order.refresh_from_db()
    assert first_order.status == OrderStatus.REFUNDED


@pytest.mark.django_db
def test_a_top_up_refund_takes_the_credit_back_from_the_wallet(staff):
    buyer = make_user("buyer")
    order, payment, _ = paid_order(
        buyer=buyer, kind=OrderKind.TOP_UP, currency="USDC", amount_minor=5_000_000
    )

    refund_record(
        actor=staff, payment=payment, amount_minor=5_000_000, reason="Unused", transaction_signature="T1"
    )

    assert balance(AccountKind.BUYER_WALLET, buyer) == 0
    assert balance(AccountKind.REFUNDS) == 5_000_000
    assert_ledger_balanced()
    order.refresh_from_db()
    assert order.status == OrderStatus.REFUNDED


@pytest.mark.django_db
def test_a_top_up_refund_is_refused_when_the_credit_was_already_spent(staff):
    buyer = make_user("buyer")
    _, payment, _ = paid_order(buyer=buyer, kind=OrderKind.TOP_UP, currency="USDC", amount_minor=5_000_000)
    model = published_model()
    accounting.usage_charges_book(
        reference="spent",
        charges=[
            UsageCharge(
                buyer_id=buyer.pk,
                creator_id=model.creator_id,
                model_id=model.pk,
                currency="USDC",
                cost_minor=4_000_000,
            )
        ],
    )
    before = written_state()

    with pytest.raises(Conflict) as refused:
        refund_record(
            actor=staff, payment=payment, amount_minor=5_000_000, reason="x", transaction_signature="T2"
        )

    assert refused.value.code == "credit_already_spent"
    assert refused.value.details == {"available_minor": 1_000_000, "currency": "USDC"}
    assert "1.00 USDC" in refused.value.message
    assert written_state() == before
    refund_record(
        actor=staff,
        payment=payment,
        amount_minor=1_000_000,
        reason="What is left",
        transaction_signature="T3",
    )
    assert balance(AccountKind.BUYER_WALLET, buyer) == 0


# --- Refusals write nothing ---------------------------------------------------------------------------------------
@pytest.mark.django_db
def test_a_refund_above_what_is_left_is_refused_and_writes_nothing(staff, sale):
    _, payment, _ = sale
    refund_record(
        actor=staff, payment=payment, amount_minor=6_000_000, reason="Part", transaction_signature="P1"
    )
    before = written_state()

    with pytest.raises(BadRequest) as refused:
        refund_record(
            actor=staff, payment=payment, amount_minor=4_000_001, reason="Too", transaction_signature="P2"
        )

    assert refused.value.code == "refund_exceeds_payment"
    assert refused.value.details == {
        "amount_minor": 4_000_001,
        "refundable_minor": 4_000_000,
        "currency": "USDC",
    }
    assert written_state() == before


@pytest.mark.django_db
@pytest.mark.parametrize("amount", [0, -1, True, 1.5])
def test_a_refund_that_is_not_a_positive_integer_is_refused(staff, sale, amount):
    before = written_state()

    with pytest.raises(BadRequest) as refused:
        refund_record(
            actor=staff, payment=sale[1], amount_minor=amount, reason="x", transaction_signature="Z"
        )

    assert refused.value.code == "invalid_amount"
    assert written_state() == before


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("reason", "signature", "code"),
    [
        ("ok", "", "invalid_transaction_signature"),
        ("ok", "   ", "invalid_transaction_signature"),
        ("ok", "two words", "invalid_transaction_signature"),
        ("ok", "x" * 201, "invalid_transaction_signature"),
        ("", "SIG", "invalid_reason"),
        ("x" * 301, "SIG", "invalid_reason"),
    ],
)
def test_a_refund_without_a_reason_or_a_signature_is_refused(staff, sale, reason, signature, code):
    before = written_state()

    with pytest.raises(ValidationFailed) as refused:
        refund_record(
            actor=staff, payment=sale[1], amount_minor=1, reason=reason, transaction_signature=signature
        )

    assert refused.value.code == code
    assert written_state() == before


@pytest.mark.django_db
def test_a_signature_already_recorded_is_a_conflict_and_writes_nothing(staff):
    plan = make_plan()
    _, first, _ = paid_order(plan)
    _, second, _ = paid_order(plan)
    refund_record(
        actor=staff, payment=first, amount_minor=1_000_000, reason="a", transaction_signature="SAME"
    )
    before = written_state()

    for payment in (first, second):
        with pytest.raises(Conflict) as refused:
            refund_record(
                actor=staff, payment=payment, amount_minor=1_000_000, reason="b", transaction_signature="SAME"
            )
        assert refused.value.code == "duplicate_refund_signature"

    assert written_state() == before


@pytest.mark.django_db
def test_the_payments_own_signature_is_not_a_refund_signature(staff, sale):
    before = written_state()

    with pytest.raises(BadRequest) as refused:
        refund_record(
            actor=staff,
            payment=sale[1],
            amount_minor=1,
            reason="x",
            transaction_signature=sale[1].transaction_signature,
        )

    assert refused.value.code == "refund_signature_is_payment"
    assert written_state() == before


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["buyer", "creator"])
def test_only_staff_may_record_a_refund(sale, role):
    order, payment, _ = sale
    actors = [make_user(role), order.buyer, order.model.creator]
    before = written_state()

    for actor in actors:
        with pytest.raises(NotFound):
            refund_record(actor=actor, payment=payment, amount_minor=1, reason="x", transaction_signature="N")

    assert written_state() == before


@pytest.mark.django_db
def test_a_payment_that_paid_no_order_cannot_be_refunded(staff):
    parked = Payment.objects.create(
        gateway=PaymentGateway.SANDBOX,
        provider_payment_id="orphan",
        status=PaymentStatus.SUCCEEDED,
        match=PaymentMatch.UNMATCHED,
        currency_id="USDC",
        gross_minor=PRICE,
        net_minor=PRICE,
    )
    order, paid, _ = paid_order()
    duplicate = Payment.objects.create(  # a second payment for an order already paid: parked, never booked
        gateway=PaymentGateway.SANDBOX,
        provider_payment_id="second",
        order=order,
        status=PaymentStatus.SUCCEEDED,
        match=PaymentMatch.MISMATCH,
        currency_id="USDC",
        gross_minor=PRICE,
        net_minor=PRICE,
    )
    failed = Payment.objects.create(
        gateway=PaymentGateway.SANDBOX,
        provider_payment_id="failed",
        order=make_order(),
        status=PaymentStatus.FAILED,
        currency_id="USDC",
    )
    before = written_state()

    for payment in (parked, duplicate, failed):
        with pytest.raises(Conflict) as refused:
            refund_record(
                actor=staff, payment=payment, amount_minor=1, reason="x", transaction_signature="NO"
            )
        assert refused.value.code == "payment_not_refundable"

    assert written_state() == before
    assert paid.refunded_minor == 0


@pytest.mark.skipif(
    connection.vendor == "sqlite",
    reason="SQLite serialises all writers on one database lock, so concurrent refunds cannot race there: "
    "needs PostgreSQL (set DATABASE_URL=postgres://...)",
)
@pytest.mark.django_db(transaction=True)
def test_concurrent_refunds_on_postgresql_never_exceed_the_payment():
    staff = make_user("moderator")
    _, payment, _ = paid_order()
    barrier = threading.Barrier(4)
    recorded: list[int] = []
    refused: list[str] = []
    errors: list[BaseException] = []

    def refund(index: int) -> None:
        try:
            barrier.wait(timeout=10)
            refund_record(
                actor=staff,
                payment=payment,
                amount_minor=4_000_000,
                reason="race",
                transaction_signature=f"C{index}",
            )
            recorded.append(index)
        except BadRequest as exc:
            refused.append(exc.code)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=refund, args=(index,)) for index in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert len(recorded) == 2
    assert refused == ["refund_exceeds_payment", "refund_exceeds_payment"]
    payment.refresh_from_db()
    assert payment.refunded_minor == 8_000_000
    assert Refund.objects.count() == 2
    assert balance(AccountKind.REFUNDS) == 8_000_000
    assert_ledger_balanced()


# --- The invoice shows refunds ------------------------------------------------------------------------------------
@pytest.mark.django_db
def test_the_invoice_page_pdf_and_api_list_refunds(staff, sale, api_key_for):
    order, payment, invoice = sale
    refund_record(
        actor=staff,
        payment=payment,
        amount_minor=2_500_000,
        reason="Slow answers",
        transaction_signature="RF9",
    )

    page = (
        logged_in(order.buyer).get(reverse("billing_invoice_detail", args=[invoice.number])).content.decode()
    )
    pdf = pdf_content(
        logged_in(order.buyer).get(reverse("billing_invoice_pdf", args=[invoice.number])).content
    )
    api = ApiClient(api_key_for(order.buyer)).get(f"/api/v1/invoices/{invoice.number}").json()

    for text in ("Refunds", "2.50 USDC", "Slow answers", "RF9", "Partially refunded", "7.50 USDC"):
        assert text in page, text
        assert text.encode() in pdf, text
    assert "A partial refund keeps the access" in page
    assert api["refunded_minor"] == 2_500_000
    assert [(r["amount_minor"], r["amount"], r["transaction_signature"]) for r in api["refunds"]] == [
        (2_500_000, "2.50 USDC", "RF9")
    ]


# --- Staff pages --------------------------------------------------------------------------------------------------
@pytest.mark.django_db
def test_staff_record_a_refund_in_whole_units_on_the_payment_page(staff, sale):
    order, payment, _ = sale
    client = logged_in(staff)
    url = reverse("billing_refund_create", args=[payment.public_id])

    form = client.get(url)
    response = client.post(
        url, {"amount": "2.5", "reason": "Late delivery", "transaction_signature": "PageSig1"}
    )

    assert form.status_code == 200
    assert "10.00 USDC" in form.content.decode()
    assert "A partial refund keeps the buyer" in form.content.decode()
    assert response.status_code == 302
    assert response["Location"] == reverse("billing_refunds")
    refund = Refund.objects.get()
    assert (refund.amount_minor, refund.reason, refund.transaction_signature) == (
        2_500_000,
        "Late delivery",
        "PageSig1",
    )
    listing = client.get(reverse("billing_refunds")).content.decode()
    for text in ("2.50 USDC", "PageSig1", "Late delivery", order.buyer.email):
        assert text in listing, text


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("0.0000001", "more than 6 decimal places"),
        ("ten", "is not an amount"),
        ("-1", "cannot be negative"),
        ("10.000001", "more than what is left to refund"),
        ("0", "positive amount"),
    ],
)
def test_the_refund_page_refuses_bad_amounts_with_a_clear_message(staff, sale, amount, message):
    before = written_state()

    response = logged_in(staff).post(
        reverse("billing_refund_create", args=[sale[1].public_id]),
        {"amount": amount, "reason": "x", "transaction_signature": "S"},
    )

    assert response.status_code in (400, 422)
    assert message in response.content.decode()
    assert written_state() == before


@pytest.mark.django_db
def test_the_refund_pages_are_not_found_for_non_staff(sale):
    _, payment, _ = sale
    before = written_state()
    url = reverse("billing_refund_create", args=[payment.public_id])

    for user in (make_user("buyer"), make_user("creator"), payment.order.buyer):
        client = logged_in(user)
        assert client.get(url).status_code == 404
        assert (
            client.post(url, {"amount": "1", "reason": "x", "transaction_signature": "S"}).status_code == 404
        )
        assert client.get(reverse("billing_refunds")).status_code == 404
    assert Client().get(url).status_code == 302
    assert written_state() == before


@pytest.mark.django_db
def test_a_fully_refunded_payment_page_offers_no_form(staff, sale):
    refund_record(actor=staff, payment=sale[1], amount_minor=PRICE, reason="All", transaction_signature="F")

    page = logged_in(staff).get(reverse("billing_refund_create", args=[sale[1].public_id])).content.decode()

    assert "refunded in full" in page
    assert "Record refund" not in page


# --- API ----------------------------------------------------------------------------------------------------------
@pytest.mark.django_db
def test_api_staff_record_a_refund(staff, sale, api_key_for):
    order, payment, _ = sale
    client = ApiClient(api_key_for(staff))

    response = client.post(
        f"/api/v1/staff/payments/{payment.public_id}/refunds",
        {"amount_minor": 4_000_000, "reason": "Partial", "transaction_signature": "ApiSig1"},
        content_type="application/json",
    )

    assert response.status_code == 201
    body = response.json()
    refund = Refund.objects.get()
    assert body["id"] == refund.public_id
    assert (body["payment_id"], body["order_id"], body["buyer_email"]) == (
        payment.public_id,
        order.public_id,
        order.buyer.email,
    )
    assert (body["amount_minor"], body["amount"], body["currency"]) == (4_000_000, "4.00 USDC", "USDC")
    assert (body["order_status"], body["order_refunded_minor"]) == ("paid", 4_000_000)
    listed = client.get("/api/v1/staff/refunds").json()
    assert [item["id"] for item in listed["items"]] == [refund.public_id]


@pytest.mark.django_db
def test_api_refund_above_the_payment_is_400_and_writes_nothing(staff, sale, api_key_for):
    before = written_state()

    response = ApiClient(api_key_for(staff)).post(
        f"/api/v1/staff/payments/{sale[1].public_id}/refunds",
        {"amount_minor": PRICE + 1, "reason": "Too much", "transaction_signature": "ApiSig2"},
        content_type="application/json",
    )

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "refund_exceeds_payment"
    assert written_state() == before


@pytest.mark.django_db
def test_api_duplicate_signature_is_409_and_writes_nothing(staff, sale, api_key_for):
    client = ApiClient(api_key_for(staff))
    url = f"/api/v1/staff/payments/{sale[1].public_id}/refunds"
    client.post(
        url, {"amount_minor": 1_000_000, "reason": "a", "transaction_signature": "Dup"}, "application/json"
    )
    before = written_state()

    response = client.post(
        url, {"amount_minor": 1_000_000, "reason": "b", "transaction_signature": "Dup"}, "application/json"
    )

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "duplicate_refund_signature"
    assert written_state() == before


@pytest.mark.django_db
def test_api_non_staff_get_404_and_nothing_is_written(sale, api_key_for):
    order, payment, _ = sale
    before = written_state()

    for user in (make_user("buyer"), order.buyer, order.model.creator):
        client = ApiClient(api_key_for(user))
        response = client.post(
            f"/api/v1/staff/payments/{payment.public_id}/refunds",
            {"amount_minor": 1, "reason": "x", "transaction_signature": "NS"},
            content_type="application/json",
        )
        assert response.status_code == 404
        assert client.get("/api/v1/staff/refunds").status_code == 404

    assert written_state() == before


@pytest.mark.django_db
def test_api_refund_amount_must_be_an_integer_of_minor_units(staff, sale, api_key_for):
    before = written_state()

    response = ApiClient(api_key_for(staff)).post(
        f"/api/v1/staff/payments/{sale[1].public_id}/refunds",
        {"amount_minor": "2.5", "reason": "x", "transaction_signature": "T"},
        content_type="application/json",
    )

    assert response.status_code == 422
    assert written_state() == before


@pytest.mark.django_db
def test_api_refund_with_an_idempotency_key_is_recorded_once(staff, sale, api_key_for):
    client = ApiClient(api_key_for(staff))
    url = f"/api/v1/staff/payments/{sale[1].public_id}/refunds"
    body = {"amount_minor": 1_000_000, "reason": "once", "transaction_signature": "Idem1"}

    first = client.post(url, body, content_type="application/json", HTTP_IDEMPOTENCY_KEY="k-1")
    again = client.post(url, body, content_type="application/json", HTTP_IDEMPOTENCY_KEY="k-1")

    assert (first.status_code, again.status_code) == (201, 201)
    assert again["Idempotent-Replayed"] == "true"
    assert first.json() == again.json()
    assert Refund.objects.count() == 1
