"""The buyer's prepaid credit: the /account/credit/ page (balances, movements, top-up form), GET /wallet and
GET /wallet/entries, and the top-up form's parsing."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from modelmarket.accounts.models import User
from modelmarket.accounts.tests.factories import make_user
from modelmarket.billing.forms import TopUpForm
from modelmarket.billing.models import LedgerEntry
from modelmarket.billing.money import Money
from modelmarket.billing.services.accounting import UsageCharge, usage_charges_book
from modelmarket.billing.services.ledger import (
    buyer_wallet,
    credit_hold,
)
from modelmarket.billing.tests.factories import published_model, top_up

pytestmark = pytest.mark.django_db


def charge(buyer: User, cost_minor: int, reference: str = "batch-1", currency: str = "USDC") -> None:
    model = published_model(name=f"Metered {reference}")
    usage_charges_book(
        reference=reference,
        charges=[
            UsageCharge(
                buyer_id=buyer.pk,
                creator_id=model.creator_id,
                model_id=model.pk,
                currency=currency,
                cost_minor=cost_minor,
            )
        ],
    )


def logged_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


# --- The page -----------------------------------------------------------------------------------------------------
def test_the_credit_page_shows_balances_and_movements(buyer):
    top_up(buyer, currency="USDC", amount_minor=10_000_000)
    top_up(buyer, currency="SOL", amount_minor=2_000_000_000)
    charge(buyer, 1500)
    credit_hold(account_id=buyer_wallet(user_id=buyer.pk, currency="USDC").pk, amount_minor=500)
    top_up(make_user("buyer"), currency="USDC", amount_minor=99_000_000)

    response = logged_in(buyer).get(reverse("billing_wallet"))

    html = response.content.decode()
    assert response.status_code == 200
    balances = [(b.currency, b.available) for b in response.context["balances"]]
    assert balances == [("SOL", "2.00"), ("USDC", "9.998")]
    assert '<dt>USDC</dt>\n            <dd><span class="wallet-amount">9.998</span>' in html
    assert "(0.0005 held for calls in flight)" in html
    assert "+10.00 USDC" in html
    assert "-0.0015 USDC" in html
    assert "+2.00 SOL" in html
    assert "Pay-as-you-go usage" in html
    assert "Credit top-up" in html
    assert "99.00" not in html
    assert "css/billing-plans.css" in html
    assert " style=" not in html


def test_the_credit_page_pages_through_older_movements(buyer):
    for _ in range(30):
        top_up(buyer, currency="USDC", amount_minor=1_000_000)
    client = logged_in(buyer)

    first = client.get(reverse("billing_wallet"))
    older = client.get(first.context["next_url"])
    tampered = client.get(reverse("billing_wallet") + "?cursor=not-a-cursor")

    assert len(first.context["entries"]) == 25
    assert len(older.context["entries"]) == 5
    assert older.context["next_url"] is None
    assert "Older movements" in older.content.decode()
    first_ids = {entry.pk for entry, _ in first.context["entries"]}
    assert first_ids.isdisjoint(entry.pk for entry, _ in older.context["entries"])
    assert tampered.status_code == 400
    assert len(tampered.context["entries"]) == 25


def test_the_top_up_form_posts_to_the_checkout(buyer):
    html = logged_in(buyer).get(reverse("billing_wallet") + "?currency=sol").content.decode()

    form = html.split(f'action="{reverse("billing_order_create")}"')[1].split("</form>")[0]
    assert 'method="post"' in html.split(f'action="{reverse("billing_order_create")}"')[0][-80:]
    assert "csrfmiddlewaretoken" in form
    assert 'name="top_up_amount"' in form
    currencies = re.findall(r'<option value="([A-Z]+)"', form)
    assert currencies == ["BTC", "ETH", "SOL", "USD", "USDC"]
    assert '<option value="SOL" selected>' in form


def test_a_person_with_no_credit_is_told_so(buyer):
    html = logged_in(buyer).get(reverse("billing_wallet")).content.decode()

    assert "No credit yet." in html
    assert "No movements yet." in html


def test_the_credit_page_needs_a_login(client):
    response = client.get(reverse("billing_wallet"))

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


# --- The API ------------------------------------------------------------------------------------------------------
def test_api_wallet_lists_balances_per_currency(buyer, api_client_for):
    top_up(buyer, currency="USDC", amount_minor=10_000_000)
    charge(buyer, 1500)
    credit_hold(account_id=buyer_wallet(user_id=buyer.pk, currency="USDC").pk, amount_minor=500)

    response = api_client_for(buyer, scopes=("read",)).get("/api/v1/wallet")

    assert response.status_code == 200
    assert response.json() == {
        "balances": [
            {
                "currency": "USDC",
                "balance_minor": 9_998_500,
                "held_minor": 500,
                "available_minor": 9_998_000,
                "available": "9.998",
            }
        ]
    }


def test_api_wallet_entries_newest_first_with_cursor_pagination(buyer, api_client_for):
    top_up(buyer, currency="USDC", amount_minor=10_000_000)
    charge(buyer, 1500)
    top_up(buyer, currency="SOL", amount_minor=1_000_000_000)
    top_up(make_user("buyer"), currency="USDC", amount_minor=5)
    api = api_client_for(buyer, scopes=("read",))

    first = api.get("/api/v1/wallet/entries?limit=2")
    second = api.get(f"/api/v1/wallet/entries?limit=2&cursor={first.json()['next_cursor']}")
    usdc = api.get("/api/v1/wallet/entries?currency=usdc")

    assert first.status_code == 200
    assert [(item["currency"], item["amount"]) for item in first.json()["items"]] == [
        ("SOL", "1.00"),
        ("USDC", "-0.0015"),
    ]
    assert 'rel="next"' in first["Link"]
    usage = first.json()["items"][1]
    assert (usage["kind"], usage["amount_minor"], usage["order"]) == ("usage", -1500, None)
    assert usage["model"] == LedgerEntry.objects.get(amount_minor=-1500).model.slug
    assert [(item["kind"], item["amount"]) for item in second.json()["items"]] == [("top_up", "10.00")]
    assert second.json()["next_cursor"] is None
    assert [item["amount_minor"] for item in usdc.json()["items"]] == [-1500, 10_000_000]


def test_api_wallet_refuses_bad_cursors_and_limits_and_anonymous_callers(buyer, api_client_for, client):
    api = api_client_for(buyer, scopes=("read",))

    assert api.get("/api/v1/wallet/entries?cursor=nonsense").json()["error"]["code"] == "invalid_cursor"
    assert api.get("/api/v1/wallet/entries?limit=500").json()["error"]["code"] == "invalid_limit"
    assert client.get("/api/v1/wallet").status_code == 401
    assert client.get("/api/v1/wallet/entries").status_code == 401


# --- The top-up form ----------------------------------------------------------------------------------------------
def test_top_up_form_turns_whole_units_into_exact_minor_units(db):
    form = TopUpForm({"top_up_currency": "USDC", "top_up_amount": "10.5"})

    assert form.is_valid()
    assert form.money() == Money(10_500_000, "USDC")


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"top_up_currency": "USDC", "top_up_amount": "0.0000001"}, "more than 6 decimal places"),
        ({"top_up_currency": "USD", "top_up_amount": "0"}, "Enter an amount above zero."),
        ({"top_up_currency": "USD", "top_up_amount": "-1"}, "cannot be negative"),
        ({"top_up_currency": "USD", "top_up_amount": "lots"}, "is not a number"),
        ({"top_up_currency": "XYZ", "top_up_amount": "1"}, "Select a valid choice"),
    ],
)
def test_top_up_form_refuses_bad_amounts(db, data, error):
    form = TopUpForm(data)

    assert not form.is_valid()
    messages = [message for errors in form.errors.values() for message in errors]
    assert any(error in message for message in messages)
