"""Invoices: gapless numbering per year (rollbacks, new years, concurrent issuers on PostgreSQL), who may read an
invoice, the printable page, the PDF (including names Helvetica cannot draw) and the API."""

from __future__ import annotations

import contextlib
import re
import threading
import zlib
from datetime import UTC, datetime
from itertools import count
from typing import Any

import pytest
from django.db import connection, transaction
from django.test import Client
from django.urls import reverse

from conftest import ApiClient
from modelmarket.accounts.models import User
from modelmarket.accounts.tests.factories import make_user
from modelmarket.billing.invoice_pdf import invoice_pdf_render, pdf_text
from modelmarket.billing.models import (
    Invoice,
    InvoiceSequence,
    Order,
    OrderKind,
    OrderStatus,
    Payment,
    PaymentGateway,
    PaymentMatch,
    PaymentStatus,
    Plan,
)
from modelmarket.billing.selectors.invoices import (
    invoice_facts,
    invoice_get_for_viewer,
    invoice_list_for_buyer,
)
from modelmarket.billing.services import accounting
from modelmarket.billing.services.entitlements import entitlement_grant
from modelmarket.billing.services.invoices import invoice_issue
from modelmarket.billing.tests.factories import make_order, make_plan, published_model
from modelmarket.core.exceptions import NotFound

PAID_AT = datetime(2026, 3, 14, 9, 30, tzinfo=UTC)
_provider_ids = count(1)


# --- Helpers (test_refunds.py uses them too) ----------------------------------------------------------------------
def pay_order(
    order: Order, *, paid_at: datetime = PAID_AT, fee_minor: int = 0, signature: str = ""
) -> Payment:
    """What the webhook does for a matched, successful payment of `order`, except issuing the invoice."""
    number = next(_provider_ids)
    with transaction.atomic():
        payment = Payment.objects.create(
            gateway=PaymentGateway.SANDBOX,
            provider_payment_id=f"sandbox-tx-{number}-{order.public_id}",
            order=order,
            status=PaymentStatus.SUCCEEDED,
            match=PaymentMatch.MATCHED,
            currency_id=order.currency_id,
            gross_minor=order.amount_minor,
            fee_minor=fee_minor,
            net_minor=order.amount_minor - fee_minor,
            transaction_signature=signature or f"5igSig{number}x{'Q' * 80}",
            paid_at=paid_at,
        )
        order.status = OrderStatus.PAID
        order.paid_at = paid_at
        order.save(update_fields=["status", "paid_at", "updated_at"])
        accounting.order_payment_book(order=order, payment=payment)
        if order.kind == OrderKind.PLAN:
            entitlement_grant(order=order, paid_at=paid_at)
    return payment


def paid_order(
    plan: Plan | None = None,
    buyer: User | None = None,
    *,
    paid_at: datetime = PAID_AT,
    fee_minor: int = 0,
    signature: str = "",
    **order_fields: Any,
) -> tuple[Order, Payment, Invoice]:
    """A paid order (a plan by default; a top-up with kind=OrderKind.TOP_UP), booked and invoiced."""
    order = make_order(plan, buyer, **order_fields)
    payment = pay_order(order, paid_at=paid_at, fee_minor=fee_minor, signature=signature)
    return order, payment, invoice_issue(order=order, payment=payment)


def pdf_content(data: bytes) -> bytes:
    """The PDF's bytes with each compressed stream inflated, so page text can be searched."""
    inflated = [data]
    for match in re.finditer(rb"stream\r?\n(.*?)\r?\nendstream", data, re.S):
        with contextlib.suppress(zlib.error):  # not every stream is compressed
            inflated.append(zlib.decompress(match.group(1)))
    return b"\n".join(inflated)


def logged_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


# --- Numbering ----------------------------------------------------------------------------------------------------
@pytest.mark.django_db
def test_invoices_for_many_paid_orders_are_numbered_consecutively_without_gaps():
    plan = make_plan()
    numbers = [paid_order(plan)[2].number for _ in range(12)]

    assert numbers == [f"2026-{n:06d}" for n in range(1, 13)]
    assert list(Invoice.objects.order_by("sequence").values_list("sequence", flat=True)) == list(range(1, 13))
    assert InvoiceSequence.objects.get(year=2026).last_number == 12


@pytest.mark.django_db
def test_issuing_twice_for_one_order_returns_the_same_invoice_and_uses_no_number():
    order, payment, invoice = paid_order()

    again = invoice_issue(order=order, payment=payment)

    assert again.pk == invoice.pk
    assert again.number == "2026-000001"
    assert InvoiceSequence.objects.get(year=2026).last_number == 1


@pytest.mark.django_db
def test_a_rolled_back_issue_leaves_no_gap():
    plan = make_plan()
    paid_order(plan)
    doomed = make_order(plan)
    doomed_payment = pay_order(doomed)

    issued_inside: list[str] = []

    def issue_then_fail() -> None:
        with transaction.atomic():
            issued_inside.append(invoice_issue(order=doomed, payment=doomed_payment).number)
            raise RuntimeError("something after the invoice failed")

    with pytest.raises(RuntimeError):
        issue_then_fail()

    assert issued_inside == ["2026-000002"]

    assert not Invoice.objects.filter(order=doomed).exists()
    assert InvoiceSequence.objects.get(year=2026).last_number == 1
    assert paid_order(plan)[2].number == "2026-000002"
    assert invoice_issue(order=doomed, payment=doomed_payment).number == "2026-000003"


@pytest.mark.django_db
def test_a_new_year_restarts_at_one():
    plan = make_plan()
    december = [paid_order(plan, paid_at=datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC))[2] for _ in range(2)]
    january = [paid_order(plan, paid_at=datetime(2027, 1, 1, 0, 0, tzinfo=UTC))[2] for _ in range(2)]

    assert [invoice.number for invoice in december] == ["2026-000001", "2026-000002"]
    assert [invoice.number for invoice in january] == ["2027-000001", "2027-000002"]
    assert [(invoice.year, invoice.sequence) for invoice in january] == [(2027, 1), (2027, 2)]
    assert dict(InvoiceSequence.objects.values_list("year", "last_number")) == {2026: 2, 2027: 2}


@pytest.mark.skipif(
    connection.vendor == "sqlite",
    reason="SQLite serialises all writers on one database lock, so concurrent issuers cannot race there: "
    "needs PostgreSQL (set DATABASE_URL=postgres://...)",
)
@pytest.mark.django_db(transaction=True)
def test_concurrent_issuing_on_postgresql_gives_distinct_consecutive_numbers():
    plan = make_plan()
    orders = [make_order(plan) for _ in range(8)]
    payments = [pay_order(order) for order in orders]
    barrier = threading.Barrier(len(orders))
    numbers: list[str] = []
    errors: list[BaseException] = []

    def issue(order: Order, payment: Payment) -> None:
        try:
            barrier.wait(timeout=10)
            numbers.append(invoice_issue(order=order, payment=payment).number)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=issue, args=pair) for pair in zip(orders, payments, strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert sorted(numbers) == [f"2026-{n:06d}" for n in range(1, 9)]
    assert InvoiceSequence.objects.get(year=2026).last_number == 8


# --- Who may read an invoice --------------------------------------------------------------------------------------
@pytest.mark.django_db
def test_the_buyer_the_creator_of_the_listing_and_staff_may_read_an_invoice_and_no_one_else():
    order, _, invoice = paid_order()
    creator = order.model.creator

    for viewer in (order.buyer, creator, make_user("moderator")):
        assert invoice_get_for_viewer(viewer=viewer, number=invoice.number).pk == invoice.pk
    for stranger in (make_user("buyer"), make_user("creator")):
        with pytest.raises(NotFound):
            invoice_get_for_viewer(viewer=stranger, number=invoice.number)
    with pytest.raises(NotFound):
        invoice_get_for_viewer(viewer=order.buyer, number="2026-999999")


@pytest.mark.django_db
def test_a_buyer_lists_only_their_own_invoices_newest_first():
    buyer = make_user("buyer")
    plan = make_plan()
    first = paid_order(plan, buyer, paid_at=datetime(2026, 1, 2, tzinfo=UTC))[2]
    second = paid_order(plan, buyer, paid_at=datetime(2026, 2, 3, tzinfo=UTC))[2]
    paid_order(plan)  # someone else's

    assert list(invoice_list_for_buyer(buyer=buyer)) == [second, first]


# --- The page -----------------------------------------------------------------------------------------------------
@pytest.mark.django_db
def test_the_invoice_page_states_parties_amounts_split_and_signature():
    creator = make_user("creator", display_name="Ada Creator")
    buyer = make_user("buyer", display_name="Zoë 李", email="zoe@example.com")
    plan = make_plan(published_model(creator, name="Wine Quality"), name="Lifetime")
    order, payment, invoice = paid_order(plan, buyer, signature="4vJ9JU1bJJE96FWSJKvHsmmFADCg4gpZQff4P3bkLKi")

    response = logged_in(buyer).get(reverse("billing_invoice_detail", args=[invoice.number]))

    assert response.status_code == 200
    page = response.content.decode()
    for text in (
        "2026-000001",
        "Zoë 李",
        "zoe@example.com",
        "Ada Creator",
        "ModelMarket",
        "Wine Quality — Lifetime",
        "10.00 USDC",
        "1.50 USDC",
        "8.50 USDC",
        "4vJ9JU1bJJE96FWSJKvHsmmFADCg4gpZQff4P3bkLKi",
        order.public_id,
        payment.public_id,
        reverse("billing_invoice_pdf", args=[invoice.number]),
        "css/billing-invoice.css",
    ):
        assert text in page, text
    assert 'class="invoice-signature"' in page
    assert "style=" not in page


@pytest.mark.django_db
def test_the_creator_sees_the_invoice_of_their_sale_and_a_stranger_gets_404():
    order, _, invoice = paid_order()
    url = reverse("billing_invoice_detail", args=[invoice.number])

    assert logged_in(order.model.creator).get(url).status_code == 200
    assert logged_in(make_user("buyer")).get(url).status_code == 404
    assert (
        logged_in(make_user("buyer")).get(reverse("billing_invoice_pdf", args=[invoice.number])).status_code
        == 404
    )
    assert Client().get(url).status_code == 302  # to the login page


@pytest.mark.django_db
def test_the_invoice_list_page_shows_the_buyers_invoices():
    buyer = make_user("buyer")
    plan = make_plan()
    mine = paid_order(plan, buyer)[2]
    theirs = paid_order(plan)[2]

    response = logged_in(buyer).get(reverse("billing_invoices"))

    assert response.status_code == 200
    assert mine.number in response.content.decode()
    assert theirs.number not in response.content.decode()
    assert reverse("billing_invoice_pdf", args=[mine.number]) in response.content.decode()


@pytest.mark.django_db
def test_a_top_up_invoice_is_sold_by_the_platform():
    buyer = make_user("buyer")
    _, _, invoice = paid_order(buyer=buyer, kind=OrderKind.TOP_UP, currency="USDC", amount_minor=25_000_000)

    facts = invoice_facts(invoice=invoice)
    page = logged_in(buyer).get(reverse("billing_invoice_detail", args=[invoice.number])).content.decode()

    assert facts.is_top_up
    assert facts.seller_name == "ModelMarket"
    assert facts.amount_text == "25.00 USDC"
    assert facts.platform_fee_text == "25.00 USDC"
    assert facts.creator_amount_text == "0.00 USDC"
    assert "Prepaid credit" in page


# --- The PDF ------------------------------------------------------------------------------------------------------
@pytest.mark.django_db
def test_the_pdf_download_is_a_pdf_attachment_with_the_invoice_facts():
    buyer = make_user("buyer", display_name="Grace Buyer")
    order, _, invoice = paid_order(buyer=buyer, signature="3xSig" + "z" * 83)

    response = logged_in(buyer).get(reverse("billing_invoice_pdf", args=[invoice.number]))

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == 'attachment; filename="invoice-2026-000001.pdf"'
    assert response.content.startswith(b"%PDF-")
    text = pdf_content(response.content)
    for fact in (
        b"2026-000001",
        b"Grace Buyer",
        b"10.00 USDC",
        b"1.50 USDC",
        b"8.50 USDC",
        order.public_id.encode(),
    ):
        assert fact in text, fact
    assert b"3xSig" in text  # the signature wraps over lines in the monospace cell


@pytest.mark.django_db
def test_the_pdf_of_a_buyer_named_in_characters_helvetica_lacks_does_not_crash():
    buyer = make_user("buyer", display_name="Zoë 李", email="zoe@example.com")
    _, _, invoice = paid_order(buyer=buyer)

    data = invoice_pdf_render(invoice_facts(invoice=invoice), compress=False)

    assert data.startswith(b"%PDF-")
    assert b"2026-000001" in data
    assert "Zoë ?".encode("latin-1") in data
    assert b"Wine Quality - Lifetime" in data  # the em dash, drawn as a hyphen


def test_pdf_text_keeps_latin_1_and_replaces_the_rest():
    assert pdf_text("Zoë 李") == "Zoë ?"
    assert pdf_text("“Wine” — Lifetime…") == '"Wine" - Lifetime...'
    assert pdf_text("tab\there\nnew line") == "tab here new line"
    assert pdf_text("🙂 café") == "? café"


# --- The API ------------------------------------------------------------------------------------------------------
@pytest.mark.django_db
def test_api_lists_own_invoices_with_cursor_pagination(api_key_for):
    buyer = make_user("buyer")
    plan = make_plan()
    numbers = [
        paid_order(plan, buyer, paid_at=datetime(2026, 1, day, tzinfo=UTC))[2].number for day in (1, 2, 3)
    ]
    paid_order(plan)  # someone else's
    client = ApiClient(api_key_for(buyer))

    first = client.get("/api/v1/invoices?limit=2")
    second = client.get(f"/api/v1/invoices?limit=2&cursor={first.json()['next_cursor']}")

    assert first.status_code == 200
    assert [item["number"] for item in first.json()["items"]] == [numbers[2], numbers[1]]
    assert 'rel="next"' in first["Link"]
    assert [item["number"] for item in second.json()["items"]] == [numbers[0]]
    assert second.json()["next_cursor"] is None


@pytest.mark.django_db
def test_api_reads_one_invoice_with_its_facts(api_key_for):
    buyer = make_user("buyer", display_name="Grace Buyer", email="grace@example.com")
    order, payment, invoice = paid_order(buyer=buyer, signature="sigABC")

    response = ApiClient(api_key_for(buyer)).get(f"/api/v1/invoices/{invoice.number}")

    assert response.status_code == 200
    body = response.json()
    assert body["number"] == "2026-000001"
    assert body["order_id"] == order.public_id
    assert body["payment_id"] == payment.public_id
    assert body["buyer_name"] == "Grace Buyer"
    assert body["buyer_email"] == "grace@example.com"
    assert body["seller_name"] == order.model.creator.public_name
    assert body["platform"] == "ModelMarket"
    assert (body["currency"], body["amount_minor"], body["amount"]) == ("USDC", 10_000_000, "10.00 USDC")
    assert (body["platform_fee_minor"], body["creator_amount_minor"]) == (1_500_000, 8_500_000)
    assert body["transaction_signature"] == "sigABC"
    assert body["refunds"] == []
    assert body["pdf_url"].endswith(f"/account/invoices/{invoice.number}.pdf")


@pytest.mark.django_db
def test_api_pdf_and_strangers_get_404(api_key_for):
    order, _, invoice = paid_order()
    owner = ApiClient(api_key_for(order.buyer))
    stranger = ApiClient(api_key_for(make_user("buyer")))

    pdf = owner.get(f"/api/v1/invoices/{invoice.number}/pdf")

    assert pdf.status_code == 200
    assert pdf["Content-Type"] == "application/pdf"
    assert pdf["Content-Disposition"] == f'attachment; filename="invoice-{invoice.number}.pdf"'
    assert b"2026-000001" in pdf_content(pdf.content)
    assert stranger.get(f"/api/v1/invoices/{invoice.number}").json()["error"]["code"] == "invoice_not_found"
    assert stranger.get(f"/api/v1/invoices/{invoice.number}/pdf").status_code == 404
    assert ApiClient().get("/api/v1/invoices").status_code == 401
