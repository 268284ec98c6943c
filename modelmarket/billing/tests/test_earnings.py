"""Creator earnings: the summary read from the ledger (per currency and per model), the /creator/earnings/ page
with its payout request form, and GET /api/v1/creator/earnings."""

from __future__ import annotations

import pytest
from django.urls import reverse

from conftest import ApiClient
from modelmarket.accounts.tests.factories import make_user
from modelmarket.billing.models import LedgerTransaction, Payout, PayoutStatus, PlanKind
from modelmarket.billing.selectors.earnings import creator_earnings_summary
from modelmarket.billing.services.payouts import payout_cancel, payout_record_paid, payout_request
from modelmarket.billing.tests.factories import charge_usage, make_plan, published_model, refund, sell, top_up
from modelmarket.billing.tests.test_earnings_support import EVM_ADDRESS, SOLANA_ADDRESS, SOLANA_SIGNATURE

pytestmark = pytest.mark.django_db


@pytest.fixture
def listing(creator):
    return published_model(owner=creator, name="Wine Quality")


@pytest.fixture
def second_listing(creator):
    return published_model(owner=creator, name="Iris Species")


def _summary_of_a_busy_creator(creator, listing, second_listing, buyer):
    """Two USDC sales and usage of one model, an ETH sale of another, a partial refund, payouts in each state."""
    plan = make_plan(listing)  # 10 USDC: 8.5 to the creator, 1.5 platform fee
    eth_plan = make_plan(second_listing, currency="ETH", price_minor=3 * 10**18)
    sell(plan, buyer)
    second = sell(
        plan, processor_fee_minor=200_000
    )  # the processor's fee is the platform's cost, not the creator's
    sell(eth_plan, buyer)
    top_up(buyer, currency="USDC", amount_minor=5_000_000)
    charge_usage(buyer, listing, currency="USDC", cost_minor=2_000_000)  # 1.7 creator, 0.3 platform
    refund(second, 4_000_000)  # takes back 3.4 from the creator, 0.6 from the platform
    staff = make_user("admin")
    paid = payout_request(
        creator=creator, currency="USDC", amount_minor=1_000_000, wallet_address=SOLANA_ADDRESS
    )
    payout_record_paid(actor=staff, payout=paid, transaction_signature=SOLANA_SIGNATURE)
    payout_request(creator=creator, currency="USDC", amount_minor=2_000_000, wallet_address=SOLANA_ADDRESS)
    cancelled = payout_request(
        creator=creator, currency="ETH", amount_minor=10**18, wallet_address=EVM_ADDRESS
    )
    payout_cancel(actor=creator, payout=cancelled)
    return creator_earnings_summary(creator=creator)


def test_earnings_summary_per_currency_from_the_ledger(creator, listing, second_listing, buyer):
    summary = _summary_of_a_busy_creator(creator, listing, second_listing, buyer)

    assert [item.currency for item in summary.currencies] == ["ETH", "USDC"]
    usdc = summary.currency("USDC")
    assert usdc is not None
    # earned 8.5 + 8.5 + 1.7 - 3.4 = 15.3; 1 paid out and 2 requested
    assert (usdc.pending_minor, usdc.requested_minor, usdc.paid_out_minor) == (
        12_300_000,
        2_000_000,
        1_000_000,
    )
    assert (usdc.sales_gross_minor, usdc.sales_fee_minor, usdc.sales_share_minor) == (
        20_000_000,
        3_000_000,
        17_000_000,
    )
    assert (usdc.usage_share_minor, usdc.refunded_share_minor, usdc.net_share_minor) == (
        1_700_000,
        3_400_000,
        15_300_000,
    )
    eth = summary.currency("ETH")
    assert eth is not None
    assert (eth.pending_minor, eth.requested_minor, eth.paid_out_minor) == (2_550_000_000_000_000_000, 0, 0)
    assert (eth.sales_gross_minor, eth.sales_fee_minor, eth.net_share_minor) == (
        3 * 10**18,
        450_000_000_000_000_000,
        2_550_000_000_000_000_000,
    )


def test_earnings_summary_per_model(creator, listing, second_listing, buyer):
    summary = _summary_of_a_busy_creator(creator, listing, second_listing, buyer)

    rows = {(item.model_slug, item.currency): item for item in summary.models}
    assert set(rows) == {(second_listing.slug, "ETH"), (listing.slug, "USDC")}
    wine = rows[(listing.slug, "USDC")]
    assert wine.model_name == "Wine Quality"
    assert (wine.sales_gross_minor, wine.sales_fee_minor, wine.sales_share_minor) == (
        20_000_000,
        3_000_000,
        17_000_000,
    )
    assert (wine.usage_gross_minor, wine.usage_fee_minor, wine.usage_share_minor) == (
        2_000_000,
        300_000,
        1_700_000,
    )
    assert (wine.refunded_share_minor, wine.net_share_minor) == (3_400_000, 15_300_000)
    iris = rows[(second_listing.slug, "ETH")]
    assert (iris.sales_gross_minor, iris.usage_gross_minor, iris.net_share_minor) == (
        3 * 10**18,
        0,
        2_550_000_000_000_000_000,
    )


def test_earnings_summary_leaves_out_other_creators_and_buyers_credit(creator, listing, buyer):
    other_plan = make_plan()  # another creator's model
    sell(other_plan, buyer)
    top_up(buyer, currency="USDC", amount_minor=9_000_000)
    charge_usage(buyer, other_plan.model, currency="USDC", cost_minor=1_000_000)

    summary = creator_earnings_summary(creator=creator)

    assert (summary.currencies, summary.models) == ([], [])


def test_earnings_summary_takes_three_queries_however_many_entries(
    creator, listing, second_listing, buyer, django_assert_num_queries
):
    plan = make_plan(listing)
    top_up(buyer, currency="USDC", amount_minor=50_000_000)
    for _ in range(5):
        sell(plan, buyer)
        charge_usage(buyer, listing, currency="USDC", cost_minor=1_000)
        charge_usage(buyer, second_listing, currency="USDC", cost_minor=3_000)

    with django_assert_num_queries(3):
        summary = creator_earnings_summary(creator=creator)

    assert len(summary.models) == 2
    assert summary.currency("USDC").net_share_minor == 5 * 8_500_000 + 5 * 850 + 5 * 2_550


# --- Page ---------------------------------------------------------------------------------------------------------
def test_earnings_page_shows_totals_models_and_payouts(client, creator, listing, second_listing, buyer):
    _summary_of_a_busy_creator(creator, listing, second_listing, buyer)
    client.force_login(creator)

    response = client.get(reverse("billing_earnings"))

    assert response.status_code == 200
    html = response.content.decode()
    assert "12.30 USDC" in html  # pending
    assert "2.55 ETH" in html
    assert "15.30 USDC" in html  # net earnings of the model
    assert "Wine Quality" in html
    assert "Iris Species" in html
    assert SOLANA_SIGNATURE in html
    assert 'name="csrfmiddlewaretoken"' in html
    assert "css/billing-earnings.css" in html
    assert "style=" not in html.split("<main", 1)[1]


def test_earnings_page_form_preselects_a_currency_with_pending_earnings(client, creator, listing, buyer):
    sell(make_plan(listing), buyer)
    client.force_login(creator)

    html = client.get(reverse("billing_earnings")).content.decode()

    assert '<option value="USDC" selected>USDC on Solana (8.50 USDC pending)</option>' in html
    assert '<option value="ETH">ETH on Ethereum</option>' in html
    assert 'value="USD"' not in html  # not paid out on chain


def test_earnings_page_is_for_creators_only(client, buyer):
    client.force_login(buyer)
    assert client.get(reverse("billing_earnings")).status_code == 404
    client.logout()
    response = client.get(reverse("billing_earnings"))
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_payout_request_form_books_the_request(client, creator, listing, buyer):
    sell(make_plan(listing), buyer)
    client.force_login(creator)

    response = client.post(
        reverse("billing_payout_request"),
        {"currency": "USDC", "amount": "2.5", "wallet_address": f"  {SOLANA_ADDRESS} "},
    )

    assert response.status_code == 302
    assert response["Location"] == reverse("billing_earnings")
    payout = Payout.objects.get()
    assert (
        payout.creator,
        payout.currency_id,
        payout.amount_minor,
        payout.wallet_address,
        payout.status,
    ) == (
        creator,
        "USDC",
        2_500_000,
        SOLANA_ADDRESS,
        PayoutStatus.REQUESTED,
    )
    assert creator_earnings_summary(creator=creator).currency("USDC").pending_minor == 6_000_000
    followed = client.get(response["Location"])
    assert "Payout of 2.50 USDC requested" in followed.content.decode()


@pytest.mark.parametrize(
    ("fields", "status", "message"),
    [
        ({"amount": "9"}, 402, "Not enough credit"),
        ({"amount": "0.0000001"}, 400, "more than 6 decimal places"),
        ({"amount": "-1"}, 400, "cannot be negative"),
        ({"amount": "abc"}, 400, "is not an amount"),
        ({"amount": "0"}, 400, "at least one minor unit"),
        ({"wallet_address": EVM_ADDRESS}, 400, "must be a Solana address"),
        ({"currency": "USD"}, 400, "Select a valid choice"),
    ],
)
def test_payout_request_form_refuses_and_writes_nothing(
    client, creator, listing, buyer, fields, status, message
):
    sell(make_plan(listing), buyer)  # 8.5 USDC pending
    client.force_login(creator)
    transactions = LedgerTransaction.objects.count()

    response = client.post(
        reverse("billing_payout_request"),
        {"currency": "USDC", "amount": "1", "wallet_address": SOLANA_ADDRESS, **fields},
    )

    assert response.status_code == status
    assert message in response.content.decode()
    assert not Payout.objects.exists()
    assert LedgerTransaction.objects.count() == transactions


def test_creator_cancels_a_request_from_the_page(client, creator, listing, buyer):
    sell(make_plan(listing), buyer)
    payout = payout_request(
        creator=creator, currency="USDC", amount_minor=1_000_000, wallet_address=SOLANA_ADDRESS
    )
    client.force_login(creator)

    response = client.post(reverse("billing_payout_cancel", args=[payout.public_id]))

    assert response.status_code == 302
    payout.refresh_from_db()
    assert payout.status == PayoutStatus.CANCELLED
    assert creator_earnings_summary(creator=creator).currency("USDC").pending_minor == 8_500_000


def test_creator_cannot_cancel_another_creators_request(client, listing, buyer):
    sell(make_plan(listing), buyer)
    payout = payout_request(
        creator=listing.creator, currency="USDC", amount_minor=1_000_000, wallet_address=SOLANA_ADDRESS
    )
    client.force_login(make_user("creator"))

    response = client.post(reverse("billing_payout_cancel", args=[payout.public_id]))

    assert response.status_code == 404
    payout.refresh_from_db()
    assert payout.status == PayoutStatus.REQUESTED


def test_earnings_forms_need_the_csrf_token(creator, listing, buyer):
    from django.test import Client

    sell(make_plan(listing), buyer)
    client = Client(enforce_csrf_checks=True)
    client.force_login(creator)

    response = client.post(
        reverse("billing_payout_request"),
        {"currency": "USDC", "amount": "1", "wallet_address": SOLANA_ADDRESS},
    )

    assert response.status_code == 403
    assert not Payout.objects.exists()


# --- API ----------------------------------------------------------------------------------------------------------
def test_api_earnings(api_client_for, creator, listing, second_listing, buyer):
    _summary_of_a_busy_creator(creator, listing, second_listing, buyer)

    response = api_client_for(creator).get("/api/v1/creator/earnings")

    assert response.status_code == 200
    body = response.json()
    assert body["platform_fee_bps"] == 1500
    usdc = next(item for item in body["currencies"] if item["currency"] == "USDC")
    assert (usdc["pending_minor"], usdc["pending"], usdc["requested"], usdc["paid_out"]) == (
        12_300_000,
        "12.30",
        "2.00",
        "1.00",
    )
    eth = next(item for item in body["currencies"] if item["currency"] == "ETH")
    assert eth["sales_gross_minor"] == 3 * 10**18
    wine = next(item for item in body["models"] if item["model"] == listing.slug)
    assert (wine["name"], wine["sales_gross_minor"], wine["usage_share_minor"], wine["net_share_minor"]) == (
        "Wine Quality",
        20_000_000,
        1_700_000,
        15_300_000,
    )


def test_api_earnings_is_for_creators(api_client_for, buyer):
    response = api_client_for(buyer).get("/api/v1/creator/earnings")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_a_creator"


def test_api_earnings_needs_authentication():
    response = ApiClient().get("/api/v1/creator/earnings")

    assert response.status_code == 401


def test_api_earnings_of_a_free_plan_creator_are_empty(api_client_for, creator, listing):
    make_plan(listing, kind=PlanKind.FREE, name="Free")

    response = api_client_for(creator).get("/api/v1/creator/earnings")

    assert response.json() == {"platform_fee_bps": 1500, "currencies": [], "models": []}
