"""Payment analytics: revenue per day, model and currency from the ledger, order conversion and failure rates,
top models; staff see everything, creators their own models; the pages and the API."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from modelmarket.accounts.tests.factories import make_user
from modelmarket.billing.models import Order, OrderStatus
from modelmarket.billing.selectors.analytics import payment_analytics
from modelmarket.billing.tests.factories import (
    charge_usage,
    make_order,
    make_plan,
    published_model,
    refund,
    sell,
    top_up,
)
from modelmarket.core.exceptions import BadRequest, NotFound

pytestmark = pytest.mark.django_db


def _days_ago(days: int) -> datetime:
    today = timezone.now().astimezone(UTC).date()
    return datetime.combine(today - timedelta(days=days), time(12), tzinfo=UTC)


@pytest.fixture
def market(creator, buyer):
    """Two creators. Wine (creator) sells in USDC and is used pay as you go; Iris (creator) sells in ETH;
    Digits (another creator) sells in USDC. Some orders fail, expire or stay pending; one is refunded."""
    wine = published_model(owner=creator, name="Wine Quality")
    iris = published_model(owner=creator, name="Iris Species")
    other = make_user("creator")
    digits = published_model(owner=other, name="Digits")
    wine_plan = make_plan(wine)  # 10 USDC
    iris_plan = make_plan(iris, currency="ETH", price_minor=2 * 10**18)
    digits_plan = make_plan(digits, price_minor=4_000_000)

    sell(wine_plan, buyer, when=_days_ago(0))
    refunded = sell(wine_plan, when=_days_ago(2))
    refund(refunded, 10_000_000, when=_days_ago(1))
    Order.objects.filter(pk=refunded.order_id).update(status=OrderStatus.REFUNDED)
    sell(iris_plan, buyer, when=_days_ago(2))
    sell(digits_plan, buyer, when=_days_ago(0))
    old_sale = sell(digits_plan, when=_days_ago(40))  # outside a 30-day window, and so is its order:
    Order.objects.filter(pk=old_sale.order_id).update(created_at=_days_ago(40))
    top_up(buyer, currency="USDC", amount_minor=5_000_000)  # not revenue
    charge_usage(buyer, wine, currency="USDC", cost_minor=1_000_000, when=_days_ago(1))
    make_order(wine_plan, status=OrderStatus.FAILED)
    make_order(wine_plan, status=OrderStatus.EXPIRED)
    make_order(wine_plan)  # pending
    make_order(digits_plan, status=OrderStatus.CANCELLED)
    return {"wine": wine, "iris": iris, "digits": digits, "other": other}


def test_staff_see_revenue_of_every_model_per_currency(market):
    result = payment_analytics(actor=make_user("admin"))

    totals = {item.currency: item for item in result.currencies}
    assert set(totals) == {"ETH", "USDC"}
    usdc = totals["USDC"]
    # wine 10 + 10 + usage 1, digits 4 (the 40-day-old sale is outside the window); top-ups are not revenue
    assert (usdc.revenue_minor, usdc.platform_fee_minor, usdc.creator_share_minor) == (
        25_000_000,
        3_750_000,
        21_250_000,
    )
    assert usdc.refunded_minor == 10_000_000
    assert (totals["ETH"].revenue_minor, totals["ETH"].refunded_minor) == (2 * 10**18, 0)


def test_revenue_per_day_fills_every_day_of_the_window(market):
    result = payment_analytics(actor=make_user("admin"), days=7)

    usdc = next(item for item in result.currencies if item.currency == "USDC")
    assert len(usdc.days) == 7
    assert usdc.days[0][0] == result.since
    assert usdc.days[-1][0] == result.until == timezone.now().astimezone(UTC).date()
    by_day = dict(usdc.days)
    assert by_day[result.until] == 14_000_000  # wine 10 + digits 4
    assert by_day[result.until - timedelta(days=1)] == 1_000_000  # usage
    assert by_day[result.until - timedelta(days=2)] == 10_000_000  # the later refunded wine sale
    assert sum(amount for _, amount in usdc.days) == 25_000_000
    eth = next(item for item in result.currencies if item.currency == "ETH")
    assert dict(eth.days)[result.until - timedelta(days=2)] == 2 * 10**18


def test_revenue_per_model_and_top_models(market):
    result = payment_analytics(actor=make_user("admin"))

    rows = {(item.model_slug, item.currency): item for item in result.models}
    wine = rows[(market["wine"].slug, "USDC")]
    assert (wine.revenue_minor, wine.sales_minor, wine.usage_minor) == (21_000_000, 20_000_000, 1_000_000)
    assert (wine.creator_share_minor, wine.platform_fee_minor) == (17_850_000, 3_150_000)
    assert (wine.orders_created, wine.orders_paid) == (5, 2)  # paid + refunded, of 5 created in the window
    digits = rows[(market["digits"].slug, "USDC")]
    assert (digits.revenue_minor, digits.orders_created, digits.orders_paid) == (4_000_000, 2, 1)
    assert rows[(market["iris"].slug, "ETH")].revenue_minor == 2 * 10**18
    assert [item.model_name for item in result.top_models["USDC"]] == ["Wine Quality", "Digits"]
    assert [item.model_name for item in result.top_models["ETH"]] == ["Iris Species"]


def test_order_conversion_and_failure_rates(market):
    result = payment_analytics(actor=make_user("admin"))

    orders = result.orders
    # created in the window: 2 wine sales (one refunded), iris, digits, the top-up, failed, expired, pending,
    # cancelled
    assert (orders.created, orders.paid, orders.failed, orders.expired, orders.cancelled, orders.pending) == (
        9,
        5,
        1,
        1,
        1,
        1,
    )
    assert orders.conversion_rate == pytest.approx(5 / 9)
    assert orders.failure_rate == pytest.approx(2 / 9)


def test_creators_see_only_their_own_models(market, creator):
    result = payment_analytics(actor=creator)

    assert result.creator == creator
    assert {item.model_slug for item in result.models} == {market["wine"].slug, market["iris"].slug}
    usdc = next(item for item in result.currencies if item.currency == "USDC")
    assert usdc.revenue_minor == 21_000_000
    # their orders: wine 2 paid + failed + expired + pending, iris 1 paid; no top-ups, nothing of Digits
    assert (result.orders.created, result.orders.paid) == (6, 3)
    assert result.orders.failure_rate == pytest.approx(2 / 6)


def test_staff_can_look_at_one_creator(market, creator):
    result = payment_analytics(actor=make_user("moderator"), creator=market["other"])

    assert [item.model_slug for item in result.models] == [market["digits"].slug]
    assert (result.orders.created, result.orders.paid, result.orders.cancelled) == (2, 1, 1)


def test_creators_cannot_see_another_creators_figures(market, creator):
    with pytest.raises(NotFound):
        payment_analytics(actor=creator, creator=market["other"])
    assert payment_analytics(actor=creator, creator=creator).creator == creator


def test_buyers_have_no_payment_analytics(buyer):
    with pytest.raises(NotFound):
        payment_analytics(actor=buyer)


@pytest.mark.parametrize("days", [0, -1, 367, "30", 1.5, True])
def test_analytics_window_is_validated(creator, days):
    with pytest.raises(BadRequest) as raised:
        payment_analytics(actor=creator, days=days)
    assert raised.value.code == "invalid_days"


def test_empty_analytics_have_no_rates(creator):
    result = payment_analytics(actor=creator, days=7)

    assert (result.currencies, result.models, result.top_models) == ([], [], {})
    assert (result.orders.created, result.orders.conversion_rate, result.orders.failure_rate) == (
        0,
        None,
        None,
    )


def test_analytics_query_count_does_not_grow_with_data(market, creator, buyer, django_assert_max_num_queries):
    for index in range(6):
        model = published_model(owner=creator, name=f"Extra {index}")
        plan = make_plan(model, currency="ETH" if index % 2 else "USDC")
        sell(plan, buyer, when=_days_ago(index))
        make_order(plan, status=OrderStatus.FAILED)
    admin = make_user("admin")
    payment_analytics(actor=admin)  # warms the per-process currency cache

    with django_assert_max_num_queries(6):
        staff_view = payment_analytics(actor=admin, days=90)
    with django_assert_max_num_queries(7):  # + the creator role check
        creator_view = payment_analytics(actor=creator, days=90)

    assert len(staff_view.models) == 9
    assert len(creator_view.models) == 8


# --- Pages --------------------------------------------------------------------------------------------------------
def test_creator_revenue_page_draws_charts_and_tables(client, market, creator):
    client.force_login(creator)

    response = client.get(reverse("billing_creator_analytics"))

    assert response.status_code == 200
    html = response.content.decode()
    assert html.count('<svg class="usage-chart-svg"') == 4  # USDC and ETH per day, top models per currency
    assert "USDC revenue per day" in html
    assert "21.00 USDC" in html  # wine's revenue
    assert "2.00 ETH" in html
    assert "Digits" not in html
    assert "55.6%" not in html  # that is the staff's conversion
    assert "50.0%" in html  # 3 paid of 6
    assert "style=" not in html.split("<main", 1)[1]


def test_creator_revenue_page_is_for_creators_only(client, buyer):
    client.force_login(buyer)

    assert client.get(reverse("billing_creator_analytics")).status_code == 404


def test_staff_revenue_page_shows_everything(client, market):
    client.force_login(make_user("moderator"))

    response = client.get(reverse("billing_staff_analytics"))
    wider = client.get(reverse("billing_staff_analytics") + "?days=90").content.decode()

    assert response.status_code == 200
    html = response.content.decode()
    assert "Digits" in html
    assert "Wine Quality" in html
    assert "55.6%" in html  # 5 paid of 9 created
    assert "25.00 USDC" in html
    assert 'aria-current="page">90 days' in wider
    assert "29.00 USDC" in wider  # the 40-day-old Digits sale too


def test_staff_revenue_page_for_one_creator(client, market):
    client.force_login(make_user("moderator"))

    response = client.get(reverse("billing_staff_analytics") + f"?creator={market['other'].pk}")

    html = response.content.decode()
    assert response.status_code == 200
    assert "Digits" in html
    assert "Wine Quality" not in html
    for bad in ("999999", "abc", "9" * 40):
        assert client.get(reverse("billing_staff_analytics") + f"?creator={bad}").status_code == 404


def test_staff_revenue_page_is_for_staff_only(client, creator):
    client.force_login(creator)

    assert client.get(reverse("billing_staff_analytics")).status_code == 404


def test_revenue_pages_ignore_unknown_ranges(client, creator):
    client.force_login(creator)

    response = client.get(reverse("billing_creator_analytics") + "?days=1000")

    assert response.status_code == 200
    assert 'aria-current="page">30 days' in response.content.decode()


# --- API ----------------------------------------------------------------------------------------------------------
def test_api_creator_revenue(api_client_for, market, creator):
    response = api_client_for(creator).get("/api/v1/creator/revenue?days=7")

    assert response.status_code == 200
    body = response.json()
    assert body["days"] == 7
    usdc = next(item for item in body["currencies"] if item["currency"] == "USDC")
    assert (usdc["revenue_minor"], usdc["refunded_minor"], len(usdc["days"])) == (21_000_000, 10_000_000, 7)
    assert body["orders"]["conversion_rate"] == 0.5
    assert {item["model"] for item in body["models"]} == {market["wine"].slug, market["iris"].slug}


def test_api_staff_revenue(api_client_for, market):
    client = api_client_for(make_user("admin"))

    everything = client.get("/api/v1/staff/revenue").json()
    one = client.get(f"/api/v1/staff/revenue?creator={market['other'].pk}").json()

    assert everything["orders"]["created"] == 9
    assert [item["model"] for item in one["models"]] == [market["digits"].slug]
    assert client.get("/api/v1/staff/revenue?creator=424242").status_code == 404
    assert client.get("/api/v1/staff/revenue?creator=99999999999999999999999").status_code in (404, 422)
    assert client.get("/api/v1/staff/revenue?days=0").json()["error"]["code"] == "invalid_days"


def test_api_revenue_permissions(api_client_for, creator, buyer):
    assert api_client_for(creator).get("/api/v1/staff/revenue").status_code == 404
    assert api_client_for(buyer).get("/api/v1/creator/revenue").status_code == 404
