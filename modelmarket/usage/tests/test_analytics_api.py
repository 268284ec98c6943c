from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from modelmarket.accounts.tests.factories import make_user
from modelmarket.catalog.vocabulary import ModelStatus
from modelmarket.usage.events import UsageSource, UsageStatus
from modelmarket.usage.latency import bucket_value_ms, latency_bucket
from modelmarket.usage.rollup_keys import buyer_window_bit
from modelmarket.usage.services.record import usage_events_record
from modelmarket.usage.tests.factories import AIModelFactory, usage_record

pytestmark = pytest.mark.django_db
URL = "/api/v1/creator/analytics"
DAY = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
RANGE = {"since": "2026-06-01", "until": "2026-06-03"}


def test_per_model_calls_buyers_error_rate_and_latency(creator, api_client_for):
    popular = AIModelFactory(creator=creator, slug="popular")
    AIModelFactory(creator=creator, slug="unused")
    first, second = make_user(), make_user()
    records = [
        *(
            usage_record(popular, started_at=DAY, user_id=first.pk, latency_ms=100, event_id=f"fast{n}")
            for n in range(18)
        ),
        *(
            usage_record(popular, started_at=DAY, user_id=second.pk, latency_ms=2000, event_id=f"slow{n}")
            for n in range(3)
        ),
        usage_record(
            popular, started_at=DAY + timedelta(days=1), user_id=first.pk, latency_ms=100, event_id="next"
        ),
        usage_record(
            popular, started_at=DAY, user_id=second.pk, status=UsageStatus.UPSTREAM_ERROR, event_id="err1"
        ),
        usage_record(popular, started_at=DAY, user_id=second.pk, status=UsageStatus.TIMEOUT, event_id="err2"),
        usage_record(
            popular, started_at=DAY, user_id=make_user().pk, status=UsageStatus.REJECTED, event_id="no"
        ),
        usage_record(
            popular, started_at=DAY, source=UsageSource.TRACK, latency_ms=100, event_id="self-hosted"
        ),
    ]
    usage_events_record(records=records)

    response = api_client_for(creator).get(URL, RANGE)

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["since"], body["until"]) == ("2026-06-01", "2026-06-03")
    by_slug = {item["model"]: item for item in body["models"]}
    assert [item["model"] for item in body["models"]] == ["popular", "unused"]
    item = by_slug["popular"]
    assert (item["requests"], item["succeeded"], item["errors"], item["rejected"]) == (25, 23, 2, 1)
    assert item["unique_buyers"] == 2  # the rejected caller and the tracked call have no buyer counted
    assert item["error_rate"] == round(2 / 25, 4)
    assert item["latency_ms"] == {
        "average": round((20 * 100 + 3 * 2000) / 23),
        "p50": bucket_value_ms(latency_bucket(100)),
        "p95": bucket_value_ms(latency_bucket(2000)),
    }
    assert item["revenue"] == []  # nothing sold
    assert by_slug["unused"] == {
        "model": "unused",
        "requests": 0,
        "succeeded": 0,
        "errors": 0,
        "rejected": 0,
        "input_tokens": 0,
        "output_tokens": 0,
        "compute_ms": 0,
        "unique_buyers": 0,
        "error_rate": 0.0,
        "latency_ms": {"average": None, "p50": None, "p95": None},
        "revenue": [],
    }
    assert [(point["day"], point["requests"], point["errors"]) for point in body["series"]] == [
        ("2026-06-01", 24, 2),
        ("2026-06-02", 1, 0),
        ("2026-06-03", 0, 0),
    ]
    assert body["totals"]["requests"] == 25
    assert body["totals"]["revenue"] == []


def test_revenue_is_the_creators_share_of_sales_net_of_refunds_per_currency(
    creator, api_client_for, settings
):
    from modelmarket.billing.models import Payment, PaymentStatus
    from modelmarket.billing.services.accounting import order_payment_book, refund_book
    from modelmarket.billing.tests.factories import make_order, make_plan, published_model

    settings.BILLING_PLATFORM_FEE_BPS = 1500
    model = published_model(creator, name="Sold model")
    order = make_order(make_plan(model, price_minor=10_000_000))
    payment = Payment.objects.create(
        gateway=order.gateway,
        provider_payment_id="tx-1",
        order=order,
        status=PaymentStatus.SUCCEEDED,
        currency_id="USDC",
        gross_minor=10_000_000,
        net_minor=10_000_000,
    )
    order_payment_book(order=order, payment=payment)
    refund_book(payment=payment, amount_minor=1_000_000, reference="refund:test")

    body = api_client_for(creator).get(URL).json()

    earned = {"amount_minor": 8_500_000 - 850_000, "currency": "USDC"}
    assert [item["revenue"] for item in body["models"] if item["model"] == model.slug] == [[earned]]
    assert body["totals"]["revenue"] == [earned]


def test_buyers_are_counted_once_over_the_range(creator, api_client_for):
    model = AIModelFactory(creator=creator)
    buyer = make_user()
    usage_events_record(
        records=[
            usage_record(model, started_at=DAY + timedelta(days=n), user_id=buyer.pk, event_id=str(n))
            for n in range(3)
        ]
    )
    assert api_client_for(creator).get(URL, RANGE).json()["models"][0]["unique_buyers"] == 1


def test_filtering_to_one_listing(creator, api_client_for):
    one, two = AIModelFactory(creator=creator), AIModelFactory(creator=creator)
    usage_events_record(
        records=[
            usage_record(one, started_at=DAY, event_id="1"),
            usage_record(two, started_at=DAY, event_id="2"),
        ]
    )
    body = api_client_for(creator).get(URL, {**RANGE, "model": two.slug}).json()
    assert [item["model"] for item in body["models"]] == [two.slug]
    assert body["totals"]["requests"] == 1


def test_others_listings_are_invisible(creator, api_client_for):
    theirs = AIModelFactory(creator=make_user("creator"))
    usage_events_record(records=[usage_record(theirs, started_at=DAY)])
    client = api_client_for(creator)

    body = client.get(URL, RANGE).json()
    assert body["models"] == []
    assert body["totals"]["requests"] == 0
    response = client.get(URL, {**RANGE, "model": theirs.slug})
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "model_not_found"


def test_deleted_listings_are_left_out(creator, api_client_for):
    model = AIModelFactory(creator=creator, status=ModelStatus.PUBLISHED)
    usage_events_record(records=[usage_record(model, started_at=DAY)])
    model.deleted_at = timezone.now()
    model.save(update_fields=["deleted_at"])
    assert api_client_for(creator).get(URL, RANGE).json()["models"] == []


def test_a_buyer_without_listings_gets_an_empty_report(buyer, api_client_for):
    body = api_client_for(buyer).get(URL).json()
    assert body["models"] == []
    assert len(body["series"]) == 30


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"since": "June"}, "invalid_timestamp"),
        ({"since": "2026-06-03", "until": "2026-06-01"}, "invalid_range"),
        ({"since": "2026-01-01", "until": "2026-06-01"}, "range_too_large"),
    ],
)
def test_bad_ranges_are_400(creator, api_client_for, params, code):
    response = api_client_for(creator).get(URL, params)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == code


def test_analytics_cost_the_same_queries_whatever_the_number_of_listings(
    creator, api_client_for, django_assert_num_queries
):
    client = api_client_for(creator)
    client.get(URL, RANGE)
    usage_events_record(records=[usage_record(AIModelFactory(creator=creator), started_at=DAY)])
    with CaptureQueriesContext(connection) as one_listing:
        client.get(URL, RANGE)
    buyer = make_user()
    usage_events_record(
        records=[
            usage_record(AIModelFactory(creator=creator), started_at=DAY, user_id=buyer.pk, latency_ms=10 * n)
            for n in range(1, 8)
        ]
    )
    with django_assert_num_queries(len(one_listing)):
        assert len(client.get(URL, RANGE).json()["models"]) == 8


def test_buyers_are_counted_once_across_a_buyer_window_boundary(creator, api_client_for):
    model = AIModelFactory(creator=creator)
    buyer, other = make_user(), make_user()
    opening = DAY
    while buyer_window_bit(opening.date())[1] != 1:  # the first day of a 60-day window
        opening += timedelta(days=1)
    usage_events_record(
        records=[
            usage_record(model, started_at=opening - timedelta(days=1), user_id=buyer.pk, event_id="before"),
            usage_record(model, started_at=opening, user_id=buyer.pk, event_id="after"),
            usage_record(model, started_at=opening + timedelta(days=1), user_id=other.pk, event_id="later"),
        ]
    )
    client = api_client_for(creator)
    span = {"since": (opening - timedelta(days=1)).date().isoformat(), "until": opening.date().isoformat()}
    assert client.get(URL, span).json()["models"][0]["unique_buyers"] == 1
    span["until"] = (opening + timedelta(days=1)).date().isoformat()
    assert client.get(URL, span).json()["models"][0]["unique_buyers"] == 2
    span["since"] = span["until"]
    assert client.get(URL, span).json()["models"][0]["unique_buyers"] == 1
