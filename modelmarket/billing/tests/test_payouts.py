"""Payouts: a creator's request (amount within pending earnings, an address of the currency's chain), staff
recording the on-chain transfer or cancelling, the staff page, and the API."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from modelmarket.accounts.tests.factories import make_user
from modelmarket.billing.models import (
    AccountKind,
    LedgerAccount,
    LedgerEntry,
    LedgerTransaction,
    Payout,
    PayoutStatus,
    TransactionKind,
)
from modelmarket.billing.selectors.earnings import creator_earnings_summary
from modelmarket.billing.services.ledger import InsufficientFunds
from modelmarket.billing.services.payouts import payout_cancel, payout_record_paid, payout_request
from modelmarket.billing.tests.factories import make_plan, published_model, sell
from modelmarket.billing.tests.test_earnings_support import (
    EVM_ADDRESS,
    SOLANA_ADDRESS,
    SOLANA_SIGNATURE,
    solana_signature,
)
from modelmarket.core.exceptions import BadRequest, Conflict, NotFound, PermissionDenied, ValidationFailed
from modelmarket.notifications.models import Notification

pytestmark = pytest.mark.django_db

ETH_TX_HASH = "0x" + "9f" * 32
BTC_TXID = "a1" * 32


@pytest.fixture
def earning_creator(creator, buyer):
    """A creator with 8.5 USDC, 2.55 ETH and 0.085 BTC of pending earnings."""
    model = published_model(owner=creator)
    sell(make_plan(model), buyer)
    sell(make_plan(model, currency="ETH", price_minor=3 * 10**18, name="ETH"), buyer)
    sell(make_plan(model, currency="BTC", price_minor=10_000_000, name="BTC"), buyer)
    return creator


@pytest.fixture
def staff():
    return make_user("moderator")


def _pending(creator, currency="USDC"):
    return creator_earnings_summary(creator=creator).currency(currency).pending_minor


def _requested(creator, **overrides):
    arguments = {"currency": "USDC", "amount_minor": 1_000_000, "wallet_address": SOLANA_ADDRESS, **overrides}
    return payout_request(creator=creator, **arguments)


def _nothing_written(transactions_before):
    assert not Payout.objects.exists()
    assert LedgerTransaction.objects.count() == transactions_before


# --- Requesting ---------------------------------------------------------------------------------------------------
def test_payout_request_moves_earnings_to_requested(earning_creator):
    payout = _requested(earning_creator, amount_minor=8_000_000)

    assert (payout.status, payout.amount_minor, payout.currency_id, payout.wallet_address) == (
        PayoutStatus.REQUESTED,
        8_000_000,
        "USDC",
        SOLANA_ADDRESS,
    )
    summary = creator_earnings_summary(creator=earning_creator).currency("USDC")
    assert (summary.pending_minor, summary.requested_minor, summary.paid_out_minor) == (500_000, 8_000_000, 0)
    booked = LedgerTransaction.objects.get(reference=f"payout:{payout.public_id}:requested")
    assert booked.kind == TransactionKind.PAYOUT_REQUEST
    assert sorted(booked.entries.values_list("account__kind", "amount_minor")) == [
        (AccountKind.CREATOR_EARNINGS, -8_000_000),
        (AccountKind.CREATOR_PAYOUT_PENDING, 8_000_000),
    ]


def test_payout_request_may_take_everything_pending(earning_creator):
    _requested(earning_creator, amount_minor=8_500_000)

    assert _pending(earning_creator) == 0


def test_payout_request_beyond_pending_earnings_is_402_and_writes_nothing(earning_creator):
    transactions = LedgerTransaction.objects.count()

    with pytest.raises(InsufficientFunds) as raised:
        _requested(earning_creator, amount_minor=8_500_001)

    assert (raised.value.status_code, raised.value.code) == (402, "insufficient_credit")
    _nothing_written(transactions)
    assert _pending(earning_creator) == 8_500_000


def test_payout_request_without_any_earnings_is_402(creator):
    with pytest.raises(InsufficientFunds):
        _requested(creator, amount_minor=1)
    assert not Payout.objects.exists()


@pytest.mark.parametrize(
    ("amount_minor", "code"),
    [
        (0, "amount_too_small"),
        (-5, "amount_too_small"),
        (1.5, "invalid_amount"),
        ("1", "invalid_amount"),
        (True, "invalid_amount"),
        (10**38, "amount_too_large"),
    ],
)
def test_payout_request_refuses_bad_amounts(earning_creator, amount_minor, code):
    transactions = LedgerTransaction.objects.count()

    with pytest.raises(ValidationFailed) as raised:
        _requested(earning_creator, amount_minor=amount_minor)

    assert raised.value.code == code
    _nothing_written(transactions)


def test_payout_request_of_one_minor_unit(earning_creator):
    assert _requested(earning_creator, amount_minor=1).amount_minor == 1


@pytest.mark.parametrize(
    ("currency", "address"),
    [
        ("USDC", SOLANA_ADDRESS),
        ("USDC", "DRpbCBMxVnDK7maPM5tGv6MvB3v1sRMC86PZ8okm21hy"),
        ("USDC", "1" * 32),
        ("ETH", EVM_ADDRESS),
        ("ETH", "0x" + "a" * 40),
        ("BTC", "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"),
        ("BTC", "BC1QAR0SRRR7XFKVY5L643LYDNW9RE59GTZZWF5MDQ"),
        ("BTC", "bc1p5d7rjq7g6rdk2yhzks9smlaqtedr4dekq08ge8ztwac72sfr9rusxg3297"),
        ("BTC", "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2"),
        ("BTC", "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy"),
    ],
)
def test_payout_request_accepts_addresses_of_the_currencys_chain(earning_creator, currency, address):
    payout = _requested(earning_creator, currency=currency, amount_minor=1, wallet_address=address)

    assert payout.wallet_address == (address.lower() if address.startswith("BC1") else address)


@pytest.mark.parametrize(
    ("currency", "address"),
    [
        ("USDC", EVM_ADDRESS),  # an Ethereum address for a Solana currency
        ("USDC", "9WzDXwBbmkg8ZTbNMqUxvQRAyrZzDsGYdLVL9zYtAWW0"),  # 0 is not base58
        ("USDC", "9WzDXwBbmkg8ZTbNMqUxvQRAyrZzDsG"),  # 31 characters
        ("USDC", "9WzDXwBbmkg8ZTbNMqUxvQRAyrZzDsGYdLVL9zYtAWWMx"),  # 45 characters
        ("SOL", ""),
        ("ETH", SOLANA_ADDRESS),
        ("ETH", "0x" + "a" * 39),
        ("ETH", "0x" + "g" * 40),
        ("ETH", "52908400098527886E0F7030069857D2E4169EE7"),  # no 0x
        ("ETH", EVM_ADDRESS + "\n" + "x"),
        ("BTC", EVM_ADDRESS),
        ("BTC", "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdQ"),  # mixed case
        ("BTC", "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdb"),  # b is not bech32
        ("BTC", "2BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2"),
        ("BTC", "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2; drop table"),
        ("USDC", None),
    ],
)
def test_payout_request_refuses_addresses_of_another_chain_or_shape(earning_creator, currency, address):
    transactions = LedgerTransaction.objects.count()

    with pytest.raises(BadRequest) as raised:
        _requested(earning_creator, currency=currency, amount_minor=1, wallet_address=address)

    assert (raised.value.status_code, raised.value.code) == (400, "invalid_wallet_address")
    _nothing_written(transactions)


def test_payout_request_refuses_currencies_not_paid_on_chain(earning_creator):
    with pytest.raises(BadRequest) as raised:
        _requested(earning_creator, currency="USD", amount_minor=1)
    assert raised.value.code == "payout_currency_unsupported"
    assert not Payout.objects.exists()


@pytest.mark.parametrize("currency", ["XYZ", "", "A" * 11, None])
def test_payout_request_refuses_unknown_currencies(earning_creator, currency):
    with pytest.raises(ValidationFailed) as raised:
        _requested(earning_creator, currency=currency)
    assert raised.value.code == "unknown_currency"
    assert not Payout.objects.exists()


def test_payout_request_accepts_a_lowercase_currency_code(earning_creator):
    assert _requested(earning_creator, currency="usdc").currency_id == "USDC"


# --- Recording ----------------------------------------------------------------------------------------------------
def test_staff_record_a_payout_as_paid(earning_creator, staff):
    payout = _requested(earning_creator, amount_minor=3_000_000)

    paid = payout_record_paid(actor=staff, payout=payout, transaction_signature=f" {SOLANA_SIGNATURE} ")

    assert (paid.status, paid.transaction_signature, paid.recorded_by) == (
        PayoutStatus.PAID,
        SOLANA_SIGNATURE,
        staff,
    )
    assert paid.paid_at is not None
    summary = creator_earnings_summary(creator=earning_creator).currency("USDC")
    assert (summary.pending_minor, summary.requested_minor, summary.paid_out_minor) == (
        5_500_000,
        0,
        3_000_000,
    )
    payouts_account = LedgerAccount.objects.get(kind=AccountKind.PAYOUTS, currency="USDC")
    assert payouts_account.balance_minor == 3_000_000
    notification = Notification.objects.get(user=earning_creator)
    assert (notification.kind, notification.dedupe_key, notification.url) == (
        "payout_recorded",
        f"payout:{payout.public_id}",
        "/creator/earnings/",
    )
    assert notification.title == "Payout of 3.00 USDC sent"
    assert SOLANA_SIGNATURE in notification.body


@pytest.mark.parametrize(
    ("currency", "address", "signature"),
    [("ETH", EVM_ADDRESS, ETH_TX_HASH), ("BTC", "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq", BTC_TXID)],
)
def test_staff_record_payouts_on_other_chains(earning_creator, staff, currency, address, signature):
    payout = _requested(earning_creator, currency=currency, amount_minor=10, wallet_address=address)

    assert payout_record_paid(actor=staff, payout=payout, transaction_signature=signature).status == "paid"


def test_recording_a_payout_twice_is_a_conflict_and_changes_nothing(earning_creator, staff):
    payout = _requested(earning_creator)
    payout_record_paid(actor=staff, payout=payout, transaction_signature=SOLANA_SIGNATURE)
    entries = LedgerEntry.objects.count()

    with pytest.raises(Conflict) as raised:
        payout_record_paid(actor=staff, payout=payout, transaction_signature=solana_signature(2))

    assert raised.value.code == "payout_already_paid"
    payout.refresh_from_db()
    assert payout.transaction_signature == SOLANA_SIGNATURE
    assert LedgerEntry.objects.count() == entries
    assert Notification.objects.filter(user=earning_creator).count() == 1


def test_a_signature_is_recorded_once(earning_creator, staff):
    first, second = _requested(earning_creator), _requested(earning_creator)
    payout_record_paid(actor=staff, payout=first, transaction_signature=SOLANA_SIGNATURE)
    entries = LedgerEntry.objects.count()

    with pytest.raises(Conflict) as raised:
        payout_record_paid(actor=staff, payout=second, transaction_signature=SOLANA_SIGNATURE)

    assert raised.value.code == "signature_already_recorded"
    second.refresh_from_db()
    assert (second.status, second.transaction_signature) == (PayoutStatus.REQUESTED, None)
    assert LedgerEntry.objects.count() == entries


@pytest.mark.parametrize(
    "signature",
    ["", "   ", "not a signature", ETH_TX_HASH, "0" * 88, SOLANA_SIGNATURE[:60], SOLANA_SIGNATURE + "55"],
)
def test_recording_refuses_a_malformed_signature(earning_creator, staff, signature):
    payout = _requested(earning_creator)
    entries = LedgerEntry.objects.count()

    with pytest.raises(BadRequest) as raised:
        payout_record_paid(actor=staff, payout=payout, transaction_signature=signature)

    assert raised.value.code == "invalid_transaction_signature"
    payout.refresh_from_db()
    assert payout.status == PayoutStatus.REQUESTED
    assert LedgerEntry.objects.count() == entries


def test_only_staff_record_payouts(earning_creator):
    payout = _requested(earning_creator)

    with pytest.raises(PermissionDenied):
        payout_record_paid(actor=earning_creator, payout=payout, transaction_signature=SOLANA_SIGNATURE)
    with pytest.raises(NotFound):
        payout_record_paid(actor=make_user("creator"), payout=payout, transaction_signature=SOLANA_SIGNATURE)

    payout.refresh_from_db()
    assert payout.status == PayoutStatus.REQUESTED


# --- Cancelling ---------------------------------------------------------------------------------------------------
def test_creator_cancels_their_request(earning_creator):
    payout = _requested(earning_creator, amount_minor=2_000_000)

    cancelled = payout_cancel(actor=earning_creator, payout=payout)

    assert cancelled.status == PayoutStatus.CANCELLED
    assert _pending(earning_creator) == 8_500_000
    assert LedgerTransaction.objects.filter(reference=f"payout:{payout.public_id}:cancelled").exists()
    assert not Notification.objects.filter(user=earning_creator).exists()


def test_staff_cancel_a_request_and_the_creator_is_told(earning_creator, staff):
    payout = _requested(earning_creator)

    payout_cancel(actor=staff, payout=payout, note="That address is an exchange deposit address.")

    payout.refresh_from_db()
    assert (payout.status, payout.note, payout.recorded_by) == (
        PayoutStatus.CANCELLED,
        "That address is an exchange deposit address.",
        staff,
    )
    notification = Notification.objects.get(user=earning_creator)
    assert notification.dedupe_key == f"payout_cancelled:{payout.public_id}"
    assert "exchange deposit address" in notification.body


def test_a_paid_payout_cannot_be_cancelled(earning_creator, staff):
    payout = _requested(earning_creator)
    payout_record_paid(actor=staff, payout=payout, transaction_signature=SOLANA_SIGNATURE)
    entries = LedgerEntry.objects.count()

    for actor in (earning_creator, staff):
        with pytest.raises(Conflict) as raised:
            payout_cancel(actor=actor, payout=payout)
        assert raised.value.code == "payout_already_paid"

    assert LedgerEntry.objects.count() == entries
    assert _pending(earning_creator) == 7_500_000


def test_a_cancelled_payout_cannot_be_paid_or_cancelled_again(earning_creator, staff):
    payout = _requested(earning_creator)
    payout_cancel(actor=earning_creator, payout=payout)

    with pytest.raises(Conflict):
        payout_record_paid(actor=staff, payout=payout, transaction_signature=SOLANA_SIGNATURE)
    with pytest.raises(Conflict):
        payout_cancel(actor=earning_creator, payout=payout)
    assert _pending(earning_creator) == 8_500_000


def test_another_creator_cannot_cancel(earning_creator):
    payout = _requested(earning_creator)

    with pytest.raises(NotFound):
        payout_cancel(actor=make_user("creator"), payout=payout)


def test_cancel_note_is_bounded(earning_creator, staff):
    payout = _requested(earning_creator)

    with pytest.raises(ValidationFailed):
        payout_cancel(actor=staff, payout=payout, note="x" * 301)
    payout.refresh_from_db()
    assert payout.status == PayoutStatus.REQUESTED


# --- Staff page ---------------------------------------------------------------------------------------------------
def test_staff_page_lists_requested_payouts(client, earning_creator, staff):
    waiting = _requested(earning_creator, amount_minor=1_250_000)
    done = _requested(earning_creator)
    payout_record_paid(actor=staff, payout=done, transaction_signature=SOLANA_SIGNATURE)
    client.force_login(staff)

    response = client.get(reverse("billing_staff_payouts"))

    assert response.status_code == 200
    html = response.content.decode()
    assert waiting.public_id in html
    assert "1.25 USDC" in html
    assert done.public_id not in html
    assert reverse("billing_staff_payout_paid", args=[waiting.public_id]) in html
    assert reverse("billing_staff_payout_cancel", args=[waiting.public_id]) in html
    assert html.count('name="csrfmiddlewaretoken"') >= 3  # both forms, and log out
    paid_list = client.get(reverse("billing_staff_payouts") + "?status=paid").content.decode()
    assert done.public_id in paid_list
    assert SOLANA_SIGNATURE in paid_list


def test_staff_page_records_a_payout(client, earning_creator, staff):
    payout = _requested(earning_creator)
    client.force_login(staff)

    response = client.post(
        reverse("billing_staff_payout_paid", args=[payout.public_id]),
        {"transaction_signature": SOLANA_SIGNATURE},
    )

    assert response.status_code == 302
    payout.refresh_from_db()
    assert (payout.status, payout.transaction_signature) == (PayoutStatus.PAID, SOLANA_SIGNATURE)
    assert "recorded as sent" in client.get(response["Location"]).content.decode()


def test_staff_page_shows_why_recording_failed(client, earning_creator, staff):
    payout = _requested(earning_creator)
    client.force_login(staff)

    response = client.post(
        reverse("billing_staff_payout_paid", args=[payout.public_id]),
        {"transaction_signature": "nope"},
        follow=True,
    )

    assert "must be a Solana transaction signature" in response.content.decode()
    payout.refresh_from_db()
    assert payout.status == PayoutStatus.REQUESTED


def test_staff_page_cancels_a_payout(client, earning_creator, staff):
    payout = _requested(earning_creator)
    client.force_login(staff)

    response = client.post(
        reverse("billing_staff_payout_cancel", args=[payout.public_id]),
        {"note": "Wrong chain", "status": "all"},
    )

    assert response.status_code == 302
    assert response["Location"] == reverse("billing_staff_payouts") + "?status=all"
    payout.refresh_from_db()
    assert (payout.status, payout.note) == (PayoutStatus.CANCELLED, "Wrong chain")


def test_staff_pages_are_for_staff_only(client, earning_creator):
    payout = _requested(earning_creator)
    client.force_login(earning_creator)

    assert client.get(reverse("billing_staff_payouts")).status_code == 404
    response = client.post(
        reverse("billing_staff_payout_paid", args=[payout.public_id]),
        {"transaction_signature": SOLANA_SIGNATURE},
    )
    assert response.status_code == 404
    assert client.post(reverse("billing_staff_payout_cancel", args=[payout.public_id])).status_code == 404
    payout.refresh_from_db()
    assert payout.status == PayoutStatus.REQUESTED


def test_staff_forms_need_the_csrf_token(earning_creator, staff):
    payout = _requested(earning_creator)
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff)

    response = client.post(
        reverse("billing_staff_payout_paid", args=[payout.public_id]),
        {"transaction_signature": SOLANA_SIGNATURE},
    )

    assert response.status_code == 403
    payout.refresh_from_db()
    assert payout.status == PayoutStatus.REQUESTED


def test_staff_page_unknown_payout_is_404(client, staff):
    client.force_login(staff)

    response = client.post(
        reverse("billing_staff_payout_paid", args=["po_missing"]), {"transaction_signature": "x"}
    )

    assert response.status_code == 404


# --- API ----------------------------------------------------------------------------------------------------------
def test_api_payout_request(api_client_for, earning_creator):
    client = api_client_for(earning_creator)

    response = client.post(
        "/api/v1/creator/payouts",
        {"currency": "USDC", "amount_minor": 2_500_000, "wallet_address": SOLANA_ADDRESS},
        content_type="application/json",
    )

    assert response.status_code == 201
    body = response.json()
    payout = Payout.objects.get()
    assert body == {
        "id": payout.public_id,
        "currency": "USDC",
        "amount_minor": 2_500_000,
        "amount": "2.50",
        "wallet_address": SOLANA_ADDRESS,
        "status": "requested",
        "transaction_signature": None,
        "note": "",
        "created_at": body["created_at"],
        "paid_at": None,
    }


def test_api_payout_request_is_idempotent_with_a_key(api_client_for, earning_creator):
    client = api_client_for(earning_creator)
    payload = {"currency": "USDC", "amount_minor": 1_000_000, "wallet_address": SOLANA_ADDRESS}

    first = client.post(
        "/api/v1/creator/payouts", payload, content_type="application/json", HTTP_IDEMPOTENCY_KEY="k1"
    )
    again = client.post(
        "/api/v1/creator/payouts", payload, content_type="application/json", HTTP_IDEMPOTENCY_KEY="k1"
    )

    assert (first.status_code, again.status_code) == (201, 201)
    assert first.json() == again.json()
    assert again["Idempotent-Replayed"] == "true"
    assert Payout.objects.count() == 1


@pytest.mark.parametrize(
    ("payload", "status", "code"),
    [
        ({"amount_minor": 9_000_000}, 402, "insufficient_credit"),
        ({"wallet_address": EVM_ADDRESS}, 400, "invalid_wallet_address"),
        ({"amount_minor": 0}, 422, "amount_too_small"),
        ({"amount_minor": 1.5}, 422, "validation_error"),
        ({"amount_minor": "100"}, 422, "validation_error"),
        ({"currency": "XYZ"}, 422, "unknown_currency"),
        ({"currency": "USD"}, 400, "payout_currency_unsupported"),
        ({"surprise": True}, 422, "validation_error"),
    ],
)
def test_api_payout_request_refusals(api_client_for, earning_creator, payload, status, code):
    transactions = LedgerTransaction.objects.count()
    body = {"currency": "USDC", "amount_minor": 1_000_000, "wallet_address": SOLANA_ADDRESS, **payload}

    response = api_client_for(earning_creator).post(
        "/api/v1/creator/payouts", body, content_type="application/json"
    )

    assert response.status_code == status
    assert response.json()["error"]["code"] == code
    _nothing_written(transactions)


def test_api_payout_request_with_malformed_json_is_400(api_client_for, earning_creator):
    response = api_client_for(earning_creator).post(
        "/api/v1/creator/payouts", "{not json", content_type="application/json"
    )

    assert response.status_code == 400
    assert not Payout.objects.exists()


def test_api_payout_request_needs_the_manage_scope(api_client_for, earning_creator):
    response = api_client_for(earning_creator, scopes=("read",)).post(
        "/api/v1/creator/payouts",
        {"currency": "USDC", "amount_minor": 1, "wallet_address": SOLANA_ADDRESS},
        content_type="application/json",
    )

    assert response.status_code in (401, 403)
    assert not Payout.objects.exists()


def test_api_lists_the_creators_own_payouts(api_client_for, earning_creator, staff):
    older = _requested(earning_creator, amount_minor=1_000_000)
    newer = _requested(earning_creator, amount_minor=2_000_000)
    payout_record_paid(actor=staff, payout=older, transaction_signature=SOLANA_SIGNATURE)
    other = make_user("creator")

    mine = api_client_for(earning_creator).get("/api/v1/creator/payouts").json()
    paid_only = api_client_for(earning_creator).get("/api/v1/creator/payouts?status=paid").json()
    theirs = api_client_for(other).get("/api/v1/creator/payouts").json()

    assert [item["id"] for item in mine["items"]] == [newer.public_id, older.public_id]
    assert mine["items"][1]["transaction_signature"] == SOLANA_SIGNATURE
    assert [item["id"] for item in paid_only["items"]] == [older.public_id]
    assert theirs == {"items": [], "next_cursor": None}


def test_api_payouts_paginate_by_cursor(api_client_for, earning_creator):
    for _ in range(3):
        _requested(earning_creator, amount_minor=1)
    client = api_client_for(earning_creator)

    first = client.get("/api/v1/creator/payouts?limit=2")
    second = client.get(f"/api/v1/creator/payouts?limit=2&cursor={first.json()['next_cursor']}").json()

    assert len(first.json()["items"]) == 2
    assert 'rel="next"' in first["Link"]
    assert (len(second["items"]), second["next_cursor"]) == (1, None)


def test_api_creator_cancels_own_request(api_client_for, earning_creator):
    payout = _requested(earning_creator)

    response = api_client_for(earning_creator).post(
        f"/api/v1/creator/payouts/{payout.public_id}/cancel", {}, content_type="application/json"
    )
    foreign = api_client_for(make_user("creator")).post(
        f"/api/v1/creator/payouts/{payout.public_id}/cancel", {}, content_type="application/json"
    )

    assert (response.status_code, response.json()["status"]) == (200, "cancelled")
    assert foreign.status_code == 404


def test_api_staff_queue_record_and_cancel(api_client_for, earning_creator, staff):
    first, second = _requested(earning_creator), _requested(earning_creator, amount_minor=5)
    client = api_client_for(staff)

    queue = client.get("/api/v1/staff/payouts").json()
    paid = client.post(
        f"/api/v1/staff/payouts/{first.public_id}/paid",
        {"transaction_signature": SOLANA_SIGNATURE},
        content_type="application/json",
    )
    twice = client.post(
        f"/api/v1/staff/payouts/{first.public_id}/paid",
        {"transaction_signature": solana_signature(7)},
        content_type="application/json",
    )
    cancelled = client.post(
        f"/api/v1/staff/payouts/{second.public_id}/cancel",
        {"note": "duplicate"},
        content_type="application/json",
    )

    assert [(item["id"], item["creator_email"]) for item in queue["items"]] == [
        (first.public_id, earning_creator.email),
        (second.public_id, earning_creator.email),
    ]
    assert (paid.status_code, paid.json()["status"], paid.json()["transaction_signature"]) == (
        200,
        "paid",
        SOLANA_SIGNATURE,
    )
    assert (twice.status_code, twice.json()["error"]["code"]) == (409, "payout_already_paid")
    assert (cancelled.status_code, cancelled.json()["note"]) == (200, "duplicate")
    assert client.get("/api/v1/staff/payouts").json()["items"] == []


def test_api_staff_endpoints_are_hidden_from_creators(api_client_for, earning_creator):
    payout = _requested(earning_creator)
    client = api_client_for(earning_creator)

    assert client.get("/api/v1/staff/payouts").status_code == 404
    paid = client.post(
        f"/api/v1/staff/payouts/{payout.public_id}/paid",
        {"transaction_signature": SOLANA_SIGNATURE},
        content_type="application/json",
    )
    cancelled = client.post(
        f"/api/v1/staff/payouts/{payout.public_id}/cancel", {}, content_type="application/json"
    )
    assert (paid.status_code, paid.json()["error"]["code"]) == (403, "staff_only")
    assert cancelled.status_code == 404
    payout.refresh_from_db()
    assert payout.status == PayoutStatus.REQUESTED
